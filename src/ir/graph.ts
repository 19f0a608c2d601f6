// The one graph IR: SSA values with (possibly unknown) tensor types and,
// where known at compile time, their constant contents.
import type { OnnxAttribute, OnnxGraph, OnnxNode, OnnxTensor } from '../onnx/model.js';
import type { TensorType } from './types.js';

export class Value {
  /** Set by shape inference; null while unknown or for non-tensor values. */
  type: TensorType | null = null;
  /** Contents when known at compile time (initializer, Constant, folded). */
  constant: OnnxTensor | null = null;
  /** True for graph initializers: passed to compiled code as weights, not embedded. */
  isInitializer = false;
  producer: IrNode | null = null;
  readonly users: IrNode[] = [];
  constructor(readonly name: string) {}
}

export interface IrNode {
  readonly id: number;
  readonly op: string;
  readonly domain: string;
  readonly name: string;
  /** null marks an omitted optional input. */
  readonly inputs: (Value | null)[];
  readonly outputs: (Value | null)[];
  readonly attributes: ReadonlyMap<string, OnnxAttribute>;
  readonly source: OnnxNode;
  /** Outer-scope values read by subgraph attributes (If/Loop/Scan bodies). */
  readonly captures: Value[];
}

export class Graph {
  readonly values = new Map<string, Value>();
  readonly nodes: IrNode[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];

  constructor(readonly onnx: OnnxGraph, readonly opsets: ReadonlyMap<string, number>) {}

  value(name: string): Value {
    let v = this.values.get(name);
    if (!v) {
      v = new Value(name);
      this.values.set(name, v);
    }
    return v;
  }

  opsetOf(domain: string): number {
    return this.opsets.get(domain) ?? 0;
  }
}

/** A node's int attribute, or `fallback` when it is absent or of another kind. */
export function intAttribute(node: IrNode, name: string, fallback = 0): number {
  const a = node.attributes.get(name);
  return a?.kind === 'int' ? a.value : fallback;
}

export function nodeLabel(n: { op: string; name: string }): string {
  return n.name ? `${n.op}(${n.name})` : n.op;
}

/** Builds the IR for a (main) graph; subgraph attributes stay as ONNX graphs. */
export function buildGraph(g: OnnxGraph, opsets: ReadonlyMap<string, number>): Graph {
  const graph = new Graph(g, opsets);
  for (const init of g.initializers) {
    const v = graph.value(init.name);
    v.constant = init;
    v.isInitializer = true;
    v.type = { dataType: init.dataType, shape: [...init.dims] };
  }
  const initNames = new Set(g.initializers.map((t) => t.name));
  for (const vi of g.inputs) {
    // Since IR v4 an initializer may also be listed as a (overridable) graph input.
    if (initNames.has(vi.name)) continue;
    graph.inputs.push(graph.value(vi.name));
  }
  g.nodes.forEach((n, id) => {
    const node: IrNode = {
      id,
      op: n.opType,
      domain: n.domain,
      name: n.name,
      inputs: n.inputs.map((name) => (name === '' ? null : graph.value(name))),
      outputs: n.outputs.map((name) => (name === '' ? null : graph.value(name))),
      attributes: n.attributes,
      source: n,
      captures: [...subgraphFreeNames(n)].map((name) => graph.value(name)),
    };
    for (const v of [...node.inputs, ...node.captures]) v?.users.push(node);
    for (const v of node.outputs) if (v) v.producer = node;
    graph.nodes.push(node);
  });
  for (const vi of g.outputs) graph.outputs.push(graph.value(vi.name));
  return graph;
}

/** Names a node's subgraph attributes read from enclosing scopes, recursively. */
export function subgraphFreeNames(n: OnnxNode): Set<string> {
  const free = new Set<string>();
  for (const a of n.attributes.values()) {
    const graphs = a.kind === 'graph' ? [a.value] : a.kind === 'graphs' ? a.value : [];
    for (const g of graphs) for (const name of graphFreeNames(g)) free.add(name);
  }
  return free;
}

function graphFreeNames(g: OnnxGraph): Set<string> {
  const defined = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.map((t) => t.name)]);
  const free = new Set<string>();
  const use = (name: string) => {
    if (name !== '' && !defined.has(name)) free.add(name);
  };
  for (const n of g.nodes) {
    n.inputs.forEach(use);
    subgraphFreeNames(n).forEach(use);
    for (const o of n.outputs) defined.add(o);
  }
  g.outputs.forEach((o) => use(o.name));
  return free;
}
