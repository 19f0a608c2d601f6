// Differential tests of CumProd, Shrink, integer Pow, Swish, LpNormalization,
// ReverseSequence, Dropout (identity cases), BatchNormalization in training
// mode, the window functions and CenterCropPad against onnxruntime-node;
// Range in 16-bit floats against hand-computed values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, attr } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { createMlirSession } from '../../src/ep/session.js';
import { checkCases, type CaseInput } from '../helpers/op-cases.js';

const D = DataType.DOUBLE;
const I32 = DataType.INT32;
const I64 = DataType.INT64;
const BOOL = DataType.BOOL;

const x = (dims: number[], extra: Partial<CaseInput> = {}): CaseInput => ({ dims, ...extra });
const ints = (dims: number[], lo = -3, hi = 3, dataType = I32): CaseInput => ({ dims, dataType, lo, hi });
const scalar = (v: number, dataType: DataType): CaseInput => ({ dims: [], dataType, init: [v] });
const i64s = (values: number[]): CaseInput => ({ dims: [values.length], dataType: I64, init: values });

describe('misc op lowerings match onnxruntime', () => {
  it('CumProd: exclusive, reverse, integer, constant and runtime axis', async () => {
    const d = [2, 3, 4];
    await checkCases([
      { op: 'CumProd', inputs: [x(d, { lo: 0.5, hi: 1.5 }), scalar(1, I32)] },
      { op: 'CumProd', inputs: [x(d), scalar(-1, I64)], attrs: { exclusive: 1 } },
      { op: 'CumProd', inputs: [ints(d), scalar(0, I32)], attrs: { reverse: 1 } },
      { op: 'CumProd', inputs: [x(d), scalar(2, I32)], attrs: { exclusive: 1, reverse: 1 } },
      { op: 'CumProd', inputs: [x(d), { dims: [], dataType: I32, lo: 1, hi: 1 }] },
    ], 26);
  });

  it('Shrink (float and integer), Pow with integer bases', async () => {
    const d = [3, 4];
    await checkCases([
      { op: 'Shrink', inputs: [x(d, { lo: -2, hi: 2 })] },
      { op: 'Shrink', inputs: [x(d, { lo: -2, hi: 2 })], attrs: { lambd: 0.7, bias: 0.3 } },
      { op: 'Shrink', inputs: [ints(d, -5, 5)], attrs: { lambd: 1.5, bias: attr.float(1) } },
      { op: 'Pow', inputs: [ints(d, -4, 4), ints(d, 0, 4)] },
      { op: 'Pow', inputs: [ints(d, -4, 4, I64), ints([4], 0, 3, I64)] },
      { op: 'Pow', inputs: [ints(d, 0, 6), x(d, { lo: 0, hi: 2 })] },
      { op: 'Pow', inputs: [ints(d, 1, 6, I64), x([1], { lo: 0.5, hi: 0.5 })] },
    ], 15);
  });

  it('Swish with default and explicit alpha (opset 24)', async () => {
    await checkCases([
      { op: 'Swish', inputs: [x([3, 4], { lo: -6, hi: 6 })] },
      { op: 'Swish', inputs: [x([5], { lo: -3, hi: 3 })], attrs: { alpha: 0.5 } },
    ], 24);
  });

  it('LpNormalization: p = 1 and 2, any axis, zero norms', async () => {
    await checkCases([
      { op: 'LpNormalization', inputs: [x([3, 4, 5])] },
      { op: 'LpNormalization', inputs: [x([3, 4, 5])], attrs: { p: 1, axis: 1 } },
      { op: 'LpNormalization', inputs: [x([3, 4], { dataType: D })], attrs: { axis: 0 } },
      { op: 'LpNormalization', inputs: [{ dims: [2, 3], init: [0, 0, 0, 1, -2, 2] }], attrs: { p: 2 } },
      { op: 'LpNormalization', inputs: [{ dims: [2, 3], init: [0, 0, 0, 1, -2, 2] }], attrs: { p: 1 } },
    ], 22);
  });

  it('ReverseSequence: time-major and batch-major', async () => {
    await checkCases([
      { op: 'ReverseSequence', inputs: [x([5, 3, 2]), ints([3], 1, 5, I64)] },
      { op: 'ReverseSequence', inputs: [x([3, 4]), i64s([4, 1, 2])], attrs: { batch_axis: 0, time_axis: 1 } },
      { op: 'ReverseSequence', inputs: [ints([4, 2, 3]), ints([2], 0, 4, I64)] },
    ], 10);
  });

  it('Dropout: inference, constant ratio 0 in training mode, mask outputs', async () => {
    const d = [3, 4];
    await checkCases([
      { op: 'Dropout', inputs: [x(d)] },
      { op: 'Dropout', inputs: [x(d), scalar(0.3, DataType.FLOAT)], outputs: 2 },
      { op: 'Dropout', inputs: [x(d), scalar(0.5, DataType.FLOAT), scalar(0, BOOL)], outputs: 2 },
      { op: 'Dropout', inputs: [x(d), scalar(0, DataType.FLOAT), scalar(1, BOOL)], outputs: 2 },
    ], 13);
    await checkCases([{ op: 'Dropout', inputs: [x(d)], attrs: { ratio: 0.4 } }], 10);
  });

  it('BatchNormalization with training_mode=1 returns running statistics', async () => {
    const c = 3;
    const v = (lo: number, hi: number): CaseInput => x([c], { lo, hi });
    await checkCases([
      { op: 'BatchNormalization', inputs: [x([2, c, 4, 5]), v(-1, 1), v(-1, 1), v(-1, 1), v(0.1, 1)], attrs: { training_mode: 1 }, outputs: 3 },
      { op: 'BatchNormalization', inputs: [x([4, c]), v(-1, 1), v(-1, 1), v(-1, 1), v(0.1, 1)], attrs: { training_mode: 1, momentum: 0.7, epsilon: 0.01 }, outputs: 3 },
    ], 15);
  });

  it('Hann / Hamming / Blackman windows and CenterCropPad with constant sizes', async () => {
    await checkCases([
      { op: 'HannWindow', inputs: [scalar(10, I64)] },
      { op: 'HannWindow', inputs: [scalar(7, I32)], attrs: { periodic: 0 } },
      { op: 'HammingWindow', inputs: [scalar(8, I64)], attrs: { output_datatype: DataType.DOUBLE } },
      { op: 'HammingWindow', inputs: [scalar(9, I64)], attrs: { periodic: 0 } },
      { op: 'BlackmanWindow', inputs: [scalar(12, I64)] },
      { op: 'BlackmanWindow', inputs: [scalar(5, I32)], attrs: { periodic: 0 } },
      { op: 'CenterCropPad', inputs: [x([20, 8, 3]), i64s([10, 11, 3])] },
      { op: 'CenterCropPad', inputs: [x([3, 7, 5]), i64s([4, 3])], attrs: { axes: [1, 2] } },
      { op: 'CenterCropPad', inputs: [ints([5, 4, 2]), i64s([2, 6])], attrs: { axes: [-3, 1] } },
    ], 18);
  });
});

