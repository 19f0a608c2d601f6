// Runtime-level control flow: If, Loop and Scan steps evaluate their
// condition / trip count on the host and run their bodies' sub-plans, which
// were compiled like any graph (native partitions plus CPU fallbacks). A body
// is specialised per input signature; a signature without a precompiled plan
// is compiled on first use through the host's compile hook (absent in
// runtime-only sessions, where that is an error). Deferred segments may also
// be specialised on the VALUES of some small integer inputs (BodyRef.valueInputs).
// Never imports compiler code.
import { DataType } from '../onnx/model.js';
import type { BodyRef, ControlStep, ExecutionPlan, ScanElement, TensorSignature } from '../module/format.js';
import type { HostTensor } from './host-tensor.js';
import { EMPTY_REPORT, addReports, cpuReport, reportDelta, worstReport, type PlanReport } from './run-report.js';
import {
  boolScalar, emptyTensor, int64Scalar, normalizeAxis, readCondition, readTripCount, stackAlongAxis, takeAlongAxis,
} from './host-slicing.js';

export class ControlFlowError extends Error {
  override name = 'ControlFlowError';
}

export interface StepObserverLike {
  onStep(label: string, kind: 'native' | 'cpu', startMs: number, endMs: number): void;
}

/** A body plan bound to native code and fallback sessions. */
export interface BodyRunner {
  /** The specialised plan; null for a body run on the CPU EP (any shapes). */
  readonly plan: ExecutionPlan | null;
  /** Outputs in the order of plan.outputs. */
  run(feeds: ReadonlyMap<string, HostTensor>, observer?: StepObserverLike): Promise<HostTensor[]>;
  /** What this variant ran as: its plan's report corrected by its own run-time variants. */
  report(): PlanReport;
  dispose(): Promise<void>;
}

/** What the executor provides to control-flow steps. */
export interface BodyHost {
  /** Binds a precompiled variant living in the current module. */
  bind(plan: ExecutionPlan): Promise<BodyRunner>;
  /**
   * Compiles and binds a variant for `inputs` (with `values`, the inputs
   * specialised on by value, embedded as constants); null when the session cannot compile.
   */
  readonly compile: ((ref: BodyRef, inputs: TensorSignature[], values: ReadonlyMap<string, HostTensor>) => Promise<BodyRunner>) | null;
  /** Runs the body's standalone model (BodyRef.model) on the CPU EP. */
  cpu(ref: BodyRef): Promise<BodyRunner>;
}

/** Lazily compiled variants kept per body (least recently used dropped beyond this). */
export const MAX_LAZY_VARIANTS = 8;

/**
 * Distinct signatures compiled on demand before a body that has a CPU model
 * stops compiling: shapes that change on every run would otherwise pay the
 * toolchain each time.
 */
export const MAX_LAZY_COMPILES = 32;

function signatureMatches(sig: readonly TensorSignature[], feeds: readonly HostTensor[]): boolean {
  return sig.length === feeds.length && sig.every((s, i) => {
    const t = feeds[i];
    return s.dataType === t.dataType && s.dims.length === t.dims.length && s.dims.every((d, k) => typeof d === 'string' || d === t.dims[k]);
  });
}

function describe(names: readonly string[], feeds: readonly HostTensor[]): string {
  return names.map((n, i) => `${n}: ${DataType[feeds[i].dataType]}[${feeds[i].dims.join(',')}]`).join(', ');
}

/** The variant key part of an input specialised by value: its bytes. */
function valueKey(t: HostTensor): string {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64');
}

/** How a body was accounted for in the plan-time report, and how many nodes run when it runs on the CPU EP. */
export interface BodyAccounting {
  planned: PlanReport;
  cpuNodes: number;
}

/** The variants of one body: precompiled ones plus those compiled on demand. */
class BodyVariants {
  private readonly lazy = new Map<string, Promise<BodyRunner>>();
  /** Lazily compiled variants that are ready, by key (for the report). */
  private readonly ready = new Map<string, BodyRunner>();
  /** The worst report of variants evicted so far: what ran stays in the report. */
  private evicted: PlanReport | null = null;
  private compiles = 0;
  private cpuRunner: Promise<BodyRunner> | null = null;
  /** Positions (in formals then captures) of the inputs specialised by value. */
  private readonly byValue: number[];

