// Depthwise convolutions in channel blocks, each padding its own slab.
// A depthwise convolution (import/depthwise-conv.ts) reads its zero-padded
// input through one strided view per kernel tap. Padded whole, the input is
// a buffer larger than L2 (rec: sixteen of 0.2 – 1.6 MB, 16 MB a run), memset,
// then copied into, then read by the taps, each pass from L3. Here the
// convolution (with the epilogue fused into it by then) becomes a loop over
// blocks of channels whose padded slab fits in L2: each iteration pads its
// block of the source, computes the block's taps and epilogue from it while
// it is hot, and inserts the block into the output. With threads and enough
// work (DEPTHWISE_PARALLEL_MIN_FLOPS) the loop is an scf.forall whose blocks are shared
// out (the pad runs in parallel with them); otherwise an scf.for: a fork
// costs more than a small convolution gains from it (PP-OCR cls, 2 threads).
//
// Matched in mlir-opt's printed form (after EPILOGUE_PREPARE_PASSES):
//   %p = tensor.pad %src low[0, 0, a, b] high[0, 0, c, d] { ... } : tensor<1xCxHxWxf32> to tensor<1xCxHpxWpxf32>
//   %t_k = tensor.extract_slice %p[0, 0, i, j] [1, C, OH, OW] [1, 1, sh, sw] : ... to tensor<CxOHxOWxf32>   (one per tap)
// or, as unit-dim folding leaves it, a [C, H, W] pad whose [1, C, Hp, Wp]
// expand_shape the taps slice.
//   %y = linalg.generic {...} ins(%t_0, %w, %t_1, %w, ..., %bias, ...) outs(%e : tensor<CxOHxOWxf32>) { ... } -> tensor<CxOHxOWxf32>
// The taps must be the pad's only uses and the generic their only one;
// every other operand is indexed by the channel only in its first dimension
// (weights, biases) or not at all.
import { BUFFER_ALIGNMENT, f32Memref, f32Tensor, fillSliceLines, serialLoopHead } from '../mlir-builder.js';
import { GENERIC_LINE, genericHeader, genericTail, isIdentityMap, mapAliases, mapResults, staticTensor, TAG_ATTR, useLines } from './ir-scan.js';
import { PAD_LINES, zeroPadAt, type ZeroPad } from './pad-split.js';
import { rowBlockedConvolution, type BlockOperand } from './depthwise-rows.js';
import { foldCollapsedEpilogue } from './depthwise-epilogue.js';
import { PARALLEL_MIN_FLOPS } from './plan.js';

/** A block's padded slab stays within this (L2 holds it with the taps' output block). */
export const DEPTHWISE_BLOCK_BYTES = 64 * 1024;
/**
 * PARALLEL_MIN_FLOPS is sized for matmul-like loops; a depthwise flop costs
 * about four times as long (each tap is a strided read of the padded slab,
 * and every block pads its own), so the same time is a quarter of the flops.
 * At PARALLEL_MIN_FLOPS PP-OCRv4 rec's three 3×3 depthwise convolutions of
 * 2.2 MFLOP (0.13 – 0.19 ms each) ran on one of two threads; shared out,
 * its run took 9.76 ms instead of 10.34 (2 threads, Xeon, AVX-512), while
 * cls and det stayed within noise.
 */
const DEPTHWISE_PARALLEL_MIN_FLOPS = PARALLEL_MIN_FLOPS / 4;
/** Blocks per thread to aim for, so that uneven blocks still balance. */
const BLOCKS_PER_THREAD = 2;
const F32_BYTES = 4;

/** A tap: a (rank-reducing, for [1, C, H, W]) strided slice of [C, OH, OW] from the padded [C, Hp, Wp] or [1, C, Hp, Wp]. */
const TAP = /^\s*(%[\w.$-]+) = tensor\.extract_slice (%[\w.$-]+)\[(?:0, )?0, (\d+), (\d+)\] \[(?:1, )?(\d+), (\d+), (\d+)\] \[(?:1, )?1, (\d+), (\d+)\] : tensor<[\dx]+f32> to tensor<(\d+)x(\d+)x(\d+)xf32>$/;
/** The padded [C, Hp, Wp] viewed as [1, C, Hp, Wp] (the taps may slice that view). */
const UNIT_EXPAND = /^\s*(%[\w.$-]+) = tensor\.expand_shape (%[\w.$-]+) \[\[0, 1\], \[2\], \[3\]\] output_shape \[1, \d+, \d+, \d+\] : /;

