// Locating and running the LLVM/MLIR 22 command-line tools. Every tool runs in
// a child process with a timeout, so a crash or hang of the compiler can only
// fail a compile, never the user's process: a child of the tool's server
// (tool-server.ts) where there is one, else a process of its own.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ToolServers, killGroup, type ToolExit } from './tool-server.js';

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

const VERSIONS = new Map<string, Promise<string>>();

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

  async run(tool: ToolName, argv: readonly string[], timeoutMs = toolTimeoutMs()): Promise<ToolRun> {
    const start = performance.now();
    const path = this.path(tool);
    const exit = (await SERVERS.run(this.home, path, argv, timeoutMs)) ?? (await runDirect(path, argv, timeoutMs));
    const ms = performance.now() - start;
    if (exit.spawnError !== undefined) throw new ToolchainError(`${tool} could not be run (${exit.spawnError}) from ${path}`, tool, exit.stderr);
    if (exit.why === null && exit.code === 0) return { tool, argv: [...argv], stdout: exit.stdout, stderr: exit.stderr, ms };
    const what = exit.why ?? (exit.signal ? `crashed with ${exit.signal}` : `exited with code ${String(exit.code)}`);
    throw new ToolchainError(`${tool} ${what}: ${firstLines(exit.stderr)}`, tool, exit.stderr);
  }

  /** Lets later runs of the tools go through tool servers (ToolServers.want: for large or repeated compiles). */
  serveTools(): void {
    SERVERS.want(this.home, toolTimeoutMs());
  }

  /** mlir-opt's version line(s), asked once per process and home (a failure is asked again next time). */
  version(): Promise<string> {
    let v = VERSIONS.get(this.home);
    if (!v) {
      v = this.run('mlir-opt', ['--version']).then((r) => r.stdout.trim().split('\n').map((l) => l.trim()).filter(Boolean).join(' '));
      VERSIONS.set(this.home, v);
      v.catch(() => VERSIONS.delete(this.home));
    }
    return v;
  }
}

/** Spawns the tool itself: how every run went before tool servers, and still goes where there is none. */
export function runDirect(path: string, argv: readonly string[], timeoutMs: number): Promise<ToolExit> {
  return new Promise((resolve) => {
    // Own process group (detached), so a timeout kills whatever the tool started too (a wrapper script's children).
    const child = spawn(path, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
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
    let spawnError: string | undefined;
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e.code ?? e.message;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: stdout.text(), stderr: stderr.text(), why, spawnError });
    });
  });
}

const SERVERS = new ToolServers(runDirect, MAX_TOOL_OUTPUT_BYTES);

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

function firstLines(s: string, n = 12): string {
  const lines = s.trim().split('\n');
  return lines.slice(0, n).join('\n') + (lines.length > n ? `\n... (${lines.length - n} more lines)` : '');
}
