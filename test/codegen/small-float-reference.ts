// Reference implementations of the ONNX small types for tests, written from
// the spec by value (not by bit tricks, so they check the generated integer
// code independently): docs/technical/float8.md, float4.md, int4.md and
// onnx's reference ops (ml_dtypes casts; numpy_helper.to_float8e8m0).
import { DataType } from '../../src/onnx/model.js';

export interface RefFormat {
  name: string;
  dt: DataType;
  bits: number;
  expBits: number;
  mantBits: number;
  bias: number;
  /** ieee: Inf and NaNs at the top exponent; fn: only S.1111.111 is NaN; fnuz: 0x80 is the only NaN; none: no specials. */
  specials: 'ieee' | 'fn' | 'fnuz' | 'none';
}

export const REF_FORMATS: readonly RefFormat[] = [
  { name: 'E4M3FN', dt: DataType.FLOAT8E4M3FN, bits: 8, expBits: 4, mantBits: 3, bias: 7, specials: 'fn' },
  { name: 'E4M3FNUZ', dt: DataType.FLOAT8E4M3FNUZ, bits: 8, expBits: 4, mantBits: 3, bias: 8, specials: 'fnuz' },
  { name: 'E5M2', dt: DataType.FLOAT8E5M2, bits: 8, expBits: 5, mantBits: 2, bias: 15, specials: 'ieee' },
  { name: 'E5M2FNUZ', dt: DataType.FLOAT8E5M2FNUZ, bits: 8, expBits: 5, mantBits: 2, bias: 16, specials: 'fnuz' },
  { name: 'FLOAT4E2M1', dt: DataType.FLOAT4E2M1, bits: 4, expBits: 2, mantBits: 1, bias: 1, specials: 'none' },
];

function signBit(f: RefFormat): number {
  return 1 << (f.bits - 1);
}

export function isNaNCode(code: number, f: RefFormat): boolean {
  const mag = code & (signBit(f) - 1);
  const exp = mag >> f.mantBits;
  if (f.specials === 'fn') return mag === signBit(f) - 1;
  if (f.specials === 'fnuz') return code === signBit(f);
  if (f.specials === 'ieee') return exp === (1 << f.expBits) - 1 && (mag & ((1 << f.mantBits) - 1)) !== 0;
  return false;
}

/** Value of a code per the spec's formulas (NaN for NaN codes; -0 where the format has it). */
export function decodeRef(code: number, f: RefFormat): number {
  if (isNaNCode(code, f)) return NaN;
  const negative = (code & signBit(f)) !== 0;
  const mag = code & (signBit(f) - 1);
  const exp = mag >> f.mantBits;
  const mant = mag & ((1 << f.mantBits) - 1);
  let v: number;
  if (f.specials === 'ieee' && exp === (1 << f.expBits) - 1) v = Infinity;
  else if (exp === 0) v = mant * 2 ** (1 - f.bias - f.mantBits);
  else v = (1 + mant / 2 ** f.mantBits) * 2 ** (exp - f.bias);
  return negative ? -v : v;
}

/** Largest finite magnitude code. */
function maxCode(f: RefFormat): number {
  const all = signBit(f) - 1;
  if (f.specials === 'fn') return all - 1;
  if (f.specials === 'ieee') return (((1 << f.expBits) - 1) << f.mantBits) - 1;
  return all;
}

/** The code an out-of-range magnitude (or Inf) gets, before the sign. */
function overflowCode(f: RefFormat, saturate: boolean, negative: boolean): number {
  const s = negative ? signBit(f) : 0;
  if (saturate || f.specials === 'none') return maxCode(f) | s;
  if (f.specials === 'ieee') return (((1 << f.expBits) - 1) << f.mantBits) | s;
  if (f.specials === 'fn') return (signBit(f) - 1) | s;
  return signBit(f);
}

function nanCode(f: RefFormat, negative: boolean): number {
  const s = negative ? signBit(f) : 0;
  if (f.specials === 'fnuz') return signBit(f);
  // FP4 has no NaN; ml_dtypes gives its "quiet NaN" 0b1000, negated (sign flipped) for -NaN.
  if (f.specials === 'none') return signBit(f) ^ s;
  if (f.specials === 'ieee') return (((1 << f.expBits) - 1) << f.mantBits) | (1 << (f.mantBits - 1)) | s;
  return (signBit(f) - 1) | s;
}

const grids = new Map<RefFormat, number[]>();

/** The non-negative finite values by code, plus the next value above the maximum. */
function gridOf(f: RefFormat): number[] {
  let grid = grids.get(f);
  if (!grid) {
    const top = maxCode(f);
    grid = Array.from({ length: top + 1 }, (_, c) => decodeRef(c, f));
    grid.push(grid[top] + 2 ** ((top >> f.mantBits) - f.bias - f.mantBits));
    grids.set(f, grid);
  }
  return grid;
}

