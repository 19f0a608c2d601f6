// Broadcasting binary, variadic, comparison and logical elementwise ops.
import { DataType, type OnnxTensor } from '../../onnx/model.js';
import { isFloat, isInteger } from '../../ir/types.js';
import { Scalar, convertScalar, type CmpPredicate } from '../../codegen/scalar.js';
import type { FuncBuilder } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import { broadcastShapes, inferBroadcast, lowerElementwise } from '../elementwise.js';
import { broadcastMap, smallOutput } from '../fold-helpers.js';
import { canHoldNumbers, numbersToTensor, tensorToNumbers } from '../tensor-data.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';

type BinFormula = (s: Scalar, a: string, b: string, ctx: LowerContext) => string;

function numeric(dt: DataType): boolean {
  return isFloat(dt) || isInteger(dt);
}

function inferSameType(ctx: NodeContext, count: number, ok: (dt: DataType) => boolean, outDt?: DataType) {
  const idx = Array.from({ length: count }, (_, i) => i);
  const dt = ctx.dtype(0);
  for (const i of idx) {
    if (ctx.dtype(i) !== dt) ctx.unsupported(`input ${i} dtype differs from input 0`);
  }
  if (!ok(dt)) ctx.unsupported(`dtype ${DataType[dt]} is not supported`);
  return [inferBroadcast(ctx, idx, outDt)];
}

function registerBinary(op: string, since: number, ok: (dt: DataType) => boolean, f: BinFormula, outDt?: DataType): void {
  registerOp({
    domain: '', op, since,
    infer: (ctx) => inferSameType(ctx, 2, ok, outDt),
    lower: (ctx) => [lowerElementwise(ctx, [0, 1], (b, [x, y]) => f(new Scalar(b, ctx.dtype(0)), x, y, ctx))],
  });
}

registerBinary('Add', 7, numeric, (s, a, b) => s.add(a, b));
registerBinary('Sub', 7, numeric, (s, a, b) => s.sub(a, b));
registerBinary('Mul', 7, numeric, (s, a, b) => s.mul(a, b));
registerBinary('Div', 7, numeric, (s, a, b) => s.div(a, b));
registerBinary('Mod', 10, numeric, (s, a, b, ctx) => (ctx.int('fmod', 0) || s.float ? s.rem(a, b) : floorMod(s, a, b)));

function floorMod(s: Scalar, a: string, b: string): string {
  // Python-style modulo: the result takes the divisor's sign.
  const r = s.rem(a, b);
  if (s.unsigned) return r;
  const nonzero = s.cmp('ne', r, s.zero());
  const signsDiffer = s.b.op(`arith.xori ${s.cmp('lt', r, s.zero())}, ${s.cmp('lt', b, s.zero())} : i1`);
  const fix = s.b.op(`arith.andi ${nonzero}, ${signsDiffer} : i1`);
  return s.select(fix, s.add(r, b), r);
}

registerOp({
  domain: '', op: 'Pow', since: 7,
  infer: (ctx) => {
    const base = ctx.dtype(0);
    if (!numeric(base) || !numeric(ctx.dtype(1)) || base === DataType.BOOL) ctx.unsupported('Pow needs numeric operands');
    return [inferBroadcast(ctx, [0, 1])];
  },
  lower: (ctx) => [lowerElementwise(ctx, [0, 1], (b, [x, y]) => pow(b, x, ctx.dtype(0), y, ctx.dtype(1)))],
});

/**
 * x^y in x's dtype. An integer base computes in f64 and truncates back, as
 * std::pow on integers does in ONNX Runtime (2^-1 is 0, not an error).
 */
function pow(b: FuncBuilder, x: string, xDt: DataType, y: string, yDt: DataType): string {
  const calcDt = isFloat(xDt) ? xDt : DataType.DOUBLE;
  const s = new Scalar(b, calcDt);
  const base = convertScalar(b, x, xDt, calcDt);
  const e = isFloat(yDt) ? convertFloat(b, y, yDt, calcDt) : intToFloat(b, y, yDt, s.elem);
  return convertScalar(b, s.math2('powf', base, e), calcDt, xDt);
}

function convertFloat(b: FuncBuilder, v: string, from: DataType, to: DataType): string {
  if (from === to) return v;
  const fe = new Scalar(b, from).elem;
  const te = new Scalar(b, to).elem;
  const wider = (t: DataType) => (t === DataType.DOUBLE ? 3 : t === DataType.FLOAT ? 2 : 1);
  return b.op(`${wider(from) < wider(to) ? 'arith.extf' : 'arith.truncf'} ${v} : ${fe} to ${te}`);
}

