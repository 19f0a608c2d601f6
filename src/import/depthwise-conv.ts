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
import { elemOf, typeOf, type Tensor } from '../codegen/tensor-ops.js';

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

/** Whether depthwiseUnrolled handles this convolution with weights `w` [C, KH, KW]. */
export function unrolledDepthwiseApplies(s: DepthwiseSpec, w: Tensor): boolean {
  const float = s.x.dt === DataType.FLOAT && w.dt === DataType.FLOAT && s.accDt === DataType.FLOAT;
  return float && s.out.length === 2 && w.shape.length === 3 && w.shape[1] * w.shape[2] <= MAX_UNROLLED_TAPS;
}

/** Depthwise convolution [N, C, H, W] ⊛ [C, KH, KW]; returns [N, C, OH, OW] in accDt. */
export function depthwiseUnrolled(b: FuncBuilder, s: DepthwiseSpec, w: Tensor): Tensor {
  const [n, c] = s.x.shape;
  const [kh, kw] = w.shape.slice(1);
  const [oh, ow] = s.out;
  const [sh, sw] = s.strides;
  const [dh, dw] = s.dilations;
  const rank = 4;
  const taps: [number, number][] = [];
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) taps.push([i, j]);
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
    body: (bb, args) => {
      const sc = new Scalar(bb, s.accDt);
      let acc = sc.mul(args[0], args[1]);
      // Fused multiply-adds: one rounding per tap, and one instruction.
      for (let t = 1; t < taps.length; t++) acc = bb.op(`math.fma ${args[2 * t]}, ${args[2 * t + 1]}, ${acc} : ${sc.elem}`);
      return [acc];
    },
  });
  return y;
}
