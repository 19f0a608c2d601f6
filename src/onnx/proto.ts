// The protobufjs reflection root for onnx.proto plus small validating
// accessors. protobufjs messages are untyped bags of fields, so every read in
// this layer goes through these helpers instead of casts.

import protobuf from 'protobufjs';
import { DataType, OnnxDecodeError } from './model.js';
import { onnxProtoJson } from './onnx-proto-json.js';

export const onnxRoot: protobuf.Root = protobuf.Root.fromJSON(onnxProtoJson);

const lookup = (name: string): protobuf.Type => onnxRoot.lookupType(`onnx.${name}`);

export const ModelProto = lookup('ModelProto');
export const GraphProto = lookup('GraphProto');
export const NodeProto = lookup('NodeProto');
export const TensorProto = lookup('TensorProto');
export const SparseTensorProto = lookup('SparseTensorProto');
export const FunctionProto = lookup('FunctionProto');
export const SequenceProto = lookup('SequenceProto');
export const OptionalProto = lookup('OptionalProto');
export const MapProto = lookup('MapProto');

/** A decoded protobuf message (or a plain object shaped like one). */
export type Msg = { readonly [field: string]: unknown };

export function isMsg(v: unknown): v is Msg {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** Decodes `bytes` as `type`, turning every protobufjs failure into OnnxDecodeError. */
export function decodeMessage(type: protobuf.Type, bytes: Uint8Array, what: string): Msg {
  if (!(bytes instanceof Uint8Array)) throw new OnnxDecodeError(`${what}: expected a Uint8Array`);
  // A Node Buffer would make protobufjs hand out Buffer slices, whose slice()
  // does not copy; a plain view keeps every bytes field a plain Uint8Array.
  const plain = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let decoded: unknown;
  try {
    decoded = type.decode(plain);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new OnnxDecodeError(`${what}: malformed or truncated ${type.name} (${reason})`, { cause: e });
  }
  if (!isMsg(decoded)) throw new OnnxDecodeError(`${what}: ${type.name} did not decode to a message`);
  return decoded;
}

/**
 * Runs a decode step, reporting resource failures (stack overflow on absurdly
 * nested graphs, typed arrays too large to allocate) as OnnxDecodeError too.
 */
export function guardDecode<T>(what: string, run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof RangeError) throw new OnnxDecodeError(`${what}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** proto2 presence: protobufjs sets only the fields present on the wire as own properties. */
export function has(m: Msg, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(m, field) && m[field] !== undefined && m[field] !== null;
}

export function str(m: Msg, field: string): string {
  const v = m[field];
  return typeof v === 'string' ? v : '';
}

export function bytesOf(m: Msg, field: string): Uint8Array | undefined {
  const v = m[field];
  return has(m, field) && v instanceof Uint8Array ? v : undefined;
}

export function sub(m: Msg, field: string): Msg | undefined {
  const v = m[field];
  return has(m, field) && isMsg(v) ? v : undefined;
}

export function list(m: Msg, field: string): readonly unknown[] {
  const v = m[field];
  return Array.isArray(v) ? v : [];
}

export function subs(m: Msg, field: string, what: string): Msg[] {
  return list(m, field).map((v, i) => {
    if (!isMsg(v)) throw new OnnxDecodeError(`${what}: ${field}[${i}] is not a message`);
    return v;
  });
}

export function strs(m: Msg, field: string): string[] {
  return list(m, field).map((v) => (typeof v === 'string' ? v : ''));
}

export function bytesList(m: Msg, field: string, what: string): Uint8Array[] {
  return list(m, field).map((v, i) => {
    if (!(v instanceof Uint8Array)) throw new OnnxDecodeError(`${what}: ${field}[${i}] is not bytes`);
    return v;
  });
}

/** protobufjs represents 64-bit integers as `long` objects. */
export interface LongLike {
  readonly low: number;
  readonly high: number;
  readonly unsigned: boolean;
}

export function isLong(v: unknown): v is LongLike {
  return isMsg(v) && typeof v.low === 'number' && typeof v.high === 'number' && typeof v.unsigned === 'boolean';
}

/** Exact value of a protobuf integer field value (number or Long). */
export function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'bigint') return v;
  if (isLong(v)) {
    const bits = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
    return v.unsigned ? bits : BigInt.asIntN(64, bits);
  }
  throw new OnnxDecodeError(`${what}: expected an integer, got ${typeof v}`);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A protobuf integer as a JS number, saturated to ±MAX_SAFE_INTEGER: int64
 * attributes use INT64_MAX/MIN as "to the end" sentinels (Slice), which must
 * stay huge rather than wrap or throw.
 */
export function toSafeNumber(v: unknown, what: string): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new OnnxDecodeError(`${what}: expected an integer, got ${v}`);
    return Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, v));
  }
  const b = toBigInt(v, what);
  if (b > MAX_SAFE) return Number.MAX_SAFE_INTEGER;
  if (b < -MAX_SAFE) return -Number.MAX_SAFE_INTEGER;
  return Number(b);
}

/** An integer field that is 0 when absent. */
export function int(m: Msg, field: string, what: string): number {
  return has(m, field) ? toSafeNumber(m[field], `${what}.${field}`) : 0;
}

export function ints(m: Msg, field: string, what: string): number[] {
  return list(m, field).map((v, i) => toSafeNumber(v, `${what}.${field}[${i}]`));
}

export function floats(m: Msg, field: string, what: string): number[] {
  return list(m, field).map((v, i) => {
    if (typeof v !== 'number') throw new OnnxDecodeError(`${what}: ${field}[${i}] is not a number`);
    return v;
  });
}

export function isDataType(n: number): n is DataType {
  return Number.isInteger(n) && typeof DataType[n] === 'string';
}

export function dataTypeOf(n: number, what: string): DataType {
  if (!isDataType(n)) throw new OnnxDecodeError(`${what}: unknown TensorProto.DataType ${n}`);
  return n;
}

/** 'ai.onnx' and '' name the same (default) operator set. */
export function normaliseDomain(domain: string): string {
  return domain === 'ai.onnx' ? '' : domain;
}

const utf8 = new TextDecoder('utf-8');
export const utf8Decode = (b: Uint8Array): string => utf8.decode(b);
const utf8enc = new TextEncoder();
export const utf8Encode = (s: string): Uint8Array => utf8enc.encode(s);
