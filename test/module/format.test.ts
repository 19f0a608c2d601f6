import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import {
  BLOB_ALIGNMENT, MODULE_FORMAT_VERSION, ModuleFormatError, deserializeModule, serializeModule, type CompiledModule,
} from '../../src/module/format.js';

function sample(): CompiledModule {
  return {
    plan: {
      inputs: [{ name: 'x', dataType: DataType.FLOAT, dims: [2, 'N'] }],
      outputs: [{ name: 'y', dataType: DataType.FLOAT, dims: [2, 3] }],
      steps: [{ kind: 'native', symbol: 'ortmlir_p0', nodes: ['Relu'], args: [], work: 6, threads: 1 }],
      constants: [],
      library: 0,
      report: { totalNodes: 1, compiledNodes: 1, fallbackNodes: 0, fallbackReasons: [] },
      target: { triple: 'x86_64-unknown-linux-gnu', cpu: 'host', toolchain: 'test' },
    },
    blobs: [new Uint8Array([1, 2, 3]), new Uint8Array(1000).fill(7), new Uint8Array(0)],
  };
}

test('module round-trips with aligned, zero-copy blobs', () => {
  const file = serializeModule(sample());
  const m = deserializeModule(file);
  assert.deepEqual(m.plan, sample().plan);
  assert.equal(m.blobs.length, 3);
  assert.deepEqual([...m.blobs[0]], [1, 2, 3]);
  assert.equal(m.blobs[1].byteLength, 1000);
  for (const b of m.blobs) {
    assert.equal(b.buffer, file.buffer, 'blob is a view into the file');
    assert.equal((b.byteOffset - file.byteOffset) % BLOB_ALIGNMENT, 0, 'blob is aligned');
  }
});

test('a flipped byte anywhere fails the checksum', () => {
  const file = serializeModule(sample());
  for (const at of [60, file.byteLength - 1, Math.floor(file.byteLength / 2)]) {
    const bad = file.slice();
    bad[at] ^= 0xff;
    assert.throws(() => deserializeModule(bad), ModuleFormatError);
  }
});

test('truncated, foreign and future-version files are rejected with a typed error', () => {
  const file = serializeModule(sample());
  assert.throws(() => deserializeModule(file.subarray(0, file.byteLength - 10)), /checksum|truncated|past the end/);
  assert.throws(() => deserializeModule(file.subarray(0, 20)), /truncated/);
  assert.throws(() => deserializeModule(new TextEncoder().encode('PK\x03\x04 definitely not a module at all, no sir')), /bad magic/);
  const future = file.slice();
  new DataView(future.buffer).setUint32(8, MODULE_FORMAT_VERSION + 1, true);
  assert.throws(() => deserializeModule(future), /format version/);
});
