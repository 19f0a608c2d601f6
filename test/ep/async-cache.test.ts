// Async execution and the compile cache, measured the way a server sees them:
// the event loop keeps turning while compiled code runs, several runs in
// flight on one session each get their own correct result, outputs land in the
// caller's preallocated tensors, and a cache hit makes session creation far
// cheaper than a cold compile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import '../../src/index.js';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { createMlirSession } from '../../src/ep/session.js';
import { randomTensor, toFloats } from '../helpers/differential.js';

/** Square MatMul chain: each run is long enough (tens of ms) to go to a worker thread. */
const N = 512;
const CHAIN = 6;
/** How long the event-loop probe keeps runs going. */
const PROBE_MS = 600;
const TICK_MS = 1;
/** Timer ticks expected while a run (tens of ms of native code) is in flight, if the loop is free. */
const MIN_TICKS_PER_RUN = 3;
const IN_FLIGHT = 6;
/** The bar: a cache hit at least this much faster than a cold compile. */
const MIN_CACHE_SPEEDUP = 20;

function matmulChain(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  let x = b.input('x', DataType.FLOAT, [N, N]);
  for (let i = 0; i < CHAIN; i++) {
    const w = b.initializer(`w${i}`, DataType.FLOAT, [N, N], Array.from({ length: N * N }, (_, k) => ((k * 7 + i) % 13) / 64 - 0.09));
    [x] = b.node('MatMul', [x, w]);
    [x] = b.node('Tanh', [x]);
  }
  b.output(x, DataType.FLOAT, [N, N]);
  return b.build();
}

/** A model with several distinct kernels, so that a cold compile costs the toolchain real work. */
function mixedModel(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [1, 8, 16, 16]);
  const w = b.initializer('w', DataType.FLOAT, [8, 8, 3, 3], Array.from({ length: 576 }, (_, k) => (k % 9) / 40));
  const [c] = b.node('Conv', [x, w], { attrs: { pads: [1, 1, 1, 1] } });
  const [r] = b.node('Relu', [c]);
  const [p] = b.node('MaxPool', [r], { attrs: { kernel_shape: [2, 2], strides: [2, 2] } });
  const [f] = b.node('Flatten', [p]);
  const m = b.initializer('m', DataType.FLOAT, [512, 10], Array.from({ length: 5120 }, (_, k) => (k % 11) / 50));
  const [g] = b.node('MatMul', [f, m]);
  const [s] = b.node('Softmax', [g], { attrs: { axis: -1 } });
  b.output(s, DataType.FLOAT, [1, 10]);
  return b.build();
}

test('run() leaves the event loop free while compiled code runs', async (t) => {
  const session = await createMlirSession(matmulChain(), { cacheDir: '' });
  const feeds = new Map([['x', randomTensor(DataType.FLOAT, [N, N], 3)]]);
  await session.run(feeds);
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, TICK_MS);
  // Ticks that fire while each run is in flight: a loop blocked by the native call sees at most one per run
  // (the coalesced timer after it returns), a free one about run time / tick, even on a loaded machine.
  const perRun: number[] = [];
  const start = performance.now();
  try {
    while (performance.now() - start < PROBE_MS) {
      const before = ticks;
      await session.run(feeds);
      perRun.push(ticks - before);
    }
  } finally {
    clearInterval(timer);
    await session.dispose();
  }
  const median = [...perRun].sort((a, b) => a - b)[Math.floor(perRun.length / 2)];
  t.diagnostic(`${perRun.length} runs in ${PROBE_MS} ms; timer ticks during each run: ${perRun.join(', ')}`);
  assert.ok(median >= MIN_TICKS_PER_RUN, `the timer fired a median ${median} times during a run: the event loop was blocked`);
});

test('several runs in flight on one session each get their own result', async () => {
  const session = await createMlirSession(matmulChain(), { cacheDir: '' });
  try {
    const feeds = Array.from({ length: IN_FLIGHT }, (_, i) => new Map([['x', randomTensor(DataType.FLOAT, [N, N], 100 + i)]]));
    const sequential: number[][] = [];
    for (const f of feeds) sequential.push(toFloats([...(await session.run(f)).values()][0]));
    const concurrent = await Promise.all(feeds.map((f) => session.run(f)));
    concurrent.forEach((out, i) => assert.deepEqual(toFloats([...out.values()][0]), sequential[i], `run ${i}`));
  } finally {
    await session.dispose();
  }
});

test('outputs are written into preallocated fetches, and returned tensors are not copies', async () => {
  const s = await ort.InferenceSession.create(matmulChain(), { executionProviders: [{ name: 'mlir', cacheDir: '' }] });
  const x = new ort.Tensor('float32', new Float32Array(N * N).fill(0.01), [N, N]);
  const out = new ort.Tensor('float32', new Float32Array(N * N), [N, N]);
  const fetched = await s.run({ x }, { [s.outputNames[0]]: out });
  assert.equal(fetched[s.outputNames[0]], out, 'the fetch object itself is returned');
  const fresh = await s.run({ x });
  assert.deepEqual([...(out.data as Float32Array)], [...(fresh[s.outputNames[0]].data as Float32Array)]);
  await s.release();
});

test('native code writes graph outputs straight into the destination buffers (no copy)', async () => {
  const session = await createMlirSession(matmulChain(), { cacheDir: '' });
  try {
    const x = { dataType: DataType.FLOAT, dims: [N, N], data: new Uint8Array(new Float32Array(N * N).fill(0.01).buffer) };
    const name = session.outputNames[0];
    const dst = { dataType: DataType.FLOAT, dims: [N, N], data: new Uint8Array(N * N * 4) };
    const out = await session.run(new Map([['x', x]]), new Map([[name, dst]]));
    assert.equal(out.get(name)?.data, dst.data, 'the output is the destination buffer itself');
    const fresh = await session.run(new Map([['x', x]]));
    assert.notEqual(fresh.get(name)?.data, dst.data);
    assert.deepEqual(dst.data, fresh.get(name)?.data);
    const wrongSize = { dataType: DataType.FLOAT, dims: [N], data: new Uint8Array(N * 4) };
    const other = await session.run(new Map([['x', x]]), new Map([[name, wrongSize]]));
    assert.notEqual(other.get(name)?.data, wrongSize.data, 'a destination that does not fit is left alone');
  } finally {
    await session.dispose();
  }
});

test(`a cache hit creates the session at least ${MIN_CACHE_SPEEDUP}x faster than a cold compile`, async (t) => {
  const cacheDir = join(await mkdtemp(join(tmpdir(), 'ort-mlir-cache-speed-')), 'cache');
  const model = mixedModel();
  const time = async () => {
    const start = performance.now();
    const s = await createMlirSession(model, { cacheDir });
    const ms = performance.now() - start;
    await s.dispose();
    return ms;
  };
  const cold = await time();
  const warm = Math.min(await time(), await time(), await time());
  t.diagnostic(`cold ${cold.toFixed(0)} ms, warm ${warm.toFixed(1)} ms: ${(cold / warm).toFixed(0)}x`);
  assert.ok(cold / warm >= MIN_CACHE_SPEEDUP, `cold ${cold.toFixed(0)} ms vs warm ${warm.toFixed(1)} ms`);
});
