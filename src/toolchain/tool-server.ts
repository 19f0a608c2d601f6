// Tool servers: one long-lived process per toolchain tool, the tool itself
// with tool-server.c preloaded, which runs each invocation in a forked child
// (a copy of the tool after its start-up). A compile runs seven tools per
// unit; `mlir-opt --version` takes 0.1 s started afresh (loading and
// relocating libMLIR's 100 MB, static constructors) and 0.035 s forked from
// a server, mlir-opt's canonicalization of det's largest unit 0.13 s and
// 0.07 s. The fork happens in the server, not in this process, whose own
// spawns (libuv forks, then execs) slow with its heap: /bin/true 9 ms from a
// bare node, 23 ms beside 500 MB of arrays.
//
// A crash or hang still ends only the child: the server reports how it
// ended, a timeout kills the child's process group. Where the server cannot
// be had (no llc/ld.lld to build the preload library, another platform,
// ORT_MLIR_TOOL_SERVER=0, an argument the line protocol cannot carry, a
// server that died) the tool is spawned directly, as before.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TOOL_SERVER_LLVM_IR } from './tool-server-ir.js';

/** How a tool run ended, whether served or spawned (tools.ts turns it into a ToolRun or an error). */
export interface ToolExit {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Why the run was cut short (timeout, too much output), else null. */
  why: string | null;
  /** Set when the tool could not be started at all (the spawn error's code). */
  spawnError?: string;
}

/** The environment variable that makes a preloaded tool serve (tool-server.c), and that disables servers when '0'. */
export const TOOL_SERVER_ENV = 'ORT_MLIR_TOOL_SERVER';

/** An idle server exits after this long: its process holds ~100 MB of the tool's memory. */
export const SERVER_IDLE_MS = 2_000;

/**
 * A server that has not said 'ready' by then is not one (the preload did
 * not take and the tool waits on its stdin); it starts in 0.1 – 0.3 s.
 */
const READY_TIMEOUT_MS = 3_000;

/** Fields are tab-separated and requests newline-terminated; an empty field would vanish (strtok). */
const UNSENDABLE = /[\t\n]|^$/;
/** tool-server.c's MAX_ARGS: a request carries at most this many arguments. */
const MAX_SERVED_ARGS = 1024;

/** Spawns `path` with `argv` and collects how it ended: the server-less way, also used to build the preload library. */
export type DirectRunner = (path: string, argv: readonly string[], timeoutMs: number) => Promise<ToolExit>;

interface Pending {
  resolve: (e: ToolExit) => void;
  reject: (e: Error) => void;
  out: string;
  err: string;
  pid: number | null;
  why: string | null;
  timer: NodeJS.Timeout;
}

/** Raised when a server is lost with requests in flight; the caller runs them directly. */
export class ServerLost extends Error {
  override name = 'ServerLost';
  /** True when the server died; false when it had been closed (idle) just before the request. */
  constructor(message: string, readonly died: boolean) {
    super(message);
  }
}

class ToolServer {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Whether the server said it listens (false: it failed to, and is closed). */
  readonly ready: Promise<boolean>;

