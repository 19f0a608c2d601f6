// Rewrites 3×3 stride-1 f32 convolutions (linalg.conv_2d_nchw_fchw, batch 1)
// into Winograd's minimal filtering F(4, 3) along the output rows: four
// output rows from six transformed input rows take six multiplies per tap
// column where the direct form takes twelve. det's neck and head (96→24 at
// 20² … 160²) are about 40 % of its run and ran at the FMA peak already, so
// only fewer multiplies could make them faster.
//
// Per tile of four output rows (Lavin & Gray's F(4, 3), along the rows only):
//
//   y[4t + q, ow] = Σ_i AT[q, i] · M_i[f, t, ow]
//   M_i[f, t, ow] = Σ_(c, kx) U_i[f, c, kx] · T_i[c, t, ow + kx]
//   U_i = Σ_a G[i, a] · w[f, c, a, kx]      (the filter, once a run)
//   T_i = Σ_a BT[i, a] · x[c, 4t + a, :]    (six rows of the padded input)
//
// so each point i is a 1×3 convolution of T_i, run by the direct schedule
// (conv-direct.ts), or where its 32-column kernel does not divide the row a
// matmul [F, 3C] × [3C, tiles·OW] of T_i's three shifted copies (matmul.ts).
// The columns stay contiguous: every transform is a generic whose innermost
// loop runs along the row (LLVM vectorizes it). Error on det's 96→24 layer
// with inputs in ±1: at most 2e-6 of the largest output, about five times
// the direct sums' (the README has the numbers).
//
// Like the im2col form (conv-im2col.ts) the work goes in chunks of tile rows
// whose transformed rows stay in L2, and the chunks are the unit of
// parallelism.
import { affineMap, BUFFER_ALIGNMENT, f32Memref, f32Tensor, fillSliceLines, floatLiteral, identityMap } from '../mlir-builder.js';
import { convFlops, emitChunkLoop, NESTED_ATTR, replaceConvs, type ConvGeometry, type ConvRewrite, type Emit } from './conv-im2col.js';
import { definitionLine } from './ir-scan.js';
import { ZERO_F32, zeroPadAt, type ZeroPad } from './pad-split.js';
import { directConvFits, padBehind } from './conv-direct.js';
import { PARALLEL_MIN_FLOPS, type ScheduleContext } from './plan.js';

const CONV = 'linalg.conv_2d_nchw_fchw';
/** A fill's value operand. */
const FILL_OF = /= linalg\.fill ins\((%[\w.$-]+) : f32\)/;

/** Output rows per tile (the m of F(m, 3)). */
const TILE_ROWS = 4;
/** Transformed rows per tile: m + r - 1. */
const POINTS = 6;
const TAPS = 3;
/** BT [POINTS, POINTS]: V_i = Σ_a BT[i, a] · d[a]. */
const BT: readonly (readonly number[])[] = [
  [4, 0, -5, 0, 1, 0],
  [0, -4, -4, 1, 1, 0],
  [0, 4, -4, -1, 1, 0],
  [0, -2, -1, 2, 1, 0],
  [0, 2, -1, -2, 1, 0],
  [0, 4, 0, -5, 0, 1],
];
/** G [POINTS, TAPS]: U_i = Σ_a G[i, a] · g[a]. */
const G: readonly (readonly number[])[] = [
  [1 / 4, 0, 0],
  [-1 / 6, -1 / 6, -1 / 6],
  [-1 / 6, 1 / 6, -1 / 6],
  [1 / 24, 1 / 12, 1 / 6],
  [1 / 24, -1 / 12, 1 / 6],
  [0, 0, 1],
];
/** AT [TILE_ROWS, POINTS]: y[q] = Σ_i AT[q, i] · m_i. */
const AT: readonly (readonly number[])[] = [
  [1, 1, 1, 1, 1, 0],
  [0, 1, -1, 2, -2, 0],
  [0, 1, 1, 4, 4, 0],
  [0, 1, -1, 8, -8, 1],
];
const F32_BYTES = 4;
/** A chunk's transformed rows for one point (as the matmul's V_i: three shifted copies) stay within this, in L2. */
const CHUNK_BYTES = 256 * 1024;
/**
 * Below this the filter transform and the extra passes cost more than the
 * multiplies saved; smaller channel counts make the matmuls' K (3C) too short.
 */
const MIN_FLOPS = 8_000_000;
const MIN_CHANNELS = 8;

