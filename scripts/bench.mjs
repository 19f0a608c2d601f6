#!/usr/bin/env node
// The speed table: each model through onnxruntime-node's CPU EP and the mlir
// EP in one process, same random inputs and thread count, runs alternating
// (the `ort-mlir perf` measurement), at each thread count. Prints median
// latencies, the ratio ours/ORT (below 1 = we are faster), our cold compile
// time (session creation with the compile cache off) and whether the outputs
// agree. Every speed claim of the project comes from this script.
//
//   node scripts/bench.mjs [--models DIR] [--only REGEX] [--threads 1,2] [--runs N] [--warmup N] [--json FILE]
//
// Default models: the PP-OCR models in ../models/package/assets (beside the
// repository), with their symbolic dims set to the usual OCR input sizes.
// Needs a build (npm run build).
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { comparePerf, randomFeeds } = await import(new URL('../dist/esm/src/cli/perf-command.js', import.meta.url).href);

/** The OCR pipeline's models and input sizes (p2o.DynamicDimension.0/1/2 = N, H, W). */
const MODELS = [
  { name: 'cls', file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', dims: [1, 48, 192] },
  { name: 'rec', file: 'ch_PP-OCRv4_rec_infer.onnx', dims: [1, 48, 320] },
  { name: 'det', file: 'ch_PP-OCRv4_det_infer.onnx', dims: [1, 640, 640], runs: 10 },
];
const DIM_NAMES = ['p2o.DynamicDimension.0', 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'];

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: fileURLToPath(new URL('../../models/package/assets/', import.meta.url)) },
    only: { type: 'string', default: '' },
    threads: { type: 'string', default: '1,2' },
    runs: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});

const threadCounts = values.threads.split(',').map(Number);
const selected = MODELS.filter((m) => !values.only || new RegExp(values.only).test(m.name));
const rows = [];
const pad = (s, n) => String(s).padEnd(n);
console.log(`${pad('model', 6)}${pad('threads', 9)}${pad('ours ms', 11)}${pad('ort ms', 11)}${pad('ratio', 8)}${pad('compile s', 11)}${pad('compiled', 10)}outputs`);
for (const m of selected) {
  const path = join(values.models, m.file);
  if (!existsSync(path)) {
    console.log(`${pad(m.name, 6)}missing: ${path}`);
    continue;
  }
  const bytes = new Uint8Array(await readFile(path));
  const dims = Object.fromEntries(DIM_NAMES.map((n, i) => [n, m.dims[i]]));
  const feeds = randomFeeds(bytes, new Map(Object.entries(dims)));
  for (const threads of threadCounts) {
    const r = await comparePerf(bytes, feeds, {
      threads,
      runs: Math.min(Number(values.runs), m.runs ?? Infinity),
      warmup: Number(values.warmup),
      freeDimensionOverrides: dims,
    });
    rows.push({ model: m.name, threads, ...r });
    const check = r.mismatch === null ? 'ok' : `MISMATCH ${r.mismatch}`;
    console.log(`${pad(m.name, 6)}${pad(threads, 9)}${pad(r.oursMs.toFixed(3), 11)}${pad(r.ortMs.toFixed(3), 11)}${pad(r.ratio.toFixed(2), 8)}${pad((r.oursCreateMs / 1000).toFixed(1), 11)}${pad(`${r.compiledNodes}/${r.totalNodes}`, 10)}${check}`);
  }
}
if (values.json) await writeFile(values.json, JSON.stringify(rows, null, 2));
