// Schedules for linalg.matmul and linalg.batch_matmul (f32): cache tiles
// (scf.forall, parallel across threads when the work is large enough), then
// a register-blocked micro-kernel of microRows × (vectorsPerRow·lanes)
// accumulators over k steps of 1. After vectorization the accumulator
// transfers are hoisted out of the k loop and the contraction becomes
// broadcast-FMAs (outer products). Dimensions the tiles don't divide are
// peeled: full tiles stay static, the remainder tile is vectorized masked.
import { resultName, scanStructuredOps, tagGeneric, tagOp, valueToken, type StructuredOp } from './ir-scan.js';
import { NESTED_ATTR } from './conv-im2col.js';
import { fillLine, findEpilogue, type Epilogue } from './epilogue.js';
import { needsPeel, PARALLEL_MIN_FLOPS, roundDownTo, TILES_PER_THREAD, type PlannedOp, type ScheduleContext } from './plan.js';
import type { TransformScript } from './transform-script.js';
import { dividingRows, microColumns, type VectorTarget } from './target.js';

/** Cache tile (rows × columns of the output) per forall iteration. */
export const CACHE_TILE_ROWS = 64;
export const CACHE_TILE_COLS = 128;

export interface MatmulShape {
  batch: number;
  m: number;
  n: number;
  k: number;
}

interface MatmulTiles {
  /** Output tile per forall iteration (rows, cols). */
  cache: [number, number];
  /** Micro-kernel (rows, cols). */
  micro: [number, number];
  parallel: boolean;
  /**
   * Whether the cache tiles divide the matrix, so that after peeling every
   * tile, remainders included, has a static shape and vectorizes exactly
   * (a remainder of 8 columns as 8-lane vectors). Otherwise tiles are
   * vectorized at the micro-kernel size with masks, which costs about a
   * full tile per remainder (480×72 from 480×480×72: twice the time of 64).
   */
  exact: boolean;
}

/** A cache tile of at most `max` (a multiple of `step`) that divides `extent` if one does, else the largest. */
export function dividingTile(extent: number, step: number, max: number): number {
  if (extent <= max) return extent;
  const top = roundDownTo(max, step);
  for (let t = top; t >= step; t -= step) if (extent % t === 0) return t;
  return top;
}

function matmulShape(op: StructuredOp): MatmulShape | null {
  const [a, b] = op.inputs;
  const [c] = op.outputs;
  if (!a || !b || !c || op.inputs.length !== 2 || op.outputs.length !== 1) return null;
  if (a.elem !== 'f32' || b.elem !== 'f32' || c.elem !== 'f32') return null;
  if (op.name === 'linalg.matmul' && a.dims.length === 2 && b.dims.length === 2) {
    return { batch: 1, m: a.dims[0], k: a.dims[1], n: b.dims[1] };
  }
  if (op.name === 'linalg.batch_matmul' && a.dims.length === 3 && b.dims.length === 3) {
    return { batch: a.dims[0], m: a.dims[1], k: a.dims[2], n: b.dims[2] };
  }
  return null;
}

/**
 * About half of tile `t` (a multiple of `step`) for a dimension of `extent`;
 * where `t` divides the extent, only a size that divides it too (null if
 * none): a remainder tile is masked, and costs about a full tile.
 */
function halfTile(extent: number, t: number, step: number): number | null {
  if (t <= step) return null;
  const half = roundDownTo(Math.ceil(t / 2), step);
  if (extent % t !== 0) return half;
  for (let h = half; h >= step; h -= step) if (extent % h === 0) return h;
  return null;
}

/**
 * Halves the larger cache tile dimension (keeping micro-kernel multiples,
 * and exact tiles exact) until every thread has work. rec's 1×3
 * convolutions (60 × 40 outputs) took 1.7 times as long on two threads in
 * [12, 32] tiles, a third of them masked, as on one; in [12, 40] they share
 * out five exact tiles.
 */
function splitForThreads(s: MatmulShape, cache: [number, number], micro: [number, number], threads: number): [number, number] {
  let [tm, tn] = cache;
  const tiles = () => s.batch * Math.ceil(s.m / tm) * Math.ceil(s.n / tn);
  while (tiles() < threads * TILES_PER_THREAD) {
    const m = halfTile(s.m, tm, micro[0]);
    const n = halfTile(s.n, tn, micro[1]);
    if (m === null && n === null) break;
    if (m !== null && (tm >= tn || n === null)) tm = m;
    else if (n !== null) tn = n;
  }
  return [tm, tn];
}

