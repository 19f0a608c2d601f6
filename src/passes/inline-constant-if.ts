// Replaces an If whose condition is a compile-time constant by the nodes of
// the branch it takes, so that the branch is folded, partitioned and compiled
// with its surroundings instead of running as runtime control flow. Branch
// names that clash with the enclosing graph are renamed; each branch output
// becomes the If's output by renaming its producer, or through an Identity.
import { DataType, elementCount, type OnnxGraph, type OnnxNode } from '../onnx/model.js';
import { subgraphFreeNames, type Graph, type IrNode, type Value } from '../ir/graph.js';
import { aliasNodePath } from '../ir/subgraph-key.js';

function takenBranch(node: IrNode): OnnxGraph | null {
  if (node.domain !== '' || node.op !== 'If') return null;
  const cond = node.inputs[0]?.constant;
  if (!cond || cond.dataType !== DataType.BOOL || elementCount(cond.dims) !== 1) return null;
  const a = node.attributes.get(cond.data[0] ? 'then_branch' : 'else_branch');
  if (!a || a.kind !== 'graph' || a.value.inputs.length || a.value.outputs.length !== node.outputs.length) return null;
  return a.value;
}

export function freshName(graph: Graph, base: string, taken: Set<string>): string {
  for (let i = 0; ; i++) {
    const name = `${base}__inl${i}`;
    if (!graph.values.has(name) && !taken.has(name)) {
      taken.add(name);
      return name;
    }
  }
}

/** Branch-defined name → name in the enclosing graph; null when renaming would break a nested subgraph. */
function renaming(graph: Graph, node: IrNode, branch: OnnxGraph): Map<string, string> | null {
  const produced = branch.nodes.flatMap((n) => n.outputs).filter((o) => o !== '');
  const defined = new Set([...branch.initializers.map((t) => t.name), ...produced]);
  const taken = new Set<string>();
  const rename = new Map<string, string>();
  for (const name of defined) if (graph.values.has(name)) rename.set(name, freshName(graph, name, taken));
  branch.outputs.forEach((o, i) => {
    const target = node.outputs[i];
    const once = branch.outputs.filter((x) => x.name === o.name).length === 1;
    if (target && once && produced.includes(o.name)) rename.set(o.name, target.name);
  });
  const nestedReads = new Set(branch.nodes.flatMap((n) => [...subgraphFreeNames(n)]));
  return [...rename.keys()].some((n) => nestedReads.has(n)) ? null : rename;
}

function detach(node: IrNode): void {
  for (const v of [...node.inputs, ...node.captures]) {
    const i = v ? v.users.indexOf(node) : -1;
    if (v && i >= 0) v.users.splice(i, 1);
  }
}

/** An IR node for `source`, linked to its values' users/producer. */
export function irNode(graph: Graph, source: OnnxNode, id: number): IrNode {
  const node: IrNode = {
    id,
    op: source.opType,
    domain: source.domain,
    name: source.name,
    inputs: source.inputs.map((n) => (n === '' ? null : graph.value(n))),
    outputs: source.outputs.map((n) => (n === '' ? null : graph.value(n))),
    attributes: source.attributes,
    source,
    captures: [...subgraphFreeNames(source)].map((n) => graph.value(n)),
  };
  for (const v of [...node.inputs, ...node.captures]) v?.users.push(node);
  for (const v of node.outputs) if (v) v.producer = node;
  return node;
}

/** Inlines graph.nodes[index] if it is an If with a constant condition; returns whether it did. */
export function inlineConstantIf(graph: Graph, index: number): boolean {
  const node = graph.nodes[index];
  const branch = node ? takenBranch(node) : null;
  const rename = branch ? renaming(graph, node, branch) : null;
  if (!branch || !rename) return false;
  const r = (n: string) => (n === '' ? n : rename.get(n) ?? n);
  detach(node);
  for (const t of branch.initializers) {
    const v: Value = graph.value(r(t.name));
    v.constant = { ...t, name: v.name };
    v.isInitializer = true;
    v.type = { dataType: t.dataType, shape: [...t.dims] };
  }
  let id = graph.nodes.length + index;
  const nodes = branch.nodes.map((n) => {
    const copy: OnnxNode = { ...n, inputs: n.inputs.map(r), outputs: n.outputs.map(r) };
    aliasNodePath(copy, n);
    return irNode(graph, copy, id++);
  });
  branch.outputs.forEach((o, i) => {
    const target = node.outputs[i];
    if (!target || r(o.name) === target.name) return;
    const identity: OnnxNode = {
      name: `${node.name || 'If'}_inlined_out${i}`, opType: 'Identity', domain: '',
      inputs: [r(o.name)], outputs: [target.name], attributes: new Map(), raw: undefined,
    };
    nodes.push(irNode(graph, identity, id++));
  });
  graph.nodes.splice(index, 1, ...nodes);
  return true;
}
