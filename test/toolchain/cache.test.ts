import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompileCache, cacheKey, CACHE_DIR_MODE } from '../../src/toolchain/cache.js';

test('cache keys are length-prefixed: different splits never collide', () => {
  assert.notEqual(cacheKey(['ab', 'c']), cacheKey(['a', 'bc']));
  assert.equal(cacheKey(['x', new Uint8Array([1])]), cacheKey(['x', new Uint8Array([1])]));
});

test('cache dir is private and entries are written atomically', async () => {
  const dir = join(await mkdtemp(join(tmpdir(), 'cache-test-')), 'nested', 'cache');
  const cache = new CompileCache(dir);
  assert.equal(await cache.get('k'), null);
  assert.equal(await cache.put('k', new Uint8Array([1, 2, 3])), null);
  assert.deepEqual([...(await cache.get('k')) ?? []], [1, 2, 3]);
  assert.equal((await stat(dir)).mode & 0o777, CACHE_DIR_MODE);
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), []);
});

test('a pre-existing world-readable cache dir is tightened to 0700', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cache-open-'));
  await chmod(dir, 0o755);
  await new CompileCache(dir).ensureDir();
  assert.equal((await stat(dir)).mode & 0o777, CACHE_DIR_MODE);
});

test('a failed write is reported, not thrown, and leaves no temp file', async () => {
  const root = await mkdtemp(join(tmpdir(), 'cache-fail-'));
  const blocker = join(root, 'file');
  await writeFile(blocker, 'not a directory');
  const cache = new CompileCache(join(blocker, 'cache'));
  const err = await cache.put('k', new Uint8Array([1]));
  assert.ok(err instanceof Error);
  assert.deepEqual(await readdir(root), ['file']);
});
