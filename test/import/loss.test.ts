// Differential tests of NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
// (reductions, class weights, ignore_index, log_prob output, N-D inputs)
// against onnxruntime-node.
import { describe, it } from 'node:test';
import { DataType } from '../../src/onnx/model.js';
import { checkCases, type CaseInput } from '../helpers/op-cases.js';

const D = DataType.DOUBLE;
const I32 = DataType.INT32;
const I64 = DataType.INT64;

const scores = (dims: number[], dataType?: DataType): CaseInput => ({ dims, dataType, lo: -3, hi: 3 });
/** Class labels in [lo, classes - 1]; lo = -1 adds a negative ignore_index. */
const labels = (dims: number[], classes: number, lo = 0, dataType = I64): CaseInput => ({ dims, dataType, lo, hi: classes - 1 });
const weights = (classes: number, dataType?: DataType): CaseInput => ({ dims: [classes], dataType, lo: 0.1, hi: 1 });

describe('loss lowerings match onnxruntime', () => {
  it('NegativeLogLikelihoodLoss: reductions, weights, ignore_index, N-D', async () => {
    await checkCases([
      { op: 'NegativeLogLikelihoodLoss', inputs: [scores([3, 5]), labels([3], 5)], attrs: { reduction: 'none' } },
      { op: 'NegativeLogLikelihoodLoss', inputs: [scores([4, 5, 2]), labels([4, 2], 5)] },
      { op: 'NegativeLogLikelihoodLoss', inputs: [scores([4, 5, 3]), labels([4, 3], 5), weights(5)], attrs: { ignore_index: 1 } },
      { op: 'NegativeLogLikelihoodLoss', inputs: [scores([2, 4, 3, 2]), labels([2, 3, 2], 4, -1), weights(4)], attrs: { reduction: 'sum', ignore_index: -1 } },
      { op: 'NegativeLogLikelihoodLoss', inputs: [scores([2, 4, 3, 2]), labels([2, 3, 2], 4, 0, I32)], attrs: { reduction: 'mean', ignore_index: 2 } },
      { op: 'NegativeLogLikelihoodLoss', inputs: [scores([2, 3, 2, 2, 2]), labels([2, 2, 2, 2], 3, -1), null], attrs: { reduction: 'none', ignore_index: -1 } },
    ], 13);
  });

  it('SoftmaxCrossEntropyLoss: reductions, weights, ignore_index, log_prob output', async () => {
    await checkCases([
      { op: 'SoftmaxCrossEntropyLoss', inputs: [scores([3, 5]), labels([3], 5)] },
      { op: 'SoftmaxCrossEntropyLoss', inputs: [scores([3, 5]), labels([3], 5)], attrs: { reduction: 'none' }, outputs: 2 },
      { op: 'SoftmaxCrossEntropyLoss', inputs: [scores([4, 5, 2]), labels([4, 2], 5), weights(5)], attrs: { ignore_index: 0 }, outputs: 2 },
      { op: 'SoftmaxCrossEntropyLoss', inputs: [scores([2, 4, 3, 2]), labels([2, 3, 2], 4, -1)], attrs: { reduction: 'sum', ignore_index: -1 } },
      { op: 'SoftmaxCrossEntropyLoss', inputs: [scores([2, 4, 3, 2]), labels([2, 3, 2], 4), weights(4)], attrs: { reduction: 'none' }, outputs: 2 },
    ], 13);
  });

  it('SoftmaxCrossEntropyLoss in double precision', async () => {
    await checkCases([
      { op: 'SoftmaxCrossEntropyLoss', inputs: [scores([3, 4, 2], D), labels([3, 2], 4), weights(4, D)], outputs: 2 },
    ], 13);
  });
});
