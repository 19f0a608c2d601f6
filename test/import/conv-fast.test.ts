// Differential tests of the fast 2-D float convolution forms: im2col +
// matmul for plain convolutions (codegen/schedules/conv-im2col.ts; 1×1
// reshapes, strided and dilated patches, shapes the matmul tiles do not
// divide, patches built per block of output rows) and the unrolled depthwise
// generic (import/depthwise-conv.ts; strides, dilations, 5×5 kernels, the
// flat form of stride-1 ones), and ConvTranspose with kernel = stride
// as matmul + pixel shuffle (import/conv-transpose-matmul.ts), with the
// BatchNorm / activation epilogues the OCR models put after them.
import { describe, it } from 'node:test';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, type AttrInput } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;

interface ConvCase {
  op?: 'Conv' | 'ConvTranspose';
  x: number[];
  w: number[];
  attrs?: Record<string, AttrInput>;
  bias?: boolean;
  /** Follow with BatchNormalization and HardSwish (the models' epilogue). */
  epilogue?: boolean;
}

function model(cases: ConvCase[]): { bytes: Uint8Array; feeds: Record<string, HostTensor> } {
  const b = new ModelBuilder({ opset: 17 });
  const feeds: Record<string, HostTensor> = {};
  let seed = 1;
  const input = (name: string, dims: number[], lo = -1, hi = 1) => {
    b.input(name, F, dims);
    feeds[name] = randomTensor(F, dims, seed++, lo, hi);
    return name;
  };
  cases.forEach((c, k) => {
    const ins = [input(`x${k}`, c.x), input(`w${k}`, c.w)];
    if (c.bias) ins.push(input(`b${k}`, [c.op === 'ConvTranspose' ? c.w[1] : c.w[0]]));
    let [y] = b.node(c.op ?? 'Conv', ins, { attrs: c.attrs });
    if (c.epilogue) {
      const m = c.op === 'ConvTranspose' ? c.w[1] : c.w[0];
      const bn = [input(`s${k}`, [m]), input(`o${k}`, [m]), input(`mu${k}`, [m]), input(`var${k}`, [m], 0.5, 2)];
      [y] = b.node('BatchNormalization', [y, ...bn]);
      [y] = b.node('HardSwish', [y]);
    }
    b.output(y);
  });
  return { bytes: b.build(), feeds };
}

describe('fast convolution forms match onnxruntime', () => {
  it('plain convolutions as im2col + matmul', async () => {
    const m = model([
      { x: [1, 8, 9, 37], w: [20, 8, 1, 1], bias: true, epilogue: true },
      { x: [1, 5, 10, 11], w: [7, 5, 1, 1], attrs: { strides: [2, 2] } },
      { x: [1, 3, 17, 19], w: [9, 3, 3, 3], attrs: { strides: [2, 2], pads: [1, 1, 1, 1] }, bias: true },
      { x: [1, 6, 12, 13], w: [70, 6, 3, 2], attrs: { dilations: [2, 3], pads: [2, 0, 1, 3] }, epilogue: true },
      { x: [1, 16, 20, 24], w: [33, 16, 5, 5], attrs: { pads: [2, 2, 2, 2] } },
    ]);
    await assertMatchesOrt(m.bytes, m.feeds);
  });

  // Patches bigger than one chunk: several blocks of output rows (and rows
  // that do not divide evenly into blocks of more than one), sequential and
  // as an OpenMP forall.
  const chunked = () => model([
    { x: [1, 96, 40, 40], w: [24, 96, 3, 3], attrs: { pads: [1, 1, 1, 1] }, bias: true, epilogue: true },
    { x: [1, 40, 37, 41], w: [16, 40, 3, 3], attrs: { strides: [2, 2], pads: [1, 0, 1, 1] } },
  ]);
  for (const threads of [1, 2]) {
    it(`im2col in blocks of output rows (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      const m = chunked();
      await assertMatchesOrt(m.bytes, m.feeds, { options: { threads } });
    });
  }

  it('stride-1 depthwise convolutions as flat rows over the padded image', async () => {
    const m = model([
      { x: [1, 24, 12, 12], w: [24, 1, 5, 5], attrs: { pads: [2, 2, 2, 2], group: 24 }, bias: true, epilogue: true },
      { x: [2, 5, 6, 13], w: [5, 1, 3, 3], attrs: { pads: [0, 2, 1, 1], group: 5 } },
      { x: [1, 3, 30, 33], w: [3, 1, 3, 3], attrs: { pads: [2, 2, 2, 2], dilations: [2, 2], group: 3 }, epilogue: true },
      { x: [1, 4, 7, 1], w: [4, 1, 3, 1], attrs: { pads: [1, 0, 1, 0], group: 4 } },
    ]);
    await assertMatchesOrt(m.bytes, m.feeds);
  });

  it('depthwise convolutions unrolled over the kernel taps', async () => {
    const m = model([
      { x: [1, 8, 25, 98], w: [8, 1, 3, 3], attrs: { strides: [2, 1], pads: [1, 1, 1, 1], group: 8 }, epilogue: true },
      { x: [1, 6, 19, 23], w: [6, 1, 5, 5], attrs: { strides: [2, 2], pads: [2, 2, 2, 2], group: 6 }, bias: true },
      { x: [2, 4, 9, 10], w: [4, 1, 3, 2], attrs: { dilations: [2, 3], group: 4 } },
    ]);
    await assertMatchesOrt(m.bytes, m.feeds);
  });

  it('ConvTranspose with kernel = stride as matmul + pixel shuffle', async () => {
    const m = model([
      { op: 'ConvTranspose', x: [1, 24, 10, 12], w: [24, 6, 2, 2], attrs: { strides: [2, 2] }, bias: true, epilogue: true },
      { op: 'ConvTranspose', x: [1, 5, 7, 3], w: [5, 1, 2, 3], attrs: { strides: [2, 3] }, bias: true },
      { op: 'ConvTranspose', x: [1, 4, 5, 5], w: [4, 3, 2, 2], attrs: { strides: [2, 2], pads: [1, 1, 0, 0] } },
    ]);
    await assertMatchesOrt(m.bytes, m.feeds);
  });
});
