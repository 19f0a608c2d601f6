// Provider options: the `{ name: 'mlir', ... }` entry of executionProviders,
// validated once at session creation so that a typo fails loudly.
import { availableParallelism } from 'node:os';

export type FallbackPolicy = 'cpu' | 'error';
export type Device = 'cpu';

export interface MlirProviderOptions {
  /** LLVM CPU name for code generation; 'host' (default) = the machine compiling. */
  targetCpu?: string;
  /** LLVM target features, e.g. '+avx2,+fma'. */
  targetFeatures?: string;
  /** 0..3, default 3. */
  optLevel?: number;
  /** Extra flags, appended to the named tool's command line. */
  compileFlags?: { mlirOpt?: string[]; llc?: string[]; opt?: string[] };
  /** Root of an LLVM/MLIR 22 install (has bin/mlir-opt). Env: ORT_MLIR_TOOLCHAIN_HOME. */
  toolchainHome?: string;
  /** Compile cache directory; '' disables the cache. Env: ORT_MLIR_CACHE_DIR. */
  cacheDir?: string;
  /** What to do with nodes or partitions that cannot be compiled. */
  fallback?: FallbackPolicy;
  device?: Device;
  /** Intra-op threads for compiled code; default: session's intraOpNumThreads, else all cores. */
  threads?: number;
  /** A precompiled module file (`ort-mlir compile`); runs with no toolchain present. */
  module?: string;
  /**
   * 3×3 stride-1 f32 convolutions by Winograd's F(4, 3) along rows (default
   * true): half the multiplies. Results differ from the direct sums by a few
   * times their rounding error (about 1e-6 of the largest output); false
   * keeps the direct forms.
   */
  winograd?: boolean;
}

export interface ResolvedOptions {
  targetCpu: string;
  targetFeatures: string;
  optLevel: number;
  compileFlags: { mlirOpt: string[]; llc: string[]; opt: string[] };
  toolchainHome: string;
  cacheDir: string;
  fallback: FallbackPolicy;
  device: Device;
  threads: number;
  module: string | null;
  winograd: boolean;
}

export class OptionsError extends Error {
  override name = 'OptionsError';
}

const DEFAULT_TOOLCHAIN_HOME = '/usr/lib/llvm-22';
const DEFAULT_OPT_LEVEL = 3;
const MAX_OPT_LEVEL = 3;
const KNOWN_KEYS = new Set([
  'name', 'targetCpu', 'targetFeatures', 'optLevel', 'compileFlags', 'toolchainHome',
  'cacheDir', 'fallback', 'device', 'threads', 'module', 'winograd',
]);

function expectString(key: string, v: unknown): string {
  if (typeof v !== 'string') throw new OptionsError(`mlir EP option '${key}': expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function expectInt(key: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new OptionsError(`mlir EP option '${key}': expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function expectBoolean(key: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new OptionsError(`mlir EP option '${key}': expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

function expectStringArray(key: string, v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw new OptionsError(`mlir EP option '${key}': expected an array of strings, got ${JSON.stringify(v)}`);
  }
  return v.map(String);
}

function resolveCompileFlags(v: unknown): ResolvedOptions['compileFlags'] {
  const flags = { mlirOpt: [] as string[], llc: [] as string[], opt: [] as string[] };
  if (v === undefined) return flags;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new OptionsError(`mlir EP option 'compileFlags': expected { mlirOpt?, opt?, llc? } arrays of strings`);
  }
  for (const [k, val] of Object.entries(v)) {
    if (k !== 'mlirOpt' && k !== 'llc' && k !== 'opt') {
      throw new OptionsError(`mlir EP option 'compileFlags.${k}': unknown tool; expected mlirOpt, opt or llc`);
    }
    flags[k] = expectStringArray(`compileFlags.${k}`, val);
  }
  return flags;
}

function oneOf<T extends string>(key: string, v: unknown, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === v);
  if (found === undefined) {
    throw new OptionsError(`mlir EP option '${key}': expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return found;
}

export function defaultThreads(): number {
  const fromEnv = Number(process.env.ORT_MLIR_THREADS ?? 0);
  // availableParallelism respects affinity limits, unlike cpus().length.
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : availableParallelism();
}

/** Validates raw EP options (as given to InferenceSession.create) and fills defaults. */
export function resolveOptions(raw: Record<string, unknown>, sessionThreads?: number): ResolvedOptions {
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key)) {
      throw new OptionsError(`mlir EP: unknown option '${key}'; known options: ${[...KNOWN_KEYS].filter((k) => k !== 'name').join(', ')}`);
    }
  }
  const env = process.env;
  return {
    targetCpu: raw.targetCpu === undefined ? 'host' : expectString('targetCpu', raw.targetCpu),
    targetFeatures: raw.targetFeatures === undefined ? '' : expectString('targetFeatures', raw.targetFeatures),
    optLevel: raw.optLevel === undefined ? DEFAULT_OPT_LEVEL : expectInt('optLevel', raw.optLevel, 0, MAX_OPT_LEVEL),
    compileFlags: resolveCompileFlags(raw.compileFlags),
    toolchainHome: raw.toolchainHome === undefined
      ? env.ORT_MLIR_TOOLCHAIN_HOME ?? DEFAULT_TOOLCHAIN_HOME
      : expectString('toolchainHome', raw.toolchainHome),
    cacheDir: raw.cacheDir === undefined ? env.ORT_MLIR_CACHE_DIR ?? defaultCacheDir() : expectString('cacheDir', raw.cacheDir),
    fallback: raw.fallback === undefined ? 'cpu' : oneOf('fallback', raw.fallback, ['cpu', 'error'] as const),
    device: raw.device === undefined ? 'cpu' : oneOf('device', raw.device, ['cpu'] as const),
    threads: raw.threads === undefined
      ? sessionThreads && sessionThreads > 0 ? sessionThreads : defaultThreads()
      : expectInt('threads', raw.threads, 1, MAX_THREADS),
    module: raw.module === undefined ? null : expectString('module', raw.module),
    winograd: raw.winograd === undefined ? true : expectBoolean('winograd', raw.winograd),
  };
}

export const MAX_THREADS = 1024;

function defaultCacheDir(): string {
  const home = process.env.XDG_CACHE_HOME ?? (process.env.HOME ? `${process.env.HOME}/.cache` : '');
  return home ? `${home}/onnxruntime-ep-mlir` : '';
}
