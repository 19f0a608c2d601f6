// Differential tests of the compute-heavy lowerings (MatMul, Gemm, Conv,
// ConvTranspose, pooling, normalisation, integer / quantized products) against
// onnxruntime-node. Several variants share one model so each compiles once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, type AttrInput } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { createMlirSession } from '../../src/ep/session.js';
import { assertMatchesOrt, floatTensor, randomTensor, toFloats } from '../helpers/differential.js';

function int64Tensor(dims: number[], values: number[]): HostTensor {
  return { dataType: DataType.INT64, dims, data: new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer) };
}

const F = DataType.FLOAT;
/** A few float16 ulps: ORT and we may round f16 results differently. */
const HALF_TOLERANCE = 4e-3;

interface Case {
  op: string;
  inputs: { name: string; dims: number[]; dataType?: DataType; lo?: number; hi?: number }[];
  attrs?: Record<string, AttrInput>;
  outputs?: number;
}

/** One model running every case side by side; returns it with random feeds. */
function model(cases: Case[], opset = 17): { bytes: Uint8Array; feeds: Record<string, HostTensor> } {
  const b = new ModelBuilder({ opset });
  const feeds: Record<string, HostTensor> = {};
  let seed = 1;
  cases.forEach((c, k) => {
    const names = c.inputs.map((inp) => {
      if (inp.name === '') return '';
      const name = `${inp.name}_${k}`;
      const dt = inp.dataType ?? F;
      b.input(name, dt, inp.dims);
      feeds[name] = randomTensor(dt, inp.dims, seed++, inp.lo ?? -1, inp.hi ?? 1);
      return name;
    });
    const outs = b.node(c.op, names, { attrs: c.attrs, outputs: c.outputs ?? 1 });
    outs.forEach((o) => b.output(o));
  });
  return { bytes: b.build(), feeds };
}

async function check(cases: Case[], opset = 17): Promise<void> {
  const m = model(cases, opset);
  await assertMatchesOrt(m.bytes, m.feeds);
}

