// Intra-op threads for the ops no other schedule covers: a large
// linalg.generic (a depthwise convolution with its fused epilogue, an
// elementwise chain, a resize, or a reduction such as a pooling or a
// Softmax's sums) is split along its outermost parallel dimension with room
// for every thread into an scf.forall, which the pipeline maps to OpenMP.
// A reduction's own dimensions are never split: each thread reduces whole
// rows, in the order one thread would.
// The body keeps the default lowering (loops that LLVM vectorizes); only the
// iteration space is divided. Runs after EPILOGUE_PREPARE_PASSES, so each
// generic already carries its fused producers and consumers.
import { isIdentityMap, staticTensor, untaggedTopLevelGenerics, type GenericHeader } from './ir-scan.js';
import type { PlannedOp, ScheduleContext } from './plan.js';
import type { TransformScript } from './transform-script.js';

/** Below this many output elements a generic stays on one thread: waking threads costs more. */
export const PARALLEL_MIN_ELEMENTS = 64 * 1024;
/** Chunks per thread, so that uneven chunks still balance. */
const CHUNKS_PER_THREAD = 2;

export interface ParallelGeneric {
  line: number;
  plan: PlannedOp;
}

/** The static shape of a single-result `tensor<AxBxf32>` type, or null. */
function staticShape(type: string): number[] | null {
  return staticTensor(type)?.dims ?? null;
}

/** Tile sizes that split the outermost (parallel, if `parallel` says) dimension with room for every thread (0 = untiled). */
export function chunkSizes(shape: readonly number[], threads: number, parallel?: readonly boolean[]): number[] | null {
  const axis = shape.findIndex((d, i) => d >= threads && (parallel?.[i] ?? true));
  if (axis < 0) return null;
  const chunks = Math.min(shape[axis], threads * CHUNKS_PER_THREAD);
  return shape.map((d, i) => (i === axis ? Math.ceil(d / chunks) : 0));
}

/**
 * The loop ranges of a generic (`parallel`: which of its loops are): the
 * output's shape when every loop is parallel, else the shape of an input
 * read through the identity map.
 */
function iterationSpace(h: GenericHeader, parallel: readonly boolean[]): number[] | null {
  if (parallel.every(Boolean)) return staticShape(h.outTypes);
  for (const [i, type] of h.inTypes.entries()) {
    if (isIdentityMap(h.maps[i] ?? '', parallel.length)) return staticShape(type);
  }
  return null;
}

/**
 * Plans a forall for every top-level generic of at least
 * PARALLEL_MIN_ELEMENTS iterations (not tagged by another schedule) that has
 * a parallel dimension to split. Generics in loop bodies (deeper
 * indentation) already run inside a parallel loop.
 */
export function planParallelGenerics(lines: readonly string[], ctx: ScheduleContext): ParallelGeneric[] {
  if (ctx.threads <= 1) return [];
  const out: ParallelGeneric[] = [];
  for (const { line, header } of untaggedTopLevelGenerics(lines)) {
    const parallel = header.iterators.map((t) => t === '"parallel"');
    const shape = iterationSpace(header, parallel);
    if (!shape || header.iterators.length !== shape.length) continue;
    if (shape.reduce((a, d) => a * d, 1) < PARALLEL_MIN_ELEMENTS) continue;
    const sizes = chunkSizes(shape, ctx.threads, parallel);
    if (sizes) out.push({ line, plan: chunkPlan(shape, sizes) });
  }
  return out;
}

function chunkPlan(shape: readonly number[], sizes: readonly number[]): PlannedOp {
  return {
    parallel: true,
    summary: `linalg.generic ${shape.join('x')}: forall [${sizes.join(', ')}]`,
    tile(w: TransformScript, tag: number): void {
      w.tileForall(w.matchTagged('linalg.generic', tag), sizes);
    },
    vectorize(): void {},
  };
}
