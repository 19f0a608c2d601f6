// Which compiled partitions run as one plan step: every run of two or more
// consecutive native partitions whose units compiled becomes a sequence,
// called through one driver (codegen/sequence-driver.ts), so splitting a
// partition into compile units costs nothing at run time.
import type { Graph, IrNode } from '../ir/graph.js';
import type { Partition } from '../passes/partition-graph.js';
import type { PartitionModule } from '../codegen/partition-module.js';
import { sequenceDriver, type SequenceDriver } from '../codegen/sequence-driver.js';
import { MAX_KERNEL_ARGS } from '../native/library.js';

export interface Sequence {
  driver: SequenceDriver;
  members: Partition[];
}

/** Runs of at least two consecutive partitions with a module among `compiled` (unit ids), keyed by their first partition. */
export function planSequences(
  graph: Graph,
  partitions: readonly Partition[],
  modules: ReadonlyMap<Partition, PartitionModule>,
  compiled: ReadonlySet<string>,
  symbolPrefix: string,
): Map<Partition, Sequence> {
  const runs: Partition[][] = [[]];
  for (const p of partitions) {
    const m = modules.get(p);
    // A partition whose outputs the runtime trims (data-dependent sizes) runs as its own step.
    if (m && compiled.has(m.symbol) && !m.args.some((a) => a.trim)) runs[runs.length - 1].push(p);
    else if (runs[runs.length - 1].length) runs.push([]);
  }
  const sequences = new Map<Partition, Sequence>();
  const driverOf = (members: Partition[]): SequenceDriver => {
    const nodes = new Set<IrNode>(members.flatMap((p) => p.nodes));
    const isExternal = (name: string) => {
      const v = graph.values.get(name);
      return !v || graph.outputs.includes(v) || v.users.some((u) => !nodes.has(u));
    };
    const mods = members.map((p) => modules.get(p)).filter((m): m is PartitionModule => m !== undefined);
    return sequenceDriver(`${symbolPrefix}s${members[0].index}`, mods, isExternal);
  };
  const close = (members: Partition[]) => {
    if (members.length >= 2) sequences.set(members[0], { driver: driverOf(members), members });
  };
  for (const run of runs) {
    // Greedy: extend while the driver's signature stays callable.
    let current: Partition[] = [];
    for (const p of run) {
      if (current.length && driverOf([...current, p]).args.length > MAX_KERNEL_ARGS) {
        close(current);
        current = [];
      }
      current.push(p);
    }
    close(current);
  }
  return sequences;
}
