// FP8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ), FLOAT8E8M0 and FLOAT4E2M1 ↔ f32/f64
// conversions emitted as pure integer code on bit patterns (no library calls).
// Generated code stores these types as i8 codes (FP4: the 4-bit code in an i8).
//
// Semantics follow the ONNX spec (docs/technical/float8.md, float4.md) and
// the reference implementation (ml_dtypes casts; numpy_helper.to_float8e8m0):
// round to nearest even; saturate clamps out-of-range values and ±Inf to
// ±max; without saturation overflow gives Inf (E5M2) or NaN (the others); NaN
// keeps its sign where the format has signed NaNs; FNUZ types have a single
// NaN 0x80 and no negative zero; FP4 has no Inf/NaN (Inf → ±6, NaN → code
// 0x8, the sign of a NaN flipped, as ml_dtypes does).
import { DataType } from '../onnx/model.js';
import { dtypeName } from '../ir/types.js';
import { Bits, andI1, orI1, type IntType } from './bits.js';
import { CodegenError, type FuncBuilder } from './mlir-builder.js';

/** How a format spends its top exponent codes. */
export type Specials = 'ieee' | 'fn' | 'fnuz' | 'none';

export interface MiniFloat {
  bits: number;
  expBits: number;
  mantBits: number;
  bias: number;
  specials: Specials;
}

export const MINI_FLOATS: ReadonlyMap<DataType, MiniFloat> = new Map([
  [DataType.FLOAT8E4M3FN, { bits: 8, expBits: 4, mantBits: 3, bias: 7, specials: 'fn' }],
  [DataType.FLOAT8E4M3FNUZ, { bits: 8, expBits: 4, mantBits: 3, bias: 8, specials: 'fnuz' }],
  [DataType.FLOAT8E5M2, { bits: 8, expBits: 5, mantBits: 2, bias: 15, specials: 'ieee' }],
  [DataType.FLOAT8E5M2FNUZ, { bits: 8, expBits: 5, mantBits: 2, bias: 16, specials: 'fnuz' }],
  [DataType.FLOAT4E2M1, { bits: 4, expBits: 2, mantBits: 1, bias: 1, specials: 'none' }],
]);

export function miniFloat(dt: DataType): MiniFloat {
  const f = MINI_FLOATS.get(dt);
  if (!f) throw new CodegenError(`${dtypeName(dt)} is not an FP8/FP4 format`);
  return f;
}

/** Sign bit of the code. */
export function signBit(f: MiniFloat): number {
  return 1 << (f.bits - 1);
}

/** All exponent and mantissa bits. */
export function magnitudeMask(f: MiniFloat): number {
  return signBit(f) - 1;
}

/** Code magnitude of the largest finite value. */
export function maxMagnitude(f: MiniFloat): number {
  const all = magnitudeMask(f);
  if (f.specials === 'fn') return all - 1;
  if (f.specials === 'ieee') return infMagnitude(f) - 1;
  return all;
}

/** Code magnitude of infinity (IEEE-style formats only). */
export function infMagnitude(f: MiniFloat): number {
  return ((1 << f.expBits) - 1) << f.mantBits;
}

/** Code magnitude of the quiet NaN of the formats whose NaNs carry a sign. */
function nanMagnitude(f: MiniFloat): number {
  return f.specials === 'ieee' ? infMagnitude(f) | (1 << (f.mantBits - 1)) : magnitudeMask(f);
}

// ---- IEEE source/target formats handled as integers ----

interface IeeeFormat {
  int: IntType;
  float: string;
  width: number;
  mantBits: number;
  bias: number;
}

const F32: IeeeFormat = { int: 'i32', float: 'f32', width: 32, mantBits: 23, bias: 127 };
const F64: IeeeFormat = { int: 'i64', float: 'f64', width: 64, mantBits: 52, bias: 1023 };

const F32_QUIET_NAN = 0x7fc00000;
const F32_INF = 0x7f800000;
const F32_MANT_MASK = 0x7fffff;

/** The IEEE format an FP8/FP4 encoder reads: f64 stays exact, everything else is widened to f32 first. */
export function encoderSource(dt: DataType): DataType.FLOAT | DataType.DOUBLE {
  return dt === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
}

