// Shared machinery for reductions and normalisations: reduction masks from
// ONNX axes, identity elements, and linalg.generic emitters for "reduce into a
// keepdims-shaped accumulator" and "elementwise over explicitly mapped operands".
import { DataType } from '../onnx/model.js';
import { bitWidth, isFloat, isUnsignedInt } from '../ir/types.js';
import { affineMap, broadcastMap, elemType, floatLiteral, identityMap, tensorTypeOf, type FuncBuilder, type GenericOperand } from '../codegen/mlir-builder.js';
import { Scalar } from '../codegen/scalar.js';
import type { NodeContext } from './node-context.js';

/** A tensor SSA value with its static type. */
export interface TensorRef {
  value: string;
  dt: DataType;
  shape: number[];
}

/** A generic input: a tensor and the affine map reading it from the iteration space. */
export interface Operand {
  ref: TensorRef;
  map: string;
}

export function typeOf(t: TensorRef): string {
  return tensorTypeOf(t.dt, t.shape);
}

/** Half-precision floats accumulate in f32 so long sums keep their precision. */
export function accumulatorDtype(dt: DataType): DataType {
  return dt === DataType.FLOAT16 || dt === DataType.BFLOAT16 ? DataType.FLOAT : dt;
}

/** Normalises axes against `rank` into a per-dim mask, declining out-of-range or repeated axes. */
export function reducedMask(ctx: NodeContext, rank: number, axes: readonly number[]): boolean[] {
  const mask = new Array<boolean>(rank).fill(false);
  for (const a of axes) {
    const n = ctx.axis(a, rank);
    if (mask[n]) ctx.unsupported(`axis ${a} is repeated in axes [${axes.join(', ')}]`);
    mask[n] = true;
  }
  return mask;
}

/** Mask reducing every dim at and after `axis` (the coerce-to-2D ops of opset < 13). */
export function trailingMask(rank: number, axis: number): boolean[] {
  return Array.from({ length: rank }, (_, i) => i >= axis);
}

export function keptShape(shape: readonly number[], reduced: readonly boolean[]): number[] {
  return shape.map((d, i) => (reduced[i] ? 1 : d));
}

export function droppedShape(shape: readonly number[], reduced: readonly boolean[]): number[] {
  return shape.filter((_, i) => !reduced[i]);
}

/** Number of elements folded into each accumulator cell. */
export function reducedCount(shape: readonly number[], reduced: readonly boolean[]): number {
  return shape.reduce((n, d, i) => (reduced[i] ? n * d : n), 1);
}

/** Reads a tensor of `ref`'s shape broadcast into the iteration space `space`. */
export function broadcastRead(ref: TensorRef, space: readonly number[]): Operand {
  return { ref, map: broadcastMap(ref.shape, space) };
}

/**
 * Reads a keepdims-shaped tensor from the iteration space of the kept dims
 * only (the keepdims=0 output): reduced dims read index 0.
 */
export function squeezedRead(ref: TensorRef, reduced: readonly boolean[]): Operand {
  let k = 0;
  const results = reduced.map((r) => (r ? '0' : `d${k++}`));
  return { ref, map: affineMap(k, results) };
}

export type IdentityKind = 'zero' | 'one' | 'lowest' | 'highest';

/** Exact MLIR literal of an identity element of `dt` (integers as two's-complement bit patterns). */
export function identityLiteral(kind: IdentityKind, dt: DataType): string {
  const elem = elemType(dt);
  if (isFloat(dt)) {
    const v = { zero: 0, one: 1, lowest: -Infinity, highest: Infinity }[kind];
    return floatLiteral(v, elem);
  }
  // i1 literals are written as integers: 'true : i1' does not parse.
  if (dt === DataType.BOOL) return kind === 'one' || kind === 'highest' ? '-1' : '0';
  if (kind === 'zero') return '0';
  if (kind === 'one') return '1';
  const w = BigInt(bitWidth(dt));
  if (isUnsignedInt(dt)) return kind === 'lowest' ? '0' : '-1';
  const half = 1n << (w - 1n);
  return kind === 'lowest' ? (-half).toString() : (half - 1n).toString();
}

export function filled(b: FuncBuilder, literal: string, dt: DataType, shape: readonly number[]): TensorRef {
  const elem = elemType(dt);
  const c = b.constant(literal, elem);
  return { value: b.fill(c, elem, tensorTypeOf(dt, shape)), dt, shape: [...shape] };
}

function genericInput(o: Operand): GenericOperand {
  return { value: o.ref.value, type: typeOf(o.ref), map: o.map, elem: elemType(o.ref.dt) };
}

/** Map writing the keepdims accumulator from the full iteration space. */
export function keepdimsMap(reduced: readonly boolean[]): string {
  return affineMap(reduced.length, reduced.map((r, i) => (r ? '0' : `d${i}`)));
}

