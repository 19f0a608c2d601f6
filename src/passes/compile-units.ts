// Splits a long run of compiled nodes into several compile units. One huge
// MLIR function compiles slowly (opt and llc grow faster than linearly in
// function size) and on one core only; units of a few dispatch regions each
// compile in parallel and link into the same library, each becoming its own
// native step of the plan.
//
// A dispatch region is a heavy node (convolution, matmul, pooling,
// reduction) with the cheap nodes that follow it (its elementwise
// epilogue: bias, batch norm, activation, residual add). Units are cut only
// just before a heavy node, so producer/consumer fusion inside a region is
// never broken; the value crossing a cut is the heavy op's input, which is
// materialized in memory anyway.
import { availableParallelism } from 'node:os';
import { intAttribute, type IrNode } from '../ir/graph.js';

/** Below this many nodes a run stays one unit: each unit costs a few tool processes. */
export const MIN_UNIT_NODES = 40;

/**
 * Units per core at most. Each unit costs seven tool processes whatever its
 * size (about 0.6 s of CPU for mlir-opt's and mlir-translate's start-up
 * alone), while opt and llc grow only mildly faster than linearly at these
 * sizes: det (330 nodes) at two cores compiled in 8.8 – 8.9 s as 8 units,
 * 7.4 – 8.1 s as 4, 8.1 – 9.5 s as 3 (one core idles at the end) and
 * 8.6 – 10.1 s as 2. Two per core let the largest-first order balance them.
 */
export const UNITS_PER_CORE = 2;

/** How a run of nodes is cut: units of at least `minNodes`, at most `maxUnits` of them. */
export interface UnitSizing {
  minNodes: number;
  maxUnits: number;
}

/**
 * ORT_MLIR_UNIT_NODES as the minimum and no cap on the count (1 = one unit
 * per dispatch region, to profile per op), else the defaults for this machine.
 */
export function unitSizing(): UnitSizing {
  const v = Number(process.env.ORT_MLIR_UNIT_NODES);
  if (Number.isInteger(v) && v > 0) return { minNodes: v, maxUnits: Number.POSITIVE_INFINITY };
  return { minNodes: MIN_UNIT_NODES, maxUnits: UNITS_PER_CORE * availableParallelism() };
}

/** Nodes that start a dispatch region (and where a unit may be cut). */
const HEAVY_OPS: ReadonlySet<string> = new Set([
  'Conv', 'ConvTranspose', 'ConvInteger', 'QLinearConv',
  'MatMul', 'MatMulInteger', 'QLinearMatMul', 'Gemm', 'Einsum',
  'MaxPool', 'AveragePool', 'LpPool', 'GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool',
  'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2',
  'Softmax', 'LogSoftmax', 'LayerNormalization', 'InstanceNormalization', 'LSTM', 'GRU', 'RNN',
]);

function isHeavy(n: IrNode): boolean {
  return n.domain === '' && HEAVY_OPS.has(n.op);
}

/**
 * A node's expected share of its unit's compile time, in plain nodes: a
 * convolution's schedule emits kernels many times an elementwise op's code,
 * and a dense 3×3 one also Winograd's transforms and their small matmuls.
 * The fit of toolchain/pipeline.ts's compileCost (which orders the units by
 * their MLIR: 15 ms per KB, 70 ms more per convolution, 0.6 s more per 3×3
 * one) in nodes, at det's 1.2 KB of MLIR per node. Balanced by node count,
 * det's head (24 convolutions, five of them 3×3) compiled for 6.4 s beside
 * units of 1.8 – 3.1 s.
 */
const CONV_WEIGHT = 6;
const CONV3X3_WEIGHT = 40;

/** Whether `n` is a dense (not grouped) convolution with a 3×3 filter. */
function isDenseConv3x3(n: IrNode): boolean {
  const shape = n.inputs[1]?.type?.shape;
  return intAttribute(n, 'group', 1) === 1 && shape?.length === 4 && shape[2] === 3 && shape[3] === 3;
}

export function compileWeight(n: IrNode): number {
  if (n.domain !== '' || n.op !== 'Conv') return 1;
  return isDenseConv3x3(n) ? CONV3X3_WEIGHT : CONV_WEIGHT;
}

/**
 * `nodes` (topologically ordered) cut into units of about equal expected
 * compile time (compileWeight), at least `minNodes` each where heavy nodes
 * allow and at most `maxUnits`, every cut just before a heavy node. Equal
 * costs matter because units compile in parallel: the last to finish bounds
 * the compile.
 */
export function splitIntoUnits(nodes: readonly IrNode[], sizing: UnitSizing = unitSizing()): IrNode[][] {
  const { minNodes } = sizing;
  const count = Math.min(Math.floor(nodes.length / minNodes), sizing.maxUnits);
  if (count < 2) return [[...nodes]];
  // before[i]: the weight of nodes[0 .. i).
  const before = [0];
  for (const n of nodes) before.push(before[before.length - 1] + compileWeight(n));
  const total = before[nodes.length];
  const candidates = nodes.flatMap((n, i) => (i > 0 && isHeavy(n) ? [i] : []));
  // A unit much smaller than minNodes costs its tool processes for little code.
  const least = Math.ceil(minNodes / 2);
  const cuts: number[] = [];
  for (let j = 1; j < count; j++) {
    const ideal = (j * total) / count;
    const prev = cuts.at(-1) ?? 0;
    const fits = candidates.filter((c) => c - prev >= least && nodes.length - c >= least);
    if (!fits.length) break;
    const best = fits.reduce((a, b) => (Math.abs(before[b] - ideal) < Math.abs(before[a] - ideal) ? b : a));
    cuts.push(best);
  }
  return [0, ...cuts].map((start, i) => nodes.slice(start, cuts[i] ?? nodes.length));
}
