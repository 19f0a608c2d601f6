// Splits a FlexAttention node whose score_mod / prob_mod graphs can be inlined
// into its internal stages around the bodies' nodes:
//
//   s = FlexAttentionScores(Q, K, V); s' = score_mod(s);
//   p = FlexAttentionSoftmax(s');     p' = prob_mod(p);
//   Y = FlexAttentionApply(Q, K, V, p')
//
// so that the bodies are folded, typed and compiled with the rest of the graph
// (their dims are the static [B, Hq, L, S] of the scores). Runs from shape
// inference when the node is reached, i.e. with Q, K and V typed; a node whose
// plan or bodies do not fit is left whole and declined by its op definition.
import type { OnnxAttribute, OnnxGraph, OnnxNode } from '../onnx/model.js';
import type { Graph, IrNode, Value } from '../ir/graph.js';
import { aliasNodePath } from '../ir/subgraph-key.js';
import { NodeContext } from '../import/node-context.js';
import { ImportError } from '../import/registry.js';
import { FLEX_DOMAIN, FLEX_MODS, FLEX_STAGE_DOMAIN, FLEX_STAGES, flexPlan } from '../import/ops/flex-attention.js';
import type { DataType } from '../onnx/model.js';
import { freshName, irNode } from './inline-constant-if.js';

type Mod = (typeof FLEX_MODS)[number];

/** A body that reads one tensor of `dt` and returns one, with no nested subgraphs. */
function inlinable(g: OnnxGraph, dt: DataType): boolean {
  if (g.inputs.length !== 1 || g.outputs.length !== 1) return false;
  const t = g.inputs[0].type;
  if (t.kind !== 'tensor' || t.elemType !== dt) return false;
  return g.nodes.every((n) => [...n.attributes.values()].every((a) => a.kind !== 'graph' && a.kind !== 'graphs'));
}

function modGraph(node: IrNode, mod: Mod): OnnxGraph | null {
  const a = node.attributes.get(mod);
  return a?.kind === 'graph' ? a.value : null;
}

function stageNode(name: string, op: string, inputs: string[], output: string, attributes: Map<string, OnnxAttribute>): OnnxNode {
  return { name, opType: op, domain: FLEX_STAGE_DOMAIN, inputs, outputs: [output], attributes, raw: undefined };
}

/**
 * The body's nodes with every name it defines made unique in `graph` (the
 * input renamed to `input`); returns them and the name of the body's result.
 */
function inlineBody(graph: Graph, original: OnnxNode, body: OnnxGraph, input: string, prefix: string, taken: Set<string>, nextId: () => number): { nodes: IrNode[]; output: string } {
  const rename = new Map<string, string>([[body.inputs[0].name, input]]);
  const defined = [...body.initializers.map((t) => t.name), ...body.nodes.flatMap((n) => n.outputs).filter((o) => o !== '')];
  for (const name of defined) rename.set(name, freshName(graph, `${prefix}_${name}`, taken));
  const r = (n: string) => (n === '' ? n : rename.get(n) ?? n);
  for (const t of body.initializers) {
    const v: Value = graph.value(r(t.name));
    v.constant = { ...t, name: v.name };
    v.isInitializer = true;
    v.type = { dataType: t.dataType, shape: [...t.dims] };
  }
  const nodes = body.nodes.map((n) => {
    const copy: OnnxNode = { ...n, inputs: n.inputs.map(r), outputs: n.outputs.map(r) };
    aliasNodePath(copy, original);
    return irNode(graph, copy, nextId());
  });
  return { nodes, output: r(body.outputs[0].name) };
}

function detach(node: IrNode): void {
  for (const v of [...node.inputs, ...node.captures]) {
    const i = v ? v.users.indexOf(node) : -1;
    if (v && i >= 0) v.users.splice(i, 1);
  }
}

/** Expands graph.nodes[index] if it is a FlexAttention with inlinable mods; returns whether it did. */
export function expandFlexAttention(graph: Graph, index: number): boolean {
  const node = graph.nodes[index];
  if (!node || node.domain !== FLEX_DOMAIN || node.op !== 'FlexAttention') return false;
  const mods = FLEX_MODS.map((m) => modGraph(node, m));
  const out = node.outputs[0];
  if (mods.every((g) => g === null) || !out || node.inputs.length !== 3 || node.inputs.some((v) => !v)) return false;
  let computeDt: DataType;
  try {
    computeDt = flexPlan(new NodeContext(node, graph.opsetOf(node.domain))).computeDt;
  } catch (e) {
    if (e instanceof ImportError) return false;
    throw e;
  }
  if (!mods.every((g) => g === null || inlinable(g, computeDt))) return false;
  const [scoreMod, probMod] = mods;
  const qkv = node.inputs.map((v) => v?.name ?? '');
  const prefix = `${out.name}__flex`;
  const taken = new Set<string>();
  let id = graph.nodes.length + index;
  const nextId = () => id++;
  const label = node.name || 'FlexAttention';
  const planAttrs = new Map([...node.attributes].filter(([k]) => k === 'scale' || k === 'softmax_precision'));
  const nodes: IrNode[] = [];
  const stage = (op: string, inputs: string[], output: string) => {
    nodes.push(irNode(graph, stageNode(`${label}/${op}`, op, inputs, output, planAttrs), nextId()));
  };
  const inline = (body: OnnxGraph | null, input: string, tag: string): string => {
    if (!body) return input;
    const r = inlineBody(graph, node.source, body, input, `${prefix}_${tag}`, taken, nextId);
    nodes.push(...r.nodes);
    return r.output;
  };
  const scores = freshName(graph, `${prefix}_scores`, taken);
  stage(FLEX_STAGES.scores, qkv, scores);
  const modded = inline(scoreMod, scores, 'score_mod');
  const probs = freshName(graph, `${prefix}_probs`, taken);
  stage(FLEX_STAGES.softmax, [modded], probs);
  stage(FLEX_STAGES.apply, [...qkv, inline(probMod, probs, 'prob_mod')], out.name);
  // The Apply stage (created last) now produces the output.
  detach(node);
  graph.nodes.splice(index, 1, ...nodes);
  return true;
}
