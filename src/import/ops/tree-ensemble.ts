// ai.onnx.ml TreeEnsemble (opset 5). The trees are constant tables
// (tree-ensemble-plan.ts); three stages:
//   1. a generic over [N, trees] walks each tree from its root with an
//      scf.while until it reaches a leaf (the tables are checked acyclic),
//      giving the leaf index per sample and tree;
//   2. a generic over [N, targets, trees] aggregates the leaves' weights into
//      their targets (SUM / AVERAGE / MIN / MAX);
//   3. the post transform, with onnxruntime's formulas (its logistic, its
//      approximate probit, its softmax that skips zeros), numbered as the
//      spec has them (onnxruntime reads 1 as LOGISTIC and 2 as SOFTMAX).
import { DataType } from '../../onnx/model.js';
import { Scalar } from '../../codegen/scalar.js';
import { affineMap, elemType, floatLiteral, identityMap, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { LowerContext } from '../lower-context.js';
import { extract, i64Constant, loopIndex, operand, type TensorRef } from '../index-lowering.js';
import { broadcastRead, mapGeneric, reduceGeneric, type TensorRef as Scores } from '../reduce-helpers.js';
import { emitSoftmax } from './softmax.js';
import { Aggregate, Mode, PostTransform, treeTables, type TreeTables } from '../tree-ensemble-plan.js';

const ML = 'ai.onnx.ml';

/** A constant table as a TensorRef. */
type Table = TensorRef;

function intTable(b: FuncBuilder, values: readonly number[]): Table {
  // An empty table (no MEMBER values, say) still needs a valid operand: one dummy entry.
  const v = values.length ? values : [0];
  return { value: i64Constant(b, v), dtype: DataType.INT64, shape: [v.length] };
}

function floatTable(b: FuncBuilder, values: readonly number[], dt: DataType): Table {
  const v = values.length ? values : [0];
  const e = elemType(dt);
  return { value: b.constant(`dense<[${v.map((x) => floatLiteral(x, e)).join(', ')}]>`, tensorTypeOf(dt, [v.length])), dtype: dt, shape: [v.length] };
}

interface NodeTables {
  feature: Table;
  mode: Table;
  split: Table;
  trueId: Table;
  falseId: Table;
  trueLeaf: Table;
  falseLeaf: Table;
  missing: Table;
  memberStart: Table;
  memberEnd: Table;
  members: Table;
}

function nodeTables(b: FuncBuilder, t: TreeTables): NodeTables {
  return {
    feature: intTable(b, t.featureIds), mode: intTable(b, t.modes), split: floatTable(b, t.splits, t.dt),
    trueId: intTable(b, t.trueIds), falseId: intTable(b, t.falseIds), trueLeaf: intTable(b, t.trueLeaf), falseLeaf: intTable(b, t.falseLeaf),
    missing: intTable(b, t.missingTracksTrue), memberStart: intTable(b, t.memberStart), memberEnd: intTable(b, t.memberEnd),
    members: floatTable(b, t.members, t.dt),
  };
}

const toIdx = (b: FuncBuilder, v: string) => b.op(`arith.index_cast ${v} : i64 to index`);
const nonZero = (b: FuncBuilder, v: string) => b.op(`arith.cmpi ne, ${v}, ${b.constant('0', 'i64')} : i64`);

/** Whether x equals one of members[start .. end) (a loop over the node's set). */
function isMember(b: FuncBuilder, tb: NodeTables, node: string, x: string, s: Scalar): string {
  const [lo, hi] = [tb.memberStart, tb.memberEnd].map((t) => toIdx(b, extract(b, t, [node])));
  const [k, found, loop] = [b.fresh('k'), b.fresh('found'), b.fresh('member')];
  b.emit(`${loop} = scf.for ${k} = ${lo} to ${hi} step ${b.index(1)} iter_args(${found} = ${b.constant('false', 'i1')}) -> (i1) {`);
  const hit = s.cmp('eq', x, extract(b, tb.members, [k]));
  b.emit(`  scf.yield ${b.op(`arith.ori ${found}, ${hit} : i1`)} : i1`);
  b.emit('}');
  return loop;
}

const COMPARE: Partial<Record<number, 'le' | 'lt' | 'ge' | 'gt' | 'eq' | 'ne'>> = {
  [Mode.LEQ]: 'le', [Mode.LT]: 'lt', [Mode.GTE]: 'ge', [Mode.GT]: 'gt', [Mode.EQ]: 'eq', [Mode.NEQ]: 'ne',
};

/** The branch condition of interior node `node` for feature value x: only the modes the model uses are emitted. */
function condition(b: FuncBuilder, t: TreeTables, tb: NodeTables, node: string, x: string): string {
  const s = new Scalar(b, t.dt);
  const used = [...new Set(t.modes)];
  const mode = used.length > 1 ? extract(b, tb.mode, [node]) : '';
  const threshold = used.some((m) => m !== Mode.MEMBER) ? extract(b, tb.split, [node]) : '';
  let cond = '';
  for (const m of used) {
    const pred = COMPARE[m];
    const c = pred ? s.cmp(pred, x, threshold) : isMember(b, tb, node, x, s);
    cond = cond === '' ? c : b.op(`arith.select ${b.op(`arith.cmpi eq, ${mode}, ${b.constant(String(m), 'i64')} : i64`)}, ${c}, ${cond} : i1`);
  }
  if (t.missingTracksTrue.some((v) => v !== 0)) {
    const nan = b.op(`arith.cmpf uno, ${x}, ${x} : ${s.elem}`);
    const tracks = b.op(`arith.andi ${nonZero(b, extract(b, tb.missing, [node]))}, ${nan} : i1`);
    cond = b.op(`arith.ori ${cond}, ${tracks} : i1`);
  }
  return cond;
}

/** leaf[n, tree]: the leaf sample n reaches in each tree (stage 1). */
function emitLeaves(ctx: LowerContext, t: TreeTables, x: TensorRef): Table {
  const b = ctx.b;
  const tb = nodeTables(b, t);
  const roots = intTable(b, t.roots);
  const trees = t.roots.length;
  const outT = tensorTypeOf(DataType.INT64, [t.batch, trees]);
  const [value] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(2), elem: 'i64' }],
    iterators: ['parallel', 'parallel'],
    body: (bb) => {
      const [n, tree] = [loopIndex(bb, 0), loopIndex(bb, 1)];
      const start = toIdx(bb, extract(bb, roots, [tree]));
      const startLeaf = bb.constant('false', 'i1');
      const [walk, at, atLeaf, node, isLeaf] = ['walk', 'at', 'atleaf', 'node', 'isleaf'].map((p) => bb.fresh(p));
      bb.emit(`${walk}:2 = scf.while (${at} = ${start}, ${atLeaf} = ${startLeaf}) : (index, i1) -> (index, i1) {`);
      const go = bb.op(`arith.xori ${atLeaf}, ${bb.constant('true', 'i1')} : i1`);
      bb.emit(`  scf.condition(${go}) ${at}, ${atLeaf} : index, i1`);
      bb.emit('} do {');
      bb.emit(`^bb0(${node}: index, ${isLeaf}: i1):`);
      const feature = toIdx(bb, extract(bb, tb.feature, [node]));
      const cond = condition(bb, t, tb, node, extract(bb, x, [n, feature]));
      const pick = (tt: Table, ff: Table) => bb.op(`arith.select ${cond}, ${extract(bb, tt, [node])}, ${extract(bb, ff, [node])} : i64`);
      const next = toIdx(bb, pick(tb.trueId, tb.falseId));
      const nextLeaf = nonZero(bb, pick(tb.trueLeaf, tb.falseLeaf));
      bb.emit(`  scf.yield ${next}, ${nextLeaf} : index, i1`);
      bb.emit('}');
      return [bb.op(`arith.index_cast ${walk}#0 : index to i64`)];
    },
  });
  return { value, dtype: DataType.INT64, shape: [t.batch, trees] };
}

