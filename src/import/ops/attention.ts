// Attention (23, 24): scaled dot-product attention with multi-head, grouped-
// query (GQA/MQA) heads, a KV cache (past_key/past_value → present_*), an
// additive or boolean mask (shorter than the total KV length: padded with
// -inf), causal masking, softcap, per-batch KV padding (nonpad_kv_seqlen, 24)
// and the qk_matmul_output diagnostic output. Semantics follow the ONNX
// function body (the normative definition the backend tests come from):
//   S = (Q * sqrt(scale)) @ (K * sqrt(scale))^T        [mode 0]
//   S = softcap * tanh(S / softcap)   if softcap > 0   [mode 1]
//   S = S + bias (mask, causal, padding; -inf masked)  [mode 2]
//   P = softmax(S) over the keys                       [mode 3]
//   Y = P @ V
// Query head h reads KV head h / (q_num_heads / kv_num_heads). 3-D inputs are
// [B, S, H*D], read through 4-D views. Both products are linalg.batch_matmul
// ops (see the rows space below). Everything is computed in f32 (f64 for
// double); for half types the values are rounded to the input type where the
// function body holds them in it.
import { DataType } from '../../onnx/model.js';
import { isFloat, type TensorType } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { affineMap, elemType, identityMap, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { collapseShape, expandShape, padTensor, typeOf, type Tensor } from '../../codegen/tensor-ops.js';
import { emitMatMul } from '../contraction.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { accumulatorDtype, broadcastRead, mapGeneric, reduceGeneric } from '../reduce-helpers.js';
import { loopIndex } from '../index-lowering.js';

const enum In { Q = 0, K = 1, V = 2, Mask = 3, PastKey = 4, PastValue = 5, NonPad = 6 }
const enum Out { Y = 0, PresentKey = 1, PresentValue = 2, QK = 3 }
/** qk_matmul_output modes: which stage of the scores the diagnostic output shows. */
const enum QkMode { MatMul = 0, Softcap = 1, Bias = 2, Softmax = 3 }

interface Dims {
  batch: number;
  qHeads: number;
  kvHeads: number;
  qSeq: number;
  kvSeq: number;
  past: number;
  headSize: number;
  vHeadSize: number;
}

interface Plan extends Dims {
  rank3: boolean;
  dt: DataType;
  /** sqrt(scale), applied to both Q and K as the function body does. */
  sqrtScale: number;
  softcap: number;
  causal: boolean;
  mode: QkMode;
  mask: { dt: DataType; shape: number[] } | null;
  nonPad: boolean;
}

function total(d: Dims): number {
  return d.past + d.kvSeq;
}

/** [B, H, S, D] of a 4-D input, or of a 3-D [B, S, H*D] input with `heads` heads. */
function heads4(ctx: NodeContext, i: number, heads: number | null, what: string): number[] {
  const s = ctx.shape(i);
  if (s.length === 4) return s;
  if (s.length !== 3) return ctx.unsupported(`${what} (input ${i}) must be 3-D or 4-D, got rank ${s.length}`);
  if (heads === null || heads <= 0 || s[2] % heads !== 0) {
    return ctx.unsupported(`3-D ${what} needs q_num_heads/kv_num_heads dividing its hidden size ${s[2]}`);
  }
  return [s[0], heads, s[1], s[2] / heads];
}

function optionalHeads(ctx: NodeContext, name: string): number | null {
  return ctx.hasAttr(name) ? ctx.int(name) : null;
}

function dims(ctx: NodeContext): Dims {
  const rank = ctx.rank(In.Q);
  if (ctx.rank(In.K) !== rank || ctx.rank(In.V) !== rank) ctx.unsupported('Q, K and V must have the same rank');
  const [batch, qHeads, qSeq, headSize] = heads4(ctx, In.Q, optionalHeads(ctx, 'q_num_heads'), 'Q');
  const kvHeadsAttr = optionalHeads(ctx, 'kv_num_heads');
  const k = heads4(ctx, In.K, kvHeadsAttr, 'K');
  const v = heads4(ctx, In.V, kvHeadsAttr, 'V');
  const [, kvHeads, kvSeq] = k;
  if (k[0] !== batch || v[0] !== batch || v[1] !== kvHeads || v[2] !== kvSeq || k[3] !== headSize) {
    ctx.unsupported(`K [${k.join(', ')}] / V [${v.join(', ')}] do not match Q heads of size ${headSize} and batch ${batch}`);
  }
  if (qHeads % kvHeads !== 0) ctx.unsupported(`q_num_heads ${qHeads} is not a multiple of kv_num_heads ${kvHeads}`);
  const d: Dims = { batch, qHeads, kvHeads, qSeq, kvSeq, past: 0, headSize, vHeadSize: v[3] };
  if (ctx.has(In.PastKey) !== ctx.has(In.PastValue)) ctx.unsupported('past_key and past_value must be given together');
  if (ctx.has(In.PastKey)) {
    const pk = ctx.shape(In.PastKey);
    const pv = ctx.shape(In.PastValue);
    d.past = pk[2];
    const ok = pk.length === 4 && pv.length === 4 && sameDims(pk, [batch, kvHeads, d.past, headSize]) && sameDims(pv, [batch, kvHeads, d.past, d.vHeadSize]);
    if (!ok) ctx.unsupported(`past_key [${pk.join(', ')}] / past_value [${pv.join(', ')}] do not match K and V`);
  }
  if ([batch, qHeads, qSeq, kvSeq, headSize, d.vHeadSize].includes(0)) ctx.unsupported('empty Q, K or V dims are not supported');
  return d;
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The mask must broadcast to [B, Hq, Sq, T] except for a last dim that may be shorter (padded). */
function maskSpec(ctx: NodeContext, d: Dims, dt: DataType): Plan['mask'] {
  if (!ctx.has(In.Mask)) return null;
  const s = ctx.shape(In.Mask);
  const mdt = ctx.dtype(In.Mask);
  if (mdt !== DataType.BOOL && mdt !== dt) ctx.unsupported(`attn_mask of ${DataType[mdt]} must be bool or the type of Q`);
  const full = [d.batch, d.qHeads, d.qSeq, total(d)];
  const off = full.length - s.length;
  const fits = s.length >= 1 && off >= 0 && s.every((x, i) => (i === s.length - 1 ? x >= 1 && x <= full[3] : x === 1 || x === full[i + off]));
  if (!fits) ctx.unsupported(`attn_mask [${s.join(', ')}] does not broadcast to [${full.join(', ')}]`);
  return { dt: mdt, shape: s };
}

/** sqrt(scale) as the function body computes it in float32 (default scale 1/sqrt(head size)). */
function sqrtScale(ctx: NodeContext, headSize: number): number {
  const f = Math.fround;
  const scale = ctx.hasAttr('scale') ? f(ctx.float('scale')) : f(1 / f(Math.sqrt(headSize)));
  return f(Math.sqrt(scale));
}

function plan(ctx: NodeContext): Plan {
  const dt = ctx.dtype(In.Q);
  if (!isFloat(dt)) ctx.unsupported(`Q of ${DataType[dt]} is not supported (expected a float tensor)`);
  for (const i of [In.K, In.V, In.PastKey, In.PastValue]) {
    if (ctx.has(i) && ctx.dtype(i) !== dt) ctx.unsupported(`input ${i} dtype differs from Q`);
  }
  const d = dims(ctx);
  const mode: QkMode = ctx.int('qk_matmul_output_mode', QkMode.MatMul);
  if (mode < QkMode.MatMul || mode > QkMode.Softmax) ctx.unsupported(`qk_matmul_output_mode ${mode} is not one of 0..3`);
  const precision = ctx.int('softmax_precision', dt);
  if (!isFloat(precision) || (precision === DataType.DOUBLE && dt !== DataType.DOUBLE)) {
    ctx.unsupported(`softmax_precision ${precision} is not supported for Q of ${DataType[dt]}`);
  }
  const causal = ctx.int('is_causal', 0) !== 0;
  const nonPad = ctx.opset >= 24 && ctx.has(In.NonPad);
  if (nonPad) {
    const s = ctx.shape(In.NonPad);
    if (ctx.dtype(In.NonPad) !== DataType.INT64 || !sameDims(s, [d.batch])) ctx.unsupported(`nonpad_kv_seqlen should be int64 [${d.batch}]`);
    // The causal frontier with an external cache changed meaning across spec revisions.
    if (causal) ctx.unsupported('is_causal together with nonpad_kv_seqlen is not supported');
  }
  const softcap = ctx.float('softcap', 0);
  return {
    ...d, rank3: ctx.rank(In.Q) === 3, dt, sqrtScale: sqrtScale(ctx, d.headSize), softcap, causal, mode,
    mask: maskSpec(ctx, d, dt), nonPad,
  };
}

function inferAttention(ctx: NodeContext): TensorType[] {
  const p = plan(ctx);
  const t = (shape: number[]): TensorType => ({ dataType: p.dt, shape });
  const y = p.rank3 ? [p.batch, p.qSeq, p.qHeads * p.vHeadSize] : [p.batch, p.qHeads, p.qSeq, p.vHeadSize];
  return [
    t(y),
    t([p.batch, p.kvHeads, total(p), p.headSize]),
    t([p.batch, p.kvHeads, total(p), p.vHeadSize]),
    t([p.batch, p.qHeads, p.qSeq, total(p)]),
  ];
}

// ---- lowering ----

/** A 4-D view of Q, K or V: [B, H, S, D], or [B, S, H, D] for (expanded) 3-D inputs. */
interface HeadView {
  t: Tensor;
  seqMajor: boolean;
}

/** Affine results reading `v` at (batch, head, seq, feature) loop expressions. */
function headAt(v: HeadView, b: string, h: string, s: string, d: string): string[] {
  return v.seqMajor ? [b, s, h, d] : [b, h, s, d];
}

function headView(ctx: LowerContext, i: number, heads: number): HeadView {
  const t: Tensor = { value: ctx.input(i), dt: ctx.dtype(i), shape: ctx.shape(i) };
  if (t.shape.length === 4) return { t, seqMajor: false };
  const [b, s, hidden] = t.shape;
  return { t: expandShape(ctx.b, t, [[0], [1], [2, 3]], [b, s, heads, hidden / heads]), seqMajor: true };
}

function extract(b: FuncBuilder, t: Tensor, idx: readonly string[]): string {
  return b.op(`tensor.extract ${t.value}[${idx.join(', ')}] : ${typeOf(t)}`);
}

/**
 * present = concat(past, new) along the sequence as [B, H, P+S, D]; without a
 * past, the new keys/values themselves (copied to [B, H, S, D] if seq-major).
 */
function present(b: FuncBuilder, past: Tensor | null, cur: HeadView, shape: number[]): Tensor {
  const p = past?.shape[2] ?? 0;
  if (p === 0 && !cur.seqMajor) return cur.t;
  const type = tensorTypeOf(cur.t.dt, shape);
  const elem = elemType(cur.t.dt);
  const [value] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(type), type, map: identityMap(4), elem }],
    iterators: ['parallel', 'parallel', 'parallel', 'parallel'],
    body: (bb) => {
      const [bi, h, j, d] = [0, 1, 2, 3].map((i) => loopIndex(bb, i));
      if (!past || p === 0) return [extract(bb, cur.t, headAt(cur, bi, h, j, d))];
      // Both reads stay in bounds; the select keeps the one that applies.
      const inPast = bb.op(`arith.cmpi slt, ${j}, ${bb.index(p)} : index`);
      const jp = bb.op(`arith.minsi ${j}, ${bb.index(p - 1)} : index`);
      const jc = bb.op(`arith.maxsi ${bb.op(`arith.subi ${j}, ${bb.index(p)} : index`)}, ${bb.index(0)} : index`);
      const fromPast = extract(bb, past, [bi, h, jp, d]);
      const fromCur = extract(bb, cur.t, headAt(cur, bi, h, jc, d));
      return [bb.op(`arith.select ${inPast}, ${fromPast}, ${fromCur} : ${elem}`)];
    },
  });
  return { value, dt: cur.t.dt, shape };
}

