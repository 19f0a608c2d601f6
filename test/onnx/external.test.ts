import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataType, OnnxDecodeError } from '../../src/onnx/model.js';
import { decodeModel, decodeTensor } from '../../src/onnx/decode.js';
import { ModelProto, TensorProto } from '../../src/onnx/proto.js';
import { tensorValues } from '../../src/onnx/tensor-data.js';

let root = '';
let modelDir = '';

before(() => {
  root = mkdtempSync(join(tmpdir(), 'onnx-ext-'));
  modelDir = join(root, 'model');
  mkdirSync(join(modelDir, 'sub'), { recursive: true });
  // 16 bytes of padding, then three floats.
  const weights = new Uint8Array(16 + 12);
  weights.set(new Uint8Array(new Float32Array([1, 2, 3]).buffer), 16);
  writeFileSync(join(modelDir, 'weights.bin'), weights);
  writeFileSync(join(modelDir, 'sub', 'w.bin'), new Uint8Array(new Float32Array([4, 5]).buffer));
  writeFileSync(join(root, 'secret.bin'), new Uint8Array(8));
  symlinkSync(join(root, 'secret.bin'), join(modelDir, 'link.bin'));
});

after(() => rmSync(root, { recursive: true, force: true }));

function externalTensor(name: string, dims: number[], entries: Record<string, string>): Record<string, unknown> {
  return {
    name, data_type: DataType.FLOAT, dims, data_location: 1,
    external_data: Object.entries(entries).map(([key, value]) => ({ key, value })),
  };
}

const tensorBytes = (fields: Record<string, unknown>): Uint8Array => TensorProto.encode(fields).finish();

function rejects(fields: Record<string, unknown>, pattern: RegExp, opts: { baseDir?: string } = { baseDir: modelDir }): void {
  assert.throws(
    () => decodeTensor(tensorBytes(fields), opts),
    (e: unknown) => e instanceof OnnxDecodeError && pattern.test(e.message),
  );
}

describe('external data', () => {
  test('location + offset + length', () => {
    const t = decodeTensor(tensorBytes(externalTensor('w', [3], { location: 'weights.bin', offset: '16', length: '12' })), { baseDir: modelDir });
    assert.deepEqual(tensorValues(t), [1, 2, 3]);
  });

  test('no length reads to the end of the file; subdirectories are fine', () => {
    const t = decodeTensor(tensorBytes(externalTensor('w', [2], { location: 'sub/w.bin' })), { baseDir: modelDir });
    assert.deepEqual(tensorValues(t), [4, 5]);
    const dotted = decodeTensor(tensorBytes(externalTensor('w', [2], { location: './sub/../sub/w.bin' })), { baseDir: modelDir });
    assert.deepEqual(tensorValues(dotted), [4, 5]);
  });

  test('initializers and subgraph tensors of a model resolve against baseDir', () => {
    const ext = externalTensor('w', [3], { location: 'weights.bin', offset: '16' });
    const bytes = ModelProto.encode({
      ir_version: 8,
      graph: {
        initializer: [ext],
        node: [{ op_type: 'If', attribute: [{ name: 'then_branch', type: 5, g: { initializer: [ext] } }] }],
      },
    }).finish();
    const m = decodeModel(bytes, { baseDir: modelDir });
    assert.deepEqual(tensorValues(m.graph.initializers[0]), [1, 2, 3]);
    const branch = m.graph.nodes[0].attributes.get('then_branch');
    assert.ok(branch?.kind === 'graph');
    assert.deepEqual(tensorValues(branch.value.initializers[0]), [1, 2, 3]);
  });

  test('missing file or baseDir names the tensor and the path', () => {
    rejects(externalTensor('w1', [3], { location: 'nope.bin' }), /tensor 'w1'.*'nope.bin' not found/);
    rejects(externalTensor('w2', [3], { location: 'weights.bin' }), /tensor 'w2'.*'weights.bin'.*no baseDir/, {});
    rejects(externalTensor('w3', [3], {}), /tensor 'w3'.*without a 'location'/);
  });

  test('ranges must lie within the file and match the tensor size', () => {
    rejects(externalTensor('r1', [3], { location: 'weights.bin', offset: '20', length: '12' }), /tensor 'r1'.*exceeds/);
    rejects(externalTensor('r2', [3], { location: 'weights.bin' }), /tensor 'r2'.*needs 12 bytes.*has 28/);
    rejects(externalTensor('r3', [3], { location: 'weights.bin', offset: '-4' }), /tensor 'r3'.*offset '-4'/);
  });

  test('path traversal out of baseDir is rejected', () => {
    rejects(externalTensor('p1', [2], { location: '../secret.bin' }), /tensor 'p1'.*escapes the model directory/);
    rejects(externalTensor('p2', [2], { location: 'sub/../../secret.bin' }), /escapes the model directory/);
    rejects(externalTensor('p3', [2], { location: join(root, 'secret.bin') }), /must be a relative path/);
    rejects(externalTensor('p4', [2], { location: 'C:\\secret.bin' }), /must be a relative path/);
    rejects(externalTensor('p5', [2], { location: 'link.bin' }), /tensor 'p5'.*resolves outside the model directory/);
  });
});
