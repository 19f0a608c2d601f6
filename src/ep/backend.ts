// ORT glue: the `mlir` backend registered on onnxruntime-common, and the
// session handler that converts ORT tensors to the runtime's HostTensors.
import type { Backend, InferenceSession, InferenceSessionHandler, OnnxValue, SessionHandler } from 'onnxruntime-common';
import { Tensor } from './ort-common.js';
import { DataType, type OnnxValueInfo } from '../onnx/model.js';
import type { HostTensor } from '../runtime/host-tensor.js';
import { MlirSession } from './session.js';
import { EpError } from './errors.js';
import { dataTypeToOrtType, hostToOrt, isOrtRepresentable, ortToHost } from './ort-tensor.js';
import { Profiler } from './profiler.js';
import { Logger } from './logger.js';
import { retainFreedHostMemory } from '../native/host-memory.js';

export const BACKEND_NAME = 'mlir';
/** Negative: ORT never picks this backend unless the user names it. */
export const BACKEND_PRIORITY = -10;

function epOptions(options: InferenceSession.SessionOptions | undefined): Record<string, unknown> {
  for (const ep of options?.executionProviders ?? []) {
    if (typeof ep === 'string') {
      if (ep === BACKEND_NAME) return {};
    } else if (ep.name === BACKEND_NAME) {
      const { name: _name, ...rest } = { ...ep };
      return rest;
    }
  }
  return {};
}

function metadataOf(vi: { name: string; dataType: DataType; dims: (number | string)[] }): InferenceSession.ValueMetadata {
  if (!isOrtRepresentable(vi.dataType)) return { name: vi.name, isTensor: false };
  return { name: vi.name, isTensor: true, type: dataTypeToOrtType(vi.dataType), shape: vi.dims };
}

function fromValueInfo(vi: OnnxValueInfo): { name: string; dataType: DataType; dims: (number | string)[] } {
  if (vi.type.kind !== 'tensor') return { name: vi.name, dataType: DataType.UNDEFINED, dims: [] };
  return { name: vi.name, dataType: vi.type.elemType, dims: (vi.type.shape ?? []).map((d, i) => d ?? `unk__${i}`) };
}

function isTensor(v: OnnxValue | null | undefined): v is Tensor {
  return v instanceof Tensor;
}

export class MlirSessionHandler implements InferenceSessionHandler {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly InferenceSession.ValueMetadata[];
  private profiler: Profiler | null = null;

  constructor(private readonly session: MlirSession, private readonly options: InferenceSession.SessionOptions, private readonly log: Logger) {
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
    this.inputMetadata = session.modelInputs.map((vi) => metadataOf(fromValueInfo(vi)));
    this.outputMetadata = session.modelOutputs.map((vi) => metadataOf(fromValueInfo(vi)));
    if (options.enableProfiling) this.startProfiling();
  }

  startProfiling(): void {
    this.profiler ??= new Profiler(this.options.profileFilePrefix ?? 'onnxruntime_profile');
    this.session.observer = this.profiler;
  }

  endProfiling(): void {
    if (!this.profiler) return;
    const path = this.profiler.end();
    this.log.info(`profile written to ${path}`);
    this.profiler = null;
    this.session.observer = undefined;
  }

  async run(feeds: SessionHandler.FeedsType, fetches: SessionHandler.FetchesType, _options: InferenceSession.RunOptions): Promise<SessionHandler.ReturnType> {
    const hostFeeds = new Map<string, HostTensor>();
    for (const [name, v] of Object.entries(feeds)) {
      if (!isTensor(v)) throw new EpError(`input '${name}': expected an onnxruntime Tensor`);
      hostFeeds.set(name, ortToHost(v));
    }
    const destinations = this.destinationsOf(fetches);
    const start = performance.now();
    const outputs = await this.session.run(hostFeeds, destinations);
    this.profiler?.onRun(start, performance.now());
    const result: SessionHandler.ReturnType = {};
    for (const [name, pre] of Object.entries(fetches)) {
      const t = outputs.get(name);
      if (!t) throw new EpError(`output '${name}' is not an output of this model (outputs: ${this.outputNames.join(', ')})`);
      result[name] = isTensor(pre) ? fillPreallocated(name, pre, t) : hostToOrt(t);
    }
    return result;
  }

  /** Preallocated fetches of the output's declared type, for native code to write into directly. */
  private destinationsOf(fetches: SessionHandler.FetchesType): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    for (const [name, pre] of Object.entries(fetches)) {
      const meta = this.outputMetadata[this.outputNames.indexOf(name)];
      if (isTensor(pre) && meta?.isTensor && meta.type === pre.type) out.set(name, ortToHost(pre));
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}

/**
 * Checks a caller-provided output tensor. Native code has usually written straight into it;
 * outputs made elsewhere (CPU partitions, constants, passed-through inputs) are copied in.
 */
function fillPreallocated(name: string, pre: Tensor, t: HostTensor): Tensor {
  const dst = ortToHost(pre);
  if (dst.dataType !== t.dataType || dst.data.byteLength !== t.data.byteLength) {
    throw new EpError(`preallocated output '${name}': expected ${DataType[t.dataType]}[${t.dims.join(',')}], got ${pre.type}[${pre.dims.join(',')}]`);
  }
  if (!sameBytes(dst.data, t.data)) dst.data.set(t.data);
  return pre;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset;
}

/** onnxruntime's session config key for whether threads spin while they wait. */
export const ALLOW_SPINNING = 'session.intra_op.allow_spinning';

/**
 * An entry of onnxruntime's session config (SessionOptions.extra), given
 * either flat ({'session.intra_op.allow_spinning': '0'}) or nested by its
 * dots ({session: {intra_op: {allow_spinning: '0'}}}), as onnxruntime-node
 * accepts both.
 */
export function configEntry(extra: unknown, key: string): unknown {
  if (typeof extra !== 'object' || extra === null) return undefined;
  if (Object.hasOwn(extra, key)) return Reflect.get(extra, key);
  const dot = key.indexOf('.');
  return dot < 0 ? undefined : configEntry(Reflect.get(extra, key.slice(0, dot)), key.slice(dot + 1));
}

export class MlirBackend implements Backend {
  async init(_backendName: string): Promise<void> {}

  async createInferenceSessionHandler(uriOrBuffer: string | Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSessionHandler> {
    const opts = options ?? {};
    const log = new Logger(opts.logSeverityLevel ?? Logger.DEFAULT_LEVEL, opts.logId ?? 'onnxruntime-ep-mlir');
    const start = performance.now();
    // onnxruntime's arena option: ours is the C library's heap (native/host-memory.ts).
    if (opts.enableCpuMemArena !== false && !retainFreedHostMemory()) log.verbose('host memory: the C library is not glibc; freed run buffers go back to the system');
    const session = await MlirSession.create(uriOrBuffer, epOptions(opts), {
      intraOpNumThreads: opts.intraOpNumThreads,
      freeDimensionOverrides: opts.freeDimensionOverrides,
      log,
      allowSpinning: configEntry(opts.extra, ALLOW_SPINNING) !== '0',
    });
    const r = session.report();
    log.info(`session created in ${(performance.now() - start).toFixed(1)} ms: ${r.compiledNodes}/${r.totalNodes} nodes compiled`);
    for (const reason of r.fallbackReasons) log.warning(`fallback to CPU: ${reason}`);
    return new MlirSessionHandler(session, opts, log);
  }
}

export const mlirBackend = new MlirBackend();
