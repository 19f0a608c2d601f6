// The prepared-IR rewrite that keeps function results distinct buffers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { distinctReturnOperands, mayRepeatResults } from '../../src/toolchain/distinct-results.js';

describe('distinct function results', () => {
  it('detects functions with two results of one type', () => {
    assert.equal(mayRepeatResults('func.func @f(%arg0: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xi1>) {'), false);
    assert.equal(mayRepeatResults('func.func @f(%arg0: tensor<2xf32>) -> (tensor<2xi1>, tensor<2xf32>, tensor<2xi1>) {'), true);
    assert.equal(mayRepeatResults('func.func @f(%arg0: tensor<2xf32>) -> tensor<2xf32> {'), false);
  });

  it('returns a repeated operand through a copy and leaves other returns alone', () => {
    const merged = [
      '    %1 = linalg.fill ins(%true : i1) outs(%0 : tensor<3xi1>) -> tensor<3xi1>',
      '    return %arg0, %1, %1 : tensor<3xf32>, tensor<3xi1>, tensor<3xi1>',
    ].join('\n');
    assert.deepEqual(distinctReturnOperands(merged).split('\n').slice(1), [
      '    %ortmlir_result_copy0 = bufferization.alloc_tensor() copy(%1) : tensor<3xi1>',
      '    return %arg0, %1, %ortmlir_result_copy0 : tensor<3xf32>, tensor<3xi1>, tensor<3xi1>',
    ]);
    const plain = '    return %arg0, %1 : tensor<3xf32>, tensor<3xi1>';
    assert.equal(distinctReturnOperands(plain), plain);
  });
});
