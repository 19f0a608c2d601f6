import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressOf, aligned, alignedBytes, HOST_ALIGNMENT, readFileAligned, retainFreedHostMemory } from '../../src/native/host-memory.js';

// What the setting buys (fewer page faults on fresh run outputs) depends on
// when V8's sweeper frees buffers, so it is measured (process.resourceUsage()
// around runs), not asserted here.
describe('host memory (enableCpuMemArena)', () => {
  it('is taken by glibc on Linux and set once', { skip: process.platform !== 'linux' }, () => {
    assert.equal(retainFreedHostMemory(), true);
    assert.equal(retainFreedHostMemory(), true);
  });
});

const offset = (v: Uint8Array) => (addressOf(v) ?? 0) % HOST_ALIGNMENT;

describe('aligned host buffers', { skip: process.platform !== 'linux' }, () => {
  it('reads the address of a view (a subarray is that many bytes further)', () => {
    const whole = new Uint8Array(4096);
    const base = addressOf(whole);
    assert.ok(base !== null && base > 0);
    assert.equal(addressOf(whole.subarray(40)), base + 40);
  });

  it('alignedBytes starts on a cache line, whatever the size (Node hands out large buffers 16 bytes past one)', () => {
    for (const bytes of [1, 100, 4096, 1 << 20, (4 << 20) + 12]) {
      const b = alignedBytes(bytes);
      assert.equal(b.byteLength, bytes);
      assert.equal(offset(b), 0, `${bytes} bytes`);
    }
  });

  it('aligned() keeps an aligned view and copies a misaligned one', () => {
    const a = alignedBytes(256);
    assert.equal(aligned(a), a);
    const misaligned = a.subarray(16, 144);
    misaligned.forEach((_, i) => (misaligned[i] = i));
    const c = aligned(misaligned);
    assert.notEqual(c, misaligned);
    assert.equal(offset(c), 0);
    assert.deepEqual([...c], [...misaligned]);
  });

  it('readFileAligned reads a whole file into an aligned buffer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ort-mlir-aligned-'));
    try {
      const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => i % 251);
      writeFileSync(join(dir, 'f'), bytes);
      const read = await readFileAligned(join(dir, 'f'));
      assert.equal(offset(read), 0);
      assert.deepEqual(read, bytes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
