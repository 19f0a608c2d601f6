// Simple ai.onnx.ml operators: Binarizer (elementwise threshold) and
// ArrayFeatureExtractor (a gather along the last axis by run-time indices).
import { DataType } from '../../onnx/model.js';
import { isFloat, isInteger } from '../../ir/types.js';
import { Scalar } from '../../codegen/scalar.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import { inferBroadcast, lowerElementwise } from '../elementwise.js';
import { emitReshape, operand } from '../index-lowering.js';
import { emitGather } from './gather.js';

const ML = 'ai.onnx.ml';

function numeric(ctx: NodeContext, i: number): DataType {
  const dt = ctx.dtype(i);
  if (!isFloat(dt) && !isInteger(dt)) ctx.unsupported(`input ${i} dtype ${DataType[dt]} is not supported (expected a numeric tensor)`);
  return dt;
}

registerOp({
  domain: ML, op: 'Binarizer', since: 1,
  infer: (ctx) => {
    numeric(ctx, 0);
    return [inferBroadcast(ctx, [0])];
  },
  lower: (ctx) => [lowerElementwise(ctx, [0], (b, [x]) => {
    const s = new Scalar(b, ctx.dtype(0));
    return s.select(s.cmp('gt', x, s.const(ctx.float('threshold', 0))), s.one(), s.zero());
  })],
});

/** Output shape: the input's with its last dim replaced by the index count ([1, k] for 1-D input). */
function extractorShape(ctx: NodeContext): number[] {
  numeric(ctx, 0);
  const x = ctx.shape(0);
  if (x.length === 0) ctx.unsupported('X must have rank >= 1');
  const idx = ctx.shape(1);
  if (ctx.dtype(1) !== DataType.INT64) ctx.unsupported('Y (indices) must be int64');
  const k = idx.reduce((p, d) => p * d, 1);
  return x.length === 1 ? [1, k] : [...x.slice(0, -1), k];
}

registerOp({
  domain: ML, op: 'ArrayFeatureExtractor', since: 1,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: extractorShape(ctx) }],
  lower: (ctx) => {
    const shape = extractorShape(ctx);
    const data = operand(ctx, 0);
    const idx = operand(ctx, 1);
    const k = shape[shape.length - 1];
    const flat = { ...idx, value: emitReshape(ctx.b, idx, [k]), shape: [k] };
    const axis = data.shape.length - 1;
    const gathered = emitGather(ctx, data, flat, axis, [...data.shape.slice(0, -1), k]);
    return [emitReshape(ctx.b, { value: gathered, dtype: data.dtype, shape: [...data.shape.slice(0, -1), k] }, shape)];
  },
});
