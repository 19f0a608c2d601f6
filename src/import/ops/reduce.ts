// The Reduce* family: axes as an attribute (before opset 13 for ReduceSum,
// 18 for the others) or as a constant input, keepdims, noop_with_empty_axes.
// Lowered to a linalg.generic with reduction iterators into a filled
// accumulator (f32 for half types), then one elementwise "finish" generic.
import { DataType, type OnnxTensor } from '../../onnx/model.js';
import { isFloat, isInteger } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import type { FuncBuilder } from '../../codegen/mlir-builder.js';
import { identityMap } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { canHoldNumbers, numbersToTensor, tensorToNumbers } from '../tensor-data.js';
import {
  accumulatorDtype, broadcastRead, droppedShape, keptShape, mapGeneric, reduceGeneric, reducedCount, reducedMask,
  squeezedRead, type IdentityKind, type Operand, type TensorRef,
} from '../reduce-helpers.js';

type Combine = 'add' | 'mul' | 'max' | 'min';

interface Reduction {
  combine: Combine;
  /** Needs float math (sqrt, log, exp). */
  floatOnly: boolean;
  /** ReduceMax/Min accept bool since opset 20. */
  allowBool: boolean;
  pre?: (s: Scalar, x: string) => string;
  post?: (s: Scalar, acc: string, count: number) => string;
  jsPre?: (x: number) => number;
  jsPost?: (acc: number, count: number, intDiv: boolean) => number;
  /** Subtract the running max before exp (ReduceLogSumExp). */
  shifted?: boolean;
}

const IDENTITY: Record<Combine, IdentityKind> = { add: 'zero', mul: 'one', max: 'lowest', min: 'highest' };

const JS_COMBINE: Record<Combine, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  mul: (a, b) => a * b,
  max: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  min: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
};

function combineScalar(s: Scalar, c: Combine, x: string, acc: string): string {
  if (c === 'add') return s.add(acc, x);
  if (c === 'mul') return s.mul(acc, x);
  return c === 'max' ? s.max(acc, x) : s.min(acc, x);
}

const REDUCTIONS: Record<string, Reduction> = {
  ReduceSum: { combine: 'add', floatOnly: false, allowBool: false },
  ReduceProd: { combine: 'mul', floatOnly: false, allowBool: false },
  ReduceMax: { combine: 'max', floatOnly: false, allowBool: true },
  ReduceMin: { combine: 'min', floatOnly: false, allowBool: true },
  ReduceMean: {
    combine: 'add', floatOnly: false, allowBool: false,
    post: (s, acc, n) => s.div(acc, s.const(n)),
    jsPost: (acc, n, intDiv) => (intDiv ? Math.trunc(acc / n) : acc / n),
  },
  ReduceL1: { combine: 'add', floatOnly: false, allowBool: false, pre: (s, x) => s.abs(x), jsPre: Math.abs },
  ReduceL2: {
    combine: 'add', floatOnly: true, allowBool: false,
    pre: (s, x) => s.mul(x, x), jsPre: (x) => x * x,
    post: (s, acc) => s.math('sqrt', acc), jsPost: Math.sqrt,
  },
  ReduceSumSquare: { combine: 'add', floatOnly: false, allowBool: false, pre: (s, x) => s.mul(x, x), jsPre: (x) => x * x },
  ReduceLogSum: {
    combine: 'add', floatOnly: true, allowBool: false,
    post: (s, acc) => s.math('log', acc), jsPost: Math.log,
  },
  ReduceLogSumExp: {
    combine: 'add', floatOnly: true, allowBool: false, shifted: true,
    post: (s, acc) => s.math('log', acc), jsPre: Math.exp, jsPost: Math.log,
  },
};

/** Opset at which each op's axes moved from an attribute to an input. */
const AXES_INPUT_SINCE: Record<string, number> = { ReduceSum: 13 };
const DEFAULT_AXES_INPUT_SINCE = 18;

/** The reduced-dims mask, or null for noop_with_empty_axes with empty axes (identity). */
function reducePlan(ctx: NodeContext, axesFromInput: boolean): boolean[] | null {
  const rank = ctx.shape(0).length;
  let axes: number[] | null;
  if (axesFromInput) {
    // A zero-length axes input is known to be empty from its shape alone.
    axes = !ctx.has(1) || ctx.shape(1)[0] === 0 ? null : ctx.constInts(1, 'axes');
    if ((axes === null || axes.length === 0) && ctx.int('noop_with_empty_axes', 0)) return null;
  } else {
    axes = ctx.optionalInts('axes');
  }
  if (!axes || axes.length === 0) return new Array<boolean>(rank).fill(true);
  return reducedMask(ctx, rank, axes);
}

function checkDtype(ctx: NodeContext, r: Reduction): DataType {
  const dt = ctx.dtype(0);
  const ok = isFloat(dt) || (!r.floatOnly && isInteger(dt)) || (r.allowBool && dt === DataType.BOOL);
  if (!ok) ctx.unsupported(`${ctx.node.op} of ${DataType[dt]} is not supported (expected ${r.floatOnly ? 'a float' : 'a numeric'} tensor)`);
  return dt;
}

