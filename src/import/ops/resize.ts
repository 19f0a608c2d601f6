// Resize (opsets 10-19) and the deprecated Upsample, following the ONNX
// reference implementation. Each resized axis gets small tables computed
// once: the original coordinate of every output position, and for linear /
// cubic the input index and weight of every filter tap. The main kernel is
// then a gather (nearest) or a weighted sum over the taps of all resized
// axes (a linalg.generic with one reduction dim per resized axis), reading
// the input with tensor.extract.
import { DataType } from '../../onnx/model.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { affineMap, elemType, identityMap, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { collapseShape, filled, type Tensor } from '../../codegen/tensor-ops.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { planResize, type ResizePlan } from '../resize-plan.js';
import {
  and, clampedIndex, computeDtype, cubicKernel, i64ToIndex, inRange, linearKernel, loopCoord,
} from '../interp.js';

const FLOAT_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];
/** Nearest only copies elements, so integer data works too. */
const NEAREST_TYPES: readonly DataType[] = [...FLOAT_TYPES, DataType.INT8, DataType.UINT8, DataType.INT32, DataType.INT64];
/** Most filter taps per axis (antialiased downsampling by large factors needs many). */
const MAX_TAPS = 1024;
/** Slack on scale bounds derived from the output length (float rounding of the length computation). */
const SCALE_SLACK = 1e-6;

function plan(ctx: NodeContext, isResize: boolean): ResizePlan {
  const p = planResize(ctx, isResize);
  ctx.requireDtype(0, p.attrs.mode === 'nearest' ? NEAREST_TYPES : FLOAT_TYPES);
  if (p.attrs.mode !== 'nearest') taps(ctx, p);
  return p;
}

// ---- per-axis runtime values ----

/** SSA values (compute type, function level) an axis's coordinate transform needs. */
interface AxisValues {
  scale: string;
  /** scale * input length: the fractional output length of the reference implementation. */
  outWidth: string;
  roiStart: string;
  roiEnd: string;
}

/** The scale of axis d when it is known at compile time. */
function staticScale(p: ResizePlan, d: number): number | null {
  if (p.scales.kind === 'static') return p.scales.values[d];
  return p.axes.includes(d) ? null : 1;
}

/** Axes whose output equals the input (no tables, no taps): scale 1, or a single element. */
function isIdentity(p: ResizePlan, d: number): boolean {
  const len = p.inShape[d];
  if (len !== p.outShape[d] || p.attrs.coord === 'tf_crop_and_resize') return false;
  return staticScale(p, d) === 1 || (len === 1 && !p.attrs.excludeOutside);
}

function readScalar(ctx: LowerContext, s: Scalar, input: number, pos: number): string {
  const dt = ctx.dtype(input);
  const v = ctx.b.op(`tensor.extract ${ctx.input(input)}[${ctx.b.index(pos)}] : ${ctx.inType(input)}`);
  return convertScalar(ctx.b, v, dt, s.dt);
}

/** The keep_aspect_ratio_policy scale from a runtime sizes tensor: min / max of sizes[i] / in[axes[i]]. */
function policyScale(ctx: LowerContext, s: Scalar, p: ResizePlan, input: number): string {
  const ratios = p.axes.map((d, j) => s.div(readScalar(ctx, s, input, j), s.const(p.inShape[d])));
  return ratios.reduce((x, y) => (p.attrs.policy === 'not_larger' ? s.min(x, y) : s.max(x, y)));
}

function axisValues(ctx: LowerContext, p: ResizePlan, ct: DataType): AxisValues[] {
  const s = new Scalar(ctx.b, ct);
  const src = p.scales;
  const shared = src.kind === 'policy' ? policyScale(ctx, s, p, src.input) : null;
  return p.inShape.map((len, d) => {
    const j = p.axes.indexOf(d);
    const known = staticScale(p, d);
    let scale: string;
    if (known !== null) scale = s.const(known);
    else if (shared !== null) scale = shared;
    else scale = readScalar(ctx, s, src.kind === 'scales' ? src.input : 0, j);
    const outWidth = known !== null ? s.const(Math.fround(known * len)) : s.mul(scale, s.const(len));
    let roiStart = s.zero();
    let roiEnd = s.one();
    if (p.roi?.kind === 'static') {
      roiStart = s.const(p.roi.start[d]);
      roiEnd = s.const(p.roi.end[d]);
    } else if (p.roi?.kind === 'input' && j >= 0) {
      roiStart = readScalar(ctx, s, p.roi.input, j);
      roiEnd = readScalar(ctx, s, p.roi.input, p.axes.length + j);
    }
    return { scale, outWidth, roiStart, roiEnd };
  });
}

