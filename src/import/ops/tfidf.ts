// TfIdfVectorizer over integer tokens. The n-gram pool is a compile-time
// table; one reduction generic counts, per batch row and pool entry, the
// (position, skip) pairs whose tokens x[i], x[i+(s+1)], ... match the entry
// (unigrams count once, whatever the skip, as onnxruntime does); a second
// generic scatters the counts to their output slots and applies the mode.
// Weights are indexed by the n-gram's position in the pool, as in onnxruntime.
import { DataType } from '../../onnx/model.js';
import { Scalar } from '../../codegen/scalar.js';
import { affineMap, floatLiteral, identityMap, tensorTypeOf } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { emitReshape, extract, i64Constant, loopIndex, operand, type TensorRef } from '../index-lowering.js';

type Mode = 'TF' | 'IDF' | 'TFIDF';

interface Gram {
  tokens: number[];
  slot: number;
  /** Position among all n-grams of the pool (weights are indexed by it). */
  ordinal: number;
}

interface TfIdfPlan {
  grams: Gram[];
  maxLen: number;
  maxSkip: number;
  size: number;
  mode: Mode;
  weights: number[] | null;
  batch: number;
  length: number;
  outShape: number[];
}

/** The pool's n-grams of length min..max with their output slots. */
function readPool(ctx: NodeContext, minLen: number, maxLen: number): Gram[] {
  const pool = ctx.ints('pool_int64s', []);
  if (ctx.hasAttr('pool_strings')) ctx.unsupported('string pools are not supported');
  const starts = ctx.ints('ngram_counts');
  const slots = ctx.ints('ngram_indexes');
  const grams: Gram[] = [];
  let ordinal = 0;
  starts.forEach((start, level) => {
    const n = level + 1;
    const end = level + 1 < starts.length ? starts[level + 1] : pool.length;
    if ((end - start) % n !== 0) ctx.unsupported(`pool segment of ${n}-grams has ${end - start} entries`);
    for (let at = start; at < end; at += n, ordinal++) {
      if (n < minLen || n > maxLen) continue;
      const slot = slots[ordinal];
      if (slot === undefined) ctx.unsupported(`ngram_indexes has no entry for n-gram ${ordinal}`);
      grams.push({ tokens: pool.slice(at, at + n), slot, ordinal });
    }
  });
  return grams;
}

function plan(ctx: NodeContext): TfIdfPlan {
  const dt = ctx.dtype(0);
  if (dt !== DataType.INT32 && dt !== DataType.INT64) ctx.unsupported(`input of ${DataType[dt]} is not supported (expected int32 or int64 tokens)`);
  const shape = ctx.shape(0);
  if (shape.length !== 1 && shape.length !== 2) ctx.unsupported(`X must be 1-D or 2-D, got [${shape.join(', ')}]`);
  const minLen = ctx.int('min_gram_length');
  const maxLen = ctx.int('max_gram_length');
  const mode = ctx.string('mode');
  if (mode !== 'TF' && mode !== 'IDF' && mode !== 'TFIDF') ctx.unsupported(`mode '${mode}' is not TF, IDF or TFIDF`);
  const slots = ctx.ints('ngram_indexes');
  const size = Math.max(-1, ...slots) + 1;
  const weights = ctx.hasAttr('weights') ? ctx.floats('weights') : null;
  if (weights && weights.length < slots.length) ctx.unsupported(`weights has ${weights.length} entries, expected ${slots.length}`);
  const [batch, length] = shape.length === 1 ? [1, shape[0]] : shape;
  const outShape = shape.length === 1 ? [size] : [batch, size];
  return { grams: readPool(ctx, minLen, maxLen), maxLen, maxSkip: ctx.int('max_skip_count', 0), size, mode, weights, batch, length, outShape };
}

