// `ort-mlir perf MODEL`: the same random inputs through onnxruntime-node's
// CPU EP and through the mlir EP, both via onnxruntime's InferenceSession API
// with the same thread count, in one process, runs strictly alternating
// (each side's run follows one of the other's, so each finds its caches as
// the other left them; with several threads after an idle gap, see
// MULTI_THREAD_GAP_MS). Prints the median latency of each and the ratio
// ours/ORT (< 1 = we are faster).
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../onnx/decode.js';
import type { OnnxValueInfo } from '../onnx/model.js';
import { register } from '../index.js';
import { MAX_THREADS } from '../ep/options.js';
import { hostToOrt, ortToHost } from '../ep/ort-tensor.js';
import { formatOptions, parseArgs, type OptionSpecs } from './args.js';
import { compareTensors, DEFAULT_ATOL, DEFAULT_RTOL } from './compare.js';
import { NO_WINOGRAD_OPTION } from './compile-command.js';
import { CliError } from './errors.js';
import type { CliIo } from './io.js';
import { randomTensor, seededRandom } from './run-command.js';

/**
 * Idle time before each timed run with several threads (PerfOptions.gapMs),
 * in `ort-mlir perf` and scripts/bench.mjs, so that neither EP's spinning
 * pool threads slow the other: onnxruntime's intra-op threads spin for tens
 * of milliseconds after a run (MatMul 1024³ at 2 threads, ours right after
 * ORT: 29 ms; 20 ms later: 29 ms; 100 ms later: 20 ms; ORT without
 * spinning: 17 ms). One thread has no pools.
 */
export const MULTI_THREAD_GAP_MS = 100;

export const PERF_OPTIONS: OptionSpecs = {
  threads: { kind: 'integer', short: 't', valueName: 'N', description: 'intra-op threads of both EPs (default: 1)' },
  runs: { kind: 'integer', short: 'n', valueName: 'N', description: 'timed runs of each EP (default: 50)' },
  warmup: { kind: 'integer', valueName: 'N', description: 'untimed runs of each EP first (default: 5)' },
  'warmup-ms': { kind: 'integer', valueName: 'MS', description: 'and untimed runs until both ran this long (default: 1000)' },
  dim: { kind: 'list', short: 'd', valueName: 'NAME=VALUE', description: 'value of a symbolic dimension (default: 1; repeatable)' },
  seed: { kind: 'integer', valueName: 'N', description: 'seed of the random inputs (default: 0)' },
  gap: { kind: 'integer', valueName: 'MS', description: `idle time before each timed run (default: ${MULTI_THREAD_GAP_MS} with several threads, else 0)` },
  block: { kind: 'integer', valueName: 'N', description: "each EP's turn is N back-to-back runs, the gap before the first (default: 1)" },
  cache: { kind: 'boolean', description: "use the mlir EP's compile cache (default: compile afresh)" },
  'no-winograd': NO_WINOGRAD_OPTION,
  help: { kind: 'boolean', short: 'h', description: 'show this help' },
};

export const PERF_USAGE = `usage: ort-mlir perf MODEL [options]

Runs MODEL on onnxruntime-node's CPU EP and on the mlir EP with the same
random inputs and thread count, alternating, and prints the median latency of
each, the ratio ours/ORT (below 1 = mlir is faster) and whether the outputs
agree (rtol ${DEFAULT_RTOL}, atol ${DEFAULT_ATOL}).

Options:
${formatOptions(PERF_OPTIONS)}`;

const EXIT_OK = 0;
const DEFAULT_RUNS = 50;
const DEFAULT_WARMUP = 5;
/** Warm-up time of `ort-mlir perf` and of scripts/bench.mjs (PerfOptions.warmupMs). */
export const DEFAULT_WARMUP_MS = 1000;
const MAX_RUNS = 1_000_000;
const MAX_GAP_MS = 60_000;

export interface PerfOptions {
  threads: number;
  runs: number;
  warmup: number;
  /**
   * Warm-up continues until both EPs have also run for this long (default 0):
   * V8 compiles a run's JavaScript path (ours and onnxruntime-node's glue)
   * only after many calls, so a few warm-up runs of a millisecond model
   * still time interpreted code (cls at one thread: ratio 0.81 after 3
   * warm-up runs, 0.78 after 500).
   */
  warmupMs?: number;
  /** Extra mlir EP options (threads is set from `threads`). */
  mlirOptions?: Record<string, unknown>;
  /** Symbolic dimension values for both sessions, so that ours compiles at creation. */
  freeDimensionOverrides?: Record<string, number>;
  /**
   * Idle milliseconds before each timed run (default 0). Both EPs' thread
   * pools spin for a while after a run (ORT's by default, OpenMP's for
   * KMP_BLOCKTIME); back to back, the one that just ran steals a core from
   * the other's parallel loops, which a real application does not see.
   */
  gapMs?: number;
  /**
   * Consecutive runs of one EP before the other's turn (default 1): the
   * gap comes before each block, so runs after the first of a block see
   * that EP's steady state (its threads awake), as back-to-back inference does.
   */
  block?: number;
}