// ---- coordinate transform ----

/** x_original of output coordinate x (float) on an axis of `inLen` -> `outLen` elements. */
function originalCoord(s: Scalar, p: ResizePlan, x: string, v: AxisValues, inLen: number, outLen: number): string {
  const halfPixel = () => s.sub(s.div(s.add(x, s.const(0.5)), v.scale), s.const(0.5));
  const widthIsOne = () => s.cmp('eq', v.outWidth, s.one());
  switch (p.attrs.coord) {
    case 'half_pixel': return halfPixel();
    case 'asymmetric': return s.div(x, v.scale);
    case 'tf_half_pixel_for_nn': return s.div(s.add(x, s.const(0.5)), v.scale);
    case 'pytorch_half_pixel': return outLen > 1 ? halfPixel() : s.zero();
    case 'half_pixel_symmetric': {
      // Centres the output canvas on the input when the output length was rounded down.
      const adjustment = s.div(s.const(outLen), v.outWidth);
      const offset = s.mul(s.const(inLen / 2), s.sub(s.one(), adjustment));
      return s.add(offset, halfPixel());
    }
    case 'align_corners': {
      // The reference divides by the fractional output length (scale * length), not the rounded one.
      const ratio = s.div(s.const(inLen - 1), s.sub(v.outWidth, s.one()));
      return s.select(widthIsOne(), s.zero(), s.mul(x, ratio));
    }
    case 'tf_crop_and_resize': {
      const span = s.const(inLen - 1);
      const extent = s.sub(v.roiEnd, v.roiStart);
      const stepped = s.add(s.mul(v.roiStart, span), s.div(s.mul(s.mul(x, extent), span), s.sub(v.outWidth, s.one())));
      const centre = s.mul(s.mul(s.add(v.roiStart, v.roiEnd), s.const(0.5)), span);
      return s.select(widthIsOne(), centre, stepped);
    }
  }
}

/** Table [outLen] of original coordinates of one axis. */
function coordTable(b: FuncBuilder, p: ResizePlan, d: number, v: AxisValues, ct: DataType): Tensor {
  const t: Tensor = { value: '', dt: ct, shape: [p.outShape[d]] };
  const type = tensorTypeOf(ct, t.shape);
  [t.value] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(type), type, map: identityMap(1), elem: elemType(ct) }],
    iterators: ['parallel'],
    body: (bb) => {
      const s = new Scalar(bb, ct);
      return [originalCoord(s, p, loopCoord(s, 0), v, p.inShape[d], p.outShape[d])];
    },
  });
  return t;
}

/** tf_crop_and_resize: whether every resized coordinate lies inside the input (else extrapolation_value). */
function insideInput(s: Scalar, p: ResizePlan, coords: Map<number, string>): string | null {
  if (p.attrs.coord !== 'tf_crop_and_resize') return null;
  return and(s.b, [...coords].map(([d, x]) => inRange(s, x, 0, p.inShape[d] - 1)));
}

// ---- nearest ----

/** Rounds coordinate x to the nearest input index per nearest_mode, clamped into the axis. */
function nearestIndex(s: Scalar, p: ResizePlan, x: string, v: AxisValues, inLen: number): string {
  const half = s.const(0.5);
  let r: string;
  switch (p.attrs.nearest) {
    case 'round_prefer_floor': r = s.math('ceil', s.sub(x, half)); break;
    case 'round_prefer_ceil': r = s.math('floor', s.add(x, half)); break;
    case 'floor': r = s.math('floor', x); break;
    case 'ceil': r = s.math('ceil', x); break;
    // Resize-10 / Upsample: ceil when downsampling, else truncate.
    case 'simple': r = s.select(s.cmp('lt', v.scale, s.one()), s.math('ceil', x), x); break;
  }
  return clampedIndex(s, r, inLen);
}

/**
 * Per axis, the whole factor it is upsampled by (1 for an axis kept), when
 * every axis's output position x reads input x div factor: asymmetric
 * coordinates rounded down (PyTorch's and Paddle's nearest upsampling, as
 * exported; Upsample's truncation when enlarging), static whole scales.
 * Null otherwise.
 */
