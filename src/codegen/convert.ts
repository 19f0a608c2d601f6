// Scalar conversion between any two dtypes generated code can hold, including
// the small types: FP8/E8M0/FP4 go through their integer encoders/decoders
// (codegen/small-floats.ts), sub-byte integers through codegen/int4.ts, and
// everything else through convertScalar.
import { DataType } from '../onnx/model.js';
import { bitWidth, isSmallFloat, subByteBits } from '../ir/types.js';
import { elemType, type FuncBuilder } from './mlir-builder.js';
import { convertScalar } from './scalar.js';
import { normalizeSubByte, storageIntType, toSubByteInt } from './int4.js';
import {
  decodeE8M0, decodeMiniFloat, encodeE8M0, encodeMiniFloat, encoderSource, miniFloat, type E8M0RoundMode,
} from './small-floats.js';

/** The Cast attributes that affect conversions to FP8 / E8M0. */
export interface CastOptions {
  saturate: boolean;
  roundMode: E8M0RoundMode;
}

export const DEFAULT_CAST: CastOptions = { saturate: true, roundMode: 'up' };

const BYTE_BITS = 8;

/** f32 value of a small-float code (exact). */
export function smallFloatToF32(b: FuncBuilder, v: string, dt: DataType): string {
  return dt === DataType.FLOAT8E8M0 ? decodeE8M0(b, v) : decodeMiniFloat(b, v, miniFloat(dt));
}

function toSmallFloat(b: FuncBuilder, v: string, from: DataType, to: DataType, opts: CastOptions): string {
  if (to === DataType.FLOAT8E8M0) {
    // The reference converts to f32 first, whatever the source type.
    return encodeE8M0(b, convertScalar(b, v, from, DataType.FLOAT), opts.saturate, opts.roundMode);
  }
  const source = encoderSource(from);
  return encodeMiniFloat(b, convertScalar(b, v, from, source), source, miniFloat(to), opts.saturate);
}

/** Converts scalar `v` of dtype `from` to dtype `to` with ONNX Cast semantics. */
export function convertValue(b: FuncBuilder, v: string, from: DataType, to: DataType, opts: CastOptions = DEFAULT_CAST): string {
  if (from === to) return v;
  let x = v;
  let src = from;
  if (isSmallFloat(src)) {
    x = smallFloatToF32(b, x, src);
    src = DataType.FLOAT;
  } else if (subByteBits(src) !== null) {
    src = storageIntType(src);
  }
  if (isSmallFloat(to)) return toSmallFloat(b, x, src, to, opts);
  if (subByteBits(to) !== null) return toSubByteInt(b, x, src, to);
  return convertScalar(b, x, src, to);
}

/** Storage bits of one element as BitCast counts them (bool is a byte). */
export function storageBits(dt: DataType): number {
  if (dt === DataType.BOOL) return BYTE_BITS;
  return subByteBits(dt) ?? bitWidth(dt);
}

/** Reinterprets the bits of scalar `v` (BitCast); `from` and `to` have the same storage width. */
export function bitcastValue(b: FuncBuilder, v: string, from: DataType, to: DataType): string {
  if (to === DataType.BOOL && from !== DataType.BOOL) {
    // Any nonzero byte reads as true.
    return b.op(`arith.cmpi ne, ${v}, ${b.constant('0', 'i8')} : i8`);
  }
  if (from === DataType.BOOL && to !== DataType.BOOL) return b.op(`arith.extui ${v} : i1 to i8`);
  // Sub-byte values are held sign- or zero-extended; re-extend the low bits for the target.
  if (subByteBits(to) !== null) return normalizeSubByte(b, v, to);
  const fe = elemType(from);
  const te = elemType(to);
  return fe === te ? v : b.op(`arith.bitcast ${v} : ${fe} to ${te}`);
}
