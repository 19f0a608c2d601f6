// Nodes that fall back only because their shapes are unknown until run time
// (they read a Loop's scan outputs, an If whose branches differ in size, a
// NonZero...) are deferred rather than sent to the CPU EP: their outputs get
// symbolic types (infer-symbolic-shapes.ts) so that the graph keeps ranks,
// dtypes and dimension relations, and the runtime compiles each run of
// deferred nodes for the concrete shapes it meets.
//
// Likewise nodes declined only because a small integer input that sets their
// output shape (Expand's shape, Reshape's shape, Slice's starts, a Reduce's
// axes...) is a run-time value: like TensorRT's shape tensors, they are
// deferred with that input marked for specialisation by VALUE, so that the
// runtime compiles a variant per value with the value embedded as a constant.
import { DataType, elementCount } from '../onnx/model.js';
import { isFloat, isInteger, isStatic } from '../ir/types.js';
import type { Graph, IrNode, Value } from '../ir/graph.js';
import { lookupOp } from '../import/registry.js';
import { isControlFlow } from './infer-control-flow.js';
import type { SymbolicShapes } from './infer-symbolic-shapes.js';
import type { NodeStatus } from './infer-shapes.js';

/**
 * Largest integer input (in elements) a deferred node is specialised on by
 * value: shape-like tensors are a handful of elements; anything bigger is data,
 * and a variant per value of it would recompile on every run.
 */
export const MAX_VALUE_SPECIALISED_ELEMENTS = 64;

/** Whether the node has a lowering and reads a value whose shape is not known at compile time. */
function readsDynamicShapes(node: IrNode, graph: Graph): boolean {
  if (isControlFlow(node) || !lookupOp(node.domain, node.op, graph.opsetOf(node.domain))?.lower) return false;
  return node.inputs.some((v) => v !== null && !v.constant && (!v.type || !isStatic(v.type.shape)));
}

const INDEX_TYPES: readonly DataType[] = [DataType.INT64, DataType.INT32];

/**
 * A run-time tensor of statically known size that is small enough to
 * specialise on: int32/int64 of at most MAX_VALUE_SPECIALISED_ELEMENTS
 * elements, or a numeric scalar (Range bounds and OneHot depth may be floats).
 */
function specialisable(v: Value | null): v is Value {
  const t = v?.type;
  if (!v || v.constant || !t || !isStatic(t.shape)) return false;
  const n = elementCount(t.shape);
  if (INDEX_TYPES.includes(t.dataType)) return n <= MAX_VALUE_SPECIALISED_ELEMENTS;
  return n === 1 && (isInteger(t.dataType) || isFloat(t.dataType));
}

/**
 * The inputs to specialise a node on: the one it declined for, plus the other
 * run-time inputs of its dtype past the data input (Slice's ends, axes and
 * steps; Range's limit and delta; Pad's axes) which it would decline for next.
 * Null when the declined input cannot be specialised.
 */
function valueInputsOf(node: IrNode, graph: Graph, declined: number): Value[] | null {
  if (isControlFlow(node) || !lookupOp(node.domain, node.op, graph.opsetOf(node.domain))?.lower) return null;
  const first = node.inputs[declined] ?? null;
  if (!specialisable(first)) return null;
  const dt = first.type?.dataType;
  const picked = node.inputs.filter((v, i): v is Value => (i === declined || (i > 0 && v?.type?.dataType === dt)) && specialisable(v));
  return [...new Set(picked)];
}

/** Gives a fallen-back node symbolic output types and defers it when its shapes are dynamic or value-dependent. */
export function deferDynamicNode(node: IrNode, graph: Graph, status: Extract<NodeStatus, { kind: 'fallback' }>, symbolic: SymbolicShapes): NodeStatus {
  const outs = symbolic.inferNode(node);
  node.outputs.forEach((v, i) => {
    const t = symbolic.toType(outs[i] ?? null);
    if (v && t && !(v.type && isStatic(v.type.shape))) v.type = t;
  });
  const valueInputs = status.needsValue === undefined ? null : valueInputsOf(node, graph, status.needsValue);
  if (valueInputs) return { kind: 'deferred', reason: status.reason, valueInputs };
  return readsDynamicShapes(node, graph) ? { kind: 'deferred', reason: status.reason } : status;
}
