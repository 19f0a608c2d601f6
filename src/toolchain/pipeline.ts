// The lowering pipeline, listed in one place: MLIR on tensors → bufferized
// loops → LLVM dialect → LLVM IR → optimised object → shared library.
import { mkdtemp, readFile, rm, writeFile, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Toolchain, ToolchainError, type ToolName, type ToolRun } from './tools.js';

export interface TargetOptions {
  /** LLVM CPU name; 'host' compiles for this machine. */
  cpu: string;
  features: string;
  optLevel: number;
  extraFlags: { mlirOpt: string[]; opt: string[]; llc: string[] };
}

/** mlir-opt passes from linalg-on-tensors to the LLVM dialect with the bare-pointer ABI. */
export const MLIR_PASSES: readonly string[] = [
  '--canonicalize',
  '--linalg-fuse-elementwise-ops',
  '--one-shot-bufferize=bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map',
  '--buffer-results-to-out-params=hoist-static-allocs modify-public-functions',
  '--buffer-deallocation-pipeline',
  '--convert-linalg-to-loops',
  '--lower-affine',
  '--convert-scf-to-cf',
  '--expand-strided-metadata',
  '--lower-affine',
  '--convert-math-to-llvm',
  '--convert-math-to-libm',
  '--convert-arith-to-llvm',
  '--finalize-memref-to-llvm',
  '--convert-func-to-llvm=use-bare-ptr-memref-call-conv=1',
  '--convert-cf-to-llvm',
  '--reconcile-unrealized-casts',
];

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
}

/** Where intermediates of every compile go (ORT_MLIR_DUMP_DIR), if anywhere. */
function dumpDir(): string | null {
  return process.env.ORT_MLIR_DUMP_DIR || null;
}

function commandLine(tc: Toolchain, tool: ToolName, argv: readonly string[]): string {
  return [tc.path(tool), ...argv].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

async function compileUnit(tc: Toolchain, t: TargetOptions, dir: string, u: CompileUnit, runs: ToolRun[], commands: string[]): Promise<string> {
  const f = (ext: string) => join(dir, `${u.id}.${ext}`);
  await writeFile(f('input.mlir'), u.mlir);
  const step = async (tool: ToolName, argv: string[]) => {
    commands.push(commandLine(tc, tool, argv));
    runs.push(await tc.run(tool, argv));
  };
  await step('mlir-opt', [f('input.mlir'), ...MLIR_PASSES, ...t.extraFlags.mlirOpt, '-o', f('llvm.mlir')]);
  await step('mlir-translate', ['--mlir-to-llvmir', f('llvm.mlir'), '-o', f('ll')]);
  const o = `-O${t.optLevel}`;
  await step('opt', [o, ...targetFlags(t), ...t.extraFlags.opt, f('ll'), '-S', '-o', f('opt.ll')]);
  if (dumpDir()) await step('llc', [o, ...targetFlags(t), '-relocation-model=pic', f('opt.ll'), '-o', f('s')]);
  await step('llc', [o, ...targetFlags(t), '-relocation-model=pic', '-filetype=obj', ...t.extraFlags.llc, f('opt.ll'), '-o', f('o')]);
  return f('o');
}

/**
 * Compiles units in parallel and links the ones that succeeded into one shared
 * library; a failing unit is reported, not fatal, so its partition can fall back.
 */
export async function compileToLibrary(tc: Toolchain, t: TargetOptions, units: readonly CompileUnit[], label: string): Promise<CompileResult> {
  const dir = await mkdtemp(join(tmpdir(), 'ort-mlir-'));
  const runs: ToolRun[] = [];
  try {
    const settled = await Promise.all(units.map(async (u) => {
      const commands: string[] = [];
      try {
        return { u, object: await compileUnit(tc, t, dir, u, runs, commands), commands };
      } catch (e) {
        if (!(e instanceof ToolchainError)) throw e;
        return { u, error: e, commands };
      }
    }));
    const failures: UnitFailure[] = [];
    const objects: string[] = [];
    for (const r of settled) {
      if (r.error) failures.push({ id: r.u.id, error: r.error, mlir: r.u.mlir, commands: r.commands });
      else if (r.object) objects.push(r.object);
    }
    let library: Uint8Array | null = null;
    if (objects.length) {
      const lib = join(dir, 'module.so');
      runs.push(await tc.run('ld.lld', ['-shared', '-o', lib, ...objects]));
      library = new Uint8Array(await readFile(lib));
    }
    return { library, failures, runs };
  } finally {
    await dumpIntermediates(dir, label);
    if (!process.env.ORT_MLIR_KEEP_WORKDIR) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function dumpIntermediates(dir: string, label: string): Promise<void> {
  const target = dumpDir();
  if (!target) return;
  const dest = join(target, label);
  await mkdir(dest, { recursive: true });
  await cp(dir, dest, { recursive: true });
}