/** The micro-kernel's rows for `m` rows: a height that divides them (dividingRows), else the default (the remainder peeled or masked). */
function microRows(t: VectorTarget, m: number): number {
  return dividingRows(t, m) ?? Math.min(t.microRows, m);
}

export function matmulTiles(s: MatmulShape, ctx: ScheduleContext): MatmulTiles {
  const { target } = ctx;
  const cols = microColumns(target);
  // A dimension smaller than the kernel becomes the kernel: static, no masks.
  const micro: [number, number] = [microRows(target, s.m), s.n < cols ? s.n : cols];
  // Up to twice the nominal column tile when that covers N in one tile (rec's 144-pixel rows).
  const colLimit = s.n <= 2 * CACHE_TILE_COLS ? s.n : CACHE_TILE_COLS;
  let cache: [number, number] = [dividingTile(s.m, micro[0], CACHE_TILE_ROWS), dividingTile(s.n, micro[1], colLimit)];
  const parallel = ctx.threads > 1 && 2 * s.batch * s.m * s.n * s.k >= PARALLEL_MIN_FLOPS;
  if (parallel) cache = splitForThreads(s, cache, micro, ctx.threads);
  return { cache, micro, parallel, exact: s.m % cache[0] === 0 && s.n % cache[1] === 0 };
}

/** Whether every tile, remainders included, is static and unmasked (what an epilogue schedule needs). */
function wholeTiles(s: MatmulShape, t: MatmulTiles): boolean {
  return t.exact && !needsPeel(s.m, t.cache[0], t.micro[0]) && !needsPeel(s.n, t.cache[1], t.micro[1]);
}

const MATMUL_NAMES: ReadonlySet<string> = new Set(['linalg.matmul', 'linalg.batch_matmul']);

/**
 * Gives a matmul with no elementwise consumer, whose zero-fill is its own
 * and whose tiles are all whole, a copy as its epilogue, so that
 * fusedPlan computes the fill in each tile: the accumulators start as zero
 * registers. Otherwise the whole output is memset first and each tile
 * loads it back; for det's ConvTranspose matmuls (K = 24, 9.8 MB of output)
 * that is most of their time. (Fusing the fill through the tile loops'
 * iteration arguments with transform.structured.fuse would also fuse every
 * other producer, such as im2col, into each tile.) Returns the lines, rewritten.
 */
export function addCopyEpilogues(input: readonly string[], ctx: ScheduleContext): string[] {
  const lines = [...input];
  let next = 0;
  for (const op of scanStructuredOps(input, MATMUL_NAMES).reverse()) {
    const s = matmulShape(op);
    const result = resultName(lines[op.line]);
    if (!s || !result || op.attrs.includes(NESTED_ATTR) || !wholeTiles(s, matmulTiles(s, ctx))) continue;
    if (findEpilogue(lines, op) || fillLine(lines, op) < 0) continue;
    const [out] = op.outputs;
    const type = `tensor<${out.dims.join('x')}x${out.elem}>`;
    const dims = out.dims.map((_, i) => `d${i}`).join(', ');
    const id = `affine_map<(${dims}) -> (${dims})>`;
    const iterators = out.dims.map(() => '"parallel"').join(', ');
    const indent = /^\s*/.exec(lines[op.line])?.[0] ?? '';
    const copy = `%ortmlir_copy_${next++}`;
    const token = valueToken(result, 'g');
    for (let i = op.line + 1; i < lines.length; i++) lines[i] = lines[i].replace(token, copy);
    // `+ 0.0`, not a bare copy: canonicalization erases identity generics, and with it the
    // epilogue the fill is fused under. Exact here: a sum started at +0.0 is never -0.0.
    lines.splice(op.line + 1, 0,
      `${indent}${copy}_zero = arith.constant 0.000000e+00 : ${out.elem}`,
      `${indent}${copy}_init = tensor.empty() : ${type}`,
      `${indent}${copy} = linalg.generic {indexing_maps = [${id}, ${id}], iterator_types = [${iterators}]} ins(${result} : ${type}) outs(${copy}_init : ${type}) {`,
      `${indent}^bb0(${copy}_in: ${out.elem}, ${copy}_out: ${out.elem}):`,
      `${indent}  ${copy}_sum = arith.addf ${copy}_in, ${copy}_zero : ${out.elem}`,
      `${indent}  linalg.yield ${copy}_sum : ${out.elem}`,
      `${indent}} -> ${type}`);
  }
  return lines;
}

