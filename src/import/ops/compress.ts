// Compress and NonZero have data-dependent output shapes. Compress with a
// constant condition is a Gather by a constant index list; otherwise both
// are only folded when all their inputs are constant.
import { DataType, elementCount } from '../../onnx/model.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import { numbersToTensor, tensorToNumbers } from '../tensor-data.js';
import { forEachIndex, gatherMap, smallOutput, takeElements, withDims } from '../fold-helpers.js';
import { emitReshape, i64Constant, operand } from '../index-lowering.js';
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

registerOp({
  domain: '', op: 'Compress', since: 9,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: planCompress(ctx).shape }],
  fold: (ctx, [x]) => {
    if (!x) return null;
    const { axis, selected, shape } = planCompress(ctx);
    const source = axis === null ? withDims(x, [elementCount(x.dims)]) : x;
    const out = takeElements(source, shape, gatherMap(source.dims, axis ?? 0, selected, [selected.length]));
    return out ? [out] : null;
  },
  lower: (ctx) => {
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

registerOp({
  domain: '', op: 'NonZero', since: 9,
  infer: (ctx) => ctx.unsupported('NonZero has a data-dependent output shape; it is only folded on constant input'),
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
