// LinearAttention (opset 27): the recurrent form of linear attention with
// optional gating (decay) and delta-rule correction (beta). One scf.for over
// time carries the f32 state S [B, H_kv, d_k, d_v] and the f32 outputs
// [T, B, H_q, d_v]; at step t (q, k, v, g, beta read at t):
//
//   S  = S * exp(g)                        (gated, gated_delta)
//   v  = beta * (v - Sᵀk)                  (delta, gated_delta)
//   S  = S + k ⊗ v
//   o  = scale * qᵀ S[h_q / group]          (GQA: query head h reads KV head h / group)
//
// Q/K/V (and decay) are [B, T, H*D] packed head-major along the last dim.
import { DataType } from '../../onnx/model.js';
import { isFloat, type TensorType } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { affineMap, elemType, identityMap, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { mapGeneric, reduceGeneric, typeOf, type Operand, type TensorRef } from '../reduce-helpers.js';
import { scfFor } from '../loop-helpers.js';
import { collapseShape } from '../../codegen/tensor-ops.js';

const IN = { Q: 0, K: 1, V: 2, PAST: 3, DECAY: 4, BETA: 5 } as const;
const RULES = ['linear', 'gated', 'delta', 'gated_delta'] as const;
type Rule = (typeof RULES)[number];
/** The state and all arithmetic are f32, as in the reference. */
const ACC = DataType.FLOAT;

interface LinearPlan {
  batch: number;
  steps: number;
  qHeads: number;
  kvHeads: number;
  dk: number;
  dv: number;
  gated: boolean;
  delta: boolean;
  /** Decay per key dim (true) or one per head (false). */
  decayPerDim: boolean;
  /** Beta per KV head (true) or one shared value (false). */
  betaPerHead: boolean;
  scale: number;
  stateDt: DataType;
}

function heads(ctx: NodeContext, i: number, count: number, what: string): number {
  const last = ctx.shape(i)[2];
  if (count <= 0 || last % count !== 0) ctx.unsupported(`${what} last dim ${last} is not divisible by ${count} heads`);
  return last / count;
}

function checkRank3(ctx: NodeContext, i: number, batch: number, steps: number, what: string): void {
  const s = ctx.shape(i);
  if (s.length !== 3 || s[0] !== batch || s[1] !== steps) ctx.unsupported(`${what} must be [${batch}, ${steps}, *], got [${s.join(', ')}]`);
}

function updateRule(ctx: NodeContext): Rule {
  const rule = ctx.string('update_rule', 'gated_delta');
  const found = RULES.find((r) => r === rule);
  if (found === undefined) ctx.unsupported(`update_rule '${rule}' is not one of ${RULES.join(', ')}`);
  return found;
}

function linearPlan(ctx: NodeContext): LinearPlan {
  const dt = ctx.dtype(IN.Q);
  if (!isFloat(dt)) ctx.unsupported(`query of ${DataType[dt]} is not supported (expected a float tensor)`);
  const q = ctx.shape(IN.Q);
  if (q.length !== 3) ctx.unsupported(`query must be rank 3 [B, T, H*D], got [${q.join(', ')}]`);
  const [batch, steps] = q;
  const qHeads = ctx.int('q_num_heads');
  const kvHeads = ctx.int('kv_num_heads');
  if (kvHeads <= 0 || qHeads % kvHeads !== 0) ctx.unsupported(`q_num_heads ${qHeads} is not a multiple of kv_num_heads ${kvHeads}`);
  for (const [i, what] of [[IN.K, 'key'], [IN.V, 'value']] as const) {
    checkRank3(ctx, i, batch, steps, what);
    if (ctx.dtype(i) !== dt) ctx.unsupported(`${what} dtype differs from query's`);
  }
  const dk = heads(ctx, IN.Q, qHeads, 'query');
  if (heads(ctx, IN.K, kvHeads, 'key') !== dk) ctx.unsupported('query and key head sizes differ');
  const dv = heads(ctx, IN.V, kvHeads, 'value');
  const rule = updateRule(ctx);
  const gated = rule === 'gated' || rule === 'gated_delta';
  const delta = rule === 'delta' || rule === 'gated_delta';
  if (gated !== ctx.has(IN.DECAY)) ctx.unsupported(`update_rule '${rule}' ${gated ? 'requires' : 'forbids'} decay`);
  if (delta !== ctx.has(IN.BETA)) ctx.unsupported(`update_rule '${rule}' ${delta ? 'requires' : 'forbids'} beta`);
  const decayPerDim = gated && lastDimChoice(ctx, IN.DECAY, batch, steps, kvHeads * dk, kvHeads, 'decay');
  const betaPerHead = delta && lastDimChoice(ctx, IN.BETA, batch, steps, kvHeads, 1, 'beta');
  let stateDt = dt;
  if (ctx.has(IN.PAST)) {
    const want = [batch, kvHeads, dk, dv];
    const s = ctx.shape(IN.PAST);
    if (s.length !== 4 || s.some((d, i) => d !== want[i])) ctx.unsupported(`past_state must be [${want.join(', ')}], got [${s.join(', ')}]`);
    stateDt = ctx.dtype(IN.PAST);
    if (!isFloat(stateDt)) ctx.unsupported(`past_state of ${DataType[stateDt]} is not supported`);
  }
  const scaleAttr = ctx.float('scale', 0);
  const scale = scaleAttr === 0 ? 1 / Math.sqrt(dk) : scaleAttr;
  return { batch, steps, qHeads, kvHeads, dk, dv, gated, delta, decayPerDim, betaPerHead, scale, stateDt };
}

/** Whether input i's last dim is `wide` (true) or `narrow` (false); declines anything else. */
function lastDimChoice(ctx: NodeContext, i: number, batch: number, steps: number, wide: number, narrow: number, what: string): boolean {
  checkRank3(ctx, i, batch, steps, what);
  if (!isFloat(ctx.dtype(i))) ctx.unsupported(`${what} must be a float tensor`);
  const last = ctx.shape(i)[2];
  if (last !== wide && last !== narrow) ctx.unsupported(`${what} last dim ${last} must be ${wide} or ${narrow}`);
  return last === wide && wide !== narrow;
}

function inferLinearAttention(ctx: NodeContext): TensorType[] {
  const p = linearPlan(ctx);
  return [
    { dataType: ctx.dtype(IN.Q), shape: [p.batch, p.steps, p.qHeads * p.dv] },
    { dataType: p.stateDt, shape: [p.batch, p.kvHeads, p.dk, p.dv] },
  ];
}

function ref(ctx: LowerContext, i: number): TensorRef {
  return { value: ctx.input(i), dt: ctx.dtype(i), shape: ctx.shape(i) };
}

/** Row t of a [B, T, N] input as a [B, 1, N] view (t an SSA index). */
function stepView(b: FuncBuilder, t: TensorRef, step: string): TensorRef {
  const [batch, , n] = t.shape;
  const shape = [batch, 1, n];
  const value = b.op(`tensor.extract_slice ${t.value}[0, ${step}, 0] [${batch}, 1, ${n}] [1, 1, 1] : ${typeOf(t)} to ${tensorTypeOf(t.dt, shape)}`, 's');
  return { value, dt: t.dt, shape };
}

/** Reads element (b, h, d) of a [B, 1, H*D] step view from a space whose dims `hd`/`dd` are the head and feature. */
function headRead(t: TensorRef, rank: number, hd: string, dd: string | null, width: number): Operand {
  const last = dd === null ? hd : `${hd} * ${width} + ${dd}`;
  return { ref: t, map: affineMap(rank, ['d0', '0', last]) };
}

const widen = (b: FuncBuilder, v: string, dt: DataType) => convertScalar(b, v, dt, ACC);

interface StepInputs {
  q: TensorRef;
  k: TensorRef;
  v: TensorRef;
  decay: TensorRef | null;
  beta: TensorRef | null;
}

/** Reads g at (b, t, head, key dim) from the [B, H_kv, d_k, d_v] space. */
function decayRead(p: LinearPlan, g: TensorRef): Operand {
  return p.decayPerDim ? headRead(g, 4, 'd1', 'd2', p.dk) : headRead(g, 4, 'd1', null, 1);
}

/** S * exp(g), or S when there is no gating. */
function decayed(fb: FuncBuilder, s: string, g: string | undefined, gDt: DataType | undefined): string {
  if (g === undefined || gDt === undefined) return s;
  const sc = new Scalar(fb, ACC);
  return sc.mul(s, sc.math('exp', widen(fb, g, gDt)));
}

/** retrieved[b, h, 0, m] = sum_d (S * exp(g))[b, h, d, m] * k[b, h, d]. */
function retrieve(b: FuncBuilder, p: LinearPlan, state: TensorRef, x: StepInputs): TensorRef {
  const inputs = [{ ref: state, map: identityMap(4) }, headRead(x.k, 4, 'd1', 'd2', p.dk)];
  if (x.decay) inputs.push(decayRead(p, x.decay));
  return reduceGeneric(b, {
    space: state.shape, reduced: [false, false, true, false], accDt: ACC, identity: 'zero', inputs,
    step: (fb, [s, kv, g], acc) => {
      const sc = new Scalar(fb, ACC);
      return sc.add(acc, sc.mul(decayed(fb, s, g, x.decay?.dt), widen(fb, kv, x.k.dt)));
    },
  });
}

/**
 * S * exp(g) + k ⊗ v, with v replaced by beta * (v - retrieved) under the
 * delta rule, written into `state` itself (the loop-carried tensor): the
 * loop then yields a value equivalent to its iter_arg and bufferizes in place.
 */
function updateState(b: FuncBuilder, p: LinearPlan, state: TensorRef, x: StepInputs): TensorRef {
  const reads: Operand[] = [headRead(x.k, 4, 'd1', 'd2', p.dk), headRead(x.v, 4, 'd1', 'd3', p.dv)];
  const slot: Record<string, number> = {};
  const add = (name: string, o: Operand) => {
    slot[name] = reads.length;
    reads.push(o);
  };
  if (x.decay) add('g', decayRead(p, x.decay));
  if (x.beta) {
    add('retrieved', { ref: retrieve(b, p, state, x), map: affineMap(4, ['d0', 'd1', '0', 'd3']) });
    add('beta', p.betaPerHead ? headRead(x.beta, 4, 'd1', null, 1) : { ref: x.beta, map: affineMap(4, ['d0', '0', '0']) });
  }
  const [value] = b.generic({
    inputs: reads.map((o) => ({ value: o.ref.value, type: typeOf(o.ref), map: o.map, elem: elemType(o.ref.dt) })),
    outputs: [{ value: state.value, type: typeOf(state), map: identityMap(4), elem: elemType(ACC) }],
    iterators: ['parallel', 'parallel', 'parallel', 'parallel'],
    body: (fb, args) => {
      const sc = new Scalar(fb, ACC);
      const arg = (name: string) => (name in slot ? args[slot[name]] : undefined);
      const s = decayed(fb, args[reads.length], arg('g'), x.decay?.dt);
      let v = widen(fb, args[1], x.v.dt);
      const beta = arg('beta');
      const retrieved = arg('retrieved');
      if (x.beta && beta !== undefined && retrieved !== undefined) v = sc.mul(widen(fb, beta, x.beta.dt), sc.sub(v, retrieved));
      return [sc.add(s, sc.mul(widen(fb, args[0], x.k.dt), v))];
    },
  });
  return { ...state, value };
}

/** o[b, h_q, m] = sum_d q[b, h_q, d] * S[b, h_q / group, d, m], as [B, H_q, 1, d_v] (unscaled). */
function readState(b: FuncBuilder, p: LinearPlan, state: TensorRef, q: TensorRef): TensorRef {
  const group = p.qHeads / p.kvHeads;
  const kvHead = group === 1 ? 'd1' : `d1 floordiv ${group}`;
  return reduceGeneric(b, {
    space: [p.batch, p.qHeads, p.dk, p.dv], reduced: [false, false, true, false], accDt: ACC, identity: 'zero',
    inputs: [headRead(q, 4, 'd1', 'd2', p.dk), { ref: state, map: affineMap(4, ['d0', kvHead, 'd2', 'd3']) }],
    step: (fb, [qv, s], acc) => {
      const sc = new Scalar(fb, ACC);
      return sc.add(acc, sc.mul(widen(fb, qv, q.dt), s));
    },
  });
}

function initialState(ctx: LowerContext, p: LinearPlan): TensorRef {
  const shape = [p.batch, p.kvHeads, p.dk, p.dv];
  if (!ctx.has(IN.PAST)) {
    return { value: ctx.b.fill(new Scalar(ctx.b, ACC).zero(), elemType(ACC), tensorTypeOf(ACC, shape)), dt: ACC, shape };
  }
  const past = ref(ctx, IN.PAST);
  return mapGeneric(ctx.b, ACC, shape, [{ ref: past, map: identityMap(4) }], (fb, [v]) => widen(fb, v, past.dt));
}

function lowerLinearAttention(ctx: LowerContext): string[] {
  const p = linearPlan(ctx);
  const b = ctx.b;
  const outDt = ctx.dtype(IN.Q);
  const state0 = initialState(ctx, p);
  const seqShape = [p.steps, p.batch, p.qHeads, p.dv];
  const seq0 = { value: b.empty(tensorTypeOf(ACC, seqShape)), dt: ACC, shape: seqShape };
  const inputs = {
    q: ref(ctx, IN.Q), k: ref(ctx, IN.K), v: ref(ctx, IN.V),
    decay: ctx.has(IN.DECAY) ? ref(ctx, IN.DECAY) : null,
    beta: ctx.has(IN.BETA) ? ref(ctx, IN.BETA) : null,
  };
  const [stateOut, seqOut] = scfFor(b, p.steps, [
    { value: state0.value, type: typeOf(state0) },
    { value: seq0.value, type: typeOf(seq0) },
  ], (t, [stateV, seqV]) => {
    const x: StepInputs = {
      q: stepView(b, inputs.q, t), k: stepView(b, inputs.k, t), v: stepView(b, inputs.v, t),
      decay: inputs.decay && stepView(b, inputs.decay, t),
      beta: inputs.beta && stepView(b, inputs.beta, t),
    };
    const state = updateState(b, p, { ...state0, value: stateV }, x);
    const o = collapseShape(b, readState(b, p, state, x.q), [[0], [1], [2, 3]]);
    // [B, H_q, d_v] is row t of the [T, B, H_q, d_v] sequence.
    const where = `[${t}, 0, 0, 0] [1, ${p.batch}, ${p.qHeads}, ${p.dv}] [1, 1, 1, 1]`;
    const seq = b.op(`tensor.insert_slice ${o.value} into ${seqV}${where} : ${typeOf(o)} into ${typeOf(seq0)}`);
    return [state.value, seq];
  });
  const outShape = [p.batch, p.steps, p.qHeads * p.dv];
  const seqRead = { ref: { ...seq0, value: seqOut }, map: affineMap(3, ['d1', 'd0', `d2 floordiv ${p.dv}`, `d2 mod ${p.dv}`]) };
  const y = mapGeneric(b, outDt, outShape, [seqRead], (fb, [v]) => {
    const sc = new Scalar(fb, ACC);
    return convertScalar(fb, sc.mul(v, sc.const(p.scale)), ACC, outDt);
  });
  const present = mapGeneric(b, p.stateDt, state0.shape, [{ ref: { ...state0, value: stateOut }, map: identityMap(4) }],
    (fb, [v]) => convertScalar(fb, v, ACC, p.stateDt));
  return [y.value, present.value];
}

registerOp({ domain: '', op: 'LinearAttention', since: 27, infer: inferLinearAttention, lower: lowerLinearAttention });
