// Unique (opset 11): the input's distinct elements — or distinct slices along
// `axis` — with the index of each one's first occurrence, the inverse
// mapping and the counts. Compiled at its largest size (every entry distinct)
// with the number of distinct entries as the count the runtime trims Y,
// indices and counts to (bounded-lowering.ts).
//
// The entries (elements, or slices compared lexicographically) are stably
// merge-sorted by index (sort-lowering.ts); a walk over that order finds the
// groups of equal entries, whose first member is their first occurrence.
// sorted=1 numbers the groups in that order; sorted=0 in order of first
// occurrence, with a walk over the input. A last walk, in reverse, writes Y,
// indices, inverse_indices and counts: the final write of each group is its
// first occurrence.
import { DataType, elementCount } from '../../onnx/model.js';
import { isFloat, isInteger } from '../../ir/types.js';
import { Scalar } from '../../codegen/scalar.js';
import { tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { registerOp, type BoundedOutput } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { emitReshape, operand, refType, type TensorRef } from '../index-lowering.js';
import { scfFor } from '../loop-helpers.js';
import { copyEntry, countTensor, indexToI64 } from '../bounded-lowering.js';
import { sortIndices } from '../sort-lowering.js';

interface UniquePlan {
  /** The input as [outer, entries, inner]: an entry is a slice along the axis (or one element). */
  view: [number, number, number];
  /** Y at its largest size (the input's shape, or the flattened input). */
  yShape: number[];
  /** The axis of Y trimmed to the count. */
  yAxis: number;
  sorted: boolean;
}

function plan(ctx: NodeContext): UniquePlan {
  const shape = ctx.shape(0);
  const dt = ctx.dtype(0);
  if (!isFloat(dt) && !isInteger(dt)) ctx.unsupported(`Unique of ${DataType[dt]} is not supported (expected a numeric tensor)`);
  const sorted = ctx.int('sorted', 1) !== 0;
  if (!ctx.hasAttr('axis')) {
    const n = elementCount(shape);
    return { view: [1, n, 1], yShape: [n], yAxis: 0, sorted };
  }
  const a = ctx.axis(ctx.int('axis'), shape.length);
  return { view: [elementCount(shape.slice(0, a)), shape[a], elementCount(shape.slice(a + 1))], yShape: shape, yAxis: a, sorted };
}

function bounded(ctx: NodeContext): BoundedOutput[] {
  const p = plan(ctx);
  const n = p.view[1];
  const i64 = (trimAxis: number | null): BoundedOutput => ({ type: { dataType: DataType.INT64, shape: [n] }, trimAxis });
  return [{ type: { dataType: ctx.dtype(0), shape: p.yShape }, trimAxis: p.yAxis }, i64(0), i64(null), i64(0)];
}

/** Lexicographic comparison of two entries of the [outer, entries, inner] view. */
class EntryOrder {
  private readonly s: Scalar;

  constructor(private readonly b: FuncBuilder, private readonly x: TensorRef) {
    this.s = new Scalar(b, x.dtype);
  }

  /** [a < c, a != c] as i1 values, over the entries' elements in row-major order. */
  compare(a: string, c: string): [string, string] {
    const b = this.b;
    const [outer, , inner] = this.x.shape;
    const size = outer * inner;
    const at = (e: string | number, k: string) => {
      const o = typeof e === 'number' ? b.index(0) : b.op(`arith.divui ${e}, ${b.index(inner)} : index`);
      const i = typeof e === 'number' ? b.index(0) : b.op(`arith.remui ${e}, ${b.index(inner)} : index`);
      return b.op(`tensor.extract ${this.x.value}[${o}, ${k}, ${i}] : ${refType(this.x)}`);
    };
    if (size === 1) {
      const [va, vc] = [at(0, a), at(0, c)];
      return [this.s.cmp('lt', va, vc), this.s.cmp('ne', va, vc)];
    }
    const f = b.constant('false', 'i1');
    const [less, differs] = scfFor(b, size, [{ value: f, type: 'i1' }, { value: f, type: 'i1' }], (e, [lt, ne]) => {
      const [va, vc] = [at(e, a), at(e, c)];
      // The first differing element decides.
      const nextLt = b.op(`arith.select ${ne}, ${lt}, ${this.s.cmp('lt', va, vc)} : i1`);
      return [nextLt, b.op(`arith.ori ${ne}, ${this.s.cmp('ne', va, vc)} : i1`)];
    });
    return [less, differs];
  }
}

const I64_ELEM = 'i64';

function at(b: FuncBuilder, t: string, type: string, i: string): string {
  return b.op(`tensor.extract ${t}[${i}] : ${type}`);
}

function put(b: FuncBuilder, v: string, t: string, type: string, i: string): string {
  return b.op(`tensor.insert ${v} into ${t}[${i}] : ${type}`);
}

function asIndex(b: FuncBuilder, v: string): string {
  return b.op(`arith.index_cast ${v} : i64 to index`);
}

/**
 * Walk over the sorted order: each entry's group head (its first occurrence)
 * and group number in sorted order, and the number of groups.
 */
function groupSorted(b: FuncBuilder, n: number, perm: string, order: EntryOrder): [string, string, string] {
  const t = tensorTypeOf(DataType.INT64, [n]);
  const zero = b.constant('0', I64_ELEM);
  const [heads, ids, groups] = scfFor(b, n, [
    { value: b.empty(t), type: t }, { value: b.empty(t), type: t }, { value: b.index(0), type: 'index' }, { value: zero, type: I64_ELEM },
  ], (k, [hs, gs, count, head]) => {
    const cur = at(b, perm, t, k);
    const prev = at(b, perm, t, b.op(`arith.maxsi ${b.op(`arith.subi ${k}, ${b.index(1)} : index`)}, ${b.index(0)} : index`));
    const first = b.op(`arith.cmpi eq, ${k}, ${b.index(0)} : index`);
    const fresh = b.op(`arith.ori ${first}, ${order.compare(asIndex(b, prev), asIndex(b, cur))[1]} : i1`);
    const h = b.op(`arith.select ${fresh}, ${cur}, ${head} : i64`);
    const next = b.op(`arith.select ${fresh}, ${b.op(`arith.addi ${count}, ${b.index(1)} : index`)}, ${count} : index`);
    const id = indexToI64(b, b.op(`arith.subi ${next}, ${b.index(1)} : index`));
    const ci = asIndex(b, cur);
    return [put(b, h, hs, t, ci), put(b, id, gs, t, ci), next, h];
  });
  return [heads, ids, groups];
}

/** Group numbers in order of first occurrence (sorted=0): a head takes the next number, others their head's. */
function numberByOccurrence(b: FuncBuilder, n: number, heads: string): string {
  const t = tensorTypeOf(DataType.INT64, [n]);
  const [ids] = scfFor(b, n, [{ value: b.empty(t), type: t }, { value: b.index(0), type: 'index' }], (i, [gs, count]) => {
    const h = at(b, heads, t, i);
    const isHead = b.op(`arith.cmpi eq, ${h}, ${indexToI64(b, i)} : i64`);
    // h <= i: a non-head's head is numbered already (a head reads its own, unset, slot but takes `count`).
    const id = b.op(`arith.select ${isHead}, ${indexToI64(b, count)}, ${at(b, gs, t, asIndex(b, h))} : i64`);
    const next = b.op(`arith.select ${isHead}, ${b.op(`arith.addi ${count}, ${b.index(1)} : index`)}, ${count} : index`);
    return [put(b, id, gs, t, i), next];
  });
  return ids;
}

function lower(ctx: LowerContext): string[] {
  const b = ctx.b;
  const p = plan(ctx);
  const n = p.view[1];
  const x0 = operand(ctx, 0);
  const x: TensorRef = { ...x0, value: emitReshape(b, x0, p.view), shape: p.view };
  const order = new EntryOrder(b, x);
  const perm = sortIndices(b, n, (a, c) => order.compare(a, c)[0]);
  const [heads, sortedIds, groups] = groupSorted(b, n, perm, order);
  const ids = p.sorted ? sortedIds : numberByOccurrence(b, n, heads);
  const t = tensorTypeOf(DataType.INT64, [n]);
  const zeros = b.fill(b.constant('0', I64_ELEM), I64_ELEM, t);
  const y: TensorRef = { ...x, value: '' };
  const yT = refType(y);
  const last = b.index(n - 1);
  // In reverse, so that the last write of each group (Y, indices) is its first occurrence.
  const [yv, indices, inverse, counts] = scfFor(b, n, [
    { value: b.empty(yT), type: yT }, { value: b.empty(t), type: t }, { value: b.empty(t), type: t }, { value: zeros, type: t },
  ], (r, [ys, is, inv, cs]) => {
    const i = b.op(`arith.subi ${last}, ${r} : index`);
    const id = at(b, ids, t, i);
    const u = asIndex(b, id);
    const bumped = b.op(`arith.addi ${at(b, cs, t, u)}, ${b.constant('1', I64_ELEM)} : i64`);
    return [copyEntry(b, x, i, { ...y, value: ys }, u, 1), put(b, indexToI64(b, i), is, t, u), put(b, id, inv, t, i), put(b, bumped, cs, t, u)];
  });
  const yOut = emitReshape(b, { ...y, value: yv }, p.yShape);
  return [yOut, indices, inverse, counts].slice(0, ctx.outputCount).concat(countTensor(b, groups));
}

registerOp({
  domain: '', op: 'Unique', since: 11,
  infer: (ctx) => ctx.unsupported('Unique has a data-dependent output shape'),
  bounded: (ctx) => bounded(ctx).slice(0, ctx.outputCount),
  lower,
});
