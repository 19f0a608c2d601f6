// Locating and running the LLVM/MLIR 22 command-line tools. Every tool runs in
// a child process with a timeout, so a crash or hang of the compiler can only
// fail a compile, never the user's process.
import { spawn } from 'node:child_process';
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
export const DEFAULT_TOOL_TIMEOUT_MS = 300_000;

/** The per-tool timeout: ORT_MLIR_TOOL_TIMEOUT_MS (read at each run, so it can be changed at run time), else the default. */
export function toolTimeoutMs(): number {
  const v = Number(process.env.ORT_MLIR_TOOL_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_TOOL_TIMEOUT_MS;
}
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

  run(tool: ToolName, argv: readonly string[], timeoutMs = toolTimeoutMs()): Promise<ToolRun> {
    const start = performance.now();
    return new Promise((resolve, reject) => {
      // Own process group (detached), so a timeout kills whatever the tool started too (a wrapper script's children).
      const child = spawn(this.path(tool), argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const stdout = new Collector();
      const stderr = new Collector();
      let why: string | null = null;
      const kill = (reason: string) => {
        why ??= reason;
        killGroup(child.pid);
      };
      child.stdout.on('data', (b: Buffer) => stdout.add(b) || kill(`printed more than ${MAX_TOOL_OUTPUT_BYTES} bytes`));
      child.stderr.on('data', (b: Buffer) => stderr.add(b) || kill(`printed more than ${MAX_TOOL_OUTPUT_BYTES} bytes`));
      const timer = setTimeout(() => kill(`timed out after ${timeoutMs} ms (ORT_MLIR_TOOL_TIMEOUT_MS)`), timeoutMs);
      let spawnError: NodeJS.ErrnoException | null = null;
      child.on('error', (e: NodeJS.ErrnoException) => {
        spawnError = e;
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const ms = performance.now() - start;
        const err = stderr.text();
        if (spawnError) {
          reject(new ToolchainError(`${tool} could not be run (${spawnError.code ?? spawnError.message}) from ${this.path(tool)}`, tool, err));
        } else if (why === null && code === 0) {
          resolve({ tool, argv: [...argv], stdout: stdout.text(), stderr: err, ms });
        } else {
          const what = why ?? (signal ? `crashed with ${signal}` : `exited with code ${String(code)}`);
          reject(new ToolchainError(`${tool} ${what}: ${firstLines(err)}`, tool, err));
        }
      });
    });
  }

  async version(): Promise<string> {
    const r = await this.run('mlir-opt', ['--version']);
    return r.stdout.trim().split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  }
}

/** Collects a child's output up to MAX_TOOL_OUTPUT_BYTES; add() returns false once over. */
class Collector {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;

  add(b: Buffer): boolean {
    this.bytes += b.byteLength;
    if (this.bytes > MAX_TOOL_OUTPUT_BYTES) return false;
    this.chunks.push(b);
    return true;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function firstLines(s: string, n = 12): string {
  const lines = s.trim().split('\n');
  return lines.slice(0, n).join('\n') + (lines.length > n ? `\n... (${lines.length - n} more lines)` : '');
}
