// Normalisations over a set of dims: LayerNormalization (17),
// GroupNormalization (18: per-group scale/bias; 21: per-channel),
// MeanVarianceNormalization and RMSNormalization (23). Statistics are
// two-pass (mean, then the mean of squared deviations) in f32 for half types
// (or the stash type); RMSNormalization needs only the mean of squares.
import { DataType } from '../../onnx/model.js';
import { isFloat } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { affineMap, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import type { TensorType } from '../../ir/types.js';
import {
  accumulatorDtype, broadcastRead, keptShape, mapGeneric, reduceGeneric, reducedCount, reducedMask, trailingMask,
  type Operand, type TensorRef,
} from '../reduce-helpers.js';

const DEFAULT_EPSILON = 1e-5;
const DEFAULT_LAYER_NORM_AXIS = -1;
/** MeanVarianceNormalization's function body adds this to the std deviation. */
const MVN_EPSILON = 1e-9;
const MVN_DEFAULT_AXES = [0, 2, 3];

interface Moments {
  mean: TensorRef;
  /** 1 / sqrt(variance + epsilon). */
  invStd: TensorRef;
}

/** Mean and inverse standard deviation over `reduced`, both keepdims-shaped, in `accDt`. */
function moments(b: FuncBuilder, x: TensorRef, reduced: boolean[], accDt: DataType, epsilon: number, invStd: (s: Scalar, variance: string, eps: string) => string): Moments {
  const n = reducedCount(x.shape, reduced);
  const kept = keptShape(x.shape, reduced);
  const widen = (fb: FuncBuilder, v: string) => convertScalar(fb, v, x.dt, accDt);
  const read = (t: TensorRef) => broadcastRead(t, x.shape);
  const sum = reduceGeneric(b, {
    space: x.shape, reduced, inputs: [read(x)], accDt, identity: 'zero',
    step: (fb, [v], acc) => new Scalar(fb, accDt).add(acc, widen(fb, v)),
  });
  const same = (t: TensorRef) => broadcastRead(t, kept);
  const mean = mapGeneric(b, accDt, kept, [same(sum)], (fb, [z]) => {
    const s = new Scalar(fb, accDt);
    return s.div(z, s.const(n));
  });
  const squares = reduceGeneric(b, {
    space: x.shape, reduced, inputs: [read(x), read(mean)], accDt, identity: 'zero',
    step: (fb, [v, m], acc) => {
      const s = new Scalar(fb, accDt);
      const d = s.sub(widen(fb, v), m);
      return s.add(acc, s.mul(d, d));
    },
  });
  const inv = mapGeneric(b, accDt, kept, [same(squares)], (fb, [q]) => {
    const s = new Scalar(fb, accDt);
    return invStd(s, s.div(q, s.const(n)), s.const(epsilon));
  });
  return { mean, invStd: inv };
}

const rsqrtPlusEps = (s: Scalar, variance: string, eps: string) => s.div(s.one(), s.math('sqrt', s.add(variance, eps)));

/** Stash (statistics) dtype: stash_type when it is a float, declined otherwise. */
function stashDtype(ctx: NodeContext): DataType {
  const st: DataType = ctx.int('stash_type', DataType.FLOAT);
  if (!isFloat(st)) ctx.unsupported(`stash_type ${st} is not a supported float type`);
  return st;
}

function requireFloat(ctx: NodeContext, i: number): DataType {
  const dt = ctx.dtype(i);
  if (!isFloat(dt)) ctx.unsupported(`input ${i} of ${DataType[dt]} is not supported (expected a float tensor)`);
  return dt;
}

/** Scale/bias must broadcast (numpy, one way) to `target`. */
function checkBroadcastsTo(ctx: NodeContext, i: number, target: readonly number[]): void {
  const s = ctx.shape(i);
  const off = target.length - s.length;
  if (off < 0 || s.some((d, k) => d !== 1 && d !== target[k + off])) {
    ctx.unsupported(`input ${i} shape [${s.join(', ')}] does not broadcast to [${target.join(', ')}]`);
  }
}

function ref(ctx: LowerContext, i: number): TensorRef {
  return { value: ctx.input(i), dt: ctx.dtype(i), shape: ctx.shape(i) };
}

// ---- LayerNormalization ----

function layerNormMask(ctx: NodeContext): boolean[] {
  const rank = ctx.shape(0).length;
  if (rank === 0) ctx.unsupported('LayerNormalization needs a tensor of rank >= 1');
  return trailingMask(rank, ctx.axis(ctx.int('axis', DEFAULT_LAYER_NORM_AXIS), rank));
}

function inferLayerNorm(ctx: NodeContext): TensorType[] {
  const dt = requireFloat(ctx, 0);
  const reduced = layerNormMask(ctx);
  const shape = ctx.shape(0);
  const stash = stashDtype(ctx);
  if (!ctx.has(1)) ctx.unsupported('Scale (input 1) is required');
  for (const i of [1, 2]) {
    if (!ctx.has(i)) continue;
    if (ctx.dtype(i) !== dt) ctx.unsupported(`input ${i} dtype differs from X`);
    checkBroadcastsTo(ctx, i, shape);
  }
  const stats = { dataType: stash, shape: keptShape(shape, reduced) };
  return [{ dataType: dt, shape }, stats, stats];
}

function lowerLayerNorm(ctx: LowerContext): string[] {
  const reduced = layerNormMask(ctx);
  const x = ref(ctx, 0);
  const accDt = stashDtype(ctx);
  const { mean, invStd } = moments(ctx.b, x, reduced, accDt, ctx.float('epsilon', DEFAULT_EPSILON), rsqrtPlusEps);
  const affine = [1, 2].filter((i) => ctx.has(i)).map((i) => broadcastRead(ref(ctx, i), x.shape));
  const reads = [x, mean, invStd].map((t) => broadcastRead(t, x.shape));
  const y = mapGeneric(ctx.b, x.dt, x.shape, [...reads, ...affine], (fb, [v, m, r, scale, bias]) => {
    const s = new Scalar(fb, accDt);
    let out = s.mul(s.mul(s.sub(convertScalar(fb, v, x.dt, accDt), m), r), convertScalar(fb, scale, x.dt, accDt));
    if (bias !== undefined) out = s.add(out, convertScalar(fb, bias, x.dt, accDt));
    return convertScalar(fb, out, accDt, x.dt);
  });
  return [y.value, mean.value, invStd.value];
}

registerOp({ domain: '', op: 'LayerNormalization', since: 17, infer: inferLayerNorm, lower: lowerLayerNorm });

// ---- GroupNormalization ----

interface GroupPlan {
  groups: number;
  perGroup: number;
  /** X viewed as [N, G, C/G, spatial...]. */
  grouped: number[];
}

function groupPlan(ctx: NodeContext): GroupPlan {
  const shape = ctx.shape(0);
  if (shape.length < 2) ctx.unsupported('GroupNormalization needs X of rank >= 2 ([N, C, ...])');
  const groups = ctx.int('num_groups');
  const channels = shape[1];
  if (groups <= 0 || channels % groups !== 0) ctx.unsupported(`num_groups ${groups} does not divide the ${channels} channels`);
  const perGroup = channels / groups;
  return { groups, perGroup, grouped: [shape[0], groups, perGroup, ...shape.slice(2)] };
}

/** Opset 18 takes one scale/bias per group, opset 21 one per channel. */
function inferGroupNorm(ctx: NodeContext, perChannel: boolean): TensorType[] {
  const dt = requireFloat(ctx, 0);
  const p = groupPlan(ctx);
  if (perChannel) stashDtype(ctx);
  const want = perChannel ? p.groups * p.perGroup : p.groups;
  for (const i of [1, 2]) {
    const s = ctx.shape(i);
    if (ctx.dtype(i) !== dt) ctx.unsupported(`input ${i} dtype differs from X`);
    if (s.length !== 1 || s[0] !== want) ctx.unsupported(`input ${i} shape [${s.join(', ')}] should be [${want}]`);
  }
  return [ctx.type(0)];
}

function lowerGroupNorm(ctx: LowerContext, perChannel: boolean): string[] {
  const p = groupPlan(ctx);
  const x = ref(ctx, 0);
  const rank = x.shape.length;
  const accDt = perChannel ? stashDtype(ctx) : accumulatorDtype(x.dt);
  const reassoc = [[0], [1, 2], ...x.shape.slice(2).map((_, i) => [i + 3])];
  const groupedType = tensorTypeOf(x.dt, p.grouped);
  const grouped: TensorRef = {
    value: ctx.b.op(`tensor.expand_shape ${x.value} ${JSON.stringify(reassoc)} output_shape [${p.grouped.join(', ')}] : ${tensorTypeOf(x.dt, x.shape)} into ${groupedType}`),
    dt: x.dt, shape: p.grouped,
  };
  const reduced = p.grouped.map((_, i) => i >= 2);
  const { mean, invStd } = moments(ctx.b, grouped, reduced, accDt, ctx.float('epsilon', DEFAULT_EPSILON), rsqrtPlusEps);
  // Statistics [N, G, 1, ...] read from X's own (ungrouped) iteration space.
  const statMap = affineMap(rank, ['d0', `d1 floordiv ${p.perGroup}`, ...Array.from({ length: rank - 1 }, () => '0')]);
  const paramMap = affineMap(rank, [perChannel ? 'd1' : `d1 floordiv ${p.perGroup}`]);
  const reads: Operand[] = [
    broadcastRead(x, x.shape), { ref: mean, map: statMap }, { ref: invStd, map: statMap },
    { ref: ref(ctx, 1), map: paramMap }, { ref: ref(ctx, 2), map: paramMap },
  ];
  const y = mapGeneric(ctx.b, x.dt, x.shape, reads, (fb, [v, m, r, scale, bias]) => {
    const s = new Scalar(fb, accDt);
    const norm = s.mul(s.sub(convertScalar(fb, v, x.dt, accDt), m), r);
    const out = s.add(s.mul(norm, convertScalar(fb, scale, x.dt, accDt)), convertScalar(fb, bias, x.dt, accDt));
    return convertScalar(fb, out, accDt, x.dt);
  });
  return [y.value];
}

for (const [since, perChannel] of [[18, false], [21, true]] as const) {
  registerOp({
    domain: '', op: 'GroupNormalization', since,
    infer: (ctx) => inferGroupNorm(ctx, perChannel),
    lower: (ctx) => lowerGroupNorm(ctx, perChannel),
  });
}

// ---- MeanVarianceNormalization ----

function mvnMask(ctx: NodeContext): boolean[] {
  requireFloat(ctx, 0);
  return reducedMask(ctx, ctx.shape(0).length, ctx.ints('axes', MVN_DEFAULT_AXES));
}

registerOp({
  domain: '', op: 'MeanVarianceNormalization', since: 9,
  infer: (ctx) => {
    mvnMask(ctx);
    return [ctx.type(0)];
  },
  lower: (ctx) => {
    const x = ref(ctx, 0);
    const accDt = accumulatorDtype(x.dt);
    const stdPlusEps = (s: Scalar, variance: string, eps: string) => s.div(s.one(), s.add(s.math('sqrt', variance), eps));
    const { mean, invStd } = moments(ctx.b, x, mvnMask(ctx), accDt, MVN_EPSILON, stdPlusEps);
    const reads = [x, mean, invStd].map((t) => broadcastRead(t, x.shape));
    return [mapGeneric(ctx.b, x.dt, x.shape, reads, (fb, [v, m, r]) => {
      const s = new Scalar(fb, accDt);
      return convertScalar(fb, s.mul(s.sub(convertScalar(fb, v, x.dt, accDt), m), r), accDt, x.dt);
    }).value];
  },
});

// ---- RMSNormalization (23) ----
// The function body: Y = Cast<T>(X / sqrt(mean(X^2 over axis..) + epsilon)) * Scale,
// the statistics in stash_type.

function inferRmsNorm(ctx: NodeContext): TensorType[] {
  const dt = requireFloat(ctx, 0);
  layerNormMask(ctx);
  stashDtype(ctx);
  if (ctx.dtype(1) !== dt) ctx.unsupported('input 1 (scale) dtype differs from X');
  checkBroadcastsTo(ctx, 1, ctx.shape(0));
  return [ctx.type(0)];
}

function lowerRmsNorm(ctx: LowerContext): string[] {
  const reduced = layerNormMask(ctx);
  const x = ref(ctx, 0);
  const accDt = stashDtype(ctx);
  const n = reducedCount(x.shape, reduced);
  const widen = (fb: FuncBuilder, v: string) => convertScalar(fb, v, x.dt, accDt);
  const squares = reduceGeneric(ctx.b, {
    space: x.shape, reduced, inputs: [broadcastRead(x, x.shape)], accDt, identity: 'zero',
    step: (fb, [v], acc) => {
      const s = new Scalar(fb, accDt);
      const w = widen(fb, v);
      return s.add(acc, s.mul(w, w));
    },
  });
  const eps = ctx.float('epsilon', DEFAULT_EPSILON);
  const reads = [broadcastRead(x, x.shape), broadcastRead(squares, x.shape), broadcastRead(ref(ctx, 1), x.shape)];
  return [mapGeneric(ctx.b, x.dt, x.shape, reads, (fb, [v, q, scale]) => {
    const s = new Scalar(fb, accDt);
    const rms = s.math('sqrt', s.add(s.div(q, s.const(n)), s.const(eps)));
    const normalized = convertScalar(fb, s.div(widen(fb, v), rms), accDt, x.dt);
    return new Scalar(fb, x.dt).mul(normalized, scale);
  }).value];
}

registerOp({ domain: '', op: 'RMSNormalization', since: 23, infer: inferRmsNorm, lower: lowerRmsNorm });
