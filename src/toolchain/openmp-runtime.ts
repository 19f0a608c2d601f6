// Which OpenMP runtime a library with parallel loops links: the project's
// fork-join runtime (fork-join.c, shipped as LLVM IR) when the target is
// x86_64 and every unit keeps to the part of libomp's ABI it implements, else
// libomp from the toolchain (libomp-22-dev). fork-join.c says why it exists.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The libomp entry points fork-join.c defines, as LLVM IR names them. */
const FORK_JOIN_SYMBOLS: ReadonlySet<string> = new Set([
  '__kmpc_fork_call',
  '__kmpc_push_num_threads',
  '__kmpc_global_thread_num',
  '__kmpc_for_static_init_8u',
  '__kmpc_for_static_fini',
  '__kmpc_barrier',
]);

const RUNTIME_SYMBOL = /@((?:__kmpc|omp|kmp)_\w+)/g;
/** A fork with its argument count: fork-join.c takes exactly one (MLIR packs the loop's captures into one struct). */
const FORK_CALL = /@__kmpc_fork_call\(ptr [^,]+, i32 (\d+),/g;
/** The barrier MLIR emits closes a microtask; fork-join.c makes it a no-op, so a microtask may hold at most one. */
const BARRIER_CALL = /call void @__kmpc_barrier\(/g;
const DEFINE = /^define\b/;

export type OpenmpRuntime = { kind: 'fork-join' } | { kind: 'libomp'; dir: string };

/** libomp's directory in the toolchain, if it has one. */
export function libompDir(home: string): string | null {
  const dir = join(home, 'lib');
  return existsSync(join(dir, 'libomp.so')) ? dir : null;
}

/** Whether fork-join.c's IR can be built for the target (it is x86_64 Linux IR). */
export function forkJoinTarget(arch: string = process.arch): boolean {
  return arch === 'x64';
}

/** Whether one unit's LLVM IR calls only what fork-join.c implements, the way it expects. */
export function keepsToForkJoinAbi(ir: string): boolean {
  for (const [, name] of ir.matchAll(RUNTIME_SYMBOL)) if (!FORK_JOIN_SYMBOLS.has(name)) return false;
  for (const [, argc] of ir.matchAll(FORK_CALL)) if (argc !== '1') return false;
  // Outlined microtasks are functions of their own: count barriers per function.
  let barriers = 0;
  for (const line of ir.split('\n')) {
    if (DEFINE.test(line)) barriers = 0;
    barriers += [...line.matchAll(BARRIER_CALL)].length;
    if (barriers > 1) return false;
  }
  return true;
}

/** The runtime for units whose IR is `irs`, or null when none fits (the caller compiles them sequentially). */
export function chooseOpenmpRuntime(irs: readonly string[], home: string, arch: string = process.arch): OpenmpRuntime | null {
  if (forkJoinTarget(arch) && irs.every(keepsToForkJoinAbi)) return { kind: 'fork-join' };
  const dir = libompDir(home);
  return dir ? { kind: 'libomp', dir } : null;
}

/** Whether parallel loops can be linked at all for this toolchain and target. */
export function openmpAvailable(home: string, arch: string = process.arch): boolean {
  return forkJoinTarget(arch) || libompDir(home) !== null;
}
