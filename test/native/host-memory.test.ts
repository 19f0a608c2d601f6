import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { retainFreedHostMemory } from '../../src/native/host-memory.js';

const MIB = 1024 * 1024;
const PAGE = 4096;

/** Minor page faults per 1 MiB buffer allocated, written and dropped, a few alive at a time (a run's outputs). */
function faultsPerBuffer(buffers: number): number {
  const alive: Uint8Array[] = [];
  const before = process.resourceUsage().minorPageFault;
  for (let i = 0; i < buffers; i++) {
    const b = new Uint8Array(MIB);
    for (let j = 0; j < b.length; j += PAGE) b[j] = 1;
    alive.push(b);
    if (alive.length > 4) alive.shift();
  }
  return (process.resourceUsage().minorPageFault - before) / buffers;
}

describe('host memory (enableCpuMemArena)', () => {
  it('is taken by glibc on Linux and set once', { skip: process.platform !== 'linux' }, () => {
    assert.equal(retainFreedHostMemory(), true);
    assert.equal(retainFreedHostMemory(), true);
  });

  it('freed 1 MiB buffers are reused without page faults', { skip: process.platform !== 'linux' }, () => {
    retainFreedHostMemory();
    // The heap grows to what the garbage collector lets pile up, then stays.
    for (let round = 0; round < 2; round++) faultsPerBuffer(100);
    // glibc's own adaptive threshold still faults ~9 pages per buffer here; unadapted, 256.
    assert.ok(faultsPerBuffer(100) < 4);
  });
});
