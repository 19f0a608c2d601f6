// Gather, GatherElements and GatherND: a linalg.generic over the output whose
// body computes the source coordinates (linalg.index + the index values) and
// reads the data with tensor.extract. Indices are normalised (negative counts
// from the end) and clamped into range; see clampIndex for why.
import { DataType, elementCount, type OnnxTensor } from '../../onnx/model.js';
import { affineMap, elemType, identityMap, tensorTypeOf } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { tensorToNumbers } from '../tensor-data.js';
import { gatherMap, indexMap, normalizeIndices, ravel, stridesOf, takeElements } from '../fold-helpers.js';
import { clampIndex, extract, iota, loopIndex, operand, refType, toIndex, type TensorRef } from '../index-lowering.js';

const INDEX_TYPES: readonly DataType[] = [DataType.INT32, DataType.INT64];

function checkIndices(ctx: NodeContext, i: number): void {
  ctx.requireDtype(i, INDEX_TYPES);
}

/** Out-of-range reads are impossible only if every indexed axis is non-empty (or nothing is read). */
function requireReadable(ctx: NodeContext, axisSizes: readonly number[], outShape: readonly number[]): void {
  if (elementCount(outShape) > 0 && axisSizes.some((d) => d === 0)) ctx.unsupported('indices address an empty axis');
}

// ---- Gather ----

function gatherShape(ctx: NodeContext): { axis: number; shape: number[] } {
  checkIndices(ctx, 1);
  const data = ctx.shape(0);
  if (data.length === 0) ctx.unsupported('Gather data must have rank >= 1');
  const axis = ctx.axis(ctx.int('axis', 0), data.length);
  const shape = [...data.slice(0, axis), ...ctx.shape(1), ...data.slice(axis + 1)];
  requireReadable(ctx, [data[axis]], shape);
  return { axis, shape };
}

/** Gather of `data` along `axis` by the integer tensor `indices` into `outShape` (also used by Compress). */
export function emitGather(ctx: LowerContext, data: TensorRef, indices: TensorRef, axis: number, outShape: readonly number[]): string {
  const b = ctx.b;
  const outT = tensorTypeOf(data.dtype, outShape);
  if (elementCount(outShape) === 0) return b.empty(outT);
  const q = indices.shape.length;
  const rank = outShape.length;
  const [y] = b.generic({
    inputs: [{ value: indices.value, type: refType(indices), map: affineMap(rank, iota(q, axis).map((k) => `d${k}`)), elem: elemType(indices.dtype) }],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(data.dtype) }],
    iterators: outShape.map(() => 'parallel'),
    body: (bb, [idx]) => {
      const i = clampIndex(bb, toIndex(bb, idx, indices.dtype), data.shape[axis]);
      const before = iota(axis).map((k) => loopIndex(bb, k));
      const after = iota(data.shape.length - axis - 1, axis + q).map((k) => loopIndex(bb, k));
      return [extract(bb, data, [...before, i, ...after])];
    },
  });
  return y;
}

registerOp({
  domain: '', op: 'Gather', since: 1,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: gatherShape(ctx).shape }],
  fold: (ctx, [data, indices]) => {
    if (!data || !indices) return null;
    const { axis, shape } = gatherShape(ctx);
    const idx = normalizeIndices(tensorToNumbers(indices), data.dims[axis]);
    const out = idx && takeElements(data, shape, gatherMap(data.dims, axis, idx, indices.dims));
    return out ? [out] : null;
  },
  lower: (ctx) => {
    const { axis, shape } = gatherShape(ctx);
    return [emitGather(ctx, operand(ctx, 0), operand(ctx, 1), axis, shape)];
  },
});

// ---- GatherElements ----

function gatherElementsAxis(ctx: NodeContext): number {
  checkIndices(ctx, 1);
  const data = ctx.shape(0);
  const idx = ctx.shape(1);
  if (data.length === 0 || idx.length !== data.length) ctx.unsupported('data and indices must have the same rank >= 1');
  const axis = ctx.axis(ctx.int('axis', 0), data.length);
  if (idx.some((d, k) => k !== axis && d > data[k])) ctx.unsupported(`indices shape [${idx.join(', ')}] exceeds data [${data.join(', ')}]`);
  requireReadable(ctx, [data[axis]], idx);
  return axis;
}

