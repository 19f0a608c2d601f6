// PlanStep.threads: a native step records whether its code runs loops on
// several threads, so that a run can keep its event loop turning beside a
// step that keeps only one core busy (runtime/awake-wait.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { decodeModel } from '../../src/onnx/decode.js';
import { compileModel } from '../../src/ep/compile.js';
import { resolveOptions } from '../../src/ep/options.js';

const F = DataType.FLOAT;

/** One partition: x [rows, k] · w [k, n], then an Add of the product to itself. */
function matmulModel(rows: number, k: number, n: number): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', F, [rows, k]);
  const w = b.initializer('w', F, [k, n], Array.from({ length: k * n }, (_, i) => ((i * 5) % 11) / 11 - 0.5));
  const [p] = b.node('MatMul', [x, w]);
  const [y] = b.node('Add', [p, p]);
  b.output(y);
  return b.build();
}

async function stepThreads(bytes: Uint8Array, shape: number[], threads: number): Promise<number[]> {
  const module = await compileModel({
    model: decodeModel(bytes),
    modelBytes: bytes,
    inputTypes: new Map([['x', { dataType: F, shape }]]),
    options: resolveOptions({ cacheDir: '', threads }),
  });
  return module.plan.steps.flatMap((s) => (s.kind === 'native' ? [s.threads] : []));
}

describe('native steps record the threads their code keeps busy', () => {
  it('a 256³ MatMul at two threads: its loops are shared out', async () => {
    assert.deepEqual(await stepThreads(matmulModel(256, 256, 256), [256, 256], 2), [2]);
  });

  it('the same MatMul at one thread, and a small one at two: one thread', async () => {
    assert.deepEqual(await stepThreads(matmulModel(256, 256, 256), [256, 256], 1), [1]);
    assert.deepEqual(await stepThreads(matmulModel(8, 16, 16), [8, 16], 2), [1]);
  });
});
