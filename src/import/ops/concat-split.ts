// Concat → one in-place copy per input into a slice of the result; Split →
// one slice per output.
import type { OnnxTensor } from '../../onnx/model.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { concatTensors, sliceMap, takeElements, type DimSlice } from '../fold-helpers.js';
import { emitInsert, emitSlice, operand } from '../index-lowering.js';

function concatAxis(ctx: NodeContext): number {
  const r = ctx.rank(0);
  if (r === 0) ctx.unsupported('Concat inputs must have rank >= 1');
  return ctx.axis(ctx.int('axis'), r);
}

function inferConcat(ctx: NodeContext): number[] {
  const axis = concatAxis(ctx);
  const first = ctx.shape(0);
  const out = [...first];
  out[axis] = 0;
  for (let i = 0; i < ctx.inputCount; i++) {
    const s = ctx.shape(i);
    if (ctx.dtype(i) !== ctx.dtype(0)) ctx.unsupported(`input ${i} dtype differs from input 0`);
    if (s.length !== first.length || s.some((d, k) => k !== axis && d !== first[k])) {
      ctx.unsupported(`input ${i} shape [${s.join(', ')}] does not match [${first.join(', ')}] off axis ${axis}`);
    }
    out[axis] += s[axis];
  }
  return out;
}

function lowerConcat(ctx: LowerContext): string[] {
  const axis = concatAxis(ctx);
  const outT = ctx.outTensor(0);
  if (ctx.outShape(0).includes(0)) return [ctx.b.empty(outT)];
  // Inputs empty along the axis contribute nothing (and tensor.concat needs none of them).
  const parts = Array.from({ length: ctx.inputCount }, (_, i) => operand(ctx, i)).filter((r) => r.shape[axis] > 0);
  if (parts.length === 1) return [parts[0].value];
  // Not tensor.concat: it bufferizes to strided memref.copy calls (see emitInsert).
  let dest = ctx.b.empty(outT);
  let offset = 0;
  for (const part of parts) {
    const offsets = part.shape.map((_, k) => (k === axis ? offset : 0));
    dest = emitInsert(ctx.b, dest, outT, part, offsets);
    offset += part.shape[axis];
  }
  return [dest];
}

registerOp({
  domain: '', op: 'Concat', since: 4,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: inferConcat(ctx) }],
  fold: (ctx, inputs) => {
    const ts = inputs.filter((t): t is OnnxTensor => t !== null);
    if (ts.length !== inputs.length || ts.length === 0) return null;
    inferConcat(ctx);
    const out = concatTensors(ts, concatAxis(ctx));
    return out ? [out] : null;
  },
  lower: lowerConcat,
});

// ---- Split ----

type SplitSizes = (ctx: NodeContext, dim: number) => number[];

/** Equal parts, one per output; opset < 18 requires an even split. */
function evenSplit(ctx: NodeContext, dim: number, parts: number): number[] {
  if (parts <= 0 || dim % parts !== 0) ctx.unsupported(`dimension ${dim} does not split evenly into ${parts} outputs`);
  return new Array<number>(parts).fill(dim / parts);
}

/** Opset 18 num_outputs: ceil-sized chunks, the last one smaller. */
function chunkSplit(ctx: NodeContext, dim: number, parts: number): number[] {
  if (parts <= 0) ctx.unsupported(`num_outputs ${parts} must be positive`);
  const chunk = Math.ceil(dim / parts);
  const last = dim - chunk * (parts - 1);
  if (last < 0) ctx.unsupported(`dimension ${dim} cannot be split into ${parts} chunks of ${chunk}`);
  return [...new Array<number>(parts - 1).fill(chunk), last];
}

const splitSizesByOpset: Record<number, SplitSizes> = {
  2: (ctx, dim) => ctx.optionalInts('split') ?? evenSplit(ctx, dim, ctx.outputCount),
  13: (ctx, dim) => ctx.optionalConstInts(1, 'split') ?? evenSplit(ctx, dim, ctx.outputCount),
  18: (ctx, dim) => ctx.optionalConstInts(1, 'split') ?? chunkSplit(ctx, dim, ctx.int('num_outputs')),
};

interface SplitPlan {
  axis: number;
  slices: DimSlice[][];
}

function planSplit(ctx: NodeContext, sizesOf: SplitSizes): SplitPlan {
  const shape = ctx.shape(0);
  const axis = ctx.axis(ctx.int('axis', 0), shape.length);
  const sizes = sizesOf(ctx, shape[axis]);
  if (sizes.length !== ctx.outputCount) ctx.unsupported(`split has ${sizes.length} parts for ${ctx.outputCount} outputs`);
  if (sizes.some((s) => s < 0) || sizes.reduce((a, s) => a + s, 0) !== shape[axis]) {
    ctx.unsupported(`split [${sizes.join(', ')}] does not add up to dimension ${shape[axis]}`);
  }
  let offset = 0;
  const slices = sizes.map((size) => {
    const dims = shape.map((d) => ({ start: 0, step: 1, size: d }));
    dims[axis] = { start: offset, step: 1, size };
    offset += size;
    return dims;
  });
  return { axis, slices };
}

for (const [since, sizesOf] of Object.entries(splitSizesByOpset)) {
  registerOp({
    domain: '', op: 'Split', since: Number(since),
    infer: (ctx) => planSplit(ctx, sizesOf).slices.map((s) => ({ dataType: ctx.dtype(0), shape: s.map((d) => d.size) })),
    fold: (ctx, [x]) => {
      if (!x) return null;
      const outs = planSplit(ctx, sizesOf).slices.map((s) => takeElements(x, s.map((d) => d.size), sliceMap(x.dims, s)));
      return outs.every((o): o is OnnxTensor => o !== null) ? outs : null;
    },
    lower: (ctx) => {
      const x = operand(ctx, 0);
      return planSplit(ctx, sizesOf).slices.map((s) => emitSlice(ctx.b, x, s));
    },
  });
}