/** Whether `g` (the convolution of an already padded input) gets the Winograd form. */
export function winogradFits(g: ConvGeometry): boolean {
  const unit = (v: readonly number[]) => v.every((s) => s === 1);
  return g.kh === TAPS && g.kw === TAPS && unit(g.strides) && unit(g.dilations) && g.oh % TILE_ROWS === 0
    && g.h === g.oh + TAPS - 1 && g.w === g.ow + TAPS - 1 && g.c >= MIN_CHANNELS && g.f >= MIN_CHANNELS
    && 2 * g.f * g.c * TAPS * TAPS * g.oh * g.ow >= MIN_FLOPS;
}

/** Tile rows per chunk: the most whose V_i fits CHUNK_BYTES, dividing the tile rows (at least 1). */
export function winogradChunkTiles(g: ConvGeometry): number {
  const tiles = g.oh / TILE_ROWS;
  const tileBytes = F32_BYTES * g.c * TAPS * g.ow;
  let best = 1;
  for (let r = 1; r <= tiles; r++) if (tiles % r === 0 && r * tileBytes <= CHUNK_BYTES) best = r;
  return best;
}

/** The dense constant of a 2-D table. */
function denseTable(rows: readonly (readonly number[])[]): string {
  return `dense<[${rows.map((r) => `[${r.map((v) => floatLiteral(v, 'f32')).join(', ')}]`).join(', ')}]> : ${f32Tensor([rows.length, rows[0].length])}`;
}

interface Term {
  operand: string;
  coef: number;
}

/** Body lines computing `Σ coef · operand` (`value`): ±1 as adds and subtractions, other coefficients as FMAs. */
function sumBody(p: string, terms: readonly Term[]): { lines: string[]; value: string } {
  const constants: string[] = [];
  const ops: string[] = [];
  let acc: string | null = null;
  terms.forEach(({ operand, coef }, n) => {
    const next = `${p}_s${n}`;
    const k = `${p}_k${n}`;
    if (Math.abs(coef) !== 1) constants.push(`${k} = arith.constant ${floatLiteral(coef, 'f32')} : f32`);
    if (acc === null && coef === 1) {
      acc = operand;
      return;
    }
    if (acc === null) ops.push(coef === -1 ? `${next} = arith.negf ${operand} : f32` : `${next} = arith.mulf ${operand}, ${k} : f32`);
    else if (coef === 1) ops.push(`${next} = arith.addf ${acc}, ${operand} : f32`);
    else if (coef === -1) ops.push(`${next} = arith.subf ${acc}, ${operand} : f32`);
    else ops.push(`${next} = math.fma ${operand}, ${k}, ${acc} : f32`);
    acc = next;
  });
  if (acc === null) throw new Error(`conv-winograd: ${p} sums no terms`);
  return { lines: [...constants, ...ops], value: acc };
}

/** U [POINTS, F, C, TAPS] = G · w along the tap rows: one generic, once a run (F·C·54 FMAs). */
function emitFilterTransform(e: Emit, w: string): string {
  const { id, g } = e;
  const uType = f32Tensor([POINTS, g.f, g.c, TAPS]);
  e.line(`${id}_g = arith.constant ${denseTable(G)}`);
  e.line(`${id}_ue = tensor.empty() : ${uType}`);
  e.line(`${id}_uz = linalg.fill ins(${id}_zero : f32) outs(${id}_ue : ${uType}) -> ${uType}`);
  const maps = [affineMap(5, ['d0', 'd4']), affineMap(5, ['d1', 'd2', 'd4', 'd3']), affineMap(5, ['d0', 'd1', 'd2', 'd3'])];
  e.line(`${id}_u = linalg.generic {indexing_maps = [${maps.join(', ')}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(${id}_g, ${w} : ${f32Tensor([POINTS, TAPS])}, ${f32Tensor([g.f, g.c, TAPS, TAPS])}) outs(${id}_uz : ${uType}) {`);
  e.line(`^bb0(${id}_gi: f32, ${id}_wi: f32, ${id}_ui: f32):`);
  e.line(`  ${id}_us = math.fma ${id}_gi, ${id}_wi, ${id}_ui : f32`);
  e.line(`  linalg.yield ${id}_us : f32`);
  e.line(`} -> ${uType}`);
  return `${id}_u`;
}