/** f32 value of an FP8/FP4 code (i8); exact. */
export function decodeMiniFloat(b: FuncBuilder, code: string, f: MiniFloat): string {
  const k = new Bits(b, 'i32');
  const u = k.extU(code, 'i8');
  const sign = k.shl(k.and(u, k.c(signBit(f))), k.c(F32.width - f.bits));
  const mag = k.and(u, k.c(magnitudeMask(f)));
  const exp = k.shrU(mag, k.c(f.mantBits));
  const mant = k.and(mag, k.c((1 << f.mantBits) - 1));
  const normal = k.or(k.shl(k.add(exp, k.c(F32.bias - f.bias)), k.c(F32.mantBits)), k.shl(mant, k.c(F32.mantBits - f.mantBits)));
  // A subnormal mant·2^(1-bias-m) has its leading one at bit p = 31 - ctlz(mant).
  const p = k.sub(k.c(F32.width - 1), k.ctlz(mant));
  const subExp = k.add(p, k.c(F32.bias + 1 - f.bias - f.mantBits));
  const subMant = k.and(k.shl(mant, k.sub(k.c(F32.mantBits), p)), k.c(F32_MANT_MASK));
  const subnormal = k.or(k.shl(subExp, k.c(F32.mantBits)), subMant);
  let bits = k.select(k.cmp('eq', exp, k.c(0)), subnormal, normal);
  bits = k.select(k.cmp('eq', mag, k.c(0)), k.c(0), bits);
  bits = k.or(bits, sign);
  const nan = k.or(k.c(F32_QUIET_NAN), sign);
  if (f.specials === 'fn') {
    bits = k.select(k.cmp('eq', mag, k.c(magnitudeMask(f))), nan, bits);
  } else if (f.specials === 'fnuz') {
    bits = k.select(k.cmp('eq', u, k.c(signBit(f))), nan, bits);
  } else if (f.specials === 'ieee') {
    const top = k.cmp('eq', exp, k.c((1 << f.expBits) - 1));
    const special = k.select(k.cmp('eq', mant, k.c(0)), k.or(k.c(F32_INF), sign), nan);
    bits = k.select(top, special, bits);
  }
  return k.toFloat(bits, 'f32');
}

/**
 * Rounds `abs` (a non-negative source bit pattern) to the target's magnitude
 * code, nearest-even, normal and subnormal results; may exceed the largest
 * finite code (the caller checks overflow).
 */
function roundMagnitude(k: Bits, abs: string, src: IeeeFormat, f: MiniFloat): string {
  const rebias = src.bias - f.bias;
  const shift = src.mantBits - f.mantBits;
  const one = k.c(1);
  // Normal: round the mantissa in place (a carry may bump the exponent), then rebias.
  const lsb = k.and(k.shrU(abs, k.c(shift)), one);
  const rounded = k.add(abs, k.add(lsb, k.c((1n << BigInt(shift - 1)) - 1n)));
  const normal = k.sub(k.shrU(rounded, k.c(shift)), k.c(BigInt(rebias) << BigInt(f.mantBits)));
  // Subnormal: shift the significand (with its hidden one) further right; the
  // shift is clamped so that anything below half the smallest subnormal is 0.
  const exp = k.sub(k.shrU(abs, k.c(src.mantBits)), k.c(rebias));
  const sig = k.or(k.and(abs, k.c((1n << BigInt(src.mantBits)) - 1n)), k.c(1n << BigInt(src.mantBits)));
  const es = k.minS(k.maxS(k.sub(k.c(shift + 1), exp), one), k.c(src.mantBits + 2));
  const sLsb = k.and(k.shrU(sig, es), one);
  const half = k.sub(k.shl(one, k.sub(es, one)), one);
  const subnormal = k.shrU(k.add(sig, k.add(sLsb, half)), es);
  return k.select(k.cmp('sle', exp, k.c(0)), subnormal, normal);
}

/** FP8/FP4 code (i8) nearest to the f32 or f64 value `v`, with ONNX Cast's special-value rules. */
export function encodeMiniFloat(b: FuncBuilder, v: string, source: DataType.FLOAT | DataType.DOUBLE, f: MiniFloat, saturate: boolean): string {
  const src = source === DataType.DOUBLE ? F64 : F32;
  const k = new Bits(b, src.int);
  const x = k.fromFloat(v, src.float);
  const signMask = 1n << BigInt(src.width - 1);
  const infBits = signMask - (1n << BigInt(src.mantBits));
  const abs = k.and(x, k.c(signMask - 1n));
  const isNaN = k.cmp('ugt', abs, k.c(infBits));
  const isInf = k.cmp('eq', abs, k.c(infBits));
  const mag = roundMagnitude(k, abs, src, f);
  const overflow = k.cmp('ugt', mag, k.c(maxMagnitude(f)));

  const c = new Bits(b, 'i8');
  const sign = c.shl(k.trunc(k.shrU(x, k.c(src.width - 1)), 'i8'), c.c(f.bits - 1));
  const mag8 = k.trunc(mag, 'i8');
  // FNUZ has no negative zero: a result that rounds to zero is +0.
  const finiteSign = f.specials === 'fnuz' ? c.select(c.cmp('eq', mag8, c.c(0)), c.c(0), sign) : sign;
  const finite = c.or(mag8, finiteSign);
  const big = c.or(c.c(bigMagnitude(f, saturate)), f.specials === 'fnuz' && !saturate ? c.c(0) : sign);
  let r = c.select(orI1(b, overflow, isInf), big, finite);
  r = c.select(isNaN, nanCode(c, f, sign), r);
  return r;
}

