// BatchNormalization (inference and training mode), InstanceNormalization
// and LRN. The normalisations fold into per-channel scale/shift coefficients
// computed once (per C, or per N×C), then one elementwise pass y = x * a + c.
import { DataType } from '../../onnx/model.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import type { FuncBuilder } from '../../codegen/mlir-builder.js';
import { affineMap, elemType, identityMap, tensorTypeOf } from '../../codegen/mlir-builder.js';
import { elemOf, padTensor, typeOf, type Tensor } from '../../codegen/tensor-ops.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { accumulatorDtype } from '../contraction.js';
import { inputTensor } from '../quant.js';
import { reduceToChannels } from '../pool-core.js';
import { broadcastRead, mapGeneric, reduceGeneric, reducedCount } from '../reduce-helpers.js';

const FLOAT_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];
const DEFAULT_EPSILON = 1e-5;

function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

/** Checks that inputs `idx` are float vectors of length C = dim 1 of input 0. */
function checkChannelParams(ctx: NodeContext, idx: readonly number[]): void {
  const c = ctx.shape(0)[1];
  for (const i of idx) {
    ctx.requireDtype(i, FLOAT_TYPES);
    const s = ctx.shape(i);
    if (s.length !== 1 || s[0] !== c) ctx.unsupported(`input ${i} must have shape [${c}], got [${s.join(', ')}]`);
  }
}

interface Coefficients {
  scale: Tensor;
  shift: Tensor;
}

/**
 * Per-channel a = gamma / sqrt(var + eps), c = beta - mean * a, in `accDt`,
 * over a parameter space of `shape` whose operands are read through `maps`.
 */
function coefficients(b: FuncBuilder, shape: number[], accDt: DataType, eps: number, ops: { gamma: [Tensor, string]; beta: [Tensor, string]; mean: [Tensor, string]; variance: [Tensor, string] }): Coefficients {
  const rank = shape.length;
  const type = tensorTypeOf(accDt, shape);
  const elem = elemType(accDt);
  const order = [ops.gamma, ops.beta, ops.mean, ops.variance];
  const [scale, shift] = b.generic({
    inputs: order.map(([t, map]) => ({ value: t.value, type: typeOf(t), map, elem: elemOf(t) })),
    outputs: [0, 1].map(() => ({ value: b.empty(type), type, map: identityMap(rank), elem })),
    iterators: shape.map(() => 'parallel'),
    body: (bb, args) => {
      const s = new Scalar(bb, accDt);
      const [g, be, m, v] = args.slice(0, order.length).map((a, i) => convertScalar(bb, a, order[i][0].dt, accDt));
      const a = s.div(g, s.math('sqrt', s.add(v, s.const(eps))));
      return [a, s.sub(be, s.mul(m, a))];
    },
  });
  return { scale: { value: scale, dt: accDt, shape }, shift: { value: shift, dt: accDt, shape } };
}

/** y = x * a + c with a, c read through `map` (per channel or per N×C). */
function applyCoefficients(b: FuncBuilder, x: Tensor, k: Coefficients, map: string): string {
  const rank = x.shape.length;
  const [y] = b.generic({
    inputs: [
      { value: x.value, type: typeOf(x), map: identityMap(rank), elem: elemOf(x) },
      { value: k.scale.value, type: typeOf(k.scale), map, elem: elemOf(k.scale) },
      { value: k.shift.value, type: typeOf(k.shift), map, elem: elemOf(k.shift) },
    ],
    outputs: [{ value: b.empty(typeOf(x)), type: typeOf(x), map: identityMap(rank), elem: elemOf(x) }],
    iterators: x.shape.map(() => 'parallel'),
    body: (bb, [v, a, c]) => {
      const s = new Scalar(bb, k.scale.dt);
      return [convertScalar(bb, s.add(s.mul(convertScalar(bb, v, x.dt, k.scale.dt), a), c), k.scale.dt, x.dt)];
    },
  });
  return y;
}

// ---- BatchNormalization ----

/** Opset from which training_mode selects batch statistics (and running-statistics outputs). */
const TRAINING_MODE_SINCE = 14;
const DEFAULT_MOMENTUM = 0.9;

function isTraining(ctx: NodeContext): boolean {
  return ctx.opset >= TRAINING_MODE_SINCE && ctx.int('training_mode', 0) !== 0;
}

registerOp({
  domain: '', op: 'BatchNormalization', since: 7,
  infer: (ctx) => {
    const dt = ctx.requireDtype(0, FLOAT_TYPES);
    const x = ctx.shape(0);
    if (x.length < 2) ctx.unsupported(`BatchNormalization input must have rank >= 2, got ${x.length}`);
    if (ctx.int('spatial', 1) !== 1) ctx.unsupported('spatial=0 is not supported');
    checkChannelParams(ctx, [1, 2, 3, 4]);
    if (isTraining(ctx)) return [{ dataType: dt, shape: x }, ctx.type(3), ctx.type(4)];
    if (range(ctx.outputCount - 1, 1).some((i) => ctx.hasOutput(i))) ctx.unsupported('statistics outputs need training_mode=1 (opset 14+)');
    return [{ dataType: dt, shape: x }];
  },
  lower: (ctx) => (isTraining(ctx) ? lowerBatchNormTraining(ctx) : [lowerBatchNormInference(ctx)]),
});

