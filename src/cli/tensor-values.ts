// Reads HostTensor elements as JS numbers for comparison and statistics:
// every floating format (f16, bf16, FP8, float4, complex) decoded to its exact
// value, integers exactly (64-bit ones as bigint).
import { DataType, byteLength, elementCount } from '../onnx/model.js';
import type { HostTensor } from '../runtime/host-tensor.js';
import { dataTypeName } from '../ep/ort-tensor.js';
import { CliError } from './errors.js';

export type TensorValues =
  /** `narrow`: the format is at most 16 bits wide, so ORT compares it in float32 arithmetic. */
  | { kind: 'float'; values: Float64Array; narrow: boolean }
  | { kind: 'int'; values: Float64Array }
  | { kind: 'bigint'; values: bigint[] }
  | { kind: 'string'; values: string[] };

const HALF_EXP_BITS = 5;
const HALF_MANT_BITS = 10;
const HALF_BIAS = 15;
const BF16_SHIFT = 16;
const NIBBLE_BITS = 4;
const CRUMB_BITS = 2;
const BITS_PER_BYTE = 8;
const E8M0_NAN = 0xff;
const E8M0_BIAS = 127;

/** How a small float format spends its top exponent code. */
type SpecialValues = 'ieee' | 'fn' | 'fnuz' | 'none';

interface MiniFloat {
  expBits: number;
  mantBits: number;
  bias: number;
  specials: SpecialValues;
}

const MINI_FLOATS: ReadonlyMap<DataType, MiniFloat> = new Map([
  [DataType.FLOAT16, { expBits: HALF_EXP_BITS, mantBits: HALF_MANT_BITS, bias: HALF_BIAS, specials: 'ieee' }],
  [DataType.FLOAT8E4M3FN, { expBits: 4, mantBits: 3, bias: 7, specials: 'fn' }],
  [DataType.FLOAT8E4M3FNUZ, { expBits: 4, mantBits: 3, bias: 8, specials: 'fnuz' }],
  [DataType.FLOAT8E5M2, { expBits: 5, mantBits: 2, bias: 15, specials: 'ieee' }],
  [DataType.FLOAT8E5M2FNUZ, { expBits: 5, mantBits: 2, bias: 16, specials: 'fnuz' }],
  [DataType.FLOAT4E2M1, { expBits: 2, mantBits: 1, bias: 1, specials: 'none' }],
]);

/** Decodes one sign/exponent/mantissa bit pattern of a small float format. */
export function decodeMiniFloat(bits: number, f: MiniFloat): number {
  const width = 1 + f.expBits + f.mantBits;
  const signBit = 1 << (width - 1);
  const expMax = (1 << f.expBits) - 1;
  const mantMask = (1 << f.mantBits) - 1;
  // FNUZ formats reuse negative zero as their only NaN.
  if (f.specials === 'fnuz' && bits === signBit) return NaN;
  const sign = bits & signBit ? -1 : 1;
  const exp = (bits >> f.mantBits) & expMax;
  const mant = bits & mantMask;
  if (exp === expMax && f.specials === 'ieee') return mant === 0 ? sign * Infinity : NaN;
  if (exp === expMax && mant === mantMask && f.specials === 'fn') return NaN;
  if (exp === 0) return sign * mant * 2 ** (1 - f.bias - f.mantBits);
  return sign * (1 + mant / (1 << f.mantBits)) * 2 ** (exp - f.bias);
}

export function halfToFloat(bits: number): number {
  return decodeMiniFloat(bits, { expBits: HALF_EXP_BITS, mantBits: HALF_MANT_BITS, bias: HALF_BIAS, specials: 'ieee' });
}

const f32Scratch = new DataView(new ArrayBuffer(4));

export function bfloat16ToFloat(bits: number): number {
  f32Scratch.setUint32(0, bits << BF16_SHIFT >>> 0, true);
  return f32Scratch.getFloat32(0, true);
}

export function e8m0ToFloat(bits: number): number {
  return bits === E8M0_NAN ? NaN : 2 ** (bits - E8M0_BIAS);
}

function checkSize(t: HostTensor): number {
  const count = elementCount(t.dims);
  if (t.dataType === DataType.STRING) {
    const n = t.strings?.length ?? 0;
    if (n !== count) throw new CliError(`STRING tensor [${t.dims.join(',')}]: expected ${count} strings, got ${n}`);
    return count;
  }
  const expected = byteLength(t.dataType, count);
  if (t.data.byteLength !== expected) {
    throw new CliError(`${dataTypeName(t.dataType)} tensor [${t.dims.join(',')}]: expected ${expected} bytes, got ${t.data.byteLength}`);
  }
  return count;
}

