// ScatterElements (and the deprecated Scatter) and ScatterND: the result
// starts as a copy of `data` and every update is applied in order by a nest
// of scf.for loops threading the tensor through iter_args (bufferization
// turns this into in-place stores on one copy). Indices are normalised and
// clamped into range, as for Gather.
import { DataType, elementCount, type OnnxTensor } from '../../onnx/model.js';
import { Scalar } from '../../codegen/scalar.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { canHoldNumbers, numbersToTensor, tensorToNumbers } from '../tensor-data.js';
import { forEachIndex, ravel, stridesOf } from '../fold-helpers.js';
import { clampIndex, extract, forNest, operand, refType, toIndex, type TensorRef } from '../index-lowering.js';

type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';
const REDUCTIONS: readonly Reduction[] = ['none', 'add', 'mul', 'max', 'min'];

function isReduction(s: string): s is Reduction {
  return (REDUCTIONS as readonly string[]).includes(s);
}

function reductionOf(ctx: NodeContext): Reduction {
  const r = ctx.string('reduction', 'none');
  if (!isReduction(r)) ctx.unsupported(`reduction '${r}' is not supported`);
  if (r !== 'none' && ctx.dtype(0) === DataType.BOOL) ctx.unsupported(`reduction '${r}' on bool data is not supported`);
  return r;
}

function combineScalar(s: Scalar, r: Reduction, old: string, upd: string): string {
  switch (r) {
    case 'none': return upd;
    case 'add': return s.add(old, upd);
    case 'mul': return s.mul(old, upd);
    case 'max': return s.max(old, upd);
    case 'min': return s.min(old, upd);
  }
}

function combineNumber(r: Reduction, old: number, upd: number): number {
  switch (r) {
    case 'none': return upd;
    case 'add': return old + upd;
    case 'mul': return old * upd;
    case 'max': return Number.isNaN(old) || Number.isNaN(upd) ? NaN : Math.max(old, upd);
    case 'min': return Number.isNaN(old) || Number.isNaN(upd) ? NaN : Math.min(old, upd);
  }
}

/** Rounds a folded value to what the dtype stores; null when it is not representable exactly. */
function storable(dt: DataType, v: number): number | null {
  if (dt === DataType.FLOAT) return Math.fround(v);
  if (dt === DataType.DOUBLE) return v;
  return Number.isSafeInteger(v) ? v : null;
}

/** Target coordinates in `data` of the update at loop position `ivs` (SSA index values). */
type TargetSsa = (ctx: LowerContext, ivs: readonly string[]) => string[];
/** Target coordinates of the update at `pos`, or null when an index is out of range. */
type TargetNum = (pos: readonly number[]) => number[] | null;

/** Loops over the updates (shape `loops`), applying each at its target. */
function emitScatter(ctx: LowerContext, reduction: Reduction, target: TargetSsa): string {
  const data = operand(ctx, 0);
  const updates = operand(ctx, 2);
  const type = refType(data);
  if (elementCount(updates.shape) === 0) return data.value;
  const b = ctx.b;
  return forNest(b, updates.shape, data.value, type, (ivs, acc) => {
    const at = target(ctx, ivs).join(', ');
    const upd = extract(b, updates, ivs);
    let v = upd;
    if (reduction !== 'none') {
      const old = b.op(`tensor.extract ${acc}[${at}] : ${type}`);
      v = combineScalar(new Scalar(b, data.dtype), reduction, old, upd);
    }
    return b.op(`tensor.insert ${v} into ${acc}[${at}] : ${type}`);
  });
}

function foldScatter(data: OnnxTensor, updates: OnnxTensor, reduction: Reduction, target: TargetNum): OnnxTensor | null {
  if (!canHoldNumbers(data.dataType)) return null;
  const out = tensorToNumbers(data);
  const upd = tensorToNumbers(updates);
  const st = stridesOf(data.dims);
  let ok = true;
  forEachIndex(updates.dims, (pos, flat) => {
    const t = ok ? target(pos) : null;
    if (!t) { ok = false; return; }
    const k = ravel(t, st);
    const v = storable(data.dataType, combineNumber(reduction, out[k], upd[flat]));
    if (v === null) ok = false;
    else out[k] = v;
  });
  return ok ? numbersToTensor('', data.dataType, data.dims, out) : null;
}

function normalized(raw: number, n: number): number | null {
  const v = raw < 0 ? raw + n : raw;
  return v >= 0 && v < n ? v : null;
}

const INDEX_TYPES: readonly DataType[] = [DataType.INT32, DataType.INT64];

function requireTargets(ctx: NodeContext, dims: readonly number[]): void {
  if (elementCount(ctx.shape(2)) > 0 && dims.some((d) => d === 0)) ctx.unsupported('updates target an empty axis');
}

// ---- ScatterElements / Scatter ----

