// Rewrites 2-D f32 convolutions (linalg.conv_2d_nchw_fchw, batch 1) in the
// prepared IR into weights × patches matmuls, which the matmul schedule then
// tiles and vectorizes (except those the caller keeps for the direct
// schedule, conv-direct.ts: stride 1 with exact micro-kernel tiles):
//
//   y[1, F, OH·OW] = W[F, C·KH·KW] × cols[C·KH·KW, OH·OW]
//
// cols is an im2col copy (a gather-form linalg.generic whose innermost loop
// runs along the output row, so it vectorizes for stride 1), built and
// consumed per block of output rows so it stays in cache (one copy of the
// whole image is ~90 MB for det's largest layers, and page faults dominated);
// the blocks are the unit of parallelism. Patches that fit in one block are
// copied whole, for one ordinary matmul. A 1×1 stride-1 convolution needs
// no copy, its input already is the matrix [C, H·W].
//
// Why here and not in the Conv lowering: the matmul must reach the schedule
// as a named op. linalg-fuse-elementwise-ops (which the pipeline runs after
// the schedules, toolchain/pipeline.ts) would otherwise propagate the
// reshapes into it, generalize it, and fuse the previous layer's elementwise
// epilogue into the contraction (recomputing it once per output channel).
import { denseIntsAttr, operandNames, scanStructuredOps, OP_LINE_PARTS, type StructuredOp } from './ir-scan.js';
import { PARALLEL_MIN_FLOPS } from './plan.js';
import { f32Tensor, serialLoopHead } from '../mlir-builder.js';

const CONV = 'linalg.conv_2d_nchw_fchw';
const F32_BYTES = 4;
/** Patches per chunk: small enough to stay in L2 next to the weights and the output tile. */
const CHUNK_BYTES = 256 * 1024;
/** Marks a matmul inside a chunk loop: its own tiling must stay sequential. */
export const NESTED_ATTR = 'ortmlir.nested';

export interface ConvRewrite {
  /** The IR with every eligible convolution replaced. */
  lines: string[];
  /** One line per rewritten convolution, for reports. */
  summary: string[];
  /** Whether some chunk loop is an scf.forall meant for several threads. */
  parallel: boolean;
}

export function convFlops(g: ConvGeometry): number {
  return 2 * g.f * g.oh * g.ow * g.c * g.kh * g.kw;
}