  private constructor(readonly ref: BodyRef, private readonly eager: BodyRunner[], private readonly host: BodyHost, private readonly label: string,
    private readonly accounting: BodyAccounting) {
    const names = [...ref.formals, ...ref.captures];
    this.byValue = (ref.valueInputs ?? []).map((n) => names.indexOf(n)).filter((i) => i >= 0);
  }

  static async create(ref: BodyRef, host: BodyHost, label: string, accounting: BodyAccounting): Promise<BodyVariants> {
    const eager: BodyRunner[] = [];
    try {
      for (const plan of ref.variants) eager.push(await host.bind(plan));
    } catch (e) {
      await Promise.all(eager.map((r) => r.dispose()));
      throw e;
    }
    return new BodyVariants(ref, eager, host, label, accounting);
  }

  /**
   * The correction to the plan-time report from the variants that ran: the
   * one that fell back most replaces what the plan counted for this body.
   */
  delta(): PlanReport {
    const ran = [...this.eager, ...this.ready.values()].map((r) => r.report());
    const worst = worstReport(this.evicted ? [...ran, this.evicted] : ran);
    return worst ? reportDelta(this.accounting.planned, worst, this.label) : EMPTY_REPORT;
  }

  /** Runs the variant for these formal inputs; captures are read from `outer`. */
  async run(formals: readonly HostTensor[], outer: ReadonlyMap<string, HostTensor>, observer?: StepObserverLike): Promise<HostTensor[]> {
    const names = [...this.ref.formals, ...this.ref.captures];
    const inputs = [...formals, ...this.ref.captures.map((c) => valueOf(outer, c, this.label))];
    const feeds = new Map(names.map((n, i) => [n, inputs[i]]));
    const runner = await this.runnerFor(names, inputs);
    const out = await runner.run(feeds, observer);
    return out;
  }

  private runnerFor(names: readonly string[], inputs: readonly HostTensor[]): Promise<BodyRunner> {
    const hit = this.eager.find((r) => r.plan !== null && signatureMatches(r.plan.inputs, inputs));
    if (hit) return Promise.resolve(hit);
    let key = inputs.map((t) => `${t.dataType}:${t.dims.join('x')}`).join('|');
    for (const i of this.byValue) key += `|${i}=${valueKey(inputs[i])}`;
    let p = this.lazy.get(key);
    if (p) {
      this.lazy.delete(key);
      this.lazy.set(key, p);
      return p;
    }
    const compile = this.host.compile;
    const hasModel = this.ref.model !== undefined;
    if (hasModel && (!compile || this.compiles >= MAX_LAZY_COMPILES)) {
      const why = compile ? `more than ${MAX_LAZY_COMPILES} input signatures: runs on the CPU EP` : 'runtime-only module: runs on the CPU EP';
      this.cpuRunner ??= this.host.cpu(this.ref).then((r) => {
        const onCpu: BodyRunner = { plan: null, run: (f, o) => r.run(f, o), report: () => cpuReport(this.accounting.cpuNodes, why), dispose: () => r.dispose() };
        this.ready.set('cpu', onCpu);
        return onCpu;
      });
      return this.cpuRunner;
    }
    if (!compile) {
      throw new ControlFlowError(`${this.label}: no compiled variant for inputs (${describe(names, inputs)}) and this session cannot compile (runtime-only module)`);
    }
    const sig = inputs.map((t, i) => ({ name: names[i], dataType: t.dataType, dims: [...t.dims] }));
    const values = new Map(this.byValue.map((i) => [names[i], inputs[i]]));
    this.compiles++;
    const compiled = compile(this.ref, sig, values);
    p = compiled.then((r) => {
      if (this.lazy.get(key) === p) this.ready.set(key, r);
      return r;
    });
    this.lazy.set(key, p);
    p.catch(() => this.lazy.delete(key));
    this.evict();
    return p;
  }

  private evict(): void {
    while (this.lazy.size > MAX_LAZY_VARIANTS) {
      const [oldest, p] = this.lazy.entries().next().value ?? [];
      if (oldest === undefined || p === undefined) return;
      this.lazy.delete(oldest);
      const r = this.ready.get(oldest);
      if (r) this.evicted = worstReport([r.report(), ...(this.evicted ? [this.evicted] : [])]);
      this.ready.delete(oldest);
      void p.then((x) => x.dispose()).catch(() => undefined);
    }
  }