function lowerBatchNormInference(ctx: LowerContext): string {
  const x = inputTensor(ctx, 0);
  const accDt = accumulatorDtype(x.dt);
  const c = [x.shape[1]];
  const id = identityMap(1);
  const k = coefficients(ctx.b, c, accDt, ctx.float('epsilon', DEFAULT_EPSILON), {
    gamma: [inputTensor(ctx, 1), id], beta: [inputTensor(ctx, 2), id], mean: [inputTensor(ctx, 3), id], variance: [inputTensor(ctx, 4), id],
  });
  return applyCoefficients(ctx.b, x, k, affineMap(x.shape.length, ['d1']));
}

/**
 * Training mode: normalise with the batch mean and (biased) variance over
 * every dim but the channel, and return the running statistics
 * input * momentum + batch * (1 - momentum).
 */
function lowerBatchNormTraining(ctx: LowerContext): string[] {
  const b = ctx.b;
  const x = inputTensor(ctx, 0);
  const accDt = accumulatorDtype(x.dt);
  const { mean, variance } = channelStatistics(b, x, accDt);
  const id = identityMap(1);
  const k = coefficients(b, mean.shape, accDt, ctx.float('epsilon', DEFAULT_EPSILON), {
    gamma: [inputTensor(ctx, 1), id], beta: [inputTensor(ctx, 2), id], mean: [mean, id], variance: [variance, id],
  });
  const y = applyCoefficients(b, x, k, affineMap(x.shape.length, ['d1']));
  const momentum = ctx.float('momentum', DEFAULT_MOMENTUM);
  const running = (input: Tensor, batch: Tensor) => mapGeneric(b, input.dt, input.shape, [input, batch].map((t) => ({ ref: t, map: id })), (fb, [r, v]) => {
    const s = new Scalar(fb, accDt);
    const blended = s.add(s.mul(convertScalar(fb, r, input.dt, accDt), s.const(momentum)), s.mul(v, s.const(1 - momentum)));
    return convertScalar(fb, blended, accDt, input.dt);
  }).value;
  return [y, running(inputTensor(ctx, 3), mean), running(inputTensor(ctx, 4), variance)];
}

/** Per-channel mean and biased variance of x over every dim but 1, as [C] tensors in `accDt`. */
function channelStatistics(b: FuncBuilder, x: Tensor, accDt: DataType): { mean: Tensor; variance: Tensor } {
  const reduced = x.shape.map((_, i) => i !== 1);
  const count = reducedCount(x.shape, reduced);
  const widen = (fb: FuncBuilder, v: string) => convertScalar(fb, v, x.dt, accDt);
  const c = [x.shape[1]];
  // The keepdims accumulators [1, C, 1, ...] read from the channel space [C].
  const fromChannels = affineMap(1, x.shape.map((_, i) => (i === 1 ? 'd0' : '0')));
  const perChannel = (sum: Tensor) => mapGeneric(b, accDt, c, [{ ref: sum, map: fromChannels }], (fb, [v]) => {
    const s = new Scalar(fb, accDt);
    return s.div(v, s.const(count));
  });
  const sum = reduceGeneric(b, {
    space: x.shape, reduced, inputs: [broadcastRead(x, x.shape)], accDt, identity: 'zero',
    step: (fb, [v], acc) => new Scalar(fb, accDt).add(acc, widen(fb, v)),
  });
  const mean = perChannel(sum);
  const squares = reduceGeneric(b, {
    space: x.shape, reduced, inputs: [broadcastRead(x, x.shape), { ref: mean, map: affineMap(x.shape.length, ['d1']) }], accDt, identity: 'zero',
    step: (fb, [v, m], acc) => {
      const s = new Scalar(fb, accDt);
      const d = s.sub(widen(fb, v), m);
      return s.add(acc, s.mul(d, d));
    },
  });
  return { mean, variance: perChannel(squares) };
}

// ---- InstanceNormalization ----

registerOp({
  domain: '', op: 'InstanceNormalization', since: 6,
  infer: (ctx) => {
    const dt = ctx.requireDtype(0, FLOAT_TYPES);
    const x = ctx.shape(0);
    if (x.length < 3) ctx.unsupported(`InstanceNormalization input must have rank >= 3, got ${x.length}`);
    checkChannelParams(ctx, [1, 2]);
    return [{ dataType: dt, shape: x }];
  },
  lower: (ctx) => lowerInstanceNorm(ctx),
});

