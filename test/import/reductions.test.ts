// Differential tests of reductions and normalisations (Reduce*, ArgMax/Min,
// Softmax family, LayerNorm / GroupNorm / MVN, CumSum, TopK, Einsum, Det)
// against onnxruntime-node. Several variants share one model so each
// compiles once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, type AttrInput } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;
const I32 = DataType.INT32;
const I64 = DataType.INT64;

interface Input {
  dims: number[];
  dataType?: DataType;
  lo?: number;
  hi?: number;
  /** Makes the input an initializer (a compile-time constant) with these values. */
  init?: number[];
}

interface Case {
  op: string;
  inputs: (Input | null)[];
  attrs?: Record<string, AttrInput>;
  outputs?: number;
}

/** One model running every case side by side; returns it with random feeds. */
function model(cases: Case[], opset: number): { bytes: Uint8Array; feeds: Record<string, HostTensor> } {
  const b = new ModelBuilder({ opset });
  const feeds: Record<string, HostTensor> = {};
  let seed = 1;
  cases.forEach((c, k) => {
    const names = c.inputs.map((inp, i) => {
      if (inp === null) return '';
      const name = `in${i}_${k}`;
      const dt = inp.dataType ?? F;
      if (inp.init) return b.initializer(name, dt, inp.dims, dt === I64 ? inp.init.map(BigInt) : inp.init);
      b.input(name, dt, inp.dims);
      feeds[name] = randomTensor(dt, inp.dims, seed++, inp.lo ?? -1, inp.hi ?? 1);
      return name;
    });
    const outs = b.node(c.op, names, { attrs: c.attrs, outputs: c.outputs ?? 1 });
    outs.forEach((o) => b.output(o));
  });
  return { bytes: b.build(), feeds };
}

async function check(cases: Case[], opset: number): Promise<void> {
  const m = model(cases, opset);
  await assertMatchesOrt(m.bytes, m.feeds);
}

const x = (dims: number[], extra: Partial<Input> = {}): Input => ({ dims, ...extra });
const axes = (values: number[]): Input => ({ dims: [values.length], dataType: I64, init: values });
const ints = (dims: number[], lo = -3, hi = 3): Input => ({ dims, dataType: I32, lo, hi });

