// Reading and writing small constant tensors as JS numbers, for shape
// computations and constant folding at compile time.
import { DataType, byteLength, elementCount, type OnnxTensor } from '../onnx/model.js';
import { dtypeName } from '../ir/types.js';
import { ImportError } from './registry.js';

/** Largest constant folded at compile time; bigger ones are computed by generated code. */
export const MAX_FOLD_ELEMENTS = 4096;

function view(t: OnnxTensor): DataView {
  return new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

type Reader = (dv: DataView, i: number) => number;
type Writer = (dv: DataView, i: number, v: number) => void;

const READERS: Partial<Record<DataType, Reader>> = {
  [DataType.FLOAT]: (dv, i) => dv.getFloat32(i * 4, true),
  [DataType.DOUBLE]: (dv, i) => dv.getFloat64(i * 8, true),
  [DataType.INT8]: (dv, i) => dv.getInt8(i),
  [DataType.UINT8]: (dv, i) => dv.getUint8(i),
  [DataType.BOOL]: (dv, i) => dv.getUint8(i),
  [DataType.INT16]: (dv, i) => dv.getInt16(i * 2, true),
  [DataType.UINT16]: (dv, i) => dv.getUint16(i * 2, true),
  [DataType.INT32]: (dv, i) => dv.getInt32(i * 4, true),
  [DataType.UINT32]: (dv, i) => dv.getUint32(i * 4, true),
  [DataType.INT64]: (dv, i) => clampBig(dv.getBigInt64(i * 8, true)),
  [DataType.UINT64]: (dv, i) => clampBig(dv.getBigUint64(i * 8, true)),
  [DataType.FLOAT16]: (dv, i) => halfToFloat(dv.getUint16(i * 2, true)),
  [DataType.BFLOAT16]: (dv, i) => bfloatToFloat(dv.getUint16(i * 2, true)),
};

const WRITERS: Partial<Record<DataType, Writer>> = {
  [DataType.FLOAT]: (dv, i, v) => dv.setFloat32(i * 4, v, true),
  [DataType.DOUBLE]: (dv, i, v) => dv.setFloat64(i * 8, v, true),
  [DataType.INT8]: (dv, i, v) => dv.setInt8(i, v),
  [DataType.UINT8]: (dv, i, v) => dv.setUint8(i, v),
  [DataType.BOOL]: (dv, i, v) => dv.setUint8(i, v ? 1 : 0),
  [DataType.INT16]: (dv, i, v) => dv.setInt16(i * 2, v, true),
  [DataType.UINT16]: (dv, i, v) => dv.setUint16(i * 2, v, true),
  [DataType.INT32]: (dv, i, v) => dv.setInt32(i * 4, v, true),
  [DataType.UINT32]: (dv, i, v) => dv.setUint32(i * 4, v, true),
  [DataType.INT64]: (dv, i, v) => dv.setBigInt64(i * 8, BigInt(Math.trunc(v)), true),
  [DataType.UINT64]: (dv, i, v) => dv.setBigUint64(i * 8, BigInt.asUintN(64, BigInt(Math.trunc(v))), true),
};

function clampBig(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (v < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(v);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 0x1f) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** bfloat16 is the top half of a float32. */
function bfloatToFloat(h: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, h << 16);
  return dv.getFloat32(0);
}

export function canHoldNumbers(dt: DataType): boolean {
  return READERS[dt] !== undefined && WRITERS[dt] !== undefined;
}

export function tensorToNumbers(t: OnnxTensor): number[] {
  const read = READERS[t.dataType];
  if (!read) throw new ImportError(`tensor '${t.name}': cannot read ${dtypeName(t.dataType)} values at compile time`);
  const dv = view(t);
  const n = elementCount(t.dims);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = read(dv, i);
  return out;
}

export function numbersToTensor(name: string, dataType: DataType, dims: readonly number[], values: readonly number[]): OnnxTensor {
  const write = WRITERS[dataType];
  if (!write) throw new ImportError(`tensor '${name}': cannot build ${dtypeName(dataType)} values at compile time`);
  const data = new Uint8Array(byteLength(dataType, values.length));
  const dv = new DataView(data.buffer);
  values.forEach((v, i) => write(dv, i, v));
  return { name, dataType, dims: [...dims], data };
}

export function isSmallConstant(t: OnnxTensor): boolean {
  return elementCount(t.dims) <= MAX_FOLD_ELEMENTS;
}