/**
 * Code of `value` (an exact double; `negative` gives the sign, also of NaN and
 * zero): round to nearest, ties to the even code; magnitudes that round past
 * the largest finite value overflow (to max when saturating, else to Inf or NaN).
 */
export function encodeRef(value: number, negative: boolean, f: RefFormat, saturate: boolean): number {
  if (Number.isNaN(value)) return nanCode(f, negative);
  const a = Math.abs(value);
  if (a === Infinity) return overflowCode(f, saturate, negative);
  const top = maxCode(f);
  const grid = gridOf(f);
  let code = 0;
  if (a >= grid[grid.length - 1]) code = grid.length - 1;
  else {
    let lo = 0;
    let hi = grid.length - 1;
    // Binary search for grid[lo] <= a < grid[lo + 1].
    while (hi - lo > 1) {
      const m = (lo + hi) >> 1;
      if (grid[m] <= a) lo = m;
      else hi = m;
    }
    const k = lo;
    const mid = (grid[k] + grid[k + 1]) / 2;
    code = a < mid ? k : a > mid ? k + 1 : k % 2 === 0 ? k : k + 1;
  }
  if (code > top) return overflowCode(f, saturate, negative);
  if (code === 0 && f.specials === 'fnuz') return 0;
  return code | (negative ? signBit(f) : 0);
}

// ---- FLOAT8E8M0 ----

export const E8M0_NAN = 0xff;
const E8M0_BIAS = 127;
const E8M0_MAX = 0xfe;
const F32_MIN_NORMAL = 2 ** -126;

export function decodeE8M0Ref(code: number): number {
  return code === E8M0_NAN ? NaN : 2 ** (code - E8M0_BIAS);
}

/**
 * E8M0 code of the f32 `value` (sign ignored; NaN/Inf → NaN): `down` takes the
 * power of two at or below, `up` the one at or above, `nearest` the nearer
 * one with ties up (linear distance); saturation stops at 2^127. f32
 * subnormals follow onnx's to_float8e8m0 (exponent field 0, rounded from the
 * mantissa bits): up → 2^-126 unless zero, nearest → 2^-126 above 2^-127.
 */
export function encodeE8M0Ref(value: number, saturate: boolean, mode: 'up' | 'down' | 'nearest'): number {
  if (!Number.isFinite(value)) return E8M0_NAN;
  const a = Math.abs(value);
  if (a < F32_MIN_NORMAL) {
    if (mode === 'up') return a === 0 ? 0 : 1;
    if (mode === 'nearest') return a > 2 ** -E8M0_BIAS ? 1 : 0;
    return 0;
  }
  let k = Math.floor(Math.log2(a));
  if (2 ** k > a) k--;
  if (2 ** (k + 1) <= a) k++;
  const lower = k + E8M0_BIAS;
  const roundUp = mode === 'up' ? a > 2 ** k : mode === 'nearest' ? a >= 1.5 * 2 ** k : false;
  if (!roundUp) return lower;
  if (lower + 1 > E8M0_MAX) return saturate ? E8M0_MAX : E8M0_NAN;
  return lower + 1;
}

// ---- sub-byte integers ----

export interface RefSubByteInt {
  dt: DataType;
  bits: number;
  signed: boolean;
}

export const REF_SUB_BYTE_INTS: readonly RefSubByteInt[] = [
  { dt: DataType.INT4, bits: 4, signed: true },
  { dt: DataType.UINT4, bits: 4, signed: false },
  { dt: DataType.INT2, bits: 2, signed: true },
  { dt: DataType.UINT2, bits: 2, signed: false },
];

/** Value of a field (two's complement for the signed types). */
export function subByteValue(field: number, t: { bits: number; signed: boolean }): number {
  return t.signed && field >= 2 ** (t.bits - 1) ? field - 2 ** t.bits : field;
}

/** Round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Cast of a finite float to a sub-byte integer: round half to even, then wrap (int4.md). */
export function toSubByteRef(x: number, t: RefSubByteInt): number {
  const m = 2 ** t.bits;
  const wrapped = ((roundHalfEven(x) % m) + m) % m;
  return subByteValue(wrapped, t);
}

// ---- packing as ONNX stores sub-byte tensors ----

export function pack(fields: readonly number[], bits: number): Uint8Array {
  const per = 8 / bits;
  const out = new Uint8Array(Math.ceil(fields.length / per));
  fields.forEach((v, i) => {
    out[Math.floor(i / per)] |= (v & ((1 << bits) - 1)) << ((i % per) * bits);
  });
  return out;
}

export function unpack(bytes: Uint8Array, count: number, bits: number): number[] {
  const per = 8 / bits;
  return Array.from({ length: count }, (_, i) => (bytes[Math.floor(i / per)] >> ((i % per) * bits)) & ((1 << bits) - 1));
}

// ---- IEEE helpers ----

/** Decodes binary16 bits exactly. */
export function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
