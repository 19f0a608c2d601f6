// MaxPool (with the optional argmax Indices), AveragePool and LpPool: pad the
// input with the reduction's neutral value, reduce every window (named linalg
// pooling ops for 1-D / 2-D), then an epilogue for divisors and roots.
import { DataType } from '../../onnx/model.js';
import { isFloat } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import type { FuncBuilder } from '../../codegen/mlir-builder.js';
import { elemType, floatLiteral, identityMap, tensorTypeOf } from '../../codegen/mlir-builder.js';
import { convertTensor, elemOf, filled, padTensor, typeOf, vectorMap, type Tensor } from '../../codegen/tensor-ops.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { accumulatorDtype } from '../contraction.js';
import { inputTensor } from '../quant.js';
import { inputPadding, kernelShape, poolWindow, type Window } from '../window.js';
import { lowestValue, poolInit, poolReduce, windowCounts, windowMaps } from '../pool-core.js';

const FLOAT_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];
const MAXPOOL_TYPES: readonly DataType[] = [...FLOAT_TYPES, DataType.INT8, DataType.UINT8];

/** Spatial rank at which storage_order=1 (column-major indices) is implemented. */
const COLUMN_MAJOR_MAX_RANK = 2;

function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

function poolGeometry(ctx: NodeContext): Window {
  const x = ctx.shape(0);
  if (x.length < 3) ctx.unsupported(`pooling input must have rank >= 3, got ${x.length}`);
  const kernel = kernelShape(ctx, x.length - 2);
  return poolWindow(ctx, x.slice(2), kernel, ctx.int('ceil_mode', 0) !== 0);
}

function outShapeOf(ctx: NodeContext, w: Window): number[] {
  const [n, c] = ctx.shape(0);
  return [n, c, ...w.out];
}

/** `x` padded with `value` so that every window is in bounds. */
function padForWindow(b: FuncBuilder, x: Tensor, w: Window, scalar: string): Tensor {
  const { lo, hi } = inputPadding(w, x.shape.slice(2));
  return padTensor(b, x, [0, 0, ...lo], [0, 0, ...hi], scalar);
}

// ---- MaxPool ----

registerOp({
  domain: '', op: 'MaxPool', since: 1,
  infer: (ctx) => {
    const dt = ctx.requireDtype(0, MAXPOOL_TYPES);
    const w = poolGeometry(ctx);
    const shape = outShapeOf(ctx, w);
    if (ctx.int('storage_order', 0) !== 0 && w.kernel.length > COLUMN_MAJOR_MAX_RANK) {
      ctx.unsupported(`storage_order=1 is supported up to ${COLUMN_MAJOR_MAX_RANK} spatial dims`);
    }
    const types = [{ dataType: dt, shape }];
    if (ctx.outputCount > 1 && ctx.hasOutput(1)) types.push({ dataType: DataType.INT64, shape });
    return types;
  },
  lower: (ctx) => {
    const w = poolGeometry(ctx);
    const x = inputTensor(ctx, 0);
    const padded = padForWindow(ctx.b, x, w, new Scalar(ctx.b, x.dt).const(lowestValue(x.dt)));
    const init = poolInit(ctx.b, x.dt, outShapeOf(ctx, w), 'max');
    if (ctx.outputCount > 1 && ctx.hasOutput(1)) return maxPoolWithIndices(ctx, padded, w, init);
    return [poolReduce(ctx.b, padded, w, init, 'max').value];
  },
});

/**
 * Max and its flat input index (NC-major, spatial row- or column-major per
 * storage_order); the first maximum wins, as in onnxruntime.
 */
