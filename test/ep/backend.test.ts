// The EP through ORT's public JS API, as users drive it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import '../../src/index.js';
import { ALLOW_SPINNING, configEntry } from '../../src/ep/backend.js';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';

function addRelu(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const y = b.input('y', DataType.FLOAT, [3]);
  const [s] = b.node('Add', [x, y]);
  const [r] = b.node('Relu', [s], { outputs: ['out'] });
  b.output(r, DataType.FLOAT, [2, 3]);
  return b.build();
}

const X = new Float32Array([-3, -1, 0, 1, 2, 3]);
const Y = new Float32Array([1, 1, 1]);

test('InferenceSession with executionProviders mlir: metadata and outputs', async () => {
  const s = await ort.InferenceSession.create(addRelu(), { executionProviders: [{ name: 'mlir' }] });
  assert.deepEqual(s.inputNames, ['x', 'y']);
  assert.deepEqual(s.outputNames, ['out']);
  assert.deepEqual(s.inputMetadata[0], { name: 'x', isTensor: true, type: 'float32', shape: [2, 3] });
  const r = await s.run({ x: new ort.Tensor('float32', X, [2, 3]), y: new ort.Tensor('float32', Y, [3]) });
  assert.ok(r.out instanceof ort.Tensor, 'outputs are the ORT Tensor class users import');
  assert.deepEqual([...(r.out.data as Float32Array)], [0, 0, 1, 2, 3, 4]);
  assert.deepEqual(r.out.dims, [2, 3]);
  await s.release();
});

test('string EP name and preallocated fetches', async () => {
  const s = await ort.InferenceSession.create(addRelu(), { executionProviders: ['mlir'] });
  const out = new ort.Tensor('float32', new Float32Array(6), [2, 3]);
  const r = await s.run({ x: new ort.Tensor('float32', X, [2, 3]), y: new ort.Tensor('float32', Y, [3]) }, { out });
  assert.equal(r.out, out);
  assert.deepEqual([...(out.data as Float32Array)], [0, 0, 1, 2, 3, 4]);
  await s.release();
});

test('bad feeds are rejected with the input named, before any native call', async () => {
  const s = await ort.InferenceSession.create(addRelu(), { executionProviders: ['mlir'] });
  await assert.rejects(s.run({ x: new ort.Tensor('float32', X, [3, 2]), y: new ort.Tensor('float32', Y, [3]) }), /input 'x'.*\[2,3\]/);
  await assert.rejects(s.run({ x: new ort.Tensor('int32', new Int32Array(6), [2, 3]), y: new ort.Tensor('float32', Y, [3]) }), /input 'x'/);
  await assert.rejects(s.run({ x: new ort.Tensor('float32', X, [2, 3]) }), /'y'/);
  await s.release();
});

test('unknown EP options are an error at session creation', async () => {
  await assert.rejects(ort.InferenceSession.create(addRelu(), { executionProviders: [{ name: 'mlir', optlevel: 2 } as ort.InferenceSession.ExecutionProviderConfig] }), /unknown option 'optlevel'/);
});

test('profiling writes a Chrome trace with one event per dispatch', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prof-'));
  const s = await ort.InferenceSession.create(addRelu(), { executionProviders: ['mlir'], enableProfiling: true, profileFilePrefix: join(dir, 'trace') });
  await s.run({ x: new ort.Tensor('float32', X, [2, 3]), y: new ort.Tensor('float32', Y, [3]) });
  s.endProfiling();
  const [file] = await readdir(dir);
  const events: { name: string; ph: string; cat: string; dur: number }[] = JSON.parse(await readFile(join(dir, file), 'utf8'));
  assert.ok(events.some((e) => e.cat === 'Node' && e.ph === 'X' && e.dur >= 0));
  assert.ok(events.some((e) => e.name === 'model_run'));
  await s.release();
});

test('profiling: a CPU fallback partition gets its own event, beside the compiled dispatches', async () => {
  const b = new ModelBuilder({ opset: 20 });
  const words = b.input('words', DataType.STRING, [2]);
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const [joined] = b.node('StringConcat', [words, words], { outputs: ['joined'] });
  const [r] = b.node('Relu', [x], { outputs: ['r'] });
  b.output(joined, DataType.STRING, [2]);
  b.output(r, DataType.FLOAT, [2, 3]);
  const dir = await mkdtemp(join(tmpdir(), 'prof-fb-'));
  const s = await ort.InferenceSession.create(b.build(), { executionProviders: ['mlir'], enableProfiling: true, profileFilePrefix: join(dir, 'trace') });
  const out = await s.run({ words: new ort.Tensor('string', ['a', 'b'], [2]), x: new ort.Tensor('float32', X, [2, 3]) });
  assert.deepEqual(out.joined.data, ['aa', 'bb']);
  s.endProfiling();
  const [file] = await readdir(dir);
  const events: { name: string; cat: string; args: { provider?: string } }[] = JSON.parse(await readFile(join(dir, file), 'utf8'));
  assert.ok(events.some((e) => e.cat === 'Fallback' && e.args.provider === 'CPUExecutionProvider' && /StringConcat/.test(e.name)), 'a fallback event names its node');
  assert.ok(events.some((e) => e.cat === 'Node' && e.args.provider === 'MlirExecutionProvider'), 'a compiled dispatch event');
  await s.release();
});

test('nodes the EP cannot compile run on the CPU EP with identical results', async () => {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const lens = b.initializer('lens', DataType.INT64, [2], [3, 2]);
  const [r] = b.node('Relu', [x]);
  const [rev] = b.node('ReverseSequence', [r, lens], { attrs: { batch_axis: 0, time_axis: 1 } });
  b.valueInfo(rev, { kind: 'tensor', elemType: DataType.FLOAT, shape: [2, 3] });
  const [n] = b.node('Neg', [rev], { outputs: ['out'] });
  b.output(n, DataType.FLOAT, [2, 3]);
  const model = b.build();
  const feeds = { x: new ort.Tensor('float32', X, [2, 3]) };
  const cpu = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  const mlir = await ort.InferenceSession.create(model, { executionProviders: ['mlir'] });
  const [a, e] = [await mlir.run(feeds), await cpu.run(feeds)];
  assert.deepEqual([...(a.out.data as Float32Array)], [...(e.out.data as Float32Array)]);
  await cpu.release();
  await mlir.release();
});

test('configEntry reads onnxruntime session config flat or nested by dots', () => {
  assert.equal(configEntry({ [ALLOW_SPINNING]: '0' }, ALLOW_SPINNING), '0');
  assert.equal(configEntry({ session: { intra_op: { allow_spinning: '0' } } }, ALLOW_SPINNING), '0');
  assert.equal(configEntry({ session: { intra_op: {} } }, ALLOW_SPINNING), undefined);
  assert.equal(configEntry(undefined, ALLOW_SPINNING), undefined);
});
