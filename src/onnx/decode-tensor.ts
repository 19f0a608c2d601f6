// TensorProto → OnnxTensor: whichever field holds the payload (raw_data, a
// typed *_data field, or an external file) ends up as the little-endian bytes
// raw_data would hold, so nothing downstream cares how the tensor was stored.

import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, posix, relative, resolve, win32 } from 'node:path';
import { byteLength, DataType, elementCount, OnnxDecodeError, type OnnxTensor } from './model.js';
import {
  bytesList, bytesOf, dataTypeOf, floats, has, int, isLong, isMsg, list, str, sub, subs, toBigInt, toSafeNumber,
  type Msg,
} from './proto.js';

export interface TensorDecodeOptions {
  /** Directory of the model file; external data locations resolve against it. */
  baseDir?: string;
}

/** Which typed field onnx.proto assigns to each data type. */
type Storage = 'float_data' | 'double_data' | 'int32_data' | 'int64_data' | 'uint64_data' | 'string_data';

const TYPED_FIELDS: readonly Storage[] = [
  'float_data', 'double_data', 'int32_data', 'int64_data', 'uint64_data', 'string_data',
];

function storageOf(t: DataType): Storage {
  switch (t) {
    case DataType.FLOAT: case DataType.COMPLEX64: return 'float_data';
    case DataType.DOUBLE: case DataType.COMPLEX128: return 'double_data';
    case DataType.INT64: return 'int64_data';
    case DataType.UINT32: case DataType.UINT64: return 'uint64_data';
    case DataType.STRING: return 'string_data';
    default: return 'int32_data';
  }
}

const label = (name: string): string => `tensor '${name}'`;

/** A decoded TensorProto message (e.g. a node's raw attribute) → OnnxTensor. */
export function decodeTensorProtoMessage(msg: unknown, opts: TensorDecodeOptions = {}): OnnxTensor {
  if (!isMsg(msg)) throw new OnnxDecodeError('tensor: expected a decoded TensorProto message');
  const m = msg;
  const name = str(m, 'name');
  const what = label(name);
  const dataType = dataTypeOf(int(m, 'data_type', what), `${what}.data_type`);
  if (dataType === DataType.UNDEFINED) throw new OnnxDecodeError(`${what}: data_type is UNDEFINED`);
  const dims = tensorDims(m, what);
  if (has(m, 'segment')) throw new OnnxDecodeError(`${what}: segmented tensors are not supported`);
  const count = elementCount(dims);
  if (dataType === DataType.STRING) return stringTensor(m, name, dims, count);
  const data = payload(m, name, dataType, count, opts);
  const expected = byteLength(dataType, count);
  if (data.length !== expected) {
    throw new OnnxDecodeError(
      `${what}: ${DataType[dataType]}[${dims.join(',')}] needs ${expected} bytes of data, found ${data.length}`,
    );
  }
  return { name, dataType, dims, data };
}

function tensorDims(m: Msg, what: string): number[] {
  return list(m, 'dims').map((v, i) => {
    const d = toBigInt(v, `${what}.dims[${i}]`);
    if (d < 0n || d > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new OnnxDecodeError(`${what}: dims[${i}] = ${d} is not a valid dimension`);
    }
    return Number(d);
  });
}

function stringTensor(m: Msg, name: string, dims: number[], count: number): OnnxTensor {
  const what = label(name);
  if (bytesOf(m, 'raw_data')?.length || isExternal(m)) {
    throw new OnnxDecodeError(`${what}: STRING tensors must use string_data, not raw_data or external data`);
  }
  const strings = bytesList(m, 'string_data', what);
  if (strings.length !== count) {
    throw new OnnxDecodeError(`${what}: STRING[${dims.join(',')}] needs ${count} strings, found ${strings.length}`);
  }
  return { name, dataType: DataType.STRING, dims, data: new Uint8Array(0), strings };
}

function isExternal(m: Msg): boolean {
  return int(m, 'data_location', 'tensor') === 1;
}

function payload(m: Msg, name: string, t: DataType, count: number, opts: TensorDecodeOptions): Uint8Array {
  if (isExternal(m)) return readExternal(m, name, byteLength(t, count), opts.baseDir);
  const field = storageOf(t);
  const used = TYPED_FIELDS.find((f) => list(m, f).length > 0);
  // protobufjs hands out raw_data as a view into the input: zero-copy. An
  // empty raw_data next to a filled typed field is a writer quirk, not data.
  const raw = bytesOf(m, 'raw_data');
  if (raw && (raw.length > 0 || used === undefined)) return raw;
  if (used === undefined) return new Uint8Array(0);
  if (used !== field) {
    throw new OnnxDecodeError(`${label(name)}: ${DataType[t]} data must be in ${field}, found ${used}`);
  }
  return typedPayload(m, name, t, field, count);
}

