// Cuts the node list into an ordered sequence of partitions, each run either
// as compiled native code or on onnxruntime-node's CPU EP. Consecutive nodes
// (in topological order) with the same placement share a partition, so the
// sequence is trivially acyclic. Control flow (If/Loop/Scan run by the
// runtime) always forms a partition of its own; deferred nodes (shapes known
// only at run time) group like the others and are compiled when first run.
// Long native runs are split into several partitions that compile in
// parallel (compile-units.ts). A node compiled at its largest output size
// (data-dependent sizes: NonZero, Unique...) ends its native partition: the
// runtime trims its outputs to the count it computed before anything reads them.
import type { Graph, IrNode, Value } from '../ir/graph.js';
import type { NodeStatus } from './infer-shapes.js';
import { splitIntoUnits } from './compile-units.js';

export type Placement = 'native' | 'cpu' | 'control' | 'deferred';

export interface Partition {
  readonly index: number;
  readonly placement: Placement;
  readonly nodes: IrNode[];
  /** Runtime values consumed from outside (graph inputs or earlier partitions). */
  readonly inputs: Value[];
  /** Compile-time constants consumed (initializers and folded values). */
  readonly constants: Value[];
  /** Values produced here and needed later or as graph outputs. */
  readonly outputs: Value[];
}

function collectIo(nodes: IrNode[], graphOutputs: ReadonlySet<Value>, laterUse: (v: Value) => boolean) {
  const produced = new Set<Value>();
  for (const n of nodes) for (const v of n.outputs) if (v) produced.add(v);
  const inputs: Value[] = [];
  const constants: Value[] = [];
  const seen = new Set<Value>();
  for (const n of nodes) {
    for (const v of [...n.inputs, ...n.captures]) {
      if (!v || produced.has(v) || seen.has(v)) continue;
      seen.add(v);
      (v.constant ? constants : inputs).push(v);
    }
  }
  const outputs = [...produced].filter((v) => !v.constant && (graphOutputs.has(v) || laterUse(v)));
  return { inputs, constants, outputs };
}

export function partitionGraph(graph: Graph, status: ReadonlyMap<IrNode, NodeStatus>): Partition[] {
  const runs: { placement: Placement; nodes: IrNode[]; closed: boolean }[] = [];
  for (const node of graph.nodes) {
    const s = status.get(node);
    if (!s || s.kind === 'folded') continue;
    const placement: Placement = s.kind === 'compiled' ? 'native' : s.kind === 'control' || s.kind === 'deferred' ? s.kind : 'cpu';
    const closed = placement === 'control' || (s.kind === 'compiled' && s.bounds !== undefined);
    const last = runs[runs.length - 1];
    if (last && last.placement === placement && !last.closed) {
      last.nodes.push(node);
      last.closed = closed;
    } else runs.push({ placement, nodes: [node], closed });
  }
  // Long native runs become several compile units (see compile-units.ts).
  const groups = runs.flatMap((r) => (r.placement === 'native' ? splitIntoUnits(r.nodes).map((nodes) => ({ placement: r.placement, nodes })) : [r]));
  const graphOutputs = new Set(graph.outputs);
  const position = new Map<IrNode, number>();
  groups.forEach((g, gi) => g.nodes.forEach((n) => position.set(n, gi)));
  return groups.map((g, index) => {
    const laterUse = (v: Value) => v.users.some((u) => (position.get(u) ?? -1) > index);
    return { index, placement: g.placement, nodes: g.nodes, ...collectIo(g.nodes, graphOutputs, laterUse) };
  });
}
