// Compress and NonZero have data-dependent output shapes. Compress with a
// constant condition is a Gather by a constant index list; otherwise both
// are compiled at their largest output size (every entry selected) with the
// number selected as the count the runtime trims the output to
// (bounded-lowering.ts), and folded when all their inputs are constant.
import { DataType, elementCount } from '../../onnx/model.js';
import { registerOp, type BoundedOutput } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { isFloat, isInteger } from '../../ir/types.js';
import { Scalar } from '../../codegen/scalar.js';
import { tensorTypeOf } from '../../codegen/mlir-builder.js';
import { forEachOuter, scfFor } from '../loop-helpers.js';
import { bump, copyEntry, countTensor, indexToI64 } from '../bounded-lowering.js';
import { numbersToTensor, tensorToNumbers } from '../tensor-data.js';
import { forEachIndex, gatherMap, smallOutput, takeElements, withDims } from '../fold-helpers.js';
import { emitReshape, extract, i64Constant, operand, refType } from '../index-lowering.js';
import { emitGather } from './gather.js';

interface CompressPlan {
  /** null: compress the flattened input. */
  axis: number | null;
  selected: number[];
  shape: number[];
}

function planCompress(ctx: NodeContext): CompressPlan {
  const input = ctx.shape(0);
  if (ctx.rank(1) !== 1) ctx.unsupported('condition must be 1-D');
  const t = ctx.constant(1);
  if (!t) return ctx.unsupported('condition is not a compile-time constant (data-dependent output shape)');
  const axis = ctx.hasAttr('axis') ? ctx.axis(ctx.int('axis'), input.length) : null;
  const extent = axis === null ? elementCount(input) : input[axis];
  const selected = tensorToNumbers(t).flatMap((c, i) => (c && i < extent ? [i] : []));
  const shape = axis === null ? [selected.length] : input.map((d, i) => (i === axis ? selected.length : d));
  return { axis, selected, shape };
}

/** Compress with a run-time condition: the selected axis (or the flattened input) and its largest extent. */
interface RuntimeCompress {
  axis: number | null;
  /** Entries looked at: the condition may be shorter than the axis. */
  extent: number;
  /** The input as compressed: flattened when there is no axis. */
  shape: number[];
}

function planRuntimeCompress(ctx: NodeContext): RuntimeCompress | null {
  if (ctx.constant(1)) return null;
  const input = ctx.shape(0);
  const cond = ctx.shape(1);
  if (cond.length !== 1) ctx.unsupported('condition must be 1-D');
  if (ctx.dtype(1) !== DataType.BOOL) ctx.unsupported(`condition must be bool, got ${DataType[ctx.dtype(1)]}`);
  const axis = ctx.hasAttr('axis') ? ctx.axis(ctx.int('axis'), input.length) : null;
  const shape = axis === null ? [elementCount(input)] : input;
  return { axis, extent: Math.min(cond[0], shape[axis ?? 0]), shape };
}

function boundedCompress(ctx: NodeContext): BoundedOutput[] | null {
  const p = planRuntimeCompress(ctx);
  if (!p) return null;
  const a = p.axis ?? 0;
  return [{ type: { dataType: ctx.dtype(0), shape: p.shape.map((d, i) => (i === a ? p.extent : d)) }, trimAxis: a }];
}

/** Copies entry j of the input to the running count whenever condition[j] holds. */
function lowerRuntimeCompress(ctx: LowerContext, p: RuntimeCompress): string[] {
  const b = ctx.b;
  const a = p.axis ?? 0;
  let data = operand(ctx, 0);
  if (p.axis === null) data = { ...data, value: emitReshape(b, data, p.shape), shape: p.shape };
  const out = { dtype: data.dtype, shape: p.shape.map((d, i) => (i === a ? p.extent : d)), value: '' };
  const outT = refType(out);
  const cond = operand(ctx, 1);
  const [res, count] = scfFor(b, p.extent, [{ value: b.empty(outT), type: outT }, { value: b.index(0), type: 'index' }], (j, [acc, n]) => {
    const keep = extract(b, cond, [j]);
    return [copyEntry(b, data, j, { ...out, value: acc }, n, a), bump(b, n, keep)];
  });
  return [res, countTensor(b, count)];
}

