// ConvTranspose whose kernel equals its stride (no padding, dilation or
// groups; the learned 2× upsampling of segmentation heads): every input pixel
// writes its own KH×KW output block, so it is one matmul and a pixel shuffle
//
//   Y[M·KH·KW, H·W] = Wᵀ[M·KH·KW, C] × X[C, H·W]
//   y[0, m, h·KH + i, w·KW + j] = Y[(m, i, j), (h, w)]
//
// instead of a stride-1 convolution over an input dilated with zeros (which
// does KH·KW times the work on a KH·KW times larger patch matrix). The matmul
// is a named linalg.matmul, so the matmul schedule vectorizes it.
import { DataType } from '../onnx/model.js';
import type { FuncBuilder } from '../codegen/mlir-builder.js';
import { affineMap, identityMap } from '../codegen/mlir-builder.js';
import { collapseShape, elemOf, expandShape, typeOf, type Tensor } from '../codegen/tensor-ops.js';
import { matmul2d } from './contraction.js';

export interface BlockTransposeSpec {
  /** Input [1, C, H, W]. */
  x: Tensor;
  /** Weights [C, M, KH, KW]. */
  w: Tensor;
  kernel: number[];
  strides: number[];
  dilations: number[];
  padBegin: number[];
  out: number[];
  group: number;
  accDt: DataType;
}

/** Whether the transposed convolution is a matmul plus pixel shuffle (see the file comment). */
export function isBlockTranspose(s: BlockTransposeSpec): boolean {
  const f32 = s.x.dt === DataType.FLOAT && s.w.dt === DataType.FLOAT && s.accDt === DataType.FLOAT;
  const [n, , h, w] = s.x.shape;
  return f32 && s.kernel.length === 2 && n === 1 && s.group === 1
    && s.kernel.every((k, i) => k === s.strides[i] && s.dilations[i] === 1 && s.padBegin[i] === 0)
    && s.out[0] === h * s.kernel[0] && s.out[1] === w * s.kernel[1];
}

/** A 2-D transpose [r, c] → [c, r] (the weights: small, once per run). */
function transpose2d(b: FuncBuilder, t: Tensor): Tensor {
  const out: Tensor = { value: '', dt: t.dt, shape: [t.shape[1], t.shape[0]] };
  [out.value] = b.generic({
    inputs: [{ value: t.value, type: typeOf(t), map: affineMap(2, ['d1', 'd0']), elem: elemOf(t) }],
    outputs: [{ value: b.empty(typeOf(out)), type: typeOf(out), map: identityMap(2), elem: elemOf(out) }],
    iterators: ['parallel', 'parallel'],
    body: (_bb, [v]) => [v],
  });
  return out;
}

/** The accumulator [1, M, H·KH, W·KW] in accDt (bias not added). */
export function blockTranspose(b: FuncBuilder, s: BlockTransposeSpec): Tensor {
  const [, , h, w] = s.x.shape;
  const [, m, kh, kw] = s.w.shape;
  const wt = transpose2d(b, collapseShape(b, s.w, [[0], [1, 2, 3]]));
  const y = matmul2d(b, wt, collapseShape(b, s.x, [[0, 1], [2, 3]]), s.accDt);
  const blocks = expandShape(b, y, [[0, 1, 2], [3, 4]], [m, kh, kw, h, w]);
  // Iteration space [1, M, H, KH, W, KW]: the output's dims split into block and offset.
  const shuffled: Tensor = { value: '', dt: s.accDt, shape: [1, m, h, kh, w, kw] };
  [shuffled.value] = b.generic({
    inputs: [{ value: blocks.value, type: typeOf(blocks), map: affineMap(6, ['d1', 'd3', 'd5', 'd2', 'd4']), elem: elemOf(blocks) }],
    outputs: [{ value: b.empty(typeOf(shuffled)), type: typeOf(shuffled), map: identityMap(6), elem: elemOf(shuffled) }],
    iterators: shuffled.shape.map(() => 'parallel'),
    body: (_bb, [v]) => [v],
  });
  return collapseShape(b, shuffled, [[0], [1], [2, 3], [4, 5]]);
}
