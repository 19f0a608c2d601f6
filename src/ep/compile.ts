// The compiler driver: decoded model + concrete input types → CompiledModule
// (execution plan, native library, weights, fallback subgraph models).
import type { OnnxModel } from '../onnx/model.js';
import { buildGraph, nodeLabel, type Graph, type IrNode, type Value } from '../ir/graph.js';
import { indexSubgraphs } from '../ir/subgraph-key.js';
import { isStatic, type TensorType } from '../ir/types.js';
import '../import/ops/index.js';
import { inlineFunctions } from '../passes/inline-functions.js';
import { inferShapes, type NodeStatus } from '../passes/infer-shapes.js';
import { partitionGraph, type Partition } from '../passes/partition-graph.js';
import { flushDenormalWeights } from '../passes/flush-denormal-weights.js';
import { emitPartitionModule, type PartitionModule } from '../codegen/partition-module.js';
import { cutFallbackModel } from '../codegen/fallback-model.js';
import { CodegenError } from '../codegen/mlir-builder.js';
import { Toolchain, ToolchainError } from '../toolchain/tools.js';
import { compileToLibrary, targetTriple, type CompileResult } from '../toolchain/pipeline.js';
import { driversIr, packWeights } from '../codegen/sequence-driver.js';
import { planSequences, type Sequence } from './sequences.js';
import { writeReproducer } from '../toolchain/repro.js';
import type { CompiledModule, ExecutionPlan, NativeArg, PlanStep, TensorSignature } from '../module/format.js';
import type { BodyInfo } from '../passes/infer-control-flow.js';
import { controlStep, segmentStep, type BodyPlanner } from './control-steps.js';
import type { ResolvedOptions } from './options.js';
import type { LoweringTarget } from '../import/lower-context.js';
import { microColumns, vectorTarget } from '../codegen/schedules/target.js';
import { EpError } from './errors.js';
import { workEstimate } from './work-estimate.js';
import { toolchainFailure, verifyLibrary } from './toolchain-failure.js';
import { dumpImportedGraph, formatImportedGraph } from './dump-graph.js';

export interface CompileRequest {
  model: OnnxModel;
  modelBytes: Uint8Array;
  inputTypes: ReadonlyMap<string, TensorType>;
  options: ResolvedOptions;
  /** Called with progress in [0, 1] on long compiles. */
  onProgress?: (fraction: number, what: string) => void;
  /** When `model` is a subgraph cut out of a root model: its key there (ir/subgraph-key.ts). */
  subgraphKey?: string;
}

export class BlobTable {
  readonly blobs: Uint8Array[] = [];
  /** Keyed by the tensor's bytes, not its name: bodies may shadow names with different data. */
  private readonly byData = new Map<Uint8Array, number>();

  add(bytes: Uint8Array): number {
    this.blobs.push(bytes);
    return this.blobs.length - 1;
  }

  shared(data: Uint8Array): number {
    let i = this.byData.get(data);
    if (i === undefined) {
      i = this.add(data);
      this.byData.set(data, i);
    }
    return i;
  }
}

