// DFT (opsets 17 and 20) and STFT as direct O(n²) transforms: one
// linalg.generic contracting the signal axis with compile-time cos/sin
// tables, producing real and imaginary parts, then interleaved into the
// trailing [re, im] dim. Angles are reduced exactly ((j·k) mod n) before the
// tables are computed in double precision.
//
// Variants (n = dft_length, L = input length along the axis):
//   forward: y[k] = Σ_j x[j] e^{-2πi jk/n}, k < n (onesided: k ≤ n/2);
//   inverse: x[m] = (1/n) Σ_k y[k] e^{2πi km/n};
//   inverse + onesided (irfft, as the ONNX test data): y holds the first n/2+1
//   bins of a Hermitian spectrum, output is real (trailing dim 1), n defaults
//   to 2(L-1). Inputs shorter than n are zero-padded, longer ones truncated.
import { DataType } from '../../onnx/model.js';
import { Scalar } from '../../codegen/scalar.js';
import { affineMap, elemType, floatLiteral, identityMap, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { expandShape, filled, typeOf, type Tensor } from '../../codegen/tensor-ops.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import type { TensorType } from '../../ir/types.js';

/** Opset from which axis is an input (default -2) rather than an attribute (default 1). */
const AXIS_INPUT_SINCE = 20;
const DFT_LENGTH_INPUT = 1;
const AXIS_INPUT = 2;
/** Largest cos/sin table (entries) the direct lowering embeds. */
const MAX_TABLE = 1 << 18;
const COMPLEX = 2;

/** A contraction of the signal axis with cos/sin tables. */
interface Transform {
  /** Input samples used (rows of the tables). */
  taps: number;
  /** Output samples (columns of the tables). */
  bins: number;
  cos: Float64Array;
  sin: Float64Array;
  /** +1: e^{-iθ} (forward), -1: e^{+iθ} (inverse). */
  sign: number;
  /** Real output only (irfft). */
  realOut: boolean;
}

/** Tables for `taps` × `bins` with angle 2π(jk mod n)/n and per-tap scale. */
function tables(taps: number, bins: number, n: number, scale: (j: number) => number): { cos: Float64Array; sin: Float64Array } {
  const cos = new Float64Array(taps * bins);
  const sin = new Float64Array(taps * bins);
  for (let j = 0; j < taps; j++) {
    for (let k = 0; k < bins; k++) {
      const theta = (2 * Math.PI * ((j * k) % n)) / n;
      cos[j * bins + k] = scale(j) * Math.cos(theta);
      sin[j * bins + k] = scale(j) * Math.sin(theta);
    }
  }
  return { cos, sin };
}

function transform(ctx: NodeContext, length: number, n: number, inverse: boolean, onesided: boolean): Transform {
  const half = Math.floor(n / 2) + 1;
  let t: Transform;
  if (!inverse) {
    const taps = Math.min(length, n);
    const bins = onesided ? half : n;
    t = { taps, bins, ...tables(taps, bins, n, () => 1), sign: 1, realOut: false };
  } else if (!onesided) {
    const taps = Math.min(length, n);
    t = { taps, bins: n, ...tables(taps, n, n, () => 1 / n), sign: -1, realOut: false };
  } else {
    // Hermitian extension: bins 1..ceil(n/2)-1 stand for themselves and their mirror.
    const taps = Math.min(length, half);
    const weight = (k: number) => (k === 0 || 2 * k === n ? 1 : 2) / n;
    t = { taps, bins: n, ...tables(taps, n, n, weight), sign: -1, realOut: true };
  }
  if (t.taps * t.bins > MAX_TABLE) ctx.unsupported(`DFT of length ${n} is too large for the direct O(n²) lowering`);
  return t;
}

interface DftPlan {
  axis: number;
  t: Transform;
  outShape: number[];
}

function constantScalar(ctx: NodeContext, i: number, what: string): number | null {
  if (!ctx.has(i)) return null;
  const v = ctx.constInts(i, what);
  if (v.length !== 1) ctx.unsupported(`${what} must hold one value, got ${v.length}`);
  return v[0];
}

function planDft(ctx: NodeContext): DftPlan {
  const dt = ctx.dtype(0);
  if (dt !== DataType.FLOAT && dt !== DataType.DOUBLE) ctx.unsupported(`DFT of ${DataType[dt]} is not supported (expected float or double)`);
  const shape = ctx.shape(0);
  const comps = shape[shape.length - 1];
  if (shape.length < 2 || (comps !== 1 && comps !== COMPLEX)) ctx.unsupported(`input must end in a dim of 1 (real) or 2 (complex), got [${shape.join(', ')}]`);
  const rawAxis = ctx.opset >= AXIS_INPUT_SINCE ? constantScalar(ctx, AXIS_INPUT, 'axis') ?? -2 : ctx.int('axis', 1);
  // The trailing [re, im] dim is never the signal axis.
  const axis = ((rawAxis % shape.length) + shape.length) % shape.length;
  if (axis === shape.length - 1) ctx.unsupported(`axis ${rawAxis} is the complex dim`);
  const inverse = ctx.int('inverse', 0) !== 0;
  const onesided = ctx.int('onesided', 0) !== 0;
  const length = shape[axis];
  const n = constantScalar(ctx, DFT_LENGTH_INPUT, 'dft_length') ?? (inverse && onesided ? 2 * (length - 1) : length);
  if (n < 1) ctx.unsupported(`dft_length ${n} is not positive`);
  const t = transform(ctx, length, n, inverse, onesided);
  const outShape = shape.map((d, i) => (i === axis ? t.bins : d));
  outShape[shape.length - 1] = t.realOut ? 1 : COMPLEX;
  return { axis, t, outShape };
}

function tableConstant(b: FuncBuilder, values: Float64Array, shape: number[], dt: DataType): Tensor {
  const items = Array.from(values, (v) => floatLiteral(v, elemType(dt)));
  const value = b.constant(`dense<[${items.join(', ')}]>`, tensorTypeOf(dt, [values.length]));
  return expandShape(b, { value, dt, shape: [values.length] }, [[0, 1]], shape);
}

/**
 * Contracts axis `axis` of `x` ([..., L, comps]) with the transform; returns
 * [..., bins, 1 or 2].
 */
export function emitTransform(b: FuncBuilder, x0: Tensor, axis: number, t: Transform): Tensor {
  // Samples past the used taps (a shorter dft_length, or an irfft's extra bins) are dropped.
  const x = x0.shape[axis] === t.taps ? x0 : prefix(b, x0, axis, t.taps);
  const signalRank = x.shape.length - 1;
  const comps = x.shape[signalRank];
  const dt = x.dt;
  const rank = signalRank + 1;
  const j = `d${signalRank}`;
  const space = x.shape.slice(0, signalRank).map((d, i) => (i === axis ? t.bins : d));
  const inputMap = (c: number) => affineMap(rank, [...space.map((_, i) => (i === axis ? j : `d${i}`)), String(c)]);
  const tableMap = affineMap(rank, [j, `d${axis}`]);
  const cos = tableConstant(b, t.cos, [t.taps, t.bins], dt);
  const sin = tableConstant(b, t.sin, [t.taps, t.bins], dt);
  const s = new Scalar(b, dt);
  const zero = s.zero();
  const outMap = affineMap(rank, space.map((_, i) => `d${i}`));
  const reads = [{ t: x, map: inputMap(0) }, ...(comps === COMPLEX ? [{ t: x, map: inputMap(1) }] : []), { t: cos, map: tableMap }, { t: sin, map: tableMap }];
  const outs = (t.realOut ? [0] : [0, 1]).map(() => filled(b, dt, space, zero));
  const iterators = [...space.map(() => 'parallel' as const), 'reduction' as const];
  const results = b.generic({
    inputs: reads.map((r) => ({ value: r.t.value, type: typeOf(r.t), map: r.map, elem: elemType(r.t.dt) })),
    outputs: outs.map((o) => ({ value: o.value, type: typeOf(o), map: outMap, elem: elemType(dt) })),
    iterators,
    body: (fb, args) => {
      const sc = new Scalar(fb, dt);
      const xr = args[0];
      const xi = comps === COMPLEX ? args[1] : null;
      const [c, sn] = args.slice(reads.length - 2, reads.length);
      const [accRe, accIm] = args.slice(reads.length);
      // (xr + i·xi)(cos ∓ i·sin): re = xr·cos ± xi·sin, im = xi·cos ∓ xr·sin.
      const signed = (v: string) => (t.sign > 0 ? v : sc.neg(v));
      let re = sc.mul(xr, c);
      if (xi) re = sc.add(re, signed(sc.mul(xi, sn)));
      const out = [sc.add(accRe, re)];
      if (!t.realOut) {
        let im = sc.neg(signed(sc.mul(xr, sn)));
        if (xi) im = sc.add(im, sc.mul(xi, c));
        out.push(sc.add(accIm, im));
      }
      return out;
    },
  });
  const parts = results.map((value) => ({ value, dt, shape: space }));
  if (t.realOut) return expandShape(b, parts[0], [...space.map((_, i) => (i === space.length - 1 ? [i, i + 1] : [i]))], [...space, 1]);
  return interleave(b, parts[0], parts[1]);
}

/** The first `count` entries of `x` along `axis`, as a view. */
function prefix(b: FuncBuilder, x: Tensor, axis: number, count: number): Tensor {
  const shape = x.shape.map((d, i) => (i === axis ? count : d));
  const out: Tensor = { value: '', dt: x.dt, shape };
  const zeros = shape.map(() => 0).join(', ');
  const ones = shape.map(() => 1).join(', ');
  out.value = b.op(`tensor.extract_slice ${x.value}[${zeros}] [${shape.join(', ')}] [${ones}] : ${typeOf(x)} to ${typeOf(out)}`, 's');
  return out;
}

/** [..., 2] from real and imaginary parts [...]. */
function interleave(b: FuncBuilder, re: Tensor, im: Tensor): Tensor {
  const shape = [...re.shape, COMPLEX];
  const rank = shape.length;
  const partMap = affineMap(rank, re.shape.map((_, i) => `d${i}`));
  const outT = tensorTypeOf(re.dt, shape);
  const [value] = b.generic({
    inputs: [re, im].map((p) => ({ value: p.value, type: typeOf(p), map: partMap, elem: elemType(p.dt) })),
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(re.dt) }],
    iterators: shape.map(() => 'parallel'),
    body: (fb, [r, i]) => {
      const isRe = fb.op(`arith.cmpi eq, ${fb.op(`linalg.index ${rank - 1} : index`)}, ${fb.index(0)} : index`);
      return [new Scalar(fb, re.dt).select(isRe, r, i)];
    },
  });
  return { value, dt: re.dt, shape };
}

