// Depthwise 2-D float convolution as an all-parallel linalg.generic over the
// output with the kernel taps unrolled into its body. The named
// linalg.depthwise_conv op lowers to scalar loops with the (tiny) reduction
// innermost, which LLVM cannot vectorize; here the innermost loop runs along
// the output row, so it vectorizes, the taps accumulate in registers, and
// the elementwise epilogue (bias, batch norm, activation) fuses into it
// (linalg-fuse-elementwise-ops).
import { DataType } from '../onnx/model.js';
import { Scalar } from '../codegen/scalar.js';
import type { FuncBuilder, GenericOperand } from '../codegen/mlir-builder.js';
import { affineMap, identityMap } from '../codegen/mlir-builder.js';
import { collapseShape, elemOf, expandShape, extractSlice, typeOf, type Tensor } from '../codegen/tensor-ops.js';

/** The geometry emitConv passes on (see ConvSpec in conv-core.ts). */
export interface DepthwiseSpec {
  /** Padded input [N, C, H, W]. */
  x: Tensor;
  out: number[];
  strides: number[];
  dilations: number[];
  accDt: DataType;
}

/** Taps above this make the unrolled body (two operands per tap) unwieldy. */
const MAX_UNROLLED_TAPS = 49;
/**
 * Output rows at least this wide vectorize well on their own, so the row
 * form applies even with stride 1: the flat form's garbage columns and the
 * slice that drops them cost an extra pass over the output, and its epilogue
 * cannot fuse across the slice (det's 320×320 layers: 2.5× the row form).
 */
const MIN_ROW_FORM_COLS = 64;

/** Whether depthwiseUnrolled handles this convolution with weights `w` [C, KH, KW]. */
export function unrolledDepthwiseApplies(s: DepthwiseSpec, w: Tensor): boolean {
  const float = s.x.dt === DataType.FLOAT && w.dt === DataType.FLOAT && s.accDt === DataType.FLOAT;
  return float && s.out.length === 2 && w.shape.length === 3 && w.shape[1] * w.shape[2] <= MAX_UNROLLED_TAPS;
}

/**
 * Input rows beyond the last window that the flattened form needs (see
 * depthwiseFlat): one, for narrow stride-1 convolutions that the unrolled
 * form handles. The caller pads them (zeros); 0 when the row-wise form applies.
 */
export function depthwiseExtraRows(s: { strides: readonly number[]; out: readonly number[] }, kernel: readonly number[]): number {
  return s.out.length === 2 && flatFormFits(s) && kernel[0] * kernel[1] <= MAX_UNROLLED_TAPS ? 1 : 0;
}

/** Whether the flat form is the one to use: stride 1 and output rows too short to vectorize alone. */
function flatFormFits(s: { strides: readonly number[]; out: readonly number[] }): boolean {
  return s.strides.every((v) => v === 1) && s.out[1] < MIN_ROW_FORM_COLS;
}

/** Depthwise convolution [N, C, H, W] ⊛ [C, KH, KW]; returns [N, C, OH, OW] in accDt. */
export function depthwiseUnrolled(b: FuncBuilder, s: DepthwiseSpec, w: Tensor): Tensor {
  return flatFormFits(s) && hasExtraRow(s, w) ? depthwiseFlat(b, s, w) : depthwiseRows(b, s, w);
}

function kernelTaps(w: Tensor): [number, number][] {
  const [kh, kw] = w.shape.slice(1);
  const taps: [number, number][] = [];
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) taps.push([i, j]);
  return taps;
}

/** Whether the padded input has the row below the last window that depthwiseFlat reads into. */
function hasExtraRow(s: DepthwiseSpec, w: Tensor): boolean {
  const [kh] = w.shape.slice(1);
  return s.x.shape[2] >= s.out[0] + (kh - 1) * s.dilations[0] + 1;
}

/** The unrolled body: fused multiply-adds over (input, weight) argument pairs. */
function tapSum(bb: FuncBuilder, accDt: DataType, args: readonly string[], taps: number): string {
  const sc = new Scalar(bb, accDt);
  let acc = sc.mul(args[0], args[1]);
  // Fused multiply-adds: one rounding per tap, and one instruction.
  for (let t = 1; t < taps; t++) acc = bb.op(`math.fma ${args[2 * t]}, ${args[2 * t + 1]}, ${acc} : ${sc.elem}`);
  return acc;
}