interface Tap {
  line: number;
  name: string;
  offsets: [number, number];
  /** Output rows and columns the tap covers. */
  sizes: [number, number];
  strides: [number, number];
}

/** A padded depthwise convolution found in the IR. */
interface Candidate {
  pad: ZeroPad;
  padLine: number;
  /** The [1, C, Hp, Wp] view of a [C, Hp, Wp] pad that the taps slice, if they do (its line). */
  expandLine: number;
  taps: Map<string, Tap>;
  /** The generic's first and last lines. */
  head: number;
  tail: number;
  generic: RegExpExecArray;
}

export interface DepthwiseBlocks {
  lines: string[];
  /** Summary lines, one per convolution put in blocks. */
  summary: string[];
  /** Whether some block loop should run on several threads. */
  parallel: boolean;
}

/** The shape of an f32 tensor type (the only element type a block slices), or null. */
function dimsOf(type: string): number[] | null {
  const t = staticTensor(type);
  return t && t.elem === 'f32' && t.dims.length > 0 ? t.dims : null;
}

/** The tap slices of `source` (all its uses), each of `channels` channels, or null when some use is not one. */
function tapsOf(lines: readonly string[], source: string, channels: number): Map<string, Tap> | null {
  const taps = new Map<string, Tap>();
  const c = channels;
  for (const i of useLines(lines, source)) {
    const m = TAP.exec(lines[i]);
    if (!m || m[2] !== source || Number(m[5]) !== c || Number(m[10]) !== c) return null;
    taps.set(m[1], { line: i, name: m[1], offsets: [Number(m[3]), Number(m[4])], sizes: [Number(m[6]), Number(m[7])], strides: [Number(m[8]), Number(m[9])] });
  }
  return taps.size > 0 ? taps : null;
}

/** The padded depthwise convolution whose pad starts at `i`, or null. */
function candidateAt(lines: readonly string[], i: number): Candidate | null {
  const pad = zeroPadAt(lines, i);
  const channels = pad && channelsOf(pad);
  if (!pad || channels === null) return null;
  // The taps slice the pad, or its [1, C, Hp, Wp] view.
  const expand = pad.to.length === 3 ? useLines(lines, pad.result) : [];
  const view = expand.length === 1 ? UNIT_EXPAND.exec(lines[expand[0]]) : null;
  if (pad.to.length === 3 && (!view || view[2] !== pad.result)) return null;
  const taps = tapsOf(lines, view ? view[1] : pad.result, channels);
  if (!taps) return null;
  const readers = new Set([...taps.keys()].flatMap((t) => useLines(lines, t)));
  if (readers.size !== 1) return null;
  const [head] = readers;
  const generic = GENERIC_LINE.exec(lines[head]);
  if (!generic || generic[3].includes(TAG_ATTR) || generic[1] !== pad.indent) return null;
  const tail = genericTail(lines, head, generic[1]);
  const expandLine = view ? expand[0] : -1;
  return tail < 0 ? null : { pad, padLine: i, expandLine, taps, head, tail, generic };
}

/** The channel count of a depthwise input pad ([C, H, W] or [1, C, H, W], padding only the last two dimensions), or null. */
function channelsOf(pad: ZeroPad): number | null {
  const lead = pad.to.length - 3;
  if (lead < 0 || lead > 1 || (lead === 1 && pad.to[0] !== 1)) return null;
  const unpaddedLead = pad.low.slice(0, lead + 1).every((v) => v === 0) && pad.from.slice(0, lead + 1).every((d, k) => d === pad.to[k]);
  return unpaddedLead ? pad.to[lead] : null;
}

