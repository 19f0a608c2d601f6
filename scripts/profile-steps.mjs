#!/usr/bin/env node
// Where the time goes: compiles MODEL (one compile unit per dispatch region
// unless ORT_MLIR_UNIT_NODES says otherwise), runs it, and prints each plan
// step's median time with the ops it covers, slowest first.
//
//   node scripts/profile-steps.mjs MODEL [-d NAME=VALUE]... [--threads N] [--runs N] [--top N] [--kernels]
//
// A step's time in a run includes what the run does around its kernel (a
// fresh output buffer, the hop to a worker thread): with one unit per
// region those add up (rec: steps sum to 21 ms of a 17 ms run). --kernels
// times the native kernels alone instead, called in plan order on
// zero-filled buffers (CPU partitions and control flow left out), each with
// its first output's shape: the numbers to hold against onnxruntime's
// per-node kernel times (scripts/ort-profile.mjs).
//
// Needs a build (npm run build). Times are of our steps only; compare
// against onnxruntime-node with scripts/bench.mjs.
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { dimsOf, inputTypesOf, median, parseModelArgs } from './script-args.mjs';

const dist = new URL('../dist/esm/src/', import.meta.url);
const load = (p) => import(new URL(p, dist).href);
const [{ decodeModel }, { byteLength, elementCount }, { resolveOptions }, { compileModel }, { Executor }, { CpuSession }, { randomFeeds }, { ortToHost }, { NativeLibrary }, { aligned, alignedBytes }] = await Promise.all([
  load('onnx/decode.js'), load('onnx/model.js'), load('ep/options.js'), load('ep/compile.js'), load('runtime/executor.js'),
  load('ep/cpu-session.js'), load('cli/perf-command.js'), load('ep/ort-tensor.js'), load('native/library.js'), load('native/host-memory.js'),
]);

const { values, modelPath } = parseModelArgs({
  runs: { type: 'string', short: 'n', default: '10' },
  top: { type: 'string', default: '25' },
  kernels: { type: 'boolean', default: false },
}, 'profile-steps.mjs MODEL [-d NAME=VALUE]... [--threads N] [--runs N] [--top N] [--kernels]');
process.env.ORT_MLIR_UNIT_NODES ??= '1';
process.env.ORT_MLIR_SEQUENCES ??= '0';
const dims = dimsOf(values);
const bytes = new Uint8Array(await readFile(modelPath));
const model = decodeModel(bytes, { baseDir: dirname(modelPath) });
const inputTypes = inputTypesOf(model, dims);
const threads = Number(values.threads);
const t0 = performance.now();
const module = await compileModel({ model, modelBytes: bytes, inputTypes, options: resolveOptions({ cacheDir: '', threads }) });
console.log(`compiled in ${Math.round(performance.now() - t0)} ms: ${module.plan.steps.length} steps, ${module.plan.report.compiledNodes}/${module.plan.report.totalNodes} nodes compiled`);
for (const r of module.plan.report.fallbackReasons) console.log(`  fallback: ${r}`);

/**
 * The native kernels in plan order, each call timed: --runs rounds over the
 * plan, median per kernel. Values are zero-filled buffers shared by name, so
 * that a kernel reads what its producer just wrote, from cache as in a run;
 * they and the weights start on cache lines, as the runtime's do.
 */
function timeKernels() {
  const lib = new NativeLibrary(module.blobs[module.plan.library]);
  const buffers = new Map();
  const bufferOf = (a) => buffers.get(a.name) ?? buffers.set(a.name, alignedBytes(byteLength(a.dataType, elementCount(a.dims))).fill(0)).get(a.name);
  const steps = module.plan.steps.filter((s) => s.kind === 'native').map((step) => ({
    step,
    kernel: lib.kernel(step.symbol, step.args.length),
    args: step.args.map((a) => (a.role === 'weight' ? aligned(module.blobs[a.blob]) : bufferOf(a))),
    ms: [],
  }));
  for (let round = -1; round < Number(values.runs); round++) {
    for (const s of steps) {
      const t0 = performance.now();
      s.kernel.callSync(s.args);
      if (round >= 0) s.ms.push(performance.now() - t0);
    }
  }
  lib.close();
  const rows = steps.map((s) => ({ symbol: s.step.symbol, ms: median(s.ms), out: s.step.args.find((a) => a.role === 'output')?.dims ?? [], nodes: s.step.nodes }));
  rows.sort((a, b) => b.ms - a.ms);
  console.log(`kernels in plan order, without the run around them: sum of medians ${rows.reduce((a, r) => a + r.ms, 0).toFixed(3)} ms`);
  console.log('        ms  output');
  for (const r of rows.slice(0, Number(values.top))) {
    const out = `[${r.out.join(', ')}]`;
    console.log(`${r.ms.toFixed(3).padStart(10)}  ${out.padEnd(18)}  ${r.symbol}  ${r.nodes.map((n) => n.replace(/\(.*\)$/, '')).join(' ').slice(0, 90)}`);
  }
}

if (values.kernels) {
  timeKernels();
  process.exit(0);
}

const ex = await Executor.load(module, (m) => CpuSession.create(m, { intraOpNumThreads: threads }));
const feeds = new Map(Object.entries(randomFeeds(bytes, dims)).map(([k, v]) => [k, ortToHost(v)]));
const times = new Map();
const cpuTimes = new Map();
// Process CPU time since the previous step ended (steadier than wall time on a loaded machine).
let lastCpu = process.cpuUsage();
const observer = {
  onStep: (label, _kind, start, end) => {
    const c = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    const cpu = (c.user + c.system) / 1000;
    times.get(label)?.push(end - start) ?? times.set(label, [end - start]);
    cpuTimes.get(label)?.push(cpu) ?? cpuTimes.set(label, [cpu]);
  },
};
await ex.run(feeds);
const totals = [];
const cpuTotals = [];
for (let i = 0; i < Number(values.runs); i++) {
  const s = performance.now();
  const c0 = process.cpuUsage();
  lastCpu = c0;
  await ex.run(feeds, observer);
  totals.push(performance.now() - s);
  const c = process.cpuUsage(c0);
  cpuTotals.push((c.user + c.system) / 1000);
}
await ex.dispose();

const ops = new Map(module.plan.steps.map((s) => [s.kind === 'native' ? s.symbol : `fallback: ${s.nodes.join(', ')}`, s.nodes]));
const rows = [...times].map(([label, ts]) => ({ label, ms: median(ts), cpu: median(cpuTimes.get(label)), nodes: ops.get(label) ?? [] })).sort((a, b) => b.cpu - a.cpu);
const total = median(totals);
const cpuTotal = median(cpuTotals);
console.log(`median run ${total.toFixed(3)} ms wall, ${cpuTotal.toFixed(3)} ms CPU (steps sum ${rows.reduce((a, r) => a + r.ms, 0).toFixed(3)} ms wall)`);
console.log('   wall ms     CPU ms  CPU%');
for (const r of rows.slice(0, Number(values.top))) {
  const what = r.nodes.map((n) => n.replace(/\(.*\)$/, '')).join(' ');
  console.log(`${r.ms.toFixed(3).padStart(10)} ${r.cpu.toFixed(3).padStart(10)} ${((100 * r.cpu) / cpuTotal).toFixed(1).padStart(5)}  ${r.label}  ${what.slice(0, 100)}`);
}
