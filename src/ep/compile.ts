// The compiler driver: decoded model + concrete input types → CompiledModule
// (execution plan, native library, weights, fallback subgraph models).
import { elementCount, type OnnxModel } from '../onnx/model.js';
import { buildGraph, nodeLabel, type Graph, type Value } from '../ir/graph.js';
import { isStatic, type TensorType } from '../ir/types.js';
import '../import/ops/index.js';
import { inferShapes, type NodeStatus } from '../passes/infer-shapes.js';
import { partitionGraph, type Partition } from '../passes/partition-graph.js';
import { emitPartitionModule, type PartitionModule } from '../codegen/partition-module.js';
import { cutFallbackModel } from '../codegen/fallback-model.js';
import { CodegenError } from '../codegen/mlir-builder.js';
import { Toolchain, ToolchainError } from '../toolchain/tools.js';
import { compileToLibrary, targetTriple } from '../toolchain/pipeline.js';
import { writeReproducer } from '../toolchain/repro.js';
import type { CompiledModule, ExecutionPlan, NativeArg, PlanStep, TensorSignature } from '../module/format.js';
import type { ResolvedOptions } from './options.js';
import { EpError } from './errors.js';

export interface CompileRequest {
  model: OnnxModel;
  modelBytes: Uint8Array;
  inputTypes: ReadonlyMap<string, TensorType>;
  options: ResolvedOptions;
  /** Called with progress in [0, 1] on long compiles. */
  onProgress?: (fraction: number, what: string) => void;
}

class BlobTable {
  readonly blobs: Uint8Array[] = [];
  private readonly byName = new Map<string, number>();

  add(bytes: Uint8Array): number {
    this.blobs.push(bytes);
    return this.blobs.length - 1;
  }

  named(name: string, bytes: () => Uint8Array): number {
    let i = this.byName.get(name);
    if (i === undefined) {
      i = this.add(bytes());
      this.byName.set(name, i);
    }
    return i;
  }
}

function workEstimate(p: Partition): number {
  let n = 0;
  for (const node of p.nodes) {
    for (const v of [...node.inputs, ...node.outputs]) {
      if (v?.type && isStatic(v.type.shape)) n += elementCount(v.type.shape);
    }
  }
  return n;
}

function signature(v: Value, fallback: TensorType | undefined): TensorSignature {
  const t = v.type ?? fallback;
  if (!t) throw new EpError(`graph value '${v.name}' has no known type`);
  return { name: v.name, dataType: t.dataType, dims: [...t.shape] };
}

function fallbackReasons(status: ReadonlyMap<unknown, NodeStatus>, graph: Graph): string[] {
  return graph.nodes.flatMap((n) => {
    const s = status.get(n);
    return s?.kind === 'fallback' ? [`${nodeLabel(n)}: ${s.reason}`] : [];
  });
}

/** The plan that runs the whole, unmodified model on the fallback EP. */
function wholeModelOnCpu(req: CompileRequest, graph: Graph, reasons: string[]): CompiledModule {
  const blobs = new BlobTable();
  const model = blobs.add(req.modelBytes);
  const outputs = req.model.graph.outputs.map((vi) => ({
    name: vi.name,
    dataType: vi.type.kind === 'tensor' ? vi.type.elemType : 0,
    dims: vi.type.kind === 'tensor' && vi.type.shape ? vi.type.shape.map((d, i) => d ?? `?${i}`) : [],
  }));
  const plan: ExecutionPlan = {
    inputs: graph.inputs.map((v) => signature(v, req.inputTypes.get(v.name))),
    outputs,
    steps: [{ kind: 'cpu', model, nodes: graph.nodes.map(nodeLabel), inputs: graph.inputs.map((v) => v.name), outputs: outputs.map((o) => o.name) }],
    constants: [],
    library: -1,
    report: { totalNodes: graph.nodes.length, compiledNodes: 0, fallbackNodes: graph.nodes.length, fallbackReasons: reasons },
    target: { triple: targetTriple(), cpu: req.options.targetCpu, toolchain: '' },
  };
  return { plan, blobs: blobs.blobs };
}

interface NativeOutcome {
  modules: Map<Partition, PartitionModule>;
  library: Uint8Array | null;
  toolchain: string;
}