function maxPoolWithIndices(ctx: LowerContext, x: Tensor, w: Window, init: Tensor): string[] {
  const r = w.kernel.length;
  const inShape = ctx.shape(0);
  const columnMajor = ctx.int('storage_order', 0) !== 0;
  const maps = windowMaps(w);
  const idx = filled(ctx.b, DataType.INT64, init.shape, ctx.b.constant('0', 'i64'));
  const kernel = { value: ctx.b.empty(tensorTypeOf(x.dt, w.kernel)), type: tensorTypeOf(x.dt, w.kernel) };
  const results = ctx.b.generic({
    inputs: [
      { value: x.value, type: typeOf(x), map: maps.input, elem: elemOf(x) },
      { value: kernel.value, type: kernel.type, map: maps.kernel, elem: elemOf(x) },
    ],
    outputs: [
      { value: init.value, type: typeOf(init), map: maps.output, elem: elemOf(init) },
      { value: idx.value, type: typeOf(idx), map: maps.output, elem: 'i64' },
    ],
    iterators: [...range(2 + r).map(() => 'parallel' as const), ...range(r).map(() => 'reduction' as const)],
    body: (b, [v, , best, bestIdx]) => {
      const s = new Scalar(b, x.dt);
      const better = s.cmp('gt', v, best);
      const flat = flatIndex(b, w, inShape, columnMajor);
      return [s.select(better, v, best), b.op(`arith.select ${better}, ${flat}, ${bestIdx} : i64`)];
    },
  });
  return results;
}

/** i64 flat index into the unpadded input of the element a window step reads. */
function flatIndex(b: FuncBuilder, w: Window, inShape: readonly number[], columnMajor: boolean): string {
  const r = w.kernel.length;
  const idx = (d: number) => b.op(`linalg.index ${d} : index`);
  const mul = (a: string, n: number) => b.op(`arith.muli ${a}, ${b.index(n)} : index`);
  const add = (a: string, c: string) => b.op(`arith.addi ${a}, ${c} : index`);
  const pos = range(r).map((i) => {
    const p = add(mul(idx(2 + i), w.strides[i]), mul(idx(2 + r + i), w.dilations[i]));
    return b.op(`arith.subi ${p}, ${b.index(w.padBegin[i])} : index`);
  });
  const spatial = inShape.slice(2);
  let flat = add(mul(idx(0), inShape[1]), idx(1));
  if (columnMajor) {
    let offset = pos[0];
    let stride = 1;
    for (let i = 1; i < r; i++) {
      stride *= spatial[i - 1];
      offset = add(offset, mul(pos[i], stride));
    }
    flat = add(mul(flat, spatial.reduce((p, d) => p * d, 1)), offset);
  } else {
    range(r).forEach((i) => {
      flat = add(mul(flat, spatial[i]), pos[i]);
    });
  }
  return b.op(`arith.index_cast ${flat} : index to i64`);
}

// ---- AveragePool / LpPool ----

/** Sums every window of `x` (converted to the accumulator dtype first by `pre`, if given). */
function windowSums(ctx: LowerContext, w: Window, pre?: (b: FuncBuilder, x: Tensor, accDt: DataType) => Tensor): Tensor {
  const x = inputTensor(ctx, 0);
  const accDt = accumulatorDtype(x.dt);
  const src = pre ? pre(ctx.b, x, accDt) : x;
  const padded = padForWindow(ctx.b, src, w, new Scalar(ctx.b, src.dt).zero());
  return poolReduce(ctx.b, padded, w, poolInit(ctx.b, accDt, outShapeOf(ctx, w), 'sum'), 'sum');
}

function inferFloatPool(ctx: NodeContext) {
  const dt = ctx.requireDtype(0, FLOAT_TYPES);
  return [{ dataType: dt, shape: outShapeOf(ctx, poolGeometry(ctx)) }];
}

registerOp({
  domain: '', op: 'AveragePool', since: 1,
  infer: inferFloatPool,
  lower: (ctx) => {
    const w = poolGeometry(ctx);
    const sums = windowSums(ctx, w);
    const inSpatial = ctx.shape(0).slice(2);
    const includePad = ctx.int('count_include_pad', 0) !== 0;
    const counts = inSpatial.map((len, i) => (includePad
      ? windowCounts(w, i, -w.padBegin[i], len + w.padEnd[i])
      : windowCounts(w, i, 0, len)));
    return [divideByCounts(ctx.b, sums, counts, ctx.dtype(0)).value];
  },
});

/**
 * sums / prod_i counts[i][o_i], narrowed to `outDt`. Dims whose count is the
 * same everywhere fold into one constant; the others read a small 1-D table.
 */
