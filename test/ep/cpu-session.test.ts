import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CpuSession } from '../../src/ep/cpu-session.js';
import { EpError } from '../../src/ep/errors.js';
import { DataType } from '../../src/onnx/model.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { singleNodeModel, tempDir, tensorInfo } from '../cli/fixtures.js';

const addModel = singleNodeModel('Add',
  [tensorInfo('a', DataType.FLOAT, [2]), tensorInfo('b', DataType.FLOAT, [2])],
  [tensorInfo('y', DataType.FLOAT, [2])]);

function floats(values: number[]): HostTensor {
  return { dataType: DataType.FLOAT, dims: [values.length], data: new Uint8Array(new Float32Array(values).buffer) };
}

function readFloats(t: HostTensor | undefined): number[] {
  assert.ok(t !== undefined);
  const v = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return Array.from({ length: t.data.byteLength / 4 }, (_, i) => v.getFloat32(i * 4, true));
}

describe('CpuSession', () => {
  it('runs a model given as bytes and reports every node as fallen back', async () => {
    const s = await CpuSession.create(addModel);
    try {
      assert.deepEqual([...s.inputNames], ['a', 'b']);
      assert.deepEqual([...s.outputNames], ['y']);
      const out = await s.run(new Map([['a', floats([1, 2])], ['b', floats([10, 20])]]));
      assert.deepEqual(readFloats(out.get('y')), [11, 22]);
      const r = s.report();
      assert.equal(r.totalNodes, 1);
      assert.equal(r.compiledNodes, 0);
      assert.equal(r.fallbackNodes, 1);
      assert.match(r.fallbackReasons[0] ?? '', /^Add\(Add_0\): /);
    } finally {
      await s.dispose();
    }
  });

  it('runs a model given as a path', async () => {
    const file = join(await tempDir('cpu-session-'), 'add.onnx');
    await writeFile(file, addModel);
    const s = await CpuSession.create(file, { intraOpNumThreads: 1 });
    try {
      const out = await s.run(new Map([['a', floats([0.5, 1])], ['b', floats([0.25, -1])]]));
      assert.deepEqual(readFloats(out.get('y')), [0.75, 0]);
      assert.equal(s.report().totalNodes, 1);
    } finally {
      await s.dispose();
    }
  });

  it('wraps load failures in EpError naming the model', async () => {
    await assert.rejects(CpuSession.create('/nonexistent/model.onnx'),
      (e: unknown) => e instanceof EpError && e.message.includes('/nonexistent/model.onnx'));
  });

  it('names the input whose dtype ORT JS cannot carry', async () => {
    const s = await CpuSession.create(addModel);
    try {
      const bf16: HostTensor = { dataType: DataType.BFLOAT16, dims: [2], data: new Uint8Array(4) };
      await assert.rejects(s.run(new Map([['a', bf16], ['b', floats([1, 2])]])),
        (e: unknown) => e instanceof EpError && e.message.includes("input 'a'") && e.message.includes('BFLOAT16'));
    } finally {
      await s.dispose();
    }
  });
});