registerOp({
  domain: '', op: 'Compress', since: 9,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: planCompress(ctx).shape }],
  bounded: boundedCompress,
  fold: (ctx, [x]) => {
    if (!x) return null;
    const { axis, selected, shape } = planCompress(ctx);
    const source = axis === null ? withDims(x, [elementCount(x.dims)]) : x;
    const out = takeElements(source, shape, gatherMap(source.dims, axis ?? 0, selected, [selected.length]));
    return out ? [out] : null;
  },
  lower: (ctx) => {
    const runtime = planRuntimeCompress(ctx);
    if (runtime) return lowerRuntimeCompress(ctx, runtime);
    const { axis, selected, shape } = planCompress(ctx);
    let data = operand(ctx, 0);
    if (axis === null) {
      const flat = [elementCount(data.shape)];
      data = { ...data, value: emitReshape(ctx.b, data, flat), shape: flat };
    }
    const indices = { value: i64Constant(ctx.b, selected), dtype: DataType.INT64, shape: [selected.length] };
    return [emitGather(ctx, data, indices, axis ?? 0, shape)];
  },
});

/** NonZero at its largest size: [rank, every element]; the count is the number of non-zeros. */
function boundedNonZero(ctx: NodeContext): BoundedOutput[] {
  const shape = ctx.shape(0);
  const dt = ctx.dtype(0);
  if (shape.length === 0) ctx.unsupported('NonZero of a scalar is not compiled (its output has no elements)');
  if (!isFloat(dt) && !isInteger(dt) && dt !== DataType.BOOL) ctx.unsupported(`NonZero of ${DataType[dt]} is not supported`);
  return [{ type: { dataType: DataType.INT64, shape: [shape.length, elementCount(shape)] }, trimAxis: 1 }];
}

/** Row-major walk over the input writing each element's coordinates at the running count; non-zeros advance it. */
function lowerNonZero(ctx: LowerContext): string[] {
  const b = ctx.b;
  const x = operand(ctx, 0);
  const s = new Scalar(b, x.dtype);
  const outT = tensorTypeOf(DataType.INT64, [x.shape.length, elementCount(x.shape)]);
  const [res, count] = forEachOuter(b, x.shape, -1, [{ value: b.empty(outT), type: outT }, { value: b.index(0), type: 'index' }], (ivs, [acc, n]) => {
    const nonZero = s.cmp('ne', extract(b, x, ivs), s.zero());
    let out = acc;
    ivs.forEach((iv, k) => {
      out = b.op(`tensor.insert ${indexToI64(b, iv)} into ${out}[${b.index(k)}, ${n}] : ${outT}`);
    });
    return [out, bump(b, n, nonZero)];
  });
  return [res, countTensor(b, count)];
}

registerOp({
  domain: '', op: 'NonZero', since: 9,
  infer: (ctx) => ctx.unsupported('NonZero has a data-dependent output shape'),
  bounded: boundedNonZero,
  lower: lowerNonZero,
  fold: (_ctx, [x]) => {
    if (!x) return null;
    const values = tensorToNumbers(x);
    const coords: number[][] = x.dims.map(() => []);
    forEachIndex(x.dims, (idx, flat) => {
      if (values[flat] !== 0) idx.forEach((v, k) => coords[k].push(v));
    });
    const count = x.dims.length === 0 ? Number(values[0] !== 0) : coords[0].length;
    const dims = [x.dims.length, count];
    return smallOutput(dims) ? [numbersToTensor('', DataType.INT64, dims, coords.flat())] : null;
  },
});
