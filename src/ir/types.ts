// Tensor types of the graph IR and how each ONNX dtype is represented in MLIR.
import { DataType } from '../onnx/model.js';

/** A static dimension or a named symbol (resolved before codegen). */
export type Dim = number | string;

export interface TensorType {
  dataType: DataType;
  shape: Dim[];
}

export class IrError extends Error {
  override name = 'IrError';
}

export function isStatic(shape: readonly Dim[]): shape is number[] {
  return shape.every((d) => typeof d === 'number');
}

export function staticShape(t: TensorType, what: string): number[] {
  if (!isStatic(t.shape)) throw new IrError(`${what}: expected a static shape, got [${t.shape.join(', ')}]`);
  return t.shape;
}

const FLOATS = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);
const SIGNED = new Set([DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64, DataType.INT4, DataType.INT2]);
const UNSIGNED = new Set([DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64, DataType.UINT4, DataType.UINT2]);
const FP8 = new Set([DataType.FLOAT8E4M3FN, DataType.FLOAT8E4M3FNUZ, DataType.FLOAT8E5M2, DataType.FLOAT8E5M2FNUZ, DataType.FLOAT8E8M0]);

/** Floating types that MLIR arith computes on natively. */
export function isFloat(t: DataType): boolean {
  return FLOATS.has(t);
}
export function isSignedInt(t: DataType): boolean {
  return SIGNED.has(t);
}
export function isUnsignedInt(t: DataType): boolean {
  return UNSIGNED.has(t);
}
export function isInteger(t: DataType): boolean {
  return SIGNED.has(t) || UNSIGNED.has(t);
}
export function isFp8(t: DataType): boolean {
  return FP8.has(t);
}

/** Element widths of the types ONNX packs several to a byte (low bits first). */
const SUB_BYTE_BITS: ReadonlyMap<DataType, number> = new Map([
  [DataType.INT4, 4],
  [DataType.UINT4, 4],
  [DataType.FLOAT4E2M1, 4],
  [DataType.INT2, 2],
  [DataType.UINT2, 2],
]);

/** Bits per element of a packed sub-byte type, or null for byte-sized and wider types. */
export function subByteBits(t: DataType): number | null {
  return SUB_BYTE_BITS.get(t) ?? null;
}

/** FP8 (incl. E8M0) and FP4: floats that generated code handles as integer bit patterns. */
export function isSmallFloat(t: DataType): boolean {
  return FP8.has(t) || t === DataType.FLOAT4E2M1;
}

const MLIR_ELEMENT: ReadonlyMap<DataType, string> = new Map([
  [DataType.FLOAT, 'f32'],
  [DataType.DOUBLE, 'f64'],
  [DataType.FLOAT16, 'f16'],
  [DataType.BFLOAT16, 'bf16'],
  [DataType.INT8, 'i8'],
  [DataType.UINT8, 'i8'],
  [DataType.INT16, 'i16'],
  [DataType.UINT16, 'i16'],
  [DataType.INT32, 'i32'],
  [DataType.UINT32, 'i32'],
  [DataType.INT64, 'i64'],
  [DataType.UINT64, 'i64'],
  // LLVM stores an i1 array element in one byte, matching ONNX's bool layout.
  [DataType.BOOL, 'i1'],
  // FP8 values travel as their bit patterns; conversions are integer code.
  [DataType.FLOAT8E4M3FN, 'i8'],
  [DataType.FLOAT8E4M3FNUZ, 'i8'],
  [DataType.FLOAT8E5M2, 'i8'],
  [DataType.FLOAT8E5M2FNUZ, 'i8'],
  [DataType.FLOAT8E8M0, 'i8'],
  // Sub-byte types are packed in ONNX buffers but unpacked inside generated
  // code: one element per i8 (sign-extended for INT4/INT2, the raw 4-bit code
  // for FLOAT4E2M1). Partition boundaries pack and unpack (codegen/int4.ts).
  [DataType.INT4, 'i8'],
  [DataType.UINT4, 'i8'],
  [DataType.FLOAT4E2M1, 'i8'],
  [DataType.INT2, 'i8'],
  [DataType.UINT2, 'i8'],
]);

/** The MLIR element type used for a dtype, or null when codegen cannot hold it. */
export function mlirElementType(t: DataType): string | null {
  return MLIR_ELEMENT.get(t) ?? null;
}

export function bitWidth(t: DataType): number {
  const e = MLIR_ELEMENT.get(t);
  if (e === undefined) throw new IrError(`no MLIR element type for ${DataType[t]}`);
  return e === 'i1' ? 1 : Number(e.slice(e.startsWith('bf') ? 2 : 1));
}

export function dtypeName(t: DataType): string {
  return DataType[t] ?? `dtype#${t}`;
}

export function typeToString(t: TensorType): string {
  return `${dtypeName(t.dataType)}[${t.shape.join(',')}]`;
}