function scatterElementsAxis(ctx: NodeContext): number {
  ctx.requireDtype(1, INDEX_TYPES);
  const data = ctx.shape(0);
  const idx = ctx.shape(1);
  const upd = ctx.shape(2);
  if (ctx.dtype(2) !== ctx.dtype(0)) ctx.unsupported('updates dtype differs from data');
  if (data.length === 0 || idx.length !== data.length) ctx.unsupported('data and indices must have the same rank >= 1');
  if (upd.length !== idx.length || upd.some((d, k) => d !== idx[k])) ctx.unsupported('updates shape must equal indices shape');
  const axis = ctx.axis(ctx.int('axis', 0), data.length);
  if (idx.some((d, k) => k !== axis && d > data[k])) ctx.unsupported(`indices shape [${idx.join(', ')}] exceeds data [${data.join(', ')}]`);
  requireTargets(ctx, [data[axis]]);
  return axis;
}

function registerScatterElements(op: string, since: number): void {
  registerOp({
    domain: '', op, since,
    infer: (ctx) => {
      scatterElementsAxis(ctx);
      reductionOf(ctx);
      return [ctx.type(0)];
    },
    fold: (ctx, [data, indices, updates]) => {
      if (!data || !indices || !updates) return null;
      const axis = scatterElementsAxis(ctx);
      const idx = tensorToNumbers(indices);
      const ist = stridesOf(indices.dims);
      const out = foldScatter(data, updates, reductionOf(ctx), (pos) => {
        const v = normalized(idx[ravel(pos, ist)], data.dims[axis]);
        if (v === null) return null;
        const t = [...pos];
        t[axis] = v;
        return t;
      });
      return out ? [out] : null;
    },
    lower: (ctx) => {
      const axis = scatterElementsAxis(ctx);
      const indices = operand(ctx, 1);
      const n = ctx.shape(0)[axis];
      return [emitScatter(ctx, reductionOf(ctx), (c, ivs) => ivs.map((iv, k) => (k === axis ? clampIndex(c.b, toIndex(c.b, extract(c.b, indices, ivs), indices.dtype), n) : iv)))];
    },
  });
}

registerScatterElements('ScatterElements', 11);
// Scatter (opsets 9-10) is ScatterElements without reductions; attribute defaults make them agree.
registerScatterElements('Scatter', 9);

// ---- ScatterND ----

/** Length of the index tuples (last dim of indices). */
function scatterNdDepth(ctx: NodeContext): number {
  ctx.requireDtype(1, INDEX_TYPES);
  const data = ctx.shape(0);
  const idx = ctx.shape(1);
  const upd = ctx.shape(2);
  if (ctx.dtype(2) !== ctx.dtype(0)) ctx.unsupported('updates dtype differs from data');
  if (data.length === 0 || idx.length === 0) ctx.unsupported('data and indices must have rank >= 1');
  const depth = idx[idx.length - 1];
  if (depth > data.length) ctx.unsupported(`index tuples of ${depth} exceed data rank ${data.length}`);
  const want = [...idx.slice(0, -1), ...data.slice(depth)];
  if (upd.length !== want.length || upd.some((d, k) => d !== want[k])) ctx.unsupported(`updates shape must be [${want.join(', ')}]`);
  requireTargets(ctx, data.slice(0, depth));
  return depth;
}

function scatterNdTarget(ctx: LowerContext, indices: TensorRef, depth: number, ivs: readonly string[]): string[] {
  const lead = indices.shape.length - 1;
  const data = ctx.shape(0);
  const tuple = Array.from({ length: depth }, (_, j) => {
    const raw = extract(ctx.b, indices, [...ivs.slice(0, lead), ctx.b.index(j)]);
    return clampIndex(ctx.b, toIndex(ctx.b, raw, indices.dtype), data[j]);
  });
  return [...tuple, ...ivs.slice(lead)];
}

registerOp({
  domain: '', op: 'ScatterND', since: 11,
  infer: (ctx) => {
    scatterNdDepth(ctx);
    reductionOf(ctx);
    return [ctx.type(0)];
  },
  fold: (ctx, [data, indices, updates]) => {
    if (!data || !indices || !updates) return null;
    const depth = scatterNdDepth(ctx);
    const idx = tensorToNumbers(indices);
    const ist = stridesOf(indices.dims);
    const lead = indices.dims.length - 1;
    const out = foldScatter(data, updates, reductionOf(ctx), (pos) => {
      const t: number[] = [];
      for (let j = 0; j < depth; j++) {
        const v = normalized(idx[ravel([...pos.slice(0, lead), j], ist)], data.dims[j]);
        if (v === null) return null;
        t.push(v);
      }
      return [...t, ...pos.slice(lead)];
    });
    return out ? [out] : null;
  },
  lower: (ctx) => {
    const depth = scatterNdDepth(ctx);
    const indices = operand(ctx, 1);
    return [emitScatter(ctx, reductionOf(ctx), (c, ivs) => scatterNdTarget(c, indices, depth, ivs))];
  },
});
