import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataType, elementCount } from '../../src/onnx/model.js';
import { encodeTensor } from '../../src/onnx/encode.js';
import { main } from '../../src/cli/main.js';
import { bufferIo } from '../../src/cli/io.js';
import { floatToHalfBits, randomTensor, seededRandom } from '../../src/cli/run-command.js';
import { halfToFloat, tensorValues } from '../../src/cli/tensor-values.js';
import { floatTensor, singleNodeModel, tempDir, tensorInfo } from './fixtures.js';

describe('ort-mlir run -e cpu', () => {
  it('fills missing inputs randomly, resolving symbolic dims, and prints outputs and the report', async () => {
    const dir = await tempDir('ort-mlir-run-');
    const model = join(dir, 'relu.onnx');
    await writeFile(model, singleNodeModel('Relu', [tensorInfo('x', DataType.FLOAT, ['batch', 4])], [tensorInfo('y', DataType.FLOAT, ['batch', 4])]));
    const io = bufferIo();
    assert.equal(await main(['run', model, '-e', 'cpu', '--dim', 'batch=3'], io), 0, io.err.join(''));
    const out = io.out.join('');
    assert.match(out, /^input {2}x: FLOAT \[3, 4\] min=/m);
    assert.match(out, /^output y: FLOAT \[3, 4\] min=0 max=[\d.]+ mean=[\d.]+$/m);
    assert.match(out, /^nodes: 1 total, 0 compiled by mlir, 1 on the CPU EP$/m);
    assert.match(out, /^ {2}fallback Relu\(Relu_0\): /m);
  });

  it('feeds --input files', async () => {
    const dir = await tempDir('ort-mlir-run-');
    const model = join(dir, 'neg.onnx');
    await writeFile(model, singleNodeModel('Neg', [tensorInfo('x', DataType.FLOAT, [2])], [tensorInfo('y', DataType.FLOAT, [2])]));
    const pb = join(dir, 'x.pb');
    await writeFile(pb, encodeTensor(floatTensor('x', [2], [1, 3])));
    const io = bufferIo();
    assert.equal(await main(['run', model, '-e', 'cpu', '--input', `x=${pb}`], io), 0, io.err.join(''));
    assert.match(io.out.join(''), /^output y: FLOAT \[2\] min=-3 max=-1 mean=-2$/m);
    const bad = bufferIo();
    assert.equal(await main(['run', model, '-e', 'cpu', '--input', `q=${pb}`], bad), 2);
    assert.match(bad.err.join(''), /--input q: the model has no such input/);
  });
});

describe('random inputs', () => {
  it('produce finite values of every generated dtype', () => {
    const rand = seededRandom(1);
    for (const dt of [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16, DataType.FLOAT8E4M3FN,
      DataType.FLOAT8E4M3FNUZ, DataType.FLOAT8E5M2, DataType.FLOAT8E5M2FNUZ, DataType.FLOAT8E8M0, DataType.FLOAT4E2M1,
      DataType.INT4, DataType.UINT4, DataType.INT2, DataType.UINT2, DataType.INT8, DataType.INT64, DataType.BOOL]) {
      const t = randomTensor(dt, [5, 3], rand);
      const v = tensorValues(t);
      assert.ok(v.kind !== 'string');
      assert.equal(v.values.length, elementCount(t.dims));
      for (const x of v.values) assert.ok(Number.isFinite(Number(x)), `${DataType[dt]}: ${x}`);
    }
  });

  it('round floats to the nearest half', () => {
    for (const x of [0, 1, -2, 0.1, 1e-6, 65504, 1e6]) {
      const back = halfToFloat(floatToHalfBits(x));
      assert.ok(Math.abs(back - Math.min(x, 65504)) <= Math.abs(x) * 2 ** -11 + 2 ** -25, `${x} → ${back}`);
    }
  });
});
