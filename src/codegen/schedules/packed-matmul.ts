// The schedule of a matmul by packed weight panels (import/packed-matmul.ts):
// a linalg.generic over (m, panel, column, k) reading A [M, K] and panels
// [NP, K, P], writing C [M, NP, P]. Cache tiles of rows × panels (an
// scf.forall with threads), then micro tiles of microRows × one panel. With
// the panel dimension a unit, folding unit dims turns the micro tile into
// an ordinary [rows, K] × [K, P] matmul, which is tiled by the kernel's
// columns and k = 1 and vectorized into broadcast-FMAs as in matmul.ts. Row
// tiles always divide M (the lowering packs only row counts that some
// kernel height divides), so every tile is static and nothing is masked.
import { definitionLine, GENERIC_LINE, operandNames, PACKED_ATTR, PANELS_ATTR, resultName, TAG_ATTR, tagGeneric, tagOp, typesOf, valueToken } from './ir-scan.js';
import { affineMap } from '../mlir-builder.js';
import { CACHE_TILE_COLS, CACHE_TILE_ROWS, dividingTile } from './matmul.js';
import { PACKED_MARK } from './packed-epilogue.js';
import { PARALLEL_MIN_FLOPS, TILES_PER_THREAD, type PlannedOp, type ScheduleContext } from './plan.js';
import type { TransformScript, Tiled } from './transform-script.js';
import { microColumns, type VectorTarget } from './target.js';

