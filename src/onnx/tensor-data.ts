// Conversions between JS values and OnnxTensor payload bytes, for building
// test models and reading results. Sub-byte types are packed first element
// in the lowest bits, as in onnx.proto's raw_data.

import { byteLength, DataType, elementCount, type OnnxTensor } from './model.js';
import { utf8Decode, utf8Encode } from './proto.js';

export type TypedArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** What tensorFromValues accepts: raw bytes, a matching typed array, or plain values. */
export type TensorValues = TypedArray | readonly number[] | readonly bigint[] | readonly boolean[] | readonly string[];

type LaneArrayCtor =
  | typeof Float32Array | typeof Float64Array | typeof Int8Array | typeof Int16Array | typeof Uint16Array
  | typeof Int32Array | typeof Uint32Array | typeof BigInt64Array | typeof BigUint64Array;

/** The typed array whose elements are this data type's lanes (bits for 16-bit floats). */
function laneArray(t: DataType): LaneArrayCtor | undefined {
  switch (t) {
    case DataType.FLOAT: case DataType.COMPLEX64: return Float32Array;
    case DataType.DOUBLE: case DataType.COMPLEX128: return Float64Array;
    case DataType.INT8: return Int8Array;
    case DataType.INT16: return Int16Array;
    case DataType.UINT16: case DataType.FLOAT16: case DataType.BFLOAT16: return Uint16Array;
    case DataType.INT32: return Int32Array;
    case DataType.UINT32: return Uint32Array;
    case DataType.INT64: return BigInt64Array;
    case DataType.UINT64: return BigUint64Array;
    default: return undefined;
  }
}

export function tensorFromValues(name: string, dataType: DataType, dims: number[], values: TensorValues): OnnxTensor {
  const count = elementCount(dims);
  if (dataType === DataType.STRING) return { name, dataType, dims, data: new Uint8Array(0), strings: stringsOf(values, count) };
  const data = payloadOf(dataType, count, values);
  const expected = byteLength(dataType, count);
  if (data.length !== expected) {
    throw new RangeError(`tensor '${name}': ${DataType[dataType]}[${dims.join(',')}] needs ${expected} bytes, got ${data.length}`);
  }
  return { name, dataType, dims, data };
}

function stringsOf(values: TensorValues, count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const v of values) {
    if (typeof v !== 'string') throw new TypeError('STRING tensors take string values');
    out.push(utf8Encode(v));
  }
  if (out.length !== count) throw new RangeError(`expected ${count} strings, got ${out.length}`);
  return out;
}

function payloadOf(t: DataType, count: number, values: TensorValues): Uint8Array {
  if (ArrayBuffer.isView(values)) {
    // Uint8Array is always taken as the raw payload bytes.
    const lane = laneArray(t);
    if (!(values instanceof Uint8Array) && !(lane && values instanceof lane)) {
      throw new TypeError(`${values.constructor.name} does not match ${DataType[t]} (expected ${lane?.name ?? 'Uint8Array'})`);
    }
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  }
  const lanes = t === DataType.COMPLEX64 || t === DataType.COMPLEX128 ? count * 2 : count;
  if (values.length !== lanes) throw new RangeError(`${DataType[t]}: expected ${lanes} values, got ${values.length}`);
  const lanesOut: (number | bigint)[] = [];
  for (const v of values) lanesOut.push(laneValue(v));
  return packValues(t, lanesOut);
}

function laneValue(v: number | bigint | boolean | string): number | bigint {
  if (typeof v === 'string') throw new TypeError('string values are only valid for STRING tensors');
  return typeof v === 'boolean' ? Number(v) : v;
}

const asNumber = (v: number | bigint): number => Number(v);
const asBigInt = (v: number | bigint): bigint => (typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));

function packValues(t: DataType, v: (number | bigint)[]): Uint8Array {
  const n = v.length;
  const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (t) {
    case DataType.FLOAT: case DataType.COMPLEX64: return bytes(Float32Array.from(v, asNumber));
    case DataType.DOUBLE: case DataType.COMPLEX128: return bytes(Float64Array.from(v, asNumber));
    case DataType.INT8: return bytes(Int8Array.from(v, asNumber));
    case DataType.UINT8: case DataType.BOOL: return Uint8Array.from(v, asNumber);
    case DataType.INT16: return bytes(Int16Array.from(v, asNumber));
    case DataType.UINT16: return bytes(Uint16Array.from(v, asNumber));
    case DataType.INT32: return bytes(Int32Array.from(v, asNumber));
    case DataType.UINT32: return bytes(Uint32Array.from(v, asNumber));
    case DataType.INT64: return bytes(BigInt64Array.from(v, asBigInt));
    case DataType.UINT64: return bytes(BigUint64Array.from(v, asBigInt));
    case DataType.FLOAT16: return bytes(Uint16Array.from(v, (x) => float16Bits(Number(x))));
    case DataType.BFLOAT16: return bytes(Uint16Array.from(v, (x) => bfloat16Bits(Number(x))));
    case DataType.INT4: case DataType.UINT4: return packBits(v.map(asNumber), 4, n);
    case DataType.INT2: case DataType.UINT2: return packBits(v.map(asNumber), 2, n);
    default:
      throw new TypeError(`${DataType[t]} tensors cannot be built from numbers; pass the encoded bytes as a Uint8Array`);
  }
}

