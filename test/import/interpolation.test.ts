// Differential tests of the interpolating / sampling lowerings (Resize,
// Upsample, GridSample, AffineGrid, Col2Im, DeformConv, RoiAlign) against
// onnxruntime-node. Parameters come both as constants and as runtime inputs
// (then the output shape is the declared one), as exported models have them.
import { describe, it } from 'node:test';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, type AttrInput } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { assertMatchesOrt, floatTensor, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;
const I64 = DataType.INT64;

/** A runtime input with random contents in [lo, hi]. */
interface Fed { dims: number[]; dataType?: DataType; lo?: number; hi?: number }
/** A constant input (initializer). */
interface Init { init: readonly number[]; dims?: number[]; dataType?: DataType }
/** A runtime input with given contents. */
interface Given { given: readonly number[]; dims?: number[]; dataType?: DataType }
type Operand = Fed | Init | Given | '';

interface Case {
  op: string;
  inputs: Operand[];
  attrs?: Record<string, AttrInput>;
  /** Declared output shape (needed when it depends on runtime input values). */
  out?: number[];
}

function hostTensor(dataType: DataType, dims: number[], values: readonly number[]): HostTensor {
  if (dataType === F) return floatTensor(dims, [...values]);
  return { dataType, dims, data: new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer) };
}

function model(cases: readonly Case[], opset: number): { bytes: Uint8Array; feeds: Record<string, HostTensor> } {
  const b = new ModelBuilder({ opset });
  const feeds: Record<string, HostTensor> = {};
  let seed = 1;
  cases.forEach((c, k) => {
    const names = c.inputs.map((o, i) => {
      if (o === '') return '';
      const name = `in${k}_${i}`;
      if ('init' in o) return b.initializer(name, o.dataType ?? F, o.dims ?? [o.init.length], o.init);
      if ('given' in o) {
        const dims = o.dims ?? [o.given.length];
        b.input(name, o.dataType ?? F, dims);
        feeds[name] = hostTensor(o.dataType ?? F, dims, o.given);
        return name;
      }
      const dt = o.dataType ?? F;
      b.input(name, dt, o.dims);
      feeds[name] = randomTensor(dt, o.dims, seed++, o.lo ?? -1, o.hi ?? 1);
      return name;
    });
    const [y] = b.node(c.op, names, { attrs: c.attrs });
    b.output(y, c.out ? F : undefined, c.out);
  });
  return { bytes: b.build(), feeds };
}

async function check(cases: readonly Case[], opset: number): Promise<void> {
  const m = model(cases, opset);
  await assertMatchesOrt(m.bytes, m.feeds);
}

const x = (...dims: number[]): Fed => ({ dims });
const floats = (...v: number[]): Init => ({ init: v });
const ints = (...v: number[]): Init => ({ init: v, dataType: I64 });
const runtimeFloats = (...v: number[]): Given => ({ given: v });
const runtimeInts = (...v: number[]): Given => ({ given: v, dataType: I64 });

