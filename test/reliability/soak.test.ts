// Soak: many runs of a small and a mid-size model with several in flight at
// once. Every output must equal the first, and memory must stay flat (RSS at
// start and end go to the test's diagnostic output).
//
// Knobs: ORT_MLIR_SOAK_RUNS (small model, default 10,000),
// ORT_MLIR_SOAK_MID_RUNS (mid-size model, default 500),
// ORT_MLIR_SOAK_ORT_RUNS (small model through onnxruntime-node's API, default 2,000),
// ORT_MLIR_SOAK_CONCURRENCY (runs in flight, default 8). `npm run soak` runs 10x.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as ort from 'onnxruntime-node';
import '../../src/index.js';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { createMlirSession } from '../../src/ep/session.js';
import { randomTensor } from '../helpers/differential.js';

function knob(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

const SMALL_RUNS = knob('ORT_MLIR_SOAK_RUNS', 10_000);
const MID_RUNS = knob('ORT_MLIR_SOAK_MID_RUNS', 500);
const ORT_RUNS = knob('ORT_MLIR_SOAK_ORT_RUNS', 2_000);
const CONCURRENCY = knob('ORT_MLIR_SOAK_CONCURRENCY', 8);
const MIB = 1024 * 1024;
/** Allowed RSS growth over the second half of a soak: above allocator noise, below leaking one mid-size output per run. */
const MAX_GROWTH_BYTES = 16 * MIB;
/** Through ORT: a variable (not a literal) so that EP-specific keys type-check. */
const MLIR_EP = { name: 'mlir', cacheDir: '' };

const MID_BATCH = 64;
const MID_HIDDEN = 256;
const MID_OUT = 128;

/** A global gc(): RSS readings after a collection are far less noisy. */
const gc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  const f: unknown = runInNewContext('gc');
  return typeof f === 'function' ? () => void f() : () => undefined;
})();

function rss(): number {
  gc();
  return process.memoryUsage().rss;
}

function smallModel(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const y = b.input('y', DataType.FLOAT, [3]);
  const [s] = b.node('Add', [x, y]);
  const [r] = b.node('Relu', [s], { outputs: ['out'] });
  b.output(r, DataType.FLOAT, [2, 3]);
  return b.build();
}

/** Two dense layers plus elementwise work, large enough that native calls run off the main thread. */
function midModel(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [MID_BATCH, MID_HIDDEN]);
  const w1 = b.initializer('w1', DataType.FLOAT, [MID_HIDDEN, MID_HIDDEN], randomTensor(DataType.FLOAT, [MID_HIDDEN, MID_HIDDEN], 11, -0.1, 0.1).data);
  const b1 = b.initializer('b1', DataType.FLOAT, [MID_HIDDEN], randomTensor(DataType.FLOAT, [MID_HIDDEN], 12).data);
  const w2 = b.initializer('w2', DataType.FLOAT, [MID_HIDDEN, MID_OUT], randomTensor(DataType.FLOAT, [MID_HIDDEN, MID_OUT], 13, -0.1, 0.1).data);
  const [h] = b.node('MatMul', [x, w1]);
  const [hb] = b.node('Add', [h, b1]);
  const [r] = b.node('Relu', [hb]);
  const [o] = b.node('MatMul', [r, w2]);
  const [t] = b.node('Tanh', [o]);
  const [s] = b.node('Sigmoid', [t]);
  const [m] = b.node('Mul', [t, s], { outputs: ['out'] });
  const [red] = b.node('ReduceMean', [m], { attrs: { axes: [1], keepdims: 0 }, outputs: ['mean'] });
  b.output(m, DataType.FLOAT, [MID_BATCH, MID_OUT]);
  b.output(red, DataType.FLOAT, [MID_BATCH]);
  return b.build();
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

type RunOnce = () => Promise<ReadonlyMap<string, Uint8Array>>;

/** RSS is sampled at this many evenly spaced points; growth is judged over the second half, after warm-up. */
const SAMPLES = 10;

/** Runs `total` runs, `CONCURRENCY` at a time; checks each against the first and tracks RSS. */
async function soak(t: TestContext, label: string, total: number, runOnce: RunOnce): Promise<void> {
  const startRss = rss();
  const first = await runOnce();
  const every = Math.max(1, Math.floor(total / SAMPLES));
  const samples: number[] = [];
  let done = 1;
  let mismatches = 0;
  const start = performance.now();
  const worker = async () => {
    while (done < total) {
      done++;
      if (done % every === 0) samples.push(rss());
      const out = await runOnce();
      for (const [name, bytes] of first) if (!sameBytes(bytes, out.get(name) ?? new Uint8Array())) mismatches++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - start) / 1000;
  const endRss = rss();
  const mid = samples[Math.floor(samples.length / 2)] ?? startRss;
  const growth = endRss - mid;
  const mib = (n: number) => (n / MIB).toFixed(1);
  t.diagnostic(`${label}: ${total} runs, ${CONCURRENCY} in flight, ${(total / seconds).toFixed(0)} runs/s; RSS start ${mib(startRss)} MiB, half-way ${mib(mid)} MiB, end ${mib(endRss)} MiB (samples: ${samples.map(mib).join(' ')})`);
  assert.equal(mismatches, 0, `${label}: every output equals the first`);
  assert.ok(growth < MAX_GROWTH_BYTES, `${label}: RSS grew by ${mib(growth)} MiB over the second half of the runs`);
}

function bytesOf(outputs: ReadonlyMap<string, HostTensor>): Map<string, Uint8Array> {
  return new Map([...outputs].map(([k, v]) => [k, v.data]));
}

test(`soak: small model, ${SMALL_RUNS} runs`, async (t) => {
  const s = await createMlirSession(smallModel(), { cacheDir: '' });
  const feeds = new Map([['x', randomTensor(DataType.FLOAT, [2, 3], 1)], ['y', randomTensor(DataType.FLOAT, [3], 2)]]);
  try {
    assert.equal(s.report().fallbackNodes, 0);
    await soak(t, 'small', SMALL_RUNS, async () => bytesOf(await s.run(feeds)));
  } finally {
    await s.dispose();
  }
});

test(`soak: mid-size model, ${MID_RUNS} runs`, async (t) => {
  const s = await createMlirSession(midModel(), { cacheDir: '' });
  const feeds = new Map([['x', randomTensor(DataType.FLOAT, [MID_BATCH, MID_HIDDEN], 3)]]);
  try {
    const r = s.report();
    t.diagnostic(`mid: ${r.compiledNodes}/${r.totalNodes} nodes compiled${r.fallbackReasons.length ? `; fallback: ${r.fallbackReasons.join('; ')}` : ''}`);
    await soak(t, 'mid', MID_RUNS, async () => bytesOf(await s.run(feeds)));
  } finally {
    await s.dispose();
  }
});

test(`soak: small model through onnxruntime-node, ${ORT_RUNS} runs`, async (t) => {
  const s = await ort.InferenceSession.create(smallModel(), { executionProviders: [MLIR_EP] });
  const x = new ort.Tensor('float32', new Float32Array([-3, -1, 0, 1, 2, 3]), [2, 3]);
  const y = new ort.Tensor('float32', new Float32Array([1, -1, 0.5]), [3]);
  try {
    await soak(t, 'ort api', ORT_RUNS, async () => {
      const out = await s.run({ x, y });
      const data = out.out.data;
      assert.ok(data instanceof Float32Array);
      return new Map([['out', new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]]);
    });
  } finally {
    await s.release();
  }
});
