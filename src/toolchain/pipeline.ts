// The lowering pipeline, listed in one place: MLIR on tensors → (scheduled)
// tiles and vectors → fused elementwise ops → bufferized loops → LLVM dialect → LLVM IR → optimised
// object → shared library. Ops with a transform-dialect schedule
// (src/codegen/schedules) are tiled, vectorized and, with threads > 1,
// parallelized with OpenMP; everything else takes the plain loops path.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir, cp } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { returnUnreshaped } from '../codegen/result-reshapes.js';
import { PACKED_ATTR } from '../codegen/schedules/ir-scan.js';
import { EPILOGUE_PREPARE_PASSES, rewriteConvs, scheduleOps, vectorTarget, type ConvStage, type ScheduledModule } from '../codegen/schedules/index.js';
import { Toolchain, ToolchainError, type ToolName, type ToolRun } from './tools.js';
import { needsSupport, SUPPORT_LLVM_IR } from './runtime-support.js';
import { POOL_LLVM_IR } from './buffer-pool.js';
import { distinctReturnOperands, mayRepeatResults } from './distinct-results.js';
import { FORK_JOIN_LLVM_IR } from './fork-join-ir.js';
import { chooseOpenmpRuntime, forkJoinTarget, keepsToForkJoinAbi, openmpAvailable } from './openmp-runtime.js';
import { TaskSlots, settle, valueOf, type Settled } from './task-slots.js';

export interface TargetOptions {
  /** LLVM CPU name; 'host' compiles for this machine. */
  cpu: string;
  features: string;
  optLevel: number;
  extraFlags: { mlirOpt: string[]; opt: string[]; llc: string[] };
  /** Threads compiled code may use (OpenMP); default 1. */
  threads?: number;
  /** Apply transform-dialect schedules (default true; false = plain loops, for A/B checks). */
  schedules?: boolean;
  /** Winograd's form for 3×3 convolutions (default true; schedules/conv-winograd.ts). */
  winograd?: boolean;
}

/** Normalizes the IR (mlir-opt's printed form) so that schedules can find ops by name and shape. */
export const PREPARE_PASSES: readonly string[] = [
  '--canonicalize',
  '--cse',
];

/**
 * Elementwise fusion runs after the schedules: before, it would propagate
 * reshapes into named matmuls (generalizing them out of the schedules' reach)
 * and fuse elementwise producers into contractions (recomputing them once
 * per output column). Scheduled contractions are vector ops by now.
 */
const FUSE_PASSES: readonly string[] = [
  '--linalg-fuse-elementwise-ops',
  // A zero pad of an elementwise result: the result is computed into the
  // padded buffer's interior instead of copied there (upstream
  // populateFuseTensorPadWithProducerLinalgOpPatterns, under a test- name).
  '--test-linalg-pad-fusion',
  '--canonicalize',
  '--cse',
];

const BUFFERIZE_PASSES: readonly string[] = [
  // A forall tile whose init canonicalization turned into a fresh tensor.empty is computed into
  // the shared output's slice, not into a temporary copied there by parallel_insert_slice
  // (det at 2 threads: 11 of 15 copies of its first unit).
  '--eliminate-empty-tensors',
  '--one-shot-bufferize=bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map',
  // A tile written in place comes back as a copy between two equal subviews of one buffer
  // (a memmove onto itself per tile); once CSE makes them one value, canonicalization drops it.
  '--cse',
  // Tiled loops return their buffer through memref iter_args; folding those
  // makes the returned value the allocation itself, which the next pass then
  // replaces by the caller's output buffer (no result copy).
  '--canonicalize',
  '--buffer-results-to-out-params=hoist-static-allocs modify-public-functions',
  '--buffer-deallocation-pipeline',
  // Folds subviews into the scheduled kernels' vector loads and stores.
  // Before the linalg → loops conversion, not after: on the scalar loops it
  // would fold reshapes into loads as floordiv/mod index arithmetic, which
  // LLVM vectorizes as gathers (a flattened view of a 4-D buffer cost ~4x);
  // expand-strided-metadata keeps those linear.
  '--fold-memref-alias-ops',
  '--convert-linalg-to-loops',
  '--convert-vector-to-scf=full-unroll=true',
];

