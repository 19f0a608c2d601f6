// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12; 13 and 22
// only add types). Input [N, C, d1..dk] holds (log-)scores, target [N, d1..dk]
// class labels. Per sample: w = weight[t] (1 without weights, 0 where t is
// ignore_index) and loss = -x[n, t, d] * w. 'none' returns the per-sample
// losses, 'sum' their sum and 'mean' sum(loss) / sum(w), which is the plain
// mean when every w is 1. SoftmaxCrossEntropyLoss applies the NLL to the log
// softmax over the class axis, which it can also return (output 1).
import { DataType } from '../../onnx/model.js';
import { isFloat } from '../../ir/types.js';
import { affineMap, elemType, identityMap, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { accumulatorDtype, filled, identityLiteral } from '../reduce-helpers.js';
import { clampIndex, extract, iota, loopIndex, toIndex, type TensorRef } from '../index-lowering.js';
import { emitSoftmax } from './softmax.js';

const REDUCTIONS = ['none', 'sum', 'mean'] as const;
type Reduction = (typeof REDUCTIONS)[number];
const TARGET_TYPES: readonly DataType[] = [DataType.INT32, DataType.INT64];
/** The class axis of the scores. */
const CLASS_AXIS = 1;

interface LossPlan {
  reduction: Reduction;
  ignoreIndex: number | null;
  hasWeight: boolean;
  /** Shape of the target and of the unreduced loss: the scores' shape without the class axis. */
  sampleShape: number[];
  classes: number;
}

function isReduction(s: string): s is Reduction {
  return (REDUCTIONS as readonly string[]).includes(s);
}

function planLoss(ctx: NodeContext): LossPlan {
  const dt = ctx.dtype(0);
  if (!isFloat(dt)) ctx.unsupported(`scores of ${DataType[dt]} are not supported (expected a float tensor)`);
  const x = ctx.shape(0);
  if (x.length < 2) ctx.unsupported(`scores must have rank >= 2 ([N, C, ...]), got [${x.join(', ')}]`);
  ctx.requireDtype(1, TARGET_TYPES);
  const sampleShape = x.filter((_, i) => i !== CLASS_AXIS);
  const target = ctx.shape(1);
  if (target.length !== sampleShape.length || target.some((d, i) => d !== sampleShape[i])) {
    ctx.unsupported(`target shape [${target.join(', ')}] should be [${sampleShape.join(', ')}]`);
  }
  const classes = x[CLASS_AXIS];
  const hasWeight = ctx.has(2);
  if (hasWeight) {
    const w = ctx.shape(2);
    if (ctx.dtype(2) !== dt || w.length !== 1 || w[0] !== classes) ctx.unsupported(`weight should be [${classes}] of the scores' dtype`);
  }
  const reduction = ctx.string('reduction', 'mean');
  if (!isReduction(reduction)) ctx.unsupported(`reduction '${reduction}' is not one of ${REDUCTIONS.join(', ')}`);
  // Every sample reads one class score; with no classes there is nothing to read.
  if (classes === 0 && sampleShape.every((d) => d > 0)) ctx.unsupported('scores have no classes');
  const ignoreIndex = ctx.hasAttr('ignore_index') ? ctx.int('ignore_index') : null;
  return { reduction, ignoreIndex, hasWeight, sampleShape, classes };
}

function lossShape(p: LossPlan): number[] {
  return p.reduction === 'none' ? p.sampleShape : [];
}

interface LossOperands {
  /** Log-probabilities [N, C, d...]. */
  logp: TensorRef;
  target: TensorRef;
  weight: TensorRef | null;
}

/**
 * The weight and loss of the sample at the current linalg indices (loops over
 * the sample shape), both in the accumulator dtype. The class is clamped into
 * range so that ignored or invalid labels never read out of bounds.
 */
function sampleLoss(b: FuncBuilder, ops: LossOperands, p: LossPlan, label: string): { w: string; loss: string } {
  const accDt = accumulatorDtype(ops.logp.dtype);
  const s = new Scalar(b, accDt);
  const cls = clampIndex(b, toIndex(b, label, ops.target.dtype), p.classes);
  const pos = iota(p.sampleShape.length).map((k) => loopIndex(b, k));
  const coords = [pos[0], cls, ...pos.slice(1)];
  const score = convertScalar(b, extract(b, ops.logp, coords), ops.logp.dtype, accDt);
  let w = ops.weight ? convertScalar(b, extract(b, ops.weight, [cls]), ops.weight.dtype, accDt) : s.one();
  let loss = s.neg(s.mul(score, w));
  if (p.ignoreIndex !== null) {
    const t = new Scalar(b, ops.target.dtype);
    const ignored = t.cmp('eq', label, t.const(p.ignoreIndex));
    // Select rather than multiply by 0: an ignored sample may read a non-finite score.
    w = s.select(ignored, s.zero(), w);
    loss = s.select(ignored, s.zero(), loss);
  }
  return { w, loss };
}

/** Per-sample losses (reduction 'none'). */
function unreducedLoss(b: FuncBuilder, ops: LossOperands, p: LossPlan): string {
  const dt = ops.logp.dtype;
  const outT = tensorTypeOf(dt, p.sampleShape);
  const rank = p.sampleShape.length;
  const [y] = b.generic({
    inputs: [{ value: ops.target.value, type: tensorTypeOf(ops.target.dtype, ops.target.shape), map: identityMap(rank), elem: elemType(ops.target.dtype) }],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(dt) }],
    iterators: p.sampleShape.map(() => 'parallel'),
    body: (fb, [label]) => [convertScalar(fb, sampleLoss(fb, ops, p, label).loss, accumulatorDtype(dt), dt)],
  });
  return y;
}