/** Rounds an accumulator-typed scalar through the input type (no-op when they agree). */
function roundThrough(b: FuncBuilder, v: string, dt: DataType, accDt: DataType): string {
  return dt === accDt ? v : convertScalar(b, convertScalar(b, v, accDt, dt), dt, accDt);
}

// The scores, probabilities and outputs live in a 3-D "rows" space
// [B*Hq, Sq, ·] (row r = b*Hq + h): the two products are then plain
// linalg.batch_matmul ops with no reshape around them, which
// linalg-fuse-elementwise-ops would otherwise propagate through them (turning
// them into generics no schedule matches). Inputs and outputs are read and
// written through maps from that space.

/** Affine results of (batch, query head, KV head) for row loop dim `d0`. */
function rowHeads(p: Plan): { b: string; h: string; kv: string } {
  const rep = p.qHeads / p.kvHeads;
  const h = `d0 mod ${p.qHeads}`;
  return { b: `d0 floordiv ${p.qHeads}`, h, kv: rep === 1 ? h : `(${h}) floordiv ${rep}` };
}

/**
 * `t` through a copy that linalg-fuse-elementwise-ops does not look through:
 * a single-use elementwise producer is otherwise fused into the batch matmul
 * that reads it, recomputing it (exp, for the probabilities) in the matmul's
 * inner loop and making the matmul a generic no schedule matches.
 */