/** IEEE half bits of `v` (round to nearest; |v| small enough to stay finite). */
function toHalf(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  const MIN_NORMAL = 2 ** -14;
  if (a < MIN_NORMAL) return sign | Math.round(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  let m = Math.round((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | m;
}

/** A random float16 tensor (values from the float32 generator, rounded). */
function halfTensor(dims: number[], seed: number, lo = -1, hi = 1): HostTensor {
  const src = randomTensor(F, dims, seed, lo, hi);
  const floats = new Float32Array(src.data.buffer, src.data.byteOffset, src.data.byteLength / 4);
  const halves = Uint16Array.from(floats, toHalf);
  return { dataType: DataType.FLOAT16, dims, data: new Uint8Array(halves.buffer) };
}

const x = (dims: number[], extra: Partial<Case['inputs'][number]> = {}) => ({ name: 'x', dims, ...extra });
const w = (dims: number[]) => ({ name: 'w', dims });
const bias = (dims: number[]) => ({ name: 'b', dims });

describe('compute lowerings match onnxruntime', () => {
  it('MatMul: 2-D, batched, broadcast batch dims and 1-D operands', async () => {
    await check([
      { op: 'MatMul', inputs: [x([3, 4]), w([4, 5])] },
      { op: 'MatMul', inputs: [x([2, 3, 4]), w([4, 5])] },
      { op: 'MatMul', inputs: [x([3, 4]), w([2, 4, 5])] },
      { op: 'MatMul', inputs: [x([2, 3, 4]), w([2, 4, 5])] },
      { op: 'MatMul', inputs: [x([2, 1, 3, 4]), w([1, 3, 4, 5])] },
      { op: 'MatMul', inputs: [x([4]), w([2, 4, 5])] },
      { op: 'MatMul', inputs: [x([2, 3, 4]), w([4])] },
      { op: 'MatMul', inputs: [x([4]), w([4])] },
      { op: 'MatMul', inputs: [x([3, 4], { dataType: DataType.INT32, lo: -5, hi: 5 }), { name: 'w', dims: [4, 2], dataType: DataType.INT32, lo: -5, hi: 5 }] },
    ]);
  });

  it('Gemm: transposes, alpha / beta, broadcast and missing C', async () => {
    await check([
      { op: 'Gemm', inputs: [x([4, 3]), w([5, 4]), { name: 'c', dims: [5] }], attrs: { transA: 1, transB: 1, alpha: 0.5, beta: 2.5 } },
      { op: 'Gemm', inputs: [x([3, 4]), w([4, 5]), { name: 'c', dims: [3, 1] }] },
      { op: 'Gemm', inputs: [x([3, 4]), w([4, 5])], attrs: { alpha: 1.5 } },
    ]);
  });

  it('Conv: pads, strides, dilations, bias, groups, depthwise, auto_pad, 1-D and 3-D', async () => {
    await check([
      { op: 'Conv', inputs: [x([1, 3, 7, 6]), w([4, 3, 3, 3]), bias([4])], attrs: { pads: [1, 0, 2, 1], strides: [2, 1] } },
      { op: 'Conv', inputs: [x([2, 4, 6, 6]), w([4, 1, 3, 3])], attrs: { group: 4, dilations: [2, 1] } },
      { op: 'Conv', inputs: [x([1, 4, 5, 5]), w([6, 2, 2, 2]), bias([6])], attrs: { group: 2, auto_pad: 'SAME_UPPER' } },
      { op: 'Conv', inputs: [x([1, 4, 9]), w([4, 2, 3])], attrs: { group: 2, strides: [2], auto_pad: 'SAME_LOWER' } },
      { op: 'Conv', inputs: [x([1, 2, 4, 5, 4]), w([3, 2, 2, 3, 2]), bias([3])], attrs: { pads: [1, 1, 0, 0, 1, 1] } },
      { op: 'Conv', inputs: [x([1, 4, 4, 5, 4]), w([4, 2, 2, 2, 2])], attrs: { group: 2, auto_pad: 'VALID' } },
    ]);
  });

  it('ConvTranspose: strides, pads, output_padding, output_shape, groups, dilations', async () => {
    await check([
      { op: 'ConvTranspose', inputs: [x([1, 2, 3, 4]), w([2, 3, 3, 3]), bias([3])], attrs: { strides: [2, 3], pads: [1, 0, 1, 2], output_padding: [1, 0] } },
      { op: 'ConvTranspose', inputs: [x([2, 4, 3, 3]), w([4, 2, 2, 2])], attrs: { group: 2, dilations: [2, 1] } },
      { op: 'ConvTranspose', inputs: [x([1, 2, 5]), w([2, 2, 3])], attrs: { strides: [2], output_shape: [10] } },
      { op: 'ConvTranspose', inputs: [x([1, 1, 4, 4]), w([1, 2, 2, 2])], attrs: { strides: [2, 2], pads: [3, 3, 3, 2] } },
    ]);
  });

  it('MaxPool / AveragePool / LpPool: pads, ceil_mode, dilations, indices', async () => {
    await check([
      { op: 'MaxPool', inputs: [x([1, 2, 7, 7])], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
      { op: 'MaxPool', inputs: [x([1, 2, 6, 5])], attrs: { kernel_shape: [2, 3], strides: [2, 1], pads: [0, 1, 1, 0] }, outputs: 2 },
      { op: 'MaxPool', inputs: [x([1, 1, 5, 4])], attrs: { kernel_shape: [2, 2], strides: [2, 2], storage_order: 1 }, outputs: 2 },
      { op: 'MaxPool', inputs: [x([1, 2, 5, 5, 5])], attrs: { kernel_shape: [2, 2, 2], dilations: [2, 1, 1] } },
      { op: 'AveragePool', inputs: [x([1, 2, 7, 7])], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
      { op: 'AveragePool', inputs: [x([1, 2, 6, 6])], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 } },
      { op: 'AveragePool', inputs: [x([1, 2, 8])], attrs: { kernel_shape: [3], strides: [2], auto_pad: 'SAME_UPPER' } },
      { op: 'AveragePool', inputs: [x([1, 1, 4, 5, 4])], attrs: { kernel_shape: [2, 2, 2], pads: [1, 0, 1, 0, 1, 0] } },
      { op: 'LpPool', inputs: [x([1, 2, 6, 6])], attrs: { kernel_shape: [2, 2], p: 3, strides: [2, 2] } },
      { op: 'LpPool', inputs: [x([1, 2, 6, 6])], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      // Input shorter than the window: onnxruntime still makes one window (integer division toward zero).
      { op: 'MaxPool', inputs: [x([1, 2, 1, 1])], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
      { op: 'AveragePool', inputs: [x([1, 2, 1, 3])], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
    ], 19);
  });

  it('global pools and MaxUnpool', async () => {
    await check([
      { op: 'GlobalAveragePool', inputs: [x([2, 3, 4, 5])] },
      { op: 'GlobalMaxPool', inputs: [x([2, 3, 4])] },
      { op: 'GlobalLpPool', inputs: [x([1, 3, 4, 4])], attrs: { p: 3 } },
      { op: 'MaxUnpool', inputs: [x([1, 2, 2, 2]), { name: 'i', dims: [1, 2, 2, 2], dataType: DataType.INT64, lo: 0, hi: 31 }], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
    ]);
  });

  it('BatchNormalization, InstanceNormalization and LRN', async () => {
    await check([
      {
        op: 'BatchNormalization',
        inputs: [x([2, 3, 4, 4]), { name: 's', dims: [3] }, bias([3]), { name: 'm', dims: [3] }, { name: 'v', dims: [3], lo: 0.5, hi: 2 }],
        attrs: { epsilon: 1e-3 },
      },
      { op: 'InstanceNormalization', inputs: [x([2, 3, 4, 5]), { name: 's', dims: [3] }, bias([3])] },
      { op: 'LRN', inputs: [x([2, 5, 3, 3])], attrs: { size: 3, alpha: 0.01, beta: 0.6, bias: 1.5 } },
      { op: 'LRN', inputs: [x([1, 6, 4, 2])], attrs: { size: 5 } },
    ]);
  });

  it('float16 inputs (accumulated in f32)', async () => {
    const H = DataType.FLOAT16;
    const b = new ModelBuilder({ opset: 17 });
    const feeds: Record<string, HostTensor> = {};
    const inp = (name: string, dims: number[], lo = -1, hi = 1) => {
      b.input(name, H, dims);
      feeds[name] = halfTensor(dims, Object.keys(feeds).length + 1, lo, hi);
      return name;
    };
    const outs = [
      ...b.node('MatMul', [inp('a', [2, 3, 16]), inp('bm', [16, 4])]),
      ...b.node('Conv', [inp('x', [1, 4, 6, 6]), inp('w', [4, 2, 3, 3]), inp('cb', [4])], { attrs: { group: 2, pads: [1, 1, 1, 1] } }),
      ...b.node('AveragePool', [inp('p', [1, 2, 5, 5])], { attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } }),
      ...b.node('BatchNormalization', [inp('bx', [1, 3, 2, 2]), inp('s', [3]), inp('bb', [3]), inp('m', [3]), inp('v', [3], 0.5, 2)]),
    ];
    outs.forEach((o) => b.output(o));
    await assertMatchesOrt(b.build(), feeds, { atol: HALF_TOLERANCE, rtol: HALF_TOLERANCE });
  });

  it('MatMulInteger, ConvInteger and QLinearConv', async () => {
    const u8 = (name: string, dims: number[]) => ({ name, dims, dataType: DataType.UINT8, lo: 0, hi: 200 });
    const i8 = (name: string, dims: number[]) => ({ name, dims, dataType: DataType.INT8, lo: -100, hi: 100 });
    const scale = (name: string, dims: number[]) => ({ name, dims, lo: 0.01, hi: 0.05 });
    await check([
      { op: 'MatMulInteger', inputs: [u8('a', [3, 4]), u8('b', [4, 2]), u8('az', []), u8('bz', [2])] },
      { op: 'MatMulInteger', inputs: [i8('a', [2, 3, 4]), i8('b', [4, 2])] },
      { op: 'ConvInteger', inputs: [u8('x', [1, 2, 5, 5]), u8('w', [3, 2, 2, 2]), u8('xz', [])], attrs: { pads: [1, 1, 0, 0] } },
      {
        op: 'QLinearConv',
        inputs: [u8('x', [1, 2, 5, 5]), scale('xs', []), u8('xz', []), u8('w', [3, 2, 3, 3]), scale('ws', [3]), u8('wz', []),
          scale('ys', []), u8('yz', []), { name: 'b', dims: [3], dataType: DataType.INT32, lo: -50, hi: 50 }],
        attrs: { pads: [1, 1, 1, 1] },
      },
    ]);
  });
});

describe('MaxUnpool with an output_shape larger than the unpooled shape', () => {
  it('places the unpooled tensor at the origin, as the ONNX reference does (onnxruntime differs)', async () => {
    // The indices address the 4x4 unpooled shape (k2 s2 of 2x2); the 5x5 output pads it at the end.
    const b = new ModelBuilder({ opset: 22 });
    const x = b.input('x', F, [1, 1, 2, 2]);
    const i = b.input('i', DataType.INT64, [1, 1, 2, 2]);
    const shape = b.initializer('shape', DataType.INT64, [4], [1, 1, 5, 5]);
    const [y] = b.node('MaxUnpool', [x, i, shape], { attrs: { kernel_shape: [2, 2], strides: [2, 2] }, outputs: ['y'] });
    b.output(y);
    const s = await createMlirSession(b.build(), { cacheDir: '' });
    try {
      const out = await s.run(new Map([['x', floatTensor([1, 1, 2, 2], [5, 6, 7, 8])], ['i', int64Tensor([1, 1, 2, 2], [5, 7, 13, 15])]]));
      assert.equal(s.report().fallbackNodes, 0);
      const got = out.get('y');
      assert.ok(got);
      assert.deepEqual(got.dims, [1, 1, 5, 5]);
      const want = new Array<number>(25).fill(0);
      [[6, 5], [8, 6], [16, 7], [18, 8]].forEach(([at, v]) => { want[at] = v; });
      assert.deepEqual(toFloats(got), want);
    } finally {
      await s.dispose();
    }
  });
});
