// LLVM's unroll budget: ours by default (it sets opt's and llc's share of a
// compile), the user's when compileFlags.opt sets one (opt rejects an option
// given twice), and a session compiles either way.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { createMlirSession } from '../../src/ep/session.js';
import { unrollFlags } from '../../src/toolchain/pipeline.js';

function model(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [3, 37]);
  const [y] = b.node('Sigmoid', [x], { name: 'act' });
  b.output(y, DataType.FLOAT, [3, 37]);
  return b.build();
}

describe('unrollFlags', () => {
  it('sets a budget below LLVM\'s default when the user sets none', () => {
    const [flag] = unrollFlags([]);
    const m = /^-unroll-threshold=(\d+)$/.exec(flag);
    assert.ok(m, flag);
    assert.ok(Number(m[1]) < 300);
  });

  it('leaves the budget to the user\'s own flag', () => {
    assert.deepEqual(unrollFlags(['-unroll-threshold=400']), []);
    assert.deepEqual(unrollFlags(['--unroll-threshold', '400']), []);
  });

  it('compiles with the user\'s budget in place of ours', async () => {
    const s = await createMlirSession(model(), { cacheDir: '', compileFlags: { opt: ['-unroll-threshold=400'] } });
    try {
      assert.equal(s.report().compiledNodes, 1);
      const x = new Float32Array(3 * 37).map((_, i) => (i - 50) / 10);
      const out = await s.run(new Map([['x', { dataType: DataType.FLOAT, dims: [3, 37], data: new Uint8Array(x.buffer) }]]));
      const y = out.get(s.outputNames[0]);
      assert.ok(y);
      const got = new Float32Array(y.data.buffer, y.data.byteOffset, x.length);
      got.forEach((v, i) => assert.ok(Math.abs(v - 1 / (1 + Math.exp(-x[i]))) < 1e-6, `element ${i}: ${v}`));
    } finally {
      await s.dispose();
    }
  });
});
