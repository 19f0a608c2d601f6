// Schedule generation: given a partition's IR (after mlir-opt's first
// canonicalization, so in mlir-opt's printed form), picks a transform-dialect
// schedule per structured op it knows (by op name and static shape), tags
// those ops, and writes one transform script for the whole module. Two
// steps: convolutions become matmuls (rewriteConvs) unless the direct
// schedule takes them (conv-direct.ts), then, after the caller optionally ran
// EPILOGUE_PREPARE_PASSES, matmuls (with their epilogues), direct
// convolutions and large generics (parallel-generic.ts, with threads) are
// planned (scheduleOps). Ops without a plan keep the default path (linalg → loops,
// which LLVM vectorizes where it can).
import { scanStructuredOps, tagGeneric, tagOp, type StructuredOp } from './ir-scan.js';
import { geometry, NESTED_ATTR, rewriteConvsToMatmul, type ConvGeometry } from './conv-im2col.js';
import { directConvFits, padDepth, planDirectConv } from './conv-direct.js';
import { rewriteConvsWinograd } from './conv-winograd.js';
import { addCopyEpilogues, planMatmul } from './matmul.js';
import { planPackedMatmul, scanPackedMatmuls, tagPackedMatmul } from './packed-matmul.js';
import { liftPackedEpilogues } from './packed-epilogue.js';
import { packActivationMatmuls } from './pack-activations.js';
import { planParallelGenerics, PARALLEL_MIN_ELEMENTS } from './parallel-generic.js';
import { planReductions } from './reduction.js';
import { splitZeroPads } from './pad-split.js';
import { blockPaddedDepthwise } from './depthwise-blocks.js';
import type { PlannedOp, Planner, ScheduleContext } from './plan.js';
import { TransformScript } from './transform-script.js';
import { unshareFills } from './epilogue.js';

export { EPILOGUE_PREPARE_PASSES } from './epilogue.js';

export type { ScheduleContext } from './plan.js';
export { vectorTarget, type VectorTarget } from './target.js';

/** Convolutions that step 1 left in place (directConvFits). */
const planConv: Planner = (op, ctx, lines) => {
  const g = geometry(op);
  return g && directConvFits(g, ctx.target) ? planDirectConv(op, g, ctx, padDepth(op, lines)) : null;
};

const PLANNERS: ReadonlyMap<string, Planner> = new Map([
  ['linalg.matmul', planMatmul],
  ['linalg.batch_matmul', planMatmul],
  ['linalg.conv_2d_nchw_fchw', planConv],
]);

export interface ScheduledModule {
  /** The IR with scheduled ops tagged. */
  mlir: string;
  /** The transform library (defines @__transform_main); null when no op has one (only depthwise blocks were made). */
  transform: string | null;
  /** Whether any scheduled loop runs on several threads (needs OpenMP). */
  parallel: boolean;
  /** One line per scheduled op. */
  summary: string[];
}

/** Vector patterns run before hoisting: contractions and transfers in canonical form. */
const PREPARE_PATTERNS = [
  'vector.reduction_to_contract',
  'vector.transfer_permutation_patterns',
  'canonicalization',
  'linalg.tiling_canonicalization',
];

/** Lowers vector ops to 1-D form; canonicalization must stay in a separate set (they fight). */
const LOWER_PATTERNS = [
  'vector.lower_masked_transfers',
  'vector.lower_masks',
  // Reductions' partial results (reduction.ts): lane-wise adds, then one horizontal reduction per output.
  'vector.lower_multi_reduction lowering_strategy = "innerreduction"',
  'vector.lower_contraction lowering_strategy = "outerproduct"',
  'vector.lower_outerproduct',
  'vector.lower_transfer max_transfer_rank = 1',
  'vector.lower_broadcast',
  'vector.lower_shape_cast',
  'vector.lower_transpose',
];

/** The IR after the first scheduling step: convolutions rewritten into matmuls. */
export interface ConvStage {
  mlir: string;
  summary: string[];
  /** Whether some convolution's chunk loop runs on several threads. */
  parallel: boolean;
}

/**
 * Step 1: convolutions become matmuls (conv-im2col.ts). The caller may run
 * EPILOGUE_PREPARE_PASSES on the result (mlir-opt) before step 2, so that
 * matmul epilogues can be fused.
 */
