import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { comparePerf, randomFeeds } from '../../src/cli/perf-command.js';
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
