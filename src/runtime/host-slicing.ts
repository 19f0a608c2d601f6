// Byte-level tensor reshuffling the runtime needs on the host: taking one
// slice along an axis (Scan inputs), stacking per-iteration results along an
// axis (Scan and Loop outputs), and keeping a leading part of an axis (outputs
// of data-dependent size, written at their largest size by compiled code). Whole elements only: sub-byte
// and string tensors never reach here (the compiler keeps such bodies on the CPU EP).
import { DataType, byteLength, elementCount } from '../onnx/model.js';
import type { HostTensor } from './host-tensor.js';

export class SlicingError extends Error {
  override name = 'SlicingError';
}

function elementBytes(t: DataType): number {
  const n = byteLength(t, 1);
  if (t === DataType.STRING || !Number.isInteger(n) || byteLength(t, 2) !== 2 * n) {
    throw new SlicingError(`cannot slice ${DataType[t]} tensors on the host`);
  }
  return n;
}

/** Normalises `axis` (possibly negative) against `rank`. */
export function normalizeAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new SlicingError(`${what}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** `t` indexed at `index` along `axis`: the result drops that axis. */
export function takeAlongAxis(t: HostTensor, axis: number, index: number): HostTensor {
  const es = elementBytes(t.dataType);
  const len = t.dims[axis];
  if (index < 0 || index >= len) throw new SlicingError(`index ${index} out of range for axis ${axis} of length ${len}`);
  const outer = elementCount(t.dims.slice(0, axis));
  const inner = elementCount(t.dims.slice(axis + 1)) * es;
  const data = new Uint8Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    const src = (o * len + index) * inner;
    data.set(t.data.subarray(src, src + inner), o * inner);
  }
  return { dataType: t.dataType, dims: [...t.dims.slice(0, axis), ...t.dims.slice(axis + 1)], data };
}

/** The first `count` entries of `t` along `axis` (a view when that is contiguous). */
export function narrowAlongAxis(t: HostTensor, axis: number, count: number): HostTensor {
  const es = elementBytes(t.dataType);
  const len = t.dims[axis];
  if (!Number.isInteger(count) || count < 0 || count > len) throw new SlicingError(`count ${count} out of range for axis ${axis} of length ${len}`);
  const dims = t.dims.map((d, i) => (i === axis ? count : d));
  const outer = elementCount(t.dims.slice(0, axis));
  const inner = elementCount(t.dims.slice(axis + 1)) * es;
  if (outer === 1 || count === len) return { dataType: t.dataType, dims, data: t.data.subarray(0, outer * count * inner) };
  const data = new Uint8Array(outer * count * inner);
  for (let o = 0; o < outer; o++) data.set(t.data.subarray(o * len * inner, (o * len + count) * inner), o * count * inner);
  return { dataType: t.dataType, dims, data };
}

/** Stacks equally shaped `parts` along a new `axis` (0 ≤ axis ≤ rank of a part). */
export function stackAlongAxis(parts: readonly HostTensor[], axis: number, what: string): HostTensor {
  const first = parts[0];
  if (!first) throw new SlicingError(`${what}: nothing to stack`);
  const es = elementBytes(first.dataType);
  for (const p of parts) {
    if (p.dataType !== first.dataType || p.dims.length !== first.dims.length || p.dims.some((d, i) => d !== first.dims[i])) {
      throw new SlicingError(`${what}: iterations produced different shapes ([${first.dims.join(',')}] and [${p.dims.join(',')}])`);
    }
  }
  const n = parts.length;
  const outer = elementCount(first.dims.slice(0, axis));
  const inner = elementCount(first.dims.slice(axis)) * es;
  const data = new Uint8Array(outer * n * inner);
  for (let o = 0; o < outer; o++) {
    parts.forEach((p, t) => data.set(p.data.subarray(o * inner, (o + 1) * inner), (o * n + t) * inner));
  }
  return { dataType: first.dataType, dims: [...first.dims.slice(0, axis), n, ...first.dims.slice(axis)], data };
}

/** An empty tensor (zero elements) of the given dims. */
export function emptyTensor(dataType: DataType, dims: number[]): HostTensor {
  return { dataType, dims, data: new Uint8Array(0) };
}

/** The single boolean of a condition tensor. */
export function readCondition(t: HostTensor, what: string): boolean {
  if (t.dataType !== DataType.BOOL || elementCount(t.dims) !== 1) {
    throw new SlicingError(`${what}: expected a single bool, got ${DataType[t.dataType]}[${t.dims.join(',')}]`);
  }
  return t.data[0] !== 0;
}

/** The single integer of a trip-count tensor (int64). */
export function readTripCount(t: HostTensor, what: string): bigint {
  if (t.dataType !== DataType.INT64 || elementCount(t.dims) !== 1) {
    throw new SlicingError(`${what}: expected a single int64, got ${DataType[t.dataType]}[${t.dims.join(',')}]`);
  }
  return new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength).getBigInt64(0, true);
}

export function int64Scalar(v: number): HostTensor {
  const data = new Uint8Array(8);
  new DataView(data.buffer).setBigInt64(0, BigInt(v), true);
  return { dataType: DataType.INT64, dims: [], data };
}

export function boolScalar(v: boolean): HostTensor {
  return { dataType: DataType.BOOL, dims: [], data: new Uint8Array([v ? 1 : 0]) };
}
