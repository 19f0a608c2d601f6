// Einsum (opset 12) as one linalg.generic: every distinct label is a loop,
// output labels parallel and the rest reductions, the body multiplying the
// operands into the accumulator (f32 for half types). Repeated labels in an
// input read its diagonal; "..." dims broadcast numpy-style across inputs.
import { DataType } from '../../onnx/model.js';
import { isFloat, isInteger } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { affineMap } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { accumulatorDtype, broadcastRead, mapGeneric, reduceGeneric, type Operand, type TensorRef } from '../reduce-helpers.js';

const ELLIPSIS = '...';
/** Labels standing for broadcast ("...") dims, numbered from the left. */
const ellipsisLabel = (i: number) => `…${i}`;

interface EinsumPlan {
  /** Labels of each input's dims, in order. */
  inputs: string[][];
  /** Output labels first, then the reduced ones: one loop each. */
  loops: string[];
  outRank: number;
  /** Extent of each loop. */
  sizes: Map<string, number>;
}

/** Position of "..." in a term (-1 if none), declining malformed terms. */
function ellipsisAt(ctx: NodeContext, term: string): number {
  const at = term.indexOf(ELLIPSIS);
  const plain = at < 0 ? term : term.slice(0, at) + term.slice(at + ELLIPSIS.length);
  if (!/^[a-zA-Z]*$/.test(plain)) ctx.unsupported(`einsum term '${term}' should hold letters and at most one '...'`);
  return at;
}

/** Expands one term's labels, "..." becoming the last `count` of `total` broadcast labels. */
function expandTerm(ctx: NodeContext, term: string, count: number, total: number): string[] {
  const ellipsis = ellipsisAt(ctx, term);
  if (ellipsis < 0) return [...term];
  const dots = Array.from({ length: count }, (_, i) => ellipsisLabel(total - count + i));
  return [...term.slice(0, ellipsis), ...dots, ...term.slice(ellipsis + ELLIPSIS.length)];
}

function letterCount(term: string): number {
  return term.replaceAll(ELLIPSIS, '').length;
}

function implicitOutput(terms: string[][], total: number): string[] {
  const counts = new Map<string, number>();
  for (const t of terms) for (const l of t) if (!l.startsWith('…')) counts.set(l, (counts.get(l) ?? 0) + 1);
  const once = [...counts].filter(([, n]) => n === 1).map(([l]) => l).sort();
  return [...Array.from({ length: total }, (_, i) => ellipsisLabel(i)), ...once];
}

function einsumPlan(ctx: NodeContext): EinsumPlan {
  const eq = ctx.string('equation').replace(/\s+/g, '');
  const [lhs, rhs] = eq.split('->');
  const terms = lhs.split(',');
  if (terms.length !== ctx.inputCount) ctx.unsupported(`equation '${eq}' has ${terms.length} inputs, node has ${ctx.inputCount}`);
  const shapes = terms.map((_, i) => ctx.shape(i));
  const dotRanks = terms.map((t, i) => {
    const r = shapes[i].length - letterCount(t);
    if (r < 0 || (r > 0 && !t.includes(ELLIPSIS))) ctx.unsupported(`term '${t}' does not match input ${i} of rank ${shapes[i].length}`);
    return t.includes(ELLIPSIS) ? r : 0;
  });
  const total = Math.max(0, ...dotRanks);
  const inputs = terms.map((t, i) => expandTerm(ctx, t, dotRanks[i], total));
  const out = rhs === undefined ? implicitOutput(inputs, total) : expandTerm(ctx, rhs, total, total);
  if (new Set(out).size !== out.length) ctx.unsupported(`output '${rhs}' repeats a label`);
  const sizes = new Map<string, number>();
  inputs.forEach((labels, i) => labels.forEach((l, d) => {
    const have = sizes.get(l);
    const dim = shapes[i][d];
    if (have !== undefined && have !== dim && have !== 1 && dim !== 1) ctx.unsupported(`label '${l}' has sizes ${have} and ${dim}`);
    if (have === undefined || have === 1) sizes.set(l, dim);
  }));
  for (const l of out) if (!sizes.has(l)) ctx.unsupported(`output label '${l}' is not in any input`);
  const reducedLabels = [...sizes.keys()].filter((l) => !out.includes(l));
  return { inputs, loops: [...out, ...reducedLabels], outRank: out.length, sizes };
}

function inferEinsum(ctx: NodeContext) {
  const dt = ctx.dtype(0);
  if (!isFloat(dt) && !isInteger(dt)) ctx.unsupported(`Einsum of ${DataType[dt]} is not supported (expected a numeric tensor)`);
  for (let i = 1; i < ctx.inputCount; i++) if (ctx.dtype(i) !== dt) ctx.unsupported(`input ${i} dtype differs from input 0`);
  const p = einsumPlan(ctx);
  return [{ dataType: dt, shape: p.loops.slice(0, p.outRank).map((l) => p.sizes.get(l) ?? 0) }];
}

function lowerEinsum(ctx: LowerContext): string[] {
  const p = einsumPlan(ctx);
  const dt = ctx.dtype(0);
  const accDt = accumulatorDtype(dt);
  const space = p.loops.map((l) => p.sizes.get(l) ?? 0);
  const operands: Operand[] = p.inputs.map((labels, i) => {
    const shape = ctx.shape(i);
    // A size-1 dim against a larger loop is broadcast: read index 0.
    const results = labels.map((l, d) => (shape[d] === 1 && space[p.loops.indexOf(l)] !== 1 ? '0' : `d${p.loops.indexOf(l)}`));
    return { ref: { value: ctx.input(i), dt, shape }, map: affineMap(space.length, results) };
  });
  const reduced = p.loops.map((_, i) => i >= p.outRank);
  const acc = reduceGeneric(ctx.b, {
    space, reduced, inputs: operands, accDt, identity: 'zero',
    step: (fb, args, a) => {
      const s = new Scalar(fb, accDt);
      const prod = args.map((v) => convertScalar(fb, v, dt, accDt)).reduce((x, y) => s.mul(x, y));
      return s.add(a, prod);
    },
  });
  // The accumulator has the output dims first and 1s after: drop them while converting.
  const outShape = ctx.outShape(0);
  const read = mapAccumulator(acc, outShape.length);
  return [mapGeneric(ctx.b, dt, outShape, [read], (fb, [a]) => convertScalar(fb, a, accDt, dt)).value];
}

function mapAccumulator(acc: TensorRef, outRank: number): Operand {
  if (acc.shape.length === outRank) return broadcastRead(acc, acc.shape);
  const results = acc.shape.map((_, i) => (i < outRank ? `d${i}` : '0'));
  return { ref: acc, map: affineMap(outRank, results) };
}

registerOp({ domain: '', op: 'Einsum', since: 12, infer: inferEinsum, lower: lowerEinsum });
