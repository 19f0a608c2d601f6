import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataType } from '../../src/onnx/model.js';
import { main } from '../../src/cli/main.js';
import { bufferIo } from '../../src/cli/io.js';
import { singleNodeModel, tempDir, tensorInfo } from './fixtures.js';

describe('ort-mlir compile', () => {
  it('builds a module for the --threads given, and rejects a thread count below 1', async () => {
    const dir = await tempDir('ort-mlir-compile-');
    const model = join(dir, 'relu.onnx');
    await writeFile(model, singleNodeModel('Relu', [tensorInfo('x', DataType.FLOAT, [4, 8])], [tensorInfo('y', DataType.FLOAT, [4, 8])]));
    const out = join(dir, 'relu.ortmlir');
    const io = bufferIo();
    assert.equal(await main(['compile', model, '-o', out, '--threads', '1'], io), 0, io.err.join(''));
    assert.match(io.out.join(''), /wrote .* 1\/1 nodes compiled/);
    assert.ok((await stat(out)).size > 0);
    const bad = bufferIo();
    assert.equal(await main(['compile', model, '-o', out, '--threads', '0'], bad), 2);
    assert.match(bad.err.join(''), /threads/);
  });
});
