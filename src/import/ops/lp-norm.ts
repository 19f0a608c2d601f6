// LpNormalization (opset 1; 22 only adds types): x / ||x||_p along one axis,
// p = 1 or 2. A zero norm gives 0 rather than 0/0, as ONNX Runtime does.
import { DataType } from '../../onnx/model.js';
import { isFloat } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import type { FuncBuilder } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import { accumulatorDtype, broadcastRead, mapGeneric, reduceGeneric, reducedMask, type TensorRef } from '../reduce-helpers.js';

const DEFAULT_AXIS = -1;
const DEFAULT_P = 2;

interface LpPlan {
  p: 1 | 2;
  reduced: boolean[];
}

function planLp(ctx: NodeContext): LpPlan {
  const dt = ctx.dtype(0);
  if (!isFloat(dt)) ctx.unsupported(`LpNormalization of ${DataType[dt]} is not supported (expected a float tensor)`);
  const rank = ctx.shape(0).length;
  if (rank === 0) ctx.unsupported('LpNormalization needs a tensor of rank >= 1');
  const p = ctx.int('p', DEFAULT_P);
  if (p !== 1 && p !== 2) ctx.unsupported(`p must be 1 or 2, got ${p}`);
  return { p, reduced: reducedMask(ctx, rank, [ctx.int('axis', DEFAULT_AXIS)]) };
}

function emitLpNorm(b: FuncBuilder, x: TensorRef, plan: LpPlan): string {
  const accDt = accumulatorDtype(x.dt);
  const widen = (fb: FuncBuilder, v: string) => convertScalar(fb, v, x.dt, accDt);
  const total = reduceGeneric(b, {
    space: x.shape, reduced: plan.reduced, inputs: [broadcastRead(x, x.shape)], accDt, identity: 'zero',
    step: (fb, [v], acc) => {
      const s = new Scalar(fb, accDt);
      const w = widen(fb, v);
      return s.add(acc, plan.p === 1 ? s.abs(w) : s.mul(w, w));
    },
  });
  return mapGeneric(b, x.dt, x.shape, [broadcastRead(x, x.shape), broadcastRead(total, x.shape)], (fb, [v, t]) => {
    const s = new Scalar(fb, accDt);
    const norm = plan.p === 1 ? t : s.math('sqrt', t);
    const y = s.select(s.cmp('eq', norm, s.zero()), s.zero(), s.div(widen(fb, v), norm));
    return convertScalar(fb, y, accDt, x.dt);
  }).value;
}

registerOp({
  domain: '', op: 'LpNormalization', since: 1,
  infer: (ctx) => {
    planLp(ctx);
    return [ctx.type(0)];
  },
  lower: (ctx) => [emitLpNorm(ctx.b, { value: ctx.input(0), dt: ctx.dtype(0), shape: ctx.shape(0) }, planLp(ctx))],
});
