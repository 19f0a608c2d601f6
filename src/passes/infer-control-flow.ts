// Type inference and placement for If, Loop and Scan. Their bodies are built
// as graphs of their own (build-body-graph.ts) and inferred recursively with
// the concrete types flowing in; the node then runs as runtime-level control
// flow with compiled bodies, or — when that cannot pay off or cannot be
// carried (sequence values, loop-carried shapes that change per iteration, no
// compilable node in any body) — as a whole on the CPU EP.
import { DataType, type OnnxType } from '../onnx/model.js';
import type { Graph, IrNode } from '../ir/graph.js';
import { IrError, isStatic, type Dim, type TensorType } from '../ir/types.js';
import { SubgraphKeyError, subgraphKey } from '../ir/subgraph-key.js';
import { NodeContext } from '../import/node-context.js';
import { ImportError, lookupOp, UnsupportedError } from '../import/registry.js';
import type { ScanElement } from '../module/format.js';
import { buildBodyGraph, type BodyGraph } from './build-body-graph.js';
import type { NodeStatus } from './infer-shapes.js';

export const CONTROL_FLOW_OPS: ReadonlySet<string> = new Set(['If', 'Loop', 'Scan']);

/** Ops whose values are sequences/optionals, which runtime steps cannot carry between partitions. */
const NON_TENSOR_OP = /^(Sequence|Optional|SplitToSequence$|ConcatFromSequence$|ReverseSequence$)/;

export function isControlFlow(node: IrNode): boolean {
  return node.domain === '' && CONTROL_FLOW_OPS.has(node.op);
}

export interface BodyInfo {
  attr: string;
  key: string;
  body: BodyGraph;
  /** Per-node status after inference; null when input types are not all static (compiled on first use). */
  status: Map<IrNode, NodeStatus> | null;
}

export interface ScanAttrs {
  numState: number;
  inputAxes: number[];
  inputReverse: boolean[];
  outputAxes: number[];
  outputReverse: boolean[];
  batched: boolean;
}

export interface ControlFlow {
  op: 'If' | 'Loop' | 'Scan';
  bodies: BodyInfo[];
  /** Element types of the scan outputs (Loop/Scan). */
  scanElements: ScanElement[];
  scan: ScanAttrs | null;
}

/** Infers a body graph for the given input types (inferShapes, injected to avoid an import cycle). */
export type BodyInferrer = (g: Graph, inputTypes: ReadonlyMap<string, TensorType>) => Map<IrNode, NodeStatus>;

