// The EP's session: compiles a model per concrete input signature (eagerly
// when the model's input shapes are static), runs it through the runtime and
// reports what was compiled and what fell back.
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { decodeModel } from '../onnx/decode.js';
import { DataType, byteLength, elementCount, type OnnxModel, type OnnxValueInfo } from '../onnx/model.js';
import type { TensorType } from '../ir/types.js';
import { deserializeModule, type CompiledModule } from '../module/format.js';
import { readFileAligned } from '../native/host-memory.js';
import { Executor, type ExecutorHooks, type Destinations, type FallbackFactory, type StepObserver } from '../runtime/executor.js';
import type { HostTensor } from '../runtime/host-tensor.js';
import type { MlirSessionApi, SessionReport } from './session-api.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { CpuSession } from './cpu-session.js';
import { EpError } from './errors.js';
import type { Logger } from './logger.js';

/** Distinct input-shape signatures kept compiled per session (LRU beyond that). */
export const MAX_SIGNATURES = 8;

export interface SessionInit {
  /** onnxruntime session options forwarded to fallback sessions and used for thread counts. */
  intraOpNumThreads?: number;
  freeDimensionOverrides?: Readonly<Record<string, number>>;
  log?: Logger;
  /** onnxruntime's session.intra_op.allow_spinning: false ('0') waits for runs asleep (runtime/awake-wait.ts). */
  allowSpinning?: boolean;
}

/** How runs wait for their native calls: turning the event loop unless spinning is off. */
function spinWait(init: SessionInit): boolean {
  return init.allowSpinning !== false;
}

const cpuFallback: FallbackFactory = async (model) => CpuSession.create(model);

type CompileFn = (model: OnnxModel, bytes: Uint8Array, types: ReadonlyMap<string, TensorType>, options: ResolvedOptions) => Promise<CompiledModule>;

async function defaultCompile(model: OnnxModel, bytes: Uint8Array, types: ReadonlyMap<string, TensorType>, options: ResolvedOptions): Promise<CompiledModule> {
  // Loaded lazily so that runtime-only sessions (precompiled modules) never load compiler code.
  const { compileWithCache } = await import('./compile-cache.js');
  return compileWithCache({ model, modelBytes: bytes, inputTypes: types, options });
}

function staticInputType(vi: OnnxValueInfo, overrides: Readonly<Record<string, number>>): TensorType | null {
  if (vi.type.kind !== 'tensor' || vi.type.shape === null) return null;
  const shape: number[] = [];
  for (const d of vi.type.shape) {
    const v = typeof d === 'string' ? overrides[d] : d;
    if (typeof v !== 'number') return null;
    shape.push(v);
  }
  return { dataType: vi.type.elemType, shape };
}

export class MlirSession implements MlirSessionApi {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private readonly executors = new Map<string, Promise<Executor>>();
  private lastReport: SessionReport = { totalNodes: 0, compiledNodes: 0, fallbackNodes: 0, fallbackReasons: [] };
  /** The executor of the last compiled signature, whose report (run-time variants included) report() gives. */
  private lastExecutor: Executor | null = null;
  private disposed = false;
  observer: StepObserver | undefined;

  private constructor(
    private readonly model: OnnxModel | null,
    private readonly bytes: Uint8Array,
    readonly options: ResolvedOptions,
    private readonly init: SessionInit,
    io: { inputs: string[]; outputs: string[] },
    private readonly compile: CompileFn,
  ) {
    this.inputNames = io.inputs;
    this.outputNames = io.outputs;
  }

  /** Graph inputs proper: those that are not also initializers. */
  get modelInputs(): OnnxValueInfo[] {
    if (!this.model) return [];
    const inits = new Set(this.model.graph.initializers.map((t) => t.name));
    return this.model.graph.inputs.filter((vi) => !inits.has(vi.name));
  }

  get modelOutputs(): OnnxValueInfo[] {
    return this.model?.graph.outputs ?? [];
  }