/** Channels per block: the largest divisor of `channels` whose padded slab fits, leaving blocks for every thread. */
export function blockChannels(channels: number, slabBytesPerChannel: number, threads: number): number {
  const maxByThreads = threads > 1 ? Math.floor(channels / (threads * BLOCKS_PER_THREAD)) : channels;
  const limit = Math.min(Math.floor(DEPTHWISE_BLOCK_BYTES / slabBytesPerChannel), maxByThreads);
  for (let b = Math.max(1, limit); b > 1; b--) if (channels % b === 0) return b;
  return 1;
}

/** How an operand is sliced per block: by its first dimension, or not at all; null when neither applies. */
function operandSlicing(map: string): 'block' | 'whole' | null {
  const results = mapResults(map)?.results;
  if (!results) return null;
  const channelAt = results.map((r, k) => (/\bd0\b/.test(r) ? k : -1)).filter((k) => k >= 0);
  if (channelAt.length === 0) return 'whole';
  return channelAt.length === 1 && channelAt[0] === 0 && results[0] === 'd0' ? 'block' : null;
}

/** A candidate's generic and block geometry, as blockLoop's parts share them. */
interface Block {
  c: Candidate;
  id: string;
  /** Indent of the loop's body. */
  body: string;
  attrs: string;
  maps: string[];
  ins: string[];
  inTypes: string[];
  init: string;
  /** The output [C, OH, OW]. */
  outDims: number[];
  channels: number;
  cb: number;
  /** Whether the block loop is shared out across threads (scf.forall) or runs as an scf.for. */
  parallel: boolean;
  /** ['0'] and [1] when the pad has the unit batch dimension, else []. */
  unit: string[];
  unitSize: number[];
  /** Type of the block's padded slab. */
  padded: string;
}

const ones = (n: number) => Array(n).fill(1).join(', ');

/** Flops of a depthwise convolution: a multiply and an add per tap and output element. */
function depthwiseFlops(outDims: readonly number[], taps: number): number {
  return 2 * taps * outDims.reduce((a, d) => a * d, 1);
}

/** The block geometry of candidate `c`, or null when its generic is not one a block loop can take. */
function blockOf(c: Candidate, aliases: ReadonlyMap<string, string>, threads: number, id: string): Block | null {
  const h = genericHeader(c.generic[0], aliases);
  if (!h) return null;
  const { indent, attrs, maps, iterators, ins, inTypes, outs } = h;
  const outDims = dimsOf(h.outTypes);
  const lead = c.pad.to.length - 3;
  const [channels, hp, wp] = c.pad.to.slice(lead);
  if (outs.length !== 1 || !outDims || outDims.length !== 3 || outDims[0] !== channels || iterators.some((t) => t !== '"parallel"')) return null;
  if (maps.length !== ins.length + 1 || inTypes.length !== ins.length || !isIdentityMap(maps[ins.length], 3)) return null;
  const parallel = threads > 1 && depthwiseFlops(outDims, c.taps.size) >= DEPTHWISE_PARALLEL_MIN_FLOPS;
  const cb = blockChannels(channels, hp * wp * F32_BYTES, parallel ? threads : 1);
  if (cb === channels) return null;
  const unitSize = lead === 1 ? [1] : [];
  return {
    c, id, body: `${indent}  `, attrs, maps, ins, inTypes, init: outs[0], outDims, channels, cb, parallel,
    unit: unitSize.map(() => '0'), unitSize, padded: f32Tensor([...unitSize, cb, hp, wp]),
  };
}

/**
 * The loop body's head: the block's first channel, its slice of the source
 * and the slab padding it. The slab's borders are zeroed and the slice
 * copied into its interior; a tensor.pad bufferizes to a memset of the whole
 * slab before the copy (cls: 4.6 % of a run in memset).
 */
