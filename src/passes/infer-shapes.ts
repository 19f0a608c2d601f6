// Propagates static types through the graph for concrete input shapes,
// folding small constant computations (shape arithmetic) on the way, and
// records for every node whether the compiler can take it.
import { DataType, elementCount, type OnnxType, type OnnxTensor } from '../onnx/model.js';
import { nodeLabel, type Graph, type IrNode, type Value } from '../ir/graph.js';
import { isStatic, type TensorType } from '../ir/types.js';
import { NodeContext } from '../import/node-context.js';
import { ImportError, NeedsValueError, lookupOp, type BoundedOutput, type OpDef } from '../import/registry.js';
import { isSmallConstant } from '../import/tensor-data.js';
import { inferControlFlow, isControlFlow, type ControlFlow } from './infer-control-flow.js';
import { inlineConstantIf } from './inline-constant-if.js';
import { expandFlexAttention } from './expand-flex-attention.js';
import { deferDynamicNode } from './defer-dynamic-nodes.js';
import { notInlinedReason } from './inline-functions.js';
import { SymbolicShapes } from './infer-symbolic-shapes.js';

export type NodeStatus =
  | { kind: 'folded' }
  /**
   * `bounds`: an op whose output size depends on data, compiled at its
   * largest output size with the run-time count (see registry.ts BoundedOutput).
   */
  | { kind: 'compiled'; def: OpDef; bounds?: BoundedOutput[] }
  /** If/Loop/Scan run by the runtime, with their bodies inferred (see infer-control-flow.ts). */
  | { kind: 'control'; control: ControlFlow }
  /**
   * Shapes known only at run time: compiled per concrete shape then (see
   * defer-dynamic-nodes.ts); `valueInputs` are small integer inputs (shapes,
   * axes...) whose values the compiled variants are specialised on.
   */
  | { kind: 'deferred'; reason: string; valueInputs?: Value[] }
  /** `needsValue`: the index of the input whose value (not only its type) the lowering needs. */
  | { kind: 'fallback'; reason: string; needsValue?: number };

export interface InferenceResult {
  status: Map<IrNode, NodeStatus>;
}

function fromOnnxType(t: OnnxType): TensorType | null {
  if (t.kind !== 'tensor' || t.shape === null) return null;
  const shape = t.shape;
  if (!shape.every((d): d is number => typeof d === 'number')) return null;
  return { dataType: t.elemType, shape };
}

/** Declared (value_info / output) types, used for values the compiler cannot infer. */
function declaredTypes(graph: Graph): Map<string, TensorType> {
  const out = new Map<string, TensorType>();
  for (const vi of [...graph.onnx.valueInfo, ...graph.onnx.outputs]) {
    const t = fromOnnxType(vi.type);
    if (t) out.set(vi.name, t);
  }
  return out;
}

function tryFold(def: OpDef, ctx: NodeContext, node: IrNode): OnnxTensor[] | null {
  if (!def.fold) return null;
  const inputs = node.inputs.map((v) => v?.constant ?? null);
  if (!def.foldsOnTypes && node.inputs.some((v, i) => v !== null && (inputs[i] === null || !isSmallConstant(inputs[i]!)))) return null;
  return def.fold(ctx, inputs);
}

/** An empty tensor of `t`: a value with no elements is known from its type alone. */
function emptyConstant(name: string, t: TensorType): OnnxTensor | null {
  if (!isStatic(t.shape) || elementCount(t.shape) !== 0 || t.dataType === DataType.STRING) return null;
  return { name, dataType: t.dataType, dims: [...t.shape], data: new Uint8Array(0) };
}

/**
 * Outputs with no elements are constants (zero-size tensors at partition
 * boundaries trip the codegen); a node whose outputs all are needs no code.
 */
function foldEmptyOutputs(node: IrNode): boolean {
  let all = true;
  for (const v of node.outputs) {
    const c = v?.type ? emptyConstant(v.name, v.type) : null;
    if (v && c) v.constant = c;
    else if (v) all = false;
  }
  return all;
}

