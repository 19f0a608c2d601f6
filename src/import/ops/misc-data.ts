// Generators and masks: ConstantOfShape, Range, EyeLike, Trilu, OneHot.
// Their output shapes come from constant inputs/attributes; values are
// computed by linalg.fill or a linalg.generic over the output indices.
import { DataType, elementCount, type OnnxTensor } from '../../onnx/model.js';
import { isFloat, isInteger } from '../../ir/types.js';
import { affineMap, elemType, identityMap, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { canHoldNumbers, numbersToTensor, tensorToNumbers } from '../tensor-data.js';
import { FILL, indexMap, smallOutput, takeElements } from '../fold-helpers.js';
import { elementConstant, extract, indexArith, iota, loopIndex, operand, refType, toIndex } from '../index-lowering.js';

/** A compile-time scalar input (Range bounds, OneHot depth, Trilu k). */
function constScalar(ctx: NodeContext, i: number, what: string): number {
  const t = ctx.constant(i);
  if (!t) return ctx.needsValue(i, what);
  const v = tensorToNumbers(t);
  if (v.length !== 1) ctx.unsupported(`${what} must have exactly one element`);
  return v[0];
}

/** Reads a one-element tensor input at run time (before any generic that uses it). */
function runtimeScalar(ctx: LowerContext, i: number): string {
  const r = operand(ctx, i);
  return extract(ctx.b, r, r.shape.map(() => ctx.b.index(0)));
}

// ---- ConstantOfShape ----

function fillValue(ctx: NodeContext): OnnxTensor {
  const t = ctx.tensorAttr('value') ?? numbersToTensor('', DataType.FLOAT, [1], [0]);
  if (elementCount(t.dims) !== 1) ctx.unsupported('value must hold exactly one element');
  return t;
}

function constantShape(ctx: NodeContext): number[] {
  const dims = ctx.constInts(0, 'shape');
  if (dims.some((d) => d < 0)) ctx.unsupported(`shape [${dims.join(', ')}] has a negative dimension`);
  return dims;
}

registerOp({
  domain: '', op: 'ConstantOfShape', since: 9,
  infer: (ctx) => [{ dataType: fillValue(ctx).dataType, shape: constantShape(ctx) }],
  fold: (ctx) => {
    const dims = constantShape(ctx);
    const out = takeElements(fillValue(ctx), dims, new Array<number>(elementCount(dims)).fill(0));
    return out ? [out] : null;
  },
  lower: (ctx) => {
    const outT = ctx.outTensor(0);
    if (elementCount(ctx.outShape(0)) === 0) return [ctx.b.empty(outT)];
    const t = fillValue(ctx);
    const v = elementConstant(ctx.b, t, 0) ?? ctx.unsupported(`cannot emit a ${DataType[t.dataType]} fill value`);
    return [ctx.b.fill(v, elemType(t.dataType), outT)];
  },
});

// ---- Range ----

/** float16 and bfloat16 since opset 27 (computed in f32, rounded once). */
const RANGE_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE, DataType.INT16, DataType.INT32, DataType.INT64, DataType.FLOAT16, DataType.BFLOAT16];
const HALF_TYPES: readonly DataType[] = [DataType.FLOAT16, DataType.BFLOAT16];

interface RangeArgs {
  start: number;
  delta: number;
  count: number;
}

function rangeArgs(ctx: NodeContext): RangeArgs {
  const dt = ctx.requireDtype(0, RANGE_TYPES);
  if (ctx.dtype(1) !== dt || ctx.dtype(2) !== dt) ctx.unsupported('start, limit and delta must share a dtype');
  const start = constScalar(ctx, 0, 'start');
  const limit = constScalar(ctx, 1, 'limit');
  const delta = constScalar(ctx, 2, 'delta');
  if (delta === 0) ctx.unsupported('delta must not be 0');
  return { start, delta, count: Math.max(Math.ceil((limit - start) / delta), 0) };
}

