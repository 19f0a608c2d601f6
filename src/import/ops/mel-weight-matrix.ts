// MelWeightMatrix (opset 17): the [dft_length / 2 + 1, num_mel_bins] matrix of
// triangular mel filters. Every input is a scalar that the output depends on
// (two of them set its shape), so they must be compile-time constants — fed
// at run time, they are specialised on by value — and the matrix is computed
// here, as onnxruntime does (in double, bins floored), and emitted as a dense
// constant.
import { DataType } from '../../onnx/model.js';
import { bitWidth, isFloat, isInteger, mlirElementType } from '../../ir/types.js';
import { elemType, floatLiteral, tensorTypeOf } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import { tensorToNumbers } from '../tensor-data.js';

/** Hz → mel and back (HTK formula). */
const MEL_SCALE = 2595;
const MEL_BREAK_HZ = 700;
const hzToMel = (hz: number) => MEL_SCALE * Math.log10(1 + hz / MEL_BREAK_HZ);
const melToHz = (mel: number) => MEL_BREAK_HZ * (10 ** (mel / MEL_SCALE) - 1);

/** Narrowest integer output onnxruntime produces. */
const BYTE_BITS = 8;

interface MelPlan {
  mels: number;
  bins: number;
  dt: DataType;
  /** Row-major [bins, mels] weights. */
  weights: number[];
}

function scalarInput(ctx: NodeContext, i: number, what: string): number {
  const t = ctx.constant(i);
  if (!t) return ctx.needsValue(i, what);
  const v = tensorToNumbers(t);
  if (v.length !== 1) ctx.unsupported(`${what} must have exactly one element, got ${v.length}`);
  return v[0];
}

function outputDtype(ctx: NodeContext): DataType {
  const dt = ctx.int('output_datatype', DataType.FLOAT);
  const ok = mlirElementType(dt) !== null && (isFloat(dt) || (isInteger(dt) && bitWidth(dt) >= BYTE_BITS));
  return ok ? dt : ctx.unsupported(`output_datatype ${DataType[dt] ?? dt} is not supported`);
}

/**
 * The filter edges: num_mel_bins + 2 points evenly spaced in mel between the
 * edge frequencies, as FFT bin indices floor((dft_length + 1) * hz / rate).
 */
function edgeBins(ctx: NodeContext, mels: number, dft: number, rate: number, bins: number): number[] {
  const lo = scalarInput(ctx, 3, 'lower_edge_hertz');
  const hi = scalarInput(ctx, 4, 'upper_edge_hertz');
  const toBin = (hz: number) => Math.floor(((dft + 1) * hz) / rate);
  // onnxruntime rejects edges outside the spectrum; so do we (it then reports the error).
  for (const hz of [lo, hi]) {
    const b = toBin(hz);
    if (!(b >= 0 && b < bins)) ctx.unsupported(`edge frequency ${hz} Hz falls outside the ${bins} spectrogram bins`);
  }
  const [loMel, hiMel] = [hzToMel(lo), hzToMel(hi)];
  const step = (hiMel - loMel) / (mels + 2);
  return Array.from({ length: mels + 2 }, (_, i) => toBin(melToHz(loMel + step * i)));
}

function plan(ctx: NodeContext): MelPlan {
  for (const i of [0, 1, 2]) ctx.requireDtype(i, [DataType.INT32, DataType.INT64]);
  const dt = outputDtype(ctx);
  const mels = scalarInput(ctx, 0, 'num_mel_bins');
  const dft = scalarInput(ctx, 1, 'dft_length');
  const rate = scalarInput(ctx, 2, 'sample_rate');
  if (mels < 1 || dft < 1 || rate < 1) ctx.unsupported(`num_mel_bins (${mels}), dft_length (${dft}) and sample_rate (${rate}) must be positive`);
  const bins = Math.floor(dft / 2) + 1;
  const edges = edgeBins(ctx, mels, dft, rate, bins);
  if (edges.some((e) => e < 0 || e >= bins)) ctx.unsupported(`a mel filter edge falls outside the ${bins} spectrogram bins`);
  // Integer outputs divide as integers, as onnxruntime's kernel does for them.
  const ratio = isFloat(dt) ? (a: number, b: number) => a / b : (a: number, b: number) => Math.floor(a / b);
  const weights = new Array<number>(bins * mels).fill(0);
  for (let m = 0; m < mels; m++) {
    const [left, center, right] = [edges[m], edges[m + 1], edges[m + 2]];
    if (center === left) weights[center * mels + m] = 1;
    else for (let j = left; j <= center; j++) weights[j * mels + m] = ratio(j - left, center - left);
    for (let j = center; j < right; j++) weights[j * mels + m] = ratio(right - j, right - center);
  }
  return { mels, bins, dt, weights };
}

function literal(v: number, dt: DataType): string {
  return isFloat(dt) ? floatLiteral(v, elemType(dt)) : String(v);
}

registerOp({
  domain: '', op: 'MelWeightMatrix', since: 17,
  infer: (ctx) => {
    const p = plan(ctx);
    return [{ dataType: p.dt, shape: [p.bins, p.mels] }];
  },
  lower: (ctx) => {
    const p = plan(ctx);
    const rows = Array.from({ length: p.bins }, (_, r) => `[${p.weights.slice(r * p.mels, (r + 1) * p.mels).map((v) => literal(v, p.dt)).join(', ')}]`);
    return [ctx.b.constant(`dense<[${rows.join(', ')}]>`, tensorTypeOf(p.dt, [p.bins, p.mels]))];
  },
});