function view(t: HostTensor): DataView {
  return new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Element `i` of a packed sub-byte tensor; the first element sits in the lowest bits. */
export function packedElement(bytes: Uint8Array, i: number, bits: number): number {
  const perByte = BITS_PER_BYTE / bits;
  const byte = bytes[Math.floor(i / perByte)] ?? 0;
  return (byte >> ((i % perByte) * bits)) & ((1 << bits) - 1);
}

function nibble(bytes: Uint8Array, i: number): number {
  return packedElement(bytes, i, NIBBLE_BITS);
}

function readAll(count: number, read: (i: number) => number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = read(i);
  return out;
}

/** Elements stored one per fixed-width slot, read by a DataView getter (alignment-free). */
function readFixed(t: HostTensor, count: number): Float64Array | null {
  const v = view(t);
  switch (t.dataType) {
    case DataType.FLOAT: return readAll(count, (i) => v.getFloat32(i * 4, true));
    case DataType.DOUBLE: return readAll(count, (i) => v.getFloat64(i * 8, true));
    case DataType.COMPLEX64: return readAll(count * 2, (i) => v.getFloat32(i * 4, true));
    case DataType.COMPLEX128: return readAll(count * 2, (i) => v.getFloat64(i * 8, true));
    case DataType.INT8: return readAll(count, (i) => v.getInt8(i));
    case DataType.UINT8: case DataType.BOOL: return readAll(count, (i) => v.getUint8(i));
    case DataType.INT16: return readAll(count, (i) => v.getInt16(i * 2, true));
    case DataType.UINT16: return readAll(count, (i) => v.getUint16(i * 2, true));
    case DataType.INT32: return readAll(count, (i) => v.getInt32(i * 4, true));
    case DataType.UINT32: return readAll(count, (i) => v.getUint32(i * 4, true));
    case DataType.BFLOAT16: return readAll(count, (i) => bfloat16ToFloat(v.getUint16(i * 2, true)));
    case DataType.FLOAT8E8M0: return readAll(count, (i) => e8m0ToFloat(v.getUint8(i)));
    default: return null;
  }
}

function readMiniFloat(t: HostTensor, count: number, f: MiniFloat): Float64Array {
  if (t.dataType === DataType.FLOAT16) {
    const v = view(t);
    return readAll(count, (i) => decodeMiniFloat(v.getUint16(i * 2, true), f));
  }
  if (t.dataType === DataType.FLOAT4E2M1) return readAll(count, (i) => decodeMiniFloat(nibble(t.data, i), f));
  return readAll(count, (i) => decodeMiniFloat(t.data[i] ?? 0, f));
}

function readPackedInts(t: HostTensor, count: number, bits: number, signed: boolean): Float64Array {
  const signBit = 1 << (bits - 1);
  return readAll(count, (i) => {
    const n = packedElement(t.data, i, bits);
    return signed && n & signBit ? n - 2 * signBit : n;
  });
}

function readBigInts(t: HostTensor, count: number, signed: boolean): bigint[] {
  const v = view(t);
  const out: bigint[] = new Array<bigint>(count);
  for (let i = 0; i < count; i++) out[i] = signed ? v.getBigInt64(i * 8, true) : v.getBigUint64(i * 8, true);
  return out;
}

const FLOAT_TYPES: ReadonlySet<DataType> = new Set([
  DataType.FLOAT, DataType.DOUBLE, DataType.COMPLEX64, DataType.COMPLEX128, DataType.FLOAT16, DataType.BFLOAT16,
  DataType.FLOAT8E4M3FN, DataType.FLOAT8E4M3FNUZ, DataType.FLOAT8E5M2, DataType.FLOAT8E5M2FNUZ,
  DataType.FLOAT4E2M1, DataType.FLOAT8E8M0,
]);
const WIDE_FLOATS: ReadonlySet<DataType> = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.COMPLEX64, DataType.COMPLEX128]);

export function isFloatType(dt: DataType): boolean {
  return FLOAT_TYPES.has(dt);
}

/** All elements of `t`, decoded. Complex tensors yield interleaved (re, im) pairs. */
export function tensorValues(t: HostTensor): TensorValues {
  const count = checkSize(t);
  switch (t.dataType) {
    case DataType.STRING: return { kind: 'string', values: t.strings ?? [] };
    case DataType.INT64: return { kind: 'bigint', values: readBigInts(t, count, true) };
    case DataType.UINT64: return { kind: 'bigint', values: readBigInts(t, count, false) };
    case DataType.INT4: return { kind: 'int', values: readPackedInts(t, count, NIBBLE_BITS, true) };
    case DataType.UINT4: return { kind: 'int', values: readPackedInts(t, count, NIBBLE_BITS, false) };
    case DataType.INT2: return { kind: 'int', values: readPackedInts(t, count, CRUMB_BITS, true) };
    case DataType.UINT2: return { kind: 'int', values: readPackedInts(t, count, CRUMB_BITS, false) };
    default: break;
  }
  const mini = MINI_FLOATS.get(t.dataType);
  const values = mini ? readMiniFloat(t, count, mini) : readFixed(t, count);
  if (values === null) throw new CliError(`cannot read elements of dtype ${dataTypeName(t.dataType)}`);
  if (!isFloatType(t.dataType)) return { kind: 'int', values };
  return { kind: 'float', values, narrow: !WIDE_FLOATS.has(t.dataType) };
}

export interface ValueStats {
  min: number;
  max: number;
  mean: number;
  nanCount: number;
}

/** min/max/mean over the non-NaN elements (NaN for all three when there are none). */
export function valueStats(values: TensorValues): ValueStats | null {
  if (values.kind === 'string') return null;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  let nanCount = 0;
  for (const raw of values.values) {
    const x = Number(raw);
    if (Number.isNaN(x)) { nanCount++; continue; }
    min = Math.min(min, x);
    max = Math.max(max, x);
    sum += x;
    n++;
  }
  return n === 0 ? { min: NaN, max: NaN, mean: NaN, nanCount } : { min, max, mean: sum / n, nanCount };
}