  /** `files` prefixes the paths of the requests' stdout/stderr files; `onClosed` runs once, when the server stops taking requests. */
  private constructor(private readonly child: ChildProcessWithoutNullStreams, private readonly files: string, private readonly maxOutputBytes: number, private readonly onClosed: (failed: boolean) => void) {
    // An idle server does not keep the process alive; its stdout does while requests are in flight (hold).
    for (const s of [child.stdin, child.stdout, child.stderr]) if (s instanceof Socket) s.unref();
    child.unref();
    child.stderr.resume();
    const lines = createInterface({ input: child.stdout });
    this.ready = new Promise<boolean>((resolve) => {
      // Ref'd: requests wait for the answer.
      const timer = setTimeout(() => settle(false), READY_TIMEOUT_MS);
      const settle = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
        if (!ok) this.close(true);
      };
      lines.once('line', (l) => settle(l === 'ready'));
      child.once('error', () => settle(false));
      child.once('exit', () => settle(false));
    });
    lines.on('line', (l) => this.onLine(l));
    child.stdin.on('error', () => this.lose());
    child.once('error', () => this.lose());
    child.once('exit', () => this.lose());
  }

  static start(toolPath: string, lib: string, files: string, maxOutputBytes: number, onClosed: (failed: boolean) => void): ToolServer {
    const env = { ...process.env, [TOOL_SERVER_ENV]: '1', LD_PRELOAD: [lib, process.env.LD_PRELOAD].filter(Boolean).join(':') };
    const child = spawn(toolPath, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    return new ToolServer(child, files, maxOutputBytes, onClosed);
  }

  /** Runs the tool with `argv` in a child of the server; rejects with ServerLost if the server goes. */
  run(argv: readonly string[], timeoutMs: number): Promise<ToolExit> {
    if (this.closed) return Promise.reject(new ServerLost('tool server closed', false));
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const id = this.nextId++;
    const out = `${this.files}-${id}.out`;
    const err = `${this.files}-${id}.err`;
    return new Promise<ToolExit>((resolve, reject) => {
      const timer = setTimeout(() => this.cut(id, `timed out after ${timeoutMs} ms (ORT_MLIR_TOOL_TIMEOUT_MS)`), timeoutMs);
      this.pending.set(id, { resolve, reject, out, err, pid: null, why: null, timer });
      this.hold();
      this.child.stdin.write(`${[String(id), out, err, ...argv].join('\t')}\n`);
    });
  }

  /** Takes no more requests; the server exits when its stdin ends (children still running are killed). */
  close(failed = false): void {
    if (this.closed) return;
    this.closed = true;
    this.child.stdin.end();
    this.onClosed(failed);
  }

  private cut(id: number, why: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    p.why ??= why;
    if (p.pid !== null) killGroup(p.pid);
  }

  private onLine(line: string): void {
    const [what, idText, a, b] = line.split(' ');
    const id = Number(idText);
    const p = this.pending.get(id);
    if (!p) return;
    if (what === 'started') {
      p.pid = Number(a);
      if (p.why !== null) killGroup(p.pid);
    } else if (what === 'exited') {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(this.collect(p, Number(a), Number(b)));
      this.hold();
      if (this.pending.size === 0 && !this.closed) {
        this.idleTimer = setTimeout(() => this.close(), SERVER_IDLE_MS);
        this.idleTimer.unref();
      }
    }
  }

  private collect(p: Pending, code: number, signal: number): ToolExit {
    const read = (path: string): string => {
      try {
        if (statSync(path).size > this.maxOutputBytes) {
          p.why ??= `printed more than ${this.maxOutputBytes} bytes`;
          return '';
        }
        return readFileSync(path, 'utf8');
      } catch {
        return '';
      } finally {
        rmSync(path, { force: true });
      }
    };
    const stdout = read(p.out);
    const stderr = read(p.err);
    return { code: code >= 0 ? code : null, signal: code >= 0 ? null : signalName(signal), stdout, stderr, why: p.why };
  }

  /** The server went (or could not be written to): a failure unless it had been closed. */
  private lose(): void {
    this.close(true);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      if (p.pid !== null) killGroup(p.pid);
      p.reject(new ServerLost(`tool server lost while running request ${id}`, true));
    }
    this.pending.clear();
    this.hold();
  }

  /** Keeps the process alive while requests are in flight (a timed-out one still awaits its exit line). */
  private hold(): void {
    const out = this.child.stdout;
    if (!(out instanceof Socket)) return;
    if (this.pending.size > 0) out.ref();
    else out.unref();
  }
}

/** A signal's name from its number (the server reports numbers). */
function signalName(n: number): string {
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}

