// Runs an execution plan: native partitions through the compiled library,
// fallback partitions through injected runners (onnxruntime-node sessions),
// control flow (If/Loop/Scan) through runtime/control-flow.ts with body plans
// bound the same way. Loads compiled modules only; never imports compiler code.
import { DataType, byteLength, elementCount } from '../onnx/model.js';
import type { BodyRef, CompiledModule, ConstantValue, ControlStep, ExecutionPlan, NativeArg, PlanStep, TensorSignature } from '../module/format.js';
import { NativeLibrary, type Kernel } from '../native/library.js';
import { aligned } from '../native/host-memory.js';
import type { HostTensor } from './host-tensor.js';
import { bindControlStep, type BodyHost, type BodyRunner, type ControlRunner } from './control-flow.js';
import { EMPTY_REPORT, addReports, type PlanReport } from './run-report.js';
import { narrowAlongAxis } from './host-slicing.js';
import { guardedBuffer, guardIntact } from './output-guard.js';
import { whileAwake } from './awake-wait.js';

export class ExecutionError extends Error {
  override name = 'ExecutionError';
}

/** Runs one fallback partition (an ONNX model) on another EP. */
export interface FallbackRunner {
  run(feeds: ReadonlyMap<string, HostTensor>): Promise<Map<string, HostTensor>>;
  dispose(): Promise<void>;
}

/**
 * Caller-owned buffers for graph outputs (ORT's preallocated fetches), by output name.
 * A native step whose output matches one in type and size writes straight into it.
 */
export type Destinations = ReadonlyMap<string, HostTensor>;
const NO_DESTINATIONS: Destinations = new Map();

export type FallbackFactory = (model: Uint8Array, label: string) => Promise<FallbackRunner>;

/**
 * Work (element-equivalents, as the compiler's workEstimate counts them)
 * below which a native call runs inline: a thread hop costs more than the call.
 */
export const SYNC_CALL_MAX_WORK = 200_000;

type BoundStep =
  | { kind: 'native'; step: Extract<PlanStep, { kind: 'native' }>; kernel: Kernel }
  | { kind: 'cpu'; step: Extract<PlanStep, { kind: 'cpu' }>; runner: FallbackRunner }
  | { kind: 'control'; step: ControlStep; runner: ControlRunner };

export interface StepObserver {
  onStep(label: string, kind: 'native' | 'cpu', startMs: number, endMs: number): void;
}

/** A body signature the module was not compiled for, to be compiled on demand. */
export interface BodyCompileRequest {
  body: BodyRef;
  inputs: TensorSignature[];
  /** The body's outer-scope compile-time constants, by name. */
  constants: ReadonlyMap<string, HostTensor>;
  /** Inputs the variant is specialised on by value (BodyRef.valueInputs), to embed as constants. */
  values: ReadonlyMap<string, HostTensor>;
  /** The body as a standalone ONNX model (BodyRef.model), when the module has one. */
  model: Uint8Array | null;
}

/** Injected by the EP layer when it can compile (never in runtime-only sessions). */
export type BodyCompiler = (req: BodyCompileRequest) => Promise<CompiledModule>;

export interface ExecutorHooks {
  compileBody?: BodyCompiler;
  /**
   * When true, short native calls on a worker thread are awaited with the
   * event loop turning (runtime/awake-wait.ts), where a core is free beside
   * the threads the step keeps busy (PlanStep.threads).
   */
  spinWait?: boolean;
}

/**
 * Native steps up to this work estimate are awaited turning when spinWait is
 * set: the wake-up it saves (about 0.1 ms) matters against runs of a few
 * milliseconds (PP-OCR cls: 9 M; MatMul 512³: 15 M), not against det's
 * (600 M) or MatMul 1024³'s (115 M).
 */
export const SPIN_WAIT_MAX_WORK = 20_000_000;

