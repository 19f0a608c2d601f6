// Plan steps for If / Loop / Scan partitions: the node's inputs and outputs
// by name, its bodies as BodyRefs holding their assembled plans (one variant,
// specialised for the types seen at compile time; none when those were not
// static, in which case the runtime compiles on first use).
import { nodeLabel, type IrNode } from '../ir/graph.js';
import type { BodyRef, ControlStep, ExecutionPlan } from '../module/format.js';
import type { BodyInfo } from '../passes/infer-control-flow.js';
import type { NodeStatus } from '../passes/infer-shapes.js';
import { CodegenError } from '../codegen/mlir-builder.js';
import { cutFallbackModel } from '../codegen/fallback-model.js';
import type { OnnxModel } from '../onnx/model.js';
import type { Partition } from '../passes/partition-graph.js';
import type { BlobTable, Draft } from './compile.js';

export type BodyPlanner = (body: Draft) => ExecutionPlan;

interface BodyDraft {
  info: BodyInfo;
  draft: Draft | null;
}

function bodyRef(b: BodyDraft, blobs: BlobTable, plan: BodyPlanner): BodyRef {
  const g = b.info.body;
  return {
    key: b.info.key,
    formals: g.formals.map((v) => v.name),
    captures: g.runtimeCaptures.map((v) => v.name),
    constants: g.constantCaptures.flatMap((v) => (v.constant ? [{ name: v.name, dataType: v.constant.dataType, dims: [...v.constant.dims], blob: blobs.shared(v.constant.data) }] : [])),
    outputs: g.graph.outputs.map((v) => v.name),
    variants: b.draft ? [plan(b.draft)] : [],
  };
}

/**
 * A run of deferred nodes: no precompiled variant, its nodes as a standalone
 * model to compile per shape — and per value of the inputs its nodes are
 * specialised on by value (those that come from outside the segment; values
 * made inside it are known when the segment is compiled for concrete shapes,
 * or are deferred again there).
 */
export function segmentStep(model: OnnxModel, p: Partition, status: ReadonlyMap<IrNode, NodeStatus>, blobs: BlobTable): ControlStep {
  const captures = p.inputs.map((v) => v.name);
  const outputs = p.outputs.map((v) => v.name);
  const inputs = new Set(p.inputs);
  const byValue = new Set(p.nodes.flatMap((n) => {
    const s = status.get(n);
    return s?.kind === 'deferred' ? (s.valueInputs ?? []).filter((v) => inputs.has(v)).map((v) => v.name) : [];
  }));
  const body: BodyRef = {
    // Its inputs may be untyped (made by an earlier segment): it is compiled for the types met at run time.
    key: `segment ${p.index}`, formals: [], captures, constants: [], outputs, variants: [], model: blobs.add(cutFallbackModel(model, p, true)),
    ...(byValue.size ? { valueInputs: [...byValue] } : {}),
  };
  return { kind: 'segment', nodes: p.nodes.map(nodeLabel), body, outputs };
}

const names = (vs: readonly ({ name: string } | null)[]) => vs.map((v) => v?.name ?? '');

export function controlStep(node: IrNode, status: ReadonlyMap<IrNode, NodeStatus>, bodies: BodyDraft[], blobs: BlobTable, plan: BodyPlanner): ControlStep {
  const s = status.get(node);
  if (s?.kind !== 'control') throw new CodegenError(`${nodeLabel(node)} is not control flow`);
  const c = s.control;
  const refs = bodies.map((b) => bodyRef(b, blobs, plan));
  const nodes = [nodeLabel(node)];
  const outputs = names(node.outputs);
  const input = (i: number) => node.inputs[i]?.name ?? null;
  switch (c.op) {
    case 'If': {
      const cond = input(0);
      if (!cond) throw new CodegenError(`${nodeLabel(node)}: cond is missing`);
      return { kind: 'if', nodes, cond, thenBranch: refs[0], elseBranch: refs[1], outputs };
    }
    case 'Loop':
      return { kind: 'loop', nodes, tripCount: input(0), cond: input(1), initial: names(node.inputs.slice(2)), body: refs[0], outputs, scanElements: c.scanElements };
    case 'Scan': {
      const scan = c.scan;
      if (!scan) throw new CodegenError(`${nodeLabel(node)}: scan attributes are missing`);
      const rest = names(node.inputs.slice(scan.batched ? 1 : 0));
      return {
        kind: 'scan', nodes, state: rest.slice(0, scan.numState), scanInputs: rest.slice(scan.numState), body: refs[0], outputs,
        inputAxes: scan.inputAxes, inputReverse: scan.inputReverse, outputAxes: scan.outputAxes, outputReverse: scan.outputReverse,
        scanElements: c.scanElements, batched: scan.batched,
      };
    }
  }
}
