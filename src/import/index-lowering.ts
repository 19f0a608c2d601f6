// Shared lowering pieces for data-movement ops: reshapes as collapse/expand
// pairs, index arithmetic inside linalg bodies (negative-index normalisation
// and clamping), literals from constant tensors, and scf.for nests for
// scatter-style updates.
import { DataType, elementCount, type OnnxTensor } from '../onnx/model.js';
import { bitWidth, isFloat, isUnsignedInt } from '../ir/types.js';
import { elemType, identityMap, tensorTypeOf, type FuncBuilder } from '../codegen/mlir-builder.js';
import type { LowerContext } from './lower-context.js';
import { elementBytes, type DimSlice } from './fold-helpers.js';

/** An SSA tensor with its ONNX dtype and static shape. */
export interface TensorRef {
  value: string;
  dtype: DataType;
  shape: number[];
}

export function operand(ctx: LowerContext, i: number): TensorRef {
  return { value: ctx.input(i), dtype: ctx.dtype(i), shape: ctx.shape(i) };
}

export function refType(r: TensorRef): string {
  return tensorTypeOf(r.dtype, r.shape);
}

export function iota(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => i + from);
}

// ---- reshapes ----

interface Regrouping {
  inGroups: number[][];
  outGroups: number[][];
  mid: number[];
}

/**
 * Groups consecutive dims of `inShape` and `outShape` with equal products, so
 * that a reshape is a collapse (in → mid) followed by an expand (mid → out).
 * Needs a non-empty tensor; size-1 leftovers join the last group.
 */
function regroup(inShape: readonly number[], outShape: readonly number[]): Regrouping {
  const inGroups: number[][] = [];
  const outGroups: number[][] = [];
  if (inShape.length === 0 || outShape.length === 0) return { inGroups, outGroups, mid: [] };
  let i = 0;
  let j = 0;
  while (i < inShape.length && j < outShape.length) {
    const gi = [i];
    const gj = [j];
    let pi = inShape[i++];
    let pj = outShape[j++];
    while (pi !== pj) {
      if (pi < pj) { gi.push(i); pi *= inShape[i++]; } else { gj.push(j); pj *= outShape[j++]; }
    }
    inGroups.push(gi);
    outGroups.push(gj);
  }
  for (; i < inShape.length; i++) inGroups[inGroups.length - 1].push(i);
  for (; j < outShape.length; j++) outGroups[outGroups.length - 1].push(j);
  return { inGroups, outGroups, mid: inGroups.map((g) => g.reduce((a, k) => a * inShape[k], 1)) };
}

function reassociation(groups: readonly number[][]): string {
  return `[${groups.map((g) => `[${g.join(', ')}]`).join(', ')}]`;
}

const trivial = (groups: readonly number[][], rank: number) => groups.length === rank && groups.every((g) => g.length === 1);

/** Reshapes `x` (same element count) with tensor.collapse_shape / tensor.expand_shape. */
export function emitReshape(b: FuncBuilder, x: TensorRef, outShape: readonly number[]): string {
  const outT = tensorTypeOf(x.dtype, outShape);
  if (x.shape.length === outShape.length && x.shape.every((d, i) => d === outShape[i])) return x.value;
  if (elementCount(outShape) === 0) return b.empty(outT);
  const { inGroups, outGroups, mid } = regroup(x.shape, outShape);
  let v = x.value;
  const midT = tensorTypeOf(x.dtype, mid);
  if (!trivial(inGroups, x.shape.length)) {
    v = b.op(`tensor.collapse_shape ${v} ${reassociation(inGroups)} : ${refType(x)} into ${midT}`);
  }
  if (!trivial(outGroups, outShape.length)) {
    v = b.op(`tensor.expand_shape ${v} ${reassociation(outGroups)} output_shape [${outShape.join(', ')}] : ${midT} into ${outT}`);
  }
  return v;
}

// ---- index arithmetic (inside linalg bodies or loops) ----

export function loopIndex(b: FuncBuilder, dim: number): string {
  return b.op(`linalg.index ${dim} : index`);
}

