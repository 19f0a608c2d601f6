// Results returned through a reshape (codegen/result-reshapes.ts): the
// reshape goes, the signature takes the type before it, and compiled
// models whose outputs are reshaped views still match onnxruntime-node.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { returnUnreshaped } from '../../src/codegen/result-reshapes.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;

function func(results: string, ret: string): string[] {
  return [
    'module {',
    `  func.func @f(%arg0: tensor<4x6xf32> {bufferization.writable = false}) -> ${results} {`,
    '    %0 = tensor.empty() : tensor<4x6xf32>',
    '    %1 = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel"]} ins(%arg0 : tensor<4x6xf32>) outs(%0 : tensor<4x6xf32>) {',
    '    ^bb0(%in: f32, %out: f32):',
    '      %n = arith.negf %in : f32',
    '      linalg.yield %n : f32',
    '    } -> tensor<4x6xf32>',
    '    %expanded = tensor.expand_shape %1 [[0, 1], [2]] output_shape [1, 4, 6] : tensor<4x6xf32> into tensor<1x4x6xf32>',
    '    %collapsed = tensor.collapse_shape %expanded [[0, 1, 2]] : tensor<1x4x6xf32> into tensor<24xf32>',
    `    ${ret}`,
    '  }',
    '}',
  ];
}

describe('results returned without their reshapes', () => {
  it('returns the tensor under a chain of reshapes, with its type in the signature', () => {
    const out = returnUnreshaped(func('tensor<24xf32>', 'return %collapsed : tensor<24xf32>'));
    assert.match(out[1], /\) -> tensor<4x6xf32> \{$/);
    assert.equal(out[10].trim(), 'return %1 : tensor<4x6xf32>');
  });

  it('keeps two results that would become one value', () => {
    const lines = func('(tensor<1x4x6xf32>, tensor<4x6xf32>)', 'return %expanded, %1 : tensor<1x4x6xf32>, tensor<4x6xf32>');
    assert.deepEqual(returnUnreshaped(lines), lines);
  });

  it('compiles models whose outputs are reshapes of computed tensors', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', F, [6, 40]);
    const [r] = b.node('Relu', [x]);
    const shape = b.initializer('shape', DataType.INT64, [4], [1, 6, 5, 8]);
    const [y] = b.node('Reshape', [r, shape]);
    const [z] = b.node('Sigmoid', [x]);
    const [u] = b.node('Unsqueeze', [z, b.initializer('axes', DataType.INT64, [1], [0])]);
    b.output(y, F, [1, 6, 5, 8]);
    b.output(u, F, [1, 6, 40]);
    await assertMatchesOrt(b.build(), { x: randomTensor(F, [6, 40], 5) });
  });
});