function fusionBarrier(b: FuncBuilder, t: Tensor): Tensor {
  return { ...t, value: b.op(`bufferization.alloc_tensor() copy(${t.value}) : ${typeOf(t)}`, 'cp') };
}

/**
 * Raw scores (Q·s)(K·s)^T as [B*Hq, Sq, T] in accDt (rounded through T), from
 * Q·s as [B*Hq, Sq, D] and K·s transposed as [B*Hq, D, T] (each KV head
 * repeated for its query heads).
 */
function scores(b: FuncBuilder, p: Plan, q: HeadView, k: HeadView, accDt: DataType): Tensor {
  const r = rowHeads(p);
  const rows = p.batch * p.qHeads;
  const scale = (fb: FuncBuilder, v: string) => {
    const s = new Scalar(fb, accDt);
    return s.mul(convertScalar(fb, v, p.dt, accDt), s.const(p.sqrtScale));
  };
  const qs = mapGeneric(b, accDt, [rows, p.qSeq, p.headSize], [{ ref: q.t, map: affineMap(3, headAt(q, r.b, r.h, 'd1', 'd2')) }], (fb, [v]) => scale(fb, v));
  const kt = mapGeneric(b, accDt, [rows, p.headSize, total(p)], [{ ref: k.t, map: affineMap(3, headAt(k, r.b, r.kv, 'd2', 'd1')) }], (fb, [v]) => scale(fb, v));
  const raw = emitMatMul(b, fusionBarrier(b, qs), fusionBarrier(b, kt), accDt);
  if (p.dt === accDt) return raw;
  return mapGeneric(b, accDt, raw.shape, [broadcastRead(raw, raw.shape)], (fb, [v]) => roundThrough(fb, v, p.dt, accDt));
}

