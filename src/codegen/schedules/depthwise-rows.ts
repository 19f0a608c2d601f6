// A depthwise block's convolution computing several output rows per
// iteration (depthwise-blocks.ts builds the block). The unrolled generic
// (import/depthwise-conv.ts) loads every tap's input for every output: on a
// 5×5 kernel 25 loads for 25 FMAs per vector of outputs, and those loads,
// unaligned and crossing cache lines, bound the loop (rec's 240-channel
// 12×80 layer: 22 GFLOP/s). Computing R output rows at once, the taps of
// the R rows read only R + KH − 1 distinct input rows per column offset:
// 40 loads for 100 FMAs at R = 4. The iteration space becomes
// [channels, rows / R, columns] with R results, each a row-strided view of
// the block's output (rows r, r + R, ...), and each tap of row r a
// row-strided view of the padded slab; the body is the original one R
// times over (taps, then the fused epilogue), sharing the weights.
// A convolution strided along rows (PP-OCR cls's (2, 1)) takes this form
// when its few output rows are one iteration: row r then reads slab rows
// from r · stride, and the taps that fall wholly in the padding are left out
// (zero-terms.ts).
//
// The R results are written straight into the convolution's output buffer
// (a memref allocated before the block loop, each row set a
// materialize_in_destination into its subview). As tensors they would be R
// disjoint slices of one buffer written by one op, which one-shot
// bufferization cannot prove apart: it computed all but one into
// temporaries and copied them in (rec: 3 of 4 rows of every block, a
// malloc and a strided copy each).
import { f32Memref, f32Tensor, identityMap } from '../mlir-builder.js';
import { isIdentityMap, mapResults, readsOutput, regionBody, renamedOps } from './ir-scan.js';
import { withoutZeroTerms } from './zero-terms.js';

/** Output rows per iteration to aim for: the first of these dividing the block's rows. */
const ROWS_PER_ITERATION = [4, 3, 2];

/** One input of the block's generic. */
export interface BlockOperand {
  /** Its SSA name inside the block loop. */
  name: string;
  type: string;
  /** Its indexing map (aliases resolved). */
  map: string;
  /** For a tap of the padded slab: its row and column offset (column stride 1; rows RowBlockInput.rowStride apart). */
  tap?: [number, number];
}

export interface RowBlockInput {
  id: string;
  /** Indent of the lines emitted. */
  indent: string;
  /** The padded slab (SSA name and type), [cb, Hp, Wp] or [1, cb, Hp, Wp]. */
  slab: string;
  slabType: string;
  /** [1] when the slab has the unit batch dimension, else []. */
  unitSize: number[];
  /** The block's output shape [cb, OH, OW]. */
  shape: [number, number, number];
  operands: BlockOperand[];
  /** The generic's region lines: `^bb0(...)`, the body, `linalg.yield`. */
  region: string[];
  /** The whole output buffer (a [C, OH, OW] memref) and its shape. */
  dest: string;
  destShape: [number, number, number];
  /** The block's first channel (an index SSA name). */
  channel: string;
  /** The slab rows holding the image, [first, end): the others are zero padding. */
  imageRows: [number, number];
  /** The convolution's row stride: output row r reads slab rows from r · rowStride. */
  rowStride: number;
}

/** The type of the row set `[cb, OH / R, OW]` of a [C, OH, OW] memref, rows r, r + R, ... */
function rowSetType(part: readonly number[], dest: readonly number[], rows: number): string {
  const [, oh, ow] = dest;
  return `memref<${part.join('x')}xf32, strided<[${oh * ow}, ${rows * ow}, 1], offset: ?>>`;
}

/** Whether the row set starting at slab row `first` (every `step`-th row, `count` of them) lies wholly in the zero padding. */
function paddingOnly(first: number, step: number, count: number, [top, end]: readonly [number, number]): boolean {
  for (let k = 0; k < count; k++) {
    const row = first + k * step;
    if (row >= top && row < end) return false;
  }
  return true;
}

/** Whether a map reads along the output rows or columns (d1, d2), or may (one that does not parse). */
function spatial(map: string): boolean {
  const results = mapResults(map)?.results;
  return !results || results.some((r) => /\bd[12]\b/.test(r));
}