function lowerInstanceNorm(ctx: LowerContext): string[] {
  const b = ctx.b;
  const x = inputTensor(ctx, 0);
  const accDt = accumulatorDtype(x.dt);
  const count = x.shape.slice(2).reduce((p, d) => p * d, 1);
  const sums = reduceToChannels(b, x, accDt, 0, (s, acc, v) => s.add(acc, v));
  const mean = scaleChannels(b, sums, 1 / count);
  const squares = reduceToChannels(b, x, accDt, 0, (s, acc, v, [m]) => {
    const d = s.sub(v, m);
    return s.add(acc, s.mul(d, d));
  }, [mean]);
  const variance = scaleChannels(b, squares, 1 / count);
  const nc = mean.shape;
  const id = identityMap(2);
  const perC = affineMap(2, ['d1']);
  const k = coefficients(b, nc, accDt, ctx.float('epsilon', DEFAULT_EPSILON), {
    gamma: [inputTensor(ctx, 1), perC], beta: [inputTensor(ctx, 2), perC], mean: [mean, id], variance: [variance, id],
  });
  return [applyCoefficients(b, x, k, affineMap(x.shape.length, ['d0', 'd1']))];
}

/** t * factor elementwise (means from sums). */
function scaleChannels(b: FuncBuilder, t: Tensor, factor: number): Tensor {
  const rank = t.shape.length;
  const [value] = b.generic({
    inputs: [{ value: t.value, type: typeOf(t), map: identityMap(rank), elem: elemOf(t) }],
    outputs: [{ value: b.empty(typeOf(t)), type: typeOf(t), map: identityMap(rank), elem: elemOf(t) }],
    iterators: t.shape.map(() => 'parallel'),
    body: (bb, [v]) => {
      const s = new Scalar(bb, t.dt);
      return [s.mul(v, s.const(factor))];
    },
  });
  return { ...t, value };
}

// ---- LRN ----

registerOp({
  domain: '', op: 'LRN', since: 1,
  infer: (ctx) => {
    const dt = ctx.requireDtype(0, FLOAT_TYPES);
    const x = ctx.shape(0);
    if (x.length < 2) ctx.unsupported(`LRN input must have rank >= 2, got ${x.length}`);
    if (ctx.int('size') < 1) ctx.unsupported('LRN size must be positive');
    return [{ dataType: dt, shape: x }];
  },
  lower: (ctx) => {
    const x = inputTensor(ctx, 0);
    const size = ctx.int('size');
    const sums = channelWindowSquares(ctx.b, x, size);
    const alpha = ctx.float('alpha', 1e-4);
    const beta = ctx.float('beta', 0.75);
    const bias = ctx.float('bias', 1);
    const rank = x.shape.length;
    const [y] = ctx.b.generic({
      inputs: [
        { value: x.value, type: typeOf(x), map: identityMap(rank), elem: elemOf(x) },
        { value: sums.value, type: typeOf(sums), map: identityMap(rank), elem: elemOf(sums) },
      ],
      outputs: [{ value: ctx.b.empty(typeOf(x)), type: typeOf(x), map: identityMap(rank), elem: elemOf(x) }],
      iterators: x.shape.map(() => 'parallel'),
      body: (bb, [v, sq]) => {
        const s = new Scalar(bb, sums.dt);
        const denom = s.math2('powf', s.add(s.const(bias), s.mul(s.const(alpha / size), sq)), s.const(beta));
        return [convertScalar(bb, s.div(convertScalar(bb, v, x.dt, sums.dt), denom), sums.dt, x.dt)];
      },
    });
    return [y];
  },
});

/** Sum of x² over the channel window [c - floor((size-1)/2), c + ceil((size-1)/2)]. */
function channelWindowSquares(b: FuncBuilder, x: Tensor, size: number): Tensor {
  const rank = x.shape.length;
  const accDt = accumulatorDtype(x.dt);
  const before = Math.floor((size - 1) / 2);
  const lo = x.shape.map((_, i) => (i === 1 ? before : 0));
  const hi = x.shape.map((_, i) => (i === 1 ? size - 1 - before : 0));
  const padded = padTensor(b, x, lo, hi, new Scalar(b, x.dt).zero());
  const window = b.empty(tensorTypeOf(x.dt, [size]));
  const out: Tensor = { value: '', dt: accDt, shape: x.shape };
  const init = b.fill(new Scalar(b, accDt).zero(), elemType(accDt), typeOf(out));
  const dims = rank + 1;
  const spatial = range(rank).map((i) => (i === 1 ? `d1 + d${rank}` : `d${i}`));
  [out.value] = b.generic({
    inputs: [
      { value: padded.value, type: typeOf(padded), map: affineMap(dims, spatial), elem: elemOf(padded) },
      { value: window, type: tensorTypeOf(x.dt, [size]), map: affineMap(dims, [`d${rank}`]), elem: elemOf(x) },
    ],
    outputs: [{ value: init, type: typeOf(out), map: affineMap(dims, range(rank).map((i) => `d${i}`)), elem: elemType(accDt) }],
    iterators: [...range(rank).map(() => 'parallel' as const), 'reduction'],
    body: (bb, [v, , acc]) => {
      const s = new Scalar(bb, accDt);
      const w = convertScalar(bb, v, x.dt, accDt);
      return [s.add(acc, s.mul(w, w))];
    },
  });
  return out;
}