/** A generic with discardable attributes, as mlir-opt prints it: `... outs(...) attrs =  {...} {`. */
const ATTRS_GENERIC = /^(\s*%[\w.$-]+ = linalg\.generic \{.*\} ins\((.*)\) outs\((.*)\) attrs = +\{)(.*)\} \{$/;
/** Accumulator registers from which a kernel that divides the rows keeps the FMA pipes busy on its own (rowBands). */
const MIN_UNBANDED_ACCUMULATORS = 10;
/** Loop order of the serial cache tiles: panels, then rows (the epilogue's dimensions are rows, panels, columns). */
const PANELS_OUTER = [1, 0, 2];
/** Carries the schedule tag of the copy of a computed B into panels (pack-activations.ts). */
const PANELS_TAG = `${TAG_ATTR}_panels`;
/** Carries the schedule tag of a fused epilogue (contains TAG_ATTR, so other schedules leave the op alone). */
const EPILOGUE_TAG = `${TAG_ATTR}_epilogue`;

/**
 * The packed product `result` = a [m, k] · panels [NP, k, P] (P = `columns`)
 * accumulated into `acc` [m, NP, P], as the lines of a linalg.generic in
 * mlir-opt's printed form (PACKED_ATTR among its discardable attributes), so
 * that scanPackedMatmuls finds it whether or not mlir-opt has printed the IR
 * since. Written by the constant-weight lowering (import/packed-matmul.ts)
 * and by pack-activations.ts.
 */
export function packedProductLines(result: string, a: string, panels: string, acc: string, s: { m: number; k: number; panels: number; columns: number }): string[] {
  const aType = `tensor<${s.m}x${s.k}xf32>`;
  const panelsType = `tensor<${s.panels}x${s.k}x${s.columns}xf32>`;
  const accType = `tensor<${s.m}x${s.panels}x${s.columns}xf32>`;
  const maps = [affineMap(4, ['d0', 'd3']), affineMap(4, ['d1', 'd3', 'd2']), affineMap(4, ['d0', 'd1', 'd2'])].join(', ');
  return [
    `${result} = linalg.generic {indexing_maps = [${maps}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(${a}, ${panels} : ${aType}, ${panelsType}) outs(${acc} : ${accType}) attrs =  {${PACKED_ATTR} = ${s.columns} : i64} {`,
    `^bb0(${result}_a: f32, ${result}_w: f32, ${result}_c: f32):`,
    `  ${result}_p = arith.mulf ${result}_a, ${result}_w : f32`,
    `  ${result}_s = arith.addf ${result}_c, ${result}_p : f32`,
    `  linalg.yield ${result}_s : f32`,
    `} -> ${accType}`,
  ];
}

export interface PackedMatmul {
  line: number;
  m: number;
  k: number;
  panels: number;
  panelColumns: number;
}

/** The packed matmuls of `lines` (static f32 shapes only). */
export function scanPackedMatmuls(lines: readonly string[]): PackedMatmul[] {
  const out: PackedMatmul[] = [];
  lines.forEach((text, line) => {
    const g = ATTRS_GENERIC.exec(text);
    if (!g || !g[4].includes(PACKED_MARK) || GENERIC_LINE.test(text)) return;
    const dims = [...`${typesOf(g[2])}, ${typesOf(g[3])}`.matchAll(/tensor<([0-9x]+)xf32>/g)].map((t) => t[1].split('x').map(Number));
    const [a, w, c] = dims;
    if (dims.length !== 3 || a.length !== 2 || w.length !== 3 || c.length !== 3) return;
    out.push({ line, m: a[0], k: a[1], panels: w[0], panelColumns: w[2] });
  });
  return out;
}

/** Puts the schedule tag into the op's discardable attributes. */
export function tagPackedMatmul(lines: string[], op: PackedMatmul, tag: number): void {
  const g = ATTRS_GENERIC.exec(lines[op.line]);
  if (!g) throw new Error(`tagPackedMatmul: line ${op.line} is not a packed matmul`);
  lines[op.line] = `${g[1]}${TAG_ATTR} = ${tag} : i64, ${g[4]}} {`;
}

/** The line of the linalg.fill that initialises the op's accumulator, or -1. */
function fillOf(lines: readonly string[], op: PackedMatmul): number {
  const g = ATTRS_GENERIC.exec(lines[op.line]);
  const [acc] = g ? operandNames(g[3]) : [];
  const def = acc ? definitionLine(lines, acc, op.line) : -1;
  return def >= 0 && lines[def].includes('= linalg.fill ') ? def : -1;
}

/** The tallest micro-kernel height of the target that divides `m` (1 at worst). */
function microRows(t: VectorTarget, m: number): number {
  const tallest = Math.max(t.tallRows ?? 0, t.microRows);
  for (let r = Math.min(tallest, m); r > 1; r--) if (m % r === 0) return r;
  return 1;
}

interface Tiles {
  /** Rows of the band these tiles cover. */
  m: number;
  rows: number;
  panels: number;
  micro: number;
  columns: number;
  parallel: boolean;
}

export function packedTiles(op: PackedMatmul, ctx: ScheduleContext): Tiles {
  const micro = microRows(ctx.target, op.m);
  const columns = Math.min(microColumns(ctx.target), op.panelColumns);
  let rows = dividingTile(op.m, micro, CACHE_TILE_ROWS);
  // As many panels as matmul.ts's cache tile has columns (the micro rows divide M, so every row tile divides it too).
  let panels = dividingTile(op.panels, 1, CACHE_TILE_COLS / op.panelColumns);
  const flops = 2 * op.m * op.k * op.panels * op.panelColumns;
  const parallel = ctx.threads > 1 && flops >= PARALLEL_MIN_FLOPS;
  // Smaller tiles until every thread has several: panels first (B streams per panel), then rows.
  while (parallel && (op.m / rows) * (op.panels / panels) < ctx.threads * TILES_PER_THREAD) {
    if (panels > 1) panels = dividingTile(op.panels, 1, panels - 1);
    else if (rows > micro) rows = dividingTile(op.m, micro, rows - micro);
    else break;
  }
  return { m: op.m, rows, panels, micro, columns, parallel };
}

/**
 * The tiles of each band of rows, top band first. Where the tallest kernel
 * that divides M has too few accumulators to cover the FMAs' latency and an
 * epilogue is fused, the rows split into a band the default height divides
 * and a remainder band with a kernel of its own height: AVX2's 6 rows divide
 * no power of two, and 512 rows in 4-row kernels (8 accumulators) took
 * MatMul 512³ about 10 % longer than 510 rows in 6-row kernels and 2 in a
 * 2-row one. A 5-row kernel (10) is not banded: cls's 200-row products ran
 * 6 % faster in 5-row kernels than as 198 rows and 2.
 */
export function rowBands(op: PackedMatmul, ctx: ScheduleContext, fused: boolean): Tiles[] {
  const height = ctx.target.microRows;
  if (!fused || op.m <= height || microRows(ctx.target, op.m) * ctx.target.vectorsPerRow >= MIN_UNBANDED_ACCUMULATORS) return [packedTiles(op, ctx)];
  const top = op.m - (op.m % height);
  // The remainder band stays on one thread: see planPackedMatmul's tile().
  return [packedTiles({ ...op, m: top }, ctx), packedTiles({ ...op, m: op.m - top }, { ...ctx, threads: 1 })];
}

function describe(t: Tiles, banded: boolean): string {
  return `${banded ? `${t.m} rows ` : ''}${t.parallel ? 'forall' : 'for'} [${t.rows}, ${t.panels} panels] / micro [${t.micro}, ${t.columns}, 1]`;
}

export function planPackedMatmul(op: PackedMatmul, ctx: ScheduleContext): PlannedOp {
  /** Whether the accumulator's fill is this schedule's (unshareFills gave it its own). */
  let fillTagged = false;
  /** Whether an epilogue (lifted by packed-epilogue.ts) is computed in the tiles. */
  let fused = false;
  /** Whether B is a copy into panels made for this product (pack-activations.ts). */
  let packed = false;
  const bands = () => rowBands(op, ctx, fused);
  return {
    get parallel() {
      return bands().some((t) => t.parallel);
    },
    get summary() {
      const b = bands();
      return `packed matmul ${op.m}x${op.panels * op.panelColumns}x${op.k}${fused ? ' + epilogue' : ''}: ${b.map((t) => describe(t, b.length > 1)).join(', ')}`;
    },
    tagExtra(lines: string[], tag: number): void {
      const fill = fillOf(lines, op);
      if (fill >= 0 && !lines[fill].includes(TAG_ATTR)) {
        tagOp(lines, { line: fill }, tag);
        fillTagged = true;
      }
      const epilogue = epilogueOf(lines, op);
      if (epilogue >= 0) {
        tagGeneric(lines, epilogue, tag, EPILOGUE_TAG);
        fused = true;
      }
      // Only a serial product in one band copies panel tiles in its loop; otherwise the copy stays whole
      // (and with threads parallel-generic.ts shares it out, which it does only for untagged generics).
      const b = bands();
      const panels = b.length === 1 && !b[0].parallel ? panelsOf(lines, op) : -1;
      if (panels >= 0) {
        tagGeneric(lines, panels, tag, PANELS_TAG);
        packed = true;
      }
    },
    tile(w: TransformScript, tag: number): void {
      const b = bands();
      if (!fused) {
        tileBand(w, tileAlone(w, tag, b[0], fillTagged), b[0]);
        return;
      }
      const root = w.matchTagged('linalg.generic', tag, w.func, EPILOGUE_TAG);
      if (b.length === 1) {
        const folded = tileWithEpilogue(w, tag, b[0], root);
        // With the panels' loop outermost, each panel tile is copied once, just before its products read it from L2:
        // fused at its use, inside the rows' loop, then hoisted out of it (it depends on the panel only).
        if (packed) w.licm(w.parentOf(w.fuseInto(w.matchTagged('linalg.generic', tag, w.func, PANELS_TAG), folded.loop).op, 'scf.for'));
        tileBand(w, folded, b[0]);
        return;
      }
      // Each band's epilogue reads a slice of the whole product, which is fused into its tiles by its full type.
      // The remainder band first: fused into an scf.for the product is cloned, but fused into an
      // scf.forall it becomes one of the forall's results, computed only where the top band's tiles are.
      const full = `tensor<${op.m}x${op.panels}x${op.panelColumns}xf32>`;
      const [top, rest] = w.split(root, 0, b[0].m);
      tileBand(w, tileWithEpilogue(w, tag, b[1], rest, full), b[1]);
      tileBand(w, tileWithEpilogue(w, tag, b[0], top, full), b[0]);
    },
    vectorize(): void {
      // Done in tile().
    },
  };
}

/** Micro tiles of one band folded to [rows, K] × [K, P] products and vectorized. */
function tileBand(w: TransformScript, folded: MicroTiles, t: Tiles): void {
  // As a generic the fill folds like the product: the zero accumulator is then the very
  // tensor the k loop reads, and the zero write forwards into registers (no buffer).
  const fill = w.generalize(folded.fill);
  // Only inside this op's loops: elsewhere unit-dim folding would rebuild (and untag) other schedules' ops.
  w.patterns(['linalg.fold_unit_extent_dims_via_slices'], folded.loop);
  // The handles follow the folded ops: [rows, K] × [K, P] → [rows, P] (the tags are gone).
  // A one-row kernel folds the row dimension away too.
  const inner = w.tileFor(folded.product, t.micro === 1 ? [t.columns, 1] : [0, t.columns, 1]);
  // Vectorized now, while the handles hold: every tile is static already, and the
  // canonicalization before the vectorize phase may rebuild the loops (a forall's body) and drop them.
  for (const h of [fill, inner.op, ...folded.rest]) w.vectorize(h);
  // Contractions formed before any canonicalization: that folds the unit k reduction into a
  // shape_cast, leaving a multiply and an add instead of an FMA.
  w.patterns(['vector.reduction_to_contract', 'vector.transfer_permutation_patterns'], folded.loop);
}

/** Handles after cache and micro tiling: the loop to fold unit dims in, the micro tiles of the fill and the product, other tiles to vectorize. */
interface MicroTiles {
  loop: string;
  fill: string;
  product: string;
  rest: string[];
}

/**
 * Without an epilogue the product's tiles are the roots. The zero-fill,
 * reached through the loops' iteration arguments, moves into each micro
 * tile: accumulators start as zero registers, not as loads of a memset C.
 */
function tileAlone(w: TransformScript, tag: number, t: Tiles, fillTagged: boolean): MicroTiles {
  const root = w.matchTagged('linalg.generic', tag);
  let outer: Tiled;
  if (t.parallel) {
    outer = w.tileForall(root, [t.rows, t.panels]);
    if (fillTagged) w.fuseInto(w.matchTagged('linalg.fill', tag), outer.loops[0]);
  } else {
    outer = w.tileAndFuse(root, [t.rows, t.panels, 0, 0]);
  }
  const micro = w.tileAndFuse(outer.op, [t.micro, 1, 0, 0]);
  return { loop: outer.loops[0], fill: w.matchTagged('linalg.fill', tag, outer.loops[0]), product: micro.op, rest: [] };
}

/**
 * With an epilogue, its tiles are the roots and the product and its fill
 * are fused into each (as matmul.ts fusedPlan does), so the epilogue reads
 * the accumulators in registers and only its result is stored.
 */
function tileWithEpilogue(w: TransformScript, tag: number, t: Tiles, root: string, full?: string): MicroTiles {
  // On one thread the panels' loop is the outer one (as MLAS orders it): a cache tile's panels stay in L2
  // while the row tiles of A pass, instead of all of B passing once per row tile (MatMul 1024³, rec, cls: 1 – 4 % faster).
  const outer = t.parallel ? w.tileForall(root, [t.rows, t.panels]) : w.tileFor(root, [t.rows, t.panels, 0], PANELS_OUTER);
  // A band's tiles slice the band's slice of the product: one slice of the product, which then fuses.
  if (full) w.patterns(['tensor.merge_consecutive_insert_extract_slice']);
  const p1 = w.fuseInto(w.matchTagged('linalg.generic', tag, w.func, TAG_ATTR, full), outer.loops[outer.loops.length - 1]);
  const f1 = w.fuseInto(w.matchTagged('linalg.fill', tag, w.func, TAG_ATTR, full), p1.loop);
  const micro = w.tileFor(outer.op, [t.micro, 1, 0]);
  const p2 = w.fuseInto(p1.op, micro.loops[micro.loops.length - 1]);
  const f2 = w.fuseInto(f1.op, p2.loop);
  return { loop: outer.loops[0], fill: f2.op, product: p2.op, rest: [micro.op] };
}

/** The line of the lifted epilogue generic reading the op's result (packed-epilogue.ts), or -1. */
function epilogueOf(lines: readonly string[], op: PackedMatmul): number {
  const result = resultName(lines[op.line]);
  if (!result) return -1;
  const token = valueToken(result);
  for (let i = op.line + 1; i < lines.length; i++) {
    if (!token.test(lines[i])) continue;
    const g = GENERIC_LINE.exec(lines[i]);
    const three = `tensor<${op.m}x${op.panels}x${op.panelColumns}xf32>`;
    return g && operandNames(g[4]).includes(result) && typesOf(g[5]) === three && !g[3].includes(TAG_ATTR) ? i : -1;
  }
  return -1;
}

/** The line of the copy into panels (pack-activations.ts) that the op reads as B, or -1. */
function panelsOf(lines: readonly string[], op: PackedMatmul): number {
  const g = ATTRS_GENERIC.exec(lines[op.line]);
  const b = g ? operandNames(g[2])[1] : undefined;
  const def = b ? definitionLine(lines, b, op.line) : -1;
  return def >= 0 && GENERIC_LINE.test(lines[def]) && lines[def].includes(`${PANELS_ATTR} = `) && !lines[def].includes(TAG_ATTR) ? def : -1;
}
