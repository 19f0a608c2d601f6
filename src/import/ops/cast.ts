// Identity, Cast/CastLike and Clip, plus Constant (folded at compile time).
// Casts cover every dtype generated code holds, the small types included
// (FP8, E8M0, FP4, INT4/UINT4, INT2/UINT2; see codegen/convert.ts).
import { DataType, type OnnxTensor } from '../../onnx/model.js';
import { dtypeName, isFloat, isInteger, mlirElementType } from '../../ir/types.js';
import { Scalar } from '../../codegen/scalar.js';
import { bitcastValue, convertValue, storageBits, type CastOptions } from '../../codegen/convert.js';
import { E8M0_ROUND_MODES, type E8M0RoundMode } from '../../codegen/small-floats.js';
import { registerOp } from '../registry.js';
import { inferBroadcast, lowerElementwise } from '../elementwise.js';
import type { NodeContext } from '../node-context.js';
import { canHoldNumbers, numbersToTensor, tensorToNumbers } from '../tensor-data.js';

registerOp({
  domain: '', op: 'Identity', since: 1,
  infer: (ctx) => [ctx.type(0)],
  fold: (_ctx, [x]) => (x ? [x] : null),
  lower: (ctx) => [ctx.input(0)],
});

function castable(dt: DataType): boolean {
  return mlirElementType(dt) !== null;
}

function castTarget(ctx: NodeContext): DataType {
  return ctx.node.op === 'CastLike' ? ctx.dtype(1) : ctx.int('to');
}

function isRoundMode(s: string): s is E8M0RoundMode {
  return E8M0_ROUND_MODES.some((m) => m === s);
}

/** `saturate` (opset 19+) and `round_mode` (opset 25+); absent attributes take the defaults. */
function castOptions(ctx: NodeContext): CastOptions {
  const mode = ctx.string('round_mode', 'up');
  if (!isRoundMode(mode)) return ctx.unsupported(`round_mode '${mode}' is not one of ${E8M0_ROUND_MODES.join(', ')}`);
  return { saturate: ctx.int('saturate', 1) !== 0, roundMode: mode };
}

function inferCast(ctx: NodeContext) {
  const to = castTarget(ctx);
  if (!castable(ctx.dtype(0)) || !castable(to)) ctx.unsupported(`cast ${dtypeName(ctx.dtype(0))} → ${dtypeName(to)} is not supported (expected numeric or bool types)`);
  castOptions(ctx);
  return [{ dataType: to, shape: ctx.shape(0) }];
}

function foldCast(ctx: NodeContext, [x]: readonly (OnnxTensor | null)[]): OnnxTensor[] | null {
  const to = castTarget(ctx);
  if (!x || !canHoldNumbers(x.dataType) || !canHoldNumbers(to)) return null;
  const convert = (v: number) => (to === DataType.BOOL ? Number(v !== 0) : isInteger(to) ? Math.trunc(v) : v);
  return [numbersToTensor('', to, x.dims, tensorToNumbers(x).map(convert))];
}

for (const [op, since] of [['Cast', 6], ['CastLike', 15]] as const) {
  registerOp({
    domain: '', op, since,
    infer: inferCast,
    fold: foldCast,
    lower: (ctx) => {
      const opts = castOptions(ctx);
      return [lowerElementwise(ctx, [0], (b, [x]) => convertValue(b, x, ctx.dtype(0), castTarget(ctx), opts))];
    },
  });
}

registerOp({
  domain: '', op: 'BitCast', since: 26,
  infer: (ctx) => {
    const from = ctx.dtype(0);
    const to = ctx.int('to');
    if (!castable(from) || !castable(to)) ctx.unsupported(`bitcast ${dtypeName(from)} → ${dtypeName(to)} is not supported (expected numeric or bool types)`);
    if (storageBits(from) !== storageBits(to)) ctx.unsupported(`${dtypeName(from)} and ${dtypeName(to)} differ in bit width`);
    return [{ dataType: to, shape: ctx.shape(0) }];
  },
  lower: (ctx) => [lowerElementwise(ctx, [0], (b, [x]) => bitcastValue(b, x, ctx.dtype(0), ctx.int('to')))],
});

registerOp({
  domain: '', op: 'Clip', since: 6,
  infer: (ctx) => {
    if (!isFloat(ctx.dtype(0))) ctx.unsupported('Clip-6 takes float input');
    return [inferBroadcast(ctx, [0])];
  },
  lower: (ctx) => [lowerElementwise(ctx, [0], (b, [x]) => {
    const s = new Scalar(b, ctx.dtype(0));
    const lo = s.const(ctx.float('min', -3.4028234663852886e38));
    const hi = s.const(ctx.float('max', 3.4028234663852886e38));
    return s.min(s.max(x, lo), hi);
  })],
});

registerOp({
  domain: '', op: 'Clip', since: 11,
  infer: (ctx) => {
    const dt = ctx.dtype(0);
    if (!isFloat(dt) && !isInteger(dt)) ctx.unsupported(`dtype ${DataType[dt]} is not supported`);
    for (const i of [1, 2]) if (ctx.has(i) && ctx.shape(i).length !== 0) ctx.unsupported(`min/max must be scalars`);
    return [{ dataType: dt, shape: ctx.shape(0) }];
  },
  lower: (ctx) => {
    const bounds = [1, 2].filter((i) => ctx.has(i));
    return [lowerElementwise(ctx, [0, ...bounds], (b, args) => {
      const s = new Scalar(b, ctx.dtype(0));
      let v = args[0];
      let k = 1;
      if (ctx.has(1)) v = s.max(v, args[k++]);
      if (ctx.has(2)) v = s.min(v, args[k]);
      return v;
    })];
  },
});

function constantValue(ctx: NodeContext): OnnxTensor {
  const t = ctx.tensorAttr('value');
  if (t) return t;
  const scalar = (dt: DataType, v: number[], dims: number[]) => numbersToTensor('', dt, dims, v);
  if (ctx.hasAttr('value_float')) return scalar(DataType.FLOAT, [ctx.float('value_float')], []);
  if (ctx.hasAttr('value_floats')) { const v = ctx.floats('value_floats'); return scalar(DataType.FLOAT, v, [v.length]); }
  if (ctx.hasAttr('value_int')) return scalar(DataType.INT64, [ctx.int('value_int')], []);
  if (ctx.hasAttr('value_ints')) { const v = ctx.ints('value_ints'); return scalar(DataType.INT64, v, [v.length]); }
  return ctx.unsupported('Constant without a supported value attribute (sparse/string values fall back)');
}

registerOp({
  domain: '', op: 'Constant', since: 1,
  infer: (ctx) => {
    const t = constantValue(ctx);
    return [{ dataType: t.dataType, shape: [...t.dims] }];
  },
  // Large constants fold too: they become weights, never MLIR text.
  fold: (ctx) => [constantValue(ctx)],
});