/**
 * f32 transcendental functions (exp, tanh, erf, log, sin, ...) become MLIR's
 * polynomial approximations (arith + math.fma/floor) instead of libm calls,
 * so loops over them vectorize (a call to expf does not). The pass ships
 * under a test- name but is the upstream pattern set
 * (populateMathPolynomialApproximationPatterns); the approximations are
 * within a few ulp and handle inf/NaN.
 */
const MATH_APPROXIMATION_PASSES: readonly string[] = ['--test-math-polynomial-approximation'];

/**
 * Truncation to bf16 as integer arithmetic (round to nearest even, NaN kept
 * a NaN). Without AVX512-BF16 LLVM lowers it to a call of __truncsfbf2,
 * which neither the library nor the process provides: on a Zen 3 host the
 * library of any unit casting to bf16 failed to load (the support object
 * defines it too, for the backend's own calls: runtime-support.ts). Only for units that
 * use bf16: the pass also expands other arith ops (maximumf, minimumf, ...)
 * into compare-and-select.
 */
const BF16_EXPAND_PASSES: readonly string[] = ['--arith-expand=include-bf16=true'];

/** Whether a unit's MLIR uses bf16 (and so needs BF16_EXPAND_PASSES). */
export function usesBf16(mlir: string): boolean {
  return /\bbf16\b/.test(mlir);
}

const TO_LLVM_PASSES: readonly string[] = [
  ...MATH_APPROXIMATION_PASSES,
  '--canonicalize',
  '--lower-affine',
  '--convert-scf-to-cf',
  '--expand-strided-metadata',
  '--lower-affine',
  '--convert-vector-to-llvm',
  '--convert-ub-to-llvm',
  '--convert-math-to-llvm',
  '--convert-math-to-libm',
  '--convert-arith-to-llvm',
  // Allocations call the library's buffer pool (buffer-pool.ts), not malloc.
  '--finalize-memref-to-llvm=use-generic-functions=1 use-aligned-alloc=1',
  '--convert-func-to-llvm=use-bare-ptr-memref-call-conv=1',
];

const FINAL_PASSES: readonly string[] = ['--convert-cf-to-llvm', '--reconcile-unrealized-casts'];

/**
 * mlir-opt passes after PREPARE_PASSES that end at tensors: the schedule
 * (`schedule` is the transform library file) and elementwise fusion.
 */
export function fusePasses(schedule: string | null): string[] {
  return [
    ...(schedule ? [`--transform-preload-library=transform-library-paths=${schedule}`, '--transform-interpreter', '--canonicalize', '--cse'] : []),
    ...FUSE_PASSES,
  ];
}

/**
 * mlir-opt passes from bufferization down to the LLVM dialect with the
 * bare-pointer ABI (`void fn(ptr in..., ptr weight..., ptr out...)`).
 * `threads` > 1 maps scf.forall loops to OpenMP, otherwise they become
 * sequential loops.
 */
export function bufferizePasses(threads: number, bf16 = false): string[] {
  const parallel = threads > 1;
  return [
    ...BUFFERIZE_PASSES,
    ...(parallel ? ['--scf-forall-to-parallel', `--convert-scf-to-openmp=num-threads=${threads}`] : ['--scf-forall-to-for']),
    ...(bf16 ? BF16_EXPAND_PASSES : []),
    ...TO_LLVM_PASSES,
    // After func-to-llvm: the OpenMP conversion would otherwise rewrite function signatures (no bare pointers).
    ...(parallel ? ['--convert-openmp-to-llvm'] : []),
    ...FINAL_PASSES,
  ];
}

/** PACKED_ATTR as a whole word in a regular expression. */
const PACKED_ATTR_PATTERN = `\\b${PACKED_ATTR.replace('.', '\\.')}\\b`;

/**
 * Ops some schedule handles (named contractions and convolutions, packed-weight
 * matmuls: import/packed-matmul.ts); units without any skip the extra prepare step.
 */
const SCHEDULED_OPS = new RegExp(`\\blinalg\\.(matmul|batch_matmul|conv_2d_nchw_fchw)\\b|${PACKED_ATTR_PATTERN}`);