/** Sum (or weighted mean) of the per-sample losses as a rank-0 tensor. */
function reducedLoss(b: FuncBuilder, ops: LossOperands, p: LossPlan): string {
  const dt = ops.logp.dtype;
  const accDt = accumulatorDtype(dt);
  const accElem = elemType(accDt);
  const rank = p.sampleShape.length;
  const zero = () => filled(b, identityLiteral('zero', accDt), accDt, []).value;
  const scalarT = tensorTypeOf(accDt, []);
  const [lossSum, weightSum] = b.generic({
    inputs: [{ value: ops.target.value, type: tensorTypeOf(ops.target.dtype, ops.target.shape), map: identityMap(rank), elem: elemType(ops.target.dtype) }],
    outputs: [
      { value: zero(), type: scalarT, map: affineMap(rank, []), elem: accElem },
      { value: zero(), type: scalarT, map: affineMap(rank, []), elem: accElem },
    ],
    iterators: p.sampleShape.map(() => 'reduction'),
    body: (fb, [label, accLoss, accW]) => {
      const { w, loss } = sampleLoss(fb, ops, p, label);
      const s = new Scalar(fb, accDt);
      return [s.add(accLoss, loss), s.add(accW, w)];
    },
  });
  const s = new Scalar(b, accDt);
  let total = b.op(`tensor.extract ${lossSum}[] : ${scalarT}`);
  if (p.reduction === 'mean') total = s.div(total, b.op(`tensor.extract ${weightSum}[] : ${scalarT}`));
  const out = convertScalar(b, total, accDt, dt);
  return b.op(`tensor.from_elements ${out} : ${tensorTypeOf(dt, [])}`);
}

function emitLoss(b: FuncBuilder, ops: LossOperands, p: LossPlan): string {
  return p.reduction === 'none' ? unreducedLoss(b, ops, p) : reducedLoss(b, ops, p);
}

function operands(ctx: LowerContext, logp: TensorRef, p: LossPlan): LossOperands {
  const ref = (i: number): TensorRef => ({ value: ctx.input(i), dtype: ctx.dtype(i), shape: ctx.shape(i) });
  return { logp, target: ref(1), weight: p.hasWeight ? ref(2) : null };
}

const SINCE = 12;

registerOp({
  domain: '', op: 'NegativeLogLikelihoodLoss', since: SINCE,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: lossShape(planLoss(ctx)) }],
  lower: (ctx) => {
    const p = planLoss(ctx);
    const scores: TensorRef = { value: ctx.input(0), dtype: ctx.dtype(0), shape: ctx.shape(0) };
    return [emitLoss(ctx.b, operands(ctx, scores, p), p)];
  },
});

registerOp({
  domain: '', op: 'SoftmaxCrossEntropyLoss', since: SINCE,
  infer: (ctx) => {
    const p = planLoss(ctx);
    return [{ dataType: ctx.dtype(0), shape: lossShape(p) }, ctx.type(0)];
  },
  lower: (ctx) => {
    const p = planLoss(ctx);
    const x = ctx.shape(0);
    const classMask = x.map((_, i) => i === CLASS_AXIS);
    const logp = emitSoftmax(ctx.b, { value: ctx.input(0), dt: ctx.dtype(0), shape: x }, classMask, true);
    const logpRef: TensorRef = { value: logp, dtype: ctx.dtype(0), shape: x };
    return [emitLoss(ctx.b, operands(ctx, logpRef, p), p), logp];
  },
});
