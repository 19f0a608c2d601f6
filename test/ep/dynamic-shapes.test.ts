// Symbolic dimensions through the EP: a model with free dims runs for several
// concrete shapes (each compiled for its own signature, never reusing a kernel
// of another shape), freeDimensionOverrides pins dims at session creation, and
// large Constant-node weights reach the compiled code as weight arguments, not
// as MLIR text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import '../../src/index.js';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, attr } from '../../src/onnx/builder.js';
import { decodeModel } from '../../src/onnx/decode.js';
import { compileModel } from '../../src/ep/compile.js';
import { resolveOptions } from '../../src/ep/options.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';
import { tensorFromValues } from '../../src/onnx/tensor-data.js';

const HIDDEN = 8;
/** Above MAX_EMBEDDED_ELEMENTS: such a constant must become a weight argument. */
const BIG = 64;

/** [batch, seq, HIDDEN] → MatMul → + bias → Softmax over the last axis, then Shape-driven Reshape to [batch*seq, HIDDEN]. */
function symbolicModel(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, ['batch', 'seq', HIDDEN]);
  const w = b.initializer('w', DataType.FLOAT, [HIDDEN, HIDDEN], Array.from({ length: HIDDEN * HIDDEN }, (_, i) => ((i % 7) - 3) / 8));
  const [m] = b.node('MatMul', [x, w]);
  const [s] = b.node('Softmax', [m], { attrs: { axis: -1 } });
  const shape = b.initializer('flat', DataType.INT64, [2], [-1, HIDDEN]);
  const [r] = b.node('Reshape', [s, shape]);
  b.output(r, DataType.FLOAT, ['rows', HIDDEN]);
  return b.build();
}

test('symbolic dims: each input shape runs compiled and matches ORT', async () => {
  for (const [batch, seq] of [[1, 3], [2, 5], [1, 3]]) {
    const { report } = await assertMatchesOrt(symbolicModel(), { x: randomTensor(DataType.FLOAT, [batch, seq, HIDDEN], batch * 10 + seq) });
    assert.equal(report.fallbackNodes, 0);
  }
});

test('one session, shapes alternating: every run answers for its own shape', async () => {
  const s = await ort.InferenceSession.create(symbolicModel(), { executionProviders: ['mlir'] });
  const cpu = await ort.InferenceSession.create(symbolicModel(), { executionProviders: ['cpu'] });
  for (const [batch, seq] of [[1, 2], [3, 4], [1, 2], [2, 1], [3, 4]]) {
    const data = Float32Array.from({ length: batch * seq * HIDDEN }, (_, i) => Math.sin(i + batch));
    const feeds = { x: new ort.Tensor('float32', data, [batch, seq, HIDDEN]) };
    const [ours, theirs] = [await s.run(feeds), await cpu.run(feeds)];
    const name = s.outputNames[0];
    assert.deepEqual(ours[name].dims, theirs[name].dims);
    const a = ours[name].data as Float32Array;
    const e = theirs[name].data as Float32Array;
    e.forEach((v, i) => assert.ok(Math.abs(a[i] - v) <= 1e-5 + 1e-3 * Math.abs(v), `[${batch},${seq}] element ${i}: ${a[i]} vs ${v}`));
  }
  await s.release();
  await cpu.release();
});

test('freeDimensionOverrides pins symbolic dims at session creation', async () => {
  const s = await ort.InferenceSession.create(symbolicModel(), { executionProviders: ['mlir'], freeDimensionOverrides: { batch: 2, seq: 3 } });
  const x = new ort.Tensor('float32', new Float32Array(2 * 3 * HIDDEN).fill(0.25), [2, 3, HIDDEN]);
  const out = await s.run({ x });
  assert.deepEqual(out[s.outputNames[0]].dims, [6, HIDDEN]);
  await assert.rejects(s.run({ x: new ort.Tensor('float32', new Float32Array(HIDDEN), [1, 1, HIDDEN]) }), /input 'x'/);
  await s.release();
});

/** A Constant node holding a weight too big to embed in MLIR text. */
function constantWeightModel(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [4, BIG]);
  const values = Array.from({ length: BIG * BIG }, (_, i) => ((i * 13) % 17) / 17 - 0.5);
  const [w] = b.node('Constant', [], { attrs: { value: attr.tensor(tensorFromValues('w', DataType.FLOAT, [BIG, BIG], values)) } });
  const [y] = b.node('MatMul', [x, w]);
  b.output(y, DataType.FLOAT, [4, BIG]);
  return b.build();
}

test('large Constant-node weights are weight arguments, not MLIR text', async () => {
  const bytes = constantWeightModel();
  await assertMatchesOrt(bytes, { x: randomTensor(DataType.FLOAT, [4, BIG], 2) });
  const m = await compileModel({
    model: decodeModel(bytes), modelBytes: bytes, options: resolveOptions({ cacheDir: '' }),
    inputTypes: new Map([['x', { dataType: DataType.FLOAT, shape: [4, BIG] }]]),
  });
  const native = m.plan.steps.filter((s) => s.kind === 'native');
  assert.ok(native.length > 0);
  const weights = native.flatMap((s) => (s.kind === 'native' ? s.args.filter((a) => a.role === 'weight') : []));
  assert.equal(weights.length, 1, 'the Constant reaches the kernel as one weight argument');
  assert.deepEqual(weights[0].dims, [BIG, BIG]);
});
