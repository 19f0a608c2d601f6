// Sub-byte types (INT4, UINT4, FLOAT4E2M1, INT2, UINT2).
//
// Representation: ONNX buffers pack them low bits first (4-bit: element i in
// byte i/2, low nibble for even i; 2-bit: four per byte), ceil(n·bits/8)
// bytes. Generated code keeps them packed only at partition boundaries
// (function arguments, results, weights) so the runtime's buffers are plain
// ONNX bytes; inside a function every element is one i8 — sign-extended for
// INT4/INT2, zero-extended for UINT4/UINT2, the raw code for FLOAT4E2M1 — so
// data-movement ops need no special cases. unpackArgument/packResult convert
// at the boundary; unpackConstant does the same for embedded constants.
import { DataType, elementCount, type OnnxTensor } from '../onnx/model.js';
import { dtypeName, isFloat, isSignedInt, subByteBits } from '../ir/types.js';
import { Bits } from './bits.js';
import { CodegenError, affineMap, elemType, tensorTypeOf, type FuncBuilder } from './mlir-builder.js';
import { convertScalar } from './scalar.js';

const BYTE_BITS = 8;

function bitsOf(dt: DataType): number {
  const bits = subByteBits(dt);
  if (bits === null) throw new CodegenError(`${dtypeName(dt)} is not a sub-byte type`);
  return bits;
}

/** INT4/INT2 are sign-extended in their i8; the others are zero-extended codes. */
function signExtended(dt: DataType): boolean {
  return isSignedInt(dt);
}

/** Bytes holding `count` packed elements of `dt`. */
export function packedBytes(dt: DataType, count: number): number {
  return Math.ceil((count * bitsOf(dt)) / BYTE_BITS);
}

/** MLIR type of a value of `dt` and `shape` as passed across a partition boundary. */
export function boundaryTensorType(dt: DataType, shape: readonly number[]): string {
  if (subByteBits(dt) === null) return tensorTypeOf(dt, shape);
  return `tensor<${packedBytes(dt, elementCount(shape))}xi8>`;
}

/** Wraps the i8 `v` into the range of `dt` (two's complement for the signed types). */
export function normalizeSubByte(b: FuncBuilder, v: string, dt: DataType): string {
  const k = new Bits(b, 'i8');
  const bits = bitsOf(dt);
  if (!signExtended(dt)) return k.and(v, k.c((1 << bits) - 1));
  const spare = k.c(BYTE_BITS - bits);
  return k.shrS(k.shl(v, spare), spare);
}

/**
 * Converts a scalar of a native dtype to INT4/UINT4/INT2/UINT2: floats round
 * to nearest even then wrap (onnx docs/technical/int4.md), integers wrap.
 */
export function toSubByteInt(b: FuncBuilder, v: string, from: DataType, to: DataType): string {
  let byte: string;
  if (isFloat(from)) {
    const fe = elemType(from);
    const r = b.op(`math.roundeven ${v} : ${fe}`);
    const wide = b.op(`arith.fptosi ${r} : ${fe} to i32`);
    byte = b.op(`arith.trunci ${wide} : i32 to i8`);
  } else if (from === DataType.BOOL) {
    byte = b.op(`arith.extui ${v} : i1 to i8`);
  } else {
    byte = convertScalar(b, v, from, DataType.INT8);
  }
  return normalizeSubByte(b, byte, to);
}

/** The byte integer type whose conversions a stored sub-byte integer follows. */
export function storageIntType(dt: DataType): DataType {
  return signExtended(dt) ? DataType.INT8 : DataType.UINT8;
}

// ---- partition boundaries ----

function reshapeFlat(b: FuncBuilder, flat: string, n: number, shape: readonly number[]): string {
  const outT = tensorTypeOf(DataType.INT8, shape);
  if (shape.length === 1) return flat;
  const flatT = `tensor<${n}xi8>`;
  if (shape.length === 0) return b.op(`tensor.collapse_shape ${flat} [] : ${flatT} into ${outT}`);
  const group = shape.map((_, i) => i).join(', ');
  return b.op(`tensor.expand_shape ${flat} [[${group}]] output_shape [${shape.join(', ')}] : ${flatT} into ${outT}`);
}