/** A bounded output whose size is known anyway: untrimmed, or trimmed from an extent of 0. */
function exactBound(o: BoundedOutput): boolean {
  return o.trimAxis === null || o.type.shape[o.trimAxis] === 0;
}

/**
 * A node compiled at its largest output size: its trimmed outputs get
 * symbolic types (a fresh run-time count), so that their users are deferred
 * and compiled for the size each run produces.
 */
function boundedNode(node: IrNode, def: OpDef, bounds: BoundedOutput[], ctx: NodeContext, symbolic: SymbolicShapes): NodeStatus {
  // A zero-size result buffer breaks the LLVM lowering (see foldEmptyOutputs).
  if (bounds.some((o) => elementCount(o.type.shape) === 0)) ctx.unsupported('an output of unknown size has no elements at its largest size');
  const types = symbolic.inferBounded(node, bounds);
  node.outputs.forEach((v, i) => {
    if (v) v.type = types[i] ?? null;
  });
  return { kind: 'compiled', def, bounds };
}

function inferNode(node: IrNode, graph: Graph, declared: Map<string, TensorType>, symbolic: SymbolicShapes): NodeStatus {
  if (isControlFlow(node)) return inferControlFlow(node, graph, (body, types) => inferShapes(body, types).status);
  const def = lookupOp(node.domain, node.op, graph.opsetOf(node.domain));
  if (!def) {
    for (const v of node.outputs) if (v) v.type = declared.get(v.name) ?? null;
    const reason = notInlinedReason(node.source);
    if (reason) return { kind: 'fallback', reason };
    return { kind: 'fallback', reason: `no lowering for ${node.domain || 'ai.onnx'}.${node.op} at opset ${graph.opsetOf(node.domain)}` };
  }
  const ctx = new NodeContext(node, graph.opsetOf(node.domain), declared);
  try {
    const folded = tryFold(def, ctx, node);
    if (folded) {
      node.outputs.forEach((v, i) => {
        if (!v) return;
        v.constant = { ...folded[i], name: v.name };
        v.type = { dataType: folded[i].dataType, shape: [...folded[i].dims] };
      });
      return { kind: 'folded' };
    }
    const bounds = def.lower ? def.bounded?.(ctx) ?? null : null;
    if (bounds && !bounds.every(exactBound)) return boundedNode(node, def, bounds, ctx, symbolic);
    const types = bounds ? bounds.map((o) => o.type) : def.infer(ctx);
    node.outputs.forEach((v, i) => {
      if (v) v.type = types[i] ?? null;
    });
    if (foldEmptyOutputs(node)) return { kind: 'folded' };
    if (!def.lower) return { kind: 'fallback', reason: `${nodeLabel(node)}: only foldable on constants` };
    if (!types.every((t) => isStatic(t.shape))) return { kind: 'fallback', reason: `${nodeLabel(node)}: dynamic output shape` };
    return { kind: 'compiled', def };
  } catch (e) {
    if (!(e instanceof ImportError)) throw e;
    for (const v of node.outputs) if (v) v.type = declared.get(v.name) ?? v.type;
    return { kind: 'fallback', reason: e.message, ...(e instanceof NeedsValueError ? { needsValue: e.input } : {}) };
  }
}

/** Assigns `inputTypes` to the graph inputs and infers every node in order. */
export function inferShapes(graph: Graph, inputTypes: ReadonlyMap<string, TensorType>): InferenceResult {
  const declared = declaredTypes(graph);
  for (const v of graph.inputs) {
    v.type = inputTypes.get(v.name) ?? null;
    v.constant = v.type ? emptyConstant(v.name, v.type) : null;
  }
  const status = new Map<IrNode, NodeStatus>();
  const symbolic = new SymbolicShapes(graph);
  // Index-based: an If whose condition has just folded is replaced in place by its branch's nodes.
  for (let i = 0; i < graph.nodes.length; i++) {
    if (inlineConstantIf(graph, i) || expandFlexAttention(graph, i)) {
      i--;
      continue;
    }
    const node = graph.nodes[i];
    const s = inferNode(node, graph, declared, symbolic);
    status.set(node, s.kind === 'fallback' ? deferDynamicNode(node, graph, s, symbolic) : s);
  }
  return { status };
}
