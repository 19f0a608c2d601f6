// Index machinery for folding small data-movement ops at compile time.
//
// Data-movement ops never compute new values: each output element is a copy of
// one input element (or a fill value). So they are folded in two steps that
// work for every fixed-width dtype: build an *index map* (for each output
// element, in row-major order, the flat index of its source element, or
// FILL) with the functions below, then apply it to the raw bytes with
// takeElements. Value-computing folds (Range, OneHot...) use number[] and
// numbersToTensor instead.
import { DataType, elementCount, elementSize, type OnnxTensor } from '../onnx/model.js';
import { MAX_FOLD_ELEMENTS } from './tensor-data.js';

/** Index-map entry meaning "no source element: use the fill value". */
export const FILL = -1;

/** Row-major strides of `dims` (in elements). */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

/** Flat row-major offset of multi-index `idx` in a tensor of `dims`. */
export function ravel(idx: readonly number[], strides: readonly number[]): number {
  let flat = 0;
  for (let i = 0; i < idx.length; i++) flat += idx[i] * strides[i];
  return flat;
}

/** Calls `f` for every multi-index of `dims` in row-major order (the array is reused). */
export function forEachIndex(dims: readonly number[], f: (idx: readonly number[], flat: number) => void): void {
  const n = elementCount(dims);
  const idx = new Array<number>(dims.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    f(idx, flat);
    for (let k = dims.length - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
}

/** Index map of an output of `outDims` whose element at `idx` comes from flat source `src(idx)`. */
export function indexMap(outDims: readonly number[], src: (idx: readonly number[]) => number): number[] {
  const map = new Array<number>(elementCount(outDims));
  forEachIndex(outDims, (idx, flat) => {
    map[flat] = src(idx);
  });
  return map;
}

/** Output shape of Transpose with permutation `perm`. */
export function permuteDims(dims: readonly number[], perm: readonly number[]): number[] {
  return perm.map((p) => dims[p]);
}

export function transposeMap(dims: readonly number[], perm: readonly number[]): number[] {
  const st = stridesOf(dims);
  return indexMap(permuteDims(dims, perm), (idx) => {
    let flat = 0;
    for (let k = 0; k < perm.length; k++) flat += idx[k] * st[perm[k]];
    return flat;
  });
}

/** One normalised slice per dimension: element k of the output reads start + k*step. */
export interface DimSlice {
  start: number;
  step: number;
  size: number;
}

export function sliceMap(dims: readonly number[], slices: readonly DimSlice[]): number[] {
  const st = stridesOf(dims);
  return indexMap(slices.map((s) => s.size), (idx) => {
    let flat = 0;
    for (let k = 0; k < idx.length; k++) flat += (slices[k].start + idx[k] * slices[k].step) * st[k];
    return flat;
  });
}

/** Gather along `axis` with already normalised (non-negative, in-range) indices. */
export function gatherMap(dims: readonly number[], axis: number, indices: readonly number[], indexDims: readonly number[]): number[] {
  const st = stridesOf(dims);
  const q = indexDims.length;
  const ist = stridesOf(indexDims);
  const outDims = [...dims.slice(0, axis), ...indexDims, ...dims.slice(axis + 1)];
  return indexMap(outDims, (idx) => {
    let flat = 0;
    for (let k = 0; k < axis; k++) flat += idx[k] * st[k];
    flat += indices[ravel(idx.slice(axis, axis + q), ist)] * st[axis];
    for (let k = axis + 1; k < dims.length; k++) flat += idx[k + q - 1] * st[k];
    return flat;
  });
}

/** Numpy-broadcast `dims` (right-aligned) to `outDims`. */
export function broadcastMap(dims: readonly number[], outDims: readonly number[]): number[] {
  const st = stridesOf(dims);
  const off = outDims.length - dims.length;
  return indexMap(outDims, (idx) => {
    let flat = 0;
    for (let k = 0; k < dims.length; k++) if (dims[k] !== 1) flat += idx[k + off] * st[k];
    return flat;
  });
}

/** Tile: output index d reads input index d mod n in every dimension. */
export function tileMap(dims: readonly number[], outDims: readonly number[]): number[] {
  const st = stridesOf(dims);
  return indexMap(outDims, (idx) => {
    let flat = 0;
    for (let k = 0; k < dims.length; k++) flat += (idx[k] % dims[k]) * st[k];
    return flat;
  });
}

/** Byte size of one element when data movement can copy it bytewise; null for packed and string types. */
export function elementBytes(dt: DataType): number | null {
  const size = elementSize(dt);
  return Number.isInteger(size) && size > 0 ? size : null;
}

/** Whether a folded output of `dims` is small enough to keep as a compile-time constant. */
export function smallOutput(dims: readonly number[]): boolean {
  return elementCount(dims) <= MAX_FOLD_ELEMENTS;
}

/**
 * Applies an index map to `t`'s raw bytes. FILL entries copy `fill` (one
 * element's bytes; zeros by default). Null when the dtype is not bytewise
 * copyable or the output is too large to fold.
 */
export function takeElements(t: OnnxTensor, outDims: readonly number[], map: readonly number[], fill?: Uint8Array): OnnxTensor | null {
  const size = elementBytes(t.dataType);
  if (size === null || !smallOutput(outDims)) return null;
  const data = new Uint8Array(map.length * size);
  const fillBytes = fill ?? new Uint8Array(size);
  map.forEach((src, i) => {
    if (src === FILL) data.set(fillBytes, i * size);
    else data.set(t.data.subarray(src * size, (src + 1) * size), i * size);
  });
  return { name: '', dataType: t.dataType, dims: [...outDims], data };
}

/** Same data, new dims (Reshape/Flatten/Squeeze/Unsqueeze); works for strings too. */
export function withDims(t: OnnxTensor, dims: readonly number[]): OnnxTensor {
  return { ...t, name: '', dims: [...dims] };
}

/** Concatenation along `axis` of same-dtype tensors whose other dims agree. */
export function concatTensors(ts: readonly OnnxTensor[], axis: number): OnnxTensor | null {
  const first = ts[0];
  const size = elementBytes(first.dataType);
  if (size === null) return null;
  const outer = elementCount(first.dims.slice(0, axis));
  const chunks = ts.map((t) => elementCount(t.dims.slice(axis)) * size);
  const dims = [...first.dims];
  dims[axis] = ts.reduce((a, t) => a + t.dims[axis], 0);
  if (!smallOutput(dims)) return null;
  const data = new Uint8Array(outer * chunks.reduce((a, c) => a + c, 0));
  let pos = 0;
  for (let o = 0; o < outer; o++) {
    ts.forEach((t, i) => {
      data.set(t.data.subarray(o * chunks[i], (o + 1) * chunks[i]), pos);
      pos += chunks[i];
    });
  }
  return { name: '', dataType: first.dataType, dims, data };
}

/** Bytes of element `i` of `t` (e.g. a fill value), or null for packed/string types. */
export function elementAt(t: OnnxTensor, i: number): Uint8Array | null {
  const size = elementBytes(t.dataType);
  return size === null ? null : t.data.slice(i * size, (i + 1) * size);
}

/** Normalises possibly negative indices against `n`; null if any is out of range. */
export function normalizeIndices(indices: readonly number[], n: number): number[] | null {
  const out = indices.map((i) => (i < 0 ? i + n : i));
  return out.every((i) => i >= 0 && i < n) ? out : null;
}