  async dispose(): Promise<void> {
    const lazy = [...this.lazy.values(), ...(this.cpuRunner ? [this.cpuRunner] : [])];
    this.lazy.clear();
    this.ready.clear();
    this.cpuRunner = null;
    await Promise.all([
      ...this.eager.map((r) => r.dispose()),
      ...lazy.map((p) => p.then((r) => r.dispose()).catch(() => undefined)),
    ]);
  }
}

function valueOf(values: ReadonlyMap<string, HostTensor>, name: string, label: string): HostTensor {
  const v = values.get(name);
  if (!v) throw new ControlFlowError(`${label}: value '${name}' is not available`);
  return v;
}

function setOutputs(values: Map<string, HostTensor>, names: readonly string[], results: readonly HostTensor[], label: string): void {
  names.forEach((n, i) => {
    if (n === '') return;
    const r = results[i];
    if (!r) throw new ControlFlowError(`${label}: output ${i} ('${n}') was not produced`);
    values.set(n, r);
  });
}

/** A bound control-flow step. */
export interface ControlRunner {
  run(values: Map<string, HostTensor>, observer?: StepObserverLike): Promise<void>;
  /** Correction to the plan-time report from the variants its bodies ran (see run-report.ts). */
  delta(): PlanReport;
  dispose(): Promise<void>;
}

/**
 * What the plan-time report counted for a body: a segment's nodes as
 * compiled; a control-flow body's precompiled variant (nothing when it had none).
 */
function accountingOf(step: ControlStep, ref: BodyRef): BodyAccounting {
  if (step.kind !== 'segment') return { planned: ref.variants[0]?.report ?? EMPTY_REPORT, cpuNodes: 0 };
  const n = step.nodes.length;
  return { planned: { totalNodes: n, compiledNodes: n, fallbackNodes: 0, fallbackReasons: [] }, cpuNodes: n };
}

export async function bindControlStep(step: ControlStep, host: BodyHost): Promise<ControlRunner> {
  const label = step.nodes.join(', ');
  const refs = step.kind === 'if' ? [step.thenBranch, step.elseBranch] : [step.body];
  const bodies: BodyVariants[] = [];
  try {
    for (const [i, ref] of refs.entries()) {
      const which = step.kind === 'if' ? (i === 0 ? 'then_branch' : 'else_branch') : step.kind === 'segment' ? 'deferred segment' : 'body';
      bodies.push(await BodyVariants.create(ref, host, `${label} ${which}`, accountingOf(step, ref)));
    }
  } catch (e) {
    await Promise.all(bodies.map((b) => b.dispose()));
    throw e;
  }
  const dispose = async () => {
    await Promise.all(bodies.map((b) => b.dispose()));
  };
  const delta = () => bodies.reduce((acc, b) => addReports(acc, b.delta()), EMPTY_REPORT);
  switch (step.kind) {
    case 'if': return { run: (values, obs) => runIf(step, bodies[0], bodies[1], values, obs), delta, dispose };
    case 'loop': return { run: (values, obs) => runLoop(step, bodies[0], values, obs), delta, dispose };
    case 'scan': return { run: (values, obs) => runScan(step, bodies[0], values, obs), delta, dispose };
    case 'segment': return { run: async (values, obs) => setOutputs(values, step.outputs, await bodies[0].run([], values, obs), label), delta, dispose };
  }
}

async function runIf(step: Extract<ControlStep, { kind: 'if' }>, thenBody: BodyVariants, elseBody: BodyVariants,
  values: Map<string, HostTensor>, observer?: StepObserverLike): Promise<void> {
  const label = step.nodes.join(', ');
  const body = readCondition(valueOf(values, step.cond, label), `${label} cond`) ? thenBody : elseBody;
  setOutputs(values, step.outputs, await body.run([], values, observer), label);
}

/** Zero-iteration scan output: ORT's convention, [0] followed by the per-iteration dims (unknown dims as 0). */
function emptyScanOutput(e: ScanElement | undefined, axis: number): HostTensor {
  if (!e) throw new ControlFlowError('scan output element type is unknown');
  const dims = [...(e.dims ?? [])];
  dims.splice(Math.min(axis, dims.length), 0, 0);
  return emptyTensor(e.dataType, dims);
}

