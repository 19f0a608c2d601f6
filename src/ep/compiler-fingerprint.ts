// A digest of the compiler's own code, part of every compile-cache key: a
// cached module is only valid for the compiler that produced it, and a hand-
// maintained version string is forgotten the first time a lowering changes.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directories (under the package's src build) whose code decides what a compile produces. */
const COMPILER_DIRS = ['onnx', 'ir', 'import', 'passes', 'codegen', 'toolchain', 'module', 'ep'];
const CODE_FILE = /\.js$/;

function filesUnder(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p);
    return CODE_FILE.test(e.name) ? [p] : [];
  }).sort();
}

let cached: string | null = null;

/** Hex digest over the compiler's built files (computed once per process). */
export function compilerFingerprint(): string {
  if (cached !== null) return cached;
  const srcRoot = dirname(dirname(fileURLToPath(import.meta.url)));
  const h = createHash('sha256');
  for (const d of COMPILER_DIRS) {
    for (const f of filesUnder(join(srcRoot, d))) {
      h.update(f.slice(srcRoot.length));
      h.update(readFileSync(f));
    }
  }
  cached = h.digest('hex');
  return cached;
}
