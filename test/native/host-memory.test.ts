import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { retainFreedHostMemory } from '../../src/native/host-memory.js';

// What the setting buys (fewer page faults on fresh run outputs) depends on
// when V8's sweeper frees buffers, so it is measured (process.resourceUsage()
// around runs), not asserted here.
describe('host memory (enableCpuMemArena)', () => {
  it('is taken by glibc on Linux and set once', { skip: process.platform !== 'linux' }, () => {
    assert.equal(retainFreedHostMemory(), true);
    assert.equal(retainFreedHostMemory(), true);
  });
});