function slabLines(g: Block): string[] {
  const { c, id, body, cb, unit, unitSize } = g;
  const [h, w] = c.pad.from.slice(unit.length + 1);
  const [hp, wp] = c.pad.to.slice(unit.length + 1);
  const [top, left] = c.pad.low.slice(unit.length + 1);
  const source = f32Tensor([...unitSize, cb, h, w]);
  const zero = (name: string, from: string, offsets: number[], sizes: number[]): string[] =>
    fillSliceLines(name, from, g.padded, c.pad.zero, [...unit, 0, ...offsets], [...unitSize, cb, ...sizes]).map((l) => body + l);
  // Rows above and below the image, then the columns left and right of it (empty borders are left out).
  const borders: [number[], number[]][] = [
    [[0, 0], [top, wp]], [[top + h, 0], [hp - top - h, wp]],
    [[top, 0], [h, left]], [[top, left + w], [h, wp - left - w]],
  ];
  const lines = [
    `${body}${id}_c = affine.apply affine_map<(d0) -> (d0 * ${cb})>(${id}_i)`,
    `${body}${id}_src = tensor.extract_slice ${c.pad.source}[${[...unit, `${id}_c`, '0', '0'].join(', ')}] [${[...unitSize, cb, h, w].join(', ')}] [${ones(unit.length + 3)}] : ${f32Tensor(c.pad.from)} to ${source}`,
    `${body}${id}_slab = bufferization.alloc_tensor() : ${g.padded}`,
  ];
  let slab = `${id}_slab`;
  borders.filter(([, sizes]) => sizes.every((d) => d > 0)).forEach(([offsets, sizes], k) => {
    lines.push(...zero(`${id}_z${k}`, slab, offsets, sizes));
    slab = `${id}_z${k}`;
  });
  lines.push(`${body}${id}_pad = tensor.insert_slice ${id}_src into ${slab}[${[...unit, 0, top, left].join(', ')}] [${[...unitSize, cb, h, w].join(', ')}] [${ones(unit.length + 3)}] : ${source} into ${g.padded}`);
  return lines;
}

/** The generic's inputs within one block. */
interface BlockInputs {
  operands: BlockOperand[];
  /** Slices of the channel-indexed operands (weights, biases). */
  slices: string[];
  /** Whole-block views of the taps: only the plain generic reads them (the row form makes its own). */
  tapViews: string[];
  /** The taps' row strides (one, for the row form). */
  rowStrides: Set<number>;
}

/** Each input of the generic within the block, or null when one cannot be blocked. */
function blockInputs(g: Block): BlockInputs | null {
  const { c, id, body, cb, unit, unitSize } = g;
  const [, oh, ow] = g.outDims;
  const out: BlockInputs = { operands: [], slices: [], tapViews: [], rowStrides: new Set() };
  for (const [k, name] of g.ins.entries()) {
    const tap = c.taps.get(name);
    const map = g.maps[k];
    if (tap) {
      if (!isIdentityMap(map, 3) || tap.sizes[0] !== oh || tap.sizes[1] !== ow) return null;
      const view = `${id}_t${k}`;
      const type = f32Tensor([cb, oh, ow]);
      const where = `[${[...unit, '0', ...tap.offsets].join(', ')}] [${[...unitSize, cb, oh, ow].join(', ')}] [${[...unitSize, 1, ...tap.strides].join(', ')}]`;
      out.tapViews.push(`${body}${view} = tensor.extract_slice ${id}_pad${where} : ${g.padded} to ${type}`);
      // The row form takes taps that read whole column runs; rowLines checks their row strides agree.
      const columnRuns = tap.strides[1] === 1;
      out.operands.push({ name: view, type, map, ...(columnRuns ? { tap: tap.offsets } : {}) });
      out.rowStrides.add(tap.strides[0]);
      continue;
    }
    const slicing = operandSlicing(map);
    const dims = dimsOf(g.inTypes[k]);
    if (slicing === 'whole') out.operands.push({ name, type: g.inTypes[k], map });
    else if (slicing === null || !dims) return null;
    else {
      const part = [cb, ...dims.slice(1)];
      const slice = `${id}_x${k}`;
      out.slices.push(`${body}${slice} = tensor.extract_slice ${name}[${id}_c${', 0'.repeat(dims.length - 1)}] [${part.join(', ')}] [${ones(dims.length)}] : ${g.inTypes[k]} to ${f32Tensor(part)}`);
      out.operands.push({ name: slice, type: f32Tensor(part), map });
    }
  }
  return out;
}