export function targetTriple(): string {
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  return `${arch}-unknown-linux-gnu`;
}

function cpuFlag(cpu: string): string {
  return `-mcpu=${cpu === 'host' ? 'native' : cpu}`;
}

function targetFlags(t: TargetOptions): string[] {
  const flags = [`-mtriple=${targetTriple()}`, cpuFlag(t.cpu)];
  if (t.features) flags.push(`-mattr=${t.features}`);
  return flags;
}

export interface CompileUnit {
  /** File-name-safe id (e.g. p0). */
  id: string;
  mlir: string;
}

export interface UnitFailure {
  id: string;
  error: ToolchainError;
  /** The failing unit's input MLIR and the exact commands run, for a reproducer. */
  mlir: string;
  commands: string[];
}

export interface CompileResult {
  /** null when every unit failed. */
  library: Uint8Array | null;
  failures: UnitFailure[];
  runs: ToolRun[];
  /** Per unit: the schedules applied, and schedules that failed (the unit then compiled unscheduled). */
  notes: string[];
  /** Whether the ExtraIr (if any) is in the library. */
  extraLinked: boolean;
  /** Ids of the linked units whose code has loops run on several threads. */
  parallelUnits: ReadonlySet<string>;
}

/** Where intermediates of every compile go (ORT_MLIR_DUMP_DIR), if anywhere. */
function dumpDir(): string | null {
  return process.env.ORT_MLIR_DUMP_DIR || null;
}

