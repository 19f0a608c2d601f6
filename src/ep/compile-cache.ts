// compileModel behind the on-disk cache: a hit skips the toolchain entirely;
// a corrupt or truncated entry is detected by the module checksum and rebuilt.
import { CompileCache, cacheKey } from '../toolchain/cache.js';
import { Toolchain, ToolchainError } from '../toolchain/tools.js';
import { verifyLibrary } from './toolchain-failure.js';
import { MODULE_FORMAT_VERSION, ModuleFormatError, deserializeModule, serializeModule, type CompiledModule } from '../module/format.js';
import { compileModel, type CompileRequest } from './compile.js';
import { compilerFingerprint } from './compiler-fingerprint.js';

/** The format of cache keys; the compiler's own code is keyed by compilerFingerprint(). */
export const COMPILER_VERSION = '0.1.0';

function toolchainVersion(home: string): Promise<string> {
  return new Toolchain(home).version().catch(() => 'unavailable');
}

async function keyFor(req: CompileRequest): Promise<string> {
  const o = req.options;
  const types = [...req.inputTypes].map(([n, t]) => `${n}:${t.dataType}:${t.shape.join('x')}`).sort().join('|');
  const cpuTarget = o.targetCpu === 'host' ? `host:${process.arch}:${await hostCpuName(o.toolchainHome)}` : o.targetCpu;
  return cacheKey([
    COMPILER_VERSION, compilerFingerprint(), String(MODULE_FORMAT_VERSION), await toolchainVersion(o.toolchainHome),
    req.modelBytes, types, cpuTarget, o.targetFeatures, String(o.optLevel), JSON.stringify(o.compileFlags), o.fallback,
    // Compiled code bakes in its OpenMP thread count.
    String(o.threads),
    `winograd:${o.winograd}`,
  ]);
}

const hostCpus = new Map<string, Promise<string>>();

/** llc's idea of the host CPU (per toolchain: each may know other CPUs): a cache entry built for one CPU must not run on another. */
function hostCpuName(home: string): Promise<string> {
  let cpu = hostCpus.get(home);
  if (!cpu) {
    cpu = new Toolchain(home).run('llc', ['--version']).then(
      (r) => /Host CPU:\s*(\S+)/.exec(r.stdout)?.[1] ?? 'unknown',
      () => 'unknown',
    );
    hostCpus.set(home, cpu);
  }
  return cpu;
}

/** A cached module whose library cannot be loaded would fail every session of this model until the cache is cleared. */
function usableEntry(m: CompiledModule): CompiledModule {
  if (m.plan.library >= 0) {
    const symbols = m.plan.steps.flatMap((s) => (s.kind === 'native' ? [s.symbol] : []));
    verifyLibrary(m.blobs[m.plan.library] ?? new Uint8Array(), symbols);
  }
  return m;
}

export async function compileWithCache(req: CompileRequest): Promise<CompiledModule> {
  const dir = req.options.cacheDir;
  if (!dir) return compileModel(req);
  const cache = new CompileCache(dir);
  const key = await keyFor(req);
  const hit = await cache.get(key);
  if (hit) {
    try {
      return usableEntry(deserializeModule(hit, `cache entry ${key}`));
    } catch (e) {
      // Corrupt, truncated, or (checksum intact) a library that will not load: rebuild it.
      if (!(e instanceof ModuleFormatError) && !(e instanceof ToolchainError)) throw e;
      await cache.remove(key);
    }
  }
  const module = await compileModel(req);
  // A full disk or read-only cache only costs the next session a recompile.
  await cache.put(key, serializeModule(module));
  return module;
}
