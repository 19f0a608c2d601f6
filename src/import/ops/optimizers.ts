// The ai.onnx.preview.training optimizers Adagrad, Momentum and Adam: one
// elementwise update per optimized tensor. Inputs are the learning rate R and
// update count T (scalars), then the tensors in groups (X1..Xn, G1..Gn, ...);
// outputs are the updated groups in the same order. The updates run in f64
// (the reference mixes f32 tensors with float64 learning-rate arithmetic).
import { DataType } from '../../onnx/model.js';
import { type TensorType } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { affineMap, elemType, identityMap, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';

const DOMAIN = 'ai.onnx.preview.training';
const R = 0;
const T = 1;
/** Index of the first optimized tensor. */
const FIRST = 2;
const TENSOR_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE];
const CALC = DataType.DOUBLE;

/** Per element: the group's input scalars (X, G, state...) in f64 → updated values (X, state...). */
type Update = (s: Scalar, r: string, t: string, xs: string[]) => string[];

interface OptimizerSpec {
  op: string;
  /** Tensors per optimized variable among the inputs (X, G, states) and among the outputs. */
  inputsPer: number;
  outputsPer: number;
  update: (ctx: NodeContext) => Update;
}

function groupCount(ctx: NodeContext, spec: OptimizerSpec): number {
  const tensors = ctx.inputCount - FIRST;
  if (tensors <= 0 || tensors % spec.inputsPer !== 0) {
    ctx.unsupported(`${spec.op} needs R, T and ${spec.inputsPer} tensors per optimized variable, got ${ctx.inputCount} inputs`);
  }
  const n = tensors / spec.inputsPer;
  if (ctx.outputCount !== n * spec.outputsPer) ctx.unsupported(`${spec.op} with ${n} variables has ${n * spec.outputsPer} outputs, got ${ctx.outputCount}`);
  return n;
}

function checkScalars(ctx: NodeContext): void {
  const r = ctx.requireDtype(R, TENSOR_TYPES);
  if (ctx.shape(R).length !== 0) ctx.unsupported(`R must be a scalar of ${DataType[r]}`);
  if (ctx.dtype(T) !== DataType.INT64 || ctx.shape(T).length !== 0) ctx.unsupported('T must be an int64 scalar');
}

/** Inputs of variable i, all of one float dtype and one shape. */
function groupInputs(ctx: NodeContext, spec: OptimizerSpec, n: number, i: number): number[] {
  const idx = Array.from({ length: spec.inputsPer }, (_, k) => FIRST + k * n + i);
  const dt = ctx.requireDtype(idx[0], TENSOR_TYPES);
  const shape = ctx.shape(idx[0]);
  for (const j of idx) {
    const s = ctx.shape(j);
    if (ctx.dtype(j) !== dt || s.length !== shape.length || s.some((d, k) => d !== shape[k])) {
      ctx.unsupported(`input ${j} must be ${DataType[dt]}[${shape.join(', ')}] like input ${idx[0]}`);
    }
  }
  return idx;
}

function inferOptimizer(ctx: NodeContext, spec: OptimizerSpec): TensorType[] {
  checkScalars(ctx);
  const n = groupCount(ctx, spec);
  spec.update(ctx);
  const perVar = Array.from({ length: n }, (_, i) => ctx.type(groupInputs(ctx, spec, n, i)[0]));
  // Outputs: X1..Xn, then each state's n updates.
  return Array.from({ length: n * spec.outputsPer }, (_, k) => perVar[k % n]);
}

function lowerGroup(b: FuncBuilder, ctx: LowerContext, idx: number[], update: Update, outputs: number): string[] {
  const dt = ctx.dtype(idx[0]);
  const shape = ctx.shape(idx[0]);
  const rank = shape.length;
  const type = tensorTypeOf(dt, shape);
  const scalarRead = (i: number) => ({ value: ctx.input(i), type: ctx.inType(i), map: affineMap(rank, []), elem: elemType(ctx.dtype(i)) });
  const tensorRead = (i: number) => ({ value: ctx.input(i), type, map: identityMap(rank), elem: elemType(dt) });
  return b.generic({
    inputs: [scalarRead(R), scalarRead(T), ...idx.map(tensorRead)],
    outputs: Array.from({ length: outputs }, () => ({ value: b.empty(type), type, map: identityMap(rank), elem: elemType(dt) })),
    iterators: shape.map(() => 'parallel'),
    body: (fb, [r, t, ...xs]) => {
      const s = new Scalar(fb, CALC);
      const wide = xs.slice(0, idx.length).map((v) => convertScalar(fb, v, dt, CALC));
      const out = update(s, convertScalar(fb, r, ctx.dtype(R), CALC), convertScalar(fb, t, DataType.INT64, CALC), wide);
      return out.map((v) => convertScalar(fb, v, CALC, dt));
    },
  });
}