/** U_i (`i` an index value) as the matmul's [F, C·TAPS] operand. */
function emitFilterSlice(e: Emit, u: string, i: string): string {
  const { id, g } = e;
  e.line(`${id}_uis = tensor.extract_slice ${u}[${i}, 0, 0, 0] [1, ${g.f}, ${g.c}, ${TAPS}] [1, 1, 1, 1] : ${f32Tensor([POINTS, g.f, g.c, TAPS])} to ${f32Tensor([g.f, g.c, TAPS])}`);
  e.line(`${id}_ui = tensor.collapse_shape ${id}_uis [[0], [1, 2]] : ${f32Tensor([g.f, g.c, TAPS])} into ${f32Tensor([g.f, g.c * TAPS])}`);
  return `${id}_ui`;
}

/**
 * T [POINTS, C, tiles, W]: BT times the six input rows of each tile of the
 * chunk's rows `x` ([C, 4·tiles + 2, W]). One generic reads the six rows
 * once and yields all six points, with BT's nonzero terms only (±1 as adds).
 * Its results go into one buffer's slices (as in depthwise-rows.ts:
 * one-shot bufferization cannot prove slices of one tensor apart, and would
 * compute all but one into temporaries and copy them in).
 */
function emitRowTransform(e: Emit, x: ChunkRows, tiles: number): string {
  const { id, g } = e;
  const p = `${id}_t`;
  const xType = f32Tensor([g.c, TILE_ROWS * tiles + TAPS - 1, x.columns]);
  // Without the unit tile dimension of one-tile chunks: unit-dim folding would put reshapes
  // between the generic and the slices, and the results would be copied in after all.
  const one = tiles === 1;
  const part = one ? [g.c, g.w] : [g.c, tiles, g.w];
  const written = [...part.slice(0, -1), x.columns];
  const tType = f32Tensor(written);
  const all = [POINTS, ...part];
  const points = BT.map((_, i) => i);
  const rows = BT[0].map((_, a) => a);
  const rank = part.length;
  const inner = part.map((_, d) => (d === rank - 1 ? x.border : 0));
  const inputMap = (a: number) => affineMap(rank, one ? ['d0', `${a}`, 'd1'] : ['d0', `d1 * ${TILE_ROWS} + ${a}`, 'd2']);
  const parallel = part.map(() => '"parallel"').join(', ');
  const maps = [...rows.map(inputMap), ...points.map(() => identityMap(rank))];
  e.line(`${p}m = memref.alloc() {alignment = ${BUFFER_ALIGNMENT} : i64} : ${f32Memref(all)}`);
  e.line(`${p}e = tensor.empty() : ${tType}`);
  e.line(`${p}g:${POINTS} = linalg.generic {indexing_maps = [${maps.join(', ')}], iterator_types = [${parallel}]} ins(${rows.map(() => x.value).join(', ')} : ${rows.map(() => xType).join(', ')}) outs(${points.map(() => `${p}e`).join(', ')} : ${points.map(() => tType).join(', ')}) {`);
  e.line(`^bb0(${rows.map((a) => `${p}_x${a}: f32`).join(', ')}, ${points.map((i) => `${p}_o${i}: f32`).join(', ')}):`);
  const yields = points.map((i) => {
    const terms = BT[i].flatMap((coef, a) => (coef === 0 ? [] : [{ operand: `${p}_x${a}`, coef }]));
    const { lines, value } = sumBody(`${p}${i}`, terms);
    for (const l of lines) e.line(`  ${l}`);
    return value;
  });
  e.line(`  linalg.yield ${yields.join(', ')} : ${points.map(() => 'f32').join(', ')}`);
  e.line(`} -> (${points.map(() => tType).join(', ')})`);
  const stride = part.reduce((n, d) => n * d, 1);
  const strides = part.map((_, d) => part.slice(d + 1).reduce((n, k) => n * k, 1));
  const sliceType = (i: number) => `memref<${written.join('x')}xf32, strided<[${strides.join(', ')}], offset: ${i * stride + x.border}>>`;
  for (const i of points) {
    e.line(`${p}s${i} = memref.subview ${p}m[${i}, ${inner.join(', ')}] [1, ${written.join(', ')}] [${all.map(() => 1).join(', ')}] : ${f32Memref(all)} to ${sliceType(i)}`);
    e.line(`bufferization.materialize_in_destination ${p}g#${i} in restrict writable ${p}s${i} : (${tType}, ${sliceType(i)}) -> ()`);
  }
  if (x.border > 0) emitZeroColumns(e, `${p}m`, all, x.border);
  if (!one) {
    e.line(`${p} = bufferization.to_tensor ${p}m restrict writable : ${f32Memref(all)} to ${f32Tensor(all)}`);
    return p;
  }
  e.line(`${p}f = bufferization.to_tensor ${p}m restrict writable : ${f32Memref(all)} to ${f32Tensor(all)}`);
  e.line(`${p} = tensor.expand_shape ${p}f [[0], [1], [2, 3]] output_shape [${POINTS}, ${g.c}, 1, ${g.w}] : ${f32Tensor(all)} into ${f32Tensor([POINTS, g.c, 1, g.w])}`);
  return p;
}