function intToFloat(b: FuncBuilder, v: string, from: DataType, te: string): string {
  const fe = new Scalar(b, from).elem;
  const unsigned = from === DataType.UINT8 || from === DataType.UINT16 || from === DataType.UINT32 || from === DataType.UINT64;
  return b.op(`${unsigned ? 'arith.uitofp' : 'arith.sitofp'} ${v} : ${fe} to ${te}`);
}

function registerVariadic(op: string, since: number, combine: (s: Scalar, a: string, b: string) => string, finish?: (s: Scalar, acc: string, n: number) => string): void {
  registerOp({
    domain: '', op, since,
    infer: (ctx) => inferSameType(ctx, ctx.inputCount, numeric),
    lower: (ctx) => {
      const idx = Array.from({ length: ctx.inputCount }, (_, i) => i);
      return [lowerElementwise(ctx, idx, (b, args) => {
        const s = new Scalar(b, ctx.dtype(0));
        const acc = args.slice(1).reduce((a, x) => combine(s, a, x), args[0]);
        return finish ? finish(s, acc, args.length) : acc;
      })];
    },
  });
}

registerVariadic('Sum', 8, (s, a, b) => s.add(a, b));
registerVariadic('Max', 8, (s, a, b) => s.max(a, b));
registerVariadic('Min', 8, (s, a, b) => s.min(a, b));
registerVariadic('Mean', 8, (s, a, b) => s.add(a, b), (s, acc, n) => s.div(acc, s.const(n)));

const JS_CMP: Record<CmpPredicate, (a: number, b: number) => boolean> = {
  eq: (a, b) => a === b, ne: (a, b) => a !== b, lt: (a, b) => a < b, le: (a, b) => a <= b, gt: (a, b) => a > b, ge: (a, b) => a >= b,
};

/**
 * Evaluates a bool-valued elementwise op on small constant inputs, so that
 * conditions computed from shapes (an If choosing a branch by rank, say) are
 * known at compile time. Null when a dtype cannot be read exactly as JS
 * numbers (bfloat16, int64 beyond 2^53).
 */
function foldToBool(ctx: NodeContext, inputs: readonly (OnnxTensor | null)[], f: (args: number[]) => boolean): OnnxTensor[] | null {
  const ts = inputs.filter((t): t is OnnxTensor => t !== null);
  if (ts.length !== inputs.length || !ts.every((t) => t.dataType === ts[0].dataType && canHoldNumbers(t.dataType))) return null;
  const values = ts.map(tensorToNumbers);
  if (values.some((v) => v.some((x) => Math.abs(x) >= Number.MAX_SAFE_INTEGER))) return null;
  const dims = broadcastShapes(ctx, ts.map((t) => t.dims));
  if (!smallOutput(dims)) return null;
  const maps = ts.map((t) => broadcastMap(t.dims, dims));
  const out = maps[0].map((_, i) => (f(values.map((v, k) => v[maps[k][i]])) ? 1 : 0));
  return [numbersToTensor('', DataType.BOOL, dims, out)];
}

function registerCompare(op: string, since: number, pred: CmpPredicate): void {
  registerOp({
    domain: '', op, since,
    infer: (ctx) => inferSameType(ctx, 2, (dt) => numeric(dt) || dt === DataType.BOOL, DataType.BOOL),
    fold: (ctx, inputs) => foldToBool(ctx, inputs, ([a, b]) => JS_CMP[pred](a, b)),
    lower: (ctx) => [lowerElementwise(ctx, [0, 1], (b, [x, y]) => new Scalar(b, ctx.dtype(0)).cmp(pred, x, y))],
  });
}

registerCompare('Equal', 7, 'eq');
registerCompare('Less', 7, 'lt');
registerCompare('Greater', 7, 'gt');
registerCompare('LessOrEqual', 12, 'le');
registerCompare('GreaterOrEqual', 12, 'ge');

function registerBitOp(op: string, since: number, arith: string, ok: (dt: DataType) => boolean): void {
  registerBinary(op, since, ok, (s, a, b) => s.b.op(`${arith} ${a}, ${b} : ${s.elem}`));
}

const isBool = (dt: DataType) => dt === DataType.BOOL;

