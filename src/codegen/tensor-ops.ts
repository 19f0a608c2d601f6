// Tensor-level building blocks shared by the compute-heavy lowerings (matmul,
// conv, pooling, normalisation): typed SSA tensors, reshapes, padding, slices,
// dtype conversion and broadcasting copies.
//
// Padding is tensor.pad: it bufferizes to a fill (a vectorized loop) and a
// memref.copy of the interior, which lowers to `memrefCopy` (row memcpys;
// the libraries carry it, toolchain/runtime-support.ts). Strided placement
// (ConvTranspose's input dilation) is a gather-form linalg.generic, which
// costs a vector gather per element. Fill + tensor.insert_slice is avoided:
// it stops bufferizing in place once CSE merges equal fills. Slices are
// views copied out with linalg.copy, which becomes loops.
import type { DataType } from '../onnx/model.js';
import { convertScalar } from './scalar.js';
import { FuncBuilder, affineMap, elemType, identityMap, tensorTypeOf } from './mlir-builder.js';

/** An SSA tensor with its static type. */
export interface Tensor {
  value: string;
  dt: DataType;
  shape: number[];
}

export function typeOf(t: Tensor): string {
  return tensorTypeOf(t.dt, t.shape);
}

export function elemOf(t: Tensor): string {
  return elemType(t.dt);
}

/** `[a, b, c]` for MLIR static index lists. */
export function indexList(values: readonly number[]): string {
  return `[${values.join(', ')}]`;
}

/** `dense<[..]> : tensor<Nxi64>`, the attribute form of strides / dilations. */
export function denseI64(values: readonly number[]): string {
  return `dense<${indexList(values)}> : tensor<${values.length}xi64>`;
}

/** A fresh tensor of `shape` filled with `scalar` (an SSA value of dtype `dt`). */
export function filled(b: FuncBuilder, dt: DataType, shape: number[], scalar: string): Tensor {
  const type = tensorTypeOf(dt, shape);
  return { value: b.fill(scalar, elemType(dt), type), dt, shape };
}

function reassociationText(groups: readonly number[][]): string {
  return `[${groups.map((g) => indexList(g)).join(', ')}]`;
}

/** tensor.expand_shape with explicit groups (each group of result dims forms one source dim). */
export function expandShape(b: FuncBuilder, t: Tensor, groups: number[][], shape: number[]): Tensor {
  const out: Tensor = { value: '', dt: t.dt, shape };
  if (sameShape(t.shape, shape)) return t;
  out.value = b.op(`tensor.expand_shape ${t.value} ${reassociationText(groups)} output_shape ${indexList(shape)} : ${typeOf(t)} into ${typeOf(out)}`, 'r');
  return out;
}

/** tensor.collapse_shape with explicit groups (each group of source dims becomes one result dim). */
export function collapseShape(b: FuncBuilder, t: Tensor, groups: number[][]): Tensor {
  const shape = groups.map((g) => g.reduce((p, i) => p * t.shape[i], 1));
  if (sameShape(t.shape, shape)) return t;
  const out: Tensor = { value: '', dt: t.dt, shape };
  out.value = b.op(`tensor.collapse_shape ${t.value} ${reassociationText(groups)} : ${typeOf(t)} into ${typeOf(out)}`, 'r');
  return out;
}

function sameShape(a: readonly number[], c: readonly number[]): boolean {
  return a.length === c.length && a.every((d, i) => d === c[i]);
}

/**
 * Groups for removing the unit dims `drop` from a tensor of rank `rank`: each
 * dropped dim joins the next kept dim (or the previous one at the end).
 */
function unitDimGroups(rank: number, drop: readonly number[]): number[][] {
  const kept = Array.from({ length: rank }, (_, i) => i).filter((i) => !drop.includes(i));
  if (kept.length === 0) return [];
  const groups = kept.map((k) => [k]);
  for (const d of drop) {
    const next = kept.findIndex((k) => k > d);
    const g = next >= 0 ? groups[next] : groups[groups.length - 1];
    g.push(d);
    g.sort((x, y) => x - y);
  }
  return groups;
}

/** Removes unit dims (by index) with a collapse_shape. */
export function dropUnitDims(b: FuncBuilder, t: Tensor, drop: readonly number[]): Tensor {
  if (drop.length === 0) return t;
  return collapseShape(b, t, unitDimGroups(t.shape.length, drop));
}

/** Inserts unit dims so that they sit at indices `at` of the result. */
export function insertUnitDims(b: FuncBuilder, t: Tensor, at: readonly number[]): Tensor {
  if (at.length === 0) return t;
  const rank = t.shape.length + at.length;
  const shape: number[] = [];
  let src = 0;
  for (let i = 0; i < rank; i++) shape.push(at.includes(i) ? 1 : t.shape[src++]);
  return expandShape(b, t, unitDimGroups(rank, at), shape);
}

/**
 * `t` surrounded by `lo` / `hi` elements of `padScalar` per dim (non-negative).
 * Returns `t` unchanged when no padding is needed.
 */
export function padTensor(b: FuncBuilder, t: Tensor, lo: readonly number[], hi: readonly number[], padScalar: string): Tensor {
  if (lo.every((v) => v === 0) && hi.every((v) => v === 0)) return t;
  const out: Tensor = { value: '', dt: t.dt, shape: t.shape.map((d, i) => d + lo[i] + hi[i]) };
  const args = t.shape.map(() => `${b.fresh('pi')}: index`).join(', ');
  out.value = b.op(`tensor.pad ${t.value} low${indexList(lo)} high${indexList(hi)} {\n^bb0(${args}):\n  tensor.yield ${padScalar} : ${elemOf(t)}\n} : ${typeOf(t)} to ${typeOf(out)}`, 'pd');
  return out;
}

