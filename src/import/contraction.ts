// Matrix products with numpy MatMul semantics (1-D operands, broadcast batch
// dims) lowered to linalg.matmul / linalg.batch_matmul whenever the batch
// structure allows, so that later tiling/vectorisation schedules can match the
// named ops; only irregular batch broadcasting falls back to a linalg.generic.
import { DataType } from '../onnx/model.js';
import { Scalar } from '../codegen/scalar.js';
import type { FuncBuilder } from '../codegen/mlir-builder.js';
import { affineMap } from '../codegen/mlir-builder.js';
import {
  collapseShape, dropUnitDims, elemOf, expandShape, filled, insertUnitDims, typeOf, type Tensor,
} from '../codegen/tensor-ops.js';
import type { NodeContext } from './node-context.js';
import { broadcastShapes } from './elementwise.js';

/** Dtype products accumulate in: f16/bf16 sum in f32, everything else in itself. */
export function accumulatorDtype(dt: DataType): DataType {
  return dt === DataType.FLOAT16 || dt === DataType.BFLOAT16 ? DataType.FLOAT : dt;
}

/** Output shape of numpy matmul of shapes `a` and `b`, declining mismatched inner dims. */
export function matmulShape(ctx: NodeContext, a: readonly number[], b: readonly number[]): number[] {
  if (a.length === 0 || b.length === 0) ctx.unsupported('MatMul operands must have rank >= 1');
  const a2 = a.length === 1 ? [1, a[0]] : [...a];
  const b2 = b.length === 1 ? [b[0], 1] : [...b];
  const k = a2[a2.length - 1];
  if (b2[b2.length - 2] !== k) ctx.unsupported(`MatMul inner dims differ: [${a.join(', ')}] x [${b.join(', ')}]`);
  const batch = broadcastShapes(ctx, [a2.slice(0, -2), b2.slice(0, -2)]);
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]);
  if (b.length > 1) out.push(b2[b2.length - 1]);
  return out;
}