/** Zeroes the `border` first and last columns of the buffer `m` of shape `all`. */
function emitZeroColumns(e: Emit, m: string, all: readonly number[], border: number): void {
  const { id } = e;
  const strides = all.map((_, d) => all.slice(d + 1).reduce((n, k) => n * k, 1));
  const width = all[all.length - 1];
  const edge = [...all.slice(0, -1), border];
  [0, width - border].forEach((column, n) => {
    const type = `memref<${edge.join('x')}xf32, strided<[${strides.join(', ')}]${column ? `, offset: ${column}` : ''}>>`;
    e.line(`${id}_tz${n} = memref.subview ${m}[${[...all.slice(0, -1).map(() => 0), column].join(', ')}] [${edge.join(', ')}] [${all.map(() => 1).join(', ')}] : ${f32Memref(all)} to ${type}`);
    e.line(`linalg.fill ins(${id}_zero : f32) outs(${id}_tz${n} : ${type})`);
  });
}

/** V_i [C·TAPS, tiles·OW]: T_i's rows (`i` an index value) at each tap column's shift (the matmul's operand, im2col along the row only). */
function emitShifts(e: Emit, all: string, i: string, tiles: number): string {
  const { id, g } = e;
  const p = `${id}_v`;
  const t = `${p}i`;
  e.line(`${t} = tensor.extract_slice ${all}[${i}, 0, 0, 0] [1, ${g.c}, ${tiles}, ${g.w}] [1, 1, 1, 1] : ${f32Tensor([POINTS, g.c, tiles, g.w])} to ${f32Tensor([g.c, tiles, g.w])}`);
  const vShape = [g.c, TAPS, tiles, g.ow];
  const maps = [affineMap(4, ['d0', 'd2', 'd3 + d1']), identityMap(4)];
  e.line(`${p}e = tensor.empty() : ${f32Tensor(vShape)}`);
  e.line(`${p}t = linalg.generic {indexing_maps = [${maps.join(', ')}], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(${t} : ${f32Tensor([g.c, tiles, g.w])}) outs(${p}e : ${f32Tensor(vShape)}) {`);
  e.line(`^bb0(${p}_x: f32, ${p}_o: f32):`);
  e.line(`  linalg.yield ${p}_x : f32`);
  e.line(`} -> ${f32Tensor(vShape)}`);
  e.line(`${p} = tensor.collapse_shape ${p}t [[0, 1], [2, 3]] : ${f32Tensor(vShape)} into ${f32Tensor([g.c * TAPS, tiles * g.ow])}`);
  return p;
}

/**
 * M_i as a 1×3 convolution of T_i [1, C, tiles, W] by U_i [F, C, 1, 3] into
 * slice `i` of `all`: the direct schedule (conv-direct.ts) reads T_i's rows
 * at each tap's shift, so V_i (three shifted copies) is never made.
 */
function emitRowConv(e: Emit, u: string, t: string, all: string, i: string, tiles: number): string {
  const { id, g } = e;
  const m = `${id}_m`;
  const flat = f32Tensor([g.f, tiles * g.ow]);
  const outType = f32Tensor([1, g.f, tiles, g.ow]);
  const xType = f32Tensor([1, g.c, tiles, g.w]);
  const wType = f32Tensor([g.f, g.c, 1, TAPS]);
  const allType = f32Tensor([POINTS, g.f, tiles * g.ow]);
  const slice = `[${i}, 0, 0] [1, ${g.f}, ${tiles * g.ow}] [1, 1, 1]`;
  e.line(`${m}x = tensor.extract_slice ${t}[${i}, 0, 0, 0] [1, ${g.c}, ${tiles}, ${g.w}] [1, 1, 1, 1] : ${f32Tensor([POINTS, g.c, tiles, g.w])} to ${xType}`);
  e.line(`${m}us = tensor.extract_slice ${u}[${i}, 0, 0, 0] [1, ${g.f}, ${g.c}, ${TAPS}] [1, 1, 1, 1] : ${f32Tensor([POINTS, g.f, g.c, TAPS])} to ${f32Tensor([g.f, g.c, TAPS])}`);
  e.line(`${m}w = tensor.expand_shape ${m}us [[0], [1], [2, 3]] output_shape [${g.f}, ${g.c}, 1, ${TAPS}] : ${f32Tensor([g.f, g.c, TAPS])} into ${wType}`);
  e.line(`${m}s = tensor.extract_slice ${all}${slice} : ${allType} to ${flat}`);
  e.line(`${m}o = tensor.expand_shape ${m}s [[0, 1], [2, 3]] output_shape [1, ${g.f}, ${tiles}, ${g.ow}] : ${flat} into ${outType}`);
  e.line(`${m}z = linalg.fill ins(${id}_zero : f32) outs(${m}o : ${outType}) -> ${outType}`);
  e.line(`${m}c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, ${NESTED_ATTR}, strides = dense<1> : tensor<2xi64>} ins(${m}x, ${m}w : ${xType}, ${wType}) outs(${m}z : ${outType}) -> ${outType}`);
  e.line(`${m}f = tensor.collapse_shape ${m}c [[0, 1], [2, 3]] : ${outType} into ${flat}`);
  e.line(`${m} = tensor.insert_slice ${m}f into ${all}${slice} : ${flat} into ${allType}`);
  return m;
}