export interface PerfResult {
  oursMs: number;
  ortMs: number;
  /** Median ours / median ORT. */
  ratio: number;
  /** Median process CPU time per run (all threads; includes other threads' spinning). */
  oursCpuMs: number;
  ortCpuMs: number;
  /** Milliseconds to create each session (ours includes compiling). */
  oursCreateMs: number;
  ortCreateMs: number;
  compiledNodes: number;
  totalNodes: number;
  /** null when every output agreed within tolerance; otherwise what differed. */
  mismatch: string | null;
}

type Feeds = Record<string, ort.Tensor>;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
}

interface Sample {
  wallMs: number;
  /** Process CPU time (user + system, all threads) during the run. */
  cpuMs: number;
}

const US_PER_MS = 1000;

/** One run's wall and CPU time; CPU time is steadier than wall time on a loaded machine. */
async function sample(f: () => Promise<unknown>, gapMs = 0): Promise<Sample> {
  if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
  const c0 = process.cpuUsage();
  const [, wallMs] = await timed(f);
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / US_PER_MS };
}

function mismatchOf(ours: ort.InferenceSession.ReturnType, ref: ort.InferenceSession.ReturnType): string | null {
  for (const [name, expected] of Object.entries(ref)) {
    const actual = ours[name];
    if (!(actual instanceof ort.Tensor) || !(expected instanceof ort.Tensor)) return `output '${name}' missing or not a tensor`;
    const r = compareTensors(ortToHost(actual), ortToHost(expected), { atol: DEFAULT_ATOL, rtol: DEFAULT_RTOL, postProcessing: false });
    if (r.status !== 'success') return `output '${name}': ${r.message}`;
  }
  return null;
}

/** Creates both sessions, checks outputs agree, then times `runs` alternating rounds. */
export async function comparePerf(model: Uint8Array, feeds: Feeds, o: PerfOptions): Promise<PerfResult> {
  register(ort);
  const common = { intraOpNumThreads: o.threads, ...(o.freeDimensionOverrides ? { freeDimensionOverrides: o.freeDimensionOverrides } : {}) };
  const [ref, ortCreateMs] = await timed(() => ort.InferenceSession.create(model, { ...common, executionProviders: ['cpu'] }));
  const mlirEp = { name: 'mlir', cacheDir: '', ...o.mlirOptions, threads: o.threads };
  const [ours, oursCreateMs] = await timed(() => ort.InferenceSession.create(model, { ...common, executionProviders: [mlirEp] }));
  try {
    const mismatch = mismatchOf(await ours.run(feeds), await ref.run(feeds));
    const warmUntil = performance.now() + (o.warmupMs ?? 0);
    for (let i = 0; i < o.warmup || performance.now() < warmUntil; i++) {
      await ours.run(feeds);
      await ref.run(feeds);
    }
    const tOurs: Sample[] = [];
    const tOrt: Sample[] = [];
    const block = Math.max(1, o.block ?? 1);
    const turn = async (run: () => Promise<unknown>, into: Sample[], left: number) => {
      for (let j = 0; j < Math.min(block, left); j++) into.push(await sample(run, j === 0 ? o.gapMs : 0));
    };
    // Strictly alternating turns. Flipping the order every round (as this did
    // before) gave each side runs after its own turn too: two populations, warm
    // and cold (cls at one thread: 0.60 and 0.75 ms), whose median jumped
    // between them from one run of the bench to the next (ratio 0.73 – 0.92).
    while (tOurs.length < o.runs) {
      const left = o.runs - tOurs.length;
      await turn(() => ours.run(feeds), tOurs, left);
      await turn(() => ref.run(feeds), tOrt, left);
    }
    const oursMs = median(tOurs.map((t) => t.wallMs));
    const ortMs = median(tOrt.map((t) => t.wallMs));
    const oursCpuMs = median(tOurs.map((t) => t.cpuMs));
    const ortCpuMs = median(tOrt.map((t) => t.cpuMs));
    const report = sessionReport(ours);
    return { oursMs, ortMs, ratio: oursMs / ortMs, oursCpuMs, ortCpuMs, oursCreateMs, ortCreateMs, ...report, mismatch };
  } finally {
    await ours.release();
    await ref.release();
  }
}