function inferDft(ctx: NodeContext): TensorType[] {
  return [{ dataType: ctx.dtype(0), shape: planDft(ctx).outShape }];
}

function lowerDft(ctx: LowerContext): string[] {
  const p = planDft(ctx);
  const x: Tensor = { value: ctx.input(0), dt: ctx.dtype(0), shape: ctx.shape(0) };
  return [emitTransform(ctx.b, x, p.axis, p.t).value];
}

for (const since of [17, AXIS_INPUT_SINCE]) {
  registerOp({ domain: '', op: 'DFT', since, infer: inferDft, lower: lowerDft });
}

// ---- STFT ----

const STFT_STEP = 1;
const STFT_WINDOW = 2;
const STFT_LENGTH = 3;

interface StftPlan {
  step: number;
  frameLength: number;
  frames: number;
  t: Transform;
  outShape: number[];
}

/** STFT with a compile-time frame_step (and frame_length): framing and windowing, then a DFT of each frame. */
function planStft(ctx: NodeContext): StftPlan {
  const dt = ctx.dtype(0);
  if (dt !== DataType.FLOAT && dt !== DataType.DOUBLE) ctx.unsupported(`STFT of ${DataType[dt]} is not supported (expected float or double)`);
  const shape = ctx.shape(0);
  if (shape.length !== 3 || (shape[2] !== 1 && shape[2] !== COMPLEX)) ctx.unsupported(`signal must be [batch, length, 1 or 2], got [${shape.join(', ')}]`);
  const step = constantScalar(ctx, STFT_STEP, 'frame_step');
  if (step === null || step < 1) return ctx.unsupported('frame_step must be a positive constant');
  const window = ctx.has(STFT_WINDOW) ? ctx.shape(STFT_WINDOW) : null;
  if (window && window.length !== 1) ctx.unsupported('window must be 1-D');
  const frameLength = constantScalar(ctx, STFT_LENGTH, 'frame_length') ?? window?.[0] ?? ctx.unsupported('STFT needs a window or a frame_length');
  if (window && window[0] !== frameLength) ctx.unsupported(`window length ${window[0]} differs from frame_length ${frameLength}`);
  if (frameLength < 1 || frameLength > shape[1]) ctx.unsupported(`frame_length ${frameLength} does not fit the signal length ${shape[1]}`);
  const frames = 1 + Math.floor((shape[1] - frameLength) / step);
  const onesided = ctx.int('onesided', 1) !== 0;
  const t = transform(ctx, frameLength, frameLength, false, onesided);
  return { step, frameLength, frames, t, outShape: [shape[0], frames, t.bins, COMPLEX] };
}