function dimsMatch(expected: readonly (number | string)[], actual: readonly number[]): boolean {
  return expected.length === actual.length && expected.every((d, i) => typeof d === 'string' || d === actual[i]);
}

function sigString(s: TensorSignature): string {
  return `${DataType[s.dataType]}[${s.dims.join(',')}]`;
}

/** What every plan of one module shares: its blobs, its library and how to reach the outside. */
interface ModuleEnv {
  blobs: Uint8Array[];
  library: NativeLibrary | null;
  fallback: FallbackFactory;
  hooks: ExecutorHooks;
}

/** One plan (the model's or a body variant's) bound to kernels, fallback sessions and control-flow runners. */
class PlanRunner {
  private constructor(readonly plan: ExecutionPlan, private readonly env: ModuleEnv, private readonly steps: BoundStep[]) {}

  static async bind(plan: ExecutionPlan, env: ModuleEnv): Promise<PlanRunner> {
    const steps: BoundStep[] = [];
    try {
      for (const step of plan.steps) steps.push(await bindStep(step, env));
    } catch (e) {
      await disposeSteps(steps);
      throw e;
    }
    return new PlanRunner(plan, env, steps);
  }

  async run(feeds: ReadonlyMap<string, HostTensor>, observer?: StepObserver, destinations: Destinations = NO_DESTINATIONS): Promise<Map<string, HostTensor>> {
    const values = new Map<string, HostTensor>(feeds);
    for (const c of this.plan.constants) values.set(c.name, constantTensor(c, this.env.blobs));
    for (const s of this.steps) {
      const start = performance.now();
      if (s.kind === 'native') await runNative(s.step, s.kernel, values, this.env, destinations);
      else if (s.kind === 'cpu') for (const [k, v] of await s.runner.run(pick(values, s.step.inputs))) values.set(k, v);
      else await s.runner.run(values, observer);
      if (s.kind !== 'control') observer?.onStep(s.kind === 'native' ? s.step.symbol : `fallback: ${s.step.nodes.join(', ')}`, s.kind, start, performance.now());
    }
    return values;
  }

  /** Correction to the plan's report from variants its control steps compiled at run time. */
  delta(): PlanReport {
    let d = EMPTY_REPORT;
    for (const s of this.steps) if (s.kind === 'control') d = addReports(d, s.runner.delta());
    return d;
  }

  async dispose(): Promise<void> {
    await disposeSteps(this.steps);
  }
}

async function bindStep(step: PlanStep, env: ModuleEnv): Promise<BoundStep> {
  switch (step.kind) {
    case 'native':
      if (!env.library) throw new ExecutionError(`plan has a native step ${step.symbol} but no library`);
      return { kind: 'native', step, kernel: env.library.kernel(step.symbol, step.args.length) };
    case 'cpu':
      return { kind: 'cpu', step, runner: await env.fallback(env.blobs[step.model], step.nodes.join(', ')) };
    default:
      return { kind: 'control', step, runner: await bindControlStep(step, bodyHost(env)) };
  }
}

async function disposeSteps(steps: readonly BoundStep[]): Promise<void> {
  await Promise.all(steps.map((s) => (s.kind === 'native' ? undefined : s.runner.dispose())));
}

function constantTensor(c: ConstantValue, blobs: readonly Uint8Array[]): HostTensor {
  return { dataType: c.dataType, dims: c.dims, data: blobs[c.blob] };
}

function bodyRunner(runner: PlanRunner, dispose: () => Promise<void>): BodyRunner {
  return {
    plan: runner.plan,
    report: () => addReports(runner.plan.report, runner.delta()),
    async run(feeds, observer) {
      const values = await runner.run(feeds, observer);
      return runner.plan.outputs.map((o) => {
        const v = values.get(o.name);
        if (!v) throw new ExecutionError(`body output '${o.name}' was not produced`);
        return v;
      });
    },
    dispose,
  };
}