/** Node counts of the mlir session, read through the backend's handler. */
function sessionReport(s: ort.InferenceSession): { compiledNodes: number; totalNodes: number } {
  const handler: unknown = Reflect.get(s, 'handler');
  const session: unknown = typeof handler === 'object' && handler !== null ? Reflect.get(handler, 'session') : null;
  const report: unknown = typeof session === 'object' && session !== null ? Reflect.apply(Reflect.get(session, 'report'), session, []) : null;
  const num = (k: string) => (typeof report === 'object' && report !== null && typeof Reflect.get(report, k) === 'number' ? Number(Reflect.get(report, k)) : -1);
  return { compiledNodes: num('compiledNodes'), totalNodes: num('totalNodes') };
}

function dimsOf(v: OnnxValueInfo, symbols: ReadonlyMap<string, number>): number[] {
  if (v.type.kind !== 'tensor') throw new CliError(`input '${v.name}' is a ${v.type.kind}; perf feeds tensors only`);
  return (v.type.shape ?? []).map((d) => (typeof d === 'number' ? d : d === null ? 1 : symbols.get(d) ?? 1));
}

/** Random feeds for every graph input that is not an initializer. */
export function randomFeeds(model: Uint8Array, symbols: ReadonlyMap<string, number> = new Map(), seed = 0): Feeds {
  const decoded = decodeModel(model);
  const inits = new Set(decoded.graph.initializers.map((t) => t.name));
  const rand = seededRandom(seed);
  const feeds: Feeds = {};
  for (const v of decoded.graph.inputs.filter((i) => !inits.has(i.name))) {
    if (v.type.kind !== 'tensor') throw new CliError(`input '${v.name}' is a ${v.type.kind}; perf feeds tensors only`);
    feeds[v.name] = hostToOrt(randomTensor(v.type.elemType, dimsOf(v, symbols), rand));
  }
  return feeds;
}

function parseDims(items: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of items) {
    const m = /^([^=]+)=(\d+)$/.exec(item);
    if (!m) throw new CliError(`--dim: expected NAME=VALUE with a non-negative integer, got '${item}'`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}

export function formatPerf(label: string, threads: number, r: PerfResult): string {
  const nodes = r.totalNodes >= 0 ? `${r.compiledNodes}/${r.totalNodes}` : '?';
  const check = r.mismatch === null ? 'ok' : `MISMATCH ${r.mismatch}`;
  return `${label}  threads=${threads}  ours=${r.oursMs.toFixed(3)} ms  ort=${r.ortMs.toFixed(3)} ms  ratio=${r.ratio.toFixed(3)}  compiled=${nodes}  compile=${Math.round(r.oursCreateMs)} ms  outputs=${check}`;
}

export async function perfCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, PERF_OPTIONS);
  if (args.flag('help')) {
    io.stdout(`${PERF_USAGE}\n`);
    return EXIT_OK;
  }
  const [modelPath, ...extra] = args.positionals;
  if (modelPath === undefined || extra.length > 0) throw new CliError(`perf: expected exactly one MODEL\n\n${PERF_USAGE}`);
  const model = new Uint8Array(await readFile(modelPath));
  const threads = args.integer('threads', 1, MAX_THREADS) ?? 1;
  const dims = parseDims(args.list('dim'));
  const opts: PerfOptions = {
    threads,
    runs: args.integer('runs', 1, MAX_RUNS) ?? DEFAULT_RUNS,
    warmup: args.integer('warmup', 0, MAX_RUNS) ?? DEFAULT_WARMUP,
    warmupMs: args.integer('warmup-ms', 0, MAX_RUNS) ?? DEFAULT_WARMUP_MS,
    gapMs: args.integer('gap', 0, MAX_GAP_MS) ?? (threads > 1 ? MULTI_THREAD_GAP_MS : 0),
    block: args.integer('block', 1, MAX_RUNS) ?? 1,
    mlirOptions: { ...(args.flag('cache') ? { cacheDir: undefined } : {}), ...(args.flag('no-winograd') ? { winograd: false } : {}) },
    // The session then compiles at creation (compile= is the compile time), not on the first run.
    freeDimensionOverrides: dims.size ? Object.fromEntries(dims) : undefined,
  };
  const feeds = randomFeeds(model, dims, args.integer('seed', 0) ?? 0);
  const r = await comparePerf(model, feeds, opts);
  io.stdout(`${formatPerf(modelPath, threads, r)}\n`);
  return EXIT_OK;
}