/** The row form's lines (depthwise-rows.ts), writing into the output buffer `${id}_m`; null when the block does not qualify. */
function rowLines(g: Block, inputs: BlockInputs, region: readonly string[]): string[] | null {
  const { id, body, cb, outDims } = g;
  const columnRuns = g.ins.every((name, k) => !g.c.taps.has(name) || inputs.operands[k].tap);
  const [rowStride, ...others] = inputs.rowStrides;
  if (!columnRuns || others.length > 0) return null;
  const [channels, oh, ow] = outDims;
  const lead = g.unit.length + 1;
  const top = g.c.pad.low[lead];
  return rowBlockedConvolution({
    imageRows: [top, top + g.c.pad.from[lead]], rowStride,
    id, indent: body, slab: `${id}_pad`, slabType: g.padded, unitSize: g.unitSize, shape: [cb, oh, ow],
    operands: inputs.operands, region: [...region], dest: `${id}_m`, destShape: [channels, oh, ow], channel: `${id}_c`,
  });
}

/** The generic as it was, on the block's slice `${id}_out` of the loop's shared output, giving `${id}_y`. */
function plainLines(g: Block, inputs: BlockInputs, region: readonly string[]): string[] {
  const { id, body, cb, outDims } = g;
  const shape = [cb, ...outDims.slice(1)];
  const { operands } = inputs;
  return [
    ...inputs.tapViews,
    `${body}${id}_y = linalg.generic {${g.attrs}} ins(${operands.map((o) => o.name).join(', ')} : ${operands.map((o) => o.type).join(', ')}) outs(${id}_out : ${f32Tensor(shape)}) {`,
    // The region moves into the loop unchanged (its values are its own).
    ...region.map((l) => `  ${l}`),
    `${body}} -> ${f32Tensor(shape)}`,
  ];
}

/** The head of the block loop as an scf.for over the blocks (`result` and `iterArgs` for the plain form's carried output). */
function serialHead(g: Block, indent: string, result = '', iterArgs = ''): string[] {
  return serialLoopHead(g.id, g.channels / g.cb, result, iterArgs).map((l) => indent + l);
}

/** The row form's loop: no results, each block writing its rows into the buffer `${id}_m` allocated before it. */
function rowLoop(g: Block, inputs: BlockInputs, rows: readonly string[], result: string, indent: string): string[] {
  const { id, cb, outDims } = g;
  const buffer = f32Memref(outDims);
  return [
    `${indent}${id}_m = memref.alloc() {alignment = ${BUFFER_ALIGNMENT} : i64} : ${buffer}`,
    ...(g.parallel ? [`${indent}scf.forall (${id}_i) in (${g.channels / cb}) {`] : serialHead(g, indent)),
    ...slabLines(g), ...inputs.slices, ...rows,
    `${indent}}`,
    // The only tensor view of the buffer, taken once every block is written.
    `${indent}${result} = bufferization.to_tensor ${id}_m restrict writable : ${buffer} to ${f32Tensor(outDims)}`,
  ];
}

/** The plain form's loop: each block a slice of the loop's shared output. */
function sharedLoop(g: Block, inputs: BlockInputs, region: readonly string[], result: string, indent: string): string[] {
  const { id, body, cb, outDims } = g;
  const outPart = [cb, ...outDims.slice(1)];
  const outSlice = `[${id}_c, 0, 0] [${outPart.join(', ')}] [1, 1, 1]`;
  const types = `${f32Tensor(outPart)} into ${f32Tensor(outDims)}`;
  const head = g.parallel
    ? [`${indent}${result} = scf.forall (${id}_i) in (${g.channels / cb}) shared_outs(${id}_o = ${g.init}) -> (${f32Tensor(outDims)}) {`]
    : serialHead(g, indent, `${result} = `, ` iter_args(${id}_o = ${g.init}) -> (${f32Tensor(outDims)})`);
  const insert = g.parallel
    ? [`${body}scf.forall.in_parallel {`, `${body}  tensor.parallel_insert_slice ${id}_y into ${id}_o${outSlice} : ${types}`, `${body}}`]
    : [`${body}${id}_next = tensor.insert_slice ${id}_y into ${id}_o${outSlice} : ${types}`, `${body}scf.yield ${id}_next : ${f32Tensor(outDims)}`];
  return [
    ...head,
    ...slabLines(g), ...inputs.slices,
    `${body}${id}_out = tensor.extract_slice ${id}_o${outSlice} : ${f32Tensor(outDims)} to ${f32Tensor(outPart)}`,
    ...plainLines(g, inputs, region),
    ...insert,
    `${indent}}`,
  ];
}