/**
 * Stride 1, small images: each output row alone is too short to vectorize
 * well (rec's 5×5 layers have 12 columns), so the image is computed as one
 * flat row per channel. With the padded input flattened to [N, C, Hp·Wp],
 * output pixel (oh, ow) is flat position p = oh·Wp + ow and tap (i, j)
 * reads p + i·dh·Wp + j·dw: every tap is one contiguous shifted view. The
 * flat output [N, C, OH·Wp] carries Wp − OW garbage columns per row (dropped
 * by a slice); the last row's windows run into the extra zero row the
 * caller padded (depthwiseExtraRows).
 */
function depthwiseFlat(b: FuncBuilder, s: DepthwiseSpec, w: Tensor): Tensor {
  const [n, c, , wp] = s.x.shape;
  const [oh, ow] = s.out;
  const [dh, dw] = s.dilations;
  const flat = collapseShape(b, s.x, [[0], [1], [2, 3]]);
  const len = oh * wp;
  const rank = 3;
  const taps = kernelTaps(w);
  const inputs: GenericOperand[] = taps.flatMap(([i, j]) => {
    // A view, not extractSlice (which copies): the taps read the padded input in place.
    const view: Tensor = { value: '', dt: flat.dt, shape: [n, c, len] };
    view.value = b.op(`tensor.extract_slice ${flat.value}[0, 0, ${i * dh * wp + j * dw}] [${view.shape.join(', ')}] [1, 1, 1] : ${typeOf(flat)} to ${typeOf(view)}`, 's');
    return [
      { value: view.value, type: typeOf(view), map: identityMap(rank), elem: elemOf(view) },
      { value: w.value, type: typeOf(w), map: affineMap(rank, ['d1', String(i), String(j)]), elem: elemOf(w) },
    ];
  });
  const y: Tensor = { value: '', dt: s.accDt, shape: [n, c, len] };
  [y.value] = b.generic({
    inputs,
    outputs: [{ value: b.empty(typeOf(y)), type: typeOf(y), map: identityMap(rank), elem: elemOf(y) }],
    iterators: y.shape.map(() => 'parallel'),
    body: (bb, args) => [tapSum(bb, s.accDt, args, taps.length)],
  });
  const rows = expandShape(b, y, [[0], [1], [2, 3]], [n, c, oh, wp]);
  return extractSlice(b, rows, [0, 0, 0, 0], [n, c, oh, ow]);
}

/** The general form: one output row at a time (the innermost loop runs along it). */
function depthwiseRows(b: FuncBuilder, s: DepthwiseSpec, w: Tensor): Tensor {
  const [n, c] = s.x.shape;
  const [oh, ow] = s.out;
  const [sh, sw] = s.strides;
  const [dh, dw] = s.dilations;
  const rank = 4;
  const taps = kernelTaps(w);
  const inputs: GenericOperand[] = taps.flatMap(([i, j]) => {
    // The tap's input window as a strided view (no copy): every operand then
    // has an identity map, so loop bounds come out as the output's.
    const view: Tensor = { value: '', dt: s.x.dt, shape: [n, c, oh, ow] };
    view.value = b.op(`tensor.extract_slice ${s.x.value}[0, 0, ${i * dh}, ${j * dw}] [${view.shape.join(', ')}] [1, 1, ${sh}, ${sw}] : ${typeOf(s.x)} to ${typeOf(view)}`, 's');
    return [
      { value: view.value, type: typeOf(view), map: identityMap(rank), elem: elemOf(view) },
      { value: w.value, type: typeOf(w), map: affineMap(rank, ['d1', String(i), String(j)]), elem: elemOf(w) },
    ];
  });
  const y: Tensor = { value: '', dt: s.accDt, shape: [n, c, oh, ow] };
  [y.value] = b.generic({
    inputs,
    outputs: [{ value: b.empty(typeOf(y)), type: typeOf(y), map: identityMap(rank), elem: elemOf(y) }],
    iterators: y.shape.map(() => 'parallel'),
    body: (bb, args) => [tapSum(bb, s.accDt, args, taps.length)],
  });
  return y;
}