/**
 * scores[n, j] (stage 2): the weights of the leaves reached that vote for
 * target j, aggregated in tree order as onnxruntime does; a target no leaf
 * voted for scores 0 (MIN / MAX track that with a second, boolean result).
 */
function emitScores(ctx: LowerContext, t: TreeTables, leaves: Table): string {
  const b = ctx.b;
  const targets = intTable(b, t.leafTargets);
  const weights = floatTable(b, t.leafWeights, t.dt);
  const trees = t.roots.length;
  const s0 = new Scalar(b, t.dt);
  const scoreT = tensorTypeOf(t.dt, [t.batch, t.targets]);
  const hitT = tensorTypeOf(DataType.BOOL, [t.batch, t.targets]);
  const extreme = t.aggregate === Aggregate.MIN || t.aggregate === Aggregate.MAX;
  const out = affineMap(3, ['d0', 'd1']);
  const outputs = [{ value: b.fill(s0.zero(), s0.elem, scoreT), type: scoreT, map: out, elem: s0.elem }];
  if (extreme) outputs.push({ value: b.fill(b.constant('false', 'i1'), 'i1', hitT), type: hitT, map: out, elem: 'i1' });
  const results = b.generic({
    inputs: [{ value: leaves.value, type: tensorTypeOf(DataType.INT64, leaves.shape), map: affineMap(3, ['d0', 'd2']), elem: 'i64' }],
    outputs,
    iterators: ['parallel', 'parallel', 'reduction'],
    body: (bb, [leaf, acc, hit]) => {
      const s = new Scalar(bb, t.dt);
      const at = toIdx(bb, leaf);
      const j = bb.op(`arith.index_cast ${loopIndex(bb, 1)} : index to i64`);
      const votes = bb.op(`arith.cmpi eq, ${extract(bb, targets, [at])}, ${j} : i64`);
      const w = extract(bb, weights, [at]);
      if (!extreme) return [s.select(votes, s.add(acc, w), acc)];
      const better = s.cmp(t.aggregate === Aggregate.MIN ? 'lt' : 'gt', w, acc);
      const first = bb.op(`arith.xori ${hit}, ${bb.constant('true', 'i1')} : i1`);
      const take = bb.op(`arith.andi ${votes}, ${bb.op(`arith.ori ${first}, ${better} : i1`)} : i1`);
      return [s.select(take, w, acc), bb.op(`arith.ori ${hit}, ${votes} : i1`)];
    },
  });
  const scores = results[0];
  if (t.aggregate !== Aggregate.AVERAGE) return scores;
  const ref = { value: scores, dt: t.dt, shape: [t.batch, t.targets] };
  return mapGeneric(b, t.dt, ref.shape, [broadcastRead(ref, ref.shape)], (fb, [v]) => new Scalar(fb, t.dt).div(v, new Scalar(fb, t.dt).const(trees))).value;
}

