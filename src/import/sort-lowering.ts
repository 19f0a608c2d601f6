// A stable sort of the indices 0..n-1 by a comparator emitted inline, for
// lowerings that need an order (Unique's sorted values, NonMaxSuppression's
// boxes by score): bottom-up merge sort, ceil(log2 n) passes of O(n) merges
// in scf.for loops, so O(n log n) comparisons instead of a selection's O(n²).
import { DataType } from '../onnx/model.js';
import { identityMap, tensorTypeOf, type FuncBuilder } from '../codegen/mlir-builder.js';
import { scfFor, scfRange } from './loop-helpers.js';

/** Emits an i1 that holds when the element at index `a` must come strictly before the one at index `c`. */
export type Before = (a: string, c: string) => string;

/** tensor<n x i64> holding 0..n-1. */
export function iotaTensor(b: FuncBuilder, n: number): string {
  const t = tensorTypeOf(DataType.INT64, [n]);
  const [r] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(t), type: t, map: identityMap(1), elem: 'i64' }],
    iterators: ['parallel'],
    body: (g) => [g.op(`arith.index_cast ${g.op('linalg.index 0 : index')} : index to i64`)],
  });
  return r;
}

function passCount(n: number): number {
  let p = 0;
  while (2 ** p < n) p++;
  return p;
}

/** i64 element `at` (an index, clamped into range by the caller) of a 1-D i64 tensor, as an index. */
function indexAt(b: FuncBuilder, t: string, type: string, at: string): string {
  const v = b.op(`tensor.extract ${t}[${at}] : ${type}`);
  return b.op(`arith.index_cast ${v} : i64 to index`);
}

/**
 * One merge of the sorted runs [lo, mid) and [mid, hi) of `src` into `dst`:
 * the left run wins ties, which keeps the sort stable.
 */
function mergeRuns(b: FuncBuilder, n: number, src: string, dst: string, bounds: [string, string, string], before: Before): string {
  const t = tensorTypeOf(DataType.INT64, [n]);
  const [lo, mid, hi] = bounds;
  const last = b.index(n - 1);
  const [merged] = scfRange(b, lo, hi, b.index(1), [{ value: dst, type: t }, { value: lo, type: 'index' }, { value: mid, type: 'index' }], (k, [acc, i, j]) => {
    const left = indexAt(b, src, t, b.op(`arith.minsi ${i}, ${last} : index`));
    const right = indexAt(b, src, t, b.op(`arith.minsi ${j}, ${last} : index`));
    const leftDone = b.op(`arith.cmpi sge, ${i}, ${mid} : index`);
    const rightLeft = b.op(`arith.cmpi slt, ${j}, ${hi} : index`);
    const rightFirst = b.op(`arith.ori ${leftDone}, ${before(right, left)} : i1`);
    const takeRight = b.op(`arith.andi ${rightLeft}, ${rightFirst} : i1`);
    const pick = b.op(`arith.select ${takeRight}, ${right}, ${left} : index`);
    const out = b.op(`tensor.insert ${b.op(`arith.index_cast ${pick} : index to i64`)} into ${acc}[${k}] : ${t}`);
    const one = b.index(1);
    const i2 = b.op(`arith.select ${takeRight}, ${i}, ${b.op(`arith.addi ${i}, ${one} : index`)} : index`);
    const j2 = b.op(`arith.select ${takeRight}, ${b.op(`arith.addi ${j}, ${one} : index`)}, ${j} : index`);
    return [out, i2, j2];
  });
  return merged;
}

/** The indices 0..n-1 (tensor<n x i64>) stably sorted by `before`. */
export function sortIndices(b: FuncBuilder, n: number, before: Before): string {
  const t = tensorTypeOf(DataType.INT64, [n]);
  const size = b.index(n);
  const [sorted] = scfFor(b, passCount(n), [{ value: iotaTensor(b, n), type: t }], (p, [src]) => {
    const width = b.op(`arith.shli ${b.index(1)}, ${p} : index`);
    const span = b.op(`arith.shli ${width}, ${b.index(1)} : index`);
    const [dst] = scfRange(b, b.index(0), size, span, [{ value: b.empty(t), type: t }], (lo, [acc]) => {
      const mid = b.op(`arith.minsi ${b.op(`arith.addi ${lo}, ${width} : index`)}, ${size} : index`);
      const hi = b.op(`arith.minsi ${b.op(`arith.addi ${lo}, ${span} : index`)}, ${size} : index`);
      return [mergeRuns(b, n, src, acc, [lo, mid, hi], before)];
    });
    // Copied back over the pass's input: bufferization needs the loop to yield (a buffer equivalent to) its own argument.
    return [b.op(`linalg.copy ins(${dst} : ${t}) outs(${src} : ${t}) -> ${t}`)];
  });
  return sorted;
}