function typedPayload(m: Msg, name: string, t: DataType, field: Storage, count: number): Uint8Array {
  const what = label(name);
  switch (field) {
    case 'float_data': return bytesOfView(Float32Array.from(floats(m, field, what)));
    case 'double_data': return bytesOfView(Float64Array.from(floats(m, field, what)));
    case 'int64_data': return int64Bytes(list(m, field), what, field);
    case 'uint64_data': return uint64Bytes(list(m, field), t, what);
    case 'int32_data': return int32Bytes(list(m, field), t, count, what);
    case 'string_data': throw new OnnxDecodeError(`${what}: string_data on a ${DataType[t]} tensor`);
  }
}

// Typed arrays are little-endian on every platform Node supports; DataView
// keeps that explicit where we write lanes by hand.
function bytesOfView(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function int64Bytes(values: readonly unknown[], what: string, field: string): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (isLong(v)) {
      // The two 32-bit halves are the exact two's-complement bits.
      view.setInt32(i * 8, v.low, true);
      view.setInt32(i * 8 + 4, v.high, true);
    } else {
      view.setBigInt64(i * 8, BigInt.asIntN(64, toBigInt(v, `${what}.${field}[${i}]`)), true);
    }
  });
  return out;
}

function uint64Bytes(values: readonly unknown[], t: DataType, what: string): Uint8Array {
  if (t === DataType.UINT64) return int64Bytes(values, what, 'uint64_data');
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    const n = toBigInt(v, `${what}.uint64_data[${i}]`);
    if (n < 0n || n > 0xffffffffn) throw new OnnxDecodeError(`${what}: uint64_data[${i}] = ${n} overflows UINT32`);
    view.setUint32(i * 4, Number(n), true);
  });
  return out;
}

/** Bytes per int32_data entry and how many entries `count` elements take. */
function int32Layout(t: DataType, count: number): { width: 1 | 2 | 4; entries: number } {
  switch (t) {
    case DataType.INT32: return { width: 4, entries: count };
    case DataType.INT16: case DataType.UINT16: case DataType.FLOAT16: case DataType.BFLOAT16:
      return { width: 2, entries: count };
    // onnx.proto: each int32_data entry holds one packed byte, i.e. two 4-bit
    // or four 2-bit elements, first element in the least significant bits.
    case DataType.INT4: case DataType.UINT4: case DataType.FLOAT4E2M1:
      return { width: 1, entries: Math.ceil(count / 2) };
    case DataType.INT2: case DataType.UINT2: return { width: 1, entries: Math.ceil(count / 4) };
    default: return { width: 1, entries: count };
  }
}

function int32Bytes(values: readonly unknown[], t: DataType, count: number, what: string): Uint8Array {
  const { width, entries } = int32Layout(t, count);
  if (values.length !== entries) {
    throw new OnnxDecodeError(`${what}: ${DataType[t]} with ${count} elements needs ${entries} int32_data entries, found ${values.length}`);
  }
  const out = new Uint8Array(entries * width);
  const view = new DataView(out.buffer);
  // Accept both the signed and the unsigned reading of each lane.
  const lo = width === 4 ? -0x80000000 : -(2 ** (8 * width - 1));
  const hi = width === 4 ? 0x7fffffff : 2 ** (8 * width) - 1;
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
      throw new OnnxDecodeError(`${what}: int32_data[${i}] = ${String(v)} does not fit ${DataType[t]}`);
    }
    if (width === 4) view.setInt32(i * 4, v, true);
    else if (width === 2) view.setUint16(i * 2, v & 0xffff, true);
    else out[i] = v & 0xff;
  });
  return out;
}

// ---------------------------------------------------------------------------
// External data

function externalEntries(m: Msg, what: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const e of subs(m, 'external_data', what)) entries.set(str(e, 'key'), str(e, 'value'));
  return entries;
}

function parseExtInt(v: string | undefined, key: string, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new OnnxDecodeError(`${what}: external_data ${key} '${v}' is not a non-negative integer`);
  }
  return Number(v);
}

function readExternal(m: Msg, name: string, expected: number, baseDir: string | undefined): Uint8Array {
  const what = label(name);
  const entries = externalEntries(m, what);
  const location = entries.get('location');
  if (!location) throw new OnnxDecodeError(`${what}: external data without a 'location'`);
  const offset = parseExtInt(entries.get('offset'), 'offset', what) ?? 0;
  const length = parseExtInt(entries.get('length'), 'length', what);
  if (baseDir === undefined) {
    throw new OnnxDecodeError(`${what}: data is in external file '${location}' but no baseDir was given`);
  }
  const path = resolveExternalPath(baseDir, location, what);
  return readRange(path, offset, length, expected, what);
}