function lowerOptimizer(ctx: LowerContext, spec: OptimizerSpec): string[] {
  const n = groupCount(ctx, spec);
  const update = spec.update(ctx);
  const results: string[] = new Array<string>(n * spec.outputsPer);
  for (let i = 0; i < n; i++) {
    const outs = lowerGroup(ctx.b, ctx, groupInputs(ctx, spec, n, i), update, spec.outputsPer);
    outs.forEach((v, k) => { results[k * n + i] = v; });
  }
  return results;
}

/** norm_coefficient * x + g. */
function regularized(s: Scalar, norm: number, x: string, g: string): string {
  return s.add(s.mul(s.const(norm), x), g);
}

/** v when t > 0, else `otherwise`. */
function whenStarted(s: Scalar, t: string, v: string, otherwise: string): string {
  return s.select(s.cmp('gt', t, s.zero()), v, otherwise);
}

// ---- Adagrad: X, G, H → X', H' ----

function adagrad(ctx: NodeContext): Update {
  const decay = ctx.float('decay_factor', 0);
  const epsilon = ctx.float('epsilon', 0);
  const norm = ctx.float('norm_coefficient', 0);
  return (s, r, t, [x, g, h]) => {
    const rate = s.div(r, s.add(s.one(), s.mul(t, s.const(decay))));
    const gr = regularized(s, norm, x, g);
    const hNew = s.add(h, s.mul(gr, gr));
    const denom = s.add(s.math('sqrt', hNew), s.const(epsilon));
    return [s.sub(x, s.div(s.mul(rate, gr), denom)), hNew];
  };
}

// ---- Momentum: X, G, V → X', V' ----

function momentum(ctx: NodeContext): Update {
  const alpha = ctx.float('alpha');
  const beta = ctx.float('beta');
  const norm = ctx.float('norm_coefficient');
  const mode = ctx.string('mode');
  if (mode !== 'standard' && mode !== 'nesterov') ctx.unsupported(`mode '${mode}' is not 'standard' or 'nesterov'`);
  return (s, r, t, [x, g, v]) => {
    const gr = regularized(s, norm, x, g);
    // The gradient's coefficient is 1 on the first iteration.
    const b = whenStarted(s, t, s.const(beta), s.one());
    const vNew = s.add(s.mul(s.const(alpha), v), s.mul(b, gr));
    const step = mode === 'standard' ? vNew : s.add(gr, s.mul(s.const(alpha), vNew));
    return [s.sub(x, s.mul(r, step)), vNew];
  };
}

// ---- Adam: X, G, V, H → X', V', H' ----

function adam(ctx: NodeContext): Update {
  const alpha = ctx.float('alpha', 0.9);
  const beta = ctx.float('beta', 0.999);
  const epsilon = ctx.float('epsilon', 0);
  const norm = ctx.float('norm_coefficient', 0);
  const normPost = ctx.float('norm_coefficient_post', 0);
  return (s, r, t, [x, g, v, h]) => {
    const gr = regularized(s, norm, x, g);
    const vNew = s.add(s.mul(s.const(alpha), v), s.mul(s.const(1 - alpha), gr));
    const hNew = s.add(s.mul(s.const(beta), h), s.mul(s.const(1 - beta), s.mul(gr, gr)));
    const denom = s.add(s.math('sqrt', hNew), s.const(epsilon));
    // Bias correction r * sqrt(1 - beta^t) / (1 - alpha^t), from the second iteration on.
    const pow = (base: number) => s.math2('powf', s.const(base), t);
    const corrected = s.div(s.mul(r, s.math('sqrt', s.sub(s.one(), pow(beta)))), s.sub(s.one(), pow(alpha)));
    const rate = whenStarted(s, t, corrected, r);
    const xNew = s.sub(x, s.mul(rate, s.div(vNew, denom)));
    return [s.mul(s.const(1 - normPost), xNew), vNew, hNew];
  };
}

const SPECS: OptimizerSpec[] = [
  { op: 'Adagrad', inputsPer: 3, outputsPer: 2, update: adagrad },
  { op: 'Momentum', inputsPer: 3, outputsPer: 2, update: momentum },
  { op: 'Adam', inputsPer: 4, outputsPer: 3, update: adam },
];

for (const spec of SPECS) {
  registerOp({
    domain: DOMAIN, op: spec.op, since: 1,
    infer: (ctx) => inferOptimizer(ctx, spec),
    lower: (ctx) => lowerOptimizer(ctx, spec),
  });
}
