// FlexAttention (ai.onnx.preview, v1): scaled dot-product attention whose
// scores and probabilities may be rewritten by subgraph attributes:
//
//   scores = scale * Q·Kᵀ               [B, Hq, L, S], in the compute dtype
//   scores = score_mod(scores)          (optional graph)
//   probs  = softmax(scores, axis=-1)
//   probs  = prob_mod(probs)            (optional graph)
//   Y      = probs·V                    cast to V's dtype
//
// K/V with fewer heads are shared by Hq/Hkv consecutive query heads (GQA).
// Without mods the node is lowered whole. With mods, passes/expand-flex-attention.ts
// splits it into the three internal stages below around the inlined bodies.
import { DataType } from '../../onnx/model.js';
import { isFloat, type TensorType } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { affineMap, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { broadcastRead, mapGeneric, reduceGeneric, type TensorRef } from '../reduce-helpers.js';

export const FLEX_DOMAIN = 'ai.onnx.preview';
/** Domain of the internal stages; registered at "opset 0" since no model imports it. */
export const FLEX_STAGE_DOMAIN = 'ep.mlir.internal';
export const FLEX_STAGES = { scores: 'FlexAttentionScores', softmax: 'FlexAttentionSoftmax', apply: 'FlexAttentionApply' } as const;
export const FLEX_MODS = ['score_mod', 'prob_mod'] as const;

const RANK = 4;
/** softmax_precision values the compute dtype may take. */
const PRECISIONS: readonly DataType[] = [DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE];

export interface FlexPlan {
  batch: number;
  qHeads: number;
  kvHeads: number;
  lq: number;
  s: number;
  e: number;
  ev: number;
  scale: number;
  computeDt: DataType;
}

/** Compute dtype: softmax_precision if set, else f32 for half types and the input dtype otherwise. */
function computeDtype(ctx: NodeContext, dt: DataType): DataType {
  if (ctx.hasAttr('softmax_precision')) {
    const p = ctx.int('softmax_precision');
    if (!PRECISIONS.includes(p)) ctx.unsupported(`softmax_precision ${p} is not FLOAT, FLOAT16 or DOUBLE`);
    return p;
  }
  return dt === DataType.FLOAT16 || dt === DataType.BFLOAT16 ? DataType.FLOAT : dt;
}

function shape4(ctx: NodeContext, i: number, what: string): number[] {
  const s = ctx.shape(i);
  if (s.length !== RANK) ctx.unsupported(`${what} must be rank 4 [B, H, seq, head], got [${s.join(', ')}]`);
  return s;
}

/** Checks Q, K, V (inputs q, q+1, q+2 of ctx) and derives the sizes. */
export function flexPlan(ctx: NodeContext, q = 0): FlexPlan {
  const dt = ctx.dtype(q);
  if (!isFloat(dt)) ctx.unsupported(`Q of ${DataType[dt]} is not supported (expected a float tensor)`);
  const [batch, qHeads, lq, e] = shape4(ctx, q, 'Q');
  const [bk, kvHeads, s, ek] = shape4(ctx, q + 1, 'K');
  const [bv, hv, sv, ev] = shape4(ctx, q + 2, 'V');
  if (ctx.dtype(q + 1) !== dt || ctx.dtype(q + 2) !== dt) ctx.unsupported('Q, K and V must share a dtype');
  if (bk !== batch || bv !== batch) ctx.unsupported('Q, K and V must share the batch size');
  if (hv !== kvHeads || sv !== s) ctx.unsupported('K and V must share heads and sequence length');
  if (ek !== e) ctx.unsupported(`Q head size ${e} differs from K's ${ek}`);
  if (kvHeads <= 0 || qHeads % kvHeads !== 0) ctx.unsupported(`Q heads ${qHeads} are not a multiple of K/V heads ${kvHeads}`);
  const scale = ctx.hasAttr('scale') ? ctx.float('scale') : 1 / Math.sqrt(e);
  return { batch, qHeads, kvHeads, lq, s, e, ev, scale, computeDt: computeDtype(ctx, dt) };
}

function kvHead(p: FlexPlan): string {
  const group = p.qHeads / p.kvHeads;
  return group === 1 ? 'd1' : `d1 floordiv ${group}`;
}

/** scale * Q·Kᵀ in the compute dtype: [B, Hq, L, S]. */
export function flexScores(b: FuncBuilder, p: FlexPlan, q: TensorRef, k: TensorRef): TensorRef {
  const dt = p.computeDt;
  const space = [p.batch, p.qHeads, p.lq, p.s, p.e];
  const dot = reduceGeneric(b, {
    space, reduced: [false, false, false, false, true], accDt: dt, identity: 'zero',
    inputs: [
      { ref: q, map: affineMap(space.length, ['d0', 'd1', 'd2', 'd4']) },
      { ref: k, map: affineMap(space.length, ['d0', kvHead(p), 'd3', 'd4']) },
    ],
    step: (fb, [qv, kv], acc) => {
      const s = new Scalar(fb, dt);
      return s.add(acc, s.mul(convertScalar(fb, qv, q.dt, dt), convertScalar(fb, kv, k.dt, dt)));
    },
  });
  const shape = [p.batch, p.qHeads, p.lq, p.s];
  return mapGeneric(b, dt, shape, [{ ref: dot, map: affineMap(RANK, ['d0', 'd1', 'd2', 'd3', '0']) }], (fb, [v]) => {
    const s = new Scalar(fb, dt);
    return s.mul(v, s.const(p.scale));
  });
}

/** Softmax over the last axis (max-subtracted), in x's dtype. */
export function flexSoftmax(b: FuncBuilder, x: TensorRef): TensorRef {
  const reduced = x.shape.map((_, i) => i === x.shape.length - 1);
  const read = (t: TensorRef) => broadcastRead(t, x.shape);
  const max = reduceGeneric(b, {
    space: x.shape, reduced, inputs: [read(x)], accDt: x.dt, identity: 'lowest',
    step: (fb, [v], acc) => new Scalar(fb, x.dt).max(acc, v),
  });
  const sum = reduceGeneric(b, {
    space: x.shape, reduced, inputs: [read(x), read(max)], accDt: x.dt, identity: 'zero',
    step: (fb, [v, m], acc) => {
      const s = new Scalar(fb, x.dt);
      return s.add(acc, s.math('exp', s.sub(v, m)));
    },
  });
  return mapGeneric(b, x.dt, x.shape, [read(x), read(max), read(sum)], (fb, [v, m, z]) => {
    const s = new Scalar(fb, x.dt);
    return s.div(s.math('exp', s.sub(v, m)), z);
  });
}

/** probs·V, accumulated in the compute dtype and cast to `outDt`: [B, Hq, L, Ev]. */
export function flexApply(b: FuncBuilder, p: FlexPlan, probs: TensorRef, v: TensorRef, outDt: DataType): TensorRef {
  const dt = p.computeDt;
  const space = [p.batch, p.qHeads, p.lq, p.ev, p.s];
  const acc = reduceGeneric(b, {
    space, reduced: [false, false, false, false, true], accDt: dt, identity: 'zero',
    inputs: [
      { ref: probs, map: affineMap(space.length, ['d0', 'd1', 'd2', 'd4']) },
      { ref: v, map: affineMap(space.length, ['d0', kvHead(p), 'd4', 'd3']) },
    ],
    step: (fb, [pv, vv], a) => {
      const s = new Scalar(fb, dt);
      return s.add(a, s.mul(convertScalar(fb, pv, probs.dt, dt), convertScalar(fb, vv, v.dt, dt)));
    },
  });
  const shape = [p.batch, p.qHeads, p.lq, p.ev];
  return mapGeneric(b, outDt, shape, [{ ref: acc, map: affineMap(RANK, ['d0', 'd1', 'd2', 'd3', '0']) }],
    (fb, [x]) => convertScalar(fb, x, dt, outDt));
}

function ref(ctx: LowerContext, i: number): TensorRef {
  return { value: ctx.input(i), dt: ctx.dtype(i), shape: ctx.shape(i) };
}

function inferFlex(ctx: NodeContext): TensorType[] {
  const p = flexPlan(ctx);
  for (const mod of FLEX_MODS) {
    // Bodies are inlined before inference when they can be; one left here could not be.
    if (ctx.hasAttr(mod)) ctx.unsupported(`${mod} could not be inlined (it must be a single-input, single-output graph without nested subgraphs, reading the ${DataType[p.computeDt]} tensor)`);
  }
  return [{ dataType: ctx.dtype(2), shape: [p.batch, p.qHeads, p.lq, p.ev] }];
}

registerOp({
  domain: FLEX_DOMAIN, op: 'FlexAttention', since: 1,
  infer: inferFlex,
  lower: (ctx) => {
    const p = flexPlan(ctx);
    const probs = flexSoftmax(ctx.b, flexScores(ctx.b, p, ref(ctx, 0), ref(ctx, 1)));
    return [flexApply(ctx.b, p, probs, ref(ctx, 2), ctx.dtype(2)).value];
  },
});

// ---- internal stages (created by passes/expand-flex-attention.ts) ----

/** Input i must be [B, Hq, L, S] of the compute dtype (what the inlined body produced). */
function checkProbsShape(ctx: NodeContext, i: number, p: FlexPlan): void {
  const want = [p.batch, p.qHeads, p.lq, p.s];
  const s = ctx.shape(i);
  if (ctx.dtype(i) !== p.computeDt || s.length !== RANK || s.some((d, k) => d !== want[k])) {
    ctx.unsupported(`input ${i} must be ${DataType[p.computeDt]}[${want.join(', ')}], got ${DataType[ctx.dtype(i)]}[${s.join(', ')}]`);
  }
}

/** FlexAttentionScores(Q, K, V): V only supplies shapes, so all three stages share flexPlan. */
registerOp({
  domain: FLEX_STAGE_DOMAIN, op: FLEX_STAGES.scores, since: 0,
  infer: (ctx) => {
    const p = flexPlan(ctx);
    return [{ dataType: p.computeDt, shape: [p.batch, p.qHeads, p.lq, p.s] }];
  },
  lower: (ctx) => [flexScores(ctx.b, flexPlan(ctx), ref(ctx, 0), ref(ctx, 1)).value],
});

registerOp({
  domain: FLEX_STAGE_DOMAIN, op: FLEX_STAGES.softmax, since: 0,
  infer: (ctx) => {
    if (!isFloat(ctx.dtype(0)) || ctx.rank(0) !== RANK) ctx.unsupported('scores must be a rank-4 float tensor');
    return [ctx.type(0)];
  },
  lower: (ctx) => [flexSoftmax(ctx.b, ref(ctx, 0)).value],
});

/** FlexAttentionApply(Q, K, V, probs). */
registerOp({
  domain: FLEX_STAGE_DOMAIN, op: FLEX_STAGES.apply, since: 0,
  infer: (ctx) => {
    const p = flexPlan(ctx);
    checkProbsShape(ctx, 3, p);
    return [{ dataType: ctx.dtype(2), shape: [p.batch, p.qHeads, p.lq, p.ev] }];
  },
  lower: (ctx) => {
    const p = flexPlan(ctx);
    return [flexApply(ctx.b, p, ref(ctx, 3), ref(ctx, 2), ctx.dtype(2)).value];
  },
});