/**
 * A tensor of `shape` holding t[q] at offsets[i] + q[i] * strides[i] and
 * `padScalar` everywhere else (padding, and the holes of a strided
 * placement such as ConvTranspose's input dilation).
 */
export function placeStrided(b: FuncBuilder, t: Tensor, shape: number[], offsets: readonly number[], strides: readonly number[], padScalar: string): Tensor {
  const out: Tensor = { value: '', dt: t.dt, shape };
  const rank = shape.length;
  [out.value] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(typeOf(out)), type: typeOf(out), map: identityMap(rank), elem: elemOf(out) }],
    iterators: shape.map(() => 'parallel'),
    body: (bb) => {
      const zero = bb.index(0);
      const src: string[] = [];
      const inside: string[] = [];
      shape.forEach((_, i) => {
        const p = bb.op(`linalg.index ${i} : index`);
        if (offsets[i] === 0 && strides[i] === 1 && shape[i] === t.shape[i]) {
          src.push(p);
          return;
        }
        const q = offsets[i] === 0 ? p : bb.op(`arith.subi ${p}, ${bb.index(offsets[i])} : index`);
        // Unsigned compare: q < 0 wraps around and fails too.
        const extent = (t.shape[i] - 1) * strides[i] + 1;
        inside.push(bb.op(`arith.cmpi ult, ${q}, ${bb.index(extent)} : index`));
        if (strides[i] === 1) {
          src.push(q);
          return;
        }
        const s = bb.index(strides[i]);
        inside.push(bb.op(`arith.cmpi eq, ${bb.op(`arith.remsi ${q}, ${s} : index`)}, ${zero} : index`));
        src.push(bb.op(`arith.divsi ${q}, ${s} : index`));
      });
      if (inside.length === 0) return [bb.op(`tensor.extract ${t.value}[${src.join(', ')}] : ${typeOf(t)}`)];
      const ok = inside.reduce((a, c) => bb.op(`arith.andi ${a}, ${c} : i1`));
      // Out-of-range positions read element 0 (always valid) and discard it.
      const safe = src.map((v) => bb.op(`arith.select ${ok}, ${v}, ${zero} : index`));
      const v = bb.op(`tensor.extract ${t.value}[${safe.join(', ')}] : ${typeOf(t)}`);
      return [bb.op(`arith.select ${ok}, ${v}, ${padScalar} : ${elemOf(t)}`)];
    },
  });
  return out;
}

/**
 * A (possibly strided) slice of `t`, copied into a fresh contiguous tensor so
 * that later reshapes and the function boundary never see a strided view.
 */
export function extractSlice(b: FuncBuilder, t: Tensor, offsets: readonly number[], sizes: number[], strides?: readonly number[]): Tensor {
  const st = strides ?? sizes.map(() => 1);
  if (offsets.every((o) => o === 0) && st.every((s) => s === 1) && sameShape(sizes, t.shape)) return t;
  const out: Tensor = { value: '', dt: t.dt, shape: sizes };
  const view = b.op(`tensor.extract_slice ${t.value}${indexList(offsets)} ${indexList(sizes)} ${indexList(st)} : ${typeOf(t)} to ${typeOf(out)}`, 's');
  const init = b.empty(typeOf(out));
  out.value = b.op(`linalg.copy ins(${view} : ${typeOf(out)}) outs(${init} : ${typeOf(out)}) -> ${typeOf(out)}`, 'k');
  return out;
}

/** Elementwise dtype conversion with ONNX Cast semantics; identity when `to` is `t.dt`. */
export function convertTensor(b: FuncBuilder, t: Tensor, to: DataType): Tensor {
  if (t.dt === to) return t;
  const out: Tensor = { value: '', dt: to, shape: t.shape };
  const rank = t.shape.length;
  [out.value] = b.generic({
    inputs: [{ value: t.value, type: typeOf(t), map: identityMap(rank), elem: elemOf(t) }],
    outputs: [{ value: b.empty(typeOf(out)), type: typeOf(out), map: identityMap(rank), elem: elemOf(out) }],
    iterators: t.shape.map(() => 'parallel'),
    body: (bb, [x]) => [convertScalar(bb, x, t.dt, to)],
  });
  return out;
}

/**
 * A tensor of `shape` and dtype `dt` whose element at index d equals `src`
 * read through `srcMap` (an affine map over the result dims), converted to
 * `dt`; used to seed accumulators with a broadcast bias.
 */
export function broadcastTo(b: FuncBuilder, src: Tensor, srcMap: string, shape: number[], dt: DataType): Tensor {
  const out: Tensor = { value: '', dt, shape };
  [out.value] = b.generic({
    inputs: [{ value: src.value, type: typeOf(src), map: srcMap, elem: elemOf(src) }],
    outputs: [{ value: b.empty(typeOf(out)), type: typeOf(out), map: identityMap(shape.length), elem: elemOf(out) }],
    iterators: shape.map(() => 'parallel'),
    body: (bb, [x]) => [convertScalar(bb, x, src.dt, dt)],
  });
  return out;
}

/** Map reading a rank-1 operand along dim `dim` of a rank-`rank` iteration space. */
export function vectorMap(rank: number, dim: number): string {
  return affineMap(rank, [`d${dim}`]);
}

/** Map reading a scalar-like operand (rank 0, or all dims 1) from any iteration space. */
export function scalarMap(rank: number, operandRank: number): string {
  return affineMap(rank, Array.from({ length: operandRank }, () => '0'));
}