  static async create(model: string | Uint8Array, rawOptions: Record<string, unknown>, init: SessionInit = {}, compile: CompileFn = defaultCompile): Promise<MlirSession> {
    const options = resolveOptions(rawOptions, init.intraOpNumThreads);
    if (options.module) return MlirSession.fromModuleFile(options.module, options, init);
    const bytes = typeof model === 'string' ? new Uint8Array(await readFile(model)) : model;
    const decoded = decodeModel(bytes, typeof model === 'string' ? { baseDir: dirname(model) } : {});
    const io = {
      inputs: decoded.graph.inputs.filter((vi) => !decoded.graph.initializers.some((t) => t.name === vi.name)).map((vi) => vi.name),
      outputs: decoded.graph.outputs.map((vi) => vi.name),
    };
    const session = new MlirSession(decoded, bytes, options, init, io, compile);
    const overrides = init.freeDimensionOverrides ?? {};
    const types = session.modelInputs.map((vi) => staticInputType(vi, overrides));
    if (types.every((t): t is TensorType => t !== null)) {
      await session.executorFor(new Map(session.modelInputs.map((vi, i) => [vi.name, types[i]])));
    }
    return session;
  }

  /** Runtime-only: a precompiled module file, no toolchain and no compiler code involved. */
  static async fromModuleFile(path: string, options: ResolvedOptions, init: SessionInit): Promise<MlirSession> {
    const module = deserializeModule(await readFileAligned(path), path);
    const io = { inputs: module.plan.inputs.map((s) => s.name), outputs: module.plan.outputs.map((s) => s.name) };
    const noCompile: CompileFn = async () => {
      throw new EpError(`module ${path} was compiled for other input shapes and this session cannot compile`);
    };
    const session = new MlirSession(null, new Uint8Array(), options, init, io, noCompile);
    const executor = await Executor.load(module, cpuFallback, { spinWait: spinWait(init) });
    session.executors.set(signatureKeyOf(module.plan.inputs.map((s) => ({ name: s.name, dataType: s.dataType, dims: s.dims }))), Promise.resolve(executor));
    session.lastReport = module.plan.report;
    session.lastExecutor = executor;
    return session;
  }

  private executorFor(types: ReadonlyMap<string, TensorType>): Promise<Executor> {
    const key = signatureKeyOf([...types].map(([name, t]) => ({ name, dataType: t.dataType, dims: t.shape })));
    let ex = this.executors.get(key);
    if (ex) {
      // Refresh LRU position.
      this.executors.delete(key);
      this.executors.set(key, ex);
      return ex;
    }
    if (!this.model) {
      const only = [...this.executors.values()][0];
      if (only) return only;
      throw new EpError('session has no model to compile');
    }
    const model = this.model;
    ex = this.compile(model, this.bytes, types, this.options).then(async (m) => {
      const e = await Executor.load(m, cpuFallback, { ...bodyCompileHooks(model, this.options), spinWait: spinWait(this.init) });
      this.lastReport = m.plan.report;
      this.lastExecutor = e;
      return e;
    });
    this.executors.set(key, ex);
    ex.catch(() => this.executors.delete(key));
    this.evict();
    return ex;
  }

  private evict(): void {
    while (this.executors.size > MAX_SIGNATURES) {
      const [oldest, ex] = this.executors.entries().next().value ?? [];
      if (oldest === undefined || ex === undefined) return;
      this.executors.delete(oldest);
      void ex.then((e) => e.dispose()).catch(() => undefined);
    }
  }

  /** `destinations`: caller-owned output buffers that native code may write straight into (see Destinations). */
  async run(feeds: ReadonlyMap<string, HostTensor>, destinations?: Destinations): Promise<Map<string, HostTensor>> {
    if (this.disposed) throw new EpError('mlir session: run() called on a disposed session');
    for (const name of this.inputNames) {
      if (!feeds.has(name)) throw new EpError(`mlir session: input '${name}' is missing (expected inputs: ${this.inputNames.join(', ')})`);
    }
    for (const name of feeds.keys()) {
      if (!this.inputNames.includes(name)) throw new EpError(`mlir session: '${name}' is not an input of this model (inputs: ${this.inputNames.join(', ')})`);
    }
    for (const [name, t] of feeds) checkFeedData(name, t);
    const types = new Map([...feeds].map(([n, t]) => [n, { dataType: t.dataType, shape: [...t.dims] }]));
    this.checkDeclared(types);
    const executor = await this.executorFor(types);
    return executor.run(feeds, this.observer, destinations);
  }