/** M_i = U_i · V_i [F, tiles·OW] into slice `i` of `all` [POINTS, F, tiles·OW]; returns `all` with it. */
function emitProduct(e: Emit, u: string, v: string, all: string, i: string, tiles: number): string {
  const { id, g } = e;
  const m = `${id}_m`;
  const type = f32Tensor([g.f, tiles * g.ow]);
  const allType = f32Tensor([POINTS, g.f, tiles * g.ow]);
  const slice = `[${i}, 0, 0] [1, ${g.f}, ${tiles * g.ow}] [1, 1, 1]`;
  e.line(`${m}s = tensor.extract_slice ${all}${slice} : ${allType} to ${type}`);
  e.line(`${m}z = linalg.fill ins(${id}_zero : f32) outs(${m}s : ${type}) -> ${type}`);
  e.line(`${m}f = linalg.matmul {${NESTED_ATTR}} ins(${u}, ${v} : ${f32Tensor([g.f, g.c * TAPS])}, ${f32Tensor([g.c * TAPS, tiles * g.ow])}) outs(${m}z : ${type}) -> ${type}`);
  e.line(`${m} = tensor.insert_slice ${m}f into ${all}${slice} : ${type} into ${allType}`);
  return m;
}

/**
 * `y` [F, tiles, 4, OW] plus AT · M (`all` [POINTS, F, tiles·OW]): a
 * reduction over the points, ordered before the output column so that the
 * innermost loop runs along the row (a reduction, so that the accumulator
 * stays this generic's init: elementwise generics get their init moved to
 * an input, and the chunk would no longer be computed in place).
 */
function emitOutputTransform(e: Emit, y: string, all: string, at: string, tiles: number): string {
  const { id, g } = e;
  const rowsType = f32Tensor([g.f, tiles, TILE_ROWS, g.ow]);
  const mType = f32Tensor([POINTS, g.f, tiles, g.ow]);
  e.line(`${id}_mx = tensor.expand_shape ${all} [[0], [1], [2, 3]] output_shape [${POINTS}, ${g.f}, ${tiles}, ${g.ow}] : ${f32Tensor([POINTS, g.f, tiles * g.ow])} into ${mType}`);
  const maps = [affineMap(5, ['d3', 'd0', 'd1', 'd4']), affineMap(5, ['d2', 'd3']), affineMap(5, ['d0', 'd1', 'd2', 'd4'])];
  e.line(`${id}_y = linalg.generic {indexing_maps = [${maps.join(', ')}], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(${id}_mx, ${at} : ${mType}, ${f32Tensor([TILE_ROWS, POINTS])}) outs(${y} : ${rowsType}) {`);
  e.line(`^bb0(${id}_ym: f32, ${id}_ya: f32, ${id}_yo: f32):`);
  e.line(`  ${id}_ys = math.fma ${id}_ym, ${id}_ya, ${id}_yo : f32`);
  e.line(`  linalg.yield ${id}_ys : f32`);
  e.line(`} -> ${rowsType}`);
  return `${id}_y`;
}

/**
 * M [POINTS, F, tiles·OW] of a chunk whose transformed rows are `t`: a loop
 * over the points, so that one copy of the product's kernel is compiled
 * instead of six (and, for the matmul form, one V_i at a time is made and consumed).
 */