export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Builds the preload library from tool-server.c's IR into `dir` with the toolchain's llc and ld.lld; null when it cannot. */
async function buildLibrary(home: string, dir: string, direct: DirectRunner, timeoutMs: number): Promise<string | null> {
  const ll = join(dir, 'tool-server.ll');
  const obj = join(dir, 'tool-server.o');
  const lib = join(dir, 'tool-server.so');
  writeFileSync(ll, TOOL_SERVER_LLVM_IR);
  const ok = (e: ToolExit) => e.code === 0 && e.why === null;
  if (!ok(await direct(join(home, 'bin', 'llc'), ['-O2', '-relocation-model=pic', '-filetype=obj', ll, '-o', obj], timeoutMs))) return null;
  if (!ok(await direct(join(home, 'bin', 'ld.lld'), ['-shared', obj, '-o', lib], timeoutMs))) return null;
  return lib;
}

/** The servers of one process, by tool path; each toolchain home builds its preload library once. */
/** The servers of one process, by tool path; each toolchain home builds its preload library once. */
export class ToolServers {
  /** Per toolchain home whose library build started: the library once built (null: it cannot be; undefined while building). */
  private readonly libraries = new Map<string, string | null | undefined>();
  private readonly servers = new Map<string, ToolServer>();
  /** Tools whose server failed: spawned directly from then on. */
  private readonly broken = new Set<string>();
  /** A private directory for the libraries and the requests' output files, removed at exit. */
  private dir: string | null = null;
  private started = 0;

  constructor(private readonly direct: DirectRunner, private readonly maxOutputBytes: number) {}

  /** Whether servers may be used at all here. */
  static enabled(): boolean {
    return process.platform === 'linux' && process.arch === 'x64' && process.env[TOOL_SERVER_ENV] !== '0';
  }

  /**
   * Lets the tools of toolchain `home` be served from now on, and starts
   * building its preload library. Servers pay off for a compile of several
   * units or a process's later compiles; for a lone small compile their
   * start (the library's build, each tool's own start-up) would only load
   * the cores: on two cores, starting them during it slowed it by a fifth.
   */
  want(home: string, timeoutMs: number): void {
    if (!ToolServers.enabled() || this.libraries.has(home)) return;
    this.libraries.set(home, undefined);
    const dir = mkdtempSync(join(this.workDir(), 'lib-'));
    void buildLibrary(home, dir, this.direct, timeoutMs).then(
      (lib) => this.libraries.set(home, lib),
      () => this.libraries.set(home, null),
    );
  }

  /**
   * Runs `toolPath` (of toolchain `home`) through its server, or returns
   * null when it cannot. Runs go direct while the library builds; once it
   * is there, a tool's first run waits for its server to start (about what
   * starting the tool directly costs) instead of starting both.
   */
  async run(home: string, toolPath: string, argv: readonly string[], timeoutMs: number): Promise<ToolExit | null> {
    if (!ToolServers.enabled() || this.broken.has(toolPath) || argv.length > MAX_SERVED_ARGS || argv.some((a) => UNSENDABLE.test(a))) return null;
    const lib = this.libraries.get(home);
    if (!lib) return null;
    const server = this.server(toolPath, lib);
    if (!(await server.ready)) return null;
    try {
      return await server.run(argv, timeoutMs);
    } catch (e) {
      if (!(e instanceof ServerLost)) throw e;
      if (e.died) this.broken.add(toolPath);
      return null;
    }
  }

  private workDir(): string {
    if (this.dir === null) {
      const dir = mkdtempSync(join(tmpdir(), 'ort-mlir-tools-'));
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      this.dir = dir;
    }
    return this.dir;
  }

  private server(toolPath: string, lib: string): ToolServer {
    const existing = this.servers.get(toolPath);
    if (existing) return existing;
    const files = join(this.workDir(), `s${this.started++}`);
    const s = ToolServer.start(toolPath, lib, files, this.maxOutputBytes, (failed) => {
      if (failed) this.broken.add(toolPath);
      if (this.servers.get(toolPath) === s) this.servers.delete(toolPath);
    });
    this.servers.set(toolPath, s);
    return s;
  }
}
