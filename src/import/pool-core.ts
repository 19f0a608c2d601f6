// Sliding-window reductions for the pooling ops: named linalg pooling ops for
// 1-D / 2-D windows, a linalg.generic with reduction iterators otherwise
// (3-D, unsigned max, argmax), plus padding values and average-pool divisors.
import { DataType } from '../onnx/model.js';
import { isFloat, isUnsignedInt } from '../ir/types.js';
import { Scalar, convertScalar } from '../codegen/scalar.js';
import type { FuncBuilder } from '../codegen/mlir-builder.js';
import { affineMap, elemType, identityMap, tensorTypeOf } from '../codegen/mlir-builder.js';
import { denseI64, elemOf, filled, typeOf, type Tensor } from '../codegen/tensor-ops.js';
import type { Window } from './window.js';

export type PoolKind = 'max' | 'sum';

const NAMED_POOL: Record<PoolKind, Record<number, string>> = {
  max: { 1: 'pooling_ncw_max', 2: 'pooling_nchw_max' },
  sum: { 1: 'pooling_ncw_sum', 2: 'pooling_nchw_sum' },
};

/** Smallest value of a dtype: the identity of max and the pad value of max pooling. */
export function lowestValue(dt: DataType): number {
  if (isFloat(dt)) return -Infinity;
  if (isUnsignedInt(dt)) return 0;
  const bits: Partial<Record<DataType, number>> = { [DataType.INT8]: 8, [DataType.INT16]: 16, [DataType.INT32]: 32, [DataType.INT64]: 64 };
  return -(2 ** ((bits[dt] ?? 32) - 1));
}

function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

/** Iteration space (n, c, o..., k...) of a window reduction and its operand maps. */
export function windowMaps(w: Window): { dims: number; input: string; kernel: string; output: string } {
  const r = w.kernel.length;
  const dims = 2 + 2 * r;
  const input = affineMap(dims, ['d0', 'd1', ...range(r).map((i) => `d${2 + i} * ${w.strides[i]} + d${2 + r + i} * ${w.dilations[i]}`)]);
  return {
    dims,
    input,
    kernel: affineMap(dims, range(r).map((i) => `d${2 + r + i}`)),
    output: affineMap(dims, ['d0', 'd1', ...range(r).map((i) => `d${2 + i}`)]),
  };
}

/** The shape-only kernel operand pooling ops take (its values are never read). */
function kernelOperand(b: FuncBuilder, w: Window, dt: DataType): Tensor {
  const type = tensorTypeOf(dt, w.kernel);
  return { value: b.empty(type), dt, shape: w.kernel };
}

/**
 * Reduces every window of the padded input `x` into `init` ([N, C, ...out]),
 * with max or sum; the accumulator dtype may be wider than x's (sum of f16).
 */
export function poolReduce(b: FuncBuilder, x: Tensor, w: Window, init: Tensor, kind: PoolKind): Tensor {
  const r = w.kernel.length;
  const k = kernelOperand(b, w, x.dt);
  const named = NAMED_POOL[kind][r];
  if (named && !isUnsignedInt(x.dt)) {
    const attrs = `{dilations = ${denseI64(w.dilations)}, strides = ${denseI64(w.strides)}}`;
    const value = b.op(`linalg.${named} ${attrs} ins(${x.value}, ${k.value} : ${typeOf(x)}, ${typeOf(k)}) outs(${init.value} : ${typeOf(init)}) -> ${typeOf(init)}`, 'pl');
    return { ...init, value };
  }
  const maps = windowMaps(w);
  const [value] = b.generic({
    inputs: [
      { value: x.value, type: typeOf(x), map: maps.input, elem: elemOf(x) },
      { value: k.value, type: typeOf(k), map: maps.kernel, elem: elemOf(k) },
    ],
    outputs: [{ value: init.value, type: typeOf(init), map: maps.output, elem: elemOf(init) }],
    iterators: [...range(2 + r).map(() => 'parallel' as const), ...range(r).map(() => 'reduction' as const)],
    body: (bb, [v, , acc]) => {
      const s = new Scalar(bb, init.dt);
      const wide = x.dt === init.dt ? v : bb.op(`arith.extf ${v} : ${elemType(x.dt)} to ${s.elem}`);
      return [kind === 'max' ? s.max(acc, wide) : s.add(acc, wide)];
    },
  });
  return { ...init, value };
}

/** An accumulator [N, C, ...out] filled with the identity of `kind`. */
export function poolInit(b: FuncBuilder, dt: DataType, shape: number[], kind: PoolKind): Tensor {
  const s = new Scalar(b, dt);
  return filled(b, dt, shape, kind === 'max' ? s.const(lowestValue(dt)) : s.zero());
}

/**
 * Elements each output position of one spatial dim averages over: window
 * positions inside [lo, hi) of the unpadded input's coordinates.
 */
export function windowCounts(w: Window, i: number, lo: number, hi: number): number[] {
  return range(w.out[i]).map((o) => {
    const start = o * w.strides[i] - w.padBegin[i];
    return range(w.kernel[i]).filter((j) => {
      const p = start + j * w.dilations[i];
      return p >= lo && p < hi;
    }).length;
  });
}

export type Combine = (s: Scalar, acc: string, v: string, extras: string[]) => string;

/**
 * Reduces all dims after the first two of `x` into [N, C] in `accDt`, starting
 * from `initValue`; `extras` are [N, C] tensors the combine step also reads.
 */
export function reduceToChannels(b: FuncBuilder, x: Tensor, accDt: DataType, initValue: number, combine: Combine, extras: Tensor[] = []): Tensor {
  const rank = x.shape.length;
  const init = filled(b, accDt, x.shape.slice(0, 2), new Scalar(b, accDt).const(initValue));
  const channelMap = affineMap(rank, ['d0', 'd1']);
  const [value] = b.generic({
    inputs: [
      { value: x.value, type: typeOf(x), map: identityMap(rank), elem: elemOf(x) },
      ...extras.map((e) => ({ value: e.value, type: typeOf(e), map: channelMap, elem: elemOf(e) })),
    ],
    outputs: [{ value: init.value, type: typeOf(init), map: channelMap, elem: elemOf(init) }],
    iterators: range(rank).map((i) => (i < 2 ? 'parallel' : 'reduction')),
    body: (bb, args) => {
      const v = convertScalar(bb, args[0], x.dt, accDt);
      return [combine(new Scalar(bb, accDt), args[args.length - 1], v, args.slice(1, 1 + extras.length))];
    },
  });
  return { ...init, value };
}
