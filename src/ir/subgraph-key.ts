// Stable names for subgraphs (If branches, Loop/Scan bodies) inside a model,
// so that a body can be found again — and compiled on demand — from the root
// model alone. A key is a '/'-separated path of `<node index>:<attribute>`
// steps from the root graph, e.g. "3:then_branch/0:body".
import type { OnnxGraph, OnnxNode } from '../onnx/model.js';

export class SubgraphKeyError extends Error {
  override name = 'SubgraphKeyError';
}

/** Where each decoded node sits, as the key prefix of the graph holding it plus its index. */
const nodePaths = new WeakMap<OnnxNode, string>();

function join(prefix: string, step: string): string {
  return prefix === '' ? step : `${prefix}/${step}`;
}

/** Records the path of every node of `g` (recursively) relative to `prefix` (the key of `g`; '' for the root). */
export function indexSubgraphs(g: OnnxGraph, prefix = ''): void {
  g.nodes.forEach((n, i) => {
    nodePaths.set(n, join(prefix, String(i)));
    for (const [attr, a] of n.attributes) {
      if (a.kind === 'graph') indexSubgraphs(a.value, `${join(prefix, String(i))}:${attr}`);
    }
  });
}

/** The key of subgraph attribute `attr` of `node`; the node must come from an indexed graph. */
export function subgraphKey(node: OnnxNode, attr: string): string {
  const path = nodePaths.get(node);
  if (path === undefined) throw new SubgraphKeyError(`node ${node.opType}(${node.name}) is not part of an indexed model`);
  return `${path}:${attr}`;
}

/** The subgraph a key names, starting from the root graph. */
export function resolveSubgraph(root: OnnxGraph, key: string): OnnxGraph {
  let g = root;
  for (const step of key.split('/')) {
    const m = /^(\d+):(.+)$/.exec(step);
    const node = m ? g.nodes[Number(m[1])] : undefined;
    const a = m ? node?.attributes.get(m[2]) : undefined;
    if (!a || a.kind !== 'graph') throw new SubgraphKeyError(`subgraph key '${key}' does not name a subgraph (at '${step}')`);
    g = a.value;
  }
  return g;
}

/** Gives a rewritten copy of a node (renamed values) the location of its original. */
export function aliasNodePath(copy: OnnxNode, original: OnnxNode): void {
  const path = nodePaths.get(original);
  if (path !== undefined) nodePaths.set(copy, path);
}
