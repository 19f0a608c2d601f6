// Shared pieces of the integer / quantized ops (MatMulInteger, ConvInteger,
// QLinearMatMul, QLinearConv): zero-point subtraction into i32 and the
// requantisation epilogue, with per-tensor or per-axis parameters.
import { DataType } from '../onnx/model.js';
import { isFloat } from '../ir/types.js';
import { Scalar, convertScalar } from '../codegen/scalar.js';
import type { FuncBuilder } from '../codegen/mlir-builder.js';
import { identityMap } from '../codegen/mlir-builder.js';
import { elemOf, scalarMap, typeOf, vectorMap, type Tensor } from '../codegen/tensor-ops.js';
import type { NodeContext } from './node-context.js';
import type { LowerContext } from './lower-context.js';

export const QUANT_TYPES: readonly DataType[] = [DataType.UINT8, DataType.INT8];

/** Representable range of the 8-bit quantized types. */
const QRANGE: Partial<Record<DataType, [number, number]>> = {
  [DataType.UINT8]: [0, 255],
  [DataType.INT8]: [-128, 127],
};

function numel(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/**
 * Checks that optional input `i` (a zero point or scale) is per-tensor or a
 * 1-D vector of `axisLen` elements; returns whether it is per-axis.
 */
export function checkQuantParam(ctx: NodeContext, i: number, axisLen: number | null, what: string): boolean {
  if (!ctx.has(i)) return false;
  const s = ctx.shape(i);
  if (numel(s) === 1) return false;
  if (axisLen !== null && s.length === 1 && s[0] === axisLen) return true;
  return ctx.unsupported(`${what} must be a scalar${axisLen !== null ? ` or have ${axisLen} elements` : ''}, got [${s.join(', ')}]`);
}

/** Input i as a Tensor (type from inference, SSA from the function). */
export function inputTensor(ctx: LowerContext, i: number): Tensor {
  return { value: ctx.input(i), dt: ctx.dtype(i), shape: ctx.shape(i) };
}

/** Map for a per-tensor or per-axis parameter read inside a rank-`rank` iteration space. */
export function paramMap(p: Tensor, rank: number, axis: number): string {
  return numel(p.shape) === 1 ? scalarMap(rank, p.shape.length) : vectorMap(rank, axis);
}

/** `t` widened to i32 with its zero point (per tensor, or per index of `axis`) subtracted. */
export function subtractZeroPoint(b: FuncBuilder, t: Tensor, zp: Tensor | null, axis: number): Tensor {
  const rank = t.shape.length;
  const out: Tensor = { value: '', dt: DataType.INT32, shape: t.shape };
  const inputs = [{ value: t.value, type: typeOf(t), map: identityMap(rank), elem: elemOf(t) }];
  if (zp) inputs.push({ value: zp.value, type: typeOf(zp), map: paramMap(zp, rank, axis), elem: elemOf(zp) });
  [out.value] = b.generic({
    inputs,
    outputs: [{ value: b.empty(typeOf(out)), type: typeOf(out), map: identityMap(rank), elem: 'i32' }],
    iterators: t.shape.map(() => 'parallel'),
    body: (bb, [x, z]) => {
      const wide = convertScalar(bb, x, t.dt, DataType.INT32);
      if (!zp) return [wide];
      return [new Scalar(bb, DataType.INT32).sub(wide, convertScalar(bb, z, zp.dt, DataType.INT32))];
    },
  });
  return out;
}

/** A scale or zero-point operand of the requantisation epilogue, read per tensor or along `axis`. */
export interface QuantOperand {
  t: Tensor;
  axis: number;
}

export interface Requant {
  /** i32 accumulator (bias already added). */
  acc: Tensor;
  /** Scales whose product multiplies the accumulator (x_scale, w_scale). */
  scales: QuantOperand[];
  yScale: Tensor;
  yZeroPoint: Tensor | null;
  outDt: DataType;
}

function toF32(b: FuncBuilder, v: string, dt: DataType): string {
  return convertScalar(b, v, dt, DataType.FLOAT);
}

/**
 * y = saturate(round_half_even(acc * (s0 * s1 / y_scale)) + y_zero_point),
 * computed in f32 as onnxruntime does.
 */
export function requantize(b: FuncBuilder, r: Requant): Tensor {
  const rank = r.acc.shape.length;
  const out: Tensor = { value: '', dt: r.outDt, shape: r.acc.shape };
  const params = [...r.scales, { t: r.yScale, axis: 0 }, ...(r.yZeroPoint ? [{ t: r.yZeroPoint, axis: 0 }] : [])];
  const [lo, hi] = QRANGE[r.outDt] ?? [0, 0];
  [out.value] = b.generic({
    inputs: [
      { value: r.acc.value, type: typeOf(r.acc), map: identityMap(rank), elem: 'i32' },
      ...params.map((p) => ({ value: p.t.value, type: typeOf(p.t), map: paramMap(p.t, rank, p.axis), elem: elemOf(p.t) })),
    ],
    outputs: [{ value: b.empty(typeOf(out)), type: typeOf(out), map: identityMap(rank), elem: elemOf(out) }],
    iterators: r.acc.shape.map(() => 'parallel'),
    body: (bb, args) => {
      const f = new Scalar(bb, DataType.FLOAT);
      const scaleArgs = args.slice(1, 1 + r.scales.length);
      let scale = scaleArgs.map((v, i) => toF32(bb, v, r.scales[i].t.dt)).reduce((p, v) => f.mul(p, v));
      scale = f.div(scale, toF32(bb, args[1 + r.scales.length], r.yScale.dt));
      let v = f.math('roundeven', f.mul(toF32(bb, args[0], DataType.INT32), scale));
      if (r.yZeroPoint) v = f.add(v, toF32(bb, args[2 + r.scales.length], r.yZeroPoint.dt));
      v = f.min(f.max(v, f.const(lo)), f.const(hi));
      return [convertScalar(bb, v, DataType.FLOAT, r.outDt)];
    },
  });
  return out;
}

/** Declines scale inputs that are not float. */
export function requireFloatScale(ctx: NodeContext, i: number): void {
  if (!isFloat(ctx.dtype(i))) ctx.unsupported(`scale input ${i} must be float`);
}