async function compileNative(req: CompileRequest, graph: Graph, status: ReadonlyMap<unknown, NodeStatus>, parts: Partition[], reasons: string[]): Promise<NativeOutcome> {
  const modules = new Map<Partition, PartitionModule>();
  for (const p of parts) {
    try {
      modules.set(p, emitPartitionModule(graph, p, status, `ortmlir_p${p.index}`));
    } catch (e) {
      if (!(e instanceof CodegenError)) throw e;
      reasons.push(`partition ${p.index} (${p.nodes.map(nodeLabel).join(', ')}): ${e.message}`);
    }
  }
  if (modules.size === 0) return { modules, library: null, toolchain: '' };
  const tc = new Toolchain(req.options.toolchainHome);
  tc.check();
  const toolchain = await tc.version();
  const o = req.options;
  req.onProgress?.(0.1, `compiling ${modules.size} partition(s)`);
  const units = [...modules.entries()].map(([p, m]) => ({ id: `p${p.index}`, mlir: m.mlir }));
  const result = await compileToLibrary(tc, { cpu: o.targetCpu, features: o.targetFeatures, optLevel: o.optLevel, extraFlags: o.compileFlags }, units, `model-${Date.now()}`);
  for (const f of result.failures) {
    const p = parts.find((x) => `p${x.index}` === f.id);
    if (!p) continue;
    modules.delete(p);
    const nodes = p.nodes.map(nodeLabel);
    const dir = await writeReproducer({ label: f.id, nodes, mlir: f.mlir, commands: f.commands, error: f.error.message, toolchainVersion: toolchain, onnxModel: safeCut(req.model, p) });
    const msg = `partition ${p.index} (${nodes.join(', ')}): ${f.error.message}${dir ? `; reproducer in ${dir}` : ''}`;
    if (o.fallback === 'error') throw new EpError(`mlir EP: compile failed for ${msg}`);
    reasons.push(msg);
  }
  req.onProgress?.(1, 'linked');
  return { modules, library: result.library, toolchain };
}

function safeCut(model: OnnxModel, p: Partition): Uint8Array | null {
  try {
    return cutFallbackModel(model, p);
  } catch {
    return null;
  }
}

export async function compileModel(req: CompileRequest): Promise<CompiledModule> {
  const graph = buildGraph(req.model.graph, req.model.opsetImports);
  const { status } = inferShapes(graph, req.inputTypes);
  const reasons = fallbackReasons(status, graph);
  if (req.options.fallback === 'error' && reasons.length) {
    throw new EpError(`mlir EP: ${reasons.length} node(s) cannot be compiled and fallback is 'error':\n  ${reasons.join('\n  ')}`);
  }
  const partitions = partitionGraph(graph, status);
  const nativeParts = partitions.filter((p) => p.placement === 'native');
  if (nativeParts.length === 0) return wholeModelOnCpu(req, graph, reasons);
  const native = await compileNative(req, graph, status, nativeParts, reasons);
  try {
    return assemble(req, graph, partitions, native, reasons);
  } catch (e) {
    if (e instanceof CodegenError) return wholeModelOnCpu(req, graph, [...reasons, e.message]);
    throw e;
  }
}

function assemble(req: CompileRequest, graph: Graph, partitions: Partition[], native: NativeOutcome, reasons: string[]): CompiledModule {
  const blobs = new BlobTable();
  const library = native.library ? blobs.add(native.library) : -1;
  const steps: PlanStep[] = [];
  let compiledNodes = 0;
  for (const p of partitions) {
    const m = native.modules.get(p);
    const nodes = p.nodes.map(nodeLabel);
    if (m) {
      compiledNodes += p.nodes.length;
      const args: NativeArg[] = m.args.map((a) => (a.role === 'weight' ? { ...a, blob: weightBlob(blobs, m, a.name) } : a));
      steps.push({ kind: 'native', symbol: m.symbol, nodes, args, flops: workEstimate(p) });
    } else {
      steps.push({ kind: 'cpu', model: blobs.add(cutFallbackModel(req.model, p)), nodes, inputs: p.inputs.map((v) => v.name), outputs: p.outputs.map((v) => v.name) });
    }
  }
  const constants = graph.outputs.filter((v) => v.constant).map((v) => {
    const t = v.constant!;
    return { name: v.name, dataType: t.dataType, dims: [...t.dims], blob: blobs.named(v.name, () => t.data) };
  });
  const declared = new Map(req.model.graph.outputs.flatMap((vi) => (vi.type.kind === 'tensor' && vi.type.shape && isStatic(vi.type.shape.map((d) => d ?? '?')) ? [[vi.name, { dataType: vi.type.elemType, shape: vi.type.shape.map((d) => d ?? 0) }] as const] : [])));
  const plan: ExecutionPlan = {
    inputs: graph.inputs.map((v) => signature(v, req.inputTypes.get(v.name))),
    outputs: graph.outputs.map((v) => signature(v, declared.get(v.name))),
    steps,
    constants,
    library,
    report: { totalNodes: graph.nodes.length, compiledNodes, fallbackNodes: graph.nodes.length - compiledNodes - foldedCount(partitions, graph), fallbackReasons: reasons },
    target: { triple: targetTriple(), cpu: req.options.targetCpu, toolchain: native.toolchain },
  };
  return { plan, blobs: blobs.blobs };
}

function foldedCount(partitions: Partition[], graph: Graph): number {
  const placed = new Set(partitions.flatMap((p) => p.nodes));
  return graph.nodes.filter((n) => !placed.has(n)).length;
}

function weightBlob(blobs: BlobTable, m: PartitionModule, name: string): number {
  const t = m.weights.find((w) => w.name === name);
  if (!t) throw new EpError(`weight '${name}' missing from partition ${m.symbol}`);
  return blobs.named(name, () => t.data);
}

export { ToolchainError };