export function rewriteConvs(mlir: string, ctx: ScheduleContext): ConvStage {
  // Convolutions the direct schedule takes stay in place for step 2.
  const lines = mlir.split('\n');
  const winograd = ctx.winograd === false ? { lines, summary: [], parallel: false } : rewriteConvsWinograd(lines, ctx);
  const convs = rewriteConvsToMatmul(winograd.lines, ctx.threads, (g: ConvGeometry) => directConvFits(g, ctx.target));
  return { mlir: convs.lines.join('\n'), summary: [...winograd.summary, ...convs.summary], parallel: winograd.parallel || convs.parallel };
}

/** Both steps without the epilogue preparation (for IR that has no epilogues to fuse). */
export function planSchedules(mlir: string, ctx: ScheduleContext): ScheduledModule | null {
  return scheduleOps(rewriteConvs(mlir, ctx), ctx);
}

/** Step 2: tags the ops that have a schedule and writes the transform script; null when none has one. */
export function scheduleOps(stage: ConvStage, ctx: ScheduleContext): ScheduledModule | null {
  let lines = addCopyEpilogues(liftPackedEpilogues(packActivationMatmuls(unshareFills(stage.mlir.split('\n')), ctx)), ctx);
  const ops: [StructuredOp, PlannedOp][] = [];
  // Ops inside a chunk loop: the loop is what runs in parallel.
  const nestedCtx: ScheduleContext = { ...ctx, threads: 1 };
  for (const op of scanStructuredOps(lines, new Set(PLANNERS.keys()))) {
    const plan = PLANNERS.get(op.name)?.(op, op.attrs.includes(NESTED_ATTR) ? nestedCtx : ctx, lines);
    if (plan) ops.push([op, plan]);
  }
  ops.forEach(([op, p], tag) => {
    tagOp(lines, op, tag);
    p.tagExtra?.(lines, tag);
  });
  const packed = scanPackedMatmuls(lines).map((op, i) => {
    const plan = planPackedMatmul(op, ctx);
    tagPackedMatmul(lines, op, ops.length + i);
    plan.tagExtra?.(lines, ops.length + i);
    return plan;
  });
  // With the ops tagged: the pads their schedules fuse are known and stay pads.
  const blocks = blockPaddedDepthwise(lines, ctx.threads);
  lines = blocks.lines;
  if (ctx.threads > 1) lines = splitZeroPads(lines, PARALLEL_MIN_ELEMENTS);
  // After the contractions: their fused epilogues are tagged by now and stay theirs.
  const reductions = planReductions(lines, ctx);
  reductions.forEach((r, i) => tagGeneric(lines, r.line, ops.length + packed.length + i));
  const generics = planParallelGenerics(lines, ctx);
  generics.forEach((g, i) => tagGeneric(lines, g.line, ops.length + packed.length + reductions.length + i));
  const planned = [...ops.map(([, p]) => p), ...packed, ...reductions.map((r) => r.plan), ...generics.map((g) => g.plan)];
  if (planned.length === 0 && blocks.summary.length === 0) return null;
  return {
    mlir: lines.join('\n'),
    transform: planned.length > 0 ? transformScript(planned) : null,
    parallel: stage.parallel || blocks.parallel || planned.some((p) => p.parallel),
    summary: [...stage.summary, ...blocks.summary, ...planned.map((p) => p.summary)],
  };
}

/** The transform library applying `planned` (each op matched by its index as tag). */
function transformScript(planned: readonly PlannedOp[]): string {
  const w = new TransformScript();
  const tagged = planned.map((p, tag) => ({ p, tag }));
  for (const { p, tag } of [...tagged.filter(({ p }) => p.tileFirst), ...tagged.filter(({ p }) => !p.tileFirst)]) p.tile(w, tag);
  w.patterns(['canonicalization', 'linalg.tiling_canonicalization']);
  planned.forEach((p, tag) => p.vectorize(w, tag));
  w.patterns(PREPARE_PATTERNS);
  w.hoistInvariantSubsets(w.matchOps('scf.for'));
  w.patterns(LOWER_PATTERNS);
  w.patterns(['canonicalization']);
  return w.text();
}