/** frames[b, f, j, c] = signal[b, f*step + j, c] · window[j]. */
function emitFrames(ctx: LowerContext, p: StftPlan): Tensor {
  const b = ctx.b;
  const x: Tensor = { value: ctx.input(0), dt: ctx.dtype(0), shape: ctx.shape(0) };
  const shape = [x.shape[0], p.frames, p.frameLength, x.shape[2]];
  const outT = tensorTypeOf(x.dt, shape);
  const win = ctx.has(STFT_WINDOW) ? [{ value: ctx.input(STFT_WINDOW), type: ctx.inType(STFT_WINDOW), map: affineMap(4, ['d2']), elem: elemType(ctx.dtype(STFT_WINDOW)) }] : [];
  const [value] = b.generic({
    inputs: [{ value: x.value, type: typeOf(x), map: affineMap(4, ['d0', `d1 * ${p.step} + d2`, 'd3']), elem: elemType(x.dt) }, ...win],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(4), elem: elemType(x.dt) }],
    iterators: shape.map(() => 'parallel'),
    body: (fb, [v, w]) => [win.length ? new Scalar(fb, x.dt).mul(v, w) : v],
  });
  return { value, dt: x.dt, shape };
}

registerOp({
  domain: '', op: 'STFT', since: 17,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: planStft(ctx).outShape }],
  lower: (ctx) => {
    const p = planStft(ctx);
    if (ctx.has(STFT_WINDOW) && ctx.dtype(STFT_WINDOW) !== ctx.dtype(0)) ctx.unsupported('window dtype differs from the signal');
    return [emitTransform(ctx.b, emitFrames(ctx, p), 2, p.t).value];
  },
});