function wholeFactors(p: ResizePlan): number[] | null {
  const floors = p.attrs.nearest === 'floor' || p.attrs.nearest === 'simple';
  if (p.attrs.coord !== 'asymmetric' || !floors) return null;
  const factors = p.inShape.map((len, d) => {
    const s = staticScale(p, d);
    return s !== null && Number.isInteger(s) && s >= 1 && p.outShape[d] === len * s ? s : 0;
  });
  return factors.every((f) => f > 0) && factors.some((f) => f > 1) ? factors : null;
}

/**
 * Nearest upsampling by whole factors: the output viewed as [..., in, factor,
 * ...] per upsampled axis is the input broadcast along the factors, a copy
 * loop whose stores interleave. The general form's gather, with a division,
 * a floor and a clamp per element for its index, cost several times the copy
 * (det's FPN: 6 % of its neck and head).
 */
function lowerWholeFactors(ctx: LowerContext, p: ResizePlan, factors: readonly number[]): string {
  const b = ctx.b;
  const dt = ctx.dtype(0);
  const shape: number[] = [];
  const inputDims: string[] = [];
  const groups: number[][] = [];
  p.inShape.forEach((len, d) => {
    const at = shape.length;
    inputDims.push(`d${at}`);
    shape.push(len, ...(factors[d] > 1 ? [factors[d]] : []));
    groups.push(factors[d] > 1 ? [at, at + 1] : [at]);
  });
  const type = tensorTypeOf(dt, shape);
  const [y] = b.generic({
    inputs: [{ value: ctx.input(0), type: ctx.inType(0), map: affineMap(shape.length, inputDims), elem: elemType(dt) }],
    outputs: [{ value: b.empty(type), type, map: identityMap(shape.length), elem: elemType(dt) }],
    iterators: shape.map(() => 'parallel'),
    body: (_bb, args) => [args[0]],
  });
  return collapseShape(b, { value: y, dt, shape }, groups).value;
}

function lowerNearest(ctx: LowerContext, p: ResizePlan, vals: AxisValues[], ct: DataType): string {
  const factors = wholeFactors(p);
  if (factors) return lowerWholeFactors(ctx, p, factors);
  const b = ctx.b;
  const rank = p.outShape.length;
  const dt = ctx.dtype(0);
  const resized = p.inShape.map((_, d) => d).filter((d) => !isIdentity(p, d));
  const tables = resized.map((d) => coordTable(b, p, d, vals[d], ct));
  const outT = ctx.outTensor(0);
  const xType = ctx.inType(0);
  const x = ctx.input(0);
  const [y] = b.generic({
    inputs: tables.map((t, j) => ({ value: t.value, type: tensorTypeOf(ct, t.shape), map: affineMap(rank, [`d${resized[j]}`]), elem: elemType(ct) })),
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(dt) }],
    iterators: p.outShape.map(() => 'parallel'),
    body: (bb, args) => {
      const s = new Scalar(bb, ct);
      const coords = new Map(resized.map((d, j) => [d, args[j]]));
      const idx = p.outShape.map((_, d) => {
        const c = coords.get(d);
        return c === undefined ? bb.op(`linalg.index ${d} : index`) : nearestIndex(s, p, c, vals[d], p.inShape[d]);
      });
      const v = bb.op(`tensor.extract ${x}[${idx.join(', ')}] : ${xType}`);
      const ok = insideInput(s, p, coords);
      return [ok === null ? v : new Scalar(bb, dt).select(ok, v, new Scalar(bb, dt).const(p.attrs.extrapolation))];
    },
  });
  return y;
}

// ---- linear / cubic ----

/** Half-width of the filter's support in input elements at scale 1. */
function support(p: ResizePlan): number {
  return p.attrs.mode === 'linear' ? 1 : 2;
}

/**
 * Taps per output position on axis d: 2 (linear) or 4 (cubic); antialiased
 * downsampling widens the filter by 1/scale, bounded here from the smallest
 * scale consistent with the output length when the scale is a runtime value.
 */
function tapCount(ctx: NodeContext, p: ResizePlan, d: number): number {
  const r = support(p);
  if (!p.attrs.antialias) return 2 * r;
  const known = staticScale(p, d);
  const len = p.inShape[d];
  const out = p.outShape[d];
  const lower = known ?? (p.scales.kind === 'policy' ? (out - 0.5) / len : out / len) * (1 - SCALE_SLACK);
  if (!(lower > 0)) ctx.unsupported(`axis ${d}: no positive bound on the antialias scale`);
  // Two spare taps absorb rounding of the runtime start; taps past the filter's support weigh 0.
  const n = 2 * Math.ceil(r / Math.min(lower, 1)) + 2;
  if (n > MAX_TAPS) ctx.unsupported(`axis ${d}: antialias filter needs ${n} taps (at most ${MAX_TAPS})`);
  return n;
}

