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
import { dividingRows, microColumns, type VectorTarget } from './target.js';
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
  return unit(g.strides) && unit(g.dilations) && g.kh * g.kw > 1 && dividingRows(t, g.f) !== null && g.ow % microColumns(t) === 0;
}

/**
 * Output channels per micro-kernel: the target's tall kernel where it
 * divides them (24 FMAs per two input loads and 12 weight broadcasts,
 * against 16 for 8), else the default, else a smaller height that divides
 * them (directConvFits checked that one does).
 */
function kernelRows(g: ConvGeometry, t: VectorTarget): number {
  return dividingRows(t, g.f) ?? t.microRows;
}

/**
 * The padded input slab one row block reads stays within this many bytes
 * (half of a 1 MB L2), so that it is still cached when the block's rows read it.
 */
const PAD_SLAB_BYTES = 512 * 1024;
/** Output rows per block on one thread at most: the slab's extra rows (the window's height - 1) are paid per block. */
const SERIAL_MAX_ROWS = 8;

/**
 * Output rows per loop iteration. With threads: enough iterations for every
 * thread. On one thread: the largest block (up to SERIAL_MAX_ROWS rows, its
 * padded slab within PAD_SLAB_BYTES) that divides the rows. The pad fused into
 * the row loop copies KH - 1 extra input rows per block: with one-row blocks a
 * 3×3 layer copied its whole input three times (det's 96-channel 160² layer:
 * 30 MB a run).
 */
function rowsPerIteration(g: ConvGeometry, threads: number): number {
  const oh = g.oh;
  if (threads <= 1) {
    const slabRow = g.c * (g.ow + g.kw - 1) * Float32Array.BYTES_PER_ELEMENT;
    for (let r = Math.min(SERIAL_MAX_ROWS, oh); r > 1; r--) if (oh % r === 0 && (r + g.kh - 1) * slabRow <= PAD_SLAB_BYTES) return r;
    return 1;
  }
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
  const input = m ? operandNames(m[5])[0] : undefined;
  return input === undefined ? null : padBehind(lines, input, op.line)?.depth ?? null;
}

/**
 * The tensor.pad that makes `value` (defined before line `before`), directly
 * (depth 0) or through one tensor.expand_shape (depth 1): its line, or null.
 */
export function padBehind(lines: readonly string[], value: string, before: number): { line: number; depth: number } | null {
  let name: string | undefined = value;
  let at = before;
  for (let depth = 0; name !== undefined && depth <= 1; depth++) {
    at = definitionLine(lines, name, at);
    const def = at < 0 ? '' : lines[at].trimStart();
    if (def.startsWith(`${name} = tensor.pad `)) return { line: at, depth };
    name = def.startsWith(`${name} = tensor.expand_shape `) ? /^%[\w.$-]+ = tensor\.expand_shape (%[\w.$-]+)/.exec(def)?.[1] : undefined;
  }
  return null;
}

export function planDirectConv(op: StructuredOp, g: ConvGeometry, ctx: ScheduleContext, pad: number | null): PlannedOp {
  const { target } = ctx;
  const cols = microColumns(target);
  const parallel = ctx.threads > 1 && convFlops(g) >= PARALLEL_MIN_FLOPS && g.oh > 1;
  const rows = rowsPerIteration(g, parallel ? ctx.threads : 1);
  const channels = kernelRows(g, target);
  return {
    parallel,
    summary: `${CONV} ${g.f}x${g.c}x${g.kh}x${g.kw} at ${g.oh}x${g.ow}: direct${pad === null ? '' : ', pad per row block'}, ${parallel ? 'forall' : 'for'} rows of ${rows} / micro [${channels}, ${cols}]`,
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
      const micro = w.tileFor(outer.op, [0, channels, 0, cols]);
      // Rows > 1 per iteration: one more loop so that the micro-kernel sees a single output row.
      const row = rows > 1 ? w.tileFor(micro.op, [0, 0, 1, 0]).op : micro.op;
      w.tileFor(row, [0, 0, 0, 0, 1, 1, 1]);
    },
    vectorize(w: TransformScript, tag: number): void {
      w.vectorize(w.decompose(w.matchTagged(op.name, tag)));
    },
  };
}