function outShapeOf(ctx: NodeContext, reduced: boolean[]): number[] {
  const shape = ctx.shape(0);
  return ctx.int('keepdims', 1) ? keptShape(shape, reduced) : droppedShape(shape, reduced);
}

function inferReduce(ctx: NodeContext, r: Reduction, axesFromInput: boolean) {
  const dt = checkDtype(ctx, r);
  const plan = reducePlan(ctx, axesFromInput);
  return [{ dataType: dt, shape: plan ? outShapeOf(ctx, plan) : ctx.shape(0) }];
}

/** Row-major strides of `shape`. */
function stridesOf(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1] * shape[i + 1];
  return out;
}

/** Evaluates the reduction on small constant tensors (shape arithmetic, mostly). */
function foldReduce(ctx: NodeContext, r: Reduction, axesFromInput: boolean, x: OnnxTensor | null): OnnxTensor[] | null {
  if (!x || !canHoldNumbers(x.dataType)) return null;
  const dt = checkDtype(ctx, r);
  const plan = reducePlan(ctx, axesFromInput);
  if (!plan) return [x];
  const shape = [...x.dims];
  const kept = keptShape(shape, plan);
  const inStrides = stridesOf(shape);
  const outStrides = stridesOf(kept);
  const acc = new Array<number>(kept.reduce((n, d) => n * d, 1)).fill(identityNumber(r.combine));
  tensorToNumbers(x).forEach((v, flat) => {
    let o = 0;
    shape.forEach((_, d) => {
      if (!plan[d]) o += Math.floor(flat / inStrides[d]) % shape[d] * outStrides[d];
    });
    acc[o] = JS_COMBINE[r.combine](acc[o], r.jsPre ? r.jsPre(v) : v);
  });
  const n = reducedCount(shape, plan);
  const values = acc.map((a) => (r.jsPost ? r.jsPost(a, n, !isFloat(dt)) : a));
  return [numbersToTensor('', dt, outShapeOf(ctx, plan), values)];
}

function identityNumber(c: Combine): number {
  return { add: 0, mul: 1, max: -Infinity, min: Infinity }[c];
}

/** Reading a keepdims accumulator from the output's iteration space. */
function finishRead(acc: TensorRef, reduced: boolean[], keepdims: boolean): Operand {
  return keepdims ? { ref: acc, map: identityMap(acc.shape.length) } : squeezedRead(acc, reduced);
}

/** exp-shift for ReduceLogSumExp: the max, or 0 where it is not finite (all -inf, or +inf). */
function finiteShift(s: Scalar, m: string): string {
  const finite = s.b.op(`arith.cmpf one, ${s.abs(m)}, ${s.const(Infinity)} : ${s.elem}`);
  return s.select(finite, m, s.zero());
}

function lowerReduce(ctx: LowerContext, r: Reduction, axesFromInput: boolean): string[] {
  const reduced = reducePlan(ctx, axesFromInput);
  if (!reduced) return [ctx.input(0)];
  const b = ctx.b;
  const dt = ctx.dtype(0);
  const accDt = accumulatorDtype(dt);
  const x: TensorRef = { value: ctx.input(0), dt, shape: ctx.shape(0) };
  const widen = (fb: FuncBuilder, v: string) => convertScalar(fb, v, dt, accDt);
  const shift = r.shifted
    ? reduceGeneric(b, {
      space: x.shape, reduced, inputs: [broadcastRead(x, x.shape)], accDt, identity: 'lowest',
      step: (fb, [v], acc) => new Scalar(fb, accDt).max(acc, widen(fb, v)),
    })
    : null;
  const acc = reduceGeneric(b, {
    space: x.shape, reduced, accDt, identity: IDENTITY[r.combine],
    inputs: [broadcastRead(x, x.shape), ...(shift ? [broadcastRead(shift, x.shape)] : [])],
    step: (fb, [v, m], a) => {
      const s = new Scalar(fb, accDt);
      let y = widen(fb, v);
      if (shift) y = s.math('exp', s.sub(y, finiteShift(s, m)));
      else if (r.pre) y = r.pre(s, y);
      return combineScalar(s, r.combine, y, a);
    },
  });
  const keepdims = ctx.int('keepdims', 1) !== 0;
  const count = reducedCount(x.shape, reduced);
  const reads = [finishRead(acc, reduced, keepdims), ...(shift ? [finishRead(shift, reduced, keepdims)] : [])];
  const out = mapGeneric(b, dt, ctx.outShape(0), reads, (fb, [a, m]) => {
    const s = new Scalar(fb, accDt);
    let y = r.post ? r.post(s, a, count) : a;
    if (shift) y = s.add(y, finiteShift(s, m));
    return convertScalar(fb, y, accDt, dt);
  });
  return [out.value];
}

for (const [op, r] of Object.entries(REDUCTIONS)) {
  const inputSince = AXES_INPUT_SINCE[op] ?? DEFAULT_AXES_INPUT_SINCE;
  for (const [since, fromInput] of [[1, false], [inputSince, true]] as const) {
    registerOp({
      domain: '', op, since,
      infer: (ctx) => inferReduce(ctx, r, fromInput),
      fold: (ctx, [x]) => foldReduce(ctx, r, fromInput, x),
      lower: (ctx) => lowerReduce(ctx, r, fromInput),
    });
  }
}