function sameType(a: TensorType | null, b: TensorType | null): boolean {
  return !!a && !!b && a.dataType === b.dataType && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

/** A tensor type from a declaration; unknown dims become symbols. */
function declaredType(t: OnnxType | undefined, symbol: string): TensorType | null {
  if (!t || t.kind !== 'tensor' || t.shape === null) return null;
  return { dataType: t.elemType, shape: t.shape.map((d, i) => d ?? `${symbol}_${i}`) };
}

class ControlContext extends NodeContext {
  constructor(node: IrNode, private readonly graph: Graph, private readonly inferBody: BodyInferrer) {
    super(node, graph.opsetOf(node.domain));
  }

  /** Builds and (when its input types are static) infers body `attr` with the formals typed `formalTypes`. */
  prepare(attr: string, formalTypes: (TensorType | null)[]): BodyInfo {
    const g = this.graphAttr(attr) ?? this.unsupported(`subgraph attribute '${attr}' is missing`);
    const body = buildBodyGraph(g, this.graph);
    if (body.formals.length !== formalTypes.length) this.unsupported(`${attr} has ${body.formals.length} inputs, expected ${formalTypes.length}`);
    checkTensorOnly(this, attr, g.inputs.map((v) => v.type).concat(g.outputs.map((v) => v.type)), body);
    const types = new Map<string, TensorType>();
    const all = [...formalTypes, ...body.runtimeCaptures.map((v) => v.type)];
    const known = all.every((t): t is TensorType => t !== null && isStatic(t.shape));
    if (known) body.graph.inputs.forEach((v, i) => types.set(v.name, all[i]!));
    const status = known ? this.inferBody(body.graph, types) : null;
    return { attr, key: subgraphKey(this.node.source, attr), body, status };
  }

  /** Types of a body's outputs: inferred, else declared, else null. */
  outputTypes(b: BodyInfo): (TensorType | null)[] {
    const declared = b.body.graph.onnx.outputs;
    return b.body.graph.outputs.map((v, i) => v.type ?? declaredType(declared[i]?.type, `${v.name}`));
  }

  setOutputs(types: (TensorType | null)[]): void {
    this.node.outputs.forEach((v, i) => {
      if (v) v.type = types[i] ?? null;
    });
  }
}

function checkTensorOnly(ctx: NodeContext, attr: string, declared: OnnxType[], body: BodyGraph): void {
  if (declared.some((t) => t.kind !== 'tensor' && t.kind !== 'unknown')) ctx.unsupported(`${attr} has non-tensor inputs or outputs`);
  const bad = body.graph.nodes.find((n) => NON_TENSOR_OP.test(n.op));
  if (bad) ctx.unsupported(`${attr} uses ${bad.op}, whose sequence/optional values runtime control flow cannot carry`);
  for (const v of body.graph.inputs) {
    if (v.type && !hostSliceable(v.type.dataType)) ctx.unsupported(`${attr} input '${v.name}' has dtype ${DataType[v.type.dataType]}`);
  }
}

/** Whole-byte dtypes the runtime can move, slice and stack. */
function hostSliceable(t: DataType): boolean {
  return t !== DataType.STRING && ![DataType.INT4, DataType.UINT4, DataType.FLOAT4E2M1, DataType.INT2, DataType.UINT2].includes(t);
}

/** Merges the types two branches give one output: equal dims stay, differing ones become a symbol. */
function mergeBranchTypes(a: TensorType | null, b: TensorType | null, symbol: string): TensorType | null {
  if (!a || !b || a.dataType !== b.dataType || a.shape.length !== b.shape.length) return a && b ? null : a ?? b;
  return { dataType: a.dataType, shape: a.shape.map((d, i) => (d === b.shape[i] ? d : `${symbol}_${i}`)) };
}

/** Nodes placed natively or as control flow in a body (recursively), and nodes sent to the CPU EP. */
function placementCounts(status: ReadonlyMap<IrNode, NodeStatus>): { native: number; cpu: number } {
  let native = 0;
  let cpu = 0;
  for (const s of status.values()) {
    if (s.kind === 'compiled' || s.kind === 'control') native++;
    else if (s.kind === 'fallback') cpu++;
  }
  return { native, cpu };
}

/** Whether a body that cannot be inferred yet has any node the compiler might take once shapes are known. */
function mayCompile(b: BodyInfo, graph: Graph): boolean {
  return b.body.graph.nodes.some((n) => isControlFlow(n) || !!lookupOp(n.domain, n.op, graph.opsetOf(n.domain))?.lower);
}

/** Runtime control flow pays off unless every body is inferred and none has a native node but some has CPU nodes. */
function worthRunning(ctx: NodeContext, bodies: BodyInfo[], graph: Graph): void {
  let native = 0;
  let cpu = 0;
  for (const b of bodies) {
    if (!b.status) {
      if (mayCompile(b, graph)) return;
      ctx.unsupported(`${b.attr} has dynamic input shapes and no node the compiler could take`);
    }
    const c = placementCounts(b.status);
    native += c.native;
    cpu += c.cpu;
  }
  if (native === 0 && cpu > 0) ctx.unsupported('no node of its bodies can be compiled');
}

function scanElements(ctx: ControlContext, b: BodyInfo, first: number): ScanElement[] {
  return ctx.outputTypes(b).slice(first).map((t) => ({
    dataType: t?.dataType ?? DataType.UNDEFINED,
    dims: t && isStatic(t.shape) ? t.shape : null,
  }));
}

function inferIf(ctx: ControlContext, graph: Graph): ControlFlow {
  const cond = ctx.type(0);
  if (cond.dataType !== DataType.BOOL) ctx.unsupported(`cond must be bool, got ${DataType[cond.dataType]}`);
  const bodies = ['then_branch', 'else_branch'].map((attr) => ctx.prepare(attr, []));
  const [t, e] = bodies.map((b) => ctx.outputTypes(b));
  if (t.length !== ctx.outputCount || e.length !== ctx.outputCount) ctx.unsupported(`branches must produce ${ctx.outputCount} outputs`);
  worthRunning(ctx, bodies, graph);
  ctx.setOutputs(t.map((tt, i) => mergeBranchTypes(tt, e[i], `${ctx.node.outputs[i]?.name ?? 'if'}_dim`)));
  return { op: 'If', bodies, scanElements: [], scan: null };
}

/** The trip count when it is a compile-time constant and the body cannot stop early. */
function staticTripCount(ctx: ControlContext, body: BodyGraph): number | null {
  const m = ctx.has(0) ? ctx.constant(0) : null;
  if (!m) return null;
  const cond = ctx.has(1) ? ctx.constant(1) : null;
  if (ctx.has(1) && (!cond || cond.data[0] === 0)) return null;
  const condIn = body.formals[1];
  const condOut = body.graph.outputs[0];
  const passThrough = condOut === condIn || (condOut?.producer?.op === 'Identity' && condOut.producer.inputs[0] === condIn);
  return passThrough ? Number(new DataView(m.data.buffer, m.data.byteOffset).getBigInt64(0, true)) : null;
}

function inferLoop(ctx: ControlContext, graph: Graph): ControlFlow {
  const carried = ctx.node.inputs.slice(2).map((v) => v?.type ?? null);
  const body = ctx.prepare('body', [{ dataType: DataType.INT64, shape: [] }, { dataType: DataType.BOOL, shape: [] }, ...carried]);
  const outs = ctx.outputTypes(body);
  if (outs.length !== 1 + ctx.outputCount) ctx.unsupported(`body must produce ${1 + ctx.outputCount} outputs`);
  if (body.status) {
    carried.forEach((t, i) => {
      if (!sameType(t, outs[1 + i])) ctx.unsupported(`loop-carried value ${i} changes type across iterations (${fmt(t)} → ${fmt(outs[1 + i])})`);
    });
  }
  worthRunning(ctx, [body], graph);
  const trips: Dim = staticTripCount(ctx, body.body) ?? `${ctx.node.outputs.find((v) => v)?.name ?? 'loop'}_iterations`;
  const elements = scanElements(ctx, body, 1 + carried.length);
  ctx.setOutputs([...carried, ...outs.slice(1 + carried.length).map((t) => (t ? { dataType: t.dataType, shape: [trips, ...t.shape] } : null))]);
  return { op: 'Loop', bodies: [body], scanElements: elements, scan: null };
}

function fmt(t: TensorType | null): string {
  return t ? `${DataType[t.dataType]}[${t.shape.join(',')}]` : 'unknown';
}

function inferScan(ctx: ControlContext, graph: Graph): ControlFlow {
  const batched = ctx.opset < 9;
  if (batched && ctx.has(0)) ctx.unsupported('opset-8 Scan with sequence_lens is not supported');
  const first = batched ? 1 : 0;
  const inputs = ctx.node.inputs.slice(first).map((v) => v?.type ?? null);
  const numScan = ctx.int('num_scan_inputs');
  const numState = inputs.length - numScan;
  if (numState < 0) ctx.unsupported(`num_scan_inputs ${numScan} exceeds the ${inputs.length} inputs`);
  const numScanOut = ctx.outputCount - numState;
  const dirKey = batched ? 'directions' : 'scan_input_directions';
  const inputReverse = ctx.ints(dirKey, new Array<number>(numScan).fill(0)).map((d) => d === 1);
  const rawAxes = batched ? new Array<number>(numScan).fill(0) : ctx.ints('scan_input_axes', new Array<number>(numScan).fill(0));
  const strip = (t: TensorType | null) => (t && batched ? { dataType: t.dataType, shape: t.shape.slice(1) } : t);
  const stateTypes = inputs.slice(0, numState).map(strip);
  const scanTypes = inputs.slice(numState).map(strip);
  const axes = scanTypes.map((t, i) => (t ? ctx.axis(rawAxes[i] ?? 0, t.shape.length) : rawAxes[i] ?? 0));
  const slices = scanTypes.map((t, i) => (t ? { dataType: t.dataType, shape: t.shape.filter((_, k) => k !== axes[i]) } : null));
  const body = ctx.prepare('body', [...stateTypes, ...slices]);
  const outs = ctx.outputTypes(body);
  if (outs.length !== ctx.outputCount) ctx.unsupported(`body must produce ${ctx.outputCount} outputs`);
  if (body.status) {
    stateTypes.forEach((t, i) => {
      if (!sameType(t, outs[i])) ctx.unsupported(`scan state ${i} changes type across iterations (${fmt(t)} → ${fmt(outs[i])})`);
    });
  }
  worthRunning(ctx, [body], graph);
  const length: Dim = scanTypes[0]?.shape[axes[0]] ?? 'scan_length';
  const outputReverse = batched ? new Array<boolean>(numScanOut).fill(false) : ctx.ints('scan_output_directions', new Array<number>(numScanOut).fill(0)).map((d) => d === 1);
  const rawOutAxes = batched ? new Array<number>(numScanOut).fill(0) : ctx.ints('scan_output_axes', new Array<number>(numScanOut).fill(0));
  const scanOuts = outs.slice(numState).map((t, k) => {
    if (!t) return null;
    const axis = ctx.axis(rawOutAxes[k] ?? 0, t.shape.length + 1);
    const shape = [...t.shape.slice(0, axis), length, ...t.shape.slice(axis)];
    return { dataType: t.dataType, shape };
  });
  const batch = inputs.find((t) => t)?.shape[0] ?? 'scan_batch';
  const unstrip = (t: TensorType | null) => (t && batched ? { dataType: t.dataType, shape: [batch, ...t.shape] } : t);
  ctx.setOutputs([...inputs.slice(0, numState), ...scanOuts.map(unstrip)]);
  const outputAxes = scanOuts.map((t, k) => (t ? ctx.axis(rawOutAxes[k] ?? 0, t.shape.length) : rawOutAxes[k] ?? 0));
  return {
    op: 'Scan',
    bodies: [body],
    scanElements: scanElements(ctx, body, numState),
    scan: { numState, inputAxes: axes, inputReverse, outputAxes, outputReverse, batched },
  };
}

/** Infers an If/Loop/Scan node; the 'control' status carries its inferred bodies. */
export function inferControlFlow(node: IrNode, graph: Graph, inferBody: BodyInferrer): NodeStatus {
  const ctx = new ControlContext(node, graph, inferBody);
  try {
    const control = node.op === 'If' ? inferIf(ctx, graph) : node.op === 'Loop' ? inferLoop(ctx, graph) : inferScan(ctx, graph);
    return { kind: 'control', control };
  } catch (e) {
    if (!(e instanceof ImportError) && !(e instanceof IrError) && !(e instanceof SubgraphKeyError)) throw e;
    const declared = new Map([...graph.onnx.valueInfo, ...graph.onnx.outputs].map((vi) => [vi.name, vi.type]));
    for (const v of node.outputs) if (v) v.type ??= declaredType(declared.get(v.name), v.name);
    return { kind: 'fallback', reason: e instanceof UnsupportedError ? e.message : `${ctx.label}: ${e.message}` };
  }
}
