// Nodes that fall back only because their shapes are unknown until run time
// (they read a Loop's scan outputs, an If whose branches differ in size, a
// NonZero...) are deferred rather than sent to the CPU EP: their outputs get
// symbolic types (infer-symbolic-shapes.ts) so that the graph keeps ranks,
// dtypes and dimension relations, and the runtime compiles each run of
// deferred nodes for the concrete shapes it meets.
import { isStatic } from '../ir/types.js';
import type { Graph, IrNode } from '../ir/graph.js';
import { lookupOp } from '../import/registry.js';
import { isControlFlow } from './infer-control-flow.js';
import type { SymbolicShapes } from './infer-symbolic-shapes.js';
import type { NodeStatus } from './infer-shapes.js';

/** Whether the node has a lowering and reads a value whose shape is not known at compile time. */
function readsDynamicShapes(node: IrNode, graph: Graph): boolean {
  if (isControlFlow(node) || !lookupOp(node.domain, node.op, graph.opsetOf(node.domain))?.lower) return false;
  return node.inputs.some((v) => v !== null && !v.constant && (!v.type || !isStatic(v.type.shape)));
}

/** Gives a fallen-back node symbolic output types and defers it when its shapes are dynamic. */
export function deferDynamicNode(node: IrNode, graph: Graph, status: Extract<NodeStatus, { kind: 'fallback' }>, symbolic: SymbolicShapes): NodeStatus {
  const outs = symbolic.inferNode(node);
  node.outputs.forEach((v, i) => {
    const t = symbolic.toType(outs[i] ?? null);
    if (v && t && !(v.type && isStatic(v.type.shape))) v.type = t;
  });
  return readsDynamicShapes(node, graph) ? { kind: 'deferred', reason: status.reason } : status;
}