/** Control-flow bodies: precompiled variants share the module; others are compiled through the hook into modules of their own. */
function bodyHost(env: ModuleEnv): BodyHost {
  const compileBody = env.hooks.compileBody;
  return {
    async bind(plan) {
      const runner = await PlanRunner.bind(plan, env);
      return bodyRunner(runner, () => runner.dispose());
    },
    compile: compileBody
      ? async (body, inputs, values) => {
        const constants = new Map(body.constants.map((c) => [c.name, constantTensor(c, env.blobs)]));
        const module = await compileBody({ body, inputs, constants, values, model: body.model === undefined ? null : env.blobs[body.model] });
        const ex = await Executor.load(module, env.fallback, env.hooks);
        return bodyRunner(ex.runner, () => ex.dispose());
      }
      : null,
    async cpu(body) {
      if (body.model === undefined) throw new ExecutionError(`body ${body.key} has no CPU model`);
      const runner = await env.fallback(env.blobs[body.model], body.key);
      return {
        plan: null,
        // The node count is the caller's to know (BodyVariants reports a CPU-run body with it).
        report: () => ({ ...EMPTY_REPORT, fallbackReasons: [`${body.key}: runs on the CPU EP`] }),
        async run(feeds) {
          const out = await runner.run(feeds);
          return body.outputs.map((n) => {
            const v = out.get(n);
            if (!v) throw new ExecutionError(`body output '${n}' was not produced`);
            return v;
          });
        },
        dispose: () => runner.dispose(),
      };
    },
  };
}

export class Executor {
  private disposed = false;

  private constructor(
    readonly plan: ExecutionPlan,
    /** @internal the bound root plan. */
    readonly runner: PlanRunner,
    private readonly library: NativeLibrary | null,
  ) {}

  static async load(module: CompiledModule, fallback: FallbackFactory, hooks: ExecutorHooks = {}): Promise<Executor> {
    const { plan } = module;
    // Weights are streamed by vector loads: each starts on a cache line (the library's bytes only go to a file).
    const blobs = module.blobs.map((b, i) => (i === plan.library ? b : aligned(b)));
    const library = plan.library >= 0 ? new NativeLibrary(blobs[plan.library]) : null;
    try {
      const runner = await PlanRunner.bind(plan, { blobs, library, fallback, hooks });
      return new Executor(plan, runner, library);
    } catch (e) {
      library?.close();
      throw e;
    }
  }

  /** Checks every feed against the compiled signature before any native call. */
  validateFeeds(feeds: ReadonlyMap<string, HostTensor>): void {
    for (const sig of this.plan.inputs) {
      const t = feeds.get(sig.name);
      if (!t) throw new ExecutionError(`input '${sig.name}' is missing; expected ${sigString(sig)}`);
      if (t.dataType !== sig.dataType || !dimsMatch(sig.dims, t.dims)) {
        throw new ExecutionError(`input '${sig.name}': expected ${sigString(sig)}, got ${DataType[t.dataType]}[${t.dims.join(',')}]`);
      }
      const need = byteLength(t.dataType, elementCount(t.dims));
      if (t.dataType !== DataType.STRING && t.data.byteLength !== need) {
        throw new ExecutionError(`input '${sig.name}': data has ${t.data.byteLength} bytes, expected ${need} for dims [${t.dims.join(',')}]`);
      }
    }
  }

  /** The plan's report corrected by what the variants compiled at run time did (see run-report.ts). */
  report(): PlanReport {
    return addReports(this.plan.report, this.runner.delta());
  }

  async run(feeds: ReadonlyMap<string, HostTensor>, observer?: StepObserver, destinations?: Destinations): Promise<Map<string, HostTensor>> {
    if (this.disposed) throw new ExecutionError('session is disposed');
    this.validateFeeds(feeds);
    const values = await this.runner.run(feeds, observer, destinations);
    const out = new Map<string, HostTensor>();
    for (const o of this.plan.outputs) {
      const v = values.get(o.name);
      if (!v) throw new ExecutionError(`output '${o.name}' was not produced`);
      out.set(o.name, v);
    }
    return out;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.runner.dispose();
    this.library?.close();
  }
}

