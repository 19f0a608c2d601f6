// Conversions between onnxruntime-common's JS `Tensor` and the runtime's
// HostTensor. Both sides are little-endian byte buffers, so in the common case
// the conversion is a view over the same ArrayBuffer; a copy happens only when
// HostTensor bytes sit at an offset the element type cannot be viewed at.
import { Tensor } from './ort-common.js';
import { DataType, byteLength, elementCount } from '../onnx/model.js';
import type { HostTensor } from '../runtime/host-tensor.js';
import { EpError } from './errors.js';

export type OrtType = Tensor.Type;

const ORT_TO_DATA_TYPE: Readonly<Record<OrtType, DataType>> = {
  float32: DataType.FLOAT,
  uint8: DataType.UINT8,
  int8: DataType.INT8,
  uint16: DataType.UINT16,
  int16: DataType.INT16,
  int32: DataType.INT32,
  int64: DataType.INT64,
  string: DataType.STRING,
  bool: DataType.BOOL,
  float16: DataType.FLOAT16,
  float64: DataType.DOUBLE,
  uint32: DataType.UINT32,
  uint64: DataType.UINT64,
  int4: DataType.INT4,
  uint4: DataType.UINT4,
};

const DATA_TYPE_TO_ORT: ReadonlyMap<DataType, OrtType> = invertOrtTypes();

function invertOrtTypes(): Map<DataType, OrtType> {
  const m = new Map<DataType, OrtType>();
  for (const ort of Object.keys(ORT_TO_DATA_TYPE)) {
    if (isOrtType(ort)) m.set(ORT_TO_DATA_TYPE[ort], ort);
  }
  return m;
}

// HostTensor promises little-endian bytes while typed arrays use host order;
// views are only a valid conversion on little-endian hosts (all Node targets today).
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function isOrtType(s: string): s is OrtType {
  return Object.prototype.hasOwnProperty.call(ORT_TO_DATA_TYPE, s);
}

/** Printable name of an ONNX dtype: 'FLOAT8E4M3FN', or 'DataType(99)' for unknown numbers. */
export function dataTypeName(dt: DataType): string {
  const name: unknown = DataType[dt];
  return typeof name === 'string' ? name : `DataType(${dt})`;
}

export function ortTypeToDataType(type: OrtType): DataType {
  return ORT_TO_DATA_TYPE[type];
}

/** True when ORT's JS Tensor can carry `dt` (no bf16, FP8, float4, complex). */
export function isOrtRepresentable(dt: DataType): boolean {
  return DATA_TYPE_TO_ORT.has(dt);
}

export function dataTypeToOrtType(dt: DataType): OrtType {
  const t = DATA_TYPE_TO_ORT.get(dt);
  if (t === undefined) {
    throw new EpError(`dtype ${dataTypeName(dt)} cannot be represented by an onnxruntime JS Tensor; ` +
      `supported: ${[...DATA_TYPE_TO_ORT.keys()].map(dataTypeName).join(', ')}`);
  }
  return t;
}

/** Bytes of a typed array as a Uint8Array over the same memory. */
function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function assertLittleEndianHost(): void {
  if (!HOST_IS_LITTLE_ENDIAN) throw new EpError('tensor conversion requires a little-endian host');
}

/**
 * ORT tensor → HostTensor. Numeric data is a view over the tensor's buffer
 * (no copy); string tensors carry `strings` and an empty `data`.
 */
export function ortToHost(t: Tensor): HostTensor {
  if (t.location !== 'cpu' && t.location !== 'cpu-pinned') {
    throw new EpError(`ORT tensor of type ${t.type} is on '${t.location}'; expected data on the CPU`);
  }
  const dataType = ortTypeToDataType(t.type);
  const dims = [...t.dims];
  const data = t.data;
  if (Array.isArray(data)) {
    return { dataType, dims, data: new Uint8Array(0), strings: data.map(String) };
  }
  if (!ArrayBuffer.isView(data)) {
    throw new EpError(`ORT tensor of type ${t.type}: expected a typed array as data, got ${typeof data}`);
  }
  assertLittleEndianHost();
  return { dataType, dims, data: bytesOf(data) };
}

type ViewCtor =
  | Float32ArrayConstructor | Float64ArrayConstructor
  | Int8ArrayConstructor | Uint8ArrayConstructor | Int16ArrayConstructor | Uint16ArrayConstructor
  | Int32ArrayConstructor | Uint32ArrayConstructor
  | BigInt64ArrayConstructor | BigUint64ArrayConstructor;

/** The typed array ORT expects as `data` for each non-string type. */
function viewCtorFor(type: Exclude<OrtType, 'string'>): ViewCtor {
  switch (type) {
    case 'float32': return Float32Array;
    case 'float64': return Float64Array;
    case 'int8': return Int8Array;
    // ORT's runtime maps bool and the packed 4-bit types to Uint8Array (despite int4's d.ts saying Int8Array).
    case 'uint8': case 'bool': case 'int4': case 'uint4': return Uint8Array;
    case 'int16': return Int16Array;
    // ORT accepts Uint16Array for float16 and wraps it in Float16Array itself where that exists.
    case 'uint16': case 'float16': return Uint16Array;
    case 'int32': return Int32Array;
    case 'uint32': return Uint32Array;
    case 'int64': return BigInt64Array;
    case 'uint64': return BigUint64Array;
  }
}

/** A `ctor` view over `bytes`, zero-copy when the offset is aligned, else an aligned copy. */
export function typedView(ctor: ViewCtor, bytes: Uint8Array): Tensor.DataType {
  const size = ctor.BYTES_PER_ELEMENT;
  const length = Math.floor(bytes.byteLength / size);
  const buffer = bytes.buffer;
  // SharedArrayBuffer-backed data is copied too: ORT's typings (and some typed arrays') accept only ArrayBuffer.
  if (buffer instanceof ArrayBuffer && bytes.byteOffset % size === 0) return new ctor(buffer, bytes.byteOffset, length);
  const copy = new ctor(length);
  bytesOf(copy).set(bytes.subarray(0, length * size));
  return copy;
}

function checkDims(t: HostTensor): void {
  for (const d of t.dims) {
    if (!Number.isInteger(d) || d < 0) {
      throw new EpError(`HostTensor of ${dataTypeName(t.dataType)}: invalid dims [${t.dims.join(', ')}]; expected non-negative integers`);
    }
  }
}

/**
 * HostTensor → ORT tensor, viewing `t.data` in place when aligned.
 * Throws EpError for dtypes ORT JS cannot represent (bf16, FP8, float4, complex).
 */
export function hostToOrt(t: HostTensor): Tensor {
  const type = dataTypeToOrtType(t.dataType);
  checkDims(t);
  const count = elementCount(t.dims);
  const dims = [...t.dims];
  if (type === 'string') {
    const strings = t.strings ?? [];
    if (strings.length !== count) {
      throw new EpError(`STRING HostTensor [${t.dims.join(', ')}]: expected ${count} strings, got ${strings.length}`);
    }
    return new Tensor('string', strings, dims);
  }
  const expected = byteLength(t.dataType, count);
  if (t.data.byteLength !== expected) {
    throw new EpError(`${dataTypeName(t.dataType)} HostTensor [${t.dims.join(', ')}]: expected ${expected} bytes of data, got ${t.data.byteLength}`);
  }
  assertLittleEndianHost();
  return new Tensor(type, typedView(viewCtorFor(type), t.data), dims);
}