/** Magnitude given to overflowing values and infinities. */
function bigMagnitude(f: MiniFloat, saturate: boolean): number {
  if (saturate || f.specials === 'none') return maxMagnitude(f);
  if (f.specials === 'ieee') return infMagnitude(f);
  if (f.specials === 'fn') return nanMagnitude(f);
  return signBit(f);
}

function nanCode(c: Bits, f: MiniFloat, sign: string): string {
  if (f.specials === 'fnuz') return c.c(signBit(f));
  // FP4 has no NaN: ml_dtypes maps NaN to its "quiet NaN" code 0b1000 (-0) and negates it for -NaN.
  if (f.specials === 'none') return c.xor(sign, c.c(signBit(f)));
  return c.or(c.c(nanMagnitude(f)), sign);
}

// ---- FLOAT8E8M0: an unsigned power-of-two scale 2^(code-127), 0xFF = NaN ----

export type E8M0RoundMode = 'up' | 'down' | 'nearest';

export const E8M0_ROUND_MODES: readonly E8M0RoundMode[] = ['up', 'down', 'nearest'];

const E8M0_NAN = 0xff;
const E8M0_MAX = 0xfe;
/** f32 bits of 2^-127 (code 0), an f32 subnormal. */
const E8M0_ZERO_CODE_F32 = 0x400000;
const F32_GUARD_BIT = 0x400000;
const F32_BELOW_GUARD = 0x3fffff;

export function decodeE8M0(b: FuncBuilder, code: string): string {
  const k = new Bits(b, 'i32');
  const u = k.extU(code, 'i8');
  let bits = k.shl(u, k.c(F32.mantBits));
  bits = k.select(k.cmp('eq', u, k.c(0)), k.c(E8M0_ZERO_CODE_F32), bits);
  bits = k.select(k.cmp('eq', u, k.c(E8M0_NAN)), k.c(F32_QUIET_NAN), bits);
  return k.toFloat(bits, 'f32');
}

/**
 * E8M0 code for the f32 `v` as onnx's to_float8e8m0 computes it: the f32
 * exponent field, rounded by `mode` from the mantissa (sign ignored;
 * NaN/Inf → 0xFF; saturation keeps 0xFE from rounding up into NaN). `up`
 * looks at the whole mantissa (the reference's mask 0x4FFFFF omits bits
 * 20-21, which contradicts the spec's "round away from zero").
 */
export function encodeE8M0(b: FuncBuilder, v: string, saturate: boolean, mode: E8M0RoundMode): string {
  const k = new Bits(b, 'i32');
  const x = k.fromFloat(v, 'f32');
  const exp = k.and(k.shrU(x, k.c(F32.mantBits)), k.c(E8M0_NAN));
  const nonzero = (mask: number) => k.cmp('ne', k.and(x, k.c(mask)), k.c(0));
  let up: string | null = null;
  if (mode === 'up') up = nonzero(F32_MANT_MASK);
  if (mode === 'nearest') {
    // Ties go up; an f32 subnormal (exponent 0) needs more than the guard bit, as in the reference.
    const tail = orI1(b, nonzero(F32_BELOW_GUARD), k.cmp('ne', exp, k.c(0)));
    up = andI1(b, nonzero(F32_GUARD_BIT), tail);
  }
  let r = exp;
  if (up !== null) {
    if (saturate) up = andI1(b, up, k.cmp('ne', exp, k.c(E8M0_MAX)));
    r = k.add(exp, k.extU(up, 'i1'));
  }
  r = k.select(k.cmp('eq', exp, k.c(E8M0_NAN)), k.c(E8M0_NAN), r);
  return k.trunc(r, 'i8');
}