export function planMatmul(op: StructuredOp, ctx: ScheduleContext, lines: readonly string[]): PlannedOp | null {
  const s = matmulShape(op);
  if (!s || s.m === 0 || s.n === 0 || s.k === 0) return null;
  const tiles = matmulTiles(s, ctx);
  const { cache, micro, parallel, exact } = tiles;
  // Fused only where no tile needs peeling: a remainder tile of the epilogue would need masks at each level.
  const epilogue = wholeTiles(s, tiles) ? findEpilogue(lines, op) : null;
  if (epilogue) return fusedPlan(op, s, tiles, epilogue);
  const batched = op.name === 'linalg.batch_matmul';
  const lead = batched ? [1] : [];
  return {
    parallel,
    summary: `${op.name} ${batched ? `${s.batch}x` : ''}${s.m}x${s.n}x${s.k}: ${parallel ? 'forall' : 'for'} [${cache.join(', ')}] / micro [${micro.join(', ')}, 1]${exact ? '' : ', masked'}`,
    tile(w: TransformScript, tag: number): void {
      const h = w.matchTagged(op.name, tag);
      const outer = parallel ? w.tileForall(h, [...lead, ...cache]) : w.tileFor(h, [...lead, ...cache, 0]);
      const inner = w.tileFor(outer.op, [...(batched ? [0] : []), ...micro, 1]);
      const [rowLoop, colLoop] = inner.loops;
      // Inner loops first: peeling the outer one clones the (already peeled) inner ones.
      if (needsPeel(s.n, cache[1], micro[1])) w.peel(colLoop);
      if (needsPeel(s.m, cache[0], micro[0])) w.peel(rowLoop);
    },
    vectorize(w: TransformScript, tag: number): void {
      w.vectorize(w.matchTagged(op.name, tag), exact ? undefined : [...lead, ...micro, 1]);
    },
  };
}

/**
 * The matmul computed inside the tiles of its epilogue (epilogue.ts): the
 * epilogue generic is tiled like the matmul's output (cache tiles, then
 * micro-kernel tiles), the matmul and its zero-fill are fused into each
 * micro tile, and the matmul's k loop is tiled by 1. After vectorization the
 * epilogue reads the accumulators in registers and only its result is stored.
 */
function fusedPlan(op: StructuredOp, s: MatmulShape, tiles: MatmulTiles, epilogue: Epilogue): PlannedOp {
  const { cache, micro, parallel } = tiles;
  const batched = op.name === 'linalg.batch_matmul';
  const lead = batched ? [1] : [];
  const noBatch = batched ? [0] : [];
  return {
    parallel,
    summary: `${op.name} ${batched ? `${s.batch}x` : ''}${s.m}x${s.n}x${s.k} + epilogue: ${parallel ? 'forall' : 'for'} [${cache.join(', ')}] / micro [${micro.join(', ')}, 1]`,
    tagExtra(lines: string[], tag: number): void {
      tagGeneric(lines, epilogue.generic, tag);
      tagOp(lines, { line: epilogue.fill }, tag);
    },
    tile(w: TransformScript, tag: number): void {
      const generic = w.matchTagged('linalg.generic', tag);
      const matmul = w.matchTagged(op.name, tag);
      const fill = w.matchTagged('linalg.fill', tag);
      const outer = parallel ? w.tileForall(generic, [...lead, ...cache]) : w.tileFor(generic, [...lead, ...cache]);
      const m1 = w.fuseInto(matmul, outer.loops[outer.loops.length - 1]);
      const f1 = w.fuseInto(fill, m1.loop);
      const inner = w.tileFor(outer.op, [...noBatch, ...micro]);
      const m2 = w.fuseInto(m1.op, inner.loops[inner.loops.length - 1]);
      w.fuseInto(f1.op, m2.loop);
      w.tileFor(m2.op, [...noBatch, 0, 0, 1]);
    },
    vectorize(w: TransformScript, tag: number): void {
      for (const name of ['linalg.fill', op.name, 'linalg.generic']) w.vectorize(w.matchTagged(name, tag));
    },
  };
}

