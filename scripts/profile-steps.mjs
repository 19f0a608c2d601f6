#!/usr/bin/env node
// Where the time goes: compiles MODEL (one compile unit per dispatch region
// unless ORT_MLIR_UNIT_NODES says otherwise), runs it, and prints each plan
// step's median time with the ops it covers, slowest first.
//
//   node scripts/profile-steps.mjs MODEL [-d NAME=VALUE]... [--threads N] [--runs N] [--top N]
//
// Needs a build (npm run build). Times are of our steps only; compare
// against onnxruntime-node with scripts/bench.mjs.
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';

const dist = new URL('../dist/esm/src/', import.meta.url);
const load = (p) => import(new URL(p, dist).href);
const [{ decodeModel }, { resolveOptions }, { compileModel }, { Executor }, { CpuSession }, { randomFeeds }, { ortToHost }] = await Promise.all([
  load('onnx/decode.js'), load('ep/options.js'), load('ep/compile.js'), load('runtime/executor.js'),
  load('ep/cpu-session.js'), load('cli/perf-command.js'), load('ep/ort-tensor.js'),
]);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dim: { type: 'string', short: 'd', multiple: true, default: [] },
    threads: { type: 'string', short: 't', default: '1' },
    runs: { type: 'string', short: 'n', default: '10' },
    top: { type: 'string', default: '25' },
  },
});
const [modelPath] = positionals;
if (!modelPath) {
  console.error('usage: profile-steps.mjs MODEL [-d NAME=VALUE]... [--threads N] [--runs N] [--top N]');
  process.exit(2);
}
process.env.ORT_MLIR_UNIT_NODES ??= '1';
process.env.ORT_MLIR_SEQUENCES ??= '0';
const dims = new Map(values.dim.map((s) => s.split('=')).map(([k, v]) => [k, Number(v)]));
const bytes = new Uint8Array(await readFile(modelPath));
const model = decodeModel(bytes, { baseDir: dirname(modelPath) });
const inits = new Set(model.graph.initializers.map((t) => t.name));
const inputTypes = new Map(model.graph.inputs.filter((vi) => !inits.has(vi.name)).map((vi) => [
  vi.name, { dataType: vi.type.elemType, shape: vi.type.shape.map((d) => (typeof d === 'number' ? d : dims.get(d) ?? 1)) },
]));
const threads = Number(values.threads);
const t0 = performance.now();
const module = await compileModel({ model, modelBytes: bytes, inputTypes, options: resolveOptions({ cacheDir: '', threads }) });
console.log(`compiled in ${Math.round(performance.now() - t0)} ms: ${module.plan.steps.length} steps, ${module.plan.report.compiledNodes}/${module.plan.report.totalNodes} nodes compiled`);
for (const r of module.plan.report.fallbackReasons) console.log(`  fallback: ${r}`);

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

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
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
