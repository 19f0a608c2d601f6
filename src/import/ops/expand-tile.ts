// Expand (broadcast to a shape) and Tile (repeat along every axis): one
// linalg.generic whose input map reads index 0 (broadcast) or d mod n (tile).
import { elementCount } from '../../onnx/model.js';
import { affineMap, broadcastMap as broadcastAffineMap, elemType, identityMap } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { broadcastShapes } from '../elementwise.js';
import { broadcastMap, takeElements, tileMap } from '../fold-helpers.js';
import { operand, refType } from '../index-lowering.js';

/** Copies input 0 into output 0 through `map` (an affine map over the output's dims). */
function lowerCopy(ctx: LowerContext, map: string): string {
  const x = operand(ctx, 0);
  const outShape = ctx.outShape(0);
  const outT = ctx.outTensor(0);
  if (elementCount(outShape) === 0) return ctx.b.empty(outT);
  if (outShape.length === x.shape.length && outShape.every((d, i) => d === x.shape[i])) return x.value;
  const elem = elemType(x.dtype);
  const [y] = ctx.b.generic({
    inputs: [{ value: x.value, type: refType(x), map, elem }],
    outputs: [{ value: ctx.b.empty(outT), type: outT, map: identityMap(outShape.length), elem }],
    iterators: outShape.map(() => 'parallel'),
    body: (_b, [v]) => [v],
  });
  return y;
}

function expandShape(ctx: NodeContext): number[] {
  if (ctx.shape(1).length !== 1) ctx.unsupported('shape must be a 1-D tensor');
  const target = ctx.constInts(1, 'shape');
  if (target.some((d) => d < 0)) ctx.unsupported(`shape [${target.join(', ')}] has a negative dimension`);
  return broadcastShapes(ctx, [ctx.shape(0), target]);
}

registerOp({
  domain: '', op: 'Expand', since: 8,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: expandShape(ctx) }],
  fold: (ctx, [x]) => {
    if (!x) return null;
    const shape = expandShape(ctx);
    const out = takeElements(x, shape, broadcastMap(x.dims, shape));
    return out ? [out] : null;
  },
  lower: (ctx) => [lowerCopy(ctx, broadcastAffineMap(ctx.shape(0), ctx.outShape(0)))],
});

function tileShape(ctx: NodeContext): number[] {
  const input = ctx.shape(0);
  const repeats = ctx.constInts(1, 'repeats');
  if (repeats.length !== input.length || repeats.some((r) => r < 0)) {
    ctx.unsupported(`repeats [${repeats.join(', ')}] must be ${input.length} non-negative counts`);
  }
  return input.map((d, i) => d * repeats[i]);
}

function tileTerm(n: number, outDim: number, k: number): string {
  if (n === outDim) return `d${k}`;
  return n === 1 ? '0' : `d${k} mod ${n}`;
}

registerOp({
  domain: '', op: 'Tile', since: 6,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: tileShape(ctx) }],
  fold: (ctx, [x]) => {
    if (!x) return null;
    const shape = tileShape(ctx);
    const out = takeElements(x, shape, tileMap(x.dims, shape));
    return out ? [out] : null;
  },
  lower: (ctx) => {
    const input = ctx.shape(0);
    const out = ctx.outShape(0);
    return [lowerCopy(ctx, affineMap(out.length, input.map((n, k) => tileTerm(n, out[k], k))))];
  },
});
