// The on-disk compile cache. Entries are complete module files, keyed by
// everything that determines the generated code. A module is native code —
// loading one means running it — so the directory is private (0700), entries
// are written atomically and verified (checksum) before use.
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileAligned } from '../native/host-memory.js';

export const CACHE_DIR_MODE = 0o700;
const ENTRY_MODE = 0o600;
const ENTRY_SUFFIX = '.ortmlir';

export class CacheError extends Error {
  override name = 'CacheError';
}

export function cacheKey(parts: readonly (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    // Length-prefix each part so that concatenations cannot collide.
    h.update(String(typeof p === 'string' ? Buffer.byteLength(p) : p.byteLength));
    h.update(':');
    h.update(p);
  }
  return h.digest('hex');
}

export class CompileCache {
  constructor(readonly dir: string) {}

  private path(key: string): string {
    return join(this.dir, `${key}${ENTRY_SUFFIX}`);
  }

  async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: CACHE_DIR_MODE });
    const s = await stat(this.dir);
    if ((s.mode & 0o077) !== 0) await chmod(this.dir, CACHE_DIR_MODE);
  }

  /** The entry's bytes, or null when absent or unreadable. */
  async get(key: string): Promise<Uint8Array | null> {
    try {
      return await readFileAligned(this.path(key));
    } catch {
      return null;
    }
  }

  /** Writes via a temp file + rename so readers never see a partial entry. Failures (disk full) are reported, not thrown. */
  async put(key: string, bytes: Uint8Array): Promise<Error | null> {
    const tmp = `${this.path(key)}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await this.ensureDir();
      await writeFile(tmp, bytes, { mode: ENTRY_MODE });
      await rename(tmp, this.path(key));
      return null;
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      return e instanceof Error ? e : new CacheError(String(e));
    }
  }

  async remove(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