/** The block loop that replaces candidate `c` (rows at a time where they can), or null when an operand cannot be blocked. */
function blockLoop(lines: readonly string[], c: Candidate, aliases: ReadonlyMap<string, string>, threads: number, id: string): { text: string[]; summary: string; parallel: boolean } | null {
  const g = blockOf(c, aliases, threads, id);
  const inputs = g && blockInputs(g);
  if (!g || !inputs) return null;
  const [, indent, result] = c.generic;
  const region = lines.slice(c.head + 1, c.tail);
  const summary = `depthwise ${g.outDims.join('x')}: ${g.channels / g.cb} ${g.parallel ? 'parallel ' : ''}blocks of ${g.cb} channels, each padding its own slab`;
  const rows = rowLines(g, inputs, region);
  if (rows) return { text: rowLoop(g, inputs, rows, result, indent), summary: `${summary}, rows at a time`, parallel: g.parallel };
  return { text: sharedLoop(g, inputs, region, result, indent), summary, parallel: g.parallel };
}

/**
 * `lines` with the collapsed epilogue of each strided padded depthwise
 * convolution joined into it (depthwise-epilogue.ts): those keep the plain
 * form, or take the row form only where all their output rows (4 at most)
 * are one iteration. The stride-1 row form keeps its epilogue apart: R rows of
 * taps already hold the registers (25 weights and 4 accumulators on a 5×5
 * kernel), and with the epilogue's constants the loop spilled; rec's
 * 240-channel layers ran 0.1 ms slower each than with the separate pass.
 */
function withEpilogues(lines: readonly string[], aliases: ReadonlyMap<string, string>): readonly string[] {
  let out = lines;
  let folded = 0;
  // Each fold moves the lines after it: look for the next candidate afresh.
  for (let i = 0; i < out.length; i++) {
    const c = candidateAt(out, i);
    const strided = c !== null && [...c.taps.values()].some((t) => t.strides.some((s) => s !== 1));
    const next = c && strided ? foldCollapsedEpilogue(out, c.head, aliases, `%ortmlir_ep${folded}`) : null;
    if (next) {
      out = next;
      folded++;
    }
  }
  return out;
}

/** `lines` with every padded depthwise convolution that can be blocked computed in channel blocks. */
export function blockPaddedDepthwise(input: readonly string[], threads: number): DepthwiseBlocks {
  const aliases = mapAliases(input);
  const lines = withEpilogues(input, aliases);
  const replaced = new Map<number, string[]>();
  const dropped = new Set<number>();
  const summary: string[] = [];
  let parallel = false;
  for (let i = 0; i < lines.length; i++) {
    const c = candidateAt(lines, i);
    const loop = c && blockLoop(lines, c, aliases, threads, `%ortmlir_dw${summary.length}`);
    if (!c || !loop) continue;
    for (let l = c.padLine; l < c.padLine + PAD_LINES; l++) dropped.add(l);
    if (c.expandLine >= 0) dropped.add(c.expandLine);
    for (const t of c.taps.values()) dropped.add(t.line);
    for (let l = c.head + 1; l <= c.tail; l++) dropped.add(l);
    replaced.set(c.head, loop.text);
    summary.push(loop.summary);
    parallel ||= loop.parallel;
  }
  const out: string[] = [];
  lines.forEach((l, i) => {
    const text = replaced.get(i);
    if (text) out.push(...text);
    else if (!dropped.has(i)) out.push(l);
  });
  return { lines: out, summary, parallel };
}