describe('Range in float16 and bfloat16 (opset 27; onnxruntime has no kernel for them)', () => {
  /** A scalar of 16-bit float type `dataType` from its bit pattern. */
  const half = (dataType: DataType, bits: number): HostTensor => ({ dataType, dims: [], data: new Uint8Array(new Uint16Array([bits]).buffer) });

  for (const [dataType, bits] of [[DataType.FLOAT16, [0x3800, 0x4000, 0x3400]], [DataType.BFLOAT16, [0x3f00, 0x4000, 0x3e80]]] as const) {
    it(`${DataType[dataType]}: 0.5 to 2 by 0.25, bounds fed at run time`, async () => {
      const b = new ModelBuilder({ opset: 27 });
      const names = ['start', 'limit', 'delta'].map((n) => b.input(n, dataType, []));
      const [y] = b.node('Range', names, { outputs: ['y'] });
      b.output(y);
      const s = await createMlirSession(b.build(), { cacheDir: '' });
      try {
        const out = await s.run(new Map(names.map((n, i) => [n, half(dataType, bits[i])])));
        assert.equal(s.report().fallbackNodes, 0);
        const got = out.get('y');
        assert.ok(got);
        assert.deepEqual(got.dims, [6]);
        const values = Array.from(new Uint16Array(got.data.buffer, got.data.byteOffset, 6));
        const expected = dataType === DataType.FLOAT16
          ? [0x3800, 0x3a00, 0x3c00, 0x3d00, 0x3e00, 0x3f00]
          : [0x3f00, 0x3f40, 0x3f80, 0x3fa0, 0x3fc0, 0x3fe0];
        assert.deepEqual(values, expected);
      } finally {
        await s.dispose();
      }
    });
  }
});
