// Scalar pieces shared by the interpolating ops (Resize, GridSample,
// RoiAlign, DeformConv): index <-> float conversions, clamped integer
// coordinates and the interpolation kernels, emitted inside linalg bodies.
import { DataType } from '../onnx/model.js';
import type { FuncBuilder } from '../codegen/mlir-builder.js';
import { Scalar } from '../codegen/scalar.js';

/** Float type interpolation arithmetic runs in: double for double data, else float. */
export function computeDtype(dt: DataType): DataType {
  return dt === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
}

/** An index value as a float of `s`'s type. */
export function indexToFloat(s: Scalar, idx: string): string {
  const i = s.b.op(`arith.index_cast ${idx} : index to i64`);
  return s.b.op(`arith.sitofp ${i} : i64 to ${s.elem}`);
}

/** linalg.index `dim` as a float. */
export function loopCoord(s: Scalar, dim: number): string {
  return indexToFloat(s, s.b.op(`linalg.index ${dim} : index`));
}

/** A float holding an integer value (after floor/ceil) as an index, clamped into [0, n-1]. */
export function clampedIndex(s: Scalar, v: string, n: number): string {
  const b = s.b;
  const i = b.op(`arith.fptosi ${v} : ${s.elem} to i64`);
  const lo = b.op(`arith.maxsi ${i}, ${b.constant('0', 'i64')} : i64`);
  const hi = b.op(`arith.minsi ${lo}, ${b.constant(String(n - 1), 'i64')} : i64`);
  return b.op(`arith.index_cast ${hi} : i64 to index`);
}

/** i64 table entry to index. */
export function i64ToIndex(b: FuncBuilder, v: string): string {
  return b.op(`arith.index_cast ${v} : i64 to index`);
}

/** Whether float `v` lies in [lo, hi] (false for NaN). */
export function inRange(s: Scalar, v: string, lo: number, hi: number): string {
  const a = s.cmp('ge', v, s.const(lo));
  const c = s.cmp('le', v, s.const(hi));
  return s.b.op(`arith.andi ${a}, ${c} : i1`);
}

export function and(b: FuncBuilder, conds: readonly string[]): string | null {
  if (conds.length === 0) return null;
  return conds.reduce((x, y) => b.op(`arith.andi ${x}, ${y} : i1`));
}

/**
 * Keys' cubic convolution kernel W(|t|) with coefficient A (ONNX Resize's
 * cubic_coeff_a; GridSample uses -0.75): zero for |t| >= 2.
 */
export function cubicKernel(s: Scalar, t: string, a: number): string {
  const x = s.abs(t);
  const x2 = s.mul(x, x);
  const x3 = s.mul(x2, x);
  // |x| <= 1: (A+2)x^3 - (A+3)x^2 + 1
  const near = s.add(s.sub(s.mul(s.const(a + 2), x3), s.mul(s.const(a + 3), x2)), s.one());
  // 1 < |x| < 2: A x^3 - 5A x^2 + 8A x - 4A
  const far = s.sub(s.add(s.sub(s.mul(s.const(a), x3), s.mul(s.const(5 * a), x2)), s.mul(s.const(8 * a), x)), s.const(4 * a));
  const outside = s.select(s.cmp('lt', x, s.const(2)), far, s.zero());
  return s.select(s.cmp('le', x, s.one()), near, outside);
}

/** The triangle (linear interpolation) kernel max(0, 1 - |t|). */
export function linearKernel(s: Scalar, t: string): string {
  return s.max(s.sub(s.one(), s.abs(t)), s.zero());
}