interface Biased {
  softcapped: Tensor;
  biased: Tensor;
}

/** The mask padded to the total KV length: -inf (float) or false (bool) in the new columns. */
function paddedMask(ctx: LowerContext, p: Plan): Tensor | null {
  if (!p.mask) return null;
  const m: Tensor = { value: ctx.input(In.Mask), dt: p.mask.dt, shape: p.mask.shape };
  const last = m.shape.length - 1;
  const missing = total(p) - m.shape[last];
  if (missing === 0) return m;
  const fill = p.mask.dt === DataType.BOOL ? ctx.b.constant('false', 'i1') : new Scalar(ctx.b, p.mask.dt).const(-Infinity);
  return padTensor(ctx.b, m, m.shape.map(() => 0), m.shape.map((_, i) => (i === last ? missing : 0)), fill);
}

/** Map reading a mask that broadcasts (right-aligned) to [B, Hq, Sq, T] from the rows space. */
function maskMap(p: Plan, shape: readonly number[]): string {
  const r = rowHeads(p);
  const full = [p.batch, p.qHeads, p.qSeq, total(p)];
  const exprs = [r.b, r.h, 'd1', 'd2'];
  const off = full.length - shape.length;
  return affineMap(3, shape.map((d, i) => (d === 1 ? '0' : exprs[i + off])));
}

