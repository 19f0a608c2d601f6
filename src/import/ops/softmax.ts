// Softmax, LogSoftmax and Hardmax. Before opset 13 the input is coerced to 2D
// at `axis` (default 1), i.e. normalised over all dims from `axis` on; since
// 13 over the single `axis` (default -1). Softmax subtracts the max first so
// large inputs do not overflow exp; half types compute in f32.
import { DataType } from '../../onnx/model.js';
import { isFloat } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import type { FuncBuilder } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import {
  accumulatorDtype, argReduce, broadcastRead, mapGeneric, reduceGeneric, reducedLinearIndex, reducedMask, trailingMask,
  type TensorRef,
} from '../reduce-helpers.js';

/** Opset from which the ops normalise along a single axis. */
const SINGLE_AXIS_SINCE = 13;
const LEGACY_DEFAULT_AXIS = 1;
const DEFAULT_AXIS = -1;

function normalisedMask(ctx: NodeContext, legacy: boolean): boolean[] {
  const dt = ctx.dtype(0);
  if (!isFloat(dt)) ctx.unsupported(`${ctx.node.op} of ${DataType[dt]} is not supported (expected a float tensor)`);
  const rank = ctx.shape(0).length;
  if (rank === 0) ctx.unsupported(`${ctx.node.op} needs a tensor of rank >= 1`);
  if (legacy) return trailingMask(rank, ctx.axis(ctx.int('axis', LEGACY_DEFAULT_AXIS), rank));
  return reducedMask(ctx, rank, [ctx.int('axis', DEFAULT_AXIS)]);
}

function inputRef(ctx: LowerContext): TensorRef {
  return { value: ctx.input(0), dt: ctx.dtype(0), shape: ctx.shape(0) };
}

/**
 * Softmax (or LogSoftmax with `log`) of `x` normalised over the `reduced`
 * dims, max-subtracted so large inputs do not overflow exp. Also used by
 * SoftmaxCrossEntropyLoss.
 */
export function emitSoftmax(b: FuncBuilder, x: TensorRef, reduced: readonly boolean[], log: boolean): string {
  const mask = [...reduced];
  const accDt = accumulatorDtype(x.dt);
  const widen = (fb: FuncBuilder, v: string) => convertScalar(fb, v, x.dt, accDt);
  const max = reduceGeneric(b, {
    space: x.shape, reduced: mask, inputs: [broadcastRead(x, x.shape)], accDt, identity: 'lowest',
    step: (fb, [v], acc) => new Scalar(fb, accDt).max(acc, widen(fb, v)),
  });
  if (log) {
    const sum = reduceGeneric(b, {
      space: x.shape, reduced: mask, inputs: [broadcastRead(x, x.shape), broadcastRead(max, x.shape)], accDt, identity: 'zero',
      step: (fb, [v, m], acc) => {
        const s = new Scalar(fb, accDt);
        return s.add(acc, s.math('exp', s.sub(widen(fb, v), m)));
      },
    });
    const reads = [x, max, sum].map((t) => broadcastRead(t, x.shape));
    return mapGeneric(b, x.dt, x.shape, reads, (fb, [v, m, z]) => {
      const s = new Scalar(fb, accDt);
      return convertScalar(fb, s.sub(s.sub(widen(fb, v), m), s.math('log', z)), accDt, x.dt);
    }).value;
  }
  // exp once, into a tensor that the sum and the output both read (two uses:
  // elementwise fusion leaves it materialized rather than computing exp per
  // consumer), and one reciprocal per slice instead of a division per element.
  const exps = mapGeneric(b, accDt, x.shape, [broadcastRead(x, x.shape), broadcastRead(max, x.shape)], (fb, [v, m]) => {
    const s = new Scalar(fb, accDt);
    return s.math('exp', s.sub(widen(fb, v), m));
  });
  const sum = reduceGeneric(b, {
    space: x.shape, reduced: mask, inputs: [broadcastRead(exps, x.shape)], accDt, identity: 'zero',
    step: (fb, [e], acc) => new Scalar(fb, accDt).add(acc, e),
  });
  const inverse = mapGeneric(b, accDt, sum.shape, [broadcastRead(sum, sum.shape)], (fb, [z]) => {
    const s = new Scalar(fb, accDt);
    return s.div(s.one(), z);
  });
  return mapGeneric(b, x.dt, x.shape, [broadcastRead(exps, x.shape), broadcastRead(inverse, x.shape)], (fb, [e, r]) =>
    convertScalar(fb, new Scalar(fb, accDt).mul(e, r), accDt, x.dt),
  ).value;
}

function lowerSoftmax(ctx: LowerContext, legacy: boolean, log: boolean): string {
  return emitSoftmax(ctx.b, inputRef(ctx), normalisedMask(ctx, legacy), log);
}

/** 1 at the first maximum of each normalised slice, 0 elsewhere. */
function lowerHardmax(ctx: LowerContext, legacy: boolean): string {
  const reduced = normalisedMask(ctx, legacy);
  const x = inputRef(ctx);
  const idx = argReduce(ctx.b, { x, reduced, largest: true, selectLast: false, keepdims: true });
  return mapGeneric(ctx.b, x.dt, x.shape, [broadcastRead(idx, x.shape)], (fb, [best]) => {
    const s = new Scalar(fb, x.dt);
    const here = fb.op(`arith.cmpi eq, ${reducedLinearIndex(fb, x.shape, reduced)}, ${best} : i64`);
    return s.select(here, s.one(), s.zero());
  }).value;
}

type Lowering = (ctx: LowerContext, legacy: boolean) => string;

const OPS: Record<string, Lowering> = {
  Softmax: (ctx, legacy) => lowerSoftmax(ctx, legacy, false),
  LogSoftmax: (ctx, legacy) => lowerSoftmax(ctx, legacy, true),
  Hardmax: lowerHardmax,
};

for (const [op, lower] of Object.entries(OPS)) {
  for (const [since, legacy] of [[1, true], [SINGLE_AXIS_SINCE, false]] as const) {
    registerOp({
      domain: '', op, since,
      infer: (ctx) => {
        normalisedMask(ctx, legacy);
        return [ctx.type(0)];
      },
      lower: (ctx) => [lower(ctx, legacy)],
    });
  }
}
