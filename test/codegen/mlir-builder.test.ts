// FuncBuilder's linalg.generic: reductions' float sums and products are
// marked reassociable (so LLVM vectorizes them), nothing else is.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FuncBuilder, identityMap, affineMap } from '../../src/codegen/mlir-builder.js';

const T = 'tensor<4x8xf32>';
const ACC = 'tensor<4xf32>';

function reduction(combine: string, iterators: ('parallel' | 'reduction')[] = ['parallel', 'reduction']): string {
  const b = new FuncBuilder();
  b.generic({
    inputs: [{ value: '%x', type: T, map: identityMap(2), elem: 'f32' }],
    outputs: [{ value: '%acc', type: ACC, map: affineMap(2, ['d0']), elem: 'f32' }],
    iterators,
    body: (fb, [x, acc]) => [fb.op(`arith.${combine} ${acc}, ${fb.op(`arith.mulf ${x}, ${x} : f32`)} : f32`)],
  });
  return b.body().join('\n');
}

describe('FuncBuilder.generic', () => {
  it('marks the accumulating addf / mulf of a reduction reassociable, and only that op', () => {
    for (const combine of ['addf', 'mulf']) {
      const text = reduction(combine);
      assert.match(text, new RegExp(`arith\\.${combine} %\\w+, %\\w+ fastmath<reassoc> : f32`));
      // The square feeding the sum is not an accumulation.
      assert.equal((text.match(/fastmath/g) ?? []).length, 1, text);
    }
  });

  it('leaves other combiners and all-parallel generics alone', () => {
    assert.doesNotMatch(reduction('maximumf'), /fastmath/);
    assert.doesNotMatch(reduction('addf', ['parallel', 'parallel']), /fastmath/);
  });
});
