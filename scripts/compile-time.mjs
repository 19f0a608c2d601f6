#!/usr/bin/env node
// Compile time with and without tool servers (src/toolchain/tool-server.ts):
// each round runs one fresh process per mode, alternating, and each process
// compiles MODEL --compiles times with the compile cache off. The first
// compile of a process is the cold one (the servers start during it); the
// later ones show what a long-lived process (a test runner, a service
// compiling many models) pays per compile. Prints per-mode medians and the
// ratio servers/direct.
//
//   node scripts/compile-time.mjs MODEL [-d NAME=VALUE]... [--threads N] [--rounds N] [--compiles N]
//
// Needs a build (npm run build).
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dimsOf, inputTypesOf, median, parseModelArgs } from './script-args.mjs';

const { values, modelPath } = parseModelArgs({
  rounds: { type: 'string', default: '4' },
  compiles: { type: 'string', default: '4' },
  child: { type: 'boolean', default: false },
}, 'compile-time.mjs MODEL [-d NAME=VALUE]... [--threads N] [--rounds N] [--compiles N]');

/** In a child: compiles the model --compiles times and prints the wall times (ms) as JSON. */
async function compileRepeatedly() {
  const dist = new URL('../dist/esm/src/', import.meta.url);
  const load = (p) => import(new URL(p, dist).href);
  const [{ decodeModel }, { resolveOptions }, { compileModel }] = await Promise.all([load('onnx/decode.js'), load('ep/options.js'), load('ep/compile.js')]);
  const dims = dimsOf(values);
  const bytes = new Uint8Array(await readFile(modelPath));
  const model = decodeModel(bytes, { baseDir: dirname(modelPath) });
  const inputTypes = inputTypesOf(model, dims);
  const options = resolveOptions({ cacheDir: '', threads: Number(values.threads) });
  const times = [];
  for (let i = 0; i < Number(values.compiles); i++) {
    const t0 = performance.now();
    await compileModel({ model, modelBytes: bytes, inputTypes, options });
    times.push(performance.now() - t0);
  }
  console.log(JSON.stringify(times));
}

if (values.child) {
  await compileRepeatedly();
  process.exit(0);
}

const MODES = [['servers', '1'], ['direct', '0']];
const results = new Map(MODES.map(([m]) => [m, { first: [], later: [] }]));
const self = fileURLToPath(import.meta.url);
for (let r = 0; r < Number(values.rounds); r++) {
  for (const [mode, env] of MODES) {
    const out = execFileSync(process.execPath, [self, ...process.argv.slice(2), '--child'], {
      env: { ...process.env, ORT_MLIR_TOOL_SERVER: env },
      encoding: 'utf8',
    });
    const [first, ...later] = JSON.parse(out.trim().split('\n').at(-1));
    results.get(mode).first.push(first);
    results.get(mode).later.push(...later);
    console.log(`round ${r + 1} ${mode.padEnd(8)} first ${first.toFixed(0)} ms, then ${later.map((t) => t.toFixed(0)).join(' ')}`);
  }
}
const row = (what, pick) => {
  const [s, d] = MODES.map(([m]) => median(pick(results.get(m))));
  return `${what.padEnd(16)} servers ${s.toFixed(0).padStart(6)} ms  direct ${d.toFixed(0).padStart(6)} ms  ratio ${(s / d).toFixed(2)}`;
};
console.log(row('first compile', (x) => x.first));
if (Number(values.compiles) > 1) console.log(row('later compiles', (x) => x.later));