/** Converts an integer (or float, truncating) scalar of dtype `dt` to index. */
export function toIndex(b: FuncBuilder, v: string, dt: DataType): string {
  const e = elemType(dt);
  if (isFloat(dt)) {
    const i = b.op(`arith.fptosi ${v} : ${e} to i64`);
    return b.op(`arith.index_cast ${i} : i64 to index`);
  }
  const cast = isUnsignedInt(dt) || dt === DataType.BOOL ? 'arith.index_castui' : 'arith.index_cast';
  return b.op(`${cast} ${v} : ${e} to index`);
}

/**
 * Normalises an index against a dimension of size `n` (negative counts from
 * the end) and clamps it into [0, n-1]. ONNX Runtime rejects out-of-range
 * indices; generated code has no error channel, so it clamps instead to stay
 * memory safe (out-of-range inputs give a defined but unspecified element).
 */
export function clampIndex(b: FuncBuilder, idx: string, n: number): string {
  const zero = b.index(0);
  const neg = b.op(`arith.cmpi slt, ${idx}, ${zero} : index`);
  const wrapped = b.op(`arith.addi ${idx}, ${b.index(n)} : index`);
  const norm = b.op(`arith.select ${neg}, ${wrapped}, ${idx} : index`);
  const lo = b.op(`arith.maxsi ${norm}, ${zero} : index`);
  return b.op(`arith.minsi ${lo}, ${b.index(n - 1)} : index`);
}

export function extract(b: FuncBuilder, t: TensorRef, idx: readonly string[]): string {
  return b.op(`tensor.extract ${t.value}[${idx.join(', ')}] : ${refType(t)}`);
}

export function indexArith(b: FuncBuilder, op: 'addi' | 'subi' | 'muli' | 'remsi' | 'maxsi' | 'minsi', x: string, y: string): string {
  return b.op(`arith.${op} ${x}, ${y} : index`);
}

// ---- literals ----

function hexBits(bytes: Uint8Array): string {
  return `0x${Array.from(bytes).reverse().map((x) => x.toString(16).padStart(2, '0')).join('').toUpperCase()}`;
}

/** MLIR literal of element `i` of constant `t`, for its element type (floats as exact bit patterns). */
export function elementLiteral(t: OnnxTensor, i: number): string | null {
  const size = elementBytes(t.dataType);
  const e = elemType(t.dataType);
  if (size === null) return null;
  const bytes = t.data.subarray(i * size, (i + 1) * size);
  if (e === 'i1') return bytes[0] ? 'true' : 'false';
  if (e.startsWith('f') || e.startsWith('bf')) return hexBits(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = bitWidth(t.dataType);
  const v = w === 64 ? dv.getBigInt64(0, true) : w === 32 ? dv.getInt32(0, true) : w === 16 ? dv.getInt16(0, true) : dv.getInt8(0);
  return String(v);
}

/** `arith.constant` scalar of element `i` of `t`. */
export function elementConstant(b: FuncBuilder, t: OnnxTensor, i: number): string | null {
  const lit = elementLiteral(t, i);
  return lit === null ? null : b.constant(lit, elemType(t.dataType));
}

/** A constant i64 tensor (e.g. a compile-time index table). */
export function i64Constant(b: FuncBuilder, values: readonly number[]): string {
  const type = tensorTypeOf(DataType.INT64, [values.length]);
  if (values.length === 0) return b.empty(type);
  return b.constant(`dense<[${values.join(', ')}]>`, type);
}

// ---- loops ----

/**
 * A nest of scf.for loops over `bounds` threading tensor `init` (of MLIR type
 * `type`) through iter_args; `body` gets the induction variables and the
 * current tensor and returns the updated tensor.
 */
export function forNest(b: FuncBuilder, bounds: readonly number[], init: string, type: string, body: (ivs: string[], acc: string) => string): string {
  const ivs: string[] = [];
  const level = (k: number, acc: string): string => {
    if (k === bounds.length) return body([...ivs], acc);
    const lo = b.index(0);
    const hi = b.index(bounds[k]);
    const step = b.index(1);
    const res = b.fresh('loop');
    const iv = b.fresh('iv');
    const arg = b.fresh('acc');
    b.emit(`${res} = scf.for ${iv} = ${lo} to ${hi} step ${step} iter_args(${arg} = ${acc}) -> (${type}) {`);
    ivs.push(iv);
    const inner = level(k + 1, arg);
    ivs.pop();
    b.emit(`  scf.yield ${inner} : ${type}`);
    b.emit('}');
    return res;
  };
  return level(0, init);
}

// ---- slices ----

/**
 * Whether the slice is one contiguous run of the row-major input: then any
 * copy bufferization makes of it is a memcpy. (memref.copy of a strided view
 * lowers to a call to the `memrefCopy` runtime helper, which compiled modules
 * do not link, so non-contiguous slices are copied by a linalg.generic.)
 */
function isContiguous(shape: readonly number[], slices: readonly DimSlice[]): boolean {
  let expected = 1;
  let stride = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    const { size, step } = slices[k];
    if (size > 1 && stride * step !== expected) return false;
    expected *= size;
    stride *= shape[k];
  }
  return true;
}

