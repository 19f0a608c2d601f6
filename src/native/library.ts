// The FFI boundary: loading a compiled shared library and calling its
// partition entry points (void fn(void* ...) with bare pointers) through koffi.
import koffi from 'koffi';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class NativeError extends Error {
  override name = 'NativeError';
}

export type KernelArgs = readonly Uint8Array[];

export interface Kernel {
  readonly symbol: string;
  callSync(args: KernelArgs): void;
  callAsync(args: KernelArgs): Promise<void>;
}

type KoffiFn = ReturnType<ReturnType<typeof koffi.load>['func']>;

export class NativeLibrary {
  private lib: ReturnType<typeof koffi.load> | null;
  private readonly dir: string;

  /** dlopen needs a file: the bytes go to a private (0700) temp dir, removed on close. */
  constructor(bytes: Uint8Array) {
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
    return {
      symbol,
      callSync: (args) => {
        fn(...args);
      },
      callAsync: (args) =>
        new Promise<void>((resolve, reject) => {
          fn.async(...args, (err: unknown) => (err ? reject(err) : resolve()));
        }),
    };
  }

  close(): void {
    if (!this.lib) return;
    this.lib.unload();
    this.lib = null;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
