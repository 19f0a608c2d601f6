// Fake LLVM/MLIR installs for fault injection: a temp dir whose bin/ has one
// shell script per tool, passing through to the real tool except where a
// fault is injected.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ToolName } from '../../src/toolchain/tools.js';
import { resolveOptions } from '../../src/ep/options.js';

export const TOOLS: readonly ToolName[] = ['mlir-opt', 'mlir-translate', 'opt', 'llc', 'ld.lld'];
const EXECUTABLE = 0o755;
const NOT_EXECUTABLE = 0o644;

/** The real toolchain (the default toolchainHome). */
export const REAL_HOME = resolveOptions({}).toolchainHome;

/** A distinctive sleep, so a test can check that no hung tool outlives its timeout. */
export const HANG_SECONDS = '613.25';

/** Shell-script bodies ($REAL is the real tool's path). */
export const FAULTS = {
  segv: 'kill -SEGV $$',
  /** Hangs in a child of the script: only killing the whole process group ends it. */
  hang: `sleep ${HANG_SECONDS}`,
  /** Claims success but writes no output file, and prints junk. */
  garbage: 'echo "@@@ not llvm @@@"; head -c 256 /dev/urandom >&2; exit 0',
  /** Claims success and writes junk where the output file should be. */
  garbageOutput: 'out=; while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done; head -c 4096 /dev/urandom > "$out"',
  fail: 'echo "error: injected failure" >&2; exit 3',
} as const;

export type Fault = keyof typeof FAULTS | 'missing' | 'notExecutable';

export interface ToolFault {
  fault: Fault;
  /** Let `tool --version` through to the real tool (so the fault hits the compile, not the version probe). */
  versionOk?: boolean;
}

function script(tool: ToolName, f: ToolFault | undefined): string {
  const real = join(REAL_HOME, 'bin', tool);
  const lines = ['#!/bin/sh', `REAL=${real}`];
  if (f && f.fault !== 'missing' && f.fault !== 'notExecutable') {
    if (f.versionOk) lines.push('case "$1" in --version) exec "$REAL" "$@";; esac');
    lines.push(FAULTS[f.fault]);
  } else {
    lines.push('exec "$REAL" "$@"');
  }
  return `${lines.join('\n')}\n`;
}

/** A toolchainHome whose tools are the real ones except for `faults`. */
export async function fakeToolchain(faults: Partial<Record<ToolName, ToolFault>> = {}): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'fake-llvm-'));
  await mkdir(join(home, 'bin'));
  for (const tool of TOOLS) {
    const f = faults[tool];
    if (f?.fault === 'missing') continue;
    await writeFile(join(home, 'bin', tool), script(tool, f), { mode: f?.fault === 'notExecutable' ? NOT_EXECUTABLE : EXECUTABLE });
  }
  return home;
}

/** A toolchainHome that logs each tool invocation (a line per run: the tool and its arguments) to `log` and runs the real tool. */
export async function countingToolchain(log: string): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'counting-llvm-'));
  await mkdir(join(home, 'bin'));
  for (const tool of TOOLS) {
    const body = ['#!/bin/sh', `case "$1" in --version) ;; *) echo "${tool} $*" >> '${log}';; esac`, `exec ${join(REAL_HOME, 'bin', tool)} "$@"`, ''];
    await writeFile(join(home, 'bin', tool), body.join('\n'), { mode: EXECUTABLE });
  }
  return home;
}
