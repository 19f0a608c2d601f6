// Shape and Size: their outputs depend only on the (static) input shape, so
// they fold from types alone; this is what starts the folding of
// Shape → Gather → Concat → Reshape chains.
import { DataType, elementCount } from '../../onnx/model.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import { numbersToTensor } from '../tensor-data.js';
import { i64Constant } from '../index-lowering.js';

/** Shape's output: the input dims, restricted to [start, end) from opset 15. */
function shapeValues(ctx: NodeContext, ranged: boolean): number[] {
  const dims = ctx.shape(0);
  if (!ranged) return dims;
  const r = dims.length;
  const norm = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = norm(ctx.int('start', 0));
  const end = norm(ctx.int('end', r));
  return dims.slice(start, Math.max(start, end));
}

for (const [since, ranged] of [[1, false], [15, true]] as const) {
  registerOp({
    domain: '', op: 'Shape', since,
    foldsOnTypes: true,
    infer: (ctx) => [{ dataType: DataType.INT64, shape: [shapeValues(ctx, ranged).length] }],
    fold: (ctx) => {
      const v = shapeValues(ctx, ranged);
      return [numbersToTensor('', DataType.INT64, [v.length], v)];
    },
    lower: (ctx) => [i64Constant(ctx.b, shapeValues(ctx, ranged))],
  });
}

registerOp({
  domain: '', op: 'Size', since: 1,
  foldsOnTypes: true,
  infer: () => [{ dataType: DataType.INT64, shape: [] }],
  fold: (ctx) => [numbersToTensor('', DataType.INT64, [], [elementCount(ctx.shape(0))])],
  lower: (ctx) => [ctx.b.constant(`dense<${elementCount(ctx.shape(0))}>`, 'tensor<i64>')],
});
