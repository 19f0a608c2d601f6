// Unary elementwise math and activations: one scalar formula each.
import { DataType } from '../../onnx/model.js';
import { isFloat, isInteger } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { registerOp } from '../registry.js';
import { inferBroadcast, lowerElementwise } from '../elementwise.js';
import type { LowerContext } from '../lower-context.js';
import type { NodeContext } from '../node-context.js';

type Formula = (s: Scalar, x: string, ctx: LowerContext) => string;
type Domain = 'float' | 'signed' | 'numeric';

interface UnarySpec {
  since: number;
  domain: Domain;
  f: Formula;
}

function accepts(domain: Domain, dt: DataType): boolean {
  if (domain === 'float') return isFloat(dt);
  if (domain === 'signed') return isFloat(dt) || (isInteger(dt) && dt !== DataType.UINT8 && dt !== DataType.UINT16 && dt !== DataType.UINT32 && dt !== DataType.UINT64);
  return isFloat(dt) || isInteger(dt);
}

const sigmoid: Formula = (s, x) => {
  const e = s.math('exp', s.neg(x));
  return s.div(s.one(), s.add(s.one(), e));
};

const softplus: Formula = (s, x) => {
  // log1p(exp(-|x|)) + max(x, 0) avoids overflow of exp for large x.
  const e = s.math('exp', s.neg(s.abs(x)));
  return s.add(s.math('log1p', e), s.max(x, s.zero()));
};

const UNARY: Record<string, UnarySpec> = {
  Abs: { since: 6, domain: 'numeric', f: (s, x) => s.abs(x) },
  Neg: { since: 6, domain: 'signed', f: (s, x) => s.neg(x) },
  Exp: { since: 6, domain: 'float', f: (s, x) => s.math('exp', x) },
  Log: { since: 6, domain: 'float', f: (s, x) => s.math('log', x) },
  Sqrt: { since: 6, domain: 'float', f: (s, x) => s.math('sqrt', x) },
  Reciprocal: { since: 6, domain: 'float', f: (s, x) => s.div(s.one(), x) },
  Floor: { since: 6, domain: 'float', f: (s, x) => s.math('floor', x) },
  Ceil: { since: 6, domain: 'float', f: (s, x) => s.math('ceil', x) },
  Round: { since: 11, domain: 'float', f: (s, x) => s.math('roundeven', x) },
  Sin: { since: 7, domain: 'float', f: (s, x) => s.math('sin', x) },
  Cos: { since: 7, domain: 'float', f: (s, x) => s.math('cos', x) },
  Tan: { since: 7, domain: 'float', f: (s, x) => s.math('tan', x) },
  Asin: { since: 7, domain: 'float', f: (s, x) => s.math('asin', x) },
  Acos: { since: 7, domain: 'float', f: (s, x) => s.math('acos', x) },
  Atan: { since: 7, domain: 'float', f: (s, x) => s.math('atan', x) },
  Sinh: { since: 9, domain: 'float', f: (s, x) => s.math('sinh', x) },
  Cosh: { since: 9, domain: 'float', f: (s, x) => s.math('cosh', x) },
  Asinh: { since: 9, domain: 'float', f: (s, x) => s.math('asinh', x) },
  Acosh: { since: 9, domain: 'float', f: (s, x) => s.math('acosh', x) },
  Atanh: { since: 9, domain: 'float', f: (s, x) => s.math('atanh', x) },
  Tanh: { since: 6, domain: 'float', f: (s, x) => s.math('tanh', x) },
  Erf: { since: 9, domain: 'float', f: (s, x) => s.math('erf', x) },
  Sigmoid: { since: 6, domain: 'float', f: sigmoid },
  Relu: { since: 6, domain: 'signed', f: (s, x) => s.max(x, s.zero()) },
  Softplus: { since: 1, domain: 'float', f: softplus },
  Softsign: { since: 1, domain: 'float', f: (s, x) => s.div(x, s.add(s.one(), s.abs(x))) },
  Sign: { since: 9, domain: 'numeric', f: signOf },
  LeakyRelu: {
    since: 6, domain: 'float',
    f: (s, x, c) => s.select(s.cmp('lt', x, s.zero()), s.mul(x, s.const(c.float('alpha', 0.01))), x),
  },
  Elu: {
    since: 6, domain: 'float',
    f: (s, x, c) => {
      const neg = s.mul(s.const(c.float('alpha', 1)), s.sub(s.math('exp', x), s.one()));
      return s.select(s.cmp('lt', x, s.zero()), neg, x);
    },
  },
  Selu: {
    since: 6, domain: 'float',
    f: (s, x, c) => {
      const alpha = s.const(c.float('alpha', 1.67326319217681884765625));
      const neg = s.mul(alpha, s.sub(s.math('exp', x), s.one()));
      const r = s.select(s.cmp('le', x, s.zero()), neg, x);
      return s.mul(s.const(c.float('gamma', 1.05070102214813232421875)), r);
    },
  },
  Celu: {
    since: 12, domain: 'float',
    f: (s, x, c) => {
      const alpha = s.const(c.float('alpha', 1));
      const neg = s.mul(alpha, s.sub(s.math('exp', s.div(x, alpha)), s.one()));
      return s.add(s.max(x, s.zero()), s.min(s.zero(), neg));
    },
  },
  ThresholdedRelu: {
    since: 10, domain: 'float',
    f: (s, x, c) => s.select(s.cmp('gt', x, s.const(c.float('alpha', 1))), x, s.zero()),
  },
  HardSigmoid: {
    since: 6, domain: 'float',
    f: (s, x, c) => {
      const lin = s.add(s.mul(s.const(c.float('alpha', 0.2)), x), s.const(c.float('beta', 0.5)));
      return s.max(s.zero(), s.min(s.one(), lin));
    },
  },
  HardSwish: {
    since: 14, domain: 'float',
    f: (s, x) => {
      const lin = s.add(s.mul(s.const(1 / 6), x), s.const(0.5));
      return s.mul(x, s.max(s.zero(), s.min(s.one(), lin)));
    },
  },
  Shrink: { since: 9, domain: 'numeric', f: shrink },
  Mish: { since: 18, domain: 'float', f: (s, x, c) => s.mul(x, s.math('tanh', softplus(s, x, c))) },
  Gelu: { since: 20, domain: 'float', f: gelu },
  Swish: { since: 24, domain: 'float', f: (s, x, c) => s.mul(x, sigmoid(s, s.mul(s.const(c.float('alpha', 1)), x), c)) },
};