describe('interpolation lowerings match onnxruntime', () => {
  it('Resize-19: nearest modes, linear, cubic, coordinate modes (constant scales / sizes)', async () => {
    await check([
      { op: 'Resize', inputs: [x(1, 2, 3, 4), '', floats(1, 1, 2, 3)] },
      { op: 'Resize', inputs: [x(1, 2, 3, 4), '', floats(1, 1, 2.5, 1.5)], attrs: { coordinate_transformation_mode: 'asymmetric', nearest_mode: 'ceil' } },
      { op: 'Resize', inputs: [x(1, 1, 5, 7), '', floats(1, 1, 0.6, 0.8)], attrs: { mode: 'linear' } },
      { op: 'Resize', inputs: [x(1, 1, 4, 5), '', floats(1, 1, 1.7, 0.6)], attrs: { mode: 'linear', coordinate_transformation_mode: 'half_pixel_symmetric' } },
      { op: 'Resize', inputs: [x(2, 1, 4, 4), '', '', ints(2, 1, 7, 3)], attrs: { mode: 'cubic', cubic_coeff_a: -0.5, exclude_outside: 1 } },
      { op: 'Resize', inputs: [x(1, 1, 4, 6), '', '', ints(1, 1, 7, 4)], attrs: { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' } },
      { op: 'Resize', inputs: [x(1, 1, 4, 6), '', '', ints(1, 1, 7, 11)], attrs: { mode: 'cubic', coordinate_transformation_mode: 'align_corners' } },
      { op: 'Resize', inputs: [x(1, 1, 4, 6), '', '', ints(1, 1, 8, 3)], attrs: { coordinate_transformation_mode: 'align_corners', nearest_mode: 'floor' } },
    ], 19);
  });

  it('Resize-19: antialias, tf_crop_and_resize, axes and aspect-ratio policies', async () => {
    await check([
      { op: 'Resize', inputs: [x(1, 2, 8, 9), '', floats(1, 1, 0.5, 0.4)], attrs: { mode: 'linear', antialias: 1 } },
      { op: 'Resize', inputs: [x(1, 1, 8, 8), '', '', ints(1, 1, 3, 5)], attrs: { mode: 'cubic', antialias: 1 } },
      { op: 'Resize', inputs: [x(1, 1, 6, 6), floats(0, 0, 0.2, 0.1, 1, 1, 0.9, 1.2), '', ints(1, 1, 4, 5)], attrs: { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: 7.5 } },
      { op: 'Resize', inputs: [x(1, 1, 4, 6), '', '', ints(5, 3)], attrs: { axes: [3, 2], keep_aspect_ratio_policy: 'not_larger' } },
      { op: 'Resize', inputs: [x(1, 1, 4, 6), '', '', ints(3, 9)], attrs: { axes: [2, 3], keep_aspect_ratio_policy: 'not_smaller', mode: 'linear' } },
      { op: 'Resize', inputs: [x(2, 3, 4), '', floats(2, 0.5)], attrs: { axes: [2, 1], mode: 'linear' } },
    ], 19);
  });

  it('Resize-19 nearest upsampling by whole factors (asymmetric, floor: a broadcast copy)', async () => {
    await check([
      { op: 'Resize', inputs: [x(1, 3, 5, 7), '', floats(1, 1, 2, 2)], attrs: { coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' } },
      { op: 'Resize', inputs: [x(1, 2, 3, 4), '', floats(1, 1, 4, 3)], attrs: { coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' } },
      { op: 'Resize', inputs: [x(2, 3, 4), '', floats(2, 1, 8)], attrs: { coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' } },
      { op: 'Resize', inputs: [x(1, 2, 3, 4), '', '', ints(1, 2, 6, 8)], attrs: { coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' } },
      // A fractional factor on one axis keeps the general gather.
      { op: 'Resize', inputs: [x(1, 1, 4, 4), '', floats(1, 1, 2, 1.5)], attrs: { coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' } },
    ], 19);
  });

  it('Resize-19 with runtime scales, sizes and roi (declared output shapes)', async () => {
    await check([
      { op: 'Resize', inputs: [x(1, 1, 3, 4), '', runtimeFloats(1, 1, 2, 1.5)], out: [1, 1, 6, 6] },
      { op: 'Resize', inputs: [x(1, 1, 5, 7), '', runtimeFloats(1, 1, 0.6, 0.8)], attrs: { mode: 'linear' }, out: [1, 1, 3, 5] },
      { op: 'Resize', inputs: [x(1, 1, 8, 8), '', runtimeFloats(1, 1, 0.6, 0.4)], attrs: { mode: 'cubic', antialias: 1 }, out: [1, 1, 4, 3] },
      { op: 'Resize', inputs: [x(1, 1, 4, 6), '', '', runtimeInts(3, 9)], attrs: { axes: [2, 3], keep_aspect_ratio_policy: 'not_smaller', mode: 'linear' }, out: [1, 1, 6, 9] },
      { op: 'Resize', inputs: [x(1, 1, 4, 4), runtimeFloats(0.1, 0.2, 0.9, 0.7), '', runtimeInts(3, 3)], attrs: { axes: [2, 3], mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize' }, out: [1, 1, 3, 3] },
    ], 19);
  });

  it('Resize-10 and Upsample-9 (asymmetric, simple nearest rounding)', async () => {
    await check([
      { op: 'Resize', inputs: [x(1, 1, 4, 6), floats(1, 1, 0.5, 0.7)] },
      { op: 'Resize', inputs: [x(1, 1, 3, 4), floats(1, 1, 2, 1.5)], attrs: { mode: 'linear' } },
    ], 10);
    await check([
      { op: 'Upsample', inputs: [x(1, 2, 3, 3), floats(1, 1, 2, 3)] },
      { op: 'Upsample', inputs: [x(1, 1, 3, 4), runtimeFloats(1, 1, 2, 2)], attrs: { mode: 'linear' }, out: [1, 1, 6, 8] },
    ], 9);
  });

  it('GridSample-20: modes, padding modes, align_corners, 4-D and 5-D', async () => {
    const grid = (...dims: number[]): Fed => ({ dims, lo: -1.3, hi: 1.3 });
    const cases: Case[] = [];
    for (const mode of ['linear', 'nearest', 'cubic']) {
      for (const padding_mode of ['zeros', 'border', 'reflection']) {
        for (const align_corners of [0, 1]) {
          // The reference (followed here) moves an out-of-range coordinate inside before taking the cubic taps;
          // onnxruntime only pads each tap, which differs near the edges.
          if (mode === 'cubic' && padding_mode !== 'zeros') continue;
          cases.push({ op: 'GridSample', inputs: [x(2, 2, 4, 5), grid(2, 3, 6, 2)], attrs: { mode, padding_mode, align_corners } });
        }
      }
    }
    cases.push({ op: 'GridSample', inputs: [x(1, 2, 3, 4, 5), grid(1, 2, 3, 4, 3)], attrs: { mode: 'linear', padding_mode: 'border' } });
    cases.push({ op: 'GridSample', inputs: [x(1, 1, 3, 4, 5), grid(1, 2, 3, 4, 3)], attrs: { mode: 'nearest', align_corners: 1 } });
    await check(cases, 20);
  });

  it('AffineGrid-20: 2-D / 3-D, align_corners, constant and runtime size', async () => {
    await check([
      { op: 'AffineGrid', inputs: [x(2, 2, 3), ints(2, 3, 4, 5)] },
      { op: 'AffineGrid', inputs: [x(2, 2, 3), runtimeInts(2, 3, 4, 2)], attrs: { align_corners: 1 }, out: [2, 4, 2, 2] },
      { op: 'AffineGrid', inputs: [x(1, 3, 4), runtimeInts(1, 1, 2, 3, 4)], out: [1, 2, 3, 4, 3] },
    ], 20);
  });

  it('Col2Im-18: strides, pads, dilations, constant and runtime shapes', async () => {
    await check([
      { op: 'Col2Im', inputs: [x(2, 12, 12), ints(5, 5), ints(2, 3)] },
      { op: 'Col2Im', inputs: [x(1, 8, 9), runtimeInts(5, 5), runtimeInts(2, 2)], attrs: { strides: [2, 2], pads: [1, 1, 1, 1] }, out: [1, 2, 5, 5] },
      { op: 'Col2Im', inputs: [x(1, 4, 4), runtimeInts(5, 4), runtimeInts(2, 2)], attrs: { dilations: [3, 2] }, out: [1, 1, 5, 4] },
    ], 18);
  });

  it('DeformConv-19: mask, bias, groups, offset groups, pads, strides', async () => {
    const offset = (...dims: number[]): Fed => ({ dims, lo: -2, hi: 2 });
    await check([
      { op: 'DeformConv', inputs: [x(1, 2, 5, 5), x(3, 2, 3, 3), offset(1, 18, 3, 3), x(3), { dims: [1, 9, 3, 3], lo: 0, hi: 1 }] },
      { op: 'DeformConv', inputs: [x(2, 4, 5, 6), x(4, 2, 2, 2), offset(2, 16, 3, 4)], attrs: { group: 2, offset_group: 2, strides: [2, 2], pads: [1, 1, 0, 1] } },
    ], 19);
  });

  it('RoiAlign-16: avg / max, half_pixel / output_half_pixel', async () => {
    const rois = runtimeFloats(0, 0, 4, 4, 1.5, 2.2, 7.9, 6.1, -2, 3, 3, 9.5);
    const rois2d = { ...rois, dims: [3, 4] };
    const batch = runtimeInts(0, 1, 1);
    await check([
      { op: 'RoiAlign', inputs: [x(2, 2, 8, 8), rois2d, batch], attrs: { output_height: 3, output_width: 2, sampling_ratio: 2 } },
      { op: 'RoiAlign', inputs: [x(2, 2, 8, 8), rois2d, batch], attrs: { output_height: 2, output_width: 2, sampling_ratio: 1, spatial_scale: 0.5, coordinate_transformation_mode: 'output_half_pixel' } },
    ], 16);
  });
});