function taps(ctx: NodeContext, p: ResizePlan): number[] {
  return p.inShape.map((_, d) => (isIdentity(p, d) ? 0 : tapCount(ctx, p, d)));
}

/**
 * Tap tables of axis d: input index [out, T] (i64, edge-clamped) and weight
 * [out, T]. Tap k of output o reads index i0 + start + k where i0 =
 * ceil(x) - 1 is the input element left of x (x itself when integral, as the
 * reference prefers), weighted by kernel((start + k - ratio) * sc).
 */
function tapTables(b: FuncBuilder, p: ResizePlan, d: number, v: AxisValues, coords: Tensor, count: number): { index: Tensor; weight: Tensor } {
  const ct = coords.dt;
  const shape = [p.outShape[d], count];
  const wT = tensorTypeOf(ct, shape);
  const iT = tensorTypeOf(DataType.INT64, shape);
  const inLen = p.inShape[d];
  const r = support(p);
  const [weight, index] = b.generic({
    inputs: [{ value: coords.value, type: tensorTypeOf(ct, coords.shape), map: affineMap(2, ['d0']), elem: elemType(ct) }],
    outputs: [
      { value: b.empty(wT), type: wT, map: identityMap(2), elem: elemType(ct) },
      { value: b.empty(iT), type: iT, map: identityMap(2), elem: 'i64' },
    ],
    iterators: ['parallel', 'parallel'],
    body: (bb, [x]) => {
      const s = new Scalar(bb, ct);
      const left = s.sub(s.math('ceil', x), s.one());
      const ratio = s.sub(x, left);
      // Antialiasing stretches the kernel by 1/scale when downsampling.
      const sc = p.attrs.antialias ? s.min(v.scale, s.one()) : s.one();
      const start = p.attrs.antialias ? s.add(s.math('floor', s.div(s.const(-r), sc)), s.one()) : s.const(1 - r);
      const j = s.add(start, loopCoord(s, 1));
      const pos = s.add(left, j);
      const t = s.mul(s.sub(j, ratio), sc);
      let w = p.attrs.mode === 'linear' ? linearKernel(s, t) : cubicKernel(s, t, p.attrs.cubicA);
      if (p.attrs.excludeOutside) w = s.select(inRange(s, pos, 0, inLen - 1), w, s.zero());
      const idx = clampedIndex(s, pos, inLen);
      return [w, bb.op(`arith.index_cast ${idx} : index to i64`)];
    },
  });
  return { index: { value: index, dt: DataType.INT64, shape }, weight: { value: weight, dt: ct, shape } };
}

/** Weights divided by their sum per output position (antialias, exclude_outside). */
function normalized(b: FuncBuilder, w: Tensor): Tensor {
  const [n] = w.shape;
  const elem = elemType(w.dt);
  const sums = filled(b, w.dt, [n], new Scalar(b, w.dt).zero());
  const sumT = tensorTypeOf(w.dt, [n]);
  const wT = tensorTypeOf(w.dt, w.shape);
  const [total] = b.generic({
    inputs: [{ value: w.value, type: wT, map: identityMap(2), elem }],
    outputs: [{ value: sums.value, type: sumT, map: affineMap(2, ['d0']), elem }],
    iterators: ['parallel', 'reduction'],
    body: (bb, [x, acc]) => [new Scalar(bb, w.dt).add(acc, x)],
  });
  const [value] = b.generic({
    inputs: [{ value: w.value, type: wT, map: identityMap(2), elem }, { value: total, type: sumT, map: affineMap(2, ['d0']), elem }],
    outputs: [{ value: b.empty(wT), type: wT, map: identityMap(2), elem }],
    iterators: ['parallel', 'parallel'],
    body: (bb, [x, sum]) => [new Scalar(bb, w.dt).div(x, sum)],
  });
  return { ...w, value };
}