/**
 * x + bias below -lambd, x - bias above lambd, else 0. Integers compute in
 * f64 and truncate back, as ORT does (lambd and bias are float attributes).
 */
function shrink(s: Scalar, x: string, c: LowerContext): string {
  const lambd = c.float('lambd', 0.5);
  const bias = c.float('bias', 0);
  const f = s.float ? s : new Scalar(s.b, DataType.DOUBLE);
  const v = convertScalar(s.b, x, s.dt, f.dt);
  const low = f.cmp('lt', v, f.const(-lambd));
  const high = f.cmp('gt', v, f.const(lambd));
  const y = f.select(low, f.add(v, f.const(bias)), f.select(high, f.sub(v, f.const(bias)), f.zero()));
  return convertScalar(s.b, y, f.dt, s.dt);
}

function signOf(s: Scalar, x: string): string {
  const pos = s.select(s.cmp('gt', x, s.zero()), s.one(), s.zero());
  return s.unsigned ? pos : s.select(s.cmp('lt', x, s.zero()), s.const(-1), pos);
}

function gelu(s: Scalar, x: string, c: LowerContext): string {
  const half = s.const(0.5);
  if (c.string('approximate', 'none') === 'tanh') {
    const k = s.const(Math.sqrt(2 / Math.PI));
    const cube = s.mul(s.mul(x, x), x);
    const inner = s.mul(k, s.add(x, s.mul(s.const(0.044715), cube)));
    return s.mul(s.mul(half, x), s.add(s.one(), s.math('tanh', inner)));
  }
  const erf = s.math('erf', s.mul(x, s.const(Math.SQRT1_2)));
  return s.mul(s.mul(half, x), s.add(s.one(), erf));
}

function inferUnary(domain: Domain) {
  return (ctx: NodeContext) => {
    const dt = ctx.dtype(0);
    if (!accepts(domain, dt)) ctx.unsupported(`dtype ${DataType[dt]} is not supported`);
    return [inferBroadcast(ctx, [0])];
  };
}

for (const [op, spec] of Object.entries(UNARY)) {
  registerOp({
    domain: '',
    op,
    since: spec.since,
    infer: inferUnary(spec.domain),
    lower: (ctx) => [lowerElementwise(ctx, [0], (b, [x]) => spec.f(new Scalar(b, ctx.dtype(0)), x, ctx))],
  });
}
