// Sliding-window geometry shared by Conv, ConvTranspose and the pooling ops:
// attribute defaults, auto_pad resolution and output sizes, following
// onnxruntime's CPU kernels (the oracle) where the spec leaves room.
import type { NodeContext } from './node-context.js';

export type AutoPad = 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';

const AUTO_PADS: readonly AutoPad[] = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'];

/** Window geometry per spatial dim; pads are the ONNX (logical) pads. */
export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  padBegin: number[];
  padEnd: number[];
  out: number[];
}

export function autoPad(ctx: NodeContext): AutoPad {
  const s = ctx.string('auto_pad', 'NOTSET');
  const found = AUTO_PADS.find((a) => a === s);
  return found ?? ctx.unsupported(`auto_pad '${s}' is not one of ${AUTO_PADS.join(', ')}`);
}

/** An ints attribute of exactly `n` values, or `n` copies of `dflt` when absent. */
export function spatialInts(ctx: NodeContext, name: string, n: number, dflt: number): number[] {
  const v = ctx.optionalInts(name);
  if (v === null || v.length === 0) return Array.from({ length: n }, () => dflt);
  if (v.length !== n) ctx.unsupported(`${name} has ${v.length} values, expected ${n}`);
  return v;
}

/** The `pads` attribute split into begin / end halves (zeros when absent). */
export function explicitPads(ctx: NodeContext, n: number): { begin: number[]; end: number[] } {
  const p = spatialInts(ctx, 'pads', 2 * n, 0);
  if (p.some((v) => v < 0)) ctx.unsupported('negative pads are not supported');
  return { begin: p.slice(0, n), end: p.slice(n) };
}

/** Extent of a dilated kernel. */
export function dilatedExtent(kernel: number, dilation: number): number {
  return (kernel - 1) * dilation + 1;
}

function baseWindow(ctx: NodeContext, kernel: number[]): Window {
  const n = kernel.length;
  if (kernel.some((k) => k < 1)) ctx.unsupported(`kernel_shape [${kernel.join(', ')}] must be positive`);
  const strides = spatialInts(ctx, 'strides', n, 1);
  const dilations = spatialInts(ctx, 'dilations', n, 1);
  if (strides.some((s) => s < 1) || dilations.some((d) => d < 1)) ctx.unsupported('strides and dilations must be positive');
  const { begin, end } = explicitPads(ctx, n);
  return { kernel, strides, dilations, padBegin: begin, padEnd: end, out: [] };
}

/** SAME_* split of `total` padding as onnxruntime does it (C integer division). */
function sameSplit(total: number, mode: AutoPad): [number, number] {
  const head = mode === 'SAME_LOWER' ? Math.trunc((total + 1) / 2) : Math.trunc(total / 2);
  return [head, total - head];
}

function checkOut(ctx: NodeContext, w: Window): Window {
  if (w.out.some((o) => !(o > 0))) ctx.unsupported(`window output size [${w.out.join(', ')}] is empty`);
  if (w.padBegin.some((p) => p < 0)) ctx.unsupported('negative begin padding is not supported');
  return w;
}

/** Conv geometry (onnxruntime ComputePadAndOutputShape). */
export function convWindow(ctx: NodeContext, inSpatial: readonly number[], kernel: number[]): Window {
  const w = baseWindow(ctx, kernel);
  const mode = autoPad(ctx);
  inSpatial.forEach((len, i) => {
    const s = w.strides[i];
    const dk = dilatedExtent(kernel[i], w.dilations[i]);
    if (mode === 'VALID') {
      w.padBegin[i] = 0;
      w.padEnd[i] = 0;
    } else if (mode !== 'NOTSET') {
      if (w.dilations[i] !== 1) ctx.unsupported(`auto_pad ${mode} with dilations is not supported`);
      const target = Math.ceil(len / s);
      [w.padBegin[i], w.padEnd[i]] = sameSplit((target - 1) * s + kernel[i] - len, mode);
    }
    w.out.push(Math.floor((len + w.padBegin[i] + w.padEnd[i] - dk) / s) + 1);
  });
  return checkOut(ctx, w);
}

/** Pooling geometry (onnxruntime PoolAttributes, plus ceil_mode's last-window rule). */
export function poolWindow(ctx: NodeContext, inSpatial: readonly number[], kernel: number[], ceilMode: boolean): Window {
  const w = baseWindow(ctx, kernel);
  const mode = autoPad(ctx);
  inSpatial.forEach((len, i) => {
    const s = w.strides[i];
    if (mode === 'VALID') {
      w.padBegin[i] = 0;
      w.padEnd[i] = 0;
    } else if (mode !== 'NOTSET') {
      const target = Math.ceil(len / s);
      [w.padBegin[i], w.padEnd[i]] = sameSplit((target - 1) * s + kernel[i] - len, mode);
    }
    const numerator = len + w.padBegin[i] + w.padEnd[i] - dilatedExtent(kernel[i], w.dilations[i]);
    // Without ceil_mode onnxruntime divides in integers (toward zero): an input
    // shorter than the window still gets one window, which the padding covers.
    let out = ceilMode ? Math.ceil(numerator / s + 1) : Math.trunc(numerator / s) + 1;
    // A window may not start in the end padding (it would cover no input).
    if (ceilMode && (out - 1) * s >= len + w.padBegin[i]) out--;
    w.out.push(out);
  });
  return checkOut(ctx, w);
}

/**
 * Physical padding for the input so that every window of `w` stays in
 * bounds: the begin pads, and whatever the last window needs at the end
 * (ceil_mode may need more than the explicit end pads, SAME less).
 */
export function inputPadding(w: Window, inSpatial: readonly number[]): { lo: number[]; hi: number[] } {
  const hi = inSpatial.map((len, i) => {
    const need = (w.out[i] - 1) * w.strides[i] + dilatedExtent(w.kernel[i], w.dilations[i]);
    return Math.max(0, need - len - w.padBegin[i]);
  });
  return { lo: [...w.padBegin], hi };
}

/** The kernel_shape attribute, or `fallback` (e.g. the weight's spatial dims). */
export function kernelShape(ctx: NodeContext, n: number, fallback?: number[]): number[] {
  const k = ctx.optionalInts('kernel_shape');
  if (k && k.length > 0) {
    if (k.length !== n) ctx.unsupported(`kernel_shape has ${k.length} dims, expected ${n}`);
    if (fallback && k.some((v, i) => v !== fallback[i])) ctx.unsupported('kernel_shape does not match the weight shape');
    return k;
  }
  return fallback ?? ctx.unsupported('kernel_shape is required');
}