/** Softcap, then the additive bias: mask, causal (-inf above the offset diagonal), KV padding. */
function biasScores(ctx: LowerContext, p: Plan, raw: Tensor, accDt: DataType): Biased {
  const b = ctx.b;
  const shape = raw.shape;
  let softcapped = raw;
  if (p.softcap > 0) {
    softcapped = mapGeneric(b, accDt, shape, [broadcastRead(raw, shape)], (bb, [v]) => {
      const s = new Scalar(bb, accDt);
      const cap = s.const(p.softcap);
      return roundThrough(bb, s.mul(s.math('tanh', s.div(v, cap)), cap), p.dt, accDt);
    });
  }
  const mask = paddedMask(ctx, p);
  const nonPad: Tensor | null = p.nonPad ? { value: ctx.input(In.NonPad), dt: DataType.INT64, shape: [p.batch] } : null;
  if (!mask && !p.causal && !nonPad) return { softcapped, biased: softcapped };
  const reads = [broadcastRead(softcapped, shape)];
  if (mask) reads.push({ ref: mask, map: maskMap(p, mask.shape) });
  if (nonPad) reads.push({ ref: nonPad, map: affineMap(3, [rowHeads(p).b]) });
  const biased = mapGeneric(b, accDt, shape, reads, (bb, args) => {
    const s = new Scalar(bb, accDt);
    const [v] = args;
    const ninf = s.const(-Infinity);
    const zero = s.zero();
    const j = loopIndex(bb, 2);
    let bias = zero;
    if (mask) {
      const m = args[1];
      bias = p.mask?.dt === DataType.BOOL ? s.select(m, zero, ninf) : convertScalar(bb, m, p.dt, accDt);
    }
    if (p.causal) {
      const row = bb.op(`arith.addi ${loopIndex(bb, 1)}, ${bb.index(p.past)} : index`);
      const above = bb.op(`arith.cmpi slt, ${row}, ${j} : index`);
      bias = s.add(bias, s.select(above, ninf, zero));
    }
    if (nonPad) {
      const jj = bb.op(`arith.index_cast ${j} : index to i64`);
      const padded = bb.op(`arith.cmpi sge, ${jj}, ${args[args.length - 1]} : i64`);
      bias = s.add(bias, s.select(padded, ninf, zero));
    }
    return roundThrough(bb, s.add(v, roundThrough(bb, bias, p.dt, accDt)), p.dt, accDt);
  });
  return { softcapped, biased };
}

/**
 * Softmax over the keys (last dim), rounded through T. exp(x - max) is
 * materialised once and read by both the sum and the division (libm exp
 * calls dominate the cost of this part).
 */
function softmax(b: FuncBuilder, p: Plan, x: Tensor, accDt: DataType): Tensor {
  const reduced = [false, false, true];
  const all = (t: Tensor) => broadcastRead(t, x.shape);
  const max = reduceGeneric(b, {
    space: x.shape, reduced, inputs: [all(x)], accDt, identity: 'lowest',
    step: (fb, [v], acc) => new Scalar(fb, accDt).max(acc, v),
  });
  const exps = mapGeneric(b, accDt, x.shape, [all(x), all(max)], (fb, [v, m]) => {
    const s = new Scalar(fb, accDt);
    return s.math('exp', s.sub(v, m));
  });
  const sum = reduceGeneric(b, {
    space: x.shape, reduced, inputs: [all(exps)], accDt, identity: 'zero',
    step: (fb, [e], acc) => new Scalar(fb, accDt).add(acc, e),
  });
  return mapGeneric(b, accDt, x.shape, [all(exps), all(sum)], (fb, [e, z]) => roundThrough(fb, new Scalar(fb, accDt).div(e, z), p.dt, accDt));
}