function emitPointLoop(e: Emit, u: string, t: string, tiles: number, rowConv: boolean): string {
  const { id, g } = e;
  const allType = f32Tensor([POINTS, g.f, tiles * g.ow]);
  e.line(`${id}_me = tensor.empty() : ${allType}`);
  e.line(`${id}_pl = scf.for ${id}_k = ${id}_idx0 to ${id}_points step ${id}_idx1 iter_args(${id}_ma = ${id}_me) -> (${allType}) {`);
  const point: Emit = { ...e, line: (text) => e.line(`  ${text}`) };
  let product: string;
  if (rowConv) {
    product = emitRowConv(point, u, t, `${id}_ma`, `${id}_k`, tiles);
  } else {
    const ui = emitFilterSlice(point, u, `${id}_k`);
    product = emitProduct(point, ui, emitShifts(point, t, `${id}_k`, tiles), `${id}_ma`, `${id}_k`, tiles);
  }
  point.line(`scf.yield ${product} : ${allType}`);
  e.line('}');
  return `${id}_pl`;
}

/**
 * The chunk loop over blocks of `tiles` tile rows (an scf.forall with
 * `parallel`, else an scf.for) accumulating into `acc` [F, OH·OW]; returns
 * the loop's result.
 */
function emitChunks(e: Emit, x: ConvInput, u: string, acc: Accumulator, tiles: number, parallel: boolean, rowConv: boolean): string {
  const { id, g } = e;
  const rows = TILE_ROWS * tiles;
  const cols = rows * g.ow;
  const chunks = g.oh / rows;
  const chunkType = f32Tensor([g.f, cols]);
  const rowsType = f32Tensor([g.f, tiles, TILE_ROWS, g.ow]);
  e.line(`${id}_at = arith.constant ${denseTable(AT)}`);
  e.line(`${id}_idx0 = arith.constant 0 : index`);
  e.line(`${id}_idx1 = arith.constant 1 : index`);
  e.line(`${id}_points = arith.constant ${POINTS} : index`);
  return emitChunkLoop(e, { out: `${id}_loop`, acc: acc.value, chunks, rowStep: rows, chunkCols: cols, parallel }, (inner) => {
    const chunkX = x.pad ? emitSourceRows(inner, x.pad, rows, chunks) : emitRows(inner, x.padded, rows);
    inner.line(`${id}_os = tensor.extract_slice ${id}_o[0, ${id}_c] [${g.f}, ${cols}] [1, 1] : ${f32Tensor([g.f, g.oh * g.ow])} to ${chunkType}`);
    inner.line(`${id}_ox = tensor.expand_shape ${id}_os [[0], [1, 2, 3]] output_shape [${g.f}, ${tiles}, ${TILE_ROWS}, ${g.ow}] : ${chunkType} into ${rowsType}`);
    const products = emitPointLoop(inner, u, emitRowTransform(inner, chunkX, tiles), tiles, rowConv);
    const start = acc.zero ? `${id}_oz` : `${id}_ox`;
    if (acc.zero) inner.line(`${start} = linalg.fill ins(${id}_zero : f32) outs(${id}_ox : ${rowsType}) -> ${rowsType}`);
    const y = emitOutputTransform(inner, start, products, `${id}_at`, tiles);
    inner.line(`${id}_part = tensor.collapse_shape ${y} [[0], [1, 2, 3]] : ${rowsType} into ${chunkType}`);
    return `${id}_part`;
  });
}

/**
 * The convolution's input: the padded tensor [1, C, H + 2, W + 2], and the
 * zero pad that made it when there is one (then each chunk pads its own
 * rows from the pad's source, in cache, and the padded copy of the whole
 * input is not made: det's 160² layers spent 2 ms a run on its memset and copy).
 */
export interface ConvInput {
  padded: string;
  pad: ZeroPad | null;
  /**
   * Whether the accumulator the convolution adds to is a zero fill: each
   * chunk then zeroes its own rows in cache, instead of a memset of the
   * whole output before the loop (2.4 MB for det's 160² layers).
   */
  zeroInit: boolean;
}

/** The chunk loop's accumulator [F, OH·OW] and whether each chunk zeroes its rows first (it is then uninitialized). */
interface Accumulator {
  value: string;
  zero: boolean;
}

/** The chunk's input rows [C, rows + 2, W + 2] sliced from the padded input. */
function emitRows(e: Emit, padded: string, rows: number): ChunkRows {
  const { id, g } = e;
  const xRows = rows + TAPS - 1;
  e.line(`${id}_x = tensor.extract_slice ${padded}[0, 0, ${id}_r, 0] [1, ${g.c}, ${xRows}, ${g.w}] [1, 1, 1, 1] : ${f32Tensor([1, g.c, g.h, g.w])} to ${f32Tensor([g.c, xRows, g.w])}`);
  return { value: `${id}_x`, columns: g.w, border: 0 };
}

