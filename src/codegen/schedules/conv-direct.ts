// Direct schedule for 2-D f32 convolutions of stride and dilation 1 with a
// window larger than 1×1 (det's 3×3 neck and head layers): no im2col copy.
// The convolution is tiled to one output row, then to a micro-kernel of
// microRows output channels × (vectorsPerRow·lanes) output columns, then to
// single (channel, tap row, tap column) steps, and decomposed to a 1-D
// convolution that vectorizes into the same register-blocked broadcast-FMA
// kernel as the matmul schedule: per step one contiguous input vector load
// per accumulator column (the taps only shift the start), microRows weight
// broadcasts, and the accumulators hoisted out of the reduction loops.
// The im2col form writes and rereads a patches matrix C·KH·KW times the
// output size (det's 96→24 3×3 layer at 160²: 88 MB per run).
import { convFlops, type ConvGeometry } from './conv-im2col.js';
import { PARALLEL_MIN_FLOPS, type PlannedOp, type ScheduleContext } from './plan.js';
import { definitionLine, OP_LINE_PARTS, operandNames, type StructuredOp } from './ir-scan.js';
import { microColumns, type VectorTarget } from './target.js';
import type { TransformScript } from './transform-script.js';

const CONV = 'linalg.conv_2d_nchw_fchw';
/** Forall iterations per thread to aim for, so uneven rows still balance. */
const ROW_CHUNKS_PER_THREAD = 4;

/**
 * Whether `g` gets the direct schedule: unit strides and dilations, a window
 * of more than one tap, and micro-kernel tiles that divide the output
 * channels and columns exactly (no masked remainders).
 */
export function directConvFits(g: ConvGeometry, t: VectorTarget): boolean {
  const unit = (v: readonly number[]) => v.every((s) => s === 1);
  return unit(g.strides) && unit(g.dilations) && g.kh * g.kw > 1 && g.f % t.microRows === 0 && g.ow % microColumns(t) === 0;
}

/** Output rows per forall iteration: enough iterations for every thread (1 thread: one row each, a plain loop). */
function rowsPerIteration(oh: number, threads: number): number {
  if (threads <= 1) return 1;
  let rows = 1;
  while (rows * 2 <= oh && oh % (rows * 2) === 0 && oh / (rows * 2) >= threads * ROW_CHUNKS_PER_THREAD) rows *= 2;
  return rows;
}

/**
 * How many tensor.expand_shape ops lie between the convolution's input and
 * a tensor.pad that makes it (0: the input is the pad; 1: an expand_shape of
 * it, as unit-dim folding leaves a batch-1 pad), or null when no pad does.
 * The schedule then pads per block of output rows (fused into the row loop)
 * instead of writing a padded copy of the whole input first (det's 160²
 * layers: 10 MB).
 */
export function padDepth(op: StructuredOp, lines: readonly string[]): number | null {
  const m = OP_LINE_PARTS.exec(lines[op.line]);
  let value = m ? operandNames(m[5])[0] : undefined;
  let at = op.line;
  for (let depth = 0; value !== undefined && depth <= 1; depth++) {
    at = definitionLine(lines, value, at);
    const def = at < 0 ? '' : lines[at].trimStart();
    if (def.startsWith(`${value} = tensor.pad `)) return depth;
    value = def.startsWith(`${value} = tensor.expand_shape `) ? /^%[\w.$-]+ = tensor\.expand_shape (%[\w.$-]+)/.exec(def)?.[1] : undefined;
  }
  return null;
}

export function planDirectConv(op: StructuredOp, g: ConvGeometry, ctx: ScheduleContext, pad: number | null): PlannedOp {
  const { target } = ctx;
  const cols = microColumns(target);
  const parallel = ctx.threads > 1 && convFlops(g) >= PARALLEL_MIN_FLOPS && g.oh > 1;
  const rows = rowsPerIteration(g.oh, parallel ? ctx.threads : 1);
  return {
    parallel,
    summary: `${CONV} ${g.f}x${g.c}x${g.kh}x${g.kw} at ${g.oh}x${g.ow}: direct${pad === null ? '' : ', pad per row block'}, ${parallel ? 'forall' : 'for'} rows of ${rows} / micro [${target.microRows}, ${cols}]`,
    tile(w: TransformScript, tag: number): void {
      const h = w.matchTagged(op.name, tag);
      let producer = pad === null ? null : w.producerOf(h, 0);
      for (let i = 0; producer && i < (pad ?? 0); i++) producer = w.producerOf(producer, 0);
      const outer = parallel ? w.tileForall(h, [0, 0, rows, 0]) : w.tileFor(h, [0, 0, rows, 0]);
      if (producer) {
        // The row block's slice of an expand_shape becomes an expand_shape of a slice of the pad, which then fuses.
        if (pad) w.patterns(['tensor.bubble_up_extract_slice']);
        w.fuseInto(producer, outer.loops[0]);
      }
      const micro = w.tileFor(outer.op, [0, target.microRows, 0, cols]);
      // Rows > 1 per iteration: one more loop so that the micro-kernel sees a single output row.
      const row = rows > 1 ? w.tileFor(micro.op, [0, 0, 1, 0]).op : micro.op;
      w.tileFor(row, [0, 0, 0, 0, 1, 1, 1]);
    },
    vectorize(w: TransformScript, tag: number): void {
      w.vectorize(w.decompose(w.matchTagged(op.name, tag)));
    },
  };
}