function product(dims: readonly number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

function leftPad(shape: readonly number[], rank: number): number[] {
  return [...Array.from({ length: rank - shape.length }, () => 1), ...shape];
}

function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

/** A zero-filled accumulator of `shape` in dtype `dt`. */
export function zeroAccumulator(b: FuncBuilder, dt: DataType, shape: number[]): Tensor {
  return filled(b, dt, shape, new Scalar(b, dt).zero());
}

/** linalg.matmul of 2-D `a` [M,K] by `w` [K,N] (or transposed storage via maps) into a zero accumulator. */
export function matmul2d(b: FuncBuilder, a: Tensor, w: Tensor, accDt: DataType, transA = false, transB = false): Tensor {
  const m = transA ? a.shape[1] : a.shape[0];
  const n = transB ? w.shape[0] : w.shape[1];
  const acc = zeroAccumulator(b, accDt, [m, n]);
  let maps = '';
  if (transA || transB) {
    const am = affineMap(3, transA ? ['d2', 'd0'] : ['d0', 'd2']);
    const bm = affineMap(3, transB ? ['d1', 'd2'] : ['d2', 'd1']);
    maps = ` indexing_maps = [${am}, ${bm}, ${affineMap(3, ['d0', 'd1'])}]`;
  }
  const value = b.op(`linalg.matmul${maps} ins(${a.value}, ${w.value} : ${typeOf(a)}, ${typeOf(w)}) outs(${acc.value} : ${typeOf(acc)}) -> ${typeOf(acc)}`, 'mm');
  return { value, dt: accDt, shape: acc.shape };
}

/** linalg.batch_matmul of [P,M,K] by [P,K,N]; a 2-D operand is broadcast over the batch via its map. */
function batchMatmul(b: FuncBuilder, a: Tensor, w: Tensor, accDt: DataType): Tensor {
  const p = a.shape.length === 3 ? a.shape[0] : w.shape[0];
  const m = a.shape[a.shape.length - 2];
  const n = w.shape[w.shape.length - 1];
  const acc = zeroAccumulator(b, accDt, [p, m, n]);
  let maps = '';
  if (a.shape.length === 2 || w.shape.length === 2) {
    const am = affineMap(4, a.shape.length === 2 ? ['d1', 'd3'] : ['d0', 'd1', 'd3']);
    const bm = affineMap(4, w.shape.length === 2 ? ['d3', 'd2'] : ['d0', 'd3', 'd2']);
    maps = ` indexing_maps = [${am}, ${bm}, ${affineMap(4, ['d0', 'd1', 'd2'])}]`;
  }
  const value = b.op(`linalg.batch_matmul${maps} ins(${a.value}, ${w.value} : ${typeOf(a)}, ${typeOf(w)}) outs(${acc.value} : ${typeOf(acc)}) -> ${typeOf(acc)}`, 'mm');
  return { value, dt: accDt, shape: acc.shape };
}

/** Contraction with arbitrary (broadcast) batch dims as a linalg.generic. */
function genericBatchMatmul(b: FuncBuilder, a: Tensor, w: Tensor, batch: number[], accDt: DataType): Tensor {
  const r = batch.length;
  const m = a.shape[a.shape.length - 2];
  const n = w.shape[w.shape.length - 1];
  const operandMap = (t: Tensor, inner: string[]) => {
    const tb = leftPad(t.shape.slice(0, -2), r);
    const offset = r - (t.shape.length - 2);
    const dims = tb.map((d, i) => (d === 1 && batch[i] !== 1 ? '0' : `d${i}`)).slice(offset);
    return affineMap(r + 3, [...dims, ...inner]);
  };
  const acc = zeroAccumulator(b, accDt, [...batch, m, n]);
  const [value] = b.generic({
    inputs: [
      { value: a.value, type: typeOf(a), map: operandMap(a, [`d${r}`, `d${r + 2}`]), elem: elemOf(a) },
      { value: w.value, type: typeOf(w), map: operandMap(w, [`d${r + 2}`, `d${r + 1}`]), elem: elemOf(w) },
    ],
    outputs: [{ value: acc.value, type: typeOf(acc), map: affineMap(r + 3, range(r + 2).map((i) => `d${i}`)), elem: elemOf(acc) }],
    iterators: [...range(r + 2).map(() => 'parallel' as const), 'reduction'],
    body: (bb, [x, y, o]) => {
      const sb = new Scalar(bb, accDt);
      return [sb.add(o, sb.mul(widen(bb, x, a.dt, accDt), widen(bb, y, w.dt, accDt)))];
    },
  });
  return { value, dt: accDt, shape: acc.shape };
}

function widen(b: FuncBuilder, v: string, from: DataType, to: DataType): string {
  if (from === to) return v;
  return b.op(`arith.extf ${v} : ${new Scalar(b, from).elem} to ${new Scalar(b, to).elem}`);
}

/**
 * numpy matmul of `a` by `w` (ranks >= 1) accumulated in `accDt`; the result
 * has the numpy output shape. Operand dtypes must equal `accDt` or be a
 * narrower float of it (named ops and the generic widen them).
 */
export function emitMatMul(b: FuncBuilder, a0: Tensor, w0: Tensor, accDt: DataType): Tensor {
  const a = a0.shape.length === 1 ? insertUnitDims(b, a0, [0]) : a0;
  const w = w0.shape.length === 1 ? insertUnitDims(b, w0, [1]) : w0;
  const aBatch = a.shape.slice(0, -2);
  const wBatch = w.shape.slice(0, -2);
  const rank = Math.max(aBatch.length, wBatch.length);
  const batch = leftPad(aBatch, rank).map((d, i) => Math.max(d, leftPad(wBatch, rank)[i]));
  const [m, k] = a.shape.slice(-2);
  const n = w.shape[w.shape.length - 1];
  let out: Tensor;
  if (product(wBatch) === 1 && product(aBatch) === product(batch)) {
    // Weights shared by every batch: fold the batch into M for one large matmul.
    const a2 = collapseShape(b, a, [range(a.shape.length - 1), [a.shape.length - 1]]);
    const w2 = collapseShape(b, w, [range(w.shape.length - 1), [w.shape.length - 1]]);
    const r = matmul2d(b, a2, w2, accDt);
    out = expandShape(b, r, [range(rank + 1), [rank + 1]], [...batch, m, n]);
  } else if (sameDims(leftPad(aBatch, rank), leftPad(wBatch, rank)) || product(aBatch) === 1) {
    const p = product(batch);
    const a3 = product(aBatch) === 1 && p !== 1 ? collapseShape(b, a, [range(a.shape.length - 1), [a.shape.length - 1]]) : batched(b, a, p, m, k);
    const r = batchMatmul(b, a3, batched(b, w, p, k, n), accDt);
    out = expandShape(b, r, [range(rank), [rank], [rank + 1]], [...batch, m, n]);
  } else {
    out = genericBatchMatmul(b, a, w, batch, accDt);
  }
  const drop: number[] = [];
  if (a0.shape.length === 1) drop.push(out.shape.length - 2);
  if (w0.shape.length === 1) drop.push(out.shape.length - 1);
  return dropUnitDims(b, out, drop);
}

/** `t` [...batch, r, c] reshaped to [p, r, c]. */
function batched(b: FuncBuilder, t: Tensor, p: number, rows: number, cols: number): Tensor {
  const rank = t.shape.length;
  if (rank === 2) return expandShape(b, t, [[0, 1], [2]], [p, rows, cols]);
  return collapseShape(b, t, [range(rank - 2), [rank - 2], [rank - 1]]);
}

function sameDims(a: readonly number[], c: readonly number[]): boolean {
  return a.length === c.length && a.every((d, i) => d === c[i]);
}
