#!/usr/bin/env node
// The ceiling for the MatMul rows of the speed table: one core's f32 FMA
// peak, measured by a loop of independent AVX-512 (or AVX2) FMAs compiled
// with the toolchain's clang, next to the MatMul throughput of onnxruntime-node
// and of the mlir EP at one thread, timed alternating in the same process with
// preallocated outputs. Prints each as a share of the peak, the ratio ours/ORT,
// and the ratio ours/ORT that running exactly at peak would give.
//
//   node scripts/fma-peak.mjs [--n 512] [--runs 50]
//
// Needs a build (npm run build) and clang from the toolchain
// (ORT_MLIR_TOOLCHAIN_HOME or /usr/lib/llvm-22).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';

const { matmulModel } = await import(new URL('./bench-models.mjs', import.meta.url).href);
// Registers the mlir EP with onnxruntime-node.
await import(new URL('../dist/esm/src/index.js', import.meta.url).href);
const { values } = parseArgs({ options: { n: { type: 'string', default: '512' }, runs: { type: 'string', default: '50' } } });

/** Accumulator chains: enough independent FMAs to cover latency × pipes. */
const CHAINS = 12;
const ITERATIONS = 100_000_000;
const PEAK_C = `
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
#ifdef __AVX512F__
typedef __m512 V; enum { LANES = 16 };
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
static float sum(V v) { return _mm512_reduce_add_ps(v); }
#else
typedef __m256 V; enum { LANES = 8 };
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
static float sum(V v) { float f[8]; _mm256_storeu_ps(f, v); return f[0]; }
#endif
int main(void) {
  V a[${CHAINS}]; V b = SET1(1.0000001f), c = SET1(0.999999f);
  for (int i = 0; i < ${CHAINS}; i++) a[i] = SET1((float)i);
  struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long n = 0; n < ${ITERATIONS}L; n++)
    for (int i = 0; i < ${CHAINS}; i++) a[i] = FMA(a[i], b, c);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
  float total = 0; for (int i = 0; i < ${CHAINS}; i++) total += sum(a[i]);
  printf("%.1f %g\\n", ${ITERATIONS}.0 * ${CHAINS} * LANES * 2 / s / 1e9, total);
  return 0;
}
`;

function fmaPeakGflops() {
  const dir = mkdtempSync(join(tmpdir(), 'ort-mlir-peak-'));
  const home = process.env.ORT_MLIR_TOOLCHAIN_HOME ?? '/usr/lib/llvm-22';
  writeFileSync(join(dir, 'peak.c'), PEAK_C);
  execFileSync(join(home, 'bin', 'clang'), ['-O2', '-march=native', join(dir, 'peak.c'), '-o', join(dir, 'peak')]);
  return Number(execFileSync(join(dir, 'peak'), { encoding: 'utf8' }).split(' ')[0]);
}

/** Warm-up runs: the first tens of runs of either EP are slower (page faults, clock ramp-up). */
const WARMUP_RUNS = 20;

/** A 1-thread session of MatMul n³ on `ep`, with a preallocated output (no allocation in the timed runs). */
async function matmulSession(n, ep) {
  const s = await ort.InferenceSession.create(matmulModel(n), { intraOpNumThreads: 1, executionProviders: [ep] });
  const x = new ort.Tensor('float32', new Float32Array(n * n).fill(0.5), [n, n]);
  const y = new ort.Tensor('float32', new Float32Array(n * n), [n, n]);
  const ms = [];
  for (let i = 0; i < WARMUP_RUNS; i++) await s.run({ x }, { y });
  return {
    async time() {
      const t = performance.now();
      await s.run({ x }, { y });
      ms.push(performance.now() - t);
    },
    gflops() {
      const sorted = [...ms].sort((a, b) => a - b);
      return (2 * n ** 3) / (sorted[sorted.length >> 1] / 1000) / 1e9;
    },
    release: () => s.release(),
  };
}

const n = Number(values.n);
const peak = fmaPeakGflops();
const sessions = { onnxruntime: await matmulSession(n, 'cpu'), mlir: await matmulSession(n, { name: 'mlir', threads: 1 }) };
// Alternating, so that both see the same machine state.
for (let i = 0; i < Number(values.runs); i++) for (const s of Object.values(sessions)) await s.time();
console.log(`FMA peak, one core: ${peak.toFixed(1)} GFLOP/s`);
for (const [name, s] of Object.entries(sessions)) {
  const g = s.gflops();
  console.log(`${name.padEnd(11)} MatMul ${n}³ + bias + Relu, one thread: ${g.toFixed(1)} GFLOP/s (${((100 * g) / peak).toFixed(0)} % of peak)`);
  await s.release();
}
const ratio = sessions.mlir.gflops() / sessions.onnxruntime.gflops();
console.log(`ratio ours/ORT (time): ${(1 / ratio).toFixed(2)}; at peak it would be ${(sessions.onnxruntime.gflops() / peak).toFixed(2)}`);