/** A chunk's input rows [C, rows + 2, columns]: the padded width less a zero border of `border` columns on each side. */
interface ChunkRows {
  value: string;
  columns: number;
  border: number;
}

/** `into` with its slice at `offsets` of `sizes` (static numbers or index values) zero-filled. */
function emitZeroSlice(e: Emit, into: string, name: string, offsets: readonly (number | string)[], sizes: readonly (number | string)[], type: string): string {
  for (const l of fillSliceLines(name, into, type, `${e.id}_zero`, offsets, sizes)) e.line(l);
  return name;
}

/**
 * The chunk's input rows [C, rows + 2, W] of the pad's source (rank 3 or
 * 4, padded by one row and column on each side), without the border
 * columns (emitRowTransform zeroes T's instead). Inner chunks read a view of
 * the source; the first and last chunk a copy with the rows above or below
 * the image zero. A copy for every chunk cost a fifth of det's 160² layer
 * (reading the source from memory at copy speed).
 */
function emitSourceRows(e: Emit, pad: ZeroPad, rows: number, chunks: number): ChunkRows {
  const { id, g } = e;
  const xRows = rows + TAPS - 1;
  const [h, w] = pad.from.slice(-2);
  const type = f32Tensor([g.c, xRows, w]);
  const lead = pad.from.length === 4 ? [0] : [];
  const at = (row: string, n: string | number) => `[${[...lead, 0, row, 0].join(', ')}] [${[...lead.map(() => 1), g.c, n, w].join(', ')}] [${[...lead, 0, 0, 0].map(() => 1).join(', ')}]`;
  const srcType = f32Tensor(pad.from);
  e.line(`${id}_last = arith.constant ${chunks - 1} : index`);
  e.line(`${id}_e0 = arith.cmpi eq, ${id}_i, ${id}_idx0 : index`);
  e.line(`${id}_e1 = arith.cmpi eq, ${id}_i, ${id}_last : index`);
  e.line(`${id}_edge = arith.ori ${id}_e0, ${id}_e1 : i1`);
  e.line(`${id}_x = scf.if ${id}_edge -> (${type}) {`);
  const edge: Emit = { ...e, line: (t) => e.line(`  ${t}`) };
  edge.line(`${id}_xb = bufferization.alloc_tensor() : ${type}`);
  edge.line(`${id}_s0 = affine.max affine_map<(d0) -> (d0 * ${rows} - 1, 0)>(${id}_i)`);
  edge.line(`${id}_s1 = affine.min affine_map<(d0) -> (d0 * ${rows} + ${rows + 1}, ${h})>(${id}_i)`);
  edge.line(`${id}_n = affine.apply affine_map<(d0, d1) -> (d1 - d0)>(${id}_s0, ${id}_s1)`);
  edge.line(`${id}_pl0 = affine.apply affine_map<(d0, d1) -> (d1 - d0 * ${rows} + 1)>(${id}_i, ${id}_s0)`);
  edge.line(`${id}_hb = affine.apply affine_map<(d0, d1) -> (${xRows} - d0 - d1)>(${id}_pl0, ${id}_n)`);
  edge.line(`${id}_hs = affine.apply affine_map<(d0, d1) -> (d0 + d1)>(${id}_pl0, ${id}_n)`);
  let x = emitZeroSlice(edge, `${id}_xb`, `${id}_xt`, [0, 0, 0], [g.c, `${id}_pl0`, w], type);
  x = emitZeroSlice(edge, x, `${id}_xd`, [0, `${id}_hs`, 0], [g.c, `${id}_hb`, w], type);
  edge.line(`${id}_xs = tensor.extract_slice ${pad.source}${at(`${id}_s0`, `${id}_n`)} : ${srcType} to tensor<${g.c}x?x${w}xf32>`);
  edge.line(`${id}_xc = tensor.insert_slice ${id}_xs into ${x}[0, ${id}_pl0, 0] [${g.c}, ${id}_n, ${w}] [1, 1, 1] : tensor<${g.c}x?x${w}xf32> into ${type}`);
  edge.line(`scf.yield ${id}_xc : ${type}`);
  e.line('} else {');
  edge.line(`${id}_r1 = affine.apply affine_map<(d0) -> (d0 * ${rows} - 1)>(${id}_i)`);
  edge.line(`${id}_xv = tensor.extract_slice ${pad.source}${at(`${id}_r1`, xRows)} : ${srcType} to ${type}`);
  edge.line(`scf.yield ${id}_xv : ${type}`);
  e.line('}');
  return { value: `${id}_x`, columns: w, border: 1 };
}