/** counts[b, g]: occurrences of gram g in row b, as floats. */
function emitCounts(ctx: LowerContext, p: TfIdfPlan, x: TensorRef): TensorRef {
  const b = ctx.b;
  const g = p.grams.length;
  const width = Math.max(1, ...p.grams.map((q) => q.tokens.length));
  const tokens: TensorRef = {
    value: b.constant(`dense<[${p.grams.map((q) => `[${Array.from({ length: width }, (_, k) => q.tokens[k] ?? 0).join(', ')}]`).join(', ')}]>`, tensorTypeOf(DataType.INT64, [g, width])),
    dtype: DataType.INT64, shape: [g, width],
  };
  const lengths: TensorRef = { value: i64Constant(b, p.grams.map((q) => q.tokens.length)), dtype: DataType.INT64, shape: [g] };
  const s = new Scalar(b, DataType.FLOAT);
  const countT = tensorTypeOf(DataType.FLOAT, [p.batch, g]);
  const init = b.fill(s.zero(), 'f32', countT);
  // Iteration space: batch row, gram, skip, position; an empty [skip, position]
  // operand only gives the loops their bounds.
  const spanT = tensorTypeOf(DataType.FLOAT, [p.maxSkip + 1, p.length]);
  const [value] = b.generic({
    inputs: [
      { value: lengths.value, type: tensorTypeOf(DataType.INT64, [g]), map: affineMap(4, ['d1']), elem: 'i64' },
      { value: b.empty(spanT), type: spanT, map: affineMap(4, ['d2', 'd3']), elem: 'f32' },
    ],
    outputs: [{ value: init, type: countT, map: affineMap(4, ['d0', 'd1']), elem: 'f32' }],
    iterators: ['parallel', 'parallel', 'reduction', 'reduction'],
    body: (bb, [n, _span, acc]) => {
      const [row, gram, skip, pos] = [0, 1, 2, 3].map((k) => loopIndex(bb, k));
      const stride = bb.op(`arith.addi ${skip}, ${bb.index(1)} : index`);
      const skip64 = bb.op(`arith.index_cast ${skip} : index to i64`);
      const one = bb.constant('1', 'i64');
      // Unigrams ignore the skip: count them at skip 0 only.
      let ok = bb.op(`arith.ori ${bb.op(`arith.cmpi sgt, ${n}, ${one} : i64`)}, ${bb.op(`arith.cmpi eq, ${skip64}, ${bb.constant('0', 'i64')} : i64`)} : i1`);
      for (let k = 0; k < width; k++) {
        const at = k === 0 ? pos : bb.op(`arith.addi ${pos}, ${bb.op(`arith.muli ${stride}, ${bb.index(k)} : index`)} : index`);
        const inRange = bb.op(`arith.cmpi ult, ${at}, ${bb.index(p.length)} : index`);
        const safe = bb.op(`arith.select ${inRange}, ${at}, ${bb.index(0)} : index`);
        let tok = extract(bb, x, [row, safe]);
        if (x.dtype === DataType.INT32) tok = bb.op(`arith.extsi ${tok} : i32 to i64`);
        const want = extract(bb, tokens, [gram, bb.index(k)]);
        const match = bb.op(`arith.andi ${inRange}, ${bb.op(`arith.cmpi eq, ${tok}, ${want} : i64`)} : i1`);
        const unused = bb.op(`arith.cmpi sle, ${n}, ${bb.constant(String(k), 'i64')} : i64`);
        ok = bb.op(`arith.andi ${ok}, ${bb.op(`arith.ori ${unused}, ${match} : i1`)} : i1`);
      }
      const sc = new Scalar(bb, DataType.FLOAT);
      return [sc.add(acc, sc.select(ok, sc.one(), sc.zero()))];
    },
  });
  return { value, dtype: DataType.FLOAT, shape: [p.batch, g] };
}

/** Output [batch, size]: each slot's gram count through the mode (zero for slots no gram maps to). */
function emitOutput(ctx: LowerContext, p: TfIdfPlan, counts: TensorRef): string {
  const b = ctx.b;
  const gramOf = new Array<number>(p.size).fill(-1);
  p.grams.forEach((q, i) => { gramOf[q.slot] = i; });
  const inv: TensorRef = { value: i64Constant(b, gramOf), dtype: DataType.INT64, shape: [p.size] };
  const weights = new Array<number>(p.size).fill(1);
  if (p.weights) for (const q of p.grams) weights[q.slot] = p.weights[q.ordinal];
  const w = b.constant(`dense<[${weights.map((v) => floatLiteral(v, 'f32')).join(', ')}]>`, tensorTypeOf(DataType.FLOAT, [p.size]));
  const outT = tensorTypeOf(DataType.FLOAT, [p.batch, p.size]);
  const [value] = b.generic({
    inputs: [
      { value: inv.value, type: tensorTypeOf(DataType.INT64, [p.size]), map: affineMap(2, ['d1']), elem: 'i64' },
      { value: w, type: tensorTypeOf(DataType.FLOAT, [p.size]), map: affineMap(2, ['d1']), elem: 'f32' },
    ],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(2), elem: 'f32' }],
    iterators: ['parallel', 'parallel'],
    body: (bb, [gram, weight]) => {
      const s = new Scalar(bb, DataType.FLOAT);
      const present = bb.op(`arith.cmpi sge, ${gram}, ${bb.constant('0', 'i64')} : i64`);
      const safe = bb.op(`arith.select ${present}, ${bb.op(`arith.index_cast ${gram} : i64 to index`)}, ${bb.index(0)} : index`);
      const count = p.grams.length ? extract(bb, counts, [loopIndex(bb, 0), safe]) : s.zero();
      let v = count;
      if (p.mode === 'IDF') v = s.select(s.cmp('gt', count, s.zero()), weight, s.zero());
      else if (p.mode === 'TFIDF') v = s.mul(count, weight);
      return [s.select(present, v, s.zero())];
    },
  });
  return value;
}

registerOp({
  domain: '', op: 'TfIdfVectorizer', since: 9,
  infer: (ctx) => [{ dataType: DataType.FLOAT, shape: plan(ctx).outShape }],
  lower: (ctx) => {
    const p = plan(ctx);
    const x0 = operand(ctx, 0);
    const x: TensorRef = { ...x0, value: emitReshape(ctx.b, x0, [p.batch, p.length]), shape: [p.batch, p.length] };
    const counts = p.grams.length ? emitCounts(ctx, p, x) : { value: '', dtype: DataType.FLOAT, shape: [p.batch, 0] };
    const out = emitOutput(ctx, p, counts);
    return [emitReshape(ctx.b, { value: out, dtype: DataType.FLOAT, shape: [p.batch, p.size] }, p.outShape)];
  },
});

