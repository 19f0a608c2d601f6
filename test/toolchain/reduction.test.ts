// Reductions in vector lanes (schedules/reduction.ts): which generics the
// schedule takes, and that pooled and reduced models still match
// onnxruntime-node with it, at 1 and 2 threads, with AVX2's and the host's
// vector width.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { planReductions } from '../../src/codegen/schedules/reduction.js';
import { vectorTarget } from '../../src/codegen/schedules/target.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;
const AVX2 = { target: vectorTarget('haswell', ''), threads: 1 };

/** A sum over the trailing `reduced` dims of [c, ...reduced] in mlir-opt's printed form; `combiner` is the body's op. */
function sumIr(c: number, reduced: readonly number[], combiner = 'arith.addf %out, %in fastmath<reassoc> : f32', iterators?: string[]): string[] {
  const rank = reduced.length + 1;
  const dims = Array.from({ length: rank }, (_, i) => `d${i}`).join(', ');
  const inType = `tensor<${[c, ...reduced].join('x')}xf32>`;
  const its = (iterators ?? ['parallel', ...reduced.map(() => 'reduction')]).map((t) => `"${t}"`).join(', ');
  return [
    `#map = affine_map<(${dims}) -> (${dims})>`,
    `#map1 = affine_map<(${dims}) -> (d0)>`,
    'module {',
    `  func.func @f(%arg0: ${inType}) -> tensor<${c}xf32> {`,
    '    %cst = arith.constant 0.000000e+00 : f32',
    `    %0 = tensor.empty() : tensor<${c}xf32>`,
    `    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<${c}xf32>) -> tensor<${c}xf32>`,
    `    %2 = linalg.generic {indexing_maps = [#map, #map1], iterator_types = [${its}]} ins(%arg0 : ${inType}) outs(%1 : tensor<${c}xf32>) {`,
    '    ^bb0(%in: f32, %out: f32):',
    `      %3 = ${combiner}`,
    '      linalg.yield %3 : f32',
    `    } -> tensor<${c}xf32>`,
    `    return %2 : tensor<${c}xf32>`,
    '  }',
    '}',
  ];
}

/** GlobalAveragePool, ReduceMean over the last axis, ReduceMax over the last two, ReduceSum over the last two of x [1, c, h, w]. */
function reductionsModel(c: number, h: number, w: number): Uint8Array {
  const b = new ModelBuilder({ opset: 18 });
  const x = b.input('x', F, [1, c, h, w]);
  const axes = (name: string, v: number[]) => b.initializer(name, DataType.INT64, [v.length], v);
  const [gap] = b.node('GlobalAveragePool', [x], { outputs: ['gap'] });
  const [mean] = b.node('ReduceMean', [x, axes('last', [-1])], { outputs: ['mean'] });
  const [max] = b.node('ReduceMax', [x, axes('hw', [2, 3])], { attrs: { keepdims: 0 }, outputs: ['max'] });
  const [sum] = b.node('ReduceSum', [x, axes('hw2', [2, 3])], { outputs: ['sum'] });
  b.output(gap, F, [1, c, 1, 1]);
  b.output(mean, F, [1, c, h, 1]);
  b.output(max, F, [1, c]);
  b.output(sum, F, [1, c, 1, 1]);
  return b.build();
}

describe('reductions in vector lanes', () => {
  it('plans sums over whole vectors of trailing dimensions, rows of outputs per tile', () => {
    const [r] = planReductions(sumIr(480, [6, 80]), AVX2);
    assert.ok(r, 'a GlobalAveragePool-like sum is planned');
    assert.match(r.plan.summary, /rows 4, 16 lanes/);
    assert.match(planReductions(sumIr(96, [40, 40]), AVX2)[0]?.plan.summary ?? '', /rows 8, 8 lanes/, 'one vector per row where two do not divide');
    assert.equal(planReductions(sumIr(64, [4, 32], 'arith.maximumf %out, %in : f32'), AVX2).length, 1, 'a max has no order to keep');
  });

  it('leaves alone sums it may not reorder, ragged rows and small or interleaved reductions', () => {
    assert.equal(planReductions(sumIr(480, [6, 80], 'arith.addf %out, %in : f32'), AVX2).length, 0, 'no reassoc flag');
    assert.equal(planReductions(sumIr(480, [6, 75]), AVX2).length, 0, 'rows of no whole vector');
    assert.equal(planReductions(sumIr(4, [4, 16]), AVX2).length, 0, 'too small to pay');
    assert.equal(planReductions(sumIr(480, [6, 80], undefined, ['parallel', 'reduction', 'parallel']), AVX2).length, 0, 'reduction not trailing');
    assert.equal(planReductions(sumIr(480, [6, 80], 'arith.subf %out, %in : f32'), AVX2).length, 0, 'not a combiner');
  });

  for (const threads of [1, 2]) {
    for (const features of ['', '-avx512f']) {
      it(`matches onnxruntime at ${threads} thread(s)${features ? ` (${features})` : ''}: pools and reductions`, async () => {
        const options = { threads, targetFeatures: features };
        await assertMatchesOrt(reductionsModel(40, 6, 80), { x: randomTensor(F, [1, 40, 6, 80], 1) }, { options });
        await assertMatchesOrt(reductionsModel(96, 40, 40), { x: randomTensor(F, [1, 96, 40, 40], 2) }, { options });
      });
    }
  }
});