/** The replacement lines for one convolution (`x` padded, `init` its accumulator), defining `result`. */
export function winogradConv(indent: string, result: string, input: ConvInput, w: string, init: string, g: ConvGeometry, parallel: boolean, rowConv: boolean): string[] {
  const id = `%ortmlir_wg_${result.slice(1).replace(/[^\w]/g, '_')}`;
  const out: string[] = [];
  const e: Emit = { id, g, line: (text) => out.push(indent + text) };
  const p = g.oh * g.ow;
  e.line(`${id}_zero = arith.constant 0.000000e+00 : f32`);
  const u = emitFilterTransform(e, w);
  if (input.zeroInit) e.line(`${id}_acc = tensor.empty() : ${f32Tensor([g.f, p])}`);
  else e.line(`${id}_acc = tensor.collapse_shape ${init} [[0, 1], [2, 3]] : ${f32Tensor([1, g.f, g.oh, g.ow])} into ${f32Tensor([g.f, p])}`);
  const tiles = winogradChunkTiles(g);
  const loop = emitChunks(e, input, u, { value: `${id}_acc`, zero: input.zeroInit }, tiles, parallel, rowConv);
  e.line(`${result} = tensor.expand_shape ${loop} [[0, 1], [2, 3]] output_shape [1, ${g.f}, ${g.oh}, ${g.ow}] : ${f32Tensor([g.f, p])} into ${f32Tensor([1, g.f, g.oh, g.ow])}`);
  return out;
}

/**
 * The zero pad of one row and column on each side that makes `x` (directly,
 * or through the expand_shape that adds the batch dimension), or null.
 */
function borderPad(lines: readonly string[], x: string, before: number): ZeroPad | null {
  const behind = padBehind(lines, x, before);
  const pad = behind ? zeroPadAt(lines, behind.line) : null;
  if (!pad) return null;
  const border = pad.low.map((l, i) => [l, pad.to[i] - pad.from[i] - l]);
  const spatial = border.length - 2;
  return border.every(([lo, hi], i) => (i < spatial ? lo === 0 && hi === 0 : lo === 1 && hi === 1)) ? pad : null;
}

/** The 1×3 convolution of one point's transformed rows (a chunk of `tiles` tile rows). */
function rowConvGeometry(g: ConvGeometry, tiles: number): ConvGeometry {
  return { ...g, h: tiles, oh: tiles, kh: 1 };
}

/** Whether `value` is a linalg.fill of +0.0 (defined before line `before`). */
function isZeroFill(lines: readonly string[], value: string, before: number): boolean {
  const at = definitionLine(lines, value, before);
  const fill = at < 0 ? null : FILL_OF.exec(lines[at]);
  const zero = fill ? definitionLine(lines, fill[1], at) : -1;
  return zero >= 0 && ZERO_F32.test(lines[zero]);
}

/** `lines` with every convolution winogradFits takes rewritten (the rest for conv-im2col.ts). */
export function rewriteConvsWinograd(lines: readonly string[], ctx: ScheduleContext): ConvRewrite {
  return replaceConvs(lines, ({ g, indent, result, x, w, init, line }) => {
    if (!winogradFits(g)) return null;
    const input: ConvInput = { padded: x, pad: borderPad(lines, x, line), zeroInit: isZeroFill(lines, init, line) };
    const tiles = winogradChunkTiles(g);
    const chunks = g.oh / (TILE_ROWS * tiles);
    const rowConv = directConvFits(rowConvGeometry(g, tiles), ctx.target);
    const parallel = ctx.threads > 1 && chunks > 1 && convFlops(g) >= PARALLEL_MIN_FLOPS;
    const products = rowConv ? `1x${TAPS} convolutions` : `matmuls ${g.f}x${tiles * g.ow}x${g.c * TAPS}`;
    return {
      lines: winogradConv(indent, result, input, w, init, g, parallel, rowConv),
      summary: `${CONV} ${g.f}x${g.c}x${g.kh}x${g.kw} at ${g.oh}x${g.ow} → Winograd F(${TILE_ROWS}, ${TAPS}) along rows, ${chunks} ${parallel ? 'parallel ' : ''}chunk${chunks > 1 ? 's' : ''} of ${POINTS} ${products}`,
      parallel,
    };
  });
}
