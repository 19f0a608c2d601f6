// ConvTranspose as a stride-1 convolution: the input is dilated by the
// stride and zero-padded (one strided placement into a zero tensor), the weights
// are flipped spatially and regrouped to [M, C/group, k...], and the shared
// conv contraction (named linalg ops) does the work. Negative effective
// padding (pads larger than the kernel extent) is handled by cropping.
import { DataType } from '../../onnx/model.js';
import { blockTranspose, isBlockTranspose } from '../conv-transpose-matmul.js';
import { Scalar } from '../../codegen/scalar.js';
import { affineMap, identityMap } from '../../codegen/mlir-builder.js';
import type { FuncBuilder } from '../../codegen/mlir-builder.js';
import {
  collapseShape, elemOf, expandShape, extractSlice, padTensor, placeStrided, typeOf, type Tensor,
} from '../../codegen/tensor-ops.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import { accumulatorDtype } from '../contraction.js';
import { biasEpilogue, emitConv } from '../conv-core.js';
import { autoPad, dilatedExtent, explicitPads, kernelShape, spatialInts } from '../window.js';
import { inputTensor } from '../quant.js';

const CONV_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];

interface TransposeGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Logical begin padding (cropped from the full transposed output). */
  padBegin: number[];
  out: number[];
  group: number;
  m: number;
}

/** Begin padding for a `total` that is split between both ends (ONNX spec rule). */
function splitBegin(total: number, upper: boolean): number {
  if (total <= 0) return 0;
  const half = Math.floor(total / 2);
  return upper ? half : total - half;
}

function geometry(ctx: NodeContext): TransposeGeometry {
  const x = ctx.shape(0);
  const w = ctx.shape(1);
  const r = x.length - 2;
  if (r < 1) ctx.unsupported(`ConvTranspose input must have rank >= 3, got ${x.length}`);
  if (w.length !== x.length) ctx.unsupported('ConvTranspose weight rank must equal input rank');
  const group = ctx.int('group', 1);
  if (group < 1 || w[0] !== x[1] || x[1] % group !== 0) ctx.unsupported(`ConvTranspose channels do not fit group ${group}`);
  const kernel = kernelShape(ctx, r, w.slice(2));
  const strides = spatialInts(ctx, 'strides', r, 1);
  const dilations = spatialInts(ctx, 'dilations', r, 1);
  const outPad = spatialInts(ctx, 'output_padding', r, 0);
  const pads = explicitPads(ctx, r);
  const mode = autoPad(ctx);
  const shapeAttr = ctx.optionalInts('output_shape');
  const requested = shapeAttr && shapeAttr.length > 0 ? (shapeAttr.length === r + 2 ? shapeAttr.slice(2) : shapeAttr) : null;
  if (requested && requested.length !== r) ctx.unsupported(`output_shape has ${requested.length} dims, expected ${r}`);
  const padBegin: number[] = [];
  const out: number[] = [];
  x.slice(2).forEach((len, i) => {
    const full = strides[i] * (len - 1) + outPad[i] + dilatedExtent(kernel[i], dilations[i]);
    if (requested || mode === 'SAME_UPPER' || mode === 'SAME_LOWER') {
      const o = requested ? requested[i] : len * strides[i];
      out.push(o);
      padBegin.push(splitBegin(full - o, mode === 'SAME_UPPER'));
    } else {
      const [pb, pe] = mode === 'VALID' ? [0, 0] : [pads.begin[i], pads.end[i]];
      out.push(full - pb - pe);
      padBegin.push(pb);
    }
  });
  if (out.some((o) => o < 1)) ctx.unsupported(`ConvTranspose output size [${out.join(', ')}] is empty`);
  if (strides.some((s) => s < 1) || dilations.some((d) => d < 1)) ctx.unsupported('strides and dilations must be positive');
  return { kernel, strides, dilations, padBegin, out, group, m: w[1] * group };
}

