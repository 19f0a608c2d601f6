// Reductions over the innermost, contiguous dimensions (GlobalAveragePool,
// ReduceMean/ReduceSum, a LayerNorm's sums, ReduceMax) in vector lanes. The
// default lowering adds one element after the other into a scalar: one add
// per element, each waiting on the last (rec's GlobalAveragePool over
// 480×6×80: 0.2 ms, against onnxruntime's 0.04). Here each tile of `rows`
// outputs keeps `lanes` partial results per output in vector registers
// (transform.structured.tile_reduction_using_for), the tiles of the reduced
// dimensions add into them element by element, and one horizontal reduction
// per output combines them at the end. The rows' chains are independent, so
// the adds pipeline. Partial sums change the order of a float sum; the
// importers mark the combiners that may reassociate (mlir-builder.ts) and
// only those are planned, besides min and max, which have no order.
import { genericTail, isIdentityMap, mapResults, regionBody, staticTensor, untaggedTopLevelGenerics, type GenericHeader } from './ir-scan.js';
import { chunkSizes, PARALLEL_MIN_ELEMENTS } from './parallel-generic.js';
import { dividingTile } from './matmul.js';
import type { PlannedOp, ScheduleContext } from './plan.js';
import type { TransformScript } from './transform-script.js';

/** Below this many reduced elements the scalar loop costs little: not worth a schedule. */
const MIN_ELEMENTS = 4096;
/** Vector registers the partial results of one tile may take (half of AVX2's 16: the loads need the rest). */
const ACCUMULATOR_REGISTERS = 8;
/** Partial results per output, in vectors: two cover the add's latency where a tile has few rows. */
const VECTORS_PER_ROW = 2;

/** The combiner yielded: a reassociable float sum or product, or a min/max. */
const COMBINER = /^\s*(%[\w.$-]+) = arith\.(?:(?:addf|mulf) (%[\w.$-]+), (%[\w.$-]+) fastmath<[^>]*reassoc[^>]*>|(?:maximumf|minimumf|maxnumf|minnumf) (%[\w.$-]+), (%[\w.$-]+)) : f32$/;

export interface PlannedReduction {
  line: number;
  plan: PlannedOp;
}

interface ReductionShape {
  /** The iteration space: parallel dimensions, then the reduced ones. */
  shape: number[];
  parallel: number;
}

/** Whether the generic's yielded value combines its accumulator (the last block argument) with one other value. */
function combinesAccumulator(region: readonly string[]): boolean {
  const body = regionBody(region);
  if (!body) return false;
  const acc = body.args[body.args.length - 1];
  const def = body.ops.map((l) => COMBINER.exec(l)).find((m) => m?.[1] === body.yielded);
  if (!def) return false;
  const operands = [def[2] ?? def[4], def[3] ?? def[5]];
  return operands.filter((o) => o === acc).length === 1;
}

/**
 * The iteration space of a reduction over trailing dimensions whose every
 * input is read through the identity map or by the parallel dimensions only
 * (a LayerNorm's mean), into one output indexed by the parallel dimensions;
 * null otherwise.
 */
function reductionShape(h: GenericHeader): ReductionShape | null {
  const parallel = h.iterators.findIndex((t) => t !== '"parallel"');
  const rank = h.iterators.length;
  if (parallel < 1 || h.iterators.slice(parallel).some((t) => t !== '"reduction"') || h.outs.length !== 1) return null;
  const byParallel = (map: string) => {
    const m = mapResults(map);
    return m !== null && m.rank === rank && m.results.join(',') === Array.from({ length: parallel }, (_, i) => `d${i}`).join(',');
  };
  const identity = h.maps.findIndex((m, i) => i < h.ins.length && isIdentityMap(m, rank));
  if (identity < 0 || !byParallel(h.maps[h.ins.length] ?? '')) return null;
  if (!h.maps.slice(0, h.ins.length).every((m) => isIdentityMap(m, rank) || byParallel(m))) return null;
  const t = staticTensor(h.inTypes[identity] ?? '');
  if (!t || t.elem !== 'f32' || t.dims.length !== rank || !h.inTypes.every((x) => staticTensor(x)?.elem === 'f32')) return null;
  return { shape: t.dims, parallel };
}

/**
 * Plans every top-level reduction generic (not tagged by another schedule)
 * whose innermost extent holds whole vectors and that reduces at least
 * MIN_ELEMENTS elements.
 */
export function planReductions(lines: readonly string[], ctx: ScheduleContext): PlannedReduction[] {
  const out: PlannedReduction[] = [];
  for (const { line, header } of untaggedTopLevelGenerics(lines)) {
    const r = reductionShape(header);
    const tail = genericTail(lines, line, header.indent);
    if (!r || tail < 0 || !combinesAccumulator(lines.slice(line + 1, tail))) continue;
    const plan = planReduction(r, ctx);
    if (plan) out.push({ line, plan });
  }
  return out;
}

function planReduction(r: ReductionShape, ctx: ScheduleContext): PlannedOp | null {
  const { shape, parallel } = r;
  const elements = shape.reduce((a, d) => a * d, 1);
  const inner = shape[shape.length - 1];
  const lanes = [VECTORS_PER_ROW * ctx.target.lanes, ctx.target.lanes].find((l) => inner % l === 0);
  if (!lanes || elements < MIN_ELEMENTS) return null;
  const rowsExtent = shape[parallel - 1];
  const rows = dividingTile(rowsExtent, 1, Math.max(1, (ACCUMULATOR_REGISTERS * ctx.target.lanes) / lanes));
  if (rowsExtent % rows !== 0) return null;
  // Output rows one tile at a time; every reduced dimension a step at a time, the innermost by the lanes.
  const rowTiles = shape.map((_, i) => (i < parallel - 1 ? 1 : i === parallel - 1 ? rows : 0));
  const laneTiles = shape.map((_, i) => (i < parallel ? 0 : i === shape.length - 1 ? lanes : 1));
  const chunks = ctx.threads > 1 && elements >= PARALLEL_MIN_ELEMENTS ? chunkSizes(shape.slice(0, parallel), ctx.threads) : null;
  // Each thread's chunk holds whole row tiles.
  const forall = chunks?.every((c, i) => c === 0 || c % rowTiles[i] === 0) ? chunks : null;
  return {
    // Once tiled it is loops, which a contraction's producer fusion stops at: a LayerNorm's sums are
    // not recomputed in every tile of the MatMul that reads the normalized rows.
    tileFirst: true,
    parallel: forall !== null,
    summary: `reduction ${shape.join('x')} (${shape.length - parallel} reduced): ${forall ? `forall [${forall.join(', ')}] / ` : ''}rows ${rows}, ${lanes} lanes`,
    tile(w: TransformScript, tag: number): void {
      let root = w.matchTagged('linalg.generic', tag);
      if (forall) root = w.tileForall(root, [...forall, ...shape.slice(parallel).map(() => 0)]).op;
      const tiled = w.tileFor(root, rowTiles);
      for (const h of w.tileReduction(tiled.op, laneTiles)) w.vectorize(h);
    },
    vectorize(): void {
      // Done in tile(): the handles of the split ops do not outlive the canonicalization between the phases.
    },
  };
}