/** And / Or / Xor on bools, folded on constants like the comparisons that feed them. */
function registerLogical(op: string, arith: string, f: (a: boolean, b: boolean) => boolean): void {
  registerOp({
    domain: '', op, since: 7,
    infer: (ctx) => inferSameType(ctx, 2, isBool),
    fold: (ctx, inputs) => foldToBool(ctx, inputs, ([a, b]) => f(a !== 0, b !== 0)),
    lower: (ctx) => [lowerElementwise(ctx, [0, 1], (b, [x, y]) => b.op(`${arith} ${x}, ${y} : i1`))],
  });
}
registerLogical('And', 'arith.andi', (a, b) => a && b);
registerLogical('Or', 'arith.ori', (a, b) => a || b);
registerLogical('Xor', 'arith.xori', (a, b) => a !== b);
registerBitOp('BitwiseAnd', 18, 'arith.andi', isInteger);
registerBitOp('BitwiseOr', 18, 'arith.ori', isInteger);
registerBitOp('BitwiseXor', 18, 'arith.xori', isInteger);

registerOp({
  domain: '', op: 'BitShift', since: 11,
  infer: (ctx) => inferSameType(ctx, 2, isInteger),
  lower: (ctx) => {
    const op = ctx.string('direction') === 'LEFT' ? 'arith.shli' : 'arith.shrui';
    return [lowerElementwise(ctx, [0, 1], (b, [x, y]) => b.op(`${op} ${x}, ${y} : ${new Scalar(b, ctx.dtype(0)).elem}`))];
  },
});

function registerNot(op: string, since: number, ok: (dt: DataType) => boolean): void {
  registerOp({
    domain: '', op, since,
    infer: (ctx) => inferSameType(ctx, 1, ok),
    lower: (ctx) => [lowerElementwise(ctx, [0], (b, [x]) => {
      const s = new Scalar(b, ctx.dtype(0));
      return b.op(`arith.xori ${x}, ${s.const(-1)} : ${s.elem}`);
    })],
  });
}
registerOp({
  domain: '', op: 'Not', since: 1,
  infer: (ctx) => inferSameType(ctx, 1, isBool),
  fold: (ctx, inputs) => foldToBool(ctx, inputs, ([a]) => a === 0),
  lower: (ctx) => [lowerElementwise(ctx, [0], (b, [x]) => b.op(`arith.xori ${x}, ${b.constant('true', 'i1')} : i1`))],
});
registerNot('BitwiseNot', 18, isInteger);

registerOp({
  domain: '', op: 'Where', since: 9,
  infer: (ctx) => {
    if (ctx.dtype(0) !== DataType.BOOL) ctx.unsupported('condition must be bool');
    if (ctx.dtype(1) !== ctx.dtype(2)) ctx.unsupported('X and Y dtypes differ');
    return [inferBroadcast(ctx, [0, 1, 2], ctx.dtype(1))];
  },
  lower: (ctx) => [lowerElementwise(ctx, [0, 1, 2], (b, [c, x, y]) => new Scalar(b, ctx.dtype(1)).select(c, x, y))],
});

registerOp({
  domain: '', op: 'PRelu', since: 7,
  infer: (ctx) => inferSameType(ctx, 2, numeric),
  lower: (ctx) => [lowerElementwise(ctx, [0, 1], (b, [x, slope]) => {
    const s = new Scalar(b, ctx.dtype(0));
    return s.select(s.cmp('lt', x, s.zero()), s.mul(x, slope), x);
  })],
});

registerOp({
  domain: '', op: 'IsNaN', since: 9,
  infer: (ctx) => inferSameType(ctx, 1, isFloat, DataType.BOOL),
  lower: (ctx) => [lowerElementwise(ctx, [0], (b, [x]) => b.op(`arith.cmpf uno, ${x}, ${x} : ${new Scalar(b, ctx.dtype(0)).elem}`))],
});

registerOp({
  domain: '', op: 'IsInf', since: 10,
  infer: (ctx) => inferSameType(ctx, 1, isFloat, DataType.BOOL),
  lower: (ctx) => [lowerElementwise(ctx, [0], (b, [x]) => {
    const s = new Scalar(b, ctx.dtype(0));
    const pos = s.cmp('eq', x, s.const(Infinity));
    const neg = s.cmp('eq', x, s.const(-Infinity));
    const dp = ctx.int('detect_positive', 1);
    const dn = ctx.int('detect_negative', 1);
    if (dp && dn) return b.op(`arith.ori ${pos}, ${neg} : i1`);
    if (dp) return pos;
    return dn ? neg : b.constant('false', 'i1');
  })],
});
