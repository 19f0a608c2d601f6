// ArgMax / ArgMin: one reduction generic carrying (best value, best index).
// select_last_index (opset 12) defaults to 0, the only behaviour before it.
import { DataType, type OnnxTensor } from '../../onnx/model.js';
import { isFloat, isInteger } from '../../ir/types.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import { canHoldNumbers, numbersToTensor, tensorToNumbers } from '../tensor-data.js';
import { argReduce, droppedShape, keptShape, reducedMask } from '../reduce-helpers.js';

interface ArgPlan {
  reduced: boolean[];
  keepdims: boolean;
  selectLast: boolean;
}

function argPlan(ctx: NodeContext): ArgPlan {
  const dt = ctx.dtype(0);
  if (!isFloat(dt) && !isInteger(dt)) ctx.unsupported(`${ctx.node.op} of ${DataType[dt]} is not supported (expected a numeric tensor)`);
  const rank = ctx.shape(0).length;
  if (rank === 0) ctx.unsupported(`${ctx.node.op} needs a tensor of rank >= 1`);
  return {
    reduced: reducedMask(ctx, rank, [ctx.int('axis', 0)]),
    keepdims: ctx.int('keepdims', 1) !== 0,
    selectLast: ctx.int('select_last_index', 0) !== 0,
  };
}

function outShape(ctx: NodeContext, p: ArgPlan): number[] {
  const shape = ctx.shape(0);
  return p.keepdims ? keptShape(shape, p.reduced) : droppedShape(shape, p.reduced);
}

/** Evaluates on a small constant (rare, but keeps shape chains foldable). */
function foldArg(ctx: NodeContext, x: OnnxTensor | null, largest: boolean): OnnxTensor[] | null {
  if (!x || !canHoldNumbers(x.dataType)) return null;
  const p = argPlan(ctx);
  const shape = [...x.dims];
  const axis = p.reduced.indexOf(true);
  const inner = shape.slice(axis + 1).reduce((n, d) => n * d, 1);
  const outer = shape.slice(0, axis).reduce((n, d) => n * d, 1);
  const values = tensorToNumbers(x);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = 0;
      for (let k = 1; k < shape[axis]; k++) {
        const v = values[(o * shape[axis] + k) * inner + i];
        const bv = values[(o * shape[axis] + best) * inner + i];
        const better = largest ? v > bv : v < bv;
        if (better || (p.selectLast && v === bv)) best = k;
      }
      out.push(best);
    }
  }
  return [numbersToTensor('', DataType.INT64, outShape(ctx, p), out)];
}

for (const [op, largest] of [['ArgMax', true], ['ArgMin', false]] as const) {
  registerOp({
    domain: '', op, since: 1,
    infer: (ctx) => [{ dataType: DataType.INT64, shape: outShape(ctx, argPlan(ctx)) }],
    fold: (ctx, [x]) => foldArg(ctx, x, largest),
    lower: (ctx) => {
      const p = argPlan(ctx);
      const x = { value: ctx.input(0), dt: ctx.dtype(0), shape: ctx.shape(0) };
      return [argReduce(ctx.b, { x, reduced: p.reduced, largest, selectLast: p.selectLast, keepdims: p.keepdims }).value];
    },
  });
}
