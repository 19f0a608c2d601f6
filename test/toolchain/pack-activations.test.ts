// Matmuls by a computed B packed into panels at run time
// (schedules/pack-activations.ts): which shapes it takes, and that compiled
// 1×1 convolutions and two-input MatMuls still match onnxruntime-node, with
// AVX2's 16-column panels as well as the host's.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { packsActivation } from '../../src/codegen/schedules/pack-activations.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;

/** y = Relu(Conv1×1(x) + bias), x [1, c, h, w]. */
function pointwiseConv(c: number, f: number, h: number, w: number): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', F, [1, c, h, w]);
  const wt = b.initializer('w', F, [f, c, 1, 1], Array.from({ length: f * c }, (_, i) => ((i * 7) % 13) / 13 - 0.5));
  const bias = b.initializer('b', F, [f], Array.from({ length: f }, (_, i) => i / f - 0.5));
  const [y] = b.node('Conv', [x, wt, bias]);
  const [r] = b.node('Relu', [y], { outputs: ['y'] });
  b.output(r, F, [1, f, h, w]);
  return b.build();
}

/** y = Sigmoid(a · b), both inputs. */
function twoInputMatmul(m: number, k: number, n: number): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const a = b.input('a', F, [m, k]);
  const c = b.input('b', F, [k, n]);
  const [p] = b.node('MatMul', [a, c]);
  const [y] = b.node('Sigmoid', [p], { outputs: ['y'] });
  b.output(y, F, [m, n]);
  return b.build();
}

describe('packed activations', () => {
  it('packs products with enough rows and whole panels', () => {
    assert.ok(packsActivation(240, 960, 16));
    assert.ok(packsActivation(128, 1920, 32));
    assert.ok(!packsActivation(8, 960, 16), 'too few rows to pay for the copy');
    assert.ok(!packsActivation(30, 960, 16), 'rows the packed kernels do not divide');
    assert.ok(!packsActivation(64, 100, 16), 'no whole panels');
    assert.ok(!packsActivation(64, 32, 32), 'one panel');
  });

  for (const threads of [1, 2]) {
    for (const features of ['', '-avx512f']) {
      it(`matches onnxruntime at ${threads} thread(s)${features ? ` (${features})` : ''}: 1×1 convolutions and a two-input MatMul`, async () => {
        const options = { threads, targetFeatures: features };
        await assertMatchesOrt(pointwiseConv(24, 32, 4, 16), { x: randomTensor(F, [1, 24, 4, 16], 1) }, { options });
        await assertMatchesOrt(pointwiseConv(40, 64, 6, 32), { x: randomTensor(F, [1, 40, 6, 32], 2) }, { options });
        await assertMatchesOrt(twoInputMatmul(64, 48, 128), { a: randomTensor(F, [64, 48], 3), b: randomTensor(F, [48, 128], 4) }, { options });
      });
    }
  }
});