/** Packs `bits`-wide two's-complement lanes, first element in the lowest bits. */
export function packBits(values: readonly number[], bits: 2 | 4, count = values.length): Uint8Array {
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const out = new Uint8Array(Math.ceil(count / perByte));
  values.forEach((v, i) => {
    out[Math.floor(i / perByte)] |= (v & mask) << ((i % perByte) * bits);
  });
  return out;
}

export function unpackBits(data: Uint8Array, bits: 2 | 4, count: number, signed: boolean): number[] {
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  return Array.from({ length: count }, (_, i) => {
    const u = (data[Math.floor(i / perByte)] >> ((i % perByte) * bits)) & mask;
    return signed && u >> (bits - 1) ? u - (1 << bits) : u;
  });
}

// ---------------------------------------------------------------------------
// 16-bit floats

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE binary16 bits of `v`, rounded to nearest even. */
export function float16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    return sign | roundShift(mant | 0x800000, 14 - e);
  }
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | roundShift((e << 23) | mant, 13);
}

function roundShift(v: number, shift: number): number {
  const half = 2 ** (shift - 1);
  const q = Math.floor(v / 2 ** shift);
  const rem = v - q * 2 ** shift;
  return rem > half || (rem === half && q % 2 === 1) ? q + 1 : q;
}

export function float16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** bfloat16 bits of `v`, rounded to nearest even. */
export function bfloat16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if (Number.isNaN(v)) return ((x >>> 16) & 0x8000) | 0x7fc0;
  return roundShift(x, 16) & 0xffff;
}

export function bfloat16ToNumber(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

// ---------------------------------------------------------------------------
// Reading values back

/**
 * The elements of `t` as JS values: bigint for 64-bit integers, strings for
 * STRING, numbers otherwise (booleans as 0/1, complex as interleaved pairs).
 * The 8-bit and 4-bit float formats are not converted.
 */
export function tensorValues(t: OnnxTensor): number[] | bigint[] | string[] {
  const count = elementCount(t.dims);
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const read = (n: number, size: number, get: (off: number) => number): number[] =>
    Array.from({ length: n }, (_, i) => get(i * size));
  switch (t.dataType) {
    case DataType.STRING: return (t.strings ?? []).map(utf8Decode);
    case DataType.FLOAT: return read(count, 4, (o) => view.getFloat32(o, true));
    case DataType.COMPLEX64: return read(count * 2, 4, (o) => view.getFloat32(o, true));
    case DataType.DOUBLE: return read(count, 8, (o) => view.getFloat64(o, true));
    case DataType.COMPLEX128: return read(count * 2, 8, (o) => view.getFloat64(o, true));
    case DataType.INT8: return read(count, 1, (o) => view.getInt8(o));
    case DataType.UINT8: case DataType.BOOL: return read(count, 1, (o) => view.getUint8(o));
    case DataType.INT16: return read(count, 2, (o) => view.getInt16(o, true));
    case DataType.UINT16: return read(count, 2, (o) => view.getUint16(o, true));
    case DataType.INT32: return read(count, 4, (o) => view.getInt32(o, true));
    case DataType.UINT32: return read(count, 4, (o) => view.getUint32(o, true));
    case DataType.FLOAT16: return read(count, 2, (o) => float16ToNumber(view.getUint16(o, true)));
    case DataType.BFLOAT16: return read(count, 2, (o) => bfloat16ToNumber(view.getUint16(o, true)));
    case DataType.INT64: return Array.from({ length: count }, (_, i) => view.getBigInt64(i * 8, true));
    case DataType.UINT64: return Array.from({ length: count }, (_, i) => view.getBigUint64(i * 8, true));
    case DataType.INT4: return unpackBits(t.data, 4, count, true);
    case DataType.UINT4: return unpackBits(t.data, 4, count, false);
    case DataType.INT2: return unpackBits(t.data, 2, count, true);
    case DataType.UINT2: return unpackBits(t.data, 2, count, false);
    default: throw new TypeError(`tensorValues: ${DataType[t.dataType]} is not supported`);
  }
}