describe('reductions match onnxruntime', () => {
  it('Reduce* with axes attributes (opset 13, ReduceSum axes input)', async () => {
    const d = [3, 4, 5];
    await check([
      { op: 'ReduceSum', inputs: [x(d), axes([1])], attrs: { keepdims: 0 } },
      { op: 'ReduceSum', inputs: [x(d), axes([-1, 0])] },
      { op: 'ReduceSum', inputs: [x(d)] },
      { op: 'ReduceSum', inputs: [x(d), axes([])], attrs: { noop_with_empty_axes: 1 } },
      { op: 'ReduceSum', inputs: [ints(d), axes([2])] },
      { op: 'ReduceMean', inputs: [x(d)], attrs: { axes: [0, 2] } },
      { op: 'ReduceMean', inputs: [x(d)], attrs: { keepdims: 0 } },
      { op: 'ReduceMax', inputs: [x(d)], attrs: { axes: [1], keepdims: 0 } },
      { op: 'ReduceMax', inputs: [ints(d)], attrs: { axes: [-1] } },
      { op: 'ReduceMin', inputs: [x(d)], attrs: { axes: [0] } },
      { op: 'ReduceMin', inputs: [ints(d)] },
      { op: 'ReduceProd', inputs: [x(d, { lo: 0.5, hi: 1.5 })], attrs: { axes: [2] } },
      { op: 'ReduceL1', inputs: [x(d)], attrs: { axes: [1] } },
      { op: 'ReduceL2', inputs: [x(d)], attrs: { axes: [0, 1], keepdims: 0 } },
      { op: 'ReduceLogSum', inputs: [x(d, { lo: 0.1, hi: 2 })], attrs: { axes: [2] } },
      { op: 'ReduceLogSumExp', inputs: [x(d, { lo: 50, hi: 100 })], attrs: { axes: [1] } },
      { op: 'ReduceSumSquare', inputs: [x(d)], attrs: { axes: [2], keepdims: 0 } },
    ], 13);
  });

  it('Reduce* with axes inputs (opset 18) and noop_with_empty_axes', async () => {
    const d = [2, 3, 4];
    await check([
      { op: 'ReduceMean', inputs: [x(d), axes([1])], attrs: { keepdims: 0 } },
      { op: 'ReduceMax', inputs: [x(d), axes([0, 2])] },
      { op: 'ReduceMin', inputs: [x(d)] },
      { op: 'ReduceProd', inputs: [x(d), axes([])], attrs: { noop_with_empty_axes: 1 } },
      { op: 'ReduceL1', inputs: [x(d), axes([-1])] },
      { op: 'ReduceL2', inputs: [x(d), axes([2])] },
      { op: 'ReduceLogSum', inputs: [x(d, { lo: 0.1, hi: 1 }), axes([0])] },
      { op: 'ReduceLogSumExp', inputs: [x(d), axes([1, 2])], attrs: { keepdims: 0 } },
      { op: 'ReduceSumSquare', inputs: [x(d), axes([0])] },
    ], 18);
  });

  it('accumulates float16 sums in f32', async () => {
    const b = new ModelBuilder({ opset: 13 });
    const input = b.input('x', F, [4, 512]);
    const [h] = b.node('Cast', [input], { attrs: { to: DataType.FLOAT16 } });
    const [s] = b.node('ReduceSum', [h, b.initializer('ax', I64, [1], [1n])]);
    const [y] = b.node('Cast', [s], { attrs: { to: F } });
    b.output(y);
    await assertMatchesOrt(b.build(), { x: randomTensor(F, [4, 512], 7, 0, 1) }, { rtol: 2e-3 });
  });

  it('folds reductions of constants', async () => {
    const b = new ModelBuilder({ opset: 13 });
    const input = b.input('x', I64, [2]);
    const c = b.initializer('c', I64, [2, 3], [1n, 2n, 3n, 4n, 5n, 6n]);
    const [p] = b.node('ReduceProd', [c], { attrs: { axes: [0], keepdims: 0 } });
    const [s] = b.node('ReduceSum', [p, b.initializer('ax', I64, [1], [0n])]);
    const [y] = b.node('Add', [input, s]);
    b.output(y);
    const { report } = await assertMatchesOrt(b.build(), { x: randomTensor(I64, [2], 3, -5, 5) });
    assert.equal(report.compiledNodes, 1, 'only Add should be compiled; the reductions fold');
  });

  it('ArgMax / ArgMin (ties, select_last_index) and Softmax / LogSoftmax / Hardmax on one axis', async () => {
    const d = [3, 4, 5];
    await check([
      { op: 'ArgMax', inputs: [x(d)] },
      { op: 'ArgMax', inputs: [ints(d, -1, 1)], attrs: { axis: 2, keepdims: 0 } },
      { op: 'ArgMax', inputs: [ints(d, -1, 1)], attrs: { axis: 1, select_last_index: 1 } },
      { op: 'ArgMin', inputs: [x(d)], attrs: { axis: -1 } },
      { op: 'ArgMin', inputs: [ints(d, -1, 1)], attrs: { axis: 0, keepdims: 0, select_last_index: 1 } },
      { op: 'Softmax', inputs: [x(d, { lo: -50, hi: 50 })] },
      { op: 'Softmax', inputs: [x(d)], attrs: { axis: 0 } },
      { op: 'LogSoftmax', inputs: [x(d, { lo: 500, hi: 1000 })], attrs: { axis: 1 } },
      { op: 'Hardmax', inputs: [x(d)], attrs: { axis: 1 } },
    ], 13);
  });

  it('Softmax / LogSoftmax / Hardmax coerce to 2-D before opset 13', async () => {
    const d = [2, 3, 4];
    await check([
      { op: 'Softmax', inputs: [x(d)] },
      { op: 'LogSoftmax', inputs: [x(d)], attrs: { axis: 2 } },
      { op: 'Hardmax', inputs: [x(d)] },
      { op: 'Hardmax', inputs: [x(d)], attrs: { axis: 0 } },
      { op: 'ReduceSum', inputs: [x(d)], attrs: { axes: [1] } },
    ], 11);
  });

  it('LayerNormalization with Mean / InvStdDev, MeanVarianceNormalization', async () => {
    await check([
      { op: 'LayerNormalization', inputs: [x([2, 3, 4]), x([4]), x([4])], outputs: 3 },
      { op: 'LayerNormalization', inputs: [x([2, 3, 4]), x([3, 4])], attrs: { axis: 1, epsilon: 0.1 }, outputs: 3 },
      { op: 'MeanVarianceNormalization', inputs: [x([2, 3, 2, 2])] },
      { op: 'MeanVarianceNormalization', inputs: [x([2, 3, 4])], attrs: { axes: [1] } },
    ], 17);
  });

  it('GroupNormalization: per-channel scale (opset 21)', async () => {
    await check([
      { op: 'GroupNormalization', inputs: [x([2, 6, 3]), x([6]), x([6])], attrs: { num_groups: 3 } },
      { op: 'GroupNormalization', inputs: [x([1, 4, 2, 2]), x([4]), x([4])], attrs: { num_groups: 1, epsilon: 0.01 } },
    ], 21);
  });

  it('GroupNormalization: per-group scale (opset 18)', async () => {
    await check([{ op: 'GroupNormalization', inputs: [x([2, 6, 3]), x([3]), x([3])], attrs: { num_groups: 3 } }], 18);
  });

  it('CumSum: exclusive, reverse, constant and runtime axis', async () => {
    const d = [2, 3, 4];
    const axis = (v: number): Input => ({ dims: [], dataType: I32, init: [v] });
    await check([
      { op: 'CumSum', inputs: [x(d), axis(1)] },
      { op: 'CumSum', inputs: [x(d), axis(-1)], attrs: { exclusive: 1 } },
      { op: 'CumSum', inputs: [ints(d), axis(0)], attrs: { reverse: 1 } },
      { op: 'CumSum', inputs: [x(d), axis(2)], attrs: { exclusive: 1, reverse: 1 } },
      { op: 'CumSum', inputs: [x(d), { dims: [], dataType: I32, lo: -2, hi: -2 }], attrs: { reverse: 1 } },
    ], 14);
  });

  it('TopK: largest / smallest, ties keep the lower index', async () => {
    const k = (v: number): Input => ({ dims: [1], dataType: I64, init: [v] });
    await check([
      { op: 'TopK', inputs: [x([3, 5]), k(2)], outputs: 2 },
      { op: 'TopK', inputs: [ints([3, 6], -1, 1), k(4)], outputs: 2 },
      { op: 'TopK', inputs: [ints([4, 3], -1, 1), k(3)], attrs: { axis: 0, largest: 0 }, outputs: 2 },
    ], 11);
  });

  it('Einsum and Det', async () => {
    await check([
      { op: 'Einsum', inputs: [x([2, 3, 4]), x([2, 4, 5])], attrs: { equation: 'bij,bjk->bik' } },
      { op: 'Einsum', inputs: [x([3, 4]), x([4])], attrs: { equation: 'ij,j' } },
      { op: 'Einsum', inputs: [x([2, 3, 3])], attrs: { equation: '...ii->...i' } },
      { op: 'Einsum', inputs: [x([2, 3, 4])], attrs: { equation: 'abc->cb' } },
      { op: 'Einsum', inputs: [x([2, 1, 4]), x([1, 3, 4])], attrs: { equation: '...j,...j->...' } },
      { op: 'Det', inputs: [x([4, 3, 3])] },
      { op: 'Det', inputs: [x([2, 2])] },
    ], 12);
  });
});