/** Y = P @ V as [B*Hq, Sq, Dv] in accDt, V copied to [B*Hq, T, Dv] (KV heads repeated). */
function weightedValues(b: FuncBuilder, p: Plan, probs: Tensor, v: HeadView, accDt: DataType): Tensor {
  const r = rowHeads(p);
  const values = mapGeneric(b, p.dt, [p.batch * p.qHeads, total(p), p.vHeadSize], [{ ref: v.t, map: affineMap(3, headAt(v, r.b, r.kv, 'd1', 'd2')) }], (_fb, [x]) => x);
  return emitMatMul(b, fusionBarrier(b, probs), values, accDt);
}

/**
 * A rows-space tensor [B*Hq, Sq, X] written out in T as [B, Hq, Sq, X], or,
 * for the 3-D Y, as [B, Sq, Hq*X].
 */
function fromRows(b: FuncBuilder, p: Plan, t: Tensor, seqMajor: boolean): string {
  const [, sq, x] = t.shape;
  const convert = (fb: FuncBuilder, [v]: string[]) => convertScalar(fb, v, t.dt, p.dt);
  if (!seqMajor) {
    return mapGeneric(b, p.dt, [p.batch, p.qHeads, sq, x], [{ ref: t, map: affineMap(4, [`d0 * ${p.qHeads} + d1`, 'd2', 'd3']) }], convert).value;
  }
  const out = mapGeneric(b, p.dt, [p.batch, sq, p.qHeads, x], [{ ref: t, map: affineMap(4, [`d0 * ${p.qHeads} + d2`, 'd1', 'd3']) }], convert);
  return collapseShape(b, out, [[0], [1], [2, 3]]).value;
}

function lowerAttention(ctx: LowerContext): string[] {
  const p = plan(ctx);
  const b = ctx.b;
  const accDt = accumulatorDtype(p.dt);
  const q = headView(ctx, In.Q, p.qHeads);
  let k = headView(ctx, In.K, p.kvHeads);
  let v = headView(ctx, In.V, p.kvHeads);
  const past = (i: number): Tensor | null => (ctx.has(i) ? { value: ctx.input(i), dt: p.dt, shape: ctx.shape(i) } : null);
  const results: string[] = ['', '', '', ''];
  const pastKey = past(In.PastKey);
  if (pastKey || ctx.hasOutput(Out.PresentKey)) {
    const pk = present(b, pastKey, k, [p.batch, p.kvHeads, total(p), p.headSize]);
    k = { t: pk, seqMajor: false };
    results[Out.PresentKey] = pk.value;
  }
  const pastValue = past(In.PastValue);
  if (pastValue || ctx.hasOutput(Out.PresentValue)) {
    const pv = present(b, pastValue, v, [p.batch, p.kvHeads, total(p), p.vHeadSize]);
    v = { t: pv, seqMajor: false };
    results[Out.PresentValue] = pv.value;
  }
  const raw = scores(b, p, q, k, accDt);
  const { softcapped, biased } = biasScores(ctx, p, raw, accDt);
  const probs = softmax(b, p, biased, accDt);
  results[Out.Y] = fromRows(b, p, weightedValues(b, p, probs, v, accDt), p.rank3);
  if (ctx.hasOutput(Out.QK)) results[Out.QK] = fromRows(b, p, [raw, softcapped, biased, probs][p.mode], false);
  return results.slice(0, ctx.outputCount);
}

for (const since of [23, 24]) {
  registerOp({ domain: '', op: 'Attention', since, infer: inferAttention, lower: lowerAttention });
}