  /** Rejects feeds whose dtype or fixed dims contradict the model's declared inputs. */
  private checkDeclared(types: ReadonlyMap<string, TensorType>): void {
    for (const vi of this.modelInputs) {
      const t = types.get(vi.name);
      if (!t || vi.type.kind !== 'tensor') continue;
      const want = vi.type;
      // As in ORT, an overridden free dimension is fixed: feeds must have that size.
      const overrides = this.init.freeDimensionOverrides ?? {};
      const fixed = (d: number | string | null) => (typeof d === 'string' && d in overrides ? overrides[d] : d);
      const dimsOk = want.shape === null || (want.shape.length === t.shape.length && want.shape.every((d, i) => typeof fixed(d) !== 'number' || fixed(d) === t.shape[i]));
      if (want.elemType !== t.dataType || !dimsOk) {
        throw new EpError(`mlir session: input '${vi.name}' expects ${DataType[want.elemType]}[${(want.shape ?? []).map((d) => d ?? '?').join(',')}], got ${DataType[t.dataType]}[${t.shape.join(',')}]`);
      }
    }
  }

  /**
   * Where the nodes ran: the plan-time report corrected by the variants
   * compiled at run time (deferred segments, control-flow bodies), so that
   * nodes counted as compiled but run on the CPU EP count as fallbacks.
   */
  report(): SessionReport {
    return this.lastExecutor?.report() ?? this.lastReport;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const all = [...this.executors.values()];
    this.executors.clear();
    await Promise.all(all.map((p) => p.then((e) => e.dispose()).catch(() => undefined)));
  }
}

/**
 * A feed must describe itself consistently before its dims may select (and
 * compile) an executor: known dtype, non-negative integer dims, and exactly
 * the bytes (or strings) those dims imply.
 */
function checkFeedData(name: string, t: HostTensor): void {
  const what = `mlir session: input '${name}'`;
  if (typeof DataType[t.dataType] !== 'string' || t.dataType === DataType.UNDEFINED) {
    throw new EpError(`${what}: unknown data type ${String(t.dataType)}`);
  }
  if (!Array.isArray(t.dims) || !t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new EpError(`${what}: dims must be non-negative integers, got [${String(t.dims)}]`);
  }
  const count = elementCount(t.dims);
  const shape = `${DataType[t.dataType]}[${t.dims.join(',')}]`;
  if (t.dataType === DataType.STRING) {
    if (t.strings?.length !== count) throw new EpError(`${what}: ${shape} needs ${count} strings, got ${t.strings?.length ?? 0}`);
    return;
  }
  if (!(t.data instanceof Uint8Array)) throw new EpError(`${what}: data must be a Uint8Array`);
  const need = byteLength(t.dataType, count);
  if (t.data.byteLength !== need) throw new EpError(`${what}: data has ${t.data.byteLength} bytes, expected ${need} for ${shape}`);
}

/** Lets control-flow bodies compile input shapes not specialised ahead of time (compiler code loaded on demand). */
function bodyCompileHooks(model: OnnxModel, options: ResolvedOptions): ExecutorHooks {
  return {
    compileBody: async (req) => {
      const { compileSubgraph } = await import('./compile-subgraph.js');
      return compileSubgraph(model, req, options);
    },
  };
}

function signatureKeyOf(sig: { name: string; dataType: DataType; dims: readonly (number | string)[] }[]): string {
  return sig.map((s) => `${s.name}:${s.dataType}:${s.dims.join('x')}`).sort().join('|');
}

export async function createMlirSession(model: string | Uint8Array, options: Record<string, unknown>, init?: SessionInit): Promise<MlirSession> {
  return MlirSession.create(model, options, init);
}
