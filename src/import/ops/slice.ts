// Slice: contiguous slices → tensor.extract_slice; strided or reversed ones →
// a linalg.generic reading input index start + d*step (an affine map).
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import { sliceMap, takeElements, type DimSlice } from '../fold-helpers.js';
import { emitSlice, operand } from '../index-lowering.js';

interface SliceArgs {
  starts: number[];
  ends: number[];
  axes: number[] | null;
  steps: number[] | null;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

/**
 * Normalises one axis as ONNX specifies: negative starts/ends count from the
 * end, then clamp to [0, d] (positive step) or [0, d-1] / [-1, d-1]
 * (negative step); INT64_MAX/MIN sentinels simply clamp.
 */
function sliceDim(d: number, start: number, end: number, step: number): DimSlice {
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = clamp(s, 0, d);
    e = clamp(e, 0, d);
  } else {
    s = clamp(s, 0, d - 1);
    e = clamp(e, -1, d - 1);
  }
  const size = Math.max(0, Math.ceil((e - s) / step));
  return { start: size > 0 ? s : 0, step, size };
}

function planSlice(ctx: NodeContext, args: SliceArgs): DimSlice[] {
  const shape = ctx.shape(0);
  const n = args.starts.length;
  const axes = args.axes ?? Array.from({ length: n }, (_, i) => i);
  const steps = args.steps ?? new Array<number>(n).fill(1);
  if (args.ends.length !== n || axes.length !== n || steps.length !== n) {
    ctx.unsupported('starts, ends, axes and steps must have the same length');
  }
  const plan: DimSlice[] = shape.map((d) => ({ start: 0, step: 1, size: d }));
  const seen = new Set<number>();
  axes.forEach((raw, k) => {
    const a = ctx.axis(raw, shape.length);
    if (seen.has(a)) ctx.unsupported(`axis ${a} is sliced twice`);
    seen.add(a);
    if (steps[k] === 0) ctx.unsupported('slice step must not be 0');
    plan[a] = sliceDim(shape[a], args.starts[k], args.ends[k], steps[k]);
  });
  return plan;
}

function registerSlice(since: number, argsOf: (ctx: NodeContext) => SliceArgs): void {
  registerOp({
    domain: '', op: 'Slice', since,
    infer: (ctx) => [{ dataType: ctx.dtype(0), shape: planSlice(ctx, argsOf(ctx)).map((s) => s.size) }],
    fold: (ctx, [x]) => {
      if (!x) return null;
      const plan = planSlice(ctx, argsOf(ctx));
      const out = takeElements(x, plan.map((s) => s.size), sliceMap(x.dims, plan));
      return out ? [out] : null;
    },
    lower: (ctx) => [emitSlice(ctx.b, operand(ctx, 0), planSlice(ctx, argsOf(ctx)))],
  });
}

registerSlice(1, (ctx) => ({ starts: ctx.ints('starts'), ends: ctx.ints('ends'), axes: ctx.optionalInts('axes'), steps: null }));
registerSlice(10, (ctx) => ({
  starts: ctx.constInts(1, 'starts'),
  ends: ctx.constInts(2, 'ends'),
  axes: ctx.optionalConstInts(3, 'axes'),
  steps: ctx.optionalConstInts(4, 'steps'),
}));