function lowerFiltered(ctx: LowerContext, p: ResizePlan, vals: AxisValues[], ct: DataType): string {
  const b = ctx.b;
  const rank = p.outShape.length;
  const counts = taps(ctx, p);
  const resized = p.inShape.map((_, d) => d).filter((d) => counts[d] > 0);
  const coords = resized.map((d) => coordTable(b, p, d, vals[d], ct));
  const tables = resized.map((d, j) => {
    const t = tapTables(b, p, d, vals[d], coords[j], counts[d]);
    return p.attrs.antialias || p.attrs.excludeOutside ? { ...t, weight: normalized(b, t.weight) } : t;
  });
  const dims = rank + resized.length;
  const tapMap = (j: number) => affineMap(dims, [`d${resized[j]}`, `d${rank + j}`]);
  const acc = filled(b, ct, p.outShape, new Scalar(b, ct).zero());
  const accT = tensorTypeOf(ct, p.outShape);
  const x = ctx.input(0);
  const xType = ctx.inType(0);
  const dt = ctx.dtype(0);
  const [sum] = b.generic({
    inputs: tables.flatMap((t, j) => [
      { value: t.weight.value, type: tensorTypeOf(ct, t.weight.shape), map: tapMap(j), elem: elemType(ct) },
      { value: t.index.value, type: tensorTypeOf(DataType.INT64, t.index.shape), map: tapMap(j), elem: 'i64' },
    ]),
    outputs: [{ value: acc.value, type: accT, map: affineMap(dims, p.outShape.map((_, d) => `d${d}`)), elem: elemType(ct) }],
    iterators: [...p.outShape.map(() => 'parallel' as const), ...resized.map(() => 'reduction' as const)],
    body: (bb, args) => {
      const s = new Scalar(bb, ct);
      const idx = p.outShape.map((_, d) => {
        const j = resized.indexOf(d);
        return j < 0 ? bb.op(`linalg.index ${d} : index`) : i64ToIndex(bb, args[2 * j + 1]);
      });
      const v = convertScalar(bb, bb.op(`tensor.extract ${x}[${idx.join(', ')}] : ${xType}`), dt, ct);
      const w = resized.map((_, j) => args[2 * j]).reduce((a, c) => s.mul(a, c));
      return [s.add(args[args.length - 1], s.mul(w, v))];
    },
  });
  return epilogue(b, p, { value: sum, dt: ct, shape: p.outShape }, dt, p.attrs.coord === 'tf_crop_and_resize' ? new Map(resized.map((d, j) => [d, coords[j]])) : null);
}

/** Narrows the float sums to the output dtype; tf_crop_and_resize substitutes extrapolation_value outside the input. */
function epilogue(b: FuncBuilder, p: ResizePlan, sum: Tensor, dt: DataType, coords: Map<number, Tensor> | null): string {
  if (sum.dt === dt && !coords) return sum.value;
  const rank = sum.shape.length;
  const entries = coords ? [...coords] : [];
  const outT = tensorTypeOf(dt, sum.shape);
  const [y] = b.generic({
    inputs: [
      { value: sum.value, type: tensorTypeOf(sum.dt, sum.shape), map: identityMap(rank), elem: elemType(sum.dt) },
      ...entries.map(([d, t]) => ({ value: t.value, type: tensorTypeOf(t.dt, t.shape), map: affineMap(rank, [`d${d}`]), elem: elemType(t.dt) })),
    ],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(dt) }],
    iterators: sum.shape.map(() => 'parallel'),
    body: (bb, [v, ...cs]) => {
      const s = new Scalar(bb, sum.dt);
      const out = convertScalar(bb, v, sum.dt, dt);
      const ok = insideInput(s, p, new Map(entries.map(([d], j) => [d, cs[j]])));
      return [ok === null ? out : new Scalar(bb, dt).select(ok, out, new Scalar(bb, dt).const(p.attrs.extrapolation))];
    },
  });
  return y;
}

function lowerResize(ctx: LowerContext, isResize: boolean): string[] {
  const p = plan(ctx, isResize);
  const ct = computeDtype(ctx.dtype(0));
  const vals = axisValues(ctx, p, ct);
  return [p.attrs.mode === 'nearest' ? lowerNearest(ctx, p, vals, ct) : lowerFiltered(ctx, p, vals, ct)];
}

registerOp({
  domain: '', op: 'Resize', since: 10,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: plan(ctx, true).outShape }],
  lower: (ctx) => lowerResize(ctx, true),
});

registerOp({
  domain: '', op: 'Upsample', since: 7,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: plan(ctx, false).outShape }],
  lower: (ctx) => lowerResize(ctx, false),
});
