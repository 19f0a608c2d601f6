// MatMul by a constant f32 weight [K, N] with the weight packed at compile
// time into column panels [N/P, K, P] (the last one zero-padded), as
// onnxruntime packs B when the session starts. A micro-kernel then reads
// its B operand as one contiguous stream of K·P floats instead of K rows
// N·4 bytes apart: for rec's head ([40×120]·[120×6625]) the rows were 26 KB
// apart and every first touch stalled on memory; for 512- and 1024-column
// weights (2 KB and 4 KB apart) the rows map onto few cache sets and evict
// each other.
//
// The product is a linalg.generic over (m, panel, column, k) writing
// C[M, N/P, P], which is C[M, N] (plus padding columns) in memory; it
// carries PACKED_ATTR so that the schedule (codegen/schedules/packed-matmul.ts)
// finds it.
//
// A panel is as wide as the target's micro-kernel (LoweringTarget): 32
// columns with AVX-512, 16 with AVX2. Each k step of the kernel then reads
// one contiguous run of the panel; AVX2's 16-column kernel on 32-column
// panels read half of each 128-byte row, and MatMul 512³ took about 10 %
// longer.
import { DataType, type OnnxTensor } from '../onnx/model.js';
import { packedProductLines } from '../codegen/schedules/packed-matmul.js';
import { collapseShape, typeOf, type Tensor } from '../codegen/tensor-ops.js';
import type { FuncBuilder } from '../codegen/mlir-builder.js';

/** Weights smaller than this (in elements) stay as they are: they fit in L1 and the rows do not stall. */
const MIN_PACKED_ELEMENTS = 8192;
/** Fewer columns than this many panels gain nothing from packing. */
const MIN_PACKED_PANELS = 2;
/**
 * Row counts the schedule's micro-kernels divide exactly (a multiple of 4,
 * or at most the tallest kernel's 12 rows); others keep the unpacked
 * schedule, which peels and masks.
 */
const MAX_SMALL_ROWS = 12;
const ROW_MULTIPLE = 4;

/** Whether an [m, k] × [k, n] f32 product with a constant weight is worth packing into panels of `columns`. */
export function packsWeight(m: number, k: number, n: number, columns: number): boolean {
  const rowsFit = m <= MAX_SMALL_ROWS || m % ROW_MULTIPLE === 0;
  return rowsFit && n >= MIN_PACKED_PANELS * columns && k * n >= MIN_PACKED_ELEMENTS;
}

/** The layout name of panels of `columns`, for WeightDeriver. */
export function panelLayout(columns: number): string {
  return `panels${columns}`;
}

/** `w` [K, N] (f32) as panels [ceil(N/P), K, P] of P = `columns`, columns past N zero. */
export function packPanels(w: OnnxTensor, columns: number): OnnxTensor {
  const [k, n] = w.dims;
  if (w.dataType !== DataType.FLOAT || w.dims.length !== 2) throw new Error(`packPanels: expected a 2-D float weight, got ${w.name} [${w.dims.join(', ')}]`);
  const panels = Math.ceil(n / columns);
  const src = new Float32Array(w.data.buffer.slice(w.data.byteOffset, w.data.byteOffset + w.data.byteLength));
  const out = new Float32Array(panels * k * columns);
  for (let p = 0; p < panels; p++) {
    const cols = Math.min(columns, n - p * columns);
    for (let r = 0; r < k; r++) {
      const from = r * n + p * columns;
      out.set(src.subarray(from, from + cols), (p * k + r) * columns);
    }
  }
  return { name: `${w.name}#${panelLayout(columns)}`, dataType: DataType.FLOAT, dims: [panels, k, columns], data: new Uint8Array(out.buffer) };
}

/** a [M, K] · panels (SSA `packed`, [ceil(N/P), K, P] with P = `columns`) → [M, N] f32. */
export function packedMatmul(b: FuncBuilder, a: Tensor, packed: string, n: number, columns: number): Tensor {
  const [m, k] = a.shape;
  const panels = Math.ceil(n / columns);
  const cType = `tensor<${m}x${panels}x${columns}xf32>`;
  const zero = b.constant('0.000000e+00', 'f32');
  const acc = b.fill(zero, 'f32', cType);
  const c = b.fresh('pmm');
  for (const line of packedProductLines(c, a.value, packed, acc, { m, k, panels, columns })) b.emit(line);
  const flat = collapseShape(b, { value: c, dt: DataType.FLOAT, shape: [m, panels, columns] }, [[0], [1, 2]]);
  if (panels * columns === n) return flat;
  // The first n columns as a view, not a copy: the consumer (rec's head: the
  // bias, then Softmax) reads them in place. A copy cost a pass over the
  // whole product (1 MB in rec); bufferization still copies where a
  // contiguous buffer is needed (a result, a collapse across rows).
  const out: Tensor = { value: '', dt: DataType.FLOAT, shape: [m, n] };
  out.value = b.op(`tensor.extract_slice ${flat.value}[0, 0] [${m}, ${n}] [1, 1] : ${typeOf(flat)} to ${typeOf(out)}`, 's');
  return out;
}