/** Weights [C, M/g, k...] → [M, C/g, k...], spatially flipped, for the equivalent conv. */
function flipWeights(b: FuncBuilder, w: Tensor, group: number): Tensor {
  const [c, mg, ...k] = w.shape;
  const r = k.length;
  const cg = c / group;
  const src = expandShape(b, w, [[0, 1], ...k.concat(0).map((_, i) => [i + 2])], [group, cg, mg, ...k]);
  const outShape = [group, mg, cg, ...k];
  const out: Tensor = { value: '', dt: w.dt, shape: outShape };
  const dims = 3 + r;
  const flipped = k.map((kk, i) => `-d${3 + i} + ${kk - 1}`);
  [out.value] = b.generic({
    inputs: [{ value: src.value, type: typeOf(src), map: affineMap(dims, ['d0', 'd2', 'd1', ...flipped]), elem: elemOf(src) }],
    outputs: [{ value: b.empty(typeOf(out)), type: typeOf(out), map: identityMap(dims), elem: elemOf(out) }],
    iterators: outShape.map(() => 'parallel'),
    body: (_bb, [v]) => [v],
  });
  return collapseShape(b, out, [[0, 1], ...k.concat(0).map((_, i) => [i + 2])]);
}

/**
 * The input dilated by the strides inside a zero tensor, with `lo` zeros
 * before and enough after for `convOut` stride-1 windows.
 */
function dilatedInput(b: FuncBuilder, x: Tensor, g: TransposeGeometry, lo: number[], convOut: number[]): Tensor {
  const spatial = x.shape.slice(2);
  const hi = spatial.map((len, i) => {
    const used = lo[i] + (len - 1) * g.strides[i] + 1;
    return Math.max(0, convOut[i] - 1 + dilatedExtent(g.kernel[i], g.dilations[i]) - used);
  });
  const zero = new Scalar(b, x.dt).zero();
  if (g.strides.every((s) => s === 1)) return padTensor(b, x, [0, 0, ...lo], [0, 0, ...hi], zero);
  const shape = [x.shape[0], x.shape[1], ...spatial.map((len, i) => lo[i] + (len - 1) * g.strides[i] + 1 + hi[i])];
  return placeStrided(b, x, shape, [0, 0, ...lo], [1, 1, ...g.strides], zero);
}

registerOp({
  domain: '', op: 'ConvTranspose', since: 1,
  infer: (ctx) => {
    const dt = ctx.requireDtype(0, CONV_TYPES);
    if (ctx.dtype(1) !== dt) ctx.unsupported('ConvTranspose X and W dtypes differ');
    const g = geometry(ctx);
    if (ctx.has(2)) {
      const bs = ctx.shape(2);
      if (bs.length !== 1 || bs[0] !== g.m || ctx.dtype(2) !== dt) ctx.unsupported(`bias must be [${g.m}] of the input dtype`);
    }
    return [{ dataType: dt, shape: [ctx.shape(0)[0], g.m, ...g.out] }];
  },
  lower: (ctx) => {
    const g = geometry(ctx);
    const dt = ctx.dtype(0);
    const x = inputTensor(ctx, 0);
    const block = { x, w: inputTensor(ctx, 1), ...g, accDt: accumulatorDtype(dt) };
    if (isBlockTranspose(block)) return [biasEpilogue(ctx.b, blockTranspose(ctx.b, block), ctx.has(2) ? inputTensor(ctx, 2) : null, dt).value];
    // Full-output index f = o + padBegin reads the dilated input from offset extent-1-padBegin.
    const lo = g.kernel.map((k, i) => dilatedExtent(k, g.dilations[i]) - 1 - g.padBegin[i]);
    const crop = lo.map((v) => Math.max(0, -v));
    const convOut = g.out.map((o, i) => o + crop[i]);
    const acc = emitConv(ctx.b, {
      x: dilatedInput(ctx.b, x, g, lo.map((v) => Math.max(0, v)), convOut),
      w: flipWeights(ctx.b, inputTensor(ctx, 1), g.group),
      out: convOut,
      strides: g.out.map(() => 1),
      dilations: g.dilations,
      group: g.group,
      accDt: accumulatorDtype(dt),
    });
    const [n, m] = acc.shape;
    const cropped = extractSlice(ctx.b, acc, [0, 0, ...crop], [n, m, ...g.out]);
    return [biasEpilogue(ctx.b, cropped, ctx.has(2) ? inputTensor(ctx, 2) : null, dt).value];
  },
});