/** onnxruntime's logistic: 1 / (1 + e^-|v|), mirrored for negative v. */
function logistic(s: Scalar, v: string): string {
  const e = s.math('exp', s.neg(s.abs(v)));
  const p = s.div(s.one(), s.add(s.one(), e));
  return s.select(s.cmp('lt', v, s.zero()), s.sub(s.one(), p), p);
}

/** onnxruntime's probit: sqrt(2) * erfinv(2v - 1) with its closed-form erfinv approximation (a = 0.147), in f32. */
function probit(b: FuncBuilder, v: string, dt: DataType): string {
  const f = new Scalar(b, DataType.FLOAT);
  const x0 = dt === DataType.FLOAT ? v : b.op(`arith.truncf ${v} : f64 to f32`);
  const x = f.sub(f.mul(f.const(2), x0), f.one());
  const sign = f.select(f.cmp('lt', x, f.zero()), f.const(-1), f.one());
  const log = f.math('log', f.mul(f.sub(f.one(), x), f.add(f.one(), x)));
  const A = Math.fround(0.147);
  const PI = Math.fround(3.14159);
  const c = f.add(f.const(Math.fround(2 / Math.fround(PI * A))), f.mul(f.const(0.5), log));
  const c2 = f.mul(f.const(Math.fround(1 / A)), log);
  const root = f.sub(f.math('sqrt', f.sub(f.mul(c, c), c2)), c);
  const y = f.mul(f.const(Math.fround(Math.SQRT2)), f.mul(sign, f.math('sqrt', root)));
  return dt === DataType.FLOAT ? y : b.op(`arith.extf ${y} : f32 to f64`);
}

