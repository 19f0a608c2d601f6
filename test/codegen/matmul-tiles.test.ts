// The matmul schedule's tiles (src/codegen/schedules/matmul.ts) and the
// im2col form of convolutions whose patches fit in one chunk
// (src/codegen/schedules/conv-im2col.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matmulTiles } from '../../src/codegen/schedules/matmul.js';
import { NESTED_ATTR, rewriteConvsToMatmul } from '../../src/codegen/schedules/conv-im2col.js';
import { vectorTarget } from '../../src/codegen/schedules/target.js';

const AVX512 = vectorTarget('x86-64-v4', '');

describe('matmul tiles for threads', () => {
  it('splits an exact cache tile only into sizes that divide the matrix (60 × 40: five [12, 40] tiles, not masked [12, 32] ones)', () => {
    const t = matmulTiles({ batch: 1, m: 60, n: 40, k: 2880 }, { target: AVX512, threads: 2 });
    assert.deepEqual(t.cache, [12, 40]);
    assert.equal(t.exact, true);
    assert.equal(t.parallel, true);
  });

  it('still halves dimensions that divide into micro-kernel multiples', () => {
    const t = matmulTiles({ batch: 1, m: 96, n: 256, k: 256 }, { target: AVX512, threads: 2 });
    assert.equal(t.exact, true);
    assert.ok(Math.ceil(96 / t.cache[0]) * Math.ceil(256 / t.cache[1]) >= 8, `${t.cache}`);
  });
});

/** A 1×3 convolution over [1, C, 1, 40] (pads applied already) to F channels: its patches are one chunk. */
function convIr(c: number, f: number): string[] {
  return [
    'module {',
    `  func.func @f(%x: tensor<1x${c}x1x42xf32>, %w: tensor<${f}x${c}x1x3xf32>, %init: tensor<1x${f}x1x40xf32>) -> tensor<1x${f}x1x40xf32> {`,
    `    %y = linalg.conv_2d_nchw_fchw {dilations = dense<[1, 1]> : tensor<2xi64>, strides = dense<[1, 1]> : tensor<2xi64>} ins(%x, %w : tensor<1x${c}x1x42xf32>, tensor<${f}x${c}x1x3xf32>) outs(%init : tensor<1x${f}x1x40xf32>) -> tensor<1x${f}x1x40xf32>`,
    `    return %y : tensor<1x${f}x1x40xf32>`,
    '  }',
    '}',
  ];
}

describe('im2col in one chunk', () => {
  it('is an ordinary matmul, not one nested in a one-iteration loop (its schedule may then use threads)', () => {
    const r = rewriteConvsToMatmul(convIr(960, 60), 2);
    const out = r.lines.join('\n');
    assert.match(r.summary[0], /→ im2col \+ matmul 60x40x2880$/);
    assert.match(out, /= linalg\.matmul ins\(/);
    assert.doesNotMatch(out, new RegExp(NESTED_ATTR.replace('.', '\\.')));
    assert.doesNotMatch(out, /scf\.(for|forall)/);
  });
});