/** The lines computing the block R rows at a time into `dest`, or null when the block does not qualify. */
export function rowBlockedConvolution(b: RowBlockInput): string[] | null {
  const [cb, oh, ow] = b.shape;
  const rows = ROWS_PER_ITERATION.find((r) => oh % r === 0);
  // Strided, the form pays only where it drops padding terms: every output row in one iteration.
  if (b.rowStride !== 1 && rows !== oh) return null;
  const sh = b.rowStride;
  const body = regionBody(b.region);
  if (rows === undefined || !body || body.args.length !== b.operands.length + 1 || readsOutput(body)) return null;
  const taps = b.operands.filter((o) => o.tap);
  if (taps.length === 0 || taps.some((o) => !isIdentityMap(o.map, 3))) return null;
  if (b.operands.some((o) => !o.tap && spatial(o.map))) return null;
  const part = [cb, oh / rows, ow];
  const lead = b.unitSize.map(() => '0');
  const views = new Map<string, string>();
  const lines: string[] = [];
  const viewOf = (row: number, col: number): string => {
    const key = `${row},${col}`;
    let v = views.get(key);
    if (!v) {
      v = `${b.id}_v${views.size}`;
      views.set(key, v);
      lines.push(`${v} = tensor.extract_slice ${b.slab}[${[...lead, 0, row, col].join(', ')}] [${[...b.unitSize, ...part].join(', ')}] [${[...b.unitSize, 1, rows * sh, 1].join(', ')}] : ${b.slabType} to ${f32Tensor(part)}`);
    }
    return v;
  };
  // Block arguments: one per distinct view, then the shared operands, then one output per row.
  const viewArg = new Map<string, string>();
  const copies: string[] = [];
  const yields: string[] = [];
  const shared = b.operands.map((o, k) => ({ o, arg: body.args[k] })).filter(({ o }) => !o.tap);
  // A tap whose rows are all padding reads this instead of a view, and its terms are left out.
  const zeroTap = `${b.id}_zt`;
  for (let r = 0; r < rows; r++) {
    const rename = new Map<string, string>();
    b.operands.forEach((o, k) => {
      if (!o.tap) return;
      if (paddingOnly(r * sh + o.tap[0], rows * sh, part[1], b.imageRows)) {
        rename.set(body.args[k], zeroTap);
        return;
      }
      const view = viewOf(r * sh + o.tap[0], o.tap[1]);
      if (!viewArg.has(view)) viewArg.set(view, `${view}_a`);
      rename.set(body.args[k], viewArg.get(view) ?? '');
    });
    const ops = renamedOps(body.ops, rename, `${b.id}_r${r}_`);
    const kept = withoutZeroTerms(ops, rename.get(body.yielded) ?? body.yielded, new Set([zeroTap]), `${b.id}_r${r}_zero`);
    copies.push(...kept.ops.map((l) => `  ${l}`));
    yields.push(kept.yielded);
  }
  const outs = Array.from({ length: rows }, (_, r) => `${b.id}_q${r}`);
  const empty = `${b.id}_e`;
  lines.push(`${empty} = tensor.empty() : ${f32Tensor(part)}`);
  const identity = identityMap(3);
  const viewNames = [...viewArg.keys()];
  const maps = [...viewNames.map(() => identity), ...shared.map(({ o }) => o.map), ...outs.map(() => identity)];
  const ins = [...viewNames, ...shared.map(({ o }) => o.name)];
  const insTypes = [...viewNames.map(() => f32Tensor(part)), ...shared.map(({ o }) => o.type)];
  const args = [...viewNames.map((v) => viewArg.get(v)), ...shared.map(({ arg }) => arg), ...outs.map((q) => `${q}_a`)].map((a) => `${a}: f32`);
  const outTypes = outs.map(() => f32Tensor(part));
  lines.push(
    `${b.id}_rows:${rows} = linalg.generic {indexing_maps = [${maps.join(', ')}], iterator_types = ["parallel", "parallel", "parallel"]} ins(${ins.join(', ')} : ${insTypes.join(', ')}) outs(${outs.map(() => empty).join(', ')} : ${outTypes.join(', ')}) {`,
    `^bb0(${args.join(', ')}):`,
    ...copies,
    `  linalg.yield ${yields.join(', ')} : ${yields.map(() => 'f32').join(', ')}`,
    `} -> (${outTypes.join(', ')})`,
  );
  const setType = rowSetType(part, b.destShape, rows);
  outs.forEach((q, r) => {
    lines.push(
      `${q} = memref.subview ${b.dest}[${b.channel}, ${r}, 0] [${part.join(', ')}] [1, ${rows}, 1] : ${f32Memref(b.destShape)} to ${setType}`,
      `bufferization.materialize_in_destination ${b.id}_rows#${r} in restrict writable ${q} : (${f32Tensor(part)}, ${setType}) -> ()`,
    );
  });
  return lines.map((l) => b.indent + l);
}