function commandLine(tc: Toolchain, tool: ToolName, argv: readonly string[]): string {
  return [tc.path(tool), ...argv].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

interface UnitOutput {
  object: string;
  /** The optimised LLVM IR file (read to see which support and OpenMP symbols it calls). */
  ir: string;
  parallel: boolean;
}

interface UnitContext {
  tc: Toolchain;
  t: TargetOptions;
  dir: string;
  threads: number;
  runs: ToolRun[];
  notes: string[];
}

async function compileUnit(c: UnitContext, u: CompileUnit, commands: string[]): Promise<UnitOutput> {
  const { tc, t, dir } = c;
  const f = (ext: string) => join(dir, `${u.id}.${ext}`);
  await writeFile(f('input.mlir'), u.mlir);
  const step = async (tool: ToolName, argv: string[]) => {
    commands.push(commandLine(tc, tool, argv));
    c.runs.push(await tc.run(tool, argv));
  };
  // Prepared separately (else within the lowering run) when CSE may merge results.
  if (mayRepeatResults(u.mlir)) await prepareUnit(f, step);
  const scheduled = await scheduleUnit(c, u, f, step);
  // Two runs: the results' reshapes are dropped in between, at tensors, after fusion made its last ones.
  const lower = async (input: string[], schedule: string | null, threads: number) => {
    await step('mlir-opt', [...input, ...fusePasses(schedule), '-o', f('fused.mlir')]);
    const fused = await readFile(f('fused.mlir'), 'utf8');
    const direct = returnUnreshaped(fused.split('\n')).join('\n');
    if (direct !== fused) await writeFile(f('fused.mlir'), direct);
    await step('mlir-opt', [f('fused.mlir'), ...bufferizePasses(threads, usesBf16(u.mlir)), ...t.extraFlags.mlirOpt, '-o', f('llvm.mlir')]);
  };
  // The OpenMP team size the unit was lowered for: 1 unless a scheduled loop runs on several threads.
  let team = 1;
  if (scheduled) {
    try {
      const threads = scheduled.parallel ? c.threads : 1;
      await lower([f('sched.input.mlir')], scheduled.transform === null ? null : f('transform.mlir'), threads);
      team = threads;
      c.notes.push(...scheduled.summary.map((s) => `${u.id}: ${s}`));
    } catch (e) {
      // A schedule is an optimisation: if it does not apply, the unit still compiles unscheduled.
      if (!(e instanceof ToolchainError)) throw e;
      c.notes.push(`${u.id}: schedule failed, compiled without it: ${e.message.split('\n')[0]}`);
      await lower([f('prepared.mlir')], null, 1);
    }
  } else {
    const input = existsSync(f('prepared.mlir')) ? [f('prepared.mlir')] : [f('input.mlir'), ...PREPARE_PASSES];
    await lower(input, null, 1);
  }
  await step('mlir-translate', ['--mlir-to-llvmir', f('llvm.mlir'), '-o', f('ll')]);
  await writeFile(f('ll'), markPoolAllocators(await readFile(f('ll'), 'utf8')));
  const o = `-O${t.optLevel}`;
  await step('opt', [o, ...targetFlags(t), ...unrollFlags(t.extraFlags.opt), ...t.extraFlags.opt, f('ll'), '-S', '-o', f('opt.ll')]);
  if (dumpDir()) await step('llc', [o, ...targetFlags(t), '-relocation-model=pic', f('opt.ll'), '-o', f('s')]);
  await step('llc', [o, ...targetFlags(t), '-relocation-model=pic', '-filetype=obj', ...t.extraFlags.llc, f('opt.ll'), '-o', f('o')]);
  return { object: f('o'), ir: f('opt.ll'), parallel: team > 1 };
}

/**
 * LLVM's loop unroller's size budget at -O2/-O3 (300 by default). The
 * schedules unroll their kernels already (register tiles, vector.contract
 * unrolled to FMAs); LLVM's unroller mostly copied the scalar and epilogue
 * loops around them, tripling det's head in size: its opt and llc took
 * 4.7 s at the default and 1.4 s at this budget.
 */
const UNROLL_THRESHOLD = 50;

/** The unroll budget, unless the user's extra opt flags set their own (LLVM takes an option once). */
export function unrollFlags(extra: readonly string[]): string[] {
  return extra.some((f) => f.includes('unroll-threshold')) ? [] : [`-unroll-threshold=${UNROLL_THRESHOLD}`];
}

/**
 * Declares the pool's allocation function like malloc (a fresh block that
 * aliases nothing): without it LLVM must assume that a temporary may alias
 * any other buffer, and keeps loop-invariant loads in loops and vectorizes
 * behind runtime alias checks or not at all.
 */
export function markPoolAllocators(ir: string): string {
  return ir.replace(/^declare ptr @(_mlir_memref_to_llvm_(?:aligned_)?alloc)\(/gm, 'declare noalias ptr @$1(');
}

/** Runs the prepare passes once into prepared.mlir (returns must stay distinct buffers) and returns its text. */
async function prepareUnit(f: (ext: string) => string, step: (tool: ToolName, argv: string[]) => Promise<void>): Promise<string> {
  if (!existsSync(f('prepared.mlir'))) {
    await step('mlir-opt', [f('input.mlir'), ...PREPARE_PASSES, '-o', f('prepared.mlir')]);
    await writeFile(f('prepared.mlir'), distinctReturnOperands(await readFile(f('prepared.mlir'), 'utf8')));
  }
  return readFile(f('prepared.mlir'), 'utf8');
}

/** Prepares the unit and writes its schedule (sched.input.mlir + transform.mlir); null when it has none. */
async function scheduleUnit(
  c: UnitContext,
  u: CompileUnit,
  f: (ext: string) => string,
  step: (tool: ToolName, argv: string[]) => Promise<void>,
): Promise<ScheduledModule | null> {
  // With threads, large generics get a parallel schedule too (schedules/parallel-generic.ts).
  // A zero pad may be a depthwise convolution's, computed in channel blocks (schedules/depthwise-blocks.ts).
  // A reduction may sum in vector lanes (schedules/reduction.ts).
  const work = SCHEDULED_OPS.test(u.mlir) || (GENERIC.test(u.mlir) && (c.threads > 1 || PAD.test(u.mlir) || REDUCTION.test(u.mlir)));
  if (c.t.schedules === false || !work) return null;
  const prepared = await prepareUnit(f, step);
  const ctx = { target: vectorTarget(c.t.cpu, c.t.features), threads: c.threads, winograd: c.t.winograd !== false };
  const scheduled = scheduleOps(await prepareEpilogues(rewriteConvs(prepared, ctx), c.threads, f, step), ctx);
  if (!scheduled) return null;
  await writeFile(f('sched.input.mlir'), scheduled.mlir);
  if (scheduled.transform !== null) await writeFile(f('transform.mlir'), scheduled.transform);
  return scheduled;
}

/** A matmul outside chunk loops (those carry attributes) and some generic: an epilogue may be fused (schedules/epilogue.ts). */
const UNNESTED_MATMUL = new RegExp(`linalg\\.(batch_)?matmul ins\\(|${PACKED_ATTR_PATTERN}`);
const GENERIC = /= linalg\.generic /;
const PAD = /= tensor\.pad /;
const REDUCTION = /iterator_types = \[[^\]]*"reduction"/;

/**
 * Runs EPILOGUE_PREPARE_PASSES when they may help (an epilogue to fuse, or
 * generics to run on several threads, which should be fused first); on a
 * tool failure the stage is scheduled as it is.
 */
async function prepareEpilogues(stage: ConvStage, threads: number, f: (ext: string) => string, step: (tool: ToolName, argv: string[]) => Promise<void>): Promise<ConvStage> {
  const helps = GENERIC.test(stage.mlir) && (threads > 1 || UNNESTED_MATMUL.test(stage.mlir) || PAD.test(stage.mlir));
  if (!helps) return stage;
  await writeFile(f('convs.mlir'), stage.mlir);
  try {
    await step('mlir-opt', [f('convs.mlir'), ...EPILOGUE_PREPARE_PASSES, '-o', f('epilogues.mlir')]);
  } catch (e) {
    if (!(e instanceof ToolchainError)) throw e;
    return stage;
  }
  return { ...stage, mlir: await readFile(f('epilogues.mlir'), 'utf8') };
}

/**
 * LLVM IR linked in after the units compiled, given the ids of those that
 * succeeded (the sequence drivers that call them); null for none.
 */
export type ExtraIr = (succeeded: ReadonlySet<string>) => string | null;

interface UnitOutcome {
  u: CompileUnit;
  out?: UnitOutput;
  error?: ToolchainError;
  commands: string[];
}

/**
 * The hand-written runtime objects a library may link, compiled while the
 * units compile: queued behind them, they fill the core that the last units
 * leave idle instead of running one after another once all are done (det:
 * 0.3 s at the end of every compile). The pool is always linked; support code
 * and the fork-join runtime are queued once the first unit whose IR calls
 * them has compiled.
 */
class RuntimeObjects {
  private readonly queued = new Map<string, Promise<Settled<string>>>();

  constructor(private readonly c: UnitContext, private readonly slots: TaskSlots) {}

  /** Queues `o`'s compile (once) behind what is queued now. */
  queue(o: RuntimeObject): void {
    if (!this.queued.has(o.name)) this.queued.set(o.name, settle(this.slots.run(() => compileIr(this.c, o.name, o.ir))));
  }

  /** Queues what a compiled unit's optimised IR will need linked. */
  noteUnit(ir: string, parallel: boolean): void {
    if (!this.has(SUPPORT_OBJECT) && needsSupport(ir)) this.queue(SUPPORT_OBJECT);
    if (!this.has(FORK_JOIN_OBJECT) && parallel && forkJoinTarget() && keepsToForkJoinAbi(ir)) this.queue(FORK_JOIN_OBJECT);
  }

  /** Whether `o` is queued (noteUnit found a unit that needs it). */
  has(o: RuntimeObject): boolean {
    return this.queued.has(o.name);
  }

  /** `o`'s object file: the queued compile's, else compiled now. */
  object(o: RuntimeObject): Promise<string> {
    const queued = this.queued.get(o.name);
    return queued ? valueOf(queued) : compileIr(this.c, o.name, o.ir);
  }

  /** Settles when every queued compile has (an early end must not leave one rejecting unhandled). */
  async settled(): Promise<void> {
    await Promise.all(this.queued.values());
  }
}

interface RuntimeObject {
  name: string;
  ir: string;
}

const POOL_OBJECT: RuntimeObject = { name: 'ortmlir_pool', ir: POOL_LLVM_IR };
const SUPPORT_OBJECT: RuntimeObject = { name: 'ortmlir_support', ir: SUPPORT_LLVM_IR };
const FORK_JOIN_OBJECT: RuntimeObject = { name: 'ortmlir_fork_join', ir: FORK_JOIN_LLVM_IR };

/**
 * Compiles units in parallel and links the ones that succeeded into one shared
 * library; a failing unit is reported, not fatal, so its partition can fall back.
 */
export async function compileToLibrary(tc: Toolchain, t: TargetOptions, units: readonly CompileUnit[], label: string, extra?: ExtraIr): Promise<CompileResult> {
  const dir = await mkdtemp(join(tmpdir(), 'ort-mlir-'));
  const c: UnitContext = { tc, t, dir, threads: openmpAvailable(tc.home) ? Math.max(1, t.threads ?? 1) : 1, runs: [], notes: [] };
  const slots = new TaskSlots(availableParallelism());
  const runtime = new RuntimeObjects(c, slots);
  // Tool servers pay off from a compile's later runs when it has several units, else from the process's next compile.
  if (units.length > 1) tc.serveTools();
  try {
    // One unit per core at a time, the largest started first: the last unit to start bounds the compile.
    const settled = new Array<UnitOutcome>(units.length);
    // Each built unit's optimised IR, read once: the support check reads every one, the OpenMP runtime choice the parallel ones'.
    const unitIrs = new Array<string | null>(units.length).fill(null);
    const started = largestFirst(units).map(async (i) => {
      const r = await slots.run(() => compileOrFail(c, units[i]));
      settled[i] = r;
      if (r.out) {
        unitIrs[i] = await readFile(r.out.ir, 'utf8');
        runtime.noteUnit(unitIrs[i], r.out.parallel);
      }
    });
    // Every library links the pool: queued once every unit is, so that it comes behind them.
    runtime.queue(POOL_OBJECT);
    await Promise.all(started);
    const failures: UnitFailure[] = [];
    const objects: string[] = [];
    const parallelIr: string[] = [];
    const parallelUnits = new Set<string>();
    settled.forEach((r, i) => {
      const ir = unitIrs[i];
      if (r.error) failures.push({ id: r.u.id, error: r.error, mlir: r.u.mlir, commands: r.commands });
      else if (r.out && ir !== null) {
        objects.push(r.out.object);
        if (r.out.parallel) {
          parallelIr.push(ir);
          parallelUnits.add(r.u.id);
        }
      }
    });
    const ir = objects.length && extra ? extra(new Set(settled.flatMap((r) => (r.out ? [r.u.id] : [])))) : null;
    let extraLinked = false;
    if (ir) {
      try {
        objects.push(await compileIr(c, 'ortmlir_extra', ir));
        extraLinked = true;
      } catch (e) {
        if (!(e instanceof ToolchainError)) throw e;
        c.notes.push(`extra IR failed to compile, linked without it: ${e.message.split('\n')[0]}`);
      }
    }
    let library: Uint8Array | null = null;
    if (objects.length) {
      if (runtime.has(SUPPORT_OBJECT)) objects.push(await runtime.object(SUPPORT_OBJECT));
      // Units and drivers allocate through the pool; an unused copy costs a few hundred bytes.
      objects.push(await runtime.object(POOL_OBJECT));
      const lib = join(dir, 'module.so');
      const omp = parallelIr.length ? await linkOpenmp(c, parallelIr, runtime, objects) : [];
      c.runs.push(await tc.run('ld.lld', ['-shared', '-o', lib, ...objects, ...omp]));
      library = new Uint8Array(await readFile(lib));
    }
    return { library, failures, runs: c.runs, notes: c.notes, extraLinked, parallelUnits };
  } finally {
    tc.serveTools();
    await runtime.settled();
    await dumpIntermediates(dir, label, c.notes);
    if (!process.env.ORT_MLIR_KEEP_WORKDIR) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A unit compiled, or its toolchain failure (reported, so that its partition falls back). */
async function compileOrFail(c: UnitContext, u: CompileUnit): Promise<UnitOutcome> {
  const commands: string[] = [];
  try {
    return { u, out: await compileUnit(c, u, commands), commands };
  } catch (e) {
    if (!(e instanceof ToolchainError)) throw e;
    return { u, error: e, commands };
  }
}

/**
 * What a convolution adds to a unit's compile time, in characters of MLIR:
 * its schedule's kernels are many times its one line of input. A 3×3 one
 * also becomes Winograd's transforms and a batch of small matmuls
 * (schedules/conv-winograd.ts). Fitted to det's units at two threads (tool
 * time ≈ 15 ms per KB of MLIR + 70 ms per convolution + 0.6 s per 3×3 one);
 * at half this 3×3 cost its head unit started second and compiled alone for
 * the last 1.8 s.
 */
const CONV_COMPILE_CHARS = 4_000;
const CONV3X3_COMPILE_CHARS = 40_000;
const CONV_OP = /linalg\.conv_2d_nchw_fchw\b.*$/gm;
const FILTER_3X3 = /x3x3x[a-z]+\d+>/;

/** A unit's expected compile time, in characters of plain MLIR. */
export function compileCost(mlir: string): number {
  let cost = mlir.length;
  for (const [line] of mlir.matchAll(CONV_OP)) cost += FILTER_3X3.test(line) ? CONV3X3_COMPILE_CHARS : CONV_COMPILE_CHARS;
  return cost;
}

/**
 * The order to start units in: by decreasing expected compile time, since
 * the last unit to start bounds the compile. det's head (four 3×3
 * convolutions in Winograd's form: 3.7 s of tool time against 1.2 – 1.9 s
 * for its other units) started third by MLIR size alone.
 */
function largestFirst(units: readonly CompileUnit[]): number[] {
  const costs = units.map((u) => compileCost(u.mlir));
  return units.map((_, i) => i).sort((x, y) => costs[y] - costs[x]);
}

/**
 * Links parallel units' runtime: adds the fork-join object to `objects`, or
 * returns the linker flags of libomp when some unit needs more of its ABI.
 */
async function linkOpenmp(c: UnitContext, irs: readonly string[], runtimeObjects: RuntimeObjects, objects: string[]): Promise<string[]> {
  const runtime = chooseOpenmpRuntime(irs, c.tc.home);
  if (runtime?.kind === 'fork-join') {
    objects.push(await runtimeObjects.object(FORK_JOIN_OBJECT));
    return [];
  }
  if (runtime?.kind === 'libomp') return [`-L${runtime.dir}`, '-lomp', '-rpath', runtime.dir];
  throw new ToolchainError(`parallel loops call OpenMP functions that the fork-join runtime does not implement, and ${c.tc.home}/lib has no libomp.so`, 'ld.lld');
}

/** LLVM IR text → object file (llc only: hand-written IR needs no opt). */
async function compileIr(c: UnitContext, name: string, ir: string): Promise<string> {
  const ll = join(c.dir, `${name}.ll`);
  const obj = join(c.dir, `${name}.o`);
  await writeFile(ll, ir);
  c.runs.push(await c.tc.run('llc', [`-O${c.t.optLevel}`, ...targetFlags(c.t), '-relocation-model=pic', '-filetype=obj', ll, '-o', obj]));
  return obj;
}

/**
 * Copies the work directory, with the schedule chosen for each unit (and schedule failures) in notes.txt.
 * Units compile concurrently, so the notes arrive in finishing order; they are written by unit
 * (stably, keeping each unit's own order), so that two dumps of one model can be diffed.
 */
async function dumpIntermediates(dir: string, label: string, notes: readonly string[]): Promise<void> {
  const target = dumpDir();
  if (!target) return;
  const dest = join(target, label);
  await mkdir(dest, { recursive: true });
  await cp(dir, dest, { recursive: true });
  await writeFile(join(dest, 'notes.txt'), byUnit(notes).map((n) => `${n}\n`).join(''));
}

/** Notes ordered by the unit id before their first colon, numbers by value (`ortmlir_p2` before `ortmlir_p10`). */
export function byUnit(notes: readonly string[]): string[] {
  const unit = (n: string) => n.slice(0, Math.max(0, n.indexOf(':')));
  return [...notes].sort((a, b) => unit(a).localeCompare(unit(b), 'en', { numeric: true }));
}