export interface ConvGeometry {
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


export function geometry(op: StructuredOp): ConvGeometry | null {
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

/** Names and types shared by the emitters of one convolution's replacement. */
export interface Emit {
  id: string;
  g: ConvGeometry;
  line(text: string): void;
}

/**
 * `patches` = the im2col patches [C, KH, KW, rows, OW] of output rows read
 * from `x` (rows·sh + taps input rows, all columns) and `cols` its [K, rows·OW] view.
 */
function emitPatches(e: Emit, x: string, xRows: number, rows: number, suffix: string): string {
  const { id, g } = e;
  const colShape = [g.c, g.kh, g.kw, rows, g.ow];
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const dims = '(d0, d1, d2, d3, d4)';
  const xType = f32Tensor([1, g.c, xRows, g.w]);
  e.line(`${id}_empty${suffix} = tensor.empty() : ${f32Tensor(colShape)}`);
  e.line(`${id}_patches${suffix} = linalg.generic {indexing_maps = [affine_map<${dims} -> (0, d0, d3 * ${sh} + d1 * ${dh}, d4 * ${sw} + d2 * ${dw})>, affine_map<${dims} -> ${dims}>], iterator_types = [${colShape.map(() => '"parallel"').join(', ')}]} ins(${x} : ${xType}) outs(${id}_empty${suffix} : ${f32Tensor(colShape)}) {`);
  e.line(`^bb0(${id}_in${suffix}: f32, ${id}_out${suffix}: f32):`);
  e.line(`  linalg.yield ${id}_in${suffix} : f32`);
  e.line(`} -> ${f32Tensor(colShape)}`);
  const cols = `${id}_cols${suffix}`;
  e.line(`${cols} = tensor.collapse_shape ${id}_patches${suffix} [[0, 1, 2], [3, 4]] : ${f32Tensor(colShape)} into ${f32Tensor([g.c * g.kh * g.kw, rows * g.ow])}`);
  return cols;
}

/** Input rows that `rows` consecutive output rows read. */
function inputRows(g: ConvGeometry, rows: number): number {
  return (rows - 1) * g.strides[0] + (g.kh - 1) * g.dilations[0] + 1;
}

/** A loop over chunks of an [F, OH·OW] accumulator, each computing `chunkCols` of its columns. */
export interface ChunkLoop {
  /** The loop's result. */
  out: string;
  /** The accumulator it starts from. */
  acc: string;
  chunks: number;
  /** Input rows from one chunk to the next (`${id}_r` is the chunk's first). */
  rowStep: number;
  chunkCols: number;
  /** An scf.forall (OpenMP) with threads, else an scf.for. */
  parallel: boolean;
}

/**
 * The chunk loop: `body` emits one chunk's lines (indented; `${id}_i` is the
 * chunk, `${id}_r` its first input row, `${id}_c` its first column, `${id}_o`
 * the accumulator) and returns
 * its part [F, chunkCols], which goes into the accumulator at `${id}_c`.
 * Returns the loop's result.
 */
export function emitChunkLoop(e: Emit, loop: ChunkLoop, body: (inner: Emit) => string): string {
  const { id, g } = e;
  const accType = f32Tensor([g.f, g.oh * g.ow]);
  const partType = f32Tensor([g.f, loop.chunkCols]);
  if (loop.parallel) {
    e.line(`${loop.out} = scf.forall (${id}_i) in (${loop.chunks}) shared_outs(${id}_o = ${loop.acc}) -> (${accType}) {`);
  } else {
    for (const l of serialLoopHead(id, loop.chunks, `${loop.out} = `, ` iter_args(${id}_o = ${loop.acc}) -> (${accType})`)) e.line(l);
  }
  const inner: Emit = { ...e, line: (t) => e.line(`  ${t}`) };
  inner.line(`${id}_r = affine.apply affine_map<(d0) -> (d0 * ${loop.rowStep})>(${id}_i)`);
  inner.line(`${id}_c = affine.apply affine_map<(d0) -> (d0 * ${loop.chunkCols})>(${id}_i)`);
  const part = body(inner);
  const into = `${id}_o[0, ${id}_c] [${g.f}, ${loop.chunkCols}] [1, 1] : ${partType} into ${accType}`;
  if (loop.parallel) {
    inner.line('scf.forall.in_parallel {');
    inner.line(`  tensor.parallel_insert_slice ${part} into ${into}`);
    inner.line('}');
  } else {
    inner.line(`${id}_next = tensor.insert_slice ${part} into ${into}`);
    inner.line(`scf.yield ${id}_next : ${accType}`);
  }
  e.line('}');
  return loop.out;
}

/**
 * The chunked form: a loop over blocks of `rows` output rows, each
 * building its own patches (a buffer of about CHUNK_BYTES that stays in
 * cache, instead of one im2col copy of the whole image) and multiplying
 * them into its columns of the output. With `parallel` the loop is an
 * scf.forall (OpenMP), else an scf.for; the matmul inside it is tagged
 * nested so that its own schedule stays sequential.
 */
function emitChunked(e: Emit, x: string, w: string, acc: string, rows: number, parallel: boolean): string {
  const { id, g } = e;
  const k = g.c * g.kh * g.kw;
  const p = g.oh * g.ow;
  const chunkCols = rows * g.ow;
  const xRows = inputRows(g, rows);
  const loop: ChunkLoop = { out: `${id}_loop`, acc, chunks: g.oh / rows, rowStep: rows * g.strides[0], chunkCols, parallel };
  return emitChunkLoop(e, loop, (inner) => {
    inner.line(`${id}_x = tensor.extract_slice ${x}[0, 0, ${id}_r, 0] [1, ${g.c}, ${xRows}, ${g.w}] [1, 1, 1, 1] : ${f32Tensor([1, g.c, g.h, g.w])} to ${f32Tensor([1, g.c, xRows, g.w])}`);
    const cols = emitPatches(inner, `${id}_x`, xRows, rows, '');
    inner.line(`${id}_os = tensor.extract_slice ${id}_o[0, ${id}_c] [${g.f}, ${chunkCols}] [1, 1] : ${f32Tensor([g.f, p])} to ${f32Tensor([g.f, chunkCols])}`);
    inner.line(`${id}_part = linalg.matmul {${NESTED_ATTR}} ins(${w}, ${cols} : ${f32Tensor([g.f, k])}, ${f32Tensor([k, chunkCols])}) outs(${id}_os : ${f32Tensor([g.f, chunkCols])}) -> ${f32Tensor([g.f, chunkCols])}`);
    return `${id}_part`;
  });
}

/** Output rows per chunk: the most whose patches fit CHUNK_BYTES, dividing OH (at least 1). */
export function chunkRows(g: ConvGeometry): number {
  const rowBytes = F32_BYTES * g.c * g.kh * g.kw * g.ow;
  let best = 1;
  for (let r = 1; r <= g.oh; r++) if (g.oh % r === 0 && r * rowBytes <= CHUNK_BYTES) best = r;
  return best;
}

/** The replacement lines for one convolution, defining its original result name. */
function im2colMatmul(indent: string, result: string, x: string, w: string, init: string, g: ConvGeometry, parallel: boolean): string[] {
  const id = `%ortmlir_${result.slice(1).replace(/[^\w]/g, '_')}`;
  const k = g.c * g.kh * g.kw;
  const p = g.oh * g.ow;
  const out: string[] = [];
  const e: Emit = { id, g, line: (text) => out.push(indent + text) };
  e.line(`${id}_w = tensor.collapse_shape ${w} [[0], [1, 2, 3]] : ${f32Tensor([g.f, g.c, g.kh, g.kw])} into ${f32Tensor([g.f, k])}`);
  e.line(`${id}_acc = tensor.collapse_shape ${init} [[0, 1], [2, 3]] : ${f32Tensor([1, g.f, g.oh, g.ow])} into ${f32Tensor([g.f, p])}`);
  /** The whole product by one matmul of the weights and `cols` [K, OH·OW]. */
  const wholeMatmul = (cols: string): string => {
    e.line(`${id}_mm = linalg.matmul ins(${id}_w, ${cols} : ${f32Tensor([g.f, k])}, ${f32Tensor([k, p])}) outs(${id}_acc : ${f32Tensor([g.f, p])}) -> ${f32Tensor([g.f, p])}`);
    return `${id}_mm`;
  };
  let mm: string;
  if (isPointwise(g)) {
    const cols = `${id}_cols`;
    e.line(`${cols} = tensor.collapse_shape ${x} [[0, 1], [2, 3]] : ${f32Tensor([1, g.c, g.h, g.w])} into ${f32Tensor([k, p])}`);
    mm = wholeMatmul(cols);
  } else if (g.oh === chunkRows(g)) {
    // One chunk: no loop around it, so the matmul is an ordinary one, whose schedule may share
    // its tiles out across threads (nested in a one-iteration loop, rec's 1×3 convolutions over
    // 960 channels ran on one of two threads) and take the epilogue into them.
    mm = wholeMatmul(emitPatches(e, x, g.h, g.oh, ''));
  } else {
    mm = emitChunked(e, x, `${id}_w`, `${id}_acc`, chunkRows(g), parallel);
  }
  e.line(`${result} = tensor.expand_shape ${mm} [[0, 1], [2, 3]] output_shape [1, ${g.f}, ${g.oh}, ${g.ow}] : ${f32Tensor([g.f, p])} into ${f32Tensor([1, g.f, g.oh, g.ow])}`);
  return out;
}

/** A convolution's line in mlir-opt's printed form, taken apart. */
export interface ConvSite {
  g: ConvGeometry;
  indent: string;
  result: string;
  /** Input, weight and accumulator (init) operands. */
  x: string;
  w: string;
  init: string;
  line: number;
}

/** What replaces one convolution. */
export interface ConvReplacement {
  lines: string[];
  summary: string;
  parallel: boolean;
}

/** `lines` with each convolution that `replace` gives a replacement for replaced (conv-winograd.ts and the im2col form here). */
export function replaceConvs(lines: readonly string[], replace: (site: ConvSite) => ConvReplacement | null): ConvRewrite {
  const replaced = new Map<number, string[]>();
  const summary: string[] = [];
  let anyParallel = false;
  for (const op of scanStructuredOps(lines, new Set([CONV]))) {
    const g = geometry(op);
    const m = OP_LINE_PARTS.exec(lines[op.line]);
    if (!g || !m) continue;
    const [x, w] = operandNames(m[5]);
    const [init] = operandNames(m[6]);
    const r = replace({ g, indent: m[1], result: m[2], x, w, init, line: op.line });
    if (!r) continue;
    replaced.set(op.line, r.lines);
    summary.push(r.summary);
    anyParallel ||= r.parallel;
  }
  if (replaced.size === 0) return { lines: [...lines], summary, parallel: false };
  return { lines: lines.flatMap((l, i) => replaced.get(i) ?? [l]), summary, parallel: anyParallel };
}

/** Replaces every eligible convolution in `lines` (mlir-opt's printed form) by im2col + linalg.matmul, except those `keep` selects. */
export function rewriteConvsToMatmul(lines: readonly string[], threads: number, keep: (g: ConvGeometry) => boolean = () => false): ConvRewrite {
  return replaceConvs(lines, ({ g, indent, result, x, w, init }) => {
    if (keep(g)) return null;
    const chunks = g.oh / chunkRows(g);
    const parallel = !isPointwise(g) && threads > 1 && chunks > 1 && convFlops(g) >= PARALLEL_MIN_FLOPS;
    const how = isPointwise(g) ? '' : chunks === 1 ? 'im2col + ' : `${chunks} ${parallel ? 'parallel ' : ''}chunks of im2col + `;
    return {
      lines: im2colMatmul(indent, result, x, w, init, g, parallel),
      summary: `${CONV} ${g.f}x${g.c}x${g.kh}x${g.kw} → ${how}matmul ${g.f}x${g.oh * g.ow}x${g.c * g.kh * g.kw}`,
      parallel,
    };
  });
}
