import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { comparePerf, perfCommand, randomFeeds } from '../../src/cli/perf-command.js';
import { bufferIo } from '../../src/cli/io.js';
import { CliError } from '../../src/cli/errors.js';
import { singleNodeModel, tensorInfo } from './fixtures.js';

describe('comparePerf', () => {
  it('times both EPs alternating, in blocks of consecutive runs, and checks that their outputs agree', async () => {
    const model = singleNodeModel('Relu', [tensorInfo('x', DataType.FLOAT, [4, 8])], [tensorInfo('y', DataType.FLOAT, [4, 8])]);
    for (const block of [1, 3]) {
      const r = await comparePerf(model, randomFeeds(model), { threads: 1, runs: 5, warmup: 1, block });
      assert.equal(r.mismatch, null);
      assert.equal(r.compiledNodes, 1);
      assert.ok(r.oursMs > 0 && r.ortMs > 0 && Number.isFinite(r.ratio), JSON.stringify(r));
    }
  });
});

describe('ort-mlir perf', () => {
  it('takes the gap and block of the bench, and rejects a negative gap', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ort-mlir-perf-'));
    try {
      const path = join(dir, 'relu.onnx');
      await writeFile(path, singleNodeModel('Relu', [tensorInfo('x', DataType.FLOAT, [4, 8])], [tensorInfo('y', DataType.FLOAT, [4, 8])]));
      const io = bufferIo();
      const started = performance.now();
      const code = await perfCommand([path, '-n', '4', '--warmup', '0', '--warmup-ms', '0', '--gap', '20', '--block', '2'], io);
      assert.equal(code, 0);
      assert.match(io.out.join(''), /ratio=[\d.]+ .*outputs=ok/);
      // Two turns of each EP, a 20 ms gap before each turn.
      assert.ok(performance.now() - started >= 4 * 20, 'the gap is waited');
      await assert.rejects(perfCommand([path, '--gap', '-1'], bufferIo()), CliError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
