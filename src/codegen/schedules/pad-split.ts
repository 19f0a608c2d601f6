// Zero pads as two parallel generics. A tensor.pad bufferizes to a memset of
// the whole padded buffer and a copy of the input into its interior, both on
// the calling thread: det's depthwise, stem and im2col inputs pad about 70 MB
// per run that way, 11 ms a run at 2 threads with the other thread idle. With
// threads, a large zero pad becomes a fill generic and a copy generic into
// the interior (an extract_slice / insert_slice pair of the fill, which
// bufferizes in place), and planParallelGenerics splits both across threads.
// Pads that a schedule fuses into its own loops (conv-direct.ts, reached
// from a tagged op directly or through an expand_shape) stay pads, and
// depthwise convolutions' pads are gone by now (depthwise-blocks.ts pads
// each channel block inside the block loop).
import { affineMap, f32Tensor, identityMap } from '../mlir-builder.js';
import { definitionLine, TAG_ATTR, uses } from './ir-scan.js';

const PAD_HEAD = /^(\s*)(%[\w.$-]+) = tensor\.pad (%[\w.$-]+) low\[([\d, ]+)\] high\[([\d, ]+)\] \{$/;
const PAD_YIELD = /^\s*tensor\.yield (%[\w.$-]+) : f32$/;
const PAD_TAIL = /^\s*\} : tensor<((?:\d+x)+)f32> to tensor<((?:\d+x)+)f32>$/;
/** An f32 +0.0 constant as mlir-opt prints it. */
export const ZERO_F32 = /= arith\.constant 0\.000000e\+00 : f32$/;
/** Lines of a printed tensor.pad: head, block arguments, yield, tail. */
export const PAD_LINES = 4;

/** A static f32 tensor.pad with +0.0 as its value, as mlir-opt prints it. */
export interface ZeroPad {
  indent: string;
  result: string;
  source: string;
  /** The zero constant the pad yields. */
  zero: string;
  low: number[];
  /** Source and padded shapes. */
  from: number[];
  to: number[];
}

/** Whether a tagged op reads `name`, directly or through one expand_shape (the pads conv-direct fuses). */
function scheduledUse(lines: readonly string[], name: string): boolean {
  return uses(lines, name).some((l) => {
    if (l.includes(TAG_ATTR)) return true;
    const expand = /^\s*(%[\w.$-]+) = tensor\.expand_shape /.exec(l);
    return expand !== null && uses(lines, expand[1]).some((u) => u.includes(TAG_ATTR));
  });
}

function dims(group: string): number[] {
  return group.slice(0, -1).split('x').map(Number);
}

/** The zero pad whose first line is line `i`, or null. */
export function zeroPadAt(lines: readonly string[], i: number): ZeroPad | null {
  const head = PAD_HEAD.exec(lines[i]);
  const yielded = head && PAD_YIELD.exec(lines[i + 2] ?? '');
  const tail = head && PAD_TAIL.exec(lines[i + PAD_LINES - 1] ?? '');
  if (!head || !yielded || !tail) return null;
  const zeroAt = definitionLine(lines, yielded[1], i);
  if (zeroAt < 0 || !ZERO_F32.test(lines[zeroAt])) return null;
  const [, indent, result, source, low] = head;
  return { indent, result, source, zero: yielded[1], low: low.split(',').map((s) => Number(s.trim())), from: dims(tail[1]), to: dims(tail[2]) };
}

/**
 * The fill, copy and insert lines that replace one pad: the source is copied
 * into the fill's interior by a copy generic (which planParallelGenerics may
 * split across threads), an extract_slice / insert_slice pair that bufferizes in place.
 */
function splitPad(pad: ZeroPad, id: string): string[] {
  const rank = pad.to.length;
  const [src, dst] = [f32Tensor(pad.from), f32Tensor(pad.to)];
  const parallel = `iterator_types = [${Array(rank).fill('"parallel"').join(', ')}]`;
  const interior = `[${pad.low.join(', ')}] [${pad.from.join(', ')}] [${Array(rank).fill(1).join(', ')}]`;
  return [
    `${id}_e = tensor.empty() : ${dst}`,
    `${id}_fill = linalg.generic {indexing_maps = [${affineMap(rank, [])}, ${identityMap(rank)}], ${parallel}} ins(${pad.zero} : f32) outs(${id}_e : ${dst}) {`,
    `^bb0(${id}_z: f32, ${id}_o: f32):`,
    `  linalg.yield ${id}_z : f32`,
    `} -> ${dst}`,
    `${id}_in = tensor.extract_slice ${id}_fill${interior} : ${dst} to ${src}`,
    `${id}_copy = linalg.generic {indexing_maps = [${identityMap(rank)}, ${identityMap(rank)}], ${parallel}} ins(${pad.source} : ${src}) outs(${id}_in : ${src}) {`,
    `^bb0(${id}_x: f32, ${id}_y: f32):`,
    `  linalg.yield ${id}_x : f32`,
    `} -> ${src}`,
    `${pad.result} = tensor.insert_slice ${id}_copy into ${id}_fill${interior} : ${src} into ${dst}`,
  ].map((l) => pad.indent + l);
}

/** `lines` with every zero pad of at least `minElements` outputs that no schedule fuses split into fill + copy generics. */
export function splitZeroPads(lines: readonly string[], minElements: number): string[] {
  const out: string[] = [];
  let count = 0;
  for (let i = 0; i < lines.length; i++) {
    const pad = zeroPadAt(lines, i);
    const large = pad !== null && pad.to.reduce((a, d) => a * d, 1) >= minElements;
    if (!pad || !large || scheduledUse(lines, pad.result)) {
      out.push(lines[i]);
      continue;
    }
    out.push(...splitPad(pad, `%ortmlir_pad${count++}`));
    i += PAD_LINES - 1;
  }
  return out;
}
