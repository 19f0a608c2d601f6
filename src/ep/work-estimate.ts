// A native step's expected run time, in element-equivalents: what the
// executor weighs to run a step inline, hop to a worker, or wait awake for it
// (runtime/executor.ts). Elements read and written measure memory-bound
// work; contractions add their multiply-adds, which a vectorised kernel
// retires about MACS_PER_ELEMENT times faster than an element moves through
// a fused elementwise chain (measured on PP-OCR cls, 16 G elements/s, and a
// 512³ MatMul, 180 G multiply-adds/s, at one thread).
import { elementCount } from '../onnx/model.js';
import { intAttribute, type IrNode, type Value } from '../ir/graph.js';
import { isStatic } from '../ir/types.js';

export const MACS_PER_ELEMENT = 10;

type StaticShape = readonly number[];

function shapeOf(v: Value | null | undefined): StaticShape | null {
  if (!v?.type || !isStatic(v.type.shape)) return null;
  return v.type.shape;
}

/** Multiply-adds per element of the node's output (or, for ConvTranspose, input); null when unknown. */
type DepthRule = (node: IrNode) => number | null;

function matmulDepth(node: IrNode): number | null {
  const a = shapeOf(node.inputs[0]);
  return a && a.length > 0 ? a[a.length - 1]! : null;
}

function gemmDepth(node: IrNode): number | null {
  const a = shapeOf(node.inputs[0]);
  if (!a || a.length !== 2) return null;
  return intAttribute(node, 'transA') ? a[0]! : a[1]!;
}

/**
 * Conv weights are (Cout, Cin/group, k...): each output reads Cin/group·k of
 * them. ConvTranspose's are (Cin, Cout/group, k...): each input element
 * scatters into Cout/group·k outputs.
 */
function convDepth(weightInput: number): DepthRule {
  return (node) => {
    const w = shapeOf(node.inputs[weightInput]);
    return w && w.length > 0 && w[0]! > 0 ? elementCount(w) / w[0]! : null;
  };
}

const DEPTH_RULES: ReadonlyMap<string, DepthRule> = new Map([
  ['MatMul', matmulDepth],
  ['MatMulInteger', matmulDepth],
  ['QLinearMatMul', matmulDepth],
  ['FusedMatMul', matmulDepth],
  ['Gemm', gemmDepth],
  ['Conv', convDepth(1)],
  ['ConvInteger', convDepth(1)],
  ['QLinearConv', convDepth(3)],
]);

/** Ops whose depth counts per input element rather than per output element. */
const SCATTER_RULES: ReadonlyMap<string, DepthRule> = new Map([['ConvTranspose', convDepth(1)]]);

function elementsTouched(node: IrNode): number {
  let n = 0;
  for (const v of [...node.inputs, ...node.outputs]) {
    const s = shapeOf(v);
    if (s) n += elementCount(s);
  }
  return n;
}

function multiplyAdds(node: IrNode): number {
  const gather = DEPTH_RULES.get(node.op);
  const rule = gather ?? SCATTER_RULES.get(node.op);
  const depth = rule?.(node);
  const per = shapeOf(gather ? node.outputs[0] : node.inputs[0]);
  return depth && per ? elementCount(per) * depth : 0;
}

/** The work of a group of nodes compiled into one native step, in element-equivalents. */
export function workEstimate(nodes: readonly IrNode[]): number {
  let n = 0;
  for (const node of nodes) n += elementsTouched(node) + multiplyAdds(node) / MACS_PER_ELEMENT;
  return Math.round(n);
}