export interface ReduceSpec {
  /** Iteration space (the shape being reduced). */
  space: number[];
  reduced: boolean[];
  inputs: Operand[];
  accDt: DataType;
  identity: IdentityKind;
  /** New accumulator from the input scalars and the old accumulator. */
  step: (b: FuncBuilder, args: string[], acc: string) => string;
}

/** Reduces into a keepdims-shaped accumulator initialised with the identity. */
export function reduceGeneric(b: FuncBuilder, spec: ReduceSpec): TensorRef {
  const acc = filled(b, identityLiteral(spec.identity, spec.accDt), spec.accDt, keptShape(spec.space, spec.reduced));
  const [value] = b.generic({
    inputs: spec.inputs.map(genericInput),
    outputs: [{ value: acc.value, type: typeOf(acc), map: keepdimsMap(spec.reduced), elem: elemType(acc.dt) }],
    iterators: spec.reduced.map((r) => (r ? 'reduction' : 'parallel')),
    body: (fb, args) => [spec.step(fb, args.slice(0, spec.inputs.length), args[spec.inputs.length])],
  });
  return { ...acc, value };
}

/** An elementwise generic over `shape` reading explicitly mapped operands. */
export function mapGeneric(b: FuncBuilder, dt: DataType, shape: readonly number[], inputs: Operand[], body: (b: FuncBuilder, args: string[]) => string): TensorRef {
  const type = tensorTypeOf(dt, shape);
  const init = b.empty(type);
  const [value] = b.generic({
    inputs: inputs.map(genericInput),
    outputs: [{ value: init, type, map: identityMap(shape.length), elem: elemType(dt) }],
    iterators: shape.map(() => 'parallel'),
    body: (fb, args) => [body(fb, args.slice(0, inputs.length))],
  });
  return { value, dt, shape: [...shape] };
}

/** `linalg.index` of loop `dim` as an i64 scalar (for index outputs). */
export function loopIndexI64(b: FuncBuilder, dim: number): string {
  const i = b.op(`linalg.index ${dim} : index`);
  return b.op(`arith.index_cast ${i} : index to i64`);
}

/** Map writing a reduced result without the reduced dims (keepdims=0). */
export function droppedMap(reduced: readonly boolean[]): string {
  return affineMap(reduced.length, reduced.flatMap((r, i) => (r ? [] : [`d${i}`])));
}

export interface ArgReduceSpec {
  x: TensorRef;
  reduced: boolean[];
  /** ArgMax (true) or ArgMin (false). */
  largest: boolean;
  /** On ties keep the last index rather than the first. */
  selectLast: boolean;
  keepdims: boolean;
}

/** Row-major linear index over the reduced loops, as an i64 scalar. */
export function reducedLinearIndex(b: FuncBuilder, shape: readonly number[], reduced: readonly boolean[]): string {
  let linear: string | null = null;
  for (let d = 0; d < shape.length; d++) {
    if (!reduced[d]) continue;
    const i = loopIndexI64(b, d);
    linear = linear === null ? i : b.op(`arith.addi ${b.op(`arith.muli ${linear}, ${b.constant(String(shape[d]), 'i64')} : i64`)}, ${i} : i64`);
  }
  return linear ?? b.constant('0', 'i64');
}

/**
 * Index (i64, linear over the reduced dims in row-major order) of the max or
 * min element. Loops run in row-major order, so a strict comparison keeps the
 * first extreme and a non-strict one the last.
 */
export function argReduce(b: FuncBuilder, spec: ArgReduceSpec): TensorRef {
  const { x, reduced } = spec;
  const kept = keptShape(x.shape, reduced);
  const outShape = spec.keepdims ? kept : droppedShape(x.shape, reduced);
  const best = filled(b, identityLiteral(spec.largest ? 'lowest' : 'highest', x.dt), x.dt, outShape);
  const index = filled(b, '0', DataType.INT64, outShape);
  const outMap = spec.keepdims ? keepdimsMap(reduced) : droppedMap(reduced);
  const elem = elemType(x.dt);
  const pred = spec.largest ? (spec.selectLast ? 'ge' : 'gt') : (spec.selectLast ? 'le' : 'lt');
  const [, idx] = b.generic({
    inputs: [genericInput(broadcastRead(x, x.shape))],
    outputs: [
      { value: best.value, type: typeOf(best), map: outMap, elem },
      { value: index.value, type: typeOf(index), map: outMap, elem: 'i64' },
    ],
    iterators: reduced.map((r) => (r ? 'reduction' : 'parallel')),
    body: (fb, [v, accV, accI]) => {
      const s = new Scalar(fb, x.dt);
      const take = s.cmp(pred, v, accV);
      const i = reducedLinearIndex(fb, x.shape, reduced);
      return [s.select(take, v, accV), fb.op(`arith.select ${take}, ${i}, ${accI} : i64`)];
    },
  });
  return { value: idx, dt: DataType.INT64, shape: outShape };
}
