// Disposal: a released session unmaps its compiled library and removes its
// file, a run in flight during release still completes, and any later use is a
// clear error rather than a call into unmapped code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import '../../src/index.js';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { createMlirSession } from '../../src/ep/session.js';
import { EpError } from '../../src/ep/errors.js';
import { randomTensor } from '../helpers/differential.js';

const N = 256;
/** The temp-dir name NativeLibrary loads compiled modules from. */
const LIBRARY_DIR = /ort-mlir-lib-[^/\s]+\/module\.so/g;

function model(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [N, N]);
  const w = b.initializer('w', DataType.FLOAT, [N, N], Array.from({ length: N * N }, (_, i) => (i % 5) / 50));
  const [m] = b.node('MatMul', [x, w]);
  const [y] = b.node('Relu', [m]);
  b.output(y, DataType.FLOAT, [N, N]);
  return b.build();
}

function mappedLibraries(): Set<string> {
  return new Set(readFileSync('/proc/self/maps', 'utf8').match(LIBRARY_DIR) ?? []);
}

test('dispose unmaps the compiled library; later runs are a clear error', async () => {
  const before = mappedLibraries();
  const s = await createMlirSession(model(), { cacheDir: '' });
  const feeds = new Map([['x', randomTensor(DataType.FLOAT, [N, N], 1)]]);
  await s.run(feeds);
  const mine = [...mappedLibraries()].filter((l) => !before.has(l));
  assert.equal(mine.length, 1, 'the session maps one compiled library');
  const inFlight = s.run(feeds);
  await s.dispose();
  await inFlight;
  assert.ok(!mappedLibraries().has(mine[0]), 'unmapped once the last run finished');
  await assert.rejects(s.run(feeds), (e: unknown) => e instanceof EpError && /disposed/.test(e.message));
  await s.dispose();
});

test('through onnxruntime-node: run after release() is an error, not a crash', async () => {
  const s = await ort.InferenceSession.create(model(), { executionProviders: [{ name: 'mlir', cacheDir: '' }] });
  const x = new ort.Tensor('float32', new Float32Array(N * N).fill(0.5), [N, N]);
  await s.run({ x });
  await s.release();
  await assert.rejects(s.run({ x }));
});
