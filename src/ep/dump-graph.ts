// ORT_MLIR_DUMP_DIR's first intermediate: the imported graph IR of a compile,
// after shape inference and partitioning — every node with its typed inputs and
// outputs, what became of it (compiled, folded, deferred, control flow, CPU
// fallback with the reason) and its partition. The toolchain stages follow in
// the same directory (src/toolchain/pipeline.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeLabel, type Graph, type IrNode, type Value } from '../ir/graph.js';
import { dtypeName } from '../ir/types.js';
import type { NodeStatus } from '../passes/infer-shapes.js';
import type { Partition } from '../passes/partition-graph.js';

export const IMPORTED_IR_FILE = 'imported-ir.txt';

export function dumpDirectory(): string | null {
  return process.env.ORT_MLIR_DUMP_DIR || null;
}

function typed(v: Value | null): string {
  if (!v) return '_';
  const t = v.type ? `${dtypeName(v.type.dataType)}[${v.type.shape.join(',')}]` : '?';
  return `${v.name}: ${t}${v.constant ? ' (const)' : ''}`;
}

function statusText(s: NodeStatus | undefined): string {
  if (!s) return 'not inferred';
  switch (s.kind) {
    case 'fallback': return `cpu fallback: ${s.reason}`;
    case 'deferred': return `deferred: ${s.reason}`;
    default: return s.kind;
  }
}

/** The graph as text, one line per node. */
export function formatImportedGraph(graph: Graph, status: ReadonlyMap<IrNode, NodeStatus>, partitions: readonly Partition[]): string {
  const partitionOf = new Map<IrNode, Partition>();
  for (const p of partitions) for (const n of p.nodes) partitionOf.set(n, p);
  const lines = [
    `inputs: ${graph.inputs.map(typed).join(', ')}`,
    `outputs: ${graph.outputs.map(typed).join(', ')}`,
    ...partitions.map((p) => `partition ${p.index}: ${p.placement}, ${p.nodes.length} node(s)`),
    '',
  ];
  for (const n of graph.nodes) {
    const p = partitionOf.get(n);
    lines.push(`${nodeLabel(n)} [${n.domain || 'ai.onnx'}] ${p ? `p${p.index}` : '-'} ${statusText(status.get(n))}`);
    lines.push(`  in:  ${n.inputs.map(typed).join(', ')}`);
    lines.push(`  out: ${n.outputs.map(typed).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the imported graph under ORT_MLIR_DUMP_DIR/<label>/ when dumping is on; never fails a compile. */
export async function dumpImportedGraph(label: string, text: () => string): Promise<void> {
  const dir = dumpDirectory();
  if (!dir) return;
  try {
    await mkdir(join(dir, label), { recursive: true });
    await writeFile(join(dir, label, IMPORTED_IR_FILE), text());
  } catch {
    // Diagnostics are best effort.
  }
}
