// The FFI boundary: loading a compiled shared library and calling its
// partition entry points (void fn(void* ...) with bare pointers) through koffi.
import koffi from 'koffi';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { POOL_DRAIN_SYMBOL } from './pool-abi.js';

export class NativeError extends Error {
  override name = 'NativeError';
}

export type KernelArgs = readonly Uint8Array[];

/** koffi binds functions of at most this many parameters. */
export const MAX_KERNEL_ARGS = 64;

export interface Kernel {
  readonly symbol: string;
  callSync(args: KernelArgs): void;
  callAsync(args: KernelArgs): Promise<void>;
}

type KoffiFn = ReturnType<ReturnType<typeof koffi.load>['func']>;

/**
 * How long the worker threads of compiled parallel loops spin after a loop
 * before they sleep. The fork-join runtime (toolchain/fork-join.c) reads it
 * when its workers start, as libomp does where a library links that instead.
 * libomp's default, 200 ms, keeps a core busy long after a run: on a machine
 * with few cores that slows the caller's other threads, the next run's own
 * calling thread, and ONNX Runtime sessions sharing the process (2-thread
 * MatMul 512³: 9.3 ms → 3.4 ms). 1 ms still keeps the threads awake between
 * the parallel loops of one run. A KMP_BLOCKTIME set by the user wins.
 */
const OPENMP_BLOCKTIME_MS = '1';

export class NativeLibrary {
  private lib: ReturnType<typeof koffi.load> | null;
  private readonly dir: string;
  /** Set by close(): no new calls; the unload waits for async calls still running on worker threads. */
  private closing = false;
  private asyncCalls = 0;

  /** dlopen needs a file: the bytes go to a private (0700) temp dir, removed on close. */
  constructor(bytes: Uint8Array) {
    process.env.KMP_BLOCKTIME ??= OPENMP_BLOCKTIME_MS;
    this.dir = mkdtempSync(join(tmpdir(), 'ort-mlir-lib-'));
    const path = join(this.dir, 'module.so');
    writeFileSync(path, bytes, { mode: 0o600 });
    try {
      this.lib = koffi.load(path);
    } catch (e) {
      rmSync(this.dir, { recursive: true, force: true });
      throw new NativeError(`cannot load compiled library: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  kernel(symbol: string, arity: number): Kernel {
    if (!this.lib) throw new NativeError(`library is closed; cannot bind ${symbol}`);
    let fn: KoffiFn;
    try {
      fn = this.lib.func(symbol, 'void', Array.from({ length: arity }, () => 'void *'));
    } catch (e) {
      throw new NativeError(`symbol ${symbol} not found in compiled library: ${e instanceof Error ? e.message : String(e)}`);
    }
    // Calling into an unloaded library would crash the process: every call checks first.
    const live = () => {
      if (this.closing) throw new NativeError(`${symbol}: the compiled library was closed (session disposed)`);
    };
    return {
      symbol,
      callSync: (args) => {
        live();
        fn(...args);
      },
      callAsync: (args) =>
        new Promise<void>((resolve, reject) => {
          live();
          this.asyncCalls++;
          fn.async(...args, (err: unknown) => {
            this.asyncCalls--;
            if (this.closing) this.unloadIfIdle();
            if (err) reject(err);
            else resolve();
          });
        }),
    };
  }

  /** Whether the library is still mapped (close() defers the unload while async calls run). */
  get loaded(): boolean {
    return this.lib !== null;
  }

  /** Frees the blocks the library's buffer pool keeps (toolchain/buffer-pool.ts); older libraries have none. */
  private static drainPool(lib: ReturnType<typeof koffi.load>): void {
    let drain: KoffiFn;
    try {
      drain = lib.func(POOL_DRAIN_SYMBOL, 'void', []);
    } catch {
      return;
    }
    drain();
  }

  /** Refuses new calls at once; unloads and removes the file once no call is running. */
  close(): void {
    this.closing = true;
    this.unloadIfIdle();
  }

  private unloadIfIdle(): void {
    if (!this.lib || this.asyncCalls > 0) return;
    NativeLibrary.drainPool(this.lib);
    this.lib.unload();
    this.lib = null;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
