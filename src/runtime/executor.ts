// Runs an execution plan: native partitions through the compiled library,
// fallback partitions through injected runners (onnxruntime-node sessions).
// Loads compiled modules only; never imports compiler code.
import { DataType, byteLength, elementCount } from '../onnx/model.js';
import type { CompiledModule, ExecutionPlan, NativeArg, PlanStep, TensorSignature } from '../module/format.js';
import { NativeLibrary, type Kernel } from '../native/library.js';
import type { HostTensor } from './host-tensor.js';

export class ExecutionError extends Error {
  override name = 'ExecutionError';
}

/** Runs one fallback partition (an ONNX model) on another EP. */
export interface FallbackRunner {
  run(feeds: ReadonlyMap<string, HostTensor>): Promise<Map<string, HostTensor>>;
  dispose(): Promise<void>;
}

export type FallbackFactory = (model: Uint8Array, label: string) => Promise<FallbackRunner>;

/** Work below which a native call runs inline: a thread hop costs more than the call. */
export const SYNC_CALL_MAX_FLOPS = 200_000;

type BoundStep =
  | { kind: 'native'; step: Extract<PlanStep, { kind: 'native' }>; kernel: Kernel }
  | { kind: 'cpu'; step: Extract<PlanStep, { kind: 'cpu' }>; runner: FallbackRunner };

export interface StepObserver {
  onStep(label: string, kind: 'native' | 'cpu', startMs: number, endMs: number): void;
}

function dimsMatch(expected: readonly (number | string)[], actual: readonly number[]): boolean {
  return expected.length === actual.length && expected.every((d, i) => typeof d === 'string' || d === actual[i]);
}

function sigString(s: TensorSignature): string {
  return `${DataType[s.dataType]}[${s.dims.join(',')}]`;
}

export class Executor {
  private disposed = false;

  private constructor(
    readonly plan: ExecutionPlan,
    private readonly blobs: Uint8Array[],
    private readonly steps: BoundStep[],
    private readonly library: NativeLibrary | null,
  ) {}

  static async load(module: CompiledModule, fallback: FallbackFactory): Promise<Executor> {
    const { plan, blobs } = module;
    const library = plan.library >= 0 ? new NativeLibrary(blobs[plan.library]) : null;
    const steps: BoundStep[] = [];
    try {
      for (const step of plan.steps) {
        if (step.kind === 'native') {
          if (!library) throw new ExecutionError(`plan has a native step ${step.symbol} but no library`);
          steps.push({ kind: 'native', step, kernel: library.kernel(step.symbol, step.args.length) });
        } else {
          steps.push({ kind: 'cpu', step, runner: await fallback(blobs[step.model], step.nodes.join(', ')) });
        }
      }
    } catch (e) {
      await Promise.all(steps.map((s) => (s.kind === 'cpu' ? s.runner.dispose() : undefined)));
      library?.close();
      throw e;
    }
    return new Executor(plan, blobs, steps, library);
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

  async run(feeds: ReadonlyMap<string, HostTensor>, observer?: StepObserver): Promise<Map<string, HostTensor>> {
    if (this.disposed) throw new ExecutionError('session is disposed');
    this.validateFeeds(feeds);
    const values = new Map<string, HostTensor>(feeds);
    for (const c of this.plan.constants) {
      values.set(c.name, { dataType: c.dataType, dims: c.dims, data: this.blobs[c.blob] });
    }
    for (const s of this.steps) {
      const start = performance.now();
      if (s.kind === 'native') await this.runNative(s.step, s.kernel, values);
      else for (const [k, v] of await s.runner.run(pick(values, s.step.inputs))) values.set(k, v);
      observer?.onStep(s.kind === 'native' ? s.step.symbol : `fallback: ${s.step.nodes.join(', ')}`, s.kind, start, performance.now());
    }
    const out = new Map<string, HostTensor>();
    for (const o of this.plan.outputs) {
      const v = values.get(o.name);
      if (!v) throw new ExecutionError(`output '${o.name}' was not produced`);
      out.set(o.name, v);
    }
    return out;
  }

  private async runNative(step: Extract<PlanStep, { kind: 'native' }>, kernel: Kernel, values: Map<string, HostTensor>): Promise<void> {
    const outputs: [NativeArg, HostTensor][] = [];
    const args = step.args.map((a) => {
      if (a.role === 'weight') return this.blobs[a.blob ?? -1];
      if (a.role === 'input') {
        const v = values.get(a.name);
        if (!v) throw new ExecutionError(`${step.symbol}: value '${a.name}' is not available`);
        return v.data;
      }
      const t: HostTensor = { dataType: a.dataType, dims: a.dims, data: new Uint8Array(byteLength(a.dataType, elementCount(a.dims))) };
      outputs.push([a, t]);
      return t.data;
    });
    if (step.flops <= SYNC_CALL_MAX_FLOPS) kernel.callSync(args);
    else await kernel.callAsync(args);
    for (const [a, t] of outputs) values.set(a.name, t);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(this.steps.map((s) => (s.kind === 'cpu' ? s.runner.dispose() : undefined)));
    this.library?.close();
  }
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
