// The convolution contraction itself, on an already padded NC... input:
// named linalg conv ops for plain (group 1) and depthwise convolutions of
// rank 1-3 and for 2-D grouped ones, a grouped linalg.generic otherwise.
// Shared by Conv, ConvInteger, QLinearConv and ConvTranspose.
import type { DataType } from '../onnx/model.js';
import { Scalar, convertScalar } from '../codegen/scalar.js';
import type { FuncBuilder } from '../codegen/mlir-builder.js';
import { affineMap, identityMap } from '../codegen/mlir-builder.js';
import {
  collapseShape, denseI64, dropUnitDims, elemOf, expandShape, typeOf, vectorMap, type Tensor,
} from '../codegen/tensor-ops.js';
import { zeroAccumulator } from './contraction.js';
import { depthwiseUnrolled, unrolledDepthwiseApplies } from './depthwise-conv.js';

export interface ConvSpec {
  /** Padded input [N, C, ...spatial]. */
  x: Tensor;
  /** Weights [M, C/group, ...kernel]. */
  w: Tensor;
  /** Output spatial sizes. */
  out: number[];
  strides: number[];
  dilations: number[];
  group: number;
  accDt: DataType;
}

const PLAIN_CONV: Record<number, string> = { 1: 'conv_1d_ncw_fcw', 2: 'conv_2d_nchw_fchw', 3: 'conv_3d_ncdhw_fcdhw' };
const DEPTHWISE_CONV: Record<number, string> = { 1: 'depthwise_conv_1d_ncw_cw', 2: 'depthwise_conv_2d_nchw_chw', 3: 'depthwise_conv_3d_ncdhw_cdhw' };

function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

function namedConv(b: FuncBuilder, op: string, s: ConvSpec, x: Tensor, w: Tensor, acc: Tensor): Tensor {
  const attrs = `{dilations = ${denseI64(s.dilations)}, strides = ${denseI64(s.strides)}}`;
  const value = b.op(`linalg.${op} ${attrs} ins(${x.value}, ${w.value} : ${typeOf(x)}, ${typeOf(w)}) outs(${acc.value} : ${typeOf(acc)}) -> ${typeOf(acc)}`, 'cv');
  return { value, dt: acc.dt, shape: acc.shape };
}

/** Emits the convolution; returns the accumulator [N, M, ...out] in `accDt`. */
export function emitConv(b: FuncBuilder, s: ConvSpec): Tensor {
  const r = s.out.length;
  const [n, c] = s.x.shape;
  const m = s.w.shape[0];
  const outShape = [n, m, ...s.out];
  if (s.group === 1 && PLAIN_CONV[r]) {
    return namedConv(b, PLAIN_CONV[r], s, s.x, s.w, zeroAccumulator(b, s.accDt, outShape));
  }
  if (s.group === c && m === c && DEPTHWISE_CONV[r]) {
    const w = dropUnitDims(b, s.w, [1]);
    if (unrolledDepthwiseApplies(s, w)) return depthwiseUnrolled(b, s, w);
    return namedConv(b, DEPTHWISE_CONV[r], s, s.x, w, zeroAccumulator(b, s.accDt, outShape));
  }
  const g = s.group;
  const xg = expandShape(b, s.x, [[0], [1, 2], ...range(r, 2).map((i) => [i + 1])], [n, g, c / g, ...s.x.shape.slice(2)]);
  const wg = expandShape(b, s.w, [[0, 1], ...range(r + 1, 1).map((i) => [i + 1])], [g, m / g, ...s.w.shape.slice(1)]);
  const accShape = [n, g, m / g, ...s.out];
  const acc = zeroAccumulator(b, s.accDt, accShape);
  const y = r === 2
    ? namedConv(b, 'conv_2d_ngchw_gfchw', s, xg, wg, acc)
    : genericGroupedConv(b, s, xg, wg, acc);
  return collapseShape(b, y, [[0], [1, 2], ...range(r, 3).map((i) => [i])]);
}

/**
 * Grouped convolution as a linalg.generic over (n, g, m, o..., c, k...):
 * x[n, g, c, o*s + k*d] * w[g, m, c, k] accumulated into y[n, g, m, o].
 */
function genericGroupedConv(b: FuncBuilder, s: ConvSpec, x: Tensor, w: Tensor, acc: Tensor): Tensor {
  const r = s.out.length;
  const dims = 3 + r + 1 + r;
  const o = (i: number) => `d${3 + i}`;
  const cDim = `d${3 + r}`;
  const k = (i: number) => `d${4 + r + i}`;
  const xMap = affineMap(dims, ['d0', 'd1', cDim, ...range(r).map((i) => `${o(i)} * ${s.strides[i]} + ${k(i)} * ${s.dilations[i]}`)]);
  const wMap = affineMap(dims, ['d1', 'd2', cDim, ...range(r).map(k)]);
  const yMap = affineMap(dims, ['d0', 'd1', 'd2', ...range(r).map(o)]);
  const [value] = b.generic({
    inputs: [
      { value: x.value, type: typeOf(x), map: xMap, elem: elemOf(x) },
      { value: w.value, type: typeOf(w), map: wMap, elem: elemOf(w) },
    ],
    outputs: [{ value: acc.value, type: typeOf(acc), map: yMap, elem: elemOf(acc) }],
    iterators: [...range(3 + r).map(() => 'parallel' as const), ...range(1 + r).map(() => 'reduction' as const)],
    body: (bb, [xv, wv, yv]) => {
      const sc = new Scalar(bb, acc.dt);
      return [sc.add(yv, sc.mul(convertScalar(bb, xv, x.dt, acc.dt), convertScalar(bb, wv, w.dt, acc.dt)))];
    },
  });
  return { value, dt: acc.dt, shape: acc.shape };
}

/**
 * y = acc + bias[channel] (bias optional), converted to `outDt`; the
 * identity when there is neither a bias nor a dtype change.
 */
export function biasEpilogue(b: FuncBuilder, acc: Tensor, bias: Tensor | null, outDt: DataType): Tensor {
  if (!bias && acc.dt === outDt) return acc;
  const rank = acc.shape.length;
  const out: Tensor = { value: '', dt: outDt, shape: acc.shape };
  const inputs = [{ value: acc.value, type: typeOf(acc), map: identityMap(rank), elem: elemOf(acc) }];
  if (bias) inputs.push({ value: bias.value, type: typeOf(bias), map: vectorMap(rank, 1), elem: elemOf(bias) });
  [out.value] = b.generic({
    inputs,
    outputs: [{ value: b.empty(typeOf(out)), type: typeOf(out), map: identityMap(rank), elem: elemOf(out) }],
    iterators: acc.shape.map(() => 'parallel'),
    body: (bb, [v, bv]) => {
      const sum = bias ? new Scalar(bb, acc.dt).add(v, convertScalar(bb, bv, bias.dt, acc.dt)) : v;
      return [convertScalar(bb, sum, acc.dt, outDt)];
    },
  });
  return out;
}
