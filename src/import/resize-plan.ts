// Resize / Upsample planning: attributes per opset, where each axis's scale
// and region of interest come from (compile-time numbers or runtime input
// tensors), and the output shape. Scales and sizes are usually graph inputs
// in exported models' tests; then the output shape is the one the model
// declares and the scale values are read by the generated code.
import { elementCount } from '../onnx/model.js';
import type { NodeContext } from './node-context.js';
import { tensorToNumbers } from './tensor-data.js';

export type ResizeMode = 'nearest' | 'linear' | 'cubic';
export type CoordMode =
  | 'half_pixel' | 'half_pixel_symmetric' | 'pytorch_half_pixel' | 'align_corners'
  | 'asymmetric' | 'tf_half_pixel_for_nn' | 'tf_crop_and_resize';
/** 'simple' is the rounding of Resize-10 / Upsample (ceil when downsampling, else truncate). */
export type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil' | 'simple';
type Policy = 'stretch' | 'not_larger' | 'not_smaller';

const MODES: readonly ResizeMode[] = ['nearest', 'linear', 'cubic'];
const COORD_MODES: readonly CoordMode[] = [
  'half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize',
];
const NEAREST_MODES: readonly NearestMode[] = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];
const POLICIES: readonly Policy[] = ['stretch', 'not_larger', 'not_smaller'];

/** Default cubic_coeff_a (PyTorch's). */
const DEFAULT_CUBIC_A = -0.75;

export interface ResizeAttrs {
  mode: ResizeMode;
  coord: CoordMode;
  nearest: NearestMode;
  cubicA: number;
  excludeOutside: boolean;
  extrapolation: number;
  antialias: boolean;
  policy: Policy;
}

/**
 * Per-axis scale: known numbers (full rank), a runtime `scales` tensor
 * (one value per entry of `axes`), or a runtime `sizes` tensor under a
 * keep_aspect_ratio_policy (one scale shared by all `axes`).
 */
export type ScaleSource =
  | { kind: 'static'; values: number[] }
  | { kind: 'scales'; input: number }
  | { kind: 'policy'; input: number };

/** Region of interest for tf_crop_and_resize: start/end per full-rank axis, or a runtime tensor. */
export type RoiSource = { kind: 'static'; start: number[]; end: number[] } | { kind: 'input'; input: number };

export interface ResizePlan {
  attrs: ResizeAttrs;
  inShape: number[];
  outShape: number[];
  /** Resized axes (full-rank indices), in the order of the scales / sizes / roi entries. */
  axes: number[];
  scales: ScaleSource;
  roi: RoiSource | null;
}

function pick<T extends string>(ctx: NodeContext, name: string, allowed: readonly T[], dflt: T): T {
  const s = ctx.string(name, dflt);
  return allowed.find((a) => a === s) ?? ctx.unsupported(`${name} '${s}' is not one of ${allowed.join(', ')}`);
}

function readAttrs(ctx: NodeContext, isResize: boolean): ResizeAttrs {
  const modern = isResize && ctx.opset >= 11;
  const attrs: ResizeAttrs = {
    mode: pick(ctx, 'mode', MODES, 'nearest'),
    coord: modern ? pick(ctx, 'coordinate_transformation_mode', COORD_MODES, 'half_pixel') : 'asymmetric',
    nearest: modern ? pick(ctx, 'nearest_mode', NEAREST_MODES, 'round_prefer_floor') : 'simple',
    cubicA: ctx.float('cubic_coeff_a', DEFAULT_CUBIC_A),
    excludeOutside: modern && ctx.int('exclude_outside', 0) !== 0,
    extrapolation: ctx.float('extrapolation_value', 0),
    antialias: isResize && ctx.opset >= 18 && ctx.int('antialias', 0) !== 0,
    policy: isResize && ctx.opset >= 18 ? pick(ctx, 'keep_aspect_ratio_policy', POLICIES, 'stretch') : 'stretch',
  };
  if (!modern && attrs.mode === 'cubic') ctx.unsupported('cubic mode needs Resize-11 or later');
  if (attrs.antialias && attrs.mode === 'nearest') ctx.unsupported('antialias is defined for linear and cubic modes only');
  return attrs;
}

/** Whether optional input i is given and non-empty (opset 11-12 pass empty tensors for unused inputs). */
function present(ctx: NodeContext, i: number): boolean {
  return i < ctx.inputCount && ctx.has(i) && elementCount(ctx.shape(i)) > 0;
}

function resizedAxes(ctx: NodeContext, rank: number): number[] {
  const axes = ctx.opset >= 18 ? ctx.optionalInts('axes') : null;
  if (!axes || axes.length === 0) return Array.from({ length: rank }, (_, i) => i);
  const norm = axes.map((a) => ctx.axis(a, rank));
  if (new Set(norm).size !== norm.length) ctx.unsupported(`axes [${axes.join(', ')}] repeat an axis`);
  return norm;
}

/** Full-rank values from one value per resized axis (`fill` elsewhere). */
function spread(values: readonly number[], axes: readonly number[], rank: number, fill: (d: number) => number): number[] {
  return Array.from({ length: rank }, (_, d) => (axes.includes(d) ? values[axes.indexOf(d)] : fill(d)));
}