function flatten(b: FuncBuilder, v: string, n: number, shape: readonly number[]): string {
  if (shape.length === 1) return v;
  const inT = tensorTypeOf(DataType.INT8, shape);
  const flatT = `tensor<${n}xi8>`;
  if (shape.length === 0) return b.op(`tensor.expand_shape ${v} [] output_shape [1] : ${inT} into ${flatT}`);
  const group = shape.map((_, i) => i).join(', ');
  return b.op(`tensor.collapse_shape ${v} [[${group}]] : ${inT} into ${flatT}`);
}

/** Shift amount (i8) of the element at position `linalg.index 1` within its byte. */
function fieldShift(b: FuncBuilder, bits: number): string {
  const k = new Bits(b, 'i8');
  const idx = b.op('linalg.index 1 : index');
  return k.mul(b.op(`arith.index_cast ${idx} : index to i8`), k.c(bits));
}

/** Unpacks the packed argument `arg` into one i8 per element, shaped `shape`. */
export function unpackArgument(b: FuncBuilder, arg: string, dt: DataType, shape: readonly number[]): string {
  const bits = bitsOf(dt);
  const per = BYTE_BITS / bits;
  const n = elementCount(shape);
  if (n === 0) return b.empty(tensorTypeOf(DataType.INT8, shape));
  const bytes = packedBytes(dt, n);
  const gridT = `tensor<${bytes}x${per}xi8>`;
  const [grid] = b.generic({
    inputs: [{ value: arg, type: `tensor<${bytes}xi8>`, map: affineMap(2, ['d0']), elem: 'i8' }],
    outputs: [{ value: b.empty(gridT), type: gridT, map: affineMap(2, ['d0', 'd1']), elem: 'i8' }],
    iterators: ['parallel', 'parallel'],
    body: (fb, [byte]) => [normalizeSubByte(fb, new Bits(fb, 'i8').shrU(byte, fieldShift(fb, bits)), dt)],
  });
  let flat = b.op(`tensor.collapse_shape ${grid} [[0, 1]] : ${gridT} into tensor<${bytes * per}xi8>`);
  if (bytes * per !== n) flat = b.op(`tensor.extract_slice ${flat}[0] [${n}] [1] : tensor<${bytes * per}xi8> to tensor<${n}xi8>`);
  return reshapeFlat(b, flat, n, shape);
}

/** Packs `value` (one i8 per element, shaped `shape`) into ONNX's packed bytes. */
export function packResult(b: FuncBuilder, value: string, dt: DataType, shape: readonly number[]): string {
  const bits = bitsOf(dt);
  const per = BYTE_BITS / bits;
  const n = elementCount(shape);
  const bytes = packedBytes(dt, n);
  const outT = `tensor<${bytes}xi8>`;
  if (n === 0) return b.empty(outT);
  const zero = b.constant('0', 'i8');
  let flat = flatten(b, value, n, shape);
  const paddedT = `tensor<${bytes * per}xi8>`;
  if (bytes * per !== n) {
    // The padding bits of the last byte are zero, as onnx writes them.
    const padded = b.fill(zero, 'i8', paddedT);
    flat = b.op(`tensor.insert_slice ${flat} into ${padded}[0] [${n}] [1] : tensor<${n}xi8> into ${paddedT}`);
  }
  const gridT = `tensor<${bytes}x${per}xi8>`;
  const grid = b.op(`tensor.expand_shape ${flat} [[0, 1]] output_shape [${bytes}, ${per}] : ${paddedT} into ${gridT}`);
  const [packed] = b.generic({
    inputs: [{ value: grid, type: gridT, map: affineMap(2, ['d0', 'd1']), elem: 'i8' }],
    outputs: [{ value: b.fill(zero, 'i8', outT), type: outT, map: affineMap(2, ['d0']), elem: 'i8' }],
    iterators: ['parallel', 'reduction'],
    body: (fb, [x, acc]) => {
      const k = new Bits(fb, 'i8');
      const field = k.and(x, k.c((1 << bits) - 1));
      return [k.or(acc, k.shl(field, fieldShift(fb, bits)))];
    },
  });
  return packed;
}

/** One byte per element of a packed constant, in the in-function representation. */
export function unpackConstant(t: OnnxTensor): Uint8Array {
  const bits = bitsOf(t.dataType);
  const per = BYTE_BITS / bits;
  const mask = (1 << bits) - 1;
  const n = elementCount(t.dims);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const field = (t.data[Math.floor(i / per)] >> ((i % per) * bits)) & mask;
    const signed = signExtended(t.dataType) && field >> (bits - 1) ? field - (1 << bits) : field;
    out[i] = signed & 0xff;
  }
  return out;
}