registerOp({
  domain: '', op: 'Range', since: 11,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: [rangeArgs(ctx).count] }],
  fold: (ctx) => {
    const { start, delta, count } = rangeArgs(ctx);
    if (!smallOutput([count]) || !canHoldNumbers(ctx.dtype(0))) return null;
    // ONNX Runtime accumulates (v += delta); float32 rounding is mirrored step by step.
    const round = ctx.dtype(0) === DataType.FLOAT ? Math.fround : (v: number) => v;
    const values: number[] = [];
    for (let i = 0, v = round(start); i < count; i++, v = round(v + delta)) values.push(v);
    return [numbersToTensor('', ctx.dtype(0), [count], values)];
  },
  lower: (ctx) => {
    const { start, delta } = rangeArgs(ctx);
    const dt = ctx.dtype(0);
    const outT = ctx.outTensor(0);
    const [y] = ctx.b.generic({
      inputs: [],
      outputs: [{ value: ctx.b.empty(outT), type: outT, map: identityMap(1), elem: elemType(dt) }],
      iterators: ['parallel'],
      body: (b) => {
        const calc = HALF_TYPES.includes(dt) ? DataType.FLOAT : dt;
        const s = new Scalar(b, calc);
        const i = b.op(`arith.index_cast ${loopIndex(b, 0)} : index to i64`);
        const k = isFloat(calc) ? b.op(`arith.sitofp ${i} : i64 to ${s.elem}`) : s.elem === 'i64' ? i : b.op(`arith.trunci ${i} : i64 to ${s.elem}`);
        return [convertScalar(b, s.add(s.const(start), s.mul(k, s.const(delta))), calc, dt)];
      },
    });
    return [y];
  },
});

// ---- EyeLike ----

function eyeDtype(ctx: NodeContext): DataType {
  if (ctx.rank(0) !== 2) ctx.unsupported('EyeLike input must be 2-D');
  const dt = ctx.int('dtype', ctx.dtype(0));
  if (!isFloat(dt) && !isInteger(dt) && dt !== DataType.BOOL) ctx.unsupported(`dtype ${DataType[dt]} is not supported`);
  return dt;
}

registerOp({
  domain: '', op: 'EyeLike', since: 9,
  infer: (ctx) => [{ dataType: eyeDtype(ctx), shape: ctx.shape(0) }],
  fold: (ctx) => {
    const dt = eyeDtype(ctx);
    const [rows, cols] = ctx.shape(0);
    const k = ctx.int('k', 0);
    if (!canHoldNumbers(dt) || !smallOutput([rows, cols])) return null;
    return [numbersToTensor('', dt, [rows, cols], indexMap([rows, cols], ([i, j]) => Number(j - i === k)))];
  },
  lower: (ctx) => {
    const dt = eyeDtype(ctx);
    const outT = ctx.outTensor(0);
    const k = ctx.int('k', 0);
    const [y] = ctx.b.generic({
      inputs: [],
      outputs: [{ value: ctx.b.empty(outT), type: outT, map: identityMap(2), elem: elemType(dt) }],
      iterators: ['parallel', 'parallel'],
      body: (b) => {
        const s = new Scalar(b, dt);
        const diff = indexArith(b, 'subi', loopIndex(b, 1), loopIndex(b, 0));
        const onDiag = b.op(`arith.cmpi eq, ${diff}, ${b.index(k)} : index`);
        return [s.select(onDiag, s.one(), s.zero())];
      },
    });
    return [y];
  },
});

// ---- Trilu ----

function triluCheck(ctx: NodeContext): void {
  if (ctx.rank(0) < 2) ctx.unsupported('Trilu input must have rank >= 2');
  if (ctx.has(1) && elementCount(ctx.shape(1)) !== 1) ctx.unsupported('k must hold one element');
}

/** Whether column - row satisfies the kept triangle. */
function keeps(upper: boolean, diff: number, k: number): boolean {
  return upper ? diff >= k : diff <= k;
}

registerOp({
  domain: '', op: 'Trilu', since: 14,
  infer: (ctx) => {
    triluCheck(ctx);
    return [ctx.type(0)];
  },
  fold: (ctx, [x, kt]) => {
    if (!x) return null;
    triluCheck(ctx);
    const k = kt ? tensorToNumbers(kt)[0] : 0;
    const upper = ctx.int('upper', 1) !== 0;
    const r = x.dims.length;
    const map = indexMap(x.dims, (idx) => {
      let flat = 0;
      for (let d = 0; d < r; d++) flat = flat * x.dims[d] + idx[d];
      return keeps(upper, idx[r - 1] - idx[r - 2], k) ? flat : FILL;
    });
    const out = takeElements(x, x.dims, map);
    return out ? [out] : null;
  },
  lower: (ctx) => {
    triluCheck(ctx);
    const x = operand(ctx, 0);
    const b = ctx.b;
    const upper = ctx.int('upper', 1) !== 0;
    const r = x.shape.length;
    const kc = ctx.constant(1);
    // k may be a run-time value: it only moves the mask, never the shape.
    const k = !ctx.has(1) ? b.index(0) : kc ? b.index(tensorToNumbers(kc)[0]) : toIndex(b, runtimeScalar(ctx, 1), ctx.dtype(1));
    const outT = ctx.outTensor(0);
    const elem = elemType(x.dtype);
    const [y] = b.generic({
      inputs: [{ value: x.value, type: refType(x), map: identityMap(r), elem }],
      outputs: [{ value: b.empty(outT), type: outT, map: identityMap(r), elem }],
      iterators: x.shape.map(() => 'parallel'),
      body: (bb, [v]) => {
        const s = new Scalar(bb, x.dtype);
        const diff = indexArith(bb, 'subi', loopIndex(bb, r - 1), loopIndex(bb, r - 2));
        const keep = bb.op(`arith.cmpi ${upper ? 'sge' : 'sle'}, ${diff}, ${k} : index`);
        return [s.select(keep, v, s.zero())];
      },
    });
    return [y];
  },
});

