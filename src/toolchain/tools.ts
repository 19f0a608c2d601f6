// Locating and running the LLVM/MLIR 22 command-line tools. Every tool runs in
// a child process with a timeout, so a crash or hang of the compiler can only
// fail a compile, never the user's process.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export type ToolName = 'mlir-opt' | 'mlir-translate' | 'opt' | 'llc' | 'ld.lld';

export class ToolchainError extends Error {
  override name = 'ToolchainError';
  constructor(message: string, readonly tool?: ToolName, readonly stderr = '') {
    super(message);
  }
}

/** Generous: a large partition at -O3 takes seconds; a hang must still end. */
export const TOOL_TIMEOUT_MS = Number(process.env.ORT_MLIR_TOOL_TIMEOUT_MS ?? 300_000);
const MAX_TOOL_OUTPUT_BYTES = 256 * 1024 * 1024;

export interface ToolRun {
  tool: ToolName;
  argv: string[];
  stdout: string;
  stderr: string;
  ms: number;
}

export class Toolchain {
  constructor(readonly home: string) {}

  path(tool: ToolName): string {
    return join(this.home, 'bin', tool);
  }

  /** Throws a ToolchainError naming the missing tool and where it was looked for. */
  check(tools: readonly ToolName[] = ['mlir-opt', 'mlir-translate', 'opt', 'llc', 'ld.lld']): void {
    for (const t of tools) {
      if (!existsSync(this.path(t))) {
        throw new ToolchainError(
          `toolchain: ${t} not found at ${this.path(t)}; install LLVM/MLIR 22 (npm run setup) or set toolchainHome / ORT_MLIR_TOOLCHAIN_HOME`,
          t,
        );
      }
    }
  }

  run(tool: ToolName, argv: readonly string[], timeoutMs = TOOL_TIMEOUT_MS): Promise<ToolRun> {
    const start = performance.now();
    return new Promise((resolve, reject) => {
      execFile(this.path(tool), argv, { timeout: timeoutMs, maxBuffer: MAX_TOOL_OUTPUT_BYTES, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
        const ms = performance.now() - start;
        if (!err) {
          resolve({ tool, argv: [...argv], stdout, stderr, ms });
          return;
        }
        const why = err.killed ? `timed out after ${timeoutMs} ms` : err.signal ? `crashed with ${err.signal}` : `exited with code ${String(err.code)}`;
        reject(new ToolchainError(`${tool} ${why}: ${firstLines(stderr)}`, tool, stderr));
      });
    });
  }

  async version(): Promise<string> {
    const r = await this.run('mlir-opt', ['--version']);
    return r.stdout.trim().split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  }
}

function firstLines(s: string, n = 12): string {
  const lines = s.trim().split('\n');
  return lines.slice(0, n).join('\n') + (lines.length > n ? `\n... (${lines.length - n} more lines)` : '');
}