/** Magnitude below which SOFTMAX_ZERO treats a score as zero (onnxruntime's threshold). */
const SOFTMAX_ZERO_EPSILON = 1e-7;

/** onnxruntime's SOFTMAX_ZERO: softmax over the nonzero scores; zeros stay (almost) zero. */
function softmaxZero(b: FuncBuilder, scores: Scores): string {
  const { dt, shape } = scores;
  const reduced = [false, true];
  const isNonZero = (s: Scalar, v: string) => s.cmp('gt', s.abs(v), s.const(SOFTMAX_ZERO_EPSILON));
  const max = reduceGeneric(b, {
    space: shape, reduced, inputs: [broadcastRead(scores, shape)], accDt: dt, identity: 'lowest',
    step: (fb, [v], acc) => new Scalar(fb, dt).max(acc, v),
  });
  const sum = reduceGeneric(b, {
    space: shape, reduced, inputs: [broadcastRead(scores, shape), broadcastRead(max, shape)], accDt: dt, identity: 'zero',
    step: (fb, [v, m], acc) => {
      const s = new Scalar(fb, dt);
      return s.select(isNonZero(s, v), s.add(acc, s.math('exp', s.sub(v, m))), acc);
    },
  });
  return mapGeneric(b, dt, shape, [scores, max, sum].map((r) => broadcastRead(r, shape)), (fb, [v, m, z]) => {
    const s = new Scalar(fb, dt);
    const e = s.select(isNonZero(s, v), s.math('exp', s.sub(v, m)), s.mul(v, s.math('exp', s.neg(m))));
    return s.div(e, z);
  }).value;
}

function postTransform(ctx: LowerContext, t: TreeTables, value: string): string {
  const scores: Scores = { value, dt: t.dt, shape: [t.batch, t.targets] };
  const elementwise = (f: (fb: FuncBuilder, v: string) => string) => mapGeneric(ctx.b, t.dt, scores.shape, [broadcastRead(scores, scores.shape)], (fb, [v]) => f(fb, v)).value;
  switch (t.post) {
    case PostTransform.NONE: return value;
    case PostTransform.LOGISTIC: return elementwise((fb, v) => logistic(new Scalar(fb, t.dt), v));
    case PostTransform.PROBIT: return elementwise((fb, v) => probit(fb, v, t.dt));
    case PostTransform.SOFTMAX: return emitSoftmax(ctx.b, scores, [false, true], false);
    case PostTransform.SOFTMAX_ZERO: return softmaxZero(ctx.b, scores);
  }
}

registerOp({
  domain: ML, op: 'TreeEnsemble', since: 5,
  infer: (ctx) => {
    const t = treeTables(ctx);
    return [{ dataType: t.dt, shape: [t.batch, t.targets] }];
  },
  lower: (ctx) => {
    const t = treeTables(ctx);
    const leaves = emitLeaves(ctx, t, operand(ctx, 0));
    return [postTransform(ctx, t, emitScores(ctx, t, leaves))];
  },
});
