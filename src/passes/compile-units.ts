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
import type { IrNode } from '../ir/graph.js';

/** Below this many nodes a run stays one unit: each unit costs a few tool processes. */
export const MIN_UNIT_NODES = 40;

/** The unit size: ORT_MLIR_UNIT_NODES (1 = one unit per dispatch region, to profile per op), else the default. */
export function unitNodes(): number {
  const v = Number(process.env.ORT_MLIR_UNIT_NODES);
  return Number.isInteger(v) && v > 0 ? v : MIN_UNIT_NODES;
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
 * `nodes` (topologically ordered) cut into units of at least `minNodes`
 * nodes, each starting at a heavy node (the first may start anywhere).
 */
export function splitIntoUnits(nodes: readonly IrNode[], minNodes = unitNodes()): IrNode[][] {
  if (nodes.length < 2 * minNodes) return [[...nodes]];
  const units: IrNode[][] = [];
  let current: IrNode[] = [];
  nodes.forEach((n, i) => {
    // The remainder must also be big enough to stand alone.
    const restBigEnough = nodes.length - i >= minNodes;
    if (current.length >= minNodes && restBigEnough && isHeavy(n)) {
      units.push(current);
      current = [];
    }
    current.push(n);
  });
  units.push(current);
  return units;
}
