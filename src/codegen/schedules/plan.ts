// The contract between the schedule driver (index.ts) and per-op-kind
// schedule generators.
import type { StructuredOp } from './ir-scan.js';
import type { TransformScript } from './transform-script.js';
import type { VectorTarget } from './target.js';

export interface ScheduleContext {
  target: VectorTarget;
  /** Threads the compiled code may use (1 = no OpenMP). */
  threads: number;
  /** Whether 3×3 convolutions may take Winograd's form (conv-winograd.ts); default true. */
  winograd?: boolean;
}

/**
 * One op's schedule, emitted in two phases so that canonicalization can run
 * once between them (peeled full tiles become static before vectorization).
 */
export interface PlannedOp {
  /** Tiles (and peels) the op matched by its tag. */
  tile(w: TransformScript, tag: number): void;
  /** Vectorizes the tiles; runs after canonicalization. */
  vectorize(w: TransformScript, tag: number): void;
  /** Tags ops other than the planned one that the schedule also matches (an epilogue); the planned op is tagged by the driver. */
  tagExtra?(lines: string[], tag: number): void;
  /**
   * Tiled before every other op: a contraction's tiling fuses its operands'
   * producer chains into its tiles, and would take a clone of this op (tag
   * and all) along, which this op's handle then matches too.
   */
  tileFirst?: boolean;
  /** Whether the tiling uses scf.forall that should run on several threads. */
  parallel: boolean;
  /** One line for logs and reports, e.g. `matmul 512x512x512: forall [64, 128] / [8, 32, 1]`. */
  summary: string;
}

/** A schedule generator: a plan for `op`, or null when it has nothing better than the default loops. */
export type Planner = (op: StructuredOp, ctx: ScheduleContext, lines: readonly string[]) => PlannedOp | null;

/**
 * Below this much work (flops) a loop stays sequential: handing out shares
 * costs more than it gains. At 0.4 MFLOP PP-OCR cls ran every layer forked
 * and took longer at two threads than at one; at 4 MFLOP (no loop of cls
 * forks) cls took 0.83 of the time, rec 1.01, det 0.98 (2 threads, Zen 5,
 * scripts/compare-builds.mjs against the 0.4 MFLOP build).
 */
export const PARALLEL_MIN_FLOPS = 4_000_000;

/** Forall iterations per thread to aim for, so uneven tiles still balance. */
export const TILES_PER_THREAD = 4;

/** Rounds `x` down to a multiple of `m` (at least `m`). */
export function roundDownTo(x: number, m: number): number {
  return Math.max(m, Math.floor(x / m) * m);
}

/** Whether tiling extent `extent` by `outer` then `step` leaves partial (dynamic-size) inner tiles. */
export function needsPeel(extent: number, outer: number, step: number): boolean {
  return extent % outer !== 0 || outer % step !== 0;
}