/** Output length from a float32 scale, as onnxruntime computes it (float product, truncated). */
function scaledLength(len: number, scale: number): number {
  return Math.floor(Math.fround(len * scale));
}

function declaredShape(ctx: NodeContext, inShape: readonly number[], axes: readonly number[]): number[] {
  const out = ctx.declaredOutputShape(0);
  if (!out) return ctx.unsupported('scales / sizes are runtime values and the model declares no static output shape');
  if (out.length !== inShape.length || out.some((d, i) => !axes.includes(i) && d !== inShape[i])) {
    ctx.unsupported(`declared output shape [${out.join(', ')}] does not fit input [${inShape.join(', ')}]`);
  }
  return out;
}

/** Scales and output shape from the `sizes` input (index i). */
function fromSizes(ctx: NodeContext, i: number, attrs: ResizeAttrs, inShape: number[], axes: number[]): { scales: ScaleSource; outShape: number[] } {
  const rank = inShape.length;
  if (ctx.shape(i)[0] !== axes.length) ctx.unsupported(`sizes has ${ctx.shape(i)[0]} values, expected ${axes.length}`);
  const sizes = ctx.constant(i) ? ctx.constInts(i, 'sizes') : null;
  if (!sizes) {
    const outShape = declaredShape(ctx, inShape, axes);
    if (attrs.policy !== 'stretch') return { scales: { kind: 'policy', input: i }, outShape };
    return { scales: { kind: 'static', values: outShape.map((o, d) => Math.fround(o / inShape[d])) }, outShape };
  }
  const full = spread(sizes, axes, rank, (d) => inShape[d]);
  const ratios = full.map((o, d) => Math.fround(o / inShape[d]));
  if (attrs.policy === 'stretch') return { scales: { kind: 'static', values: ratios }, outShape: full };
  const onAxes = axes.map((d) => ratios[d]);
  const s = attrs.policy === 'not_larger' ? Math.min(...onAxes) : Math.max(...onAxes);
  const values = inShape.map((_, d) => (axes.includes(d) ? s : 1));
  return { scales: { kind: 'static', values }, outShape: inShape.map((len, d) => (axes.includes(d) ? Math.round(Math.fround(s * len)) : len)) };
}

function fromScales(ctx: NodeContext, i: number | null, inShape: number[], axes: number[]): { scales: ScaleSource; outShape: number[] } {
  const rank = inShape.length;
  let values: number[] | null;
  if (i === null) values = ctx.floats('scales');
  else {
    if (ctx.shape(i)[0] !== axes.length) ctx.unsupported(`scales has ${ctx.shape(i)[0]} values, expected ${axes.length}`);
    const t = ctx.constant(i);
    values = t ? tensorToNumbers(t) : null;
  }
  if (!values) return { scales: { kind: 'scales', input: i ?? 0 }, outShape: declaredShape(ctx, inShape, axes) };
  if (values.some((s) => !(s > 0))) ctx.unsupported(`scales [${values.join(', ')}] must be positive`);
  const full = spread(values.map(Math.fround), axes, rank, () => 1);
  return { scales: { kind: 'static', values: full }, outShape: inShape.map((len, d) => scaledLength(len, full[d])) };
}

function roiSource(ctx: NodeContext, i: number, axes: number[], rank: number): RoiSource {
  if (!present(ctx, i)) return ctx.unsupported('tf_crop_and_resize needs the roi input');
  if (ctx.shape(i)[0] !== 2 * axes.length) ctx.unsupported(`roi has ${ctx.shape(i)[0]} values, expected ${2 * axes.length}`);
  const t = ctx.constant(i);
  if (!t) return { kind: 'input', input: i };
  const v = tensorToNumbers(t);
  const n = axes.length;
  return { kind: 'static', start: spread(v.slice(0, n), axes, rank, () => 0), end: spread(v.slice(n), axes, rank, () => 1) };
}

/** The plan of a Resize (isResize) or Upsample node. */
export function planResize(ctx: NodeContext, isResize: boolean): ResizePlan {
  const attrs = readAttrs(ctx, isResize);
  const inShape = ctx.shape(0);
  const rank = inShape.length;
  if (rank === 0) ctx.unsupported('input must have rank >= 1');
  if (inShape.some((d) => d === 0)) ctx.unsupported('empty input');
  const axes = resizedAxes(ctx, rank);
  const modern = isResize && ctx.opset >= 11;
  let sized: { scales: ScaleSource; outShape: number[] };
  if (modern && present(ctx, 3)) {
    if (present(ctx, 2)) ctx.unsupported('scales and sizes are both given');
    sized = fromSizes(ctx, 3, attrs, inShape, axes);
  } else if (modern) {
    if (!present(ctx, 2)) ctx.unsupported('neither scales nor sizes is given');
    sized = fromScales(ctx, 2, inShape, axes);
  } else {
    sized = fromScales(ctx, ctx.inputCount > 1 ? 1 : null, inShape, axes);
  }
  if (sized.outShape.some((d) => d <= 0)) ctx.unsupported(`output shape [${sized.outShape.join(', ')}] is empty`);
  const roi = attrs.coord === 'tf_crop_and_resize' ? roiSource(ctx, 1, axes, rank) : null;
  return { attrs, inShape, outShape: sized.outShape, axes, scales: sized.scales, roi };
}