async function runLoop(step: Extract<ControlStep, { kind: 'loop' }>, body: BodyVariants, values: Map<string, HostTensor>,
  observer?: StepObserverLike): Promise<void> {
  const label = step.nodes.join(', ');
  const tripCount = step.tripCount === null ? null : readTripCount(valueOf(values, step.tripCount, label), `${label} M`);
  let cond = step.cond === null ? true : readCondition(valueOf(values, step.cond, label), `${label} cond`);
  let carried = step.initial.map((n) => valueOf(values, n, label));
  const perIteration: HostTensor[][] = step.scanElements.map(() => []);
  for (let i = 0; (tripCount === null || BigInt(i) < tripCount) && cond; i++) {
    const out = await body.run([int64Scalar(i), boolScalar(cond), ...carried], values, observer);
    cond = readCondition(out[0], `${label} body condition`);
    carried = out.slice(1, 1 + carried.length);
    out.slice(1 + carried.length).forEach((t, k) => perIteration[k].push(t));
  }
  const scans = perIteration.map((parts, k) => (parts.length ? stackAlongAxis(parts, 0, `${label} scan output ${k}`) : emptyScanOutput(step.scanElements[k], 0)));
  setOutputs(values, step.outputs, [...carried, ...scans], label);
}

interface ScanArgs {
  states: HostTensor[];
  scans: HostTensor[];
}

/** One (unbatched) Scan: iterate the scan inputs' slices, threading the state through the body. */
async function scanOnce(step: Extract<ControlStep, { kind: 'scan' }>, body: BodyVariants, args: ScanArgs, outer: ReadonlyMap<string, HostTensor>,
  observer?: StepObserverLike): Promise<HostTensor[]> {
  const label = step.nodes.join(', ');
  const axes = args.scans.map((t, i) => normalizeAxis(step.inputAxes[i] ?? 0, t.dims.length, `${label} scan input ${i}`));
  const lengths = args.scans.map((t, i) => t.dims[axes[i]]);
  const length = lengths[0] ?? 0;
  if (lengths.some((l) => l !== length)) throw new ControlFlowError(`${label}: scan inputs have different lengths (${lengths.join(', ')})`);
  let states = args.states;
  const perIteration: HostTensor[][] = step.scanElements.map(() => []);
  for (let t = 0; t < length; t++) {
    const slices = args.scans.map((s, i) => takeAlongAxis(s, axes[i], step.inputReverse[i] ? length - 1 - t : t));
    const out = await body.run([...states, ...slices], outer, observer);
    states = out.slice(0, states.length);
    out.slice(states.length).forEach((r, k) => perIteration[k].push(r));
  }
  const scans = perIteration.map((parts, k) => {
    const rank = (parts[0]?.dims.length ?? step.scanElements[k]?.dims?.length ?? 0) + 1;
    const axis = normalizeAxis(step.outputAxes[k] ?? 0, rank, `${label} scan output ${k}`);
    if (!parts.length) return emptyScanOutput(step.scanElements[k], axis);
    return stackAlongAxis(step.outputReverse[k] ? [...parts].reverse() : parts, axis, `${label} scan output ${k}`);
  });
  return [...states, ...scans];
}

async function runScan(step: Extract<ControlStep, { kind: 'scan' }>, body: BodyVariants, values: Map<string, HostTensor>,
  observer?: StepObserverLike): Promise<void> {
  const label = step.nodes.join(', ');
  const args: ScanArgs = {
    states: step.state.map((n) => valueOf(values, n, label)),
    scans: step.scanInputs.map((n) => valueOf(values, n, label)),
  };
  if (!step.batched) {
    setOutputs(values, step.outputs, await scanOnce(step, body, args, values, observer), label);
    return;
  }
  // Opset 8: every input carries a leading batch dimension; each batch entry is an independent scan.
  const batch = [...args.states, ...args.scans][0]?.dims[0] ?? 0;
  const perBatch: HostTensor[][] = [];
  for (let b = 0; b < batch; b++) {
    const slice = (t: HostTensor) => takeAlongAxis(t, 0, b);
    perBatch.push(await scanOnce(step, body, { states: args.states.map(slice), scans: args.scans.map(slice) }, values, observer));
  }
  const outputs = step.outputs.map((_, k) => stackAlongAxis(perBatch.map((r) => r[k]), 0, `${label} output ${k}`));
  setOutputs(values, step.outputs, outputs, label);
}
