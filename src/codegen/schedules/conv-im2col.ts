// Rewrites 2-D f32 convolutions (linalg.conv_2d_nchw_fchw, batch 1) in the
// prepared IR into weights × patches matmuls, which the matmul schedule then
// tiles and vectorizes:
//
//   y[1, F, OH·OW] = W[F, C·KH·KW] × cols[C·KH·KW, OH·OW]
//
// cols is an im2col copy (a gather-form linalg.generic whose innermost loop
// runs along the output row, so it vectorizes for stride 1); a 1×1 stride-1
// convolution needs none, its input already is the matrix [C, H·W].
//
// Why here and not in the Conv lowering: the matmul must reach the schedule
// as a named op. linalg-fuse-elementwise-ops (which the pipeline runs after
// the schedules, toolchain/pipeline.ts) would otherwise propagate the
// reshapes into it, generalize it, and fuse the previous layer's elementwise
// epilogue into the contraction (recomputing it once per output channel).
import { denseIntsAttr, scanStructuredOps, OP_LINE_PARTS, type StructuredOp } from './ir-scan.js';

const CONV = 'linalg.conv_2d_nchw_fchw';

export interface ConvRewrite {
  /** The IR with every eligible convolution replaced. */
  lines: string[];
  /** One line per rewritten convolution, for reports. */
  summary: string[];
}

interface ConvGeometry {
  c: number;
  h: number;
  w: number;
  f: number;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
  strides: number[];
  dilations: number[];
}

function tensor(dims: readonly number[]): string {
  return `tensor<${dims.join('x')}xf32>`;
}

function geometry(op: StructuredOp): ConvGeometry | null {
  const [x, w] = op.inputs;
  const [y] = op.outputs;
  if (!x || !w || !y || op.inputs.length !== 2 || op.outputs.length !== 1) return null;
  if ([x, w, y].some((t) => t.elem !== 'f32' || t.dims.length !== 4)) return null;
  const strides = denseIntsAttr(op.attrs, 'strides', 2) ?? [1, 1];
  const dilations = denseIntsAttr(op.attrs, 'dilations', 2) ?? [1, 1];
  const [n, c, h, wd] = x.dims;
  const [f, , kh, kw] = w.dims;
  const [, , oh, ow] = y.dims;
  if (n !== 1 || y.dims[0] !== 1 || w.dims[1] !== c || y.dims[1] !== f) return null;
  if ([c, f, kh, kw, oh, ow].some((d) => d === 0)) return null;
  return { c, h, w: wd, f, kh, kw, oh, ow, strides, dilations };
}

/** Whether the patches matrix is the input itself, reshaped. */
function isPointwise(g: ConvGeometry): boolean {
  return g.kh === 1 && g.kw === 1 && g.strides.every((s) => s === 1) && g.oh === g.h && g.ow === g.w;
}

/** Operand SSA names of an `ins(...)` / `outs(...)` group: `%a, %b : types` → [%a, %b]. */
function operandNames(group: string): string[] {
  return group.slice(0, group.lastIndexOf(' : ')).split(',').map((s) => s.trim());
}

/** The replacement lines for one convolution, defining its original result name. */
function im2colMatmul(indent: string, result: string, x: string, w: string, init: string, g: ConvGeometry): string[] {
  const id = `%ortmlir_${result.slice(1).replace(/[^\w]/g, '_')}`;
  const k = g.c * g.kh * g.kw;
  const p = g.oh * g.ow;
  const out: string[] = [];
  const emit = (line: string) => out.push(indent + line);
  const xType = tensor([1, g.c, g.h, g.w]);
  let cols: string;
  if (isPointwise(g)) {
    cols = `${id}_cols`;
    emit(`${cols} = tensor.collapse_shape ${x} [[0, 1], [2, 3]] : ${xType} into ${tensor([k, p])}`);
  } else {
    const colShape = [g.c, g.kh, g.kw, g.oh, g.ow];
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;
    const dims = '(d0, d1, d2, d3, d4)';
    emit(`${id}_empty = tensor.empty() : ${tensor(colShape)}`);
    emit(`${id}_patches = linalg.generic {indexing_maps = [affine_map<${dims} -> (0, d0, d3 * ${sh} + d1 * ${dh}, d4 * ${sw} + d2 * ${dw})>, affine_map<${dims} -> ${dims}>], iterator_types = [${colShape.map(() => '"parallel"').join(', ')}]} ins(${x} : ${xType}) outs(${id}_empty : ${tensor(colShape)}) {`);
    emit(`^bb0(${id}_in: f32, ${id}_out: f32):`);
    emit(`  linalg.yield ${id}_in : f32`);
    emit(`} -> ${tensor(colShape)}`);
    cols = `${id}_cols`;
    emit(`${cols} = tensor.collapse_shape ${id}_patches [[0, 1, 2], [3, 4]] : ${tensor(colShape)} into ${tensor([k, p])}`);
  }
  emit(`${id}_w = tensor.collapse_shape ${w} [[0], [1, 2, 3]] : ${tensor([g.f, g.c, g.kh, g.kw])} into ${tensor([g.f, k])}`);
  emit(`${id}_acc = tensor.collapse_shape ${init} [[0, 1], [2, 3]] : ${tensor([1, g.f, g.oh, g.ow])} into ${tensor([g.f, p])}`);
  emit(`${id}_mm = linalg.matmul ins(${id}_w, ${cols} : ${tensor([g.f, k])}, ${tensor([k, p])}) outs(${id}_acc : ${tensor([g.f, p])}) -> ${tensor([g.f, p])}`);
  emit(`${result} = tensor.expand_shape ${id}_mm [[0, 1], [2, 3]] output_shape [1, ${g.f}, ${g.oh}, ${g.ow}] : ${tensor([g.f, p])} into ${tensor([1, g.f, g.oh, g.ow])}`);
  return out;
}

/** Replaces every eligible convolution in `lines` (mlir-opt's printed form) by im2col + linalg.matmul. */
export function rewriteConvsToMatmul(lines: readonly string[]): ConvRewrite {
  const replaced = new Map<number, string[]>();
  const summary: string[] = [];
  for (const op of scanStructuredOps(lines, new Set([CONV]))) {
    const g = geometry(op);
    const m = OP_LINE_PARTS.exec(lines[op.line]);
    if (!g || !m) continue;
    const [indent, result] = [m[1], m[2]];
    const [x, w] = operandNames(m[5]);
    const [init] = operandNames(m[6]);
    replaced.set(op.line, im2colMatmul(indent, result, x, w, init, g));
    summary.push(`${CONV} ${g.f}x${g.c}x${g.kh}x${g.kw} → ${isPointwise(g) ? '' : 'im2col + '}matmul ${g.f}x${g.oh * g.ow}x${g.c * g.kh * g.kw}`);
  }
  if (replaced.size === 0) return { lines: [...lines], summary };
  return { lines: lines.flatMap((l, i) => replaced.get(i) ?? [l]), summary };
}
