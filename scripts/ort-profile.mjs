#!/usr/bin/env node
// Where onnxruntime-node's own time goes: runs MODEL on its CPU EP with
// profiling on and prints each op type's share (the sum over its nodes of
// each node's median kernel time), then the slowest nodes, with GFLOP/s for
// convolutions and matmuls. Next to scripts/profile-steps.mjs (ours, per plan
// step) it shows which of onnxruntime's kernels the mlir EP's fused code has
// to beat, and which it removes (elementwise ops fused into their producers,
// NCHWc reorders).
//
//   node scripts/ort-profile.mjs MODEL [-d NAME=VALUE]... [--threads N] [--runs N] [--top N]
//
// Times are onnxruntime's kernel times (its profiler's `*_kernel_time`
// events), which leave out its per-run overhead; the sum is printed next to
// the median wall time of a run without the profiler.
import { readFile, readdir, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { dimsOf, median, parseModelArgs } from './script-args.mjs';

const { randomFeeds } = await import(new URL('../dist/esm/src/cli/perf-command.js', import.meta.url).href);

const { values, modelPath } = parseModelArgs({
  runs: { type: 'string', short: 'n', default: '50' },
  top: { type: 'string', default: '20' },
}, 'ort-profile.mjs MODEL [-d NAME=VALUE]... [--threads N] [--runs N] [--top N]');
const dims = dimsOf(values);
const bytes = new Uint8Array(await readFile(modelPath));
const feeds = randomFeeds(bytes, dims);
const runs = Number(values.runs);
const common = { intraOpNumThreads: Number(values.threads), freeDimensionOverrides: Object.fromEntries(dims) };
const product = (ds) => ds.reduce((a, b) => a * b, 1);

/** Median wall time of a run with the profiler off. */
async function wallMs() {
  const s = await ort.InferenceSession.create(bytes, common);
  const ts = [];
  for (let i = 0; i < runs + 3; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    if (i >= 3) ts.push(performance.now() - t0);
  }
  await s.release();
  return median(ts);
}

/** The profiler's kernel-time events of `runs` runs (the first, cold one included: the per-node median leaves it out). */
async function kernelEvents() {
  const dir = await mkdtemp(join(tmpdir(), 'ort-profile-'));
  try {
    const s = await ort.InferenceSession.create(bytes, { ...common, enableProfiling: true, profileFilePrefix: join(dir, 'p') });
    for (let i = 0; i < runs; i++) await s.run(feeds);
    s.endProfiling();
    await s.release();
    const [file] = await readdir(dir);
    const events = JSON.parse(await readFile(join(dir, file), 'utf8'));
    return events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The dims of an event's shape list entry (`[{ float: [1, 3, 48, 320] }, ...]`). */
const shapeOf = (list, i) => Object.values(list?.[i] ?? {})[0] ?? null;

/** FLOPs of a convolution or matmul node (multiply-adds × 2), or null for other ops. */
function flops(op, args) {
  const out = shapeOf(args.output_type_shape, 0);
  if (!out) return null;
  if (op === 'Conv' || op === 'FusedConv') {
    const w = shapeOf(args.input_type_shape, 1);
    // Weights [F, C/group, kh, kw] (NCHWc blocks reorder but keep the product): per output, C/group·kh·kw.
    return w ? (2 * product(out) * product(w)) / out[1] : null;
  }
  if (op === 'MatMul' || op === 'FusedMatMul' || op === 'Gemm' || op === 'FusedGemm') {
    // The profiler lists activations only (no initializers): K from A, whose last dim is the
    // output's row count when A is transposed (FusedMatMul's transA: rec's CTC head, [1, 120, 40] → [1, 40, 6625]).
    const a = shapeOf(args.input_type_shape, 0);
    if (!a || a.length < 2 || out.length < 2) return null;
    const transposed = a[a.length - 1] === out[out.length - 2] && a[a.length - 2] !== out[out.length - 2];
    return 2 * product(out) * (transposed ? a[a.length - 2] : a[a.length - 1]);
  }
  return null;
}

const wall = await wallMs();
const nodes = new Map();
for (const e of await kernelEvents()) {
  const n = nodes.get(e.name) ?? { op: e.args.op_name, args: e.args, us: [] };
  n.us.push(e.dur);
  nodes.set(e.name, n);
}
const rows = [...nodes].map(([name, n]) => ({ name: name.replace(/_kernel_time$/, ''), op: n.op, ms: median(n.us) / 1000, flops: flops(n.op, n.args), out: shapeOf(n.args.output_type_shape, 0) }));
const total = rows.reduce((a, r) => a + r.ms, 0);
const byOp = new Map();
for (const r of rows) byOp.set(r.op, (byOp.get(r.op) ?? 0) + r.ms);
console.log(`${modelPath}: ${Number(values.threads)} thread(s), median run ${wall.toFixed(3)} ms wall; kernel times sum to ${total.toFixed(3)} ms`);
console.log('op type                  ms   share');
for (const [op, ms] of [...byOp].sort((a, b) => b[1] - a[1])) console.log(`${op.padEnd(20)}${ms.toFixed(3).padStart(9)}  ${((100 * ms) / total).toFixed(1).padStart(5)}%`);
console.log('\nslowest nodes             ms   GFLOP/s  output');
for (const r of rows.sort((a, b) => b.ms - a.ms).slice(0, Number(values.top))) {
  const rate = r.flops ? (r.flops / r.ms / 1e6).toFixed(1) : '';
  console.log(`${r.op.padEnd(20)}${r.ms.toFixed(3).padStart(9)}  ${rate.padStart(8)}  [${r.out?.join(', ') ?? ''}]  ${r.name.slice(0, 48)}`);
}
