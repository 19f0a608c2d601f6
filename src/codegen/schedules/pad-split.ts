// Zero pads as two parallel generics. A tensor.pad bufferizes to a memset of
// the whole padded buffer and a copy of the input into its interior, both on
// the calling thread: det's depthwise, stem and im2col inputs pad about 70 MB
// per run that way, 11 ms a run at 2 threads with the other thread idle. With
// threads, a large zero pad becomes a fill generic and a copy generic into
// the interior (an extract_slice / insert_slice pair of the fill, which
// bufferizes in place), and planParallelGenerics splits both across threads.
// Pads that a schedule fuses into its own loops (conv-direct.ts, reached
// from a tagged op directly or through an expand_shape) stay pads.
import { affineMap, identityMap } from '../mlir-builder.js';
import { definitionLine, TAG_ATTR, valueToken } from './ir-scan.js';

const PAD_HEAD = /^(\s*)(%[\w.$-]+) = tensor\.pad (%[\w.$-]+) low\[([\d, ]+)\] high\[([\d, ]+)\] \{$/;
const PAD_YIELD = /^\s*tensor\.yield (%[\w.$-]+) : f32$/;
const PAD_TAIL = /^\s*\} : tensor<((?:\d+x)+)f32> to tensor<((?:\d+x)+)f32>$/;
const ZERO_F32 = /= arith\.constant 0\.000000e\+00 : f32$/;
/** Lines of a printed tensor.pad: head, block arguments, yield, tail. */
const PAD_LINES = 4;

/** The lines that read `name` (not the one defining it). */
function uses(lines: readonly string[], name: string): string[] {
  const use = valueToken(name);
  return lines.filter((l) => use.test(l) && !l.trimStart().startsWith(`${name} =`));
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

/** The fill, copy and insert lines that replace one pad. */
function splitPad(indent: string, result: string, source: string, zero: string, low: number[], from: number[], to: number[], id: string): string[] {
  const rank = from.length;
  const [src, dst] = [from, to].map((d) => `tensor<${d.join('x')}xf32>`);
  const parallel = `iterator_types = [${Array(rank).fill('"parallel"').join(', ')}]`;
  const scalarMap = affineMap(rank, []);
  const interior = `[${low.join(', ')}] [${from.join(', ')}] [${Array(rank).fill(1).join(', ')}]`;
  return [
    `${id}_e = tensor.empty() : ${dst}`,
    `${id}_fill = linalg.generic {indexing_maps = [${scalarMap}, ${identityMap(rank)}], ${parallel}} ins(${zero} : f32) outs(${id}_e : ${dst}) {`,
    `^bb0(${id}_z: f32, ${id}_o: f32):`,
    `  linalg.yield ${id}_z : f32`,
    `} -> ${dst}`,
    `${id}_in = tensor.extract_slice ${id}_fill${interior} : ${dst} to ${src}`,
    `${id}_copy = linalg.generic {indexing_maps = [${identityMap(rank)}, ${identityMap(rank)}], ${parallel}} ins(${source} : ${src}) outs(${id}_in : ${src}) {`,
    `^bb0(${id}_x: f32, ${id}_y: f32):`,
    `  linalg.yield ${id}_x : f32`,
    `} -> ${src}`,
    `${result} = tensor.insert_slice ${id}_copy into ${id}_fill${interior} : ${src} into ${dst}`,
  ].map((l) => indent + l);
}

/** `lines` with every zero pad of at least `minElements` outputs that no schedule fuses split into fill + copy generics. */
export function splitZeroPads(lines: readonly string[], minElements: number): string[] {
  const out: string[] = [];
  let count = 0;
  for (let i = 0; i < lines.length; i++) {
    const head = PAD_HEAD.exec(lines[i]);
    const yielded = head && PAD_YIELD.exec(lines[i + 2] ?? '');
    const tail = head && PAD_TAIL.exec(lines[i + PAD_LINES - 1] ?? '');
    if (!head || !yielded || !tail) {
      out.push(lines[i]);
      continue;
    }
    const [, indent, result, source, low] = head;
    const [from, to] = [dims(tail[1]), dims(tail[2])];
    const zeroAt = definitionLine(lines, yielded[1], i);
    const large = to.reduce((a, d) => a * d, 1) >= minElements;
    if (zeroAt < 0 || !ZERO_F32.test(lines[zeroAt]) || !large || scheduledUse(lines, result)) {
      out.push(lines[i]);
      continue;
    }
    const lows = low.split(',').map((s) => Number(s.trim()));
    out.push(...splitPad(indent, result, source, yielded[1], lows, from, to, `%ortmlir_pad${count++}`));
    i += PAD_LINES - 1;
  }
  return out;
}