// ---- OneHot ----

interface OneHotPlan {
  axis: number;
  depth: number;
  shape: number[];
}

function planOneHot(ctx: NodeContext): OneHotPlan {
  const indices = ctx.shape(0);
  const idt = ctx.dtype(0);
  if (!isFloat(idt) && !isInteger(idt)) ctx.unsupported(`indices dtype ${DataType[idt]} is not supported`);
  if (elementCount(ctx.shape(2)) !== 2) ctx.unsupported('values must hold [off, on]');
  const depth = Math.trunc(constScalar(ctx, 1, 'depth'));
  if (depth < 0) ctx.unsupported(`depth ${depth} must not be negative`);
  const axis = ctx.axis(ctx.int('axis', -1), indices.length + 1);
  return { axis, depth, shape: [...indices.slice(0, axis), depth, ...indices.slice(axis)] };
}

/** Index of `raw` among the depth positions (negative counts from the end), or -1 if none. */
function oneHotPosition(raw: number, depth: number): number {
  const v = Math.trunc(raw);
  const p = v < 0 ? v + depth : v;
  return p >= 0 && p < depth ? p : -1;
}

function onOff(b: FuncBuilder, ctx: LowerContext): [string, string] {
  const t = ctx.constant(2);
  const off = t && elementConstant(b, t, 0);
  const on = t && elementConstant(b, t, 1);
  if (off && on) return [off, on];
  const values = operand(ctx, 2);
  const flat = values.shape.length;
  const at = (i: number) => extract(b, values, iota(flat).map((d) => b.index(d === flat - 1 ? i : 0)));
  return [at(0), at(1)];
}

registerOp({
  domain: '', op: 'OneHot', since: 9,
  infer: (ctx) => [{ dataType: ctx.dtype(2), shape: planOneHot(ctx).shape }],
  fold: (ctx, [indices, , values]) => {
    if (!indices || !values) return null;
    const { axis, depth, shape } = planOneHot(ctx);
    const idx = tensorToNumbers(indices);
    const ist = indices.dims.map((_, k) => elementCount(indices.dims.slice(k + 1)));
    const map = indexMap(shape, (pos) => {
      let flat = 0;
      pos.forEach((p, k) => {
        if (k !== axis) flat += p * ist[k < axis ? k : k - 1];
      });
      return oneHotPosition(idx[flat], depth) === pos[axis] ? 1 : 0;
    });
    const out = takeElements(values, shape, map);
    return out ? [out] : null;
  },
  lower: (ctx) => {
    const { axis, depth, shape } = planOneHot(ctx);
    const outT = tensorTypeOf(ctx.dtype(2), shape);
    if (elementCount(shape) === 0) return [ctx.b.empty(outT)];
    const indices = operand(ctx, 0);
    const [off, on] = onOff(ctx.b, ctx);
    const rank = shape.length;
    const [y] = ctx.b.generic({
      inputs: [{ value: indices.value, type: refType(indices), map: affineMap(rank, iota(rank).filter((k) => k !== axis).map((k) => `d${k}`)), elem: elemType(indices.dtype) }],
      outputs: [{ value: ctx.b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(ctx.dtype(2)) }],
      iterators: shape.map(() => 'parallel'),
      body: (b, [raw]) => {
        const i = toIndex(b, raw, indices.dtype);
        const neg = b.op(`arith.cmpi slt, ${i}, ${b.index(0)} : index`);
        const pos = b.op(`arith.select ${neg}, ${indexArith(b, 'addi', i, b.index(depth))}, ${i} : index`);
        const hit = b.op(`arith.cmpi eq, ${pos}, ${loopIndex(b, axis)} : index`);
        return [new Scalar(b, ctx.dtype(2)).select(hit, on, off)];
      },
    });
    return [y];
  },
});