registerOp({
  domain: '', op: 'GatherElements', since: 11,
  infer: (ctx) => {
    gatherElementsAxis(ctx);
    return [{ dataType: ctx.dtype(0), shape: ctx.shape(1) }];
  },
  fold: (ctx, [data, indices]) => {
    if (!data || !indices) return null;
    const axis = gatherElementsAxis(ctx);
    const idx = normalizeIndices(tensorToNumbers(indices), data.dims[axis]);
    if (!idx) return null;
    const st = stridesOf(data.dims);
    const map = indexMap(indices.dims, (pos) => {
      const src = [...pos];
      src[axis] = idx[ravel(pos, stridesOf(indices.dims))];
      return ravel(src, st);
    });
    const out = takeElements(data, indices.dims, map);
    return out ? [out] : null;
  },
  lower: (ctx) => {
    const axis = gatherElementsAxis(ctx);
    const data = operand(ctx, 0);
    const indices = operand(ctx, 1);
    const outT = ctx.outTensor(0);
    if (elementCount(indices.shape) === 0) return [ctx.b.empty(outT)];
    const rank = indices.shape.length;
    const [y] = ctx.b.generic({
      inputs: [{ value: indices.value, type: refType(indices), map: identityMap(rank), elem: elemType(indices.dtype) }],
      outputs: [{ value: ctx.b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(data.dtype) }],
      iterators: indices.shape.map(() => 'parallel'),
      body: (bb, [idx]) => {
        const coords = iota(rank).map((k) => (k === axis ? clampIndex(bb, toIndex(bb, idx, indices.dtype), data.shape[axis]) : loopIndex(bb, k)));
        return [extract(bb, data, coords)];
      },
    });
    return [y];
  },
});

// ---- GatherND ----

interface GatherNdPlan {
  batch: number;
  /** Length of each index tuple (last dim of indices). */
  depth: number;
  shape: number[];
}

function planGatherNd(ctx: NodeContext): GatherNdPlan {
  checkIndices(ctx, 1);
  const data = ctx.shape(0);
  const idx = ctx.shape(1);
  const batch = ctx.int('batch_dims', 0);
  if (data.length === 0 || idx.length === 0) ctx.unsupported('data and indices must have rank >= 1');
  const depth = idx[idx.length - 1];
  if (batch < 0 || batch >= Math.min(data.length, idx.length) || batch + depth > data.length) {
    ctx.unsupported(`batch_dims ${batch} with index tuples of ${depth} do not fit data rank ${data.length}`);
  }
  if (idx.slice(0, batch).some((d, k) => d !== data[k])) ctx.unsupported('batch dimensions of data and indices differ');
  const shape = [...idx.slice(0, -1), ...data.slice(batch + depth)];
  requireReadable(ctx, data.slice(batch, batch + depth), shape);
  return { batch, depth, shape };
}

function foldGatherNd(ctx: NodeContext, data: OnnxTensor, indices: OnnxTensor): OnnxTensor | null {
  const { batch, depth, shape } = planGatherNd(ctx);
  const idx = tensorToNumbers(indices);
  const st = stridesOf(data.dims);
  const ist = stridesOf(indices.dims);
  const lead = indices.dims.length - 1;
  let ok = true;
  const map = indexMap(shape, (pos) => {
    const src = pos.slice(0, batch);
    for (let j = 0; j < depth; j++) {
      const n = data.dims[batch + j];
      const raw = idx[ravel([...pos.slice(0, lead), j], ist)];
      const v = raw < 0 ? raw + n : raw;
      if (v < 0 || v >= n) ok = false;
      src.push(v);
    }
    src.push(...pos.slice(lead));
    return ravel(src, st);
  });
  return ok ? takeElements(data, shape, map) : null;
}

function lowerGatherNd(ctx: LowerContext): string {
  const { batch, depth, shape } = planGatherNd(ctx);
  const data = operand(ctx, 0);
  const indices = operand(ctx, 1);
  const b = ctx.b;
  const outT = ctx.outTensor(0);
  if (elementCount(shape) === 0) return b.empty(outT);
  const lead = indices.shape.length - 1;
  const [y] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(shape.length), elem: elemType(data.dtype) }],
    iterators: shape.map(() => 'parallel'),
    body: (bb) => {
      const pos = iota(shape.length).map((k) => loopIndex(bb, k));
      const tuple = iota(depth).map((j) => {
        const raw = extract(bb, indices, [...pos.slice(0, lead), bb.index(j)]);
        return clampIndex(bb, toIndex(bb, raw, indices.dtype), data.shape[batch + j]);
      });
      return [extract(bb, data, [...pos.slice(0, batch), ...tuple, ...pos.slice(lead)])];
    },
  });
  return y;
}

registerOp({
  domain: '', op: 'GatherND', since: 11,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: planGatherNd(ctx).shape }],
  fold: (ctx, [data, indices]) => {
    const out = data && indices ? foldGatherNd(ctx, data, indices) : null;
    return out ? [out] : null;
  },
  lower: (ctx) => [lowerGatherNd(ctx)],
});
