#!/usr/bin/env node
// A/B of two builds of this project on one model: compiles it with each
// build's compiler (compile cache off), then runs the two compiled plans
// alternating in one process (the order flipped every round) and prints
// each median and the ratio new/base. For judging a compiler change when
// the machine's speed drifts too much between separate bench runs; the
// speed claims against onnxruntime still come from scripts/bench.mjs.
//
//   node scripts/compare-builds.mjs --base DIR --new DIR MODEL [-d NAME=VALUE]... [--threads N] [--rounds N]
//
// DIR is a checkout with a build (its dist/), e.g. a `git worktree` of the
// base commit after `npx tsc -p tsconfig.json`; --new defaults to this one.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dimsOf, inputTypesOf, median, parseModelArgs } from './script-args.mjs';

const { values, modelPath } = parseModelArgs({
  base: { type: 'string' },
  new: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
  rounds: { type: 'string', default: '30' },
}, 'compare-builds.mjs --base DIR [--new DIR] MODEL [-d NAME=VALUE]... [--threads N] [--rounds N]', ['base']);
const dims = dimsOf(values);
const threads = Number(values.threads);
const bytes = new Uint8Array(await readFile(modelPath));

/** Loads `rel` from the build under `root` (each build is a separate module graph). */
const loader = (root) => (rel) => import(pathToFileURL(resolve(root, 'dist/esm/src', rel)).href);

// Random feeds from the base build only: importing perf-command registers the EP with onnxruntime, once per process.
const { randomFeeds } = await loader(values.base)('cli/perf-command.js');
const hostFeeds = async (load) => {
  const { ortToHost } = await load('ep/ort-tensor.js');
  return new Map(Object.entries(randomFeeds(bytes, dims)).map(([k, v]) => [k, ortToHost(v)]));
};

async function prepare(label, root) {
  const load = loader(root);
  const [{ decodeModel }, { resolveOptions }, { compileModel }, { Executor }, { CpuSession }] = await Promise.all(
    ['onnx/decode.js', 'ep/options.js', 'ep/compile.js', 'runtime/executor.js', 'ep/cpu-session.js'].map(load),
  );
  const model = decodeModel(bytes, { baseDir: dirname(modelPath) });
  const inputTypes = inputTypesOf(model, dims);
  const module = await compileModel({ model, modelBytes: bytes, inputTypes, options: resolveOptions({ cacheDir: '', threads }) });
  const ex = await Executor.load(module, (m) => CpuSession.create(m, { intraOpNumThreads: threads }));
  const feeds = await hostFeeds(load);
  return { label, ex, run: () => ex.run(feeds), times: [] };
}

const sides = [await prepare('base', values.base), await prepare('new', values.new)];
const WARMUP = 3;
for (let i = 0; i < WARMUP; i++) for (const s of sides) await s.run();
for (let i = 0; i < Number(values.rounds); i++) {
  for (const s of i % 2 ? [...sides].reverse() : sides) {
    const t0 = performance.now();
    await s.run();
    s.times.push(performance.now() - t0);
  }
}
const [base, next] = sides.map((s) => median(s.times));
console.log(`base ${base.toFixed(3)} ms  new ${next.toFixed(3)} ms  new/base ${(next / base).toFixed(3)}  (min ${Math.min(...sides[0].times).toFixed(3)} / ${Math.min(...sides[1].times).toFixed(3)})`);
for (const s of sides) await s.ex.dispose();
