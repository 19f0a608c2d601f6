// Reshape, Flatten, Squeeze and Unsqueeze: the data keeps its row-major
// layout, only the shape changes, so all four lower to emitReshape (a
// collapse/expand pair) and fold by relabelling the constant's dims.
import type { OnnxTensor } from '../../onnx/model.js';
import type { TensorType } from '../../ir/types.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { withDims } from '../fold-helpers.js';
import { emitReshape, operand } from '../index-lowering.js';

/** Reshape's placeholder for "infer this dimension". */
const INFER_DIM = -1;

type ShapeRule = (ctx: NodeContext) => number[];

/** Registers a shape-only op: output = input 0 with the shape `rule` computes. */
function registerReshapeLike(op: string, since: number, rule: ShapeRule): void {
  const infer = (ctx: NodeContext): TensorType[] => [{ dataType: ctx.dtype(0), shape: rule(ctx) }];
  registerOp({
    domain: '', op, since,
    infer,
    fold: (ctx, [x]: readonly (OnnxTensor | null)[]) => (x ? [withDims(x, rule(ctx))] : null),
    lower: (ctx: LowerContext) => [emitReshape(ctx.b, operand(ctx, 0), ctx.outShape(0))],
  });
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, d) => a * d, 1);
}

function reshapeTarget(ctx: NodeContext, allowZero: boolean): number[] {
  const input = ctx.shape(0);
  const spec = ctx.constInts(1, 'shape');
  if (ctx.shape(1).length !== 1) ctx.unsupported('shape must be a 1-D tensor');
  const out = spec.map((s, i) => {
    if (s === 0 && !allowZero) {
      if (i >= input.length) ctx.unsupported(`shape[${i}] = 0 copies a dimension the rank-${input.length} input lacks`);
      return input[i];
    }
    return s;
  });
  const inferred = out.flatMap((d, i) => (d === INFER_DIM ? [i] : []));
  if (inferred.length > 1) ctx.unsupported('shape has more than one -1');
  if (out.some((d) => d < INFER_DIM)) ctx.unsupported(`shape [${spec.join(', ')}] has a negative dimension`);
  const total = product(input);
  if (inferred.length === 1) {
    const known = product(out.filter((d) => d !== INFER_DIM));
    if (known === 0 || total % known !== 0) ctx.unsupported(`cannot infer -1 in shape [${spec.join(', ')}] for ${total} elements`);
    out[inferred[0]] = total / known;
  }
  if (product(out) !== total) ctx.unsupported(`shape [${out.join(', ')}] does not hold the ${total} elements of [${input.join(', ')}]`);
  return out;
}

registerReshapeLike('Reshape', 5, (ctx) => reshapeTarget(ctx, false));
registerReshapeLike('Reshape', 14, (ctx) => reshapeTarget(ctx, ctx.int('allowzero', 0) !== 0));

registerReshapeLike('Flatten', 1, (ctx) => {
  const input = ctx.shape(0);
  const r = input.length;
  const raw = ctx.int('axis', 1);
  const axis = raw < 0 ? raw + r : raw;
  if (axis < 0 || axis > r) ctx.unsupported(`axis ${raw} is out of range for rank ${r}`);
  return [product(input.slice(0, axis)), product(input.slice(axis))];
});

/** Normalised, duplicate-free axes against `rank`. */
function uniqueAxes(ctx: NodeContext, axes: readonly number[], rank: number): Set<number> {
  const set = new Set(axes.map((a) => ctx.axis(a, rank)));
  if (set.size !== axes.length) ctx.unsupported(`axes [${axes.join(', ')}] repeat an axis`);
  return set;
}

function squeezed(ctx: NodeContext, axes: readonly number[] | null): number[] {
  const input = ctx.shape(0);
  if (axes === null) return input.filter((d) => d !== 1);
  const set = uniqueAxes(ctx, axes, input.length);
  for (const a of set) if (input[a] !== 1) ctx.unsupported(`cannot squeeze axis ${a} of size ${input[a]}`);
  return input.filter((_, i) => !set.has(i));
}

registerReshapeLike('Squeeze', 1, (ctx) => squeezed(ctx, ctx.optionalInts('axes')));
registerReshapeLike('Squeeze', 13, (ctx) => squeezed(ctx, ctx.optionalConstInts(1, 'axes')));

function unsqueezed(ctx: NodeContext, axes: readonly number[]): number[] {
  const input = ctx.shape(0);
  const rank = input.length + axes.length;
  const set = uniqueAxes(ctx, axes, rank);
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : input[k++]);
  return out;
}

registerReshapeLike('Unsqueeze', 1, (ctx) => unsqueezed(ctx, ctx.ints('axes')));
registerReshapeLike('Unsqueeze', 13, (ctx) => unsqueezed(ctx, ctx.constInts(1, 'axes')));