function signature(v: Value, fallback: TensorType | undefined): TensorSignature {
  const t = v.type ?? fallback;
  if (!t) throw new CodegenError(`graph value '${v.name}' has no known type`);
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

/**
 * A graph (the model's or a control-flow body's) inferred, partitioned and
 * emitted, before the toolchain runs: every draft of a model compiles into
 * one shared library.
 */
export interface Draft {
  graph: Graph;
  status: ReadonlyMap<IrNode, NodeStatus>;
  partitions: Partition[];
  /** Emitted native partitions; removed again when their unit fails to compile. */
  modules: Map<Partition, PartitionModule>;
  /** Bodies of control-flow partitions: null when compiled on first use. */
  bodies: Map<Partition, { info: BodyInfo; draft: Draft | null }[]>;
  /** Fallback reasons, the bodies' ones included (prefixed with where they are). */
  reasons: string[];
  /** Symbol prefix of this graph's partitions. */
  prefix: string;
  /** Runs of compiled partitions called through one driver, by first partition; set once units compiled. */
  sequences: Map<Partition, Sequence>;
}

/** Symbol-safe prefix for the partitions of the graph at subgraph key `key`. */
function symbolPrefix(key: string): string {
  return key === '' ? 'ortmlir_' : `ortmlir_${key.replace(/[^A-Za-z0-9]+/g, '_')}_`;
}

function draftGraph(graph: Graph, status: ReadonlyMap<IrNode, NodeStatus>, key: string, target: LoweringTarget): Draft {
  // After shape inference, which folds Constant nodes into the values the contractions read.
  flushDenormalWeights(graph);
  const reasons = fallbackReasons(status, graph);
  const partitions = partitionGraph(graph, status);
  const prefix = symbolPrefix(key);
  const modules = new Map<Partition, PartitionModule>();
  const bodies = new Map<Partition, { info: BodyInfo; draft: Draft | null }[]>();
  for (const p of partitions) {
    if (p.placement === 'native') {
      try {
        modules.set(p, emitPartitionModule(graph, p, status, `${prefix}p${p.index}`, target));
      } catch (e) {
        if (!(e instanceof CodegenError)) throw e;
        reasons.push(`partition ${p.index} (${p.nodes.map(nodeLabel).join(', ')}): ${e.message}`);
      }
    } else if (p.placement === 'control') {
      const s = status.get(p.nodes[0]);
      if (s?.kind !== 'control') continue;
      const drafts = s.control.bodies.map((info) => ({ info, draft: info.status ? draftGraph(info.body.graph, info.status, info.key, target) : null }));
      for (const { info, draft } of drafts) {
        const where = `${nodeLabel(p.nodes[0])}/${info.attr}`;
        if (draft) reasons.push(...draft.reasons.map((r) => `${where}: ${r}`));
      }
      bodies.set(p, drafts);
    }
  }
  return { graph, status, partitions, modules, bodies, reasons, prefix, sequences: new Map() };
}

function* allDrafts(d: Draft): Generator<Draft> {
  yield d;
  for (const list of d.bodies.values()) for (const b of list) if (b.draft) yield* allDrafts(b.draft);
}

interface NativeOutcome {
  library: Uint8Array | null;
  toolchain: string;
  /** Symbols of the partitions whose code has loops run on several threads. */
  parallel: ReadonlySet<string>;
}

const NO_PARALLEL: ReadonlySet<string> = new Set();

/** Compiles every emitted partition of the draft tree into one library; failed units fall back to the CPU EP. */
async function compileNative(req: CompileRequest, root: Draft, label: string): Promise<NativeOutcome> {
  const owners = new Map<string, { draft: Draft; p: Partition; m: PartitionModule }>();
  for (const d of allDrafts(root)) for (const [p, m] of d.modules) owners.set(m.symbol, { draft: d, p, m });
  if (owners.size === 0) return { library: null, toolchain: '', parallel: NO_PARALLEL };
  const tc = new Toolchain(req.options.toolchainHome);
  const o = req.options;
  let toolchain = '';
  let result: CompileResult;
  // Asked beside the compile, not before it (0.1 – 0.15 s of mlir-opt's start-up); a failure is reported below.
  const version = tc.version();
  version.catch(() => undefined);
  try {
    tc.check();
    req.onProgress?.(0.1, `compiling ${owners.size} partition(s)`);
    const units = [...owners.values()].map(({ m }) => ({ id: m.symbol, mlir: m.mlir }));
    const target = { cpu: o.targetCpu, features: o.targetFeatures, optLevel: o.optLevel, extraFlags: o.compileFlags, threads: o.threads, winograd: o.winograd };
    result = await compileToLibrary(tc, target, units, label, (ok) => sequenceDrivers(root, ok));
    toolchain = await version;
    if (!result.extraLinked) for (const d of allDrafts(root)) d.sequences.clear();
    const failed = new Set(result.failures.map((f) => f.id));
    const drivers = [...allDrafts(root)].flatMap((d) => [...d.sequences.values()].map((q) => q.driver.symbol));
    if (result.library) verifyLibrary(result.library, [...units.map((u) => u.id).filter((id) => !failed.has(id)), ...drivers]);
  } catch (e) {
    // The toolchain as a whole failed: every partition falls back (or, with fallback 'error', a typed error names them).
    if (!(e instanceof ToolchainError)) throw e;
    toolchain = await version.catch(() => toolchain);
    const parts = [...owners.values()].map(({ draft, p, m }) => {
      draft.modules.delete(p);
      return { index: p.index, nodes: p.nodes.map(nodeLabel), mlir: m.mlir, onnxModel: safeCut(req.model, p) };
    });
    root.reasons.push(await toolchainFailure(parts, e, toolchain, o.fallback));
    return { library: null, toolchain, parallel: NO_PARALLEL };
  }
  for (const f of result.failures) {
    const owner = owners.get(f.id);
    if (!owner) continue;
    const { draft, p } = owner;
    draft.modules.delete(p);
    const nodes = p.nodes.map(nodeLabel);
    const dir = await writeReproducer({ label: f.id, nodes, mlir: f.mlir, commands: f.commands, error: f.error.message, toolchainVersion: toolchain, onnxModel: safeCut(req.model, p) });
    const msg = `partition ${p.index} (${nodes.join(', ')}): ${f.error.message}${dir ? `; reproducer in ${dir}` : ''}`;
    if (o.fallback === 'error') throw new EpError(`mlir EP: compile failed for ${msg}`);
    root.reasons.push(msg);
  }
  req.onProgress?.(1, 'linked');
  return { library: result.library, toolchain, parallel: result.parallelUnits };
}

/** Plans every draft's sequences over the units that compiled; their drivers' LLVM IR (null when there are none). */
function sequenceDrivers(root: Draft, compiled: ReadonlySet<string>): string | null {
  // ORT_MLIR_SEQUENCES=0 keeps one step per unit (to profile each).
  if (process.env.ORT_MLIR_SEQUENCES === '0') return null;
  const bySymbol = new Map<string, PartitionModule>();
  const drivers = [];
  for (const d of allDrafts(root)) {
    for (const m of d.modules.values()) bySymbol.set(m.symbol, m);
    d.sequences = planSequences(d.graph, d.partitions, d.modules, compiled, d.prefix);
    drivers.push(...[...d.sequences.values()].map((q) => q.driver));
  }
  return drivers.length ? driversIr(drivers, bySymbol) : null;
}

function safeCut(model: OnnxModel, p: Partition): Uint8Array | null {
  try {
    return cutFallbackModel(model, p);
  } catch {
    return null;
  }
}

/**
 * Whether anything of the model runs other than on the CPU EP; or nothing
 * runs at all (every node folded: e.g. a segment compiled for the values it
 * was specialised on), when the plan only hands out constants.
 */
function hasWork(d: Draft): boolean {
  return d.modules.size > 0 || d.bodies.size > 0 || d.partitions.length === 0 || d.partitions.some((p) => p.placement === 'deferred');
}

/** The target as the lowerings see it: packed weight panels as wide as the matmul micro-kernel. */
function loweringTarget(o: ResolvedOptions): LoweringTarget {
  return { panelColumns: microColumns(vectorTarget(o.targetCpu, o.targetFeatures)) };
}

/** Numbers the compiles of this process (dump directory names). */
let compileCount = 0;

export async function compileModel(request: CompileRequest): Promise<CompiledModule> {
  // Every later stage (fallback models and deferred segments included) sees the model with its function calls inlined.
  const req = { ...request, model: inlineFunctions(request.model) };
  indexSubgraphs(req.model.graph, req.subgraphKey ?? '');
  const graph = buildGraph(req.model.graph, req.model.opsetImports);
  const { status } = inferShapes(graph, req.inputTypes);
  const root = draftGraph(graph, status, req.subgraphKey ?? '', loweringTarget(req.options));
  if (req.options.fallback === 'error' && root.reasons.length) {
    throw new EpError(`mlir EP: ${root.reasons.length} node(s) cannot be compiled and fallback is 'error':\n  ${root.reasons.join('\n  ')}`);
  }
  const label = `model-${Date.now()}-${process.pid}-${++compileCount}`;
  await dumpImportedGraph(label, () => formatImportedGraph(graph, status, root.partitions));
  if (!hasWork(root)) return wholeModelOnCpu(req, graph, root.reasons);
  const native = await compileNative(req, root, label);
  try {
    const blobs = new BlobTable();
    const library = native.library ? blobs.add(native.library) : -1;
    const plan = assemble({ req, blobs, library, toolchain: native.toolchain, parallel: native.parallel }, root);
    return { plan: { ...plan, report: { ...plan.report, fallbackReasons: root.reasons } }, blobs: blobs.blobs };
  } catch (e) {
    if (e instanceof CodegenError) return wholeModelOnCpu(req, graph, [...root.reasons, e.message]);
    throw e;
  }
}

interface AssemblyContext {
  req: CompileRequest;
  blobs: BlobTable;
  library: number;
  toolchain: string;
  parallel: ReadonlySet<string>;
}

interface NodeCounts {
  total: number;
  compiled: number;
  fallback: number;
}

function assemble(ac: AssemblyContext, d: Draft): ExecutionPlan {
  const { req, blobs } = ac;
  const steps: PlanStep[] = [];
  const counts: NodeCounts = { total: d.graph.nodes.length, compiled: 0, fallback: 0 };
  const runtimeConstants: Value[] = [];
  const planBody: BodyPlanner = (body) => assemble(ac, body);
  let sequenceEnd = -1;
  d.partitions.forEach((p, i) => {
    if (i <= sequenceEnd) return;
    const seq = d.sequences.get(p);
    if (seq) {
      sequenceEnd = i + seq.members.length - 1;
      steps.push(sequenceStep(blobs, seq, stepThreads(ac, seq.driver.members)));
      for (const q of seq.members) counts.compiled += q.nodes.length;
      return;
    }
    partitionStep(p);
  });
  function partitionStep(p: Partition): void {
    const m = d.modules.get(p);
    const bodies = d.bodies.get(p);
    const nodes = p.nodes.map(nodeLabel);
    if (m) {
      counts.compiled += p.nodes.length;
      const args: NativeArg[] = m.args.map((a) => (a.role === 'weight' ? { ...a, blob: weightBlob(blobs, m, a.name) } : a));
      steps.push({ kind: 'native', symbol: m.symbol, nodes, args, work: workEstimate(p.nodes), threads: stepThreads(ac, [m.symbol]) });
    } else if (p.placement === 'deferred') {
      counts.compiled += p.nodes.length;
      steps.push(segmentStep(req.model, p, d.status, blobs));
    } else if (bodies) {
      counts.compiled += p.nodes.length;
      for (const b of bodies) if (b.draft) addCounts(counts, planCounts(b.draft));
      steps.push(controlStep(p.nodes[0], d.status, bodies, blobs, planBody));
      // The runtime reads a control step's inputs by name: constant ones must be in the plan.
      runtimeConstants.push(...p.constants);
    } else {
      counts.fallback += p.nodes.length;
      steps.push({ kind: 'cpu', model: blobs.add(cutFallbackModel(req.model, p)), nodes, inputs: p.inputs.map((v) => v.name), outputs: p.outputs.map((v) => v.name) });
    }
  }
  const constantValues = [...new Set([...d.graph.outputs.filter((v) => v.constant), ...runtimeConstants])];
  const constants = constantValues.map((v) => {
    const t = v.constant!;
    return { name: v.name, dataType: t.dataType, dims: [...t.dims], blob: blobs.shared(t.data) };
  });
  const declared = new Map(d.graph.onnx.outputs.flatMap((vi) => (vi.type.kind === 'tensor' && vi.type.shape && isStatic(vi.type.shape.map((x) => x ?? '?')) ? [[vi.name, { dataType: vi.type.elemType, shape: vi.type.shape.map((x) => x ?? 0) }] as const] : [])));
  return {
    inputs: d.graph.inputs.map((v) => signature(v, req.inputTypes.get(v.name))),
    outputs: d.graph.outputs.map((v) => signature(v, declared.get(v.name))),
    steps,
    constants,
    library: ac.library,
    report: { totalNodes: counts.total, compiledNodes: counts.compiled, fallbackNodes: counts.fallback, fallbackReasons: d.reasons },
    target: { triple: targetTriple(), cpu: req.options.targetCpu, toolchain: ac.toolchain },
  };
}

/** Node counts of a body draft, nested bodies included (what its plan's report says). */
function planCounts(d: Draft): NodeCounts {
  const counts: NodeCounts = { total: d.graph.nodes.length, compiled: 0, fallback: 0 };
  for (const p of d.partitions) {
    const bodies = d.bodies.get(p);
    if (d.modules.has(p) || bodies || p.placement === 'deferred') counts.compiled += p.nodes.length;
    else counts.fallback += p.nodes.length;
    for (const b of bodies ?? []) if (b.draft) addCounts(counts, planCounts(b.draft));
  }
  return counts;
}

function addCounts(into: NodeCounts, c: NodeCounts): void {
  into.total += c.total;
  into.compiled += c.compiled;
  into.fallback += c.fallback;
}

/** Threads a native step calling the partitions `symbols` keeps busy (PlanStep.threads). */
function stepThreads(ac: AssemblyContext, symbols: readonly string[]): number {
  return symbols.some((s) => ac.parallel.has(s)) ? ac.req.options.threads : 1;
}

/** One native step calling a sequence's driver, with its members' weights packed into one blob. */
function sequenceStep(blobs: BlobTable, seq: Sequence, threads: number): PlanStep {
  const pack = seq.driver.weights.length ? blobs.add(packWeights(seq.driver)) : -1;
  const args: NativeArg[] = seq.driver.args.map((a) => (a.role === 'weight' ? { ...a, blob: pack } : a));
  const nodes = seq.members.flatMap((p) => p.nodes.map(nodeLabel));
  return { kind: 'native', symbol: seq.driver.symbol, nodes, args, work: seq.members.reduce((n, p) => n + workEstimate(p.nodes), 0), threads };
}

function weightBlob(blobs: BlobTable, m: PartitionModule, name: string): number {
  const i = m.args.filter((a) => a.role === 'weight').findIndex((a) => a.name === name);
  const t = m.weights[i];
  if (!t) throw new EpError(`weight '${name}' missing from partition ${m.symbol}`);
  return blobs.shared(t.data);
}

export { ToolchainError };