/** Keeps `location` inside `baseDir`, also through symlinks. */
export function resolveExternalPath(baseDir: string, location: string, what: string): string {
  if (location.includes('\0') || isAbsolute(location) || posix.isAbsolute(location) || win32.isAbsolute(location)) {
    throw new OnnxDecodeError(`${what}: external data location '${location}' must be a relative path`);
  }
  const base = resolve(baseDir);
  const path = resolve(base, location);
  if (escapes(base, path)) {
    throw new OnnxDecodeError(`${what}: external data location '${location}' escapes the model directory`);
  }
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new OnnxDecodeError(`${what}: external data file '${location}' not found (looked for ${path})`);
  }
  if (escapes(realpathSync(base), real)) {
    throw new OnnxDecodeError(`${what}: external data location '${location}' resolves outside the model directory`);
  }
  return real;
}

function escapes(base: string, path: string): boolean {
  const rel = relative(base, path);
  return rel === '..' || rel.startsWith(`..${posix.sep}`) || rel.startsWith(`..${win32.sep}`) || isAbsolute(rel);
}

function readRange(path: string, offset: number, length: number | undefined, expected: number, what: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new OnnxDecodeError(`${what}: cannot open external data file ${path}`, { cause: e });
  }
  try {
    const size = fstatSync(fd).size;
    const n = length ?? size - offset;
    if (offset > size || n < 0 || offset + n > size) {
      throw new OnnxDecodeError(`${what}: external data range [${offset}, ${offset + n}) exceeds ${path} (${size} bytes)`);
    }
    // Checked before allocating, so a bogus length cannot exhaust memory.
    if (n !== expected) throw new OnnxDecodeError(`${what}: needs ${expected} bytes of data, external file range has ${n}`);
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      const got = readSync(fd, out, done, n - done, offset + done);
      if (got === 0) throw new OnnxDecodeError(`${what}: unexpected end of external data file ${path}`);
      done += got;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// Sparse tensors

/** Densifies a SparseTensorProto (sparse initializers, Constant's sparse_value). */
export function decodeSparseTensor(msg: unknown, opts: TensorDecodeOptions = {}): OnnxTensor {
  if (!isMsg(msg)) throw new OnnxDecodeError('sparse tensor: expected a decoded SparseTensorProto message');
  const m = msg;
  const valuesMsg = sub(m, 'values');
  const indicesMsg = sub(m, 'indices');
  if (!valuesMsg || !indicesMsg) throw new OnnxDecodeError('sparse tensor: values and indices are required');
  const values = decodeTensorProtoMessage(valuesMsg, opts);
  const what = `sparse tensor '${values.name}'`;
  const dims = list(m, 'dims').map((v, i) => toSafeNumber(v, `${what}.dims[${i}]`));
  const linear = sparseLinearIndices(decodeTensorProtoMessage(indicesMsg, opts), dims, what);
  const nnz = elementCount(values.dims);
  if (linear.length !== nnz) throw new OnnxDecodeError(`${what}: ${nnz} values but ${linear.length} indices`);
  return scatter(values, dims, linear, what);
}

function sparseLinearIndices(indices: OnnxTensor, dims: number[], what: string): number[] {
  if (indices.dataType !== DataType.INT64) throw new OnnxDecodeError(`${what}: indices must be INT64`);
  const view = new DataView(indices.data.buffer, indices.data.byteOffset, indices.data.byteLength);
  const flat = Array.from({ length: indices.data.length / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
  if (indices.dims.length === 1) return flat;
  const rank = dims.length;
  if (indices.dims.length !== 2 || indices.dims[1] !== rank) {
    throw new OnnxDecodeError(`${what}: indices must have shape [NNZ] or [NNZ, ${rank}]`);
  }
  const out: number[] = [];
  for (let i = 0; i < indices.dims[0]; i++) {
    let lin = 0;
    for (let j = 0; j < rank; j++) lin = lin * dims[j] + flat[i * rank + j];
    out.push(lin);
  }
  return out;
}

function scatter(values: OnnxTensor, dims: number[], linear: number[], what: string): OnnxTensor {
  const count = elementCount(dims);
  if (linear.some((k) => !Number.isInteger(k) || k < 0 || k >= count)) {
    throw new OnnxDecodeError(`${what}: index out of range for shape [${dims.join(',')}]`);
  }
  if (values.dataType === DataType.STRING) {
    const strings: Uint8Array[] = Array.from({ length: count }, () => new Uint8Array(0));
    linear.forEach((k, i) => { strings[k] = values.strings?.[i] ?? new Uint8Array(0); });
    return { name: values.name, dataType: DataType.STRING, dims, data: new Uint8Array(0), strings };
  }
  const size = byteLength(values.dataType, 1);
  if (!Number.isInteger(byteLength(values.dataType, 2) / 2)) {
    throw new OnnxDecodeError(`${what}: sparse ${DataType[values.dataType]} tensors are not supported`);
  }
  const data = new Uint8Array(byteLength(values.dataType, count));
  linear.forEach((k, i) => data.set(values.data.subarray(i * size, (i + 1) * size), k * size));
  return { name: values.name, dataType: values.dataType, dims, data };
}
