import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { guardedBuffer, guardIntact } from '../../src/runtime/output-guard.js';
import { addressOf, HOST_ALIGNMENT } from '../../src/native/host-memory.js';

describe('output guard', () => {
  it('a guarded buffer is exactly its size, in an ArrayBuffer of its own, and intact until written past its end', () => {
    const b = guardedBuffer(24);
    assert.equal(b.byteLength, 24);
    // Not zero-filled (the native step writes every byte): only the guard zone after it is known.
    assert.ok(b.buffer instanceof ArrayBuffer);
    b.fill(0xff);
    assert.ok(guardIntact(b));
    new Uint8Array(b.buffer, b.byteOffset, 25)[24] = 0;
    assert.ok(!guardIntact(b));
  });

  it('a guarded buffer starts on a cache line (the kernels\' vector stores do not straddle two)', { skip: process.platform !== 'linux' }, () => {
    for (const bytes of [64, 1 << 20]) assert.equal((addressOf(guardedBuffer(bytes)) ?? 1) % HOST_ALIGNMENT, 0);
  });

  it('buffers without a guard (a caller\'s destination) count as intact', () => {
    assert.ok(guardIntact(new Uint8Array(16)));
    assert.ok(guardIntact(new Uint8Array(256).subarray(8, 16)));
  });
});