function extractSlice(b: FuncBuilder, x: TensorRef, slices: readonly DimSlice[]): TensorRef {
  const sizes = slices.map((s) => s.size);
  if (slices.every((s, i) => s.start === 0 && s.size === x.shape[i] && (s.step === 1 || s.size === 1))) return x;
  const offsets = slices.map((s) => s.start).join(', ');
  const strides = slices.map((s) => (s.size <= 1 ? 1 : s.step)).join(', ');
  const value = b.op(`tensor.extract_slice ${x.value}[${offsets}] [${sizes.join(', ')}] [${strides}] : ${refType(x)} to ${tensorTypeOf(x.dtype, sizes)}`);
  return { value, dtype: x.dtype, shape: sizes };
}

/**
 * Element k of output dim i reads input index slices[i].start + k*slices[i].step
 * (any step sign): a tensor.extract_slice view when that is contiguous, else a
 * generic computing the source coordinates. (Not a generic over the view: an
 * identity copy of a view canonicalises back to the bare strided view.)
 */
export function emitSlice(b: FuncBuilder, x: TensorRef, slices: readonly DimSlice[]): string {
  const sizes = slices.map((s) => s.size);
  const outT = tensorTypeOf(x.dtype, sizes);
  if (elementCount(sizes) === 0) return b.empty(outT);
  const forward = slices.every((s) => s.step > 0 || s.size <= 1);
  if (forward && isContiguous(x.shape, slices)) return extractSlice(b, x, slices).value;
  const [y] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(sizes.length), elem: elemType(x.dtype) }],
    iterators: sizes.map(() => 'parallel'),
    body: (bb) => {
      const coords = slices.map((s, k) => {
        if (s.size <= 1) return bb.index(s.start);
        const scaled = indexArith(bb, 'muli', loopIndex(bb, k), bb.index(s.step));
        return s.start === 0 ? scaled : indexArith(bb, 'addi', scaled, bb.index(s.start));
      });
      return [extract(bb, x, coords)];
    },
  });
  return y;
}

/**
 * Writes `part` into `dest` at `offsets` in destination-passing style
 * (extract_slice → linalg.copy → insert_slice), which bufferizes in place
 * with loop copies rather than a strided memref.copy.
 */
export function emitInsert(b: FuncBuilder, dest: string, destType: string, part: TensorRef, offsets: readonly number[]): string {
  const partT = refType(part);
  const where = `[${offsets.join(', ')}] [${part.shape.join(', ')}] [${part.shape.map(() => 1).join(', ')}]`;
  const slot = b.op(`tensor.extract_slice ${dest}${where} : ${destType} to ${partT}`);
  const filled = b.op(`linalg.copy ins(${part.value} : ${partT}) outs(${slot} : ${partT}) -> ${partT}`);
  return b.op(`tensor.insert_slice ${filled} into ${dest}${where} : ${partT} into ${destType}`);
}