function divideByCounts(b: FuncBuilder, sums: Tensor, counts: number[][], outDt: DataType): Tensor {
  const rank = sums.shape.length;
  const elem = elemOf(sums);
  const uniform = counts.filter((c) => c.every((v) => v === c[0])).reduce((p, c) => p * c[0], 1);
  const varying = counts.map((c, i) => ({ c, i })).filter(({ c }) => !c.every((v) => v === c[0]));
  const tables = varying.map(({ c, i }) => ({
    value: b.constant(`dense<[${c.map((v) => floatLiteral(v, elem)).join(', ')}]>`, tensorTypeOf(sums.dt, [c.length])),
    type: tensorTypeOf(sums.dt, [c.length]),
    map: vectorMap(rank, 2 + i),
    elem,
  }));
  const out: Tensor = { value: '', dt: outDt, shape: sums.shape };
  [out.value] = b.generic({
    inputs: [{ value: sums.value, type: typeOf(sums), map: identityMap(rank), elem }, ...tables],
    outputs: [{ value: b.empty(typeOf(out)), type: typeOf(out), map: identityMap(rank), elem: elemType(outDt) }],
    iterators: sums.shape.map(() => 'parallel'),
    body: (bb, [v, ...ts]) => {
      const s = new Scalar(bb, sums.dt);
      const divisor = ts.slice(0, tables.length).reduce((p, t) => s.mul(p, t), s.const(uniform));
      return [convertScalar(bb, s.div(v, divisor), sums.dt, outDt)];
    },
  });
  return out;
}

/** |x|^p elementwise in the accumulator dtype (the summand of Lp pooling). */
export function powAbs(b: FuncBuilder, x: Tensor, accDt: DataType, p: number): Tensor {
  const rank = x.shape.length;
  const out: Tensor = { value: '', dt: accDt, shape: x.shape };
  [out.value] = b.generic({
    inputs: [{ value: x.value, type: typeOf(x), map: identityMap(rank), elem: elemOf(x) }],
    outputs: [{ value: b.empty(typeOf(out)), type: typeOf(out), map: identityMap(rank), elem: elemType(accDt) }],
    iterators: x.shape.map(() => 'parallel'),
    body: (bb, [v]) => [powAbsScalar(new Scalar(bb, accDt), convertScalar(bb, v, x.dt, accDt), p)],
  });
  return out;
}

export function powAbsScalar(s: Scalar, v: string, p: number): string {
  if (p === 2) return s.mul(v, v);
  const a = s.abs(v);
  return p === 1 ? a : s.math2('powf', a, s.const(p));
}

/** sum^(1/p) narrowed to `outDt`. */
export function lpRoot(b: FuncBuilder, sums: Tensor, p: number, outDt: DataType): Tensor {
  if (p === 1) return convertTensor(b, sums, outDt);
  const rank = sums.shape.length;
  const out: Tensor = { value: '', dt: outDt, shape: sums.shape };
  [out.value] = b.generic({
    inputs: [{ value: sums.value, type: typeOf(sums), map: identityMap(rank), elem: elemOf(sums) }],
    outputs: [{ value: b.empty(typeOf(out)), type: typeOf(out), map: identityMap(rank), elem: elemType(outDt) }],
    iterators: sums.shape.map(() => 'parallel'),
    body: (bb, [v]) => {
      const s = new Scalar(bb, sums.dt);
      const root = p === 2 ? s.math('sqrt', v) : s.math2('powf', v, s.const(1 / p));
      return [convertScalar(bb, root, sums.dt, outDt)];
    },
  });
  return out;
}

/** The Lp exponent, declining non-positive values. */
export function lpExponent(ctx: NodeContext): number {
  const p = ctx.float('p', 2);
  if (!(p > 0) || !isFloat(ctx.dtype(0))) ctx.unsupported(`LpPool needs p > 0 and float input, got p=${p}`);
  return p;
}

registerOp({
  domain: '', op: 'LpPool', since: 1,
  infer: (ctx) => {
    lpExponent(ctx);
    return inferFloatPool(ctx);
  },
  lower: (ctx) => {
    const p = lpExponent(ctx);
    const sums = windowSums(ctx, poolGeometry(ctx), (b, x, accDt) => powAbs(b, x, accDt, p));
    return [lpRoot(ctx.b, sums, p, ctx.dtype(0)).value];
  },
});
