// Matmuls whose B operand is computed at run time (a 1×1 convolution's
// input [C, H·W], an attention product) read B as K rows N·4 bytes apart:
// each k step of a micro-kernel loads its columns from another row, and
// rows of a feature map are kilobytes apart (rec's 12×80 maps: 3.8 KB).
// This rewrite copies B into column panels [N/P, K, P] first (MLAS packs
// B per call the same way) and computes the product as the generic the
// constant-weight lowering writes (packed-matmul.ts packedProductLines), so
// that packed-matmul.ts schedules it and packed-epilogue.ts lifts its epilogue. On Zen 3 (AVX2) the packed
// form of rec's 1×1 layers took 0.80 – 0.84 of their time as plain
// matmuls (240→240 at 12×80: 1.30 against 1.59 ms, `ort-mlir perf` on the
// layer as a MatMul by a constant against the Conv); the copy is one pass
// over B.
import { OP_LINE_PARTS, operandNames, PANELS_ATTR, scanStructuredOps } from './ir-scan.js';
import { fillLine } from './epilogue.js';
import { packedProductLines } from './packed-matmul.js';
import { NESTED_ATTR } from './conv-im2col.js';
import { microColumns } from './target.js';
import { liftPackedEpilogues } from './packed-epilogue.js';
import type { ScheduleContext } from './plan.js';

const MATMUL: ReadonlySet<string> = new Set(['linalg.matmul']);
/** The f32 value a linalg.fill line writes. */
const FILL_VALUE = /= linalg\.fill ins\((%[\w.$-]+) : f32\)/;
/**
 * Fewer output rows than this read each panel too few times to pay for the
 * copy (one read and one write of B per run, against M reads of it).
 */
const MIN_ROWS = 16;
/** Fewer columns than this many panels gain nothing from packing. */
const MIN_PANELS = 2;
/** Row counts the packed schedule's kernels divide (as import/packed-matmul.ts packsWeight requires). */
const ROW_MULTIPLE = 4;

/** Whether an [m, k] × [k, n] product with a computed B is worth packing into panels of `width`. */
export function packsActivation(m: number, n: number, width: number): boolean {
  return m >= MIN_ROWS && m % ROW_MULTIPLE === 0 && n % width === 0 && n / width >= MIN_PANELS;
}

/** The lines replacing `result = linalg.matmul` of a by b into a zero-filled [m, n]: panels, a fresh fill, the packed product, its [m, n] view. */
function packedLines(indent: string, result: string, id: string, a: string, b: string, zero: string, s: { m: number; k: number; n: number; width: number }): string[] {
  const { m, k, n, width } = s;
  const panels = `tensor<${n / width}x${k}x${width}xf32>`;
  const acc = `tensor<${m}x${n / width}x${width}xf32>`;
  const id3 = 'affine_map<(d0, d1, d2) -> (d0, d1, d2)>';
  return [
    `${id}_empty = tensor.empty() : ${panels}`,
    `${id}_panels = linalg.generic {${PANELS_ATTR} = ${width} : i64, indexing_maps = [affine_map<(d0, d1, d2) -> (d1, d0 * ${width} + d2)>, ${id3}], iterator_types = ["parallel", "parallel", "parallel"]} ins(${b} : tensor<${k}x${n}xf32>) outs(${id}_empty : ${panels}) {`,
    `^bb0(${id}_in: f32, ${id}_out: f32):`,
    `  linalg.yield ${id}_in : f32`,
    `} -> ${panels}`,
    `${id}_init = tensor.empty() : ${acc}`,
    `${id}_acc = linalg.fill ins(${zero} : f32) outs(${id}_init : ${acc}) -> ${acc}`,
    ...packedProductLines(`${id}_product`, a, `${id}_panels`, `${id}_acc`, { m, k, panels: n / width, columns: width }),
    `${result} = tensor.collapse_shape ${id}_product [[0], [1, 2]] : ${acc} into tensor<${m}x${n}xf32>`,
  ].map((line) => indent + line);
}

/**
 * Rewrites each f32 linalg.matmul outside chunk loops, into its own zero-fill,
 * whose shape packsActivation accepts and whose epilogue lifts into the
 * panel layout, as panels + packed product (see the file comment). Returns
 * the lines, rewritten.
 */
export function packActivationMatmuls(input: readonly string[], ctx: ScheduleContext): string[] {
  const lines = [...input];
  const width = microColumns(ctx.target);
  let next = 0;
  // Last op first: splicing a replacement in keeps the earlier ops' lines.
  for (const op of scanStructuredOps(input, MATMUL).reverse()) {
    const parts = OP_LINE_PARTS.exec(lines[op.line]);
    const [a, b] = op.inputs;
    if (!parts || !a || !b || op.attrs.includes(NESTED_ATTR) || a.elem !== 'f32' || b.elem !== 'f32' || a.dims.length !== 2 || b.dims.length !== 2) continue;
    const [m, k] = a.dims;
    const n = b.dims[1];
    if (!packsActivation(m, n, width)) continue;
    const [aName, bName] = operandNames(parts[5]);
    const fill = FILL_VALUE.exec(lines[fillLine(lines, op)] ?? '');
    if (!fill) continue;
    const id = `%ortmlir_pack_${next++}`;
    const packed = packedLines(parts[1], parts[2], id, aName, bName, fill[1], { m, k, n, width });
    const candidate = [...lines];
    candidate.splice(op.line, 1, ...packed);
    // Only where the epilogue lifts (a packed product without one is tiled by
    // transform.structured.fuse, which would fuse B's whole producer chain into every tile).
    if (liftPackedEpilogues(candidate).some((line) => line.includes(`tensor.collapse_shape ${id}_product `))) continue;
    lines.splice(op.line, 1, ...packed);
  }
  return lines;
}
