// Values crossing a compiled partition's boundary: empty tensors (a zero dim
// after a non-zero one has no bare-pointer memref form) and results that
// canonicalization folds to equal values must still compile.
import { describe, it } from 'node:test';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;

describe('partition boundaries', () => {
  it('empty inputs and outputs (2x0, 2x3x0) compile and run', async () => {
    const b = new ModelBuilder({ opset: 18 });
    b.input('x', F, [2, 3, 8]);
    b.input('e', F, [2, 0]);
    b.input('w', F, [2, 3]);
    const split = b.initializer('split', DataType.INT64, [2], [8, 0]);
    const [whole, empty] = b.node('Split', ['x', split], { attrs: { axis: -1 }, outputs: 2 });
    const [joined] = b.node('Concat', ['e', 'w'], { attrs: { axis: 1 } });
    for (const o of [whole, empty, joined]) b.output(o);
    await assertMatchesOrt(b.build(), {
      x: randomTensor(F, [2, 3, 8], 1),
      e: randomTensor(F, [2, 0], 2),
      w: randomTensor(F, [2, 3], 3),
    });
  });

  it('results computed from constants that fold to one value', async () => {
    const b = new ModelBuilder({ opset: 18 });
    b.input('x', F, [2, 3]);
    const four = b.initializer('four', DataType.INT64, [1], [4]);
    const five = b.initializer('five', DataType.INT64, [1], [5]);
    // Both fold to `true`; CSE then returns one buffer twice unless the results stay distinct.
    const [same4] = b.node('Equal', [four, four]);
    const [same5] = b.node('Equal', [five, five]);
    const [y] = b.node('Relu', ['x']);
    for (const o of [same4, same5, y]) b.output(o);
    await assertMatchesOrt(b.build(), { x: randomTensor(F, [2, 3], 1) });
  });
});