async function runNative(step: Extract<PlanStep, { kind: 'native' }>, kernel: Kernel, values: Map<string, HostTensor>, env: ModuleEnv, destinations: Destinations): Promise<void> {
  const { blobs } = env;
  const outputs: [NativeArg, HostTensor][] = [];
  const args = step.args.map((a) => {
    if (a.role === 'weight') return blobs[a.blob ?? -1];
    if (a.role === 'input') {
      const v = values.get(a.name);
      if (!v) throw new ExecutionError(`${step.symbol}: value '${a.name}' is not available`);
      // Values made at run time (deferred segments, CPU partitions) may contradict the shapes the code was compiled for.
      if (v.data.byteLength !== byteLength(a.dataType, elementCount(a.dims))) {
        throw new ExecutionError(`${step.symbol}: value '${a.name}' is ${DataType[v.dataType]}[${v.dims.join(',')}], compiled for ${DataType[a.dataType]}[${a.dims.join(',')}]`);
      }
      return v.data;
    }
    const t: HostTensor = { dataType: a.dataType, dims: a.dims, data: outputBuffer(a, destinations) };
    outputs.push([a, t]);
    return t.data;
  });
  const spin = env.hooks.spinWait;
  if (step.work <= SYNC_CALL_MAX_WORK) kernel.callSync(args);
  else if (spin && step.work <= SPIN_WAIT_MAX_WORK) await whileAwake(step.threads, () => kernel.callAsync(args));
  else await kernel.callAsync(args);
  const overrun = outputs.find(([, t]) => !guardIntact(t.data));
  if (overrun) throw new ExecutionError(`${step.symbol} (${step.nodes.join(', ')}): native code wrote past the end of output '${overrun[0].name}' (${overrun[1].data.byteLength} bytes)`);
  const made = new Map(outputs.map(([a, t]) => [a.name, t]));
  for (const [a, t] of outputs) values.set(a.name, a.trim ? trimmed(step.symbol, a, t, made) : t);
}

/** The caller's buffer when it fits exactly (no copy afterwards), else a fresh one. */
function outputBuffer(a: NativeArg, destinations: Destinations): Uint8Array {
  const need = byteLength(a.dataType, elementCount(a.dims));
  const dst = destinations.get(a.name);
  // A trimmed output is written at its largest size, which the caller's buffer does not have.
  if (dst && !a.trim && dst.dataType === a.dataType && dst.data.byteLength === need) return dst.data;
  return guardedBuffer(need);
}

/** An output of data-dependent size cut from its largest size to the count the native code wrote (NativeArg.trim). */
function trimmed(symbol: string, a: NativeArg, t: HostTensor, made: ReadonlyMap<string, HostTensor>): HostTensor {
  const trim = a.trim;
  const c = trim ? made.get(trim.count) : undefined;
  if (!trim || !c || c.dataType !== DataType.INT64 || elementCount(c.dims) !== 1) {
    throw new ExecutionError(`${symbol}: output '${a.name}' has no int64 count output '${trim?.count ?? ''}'`);
  }
  const count = Number(new DataView(c.data.buffer, c.data.byteOffset, 8).getBigInt64(0, true));
  if (count < 0 || count > (t.dims[trim.axis] ?? -1)) {
    throw new ExecutionError(`${symbol}: output '${a.name}' count ${count} is outside [0, ${t.dims[trim.axis]}]`);
  }
  return narrowAlongAxis(t, trim.axis, count);
}

function pick(values: ReadonlyMap<string, HostTensor>, names: readonly string[]): Map<string, HostTensor> {
  const m = new Map<string, HostTensor>();
  for (const n of names) {
    const v = values.get(n);
    if (!v) throw new ExecutionError(`fallback partition input '${n}' is not available`);
    m.set(n, v);
  }
  return m;
}
