// foldCollapsedEpilogue (src/codegen/schedules/depthwise-epilogue.ts): a
// [C, OH, OW] generic's elementwise epilogue on the collapsed [C, OH·OW]
// form joins its body; epilogues that read along the collapsed dimension,
// or whose producer has other uses, stay apart.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { foldCollapsedEpilogue } from '../../src/codegen/schedules/depthwise-epilogue.js';
import { mapAliases } from '../../src/codegen/schedules/ir-scan.js';

/** A [4, 2, 3] generic, its collapse, a per-channel scale computed after it, and the epilogue using both (`second`: the epilogue's other operand and map). */
function ir(second = '%s : tensor<4xf32>', secondMap = '#ch', extraUse = ''): string[] {
  return [
    '#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>',
    '#id2 = affine_map<(d0, d1) -> (d0, d1)>',
    '#ch = affine_map<(d0, d1) -> (d0)>',
    'module {',
    '  func.func @f(%x: tensor<4x2x3xf32>, %v: tensor<4xf32>, %r: tensor<4x6xf32>) -> tensor<4x6xf32> {',
    '    %e = tensor.empty() : tensor<4x2x3xf32>',
    '    %y = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<4x2x3xf32>) outs(%e : tensor<4x2x3xf32>) {',
    '    ^bb0(%in: f32, %out: f32):',
    '      %0 = arith.mulf %in, %in : f32',
    '      linalg.yield %0 : f32',
    '    } -> tensor<4x2x3xf32>',
    ...(extraUse ? [extraUse] : []),
    '    %c = tensor.collapse_shape %y [[0], [1, 2]] : tensor<4x2x3xf32> into tensor<4x6xf32>',
    '    %s = arith.addf %v, %v : tensor<4xf32>',
    '    %e2 = tensor.empty() : tensor<4x6xf32>',
    `    %z = linalg.generic {indexing_maps = [#id2, ${secondMap}, #id2], iterator_types = ["parallel", "parallel"]} ins(%c, ${second.split(' : ')[0]} : tensor<4x6xf32>, ${second.split(' : ')[1]}) outs(%e2 : tensor<4x6xf32>) {`,
    '    ^bb0(%in: f32, %in_1: f32, %out: f32):',
    '      %0 = arith.addf %in, %in_1 : f32',
    '      linalg.yield %0 : f32',
    '    } -> tensor<4x6xf32>',
    '    return %z : tensor<4x6xf32>',
    '  }',
    '}',
  ];
}

const head = (lines: readonly string[]) => lines.findIndex((l) => l.startsWith('    %y = linalg.generic'));

describe('collapsed epilogues joined into their [C, OH, OW] producer', () => {
  it('joins the body, lifts the per-channel map and moves the joined op after the operands the epilogue reads', () => {
    const lines = ir();
    const out = foldCollapsedEpilogue(lines, head(lines), mapAliases(lines), '%ep');
    assert.ok(out);
    const text = out.join('\n');
    assert.match(text, /%y = linalg\.generic \{indexing_maps = \[affine_map<\(d0, d1, d2\) -> \(d0, d1, d2\)>, affine_map<\(d0, d1, d2\) -> \(d0\)>, affine_map<\(d0, d1, d2\) -> \(d0, d1, d2\)>\], iterator_types = \["parallel", "parallel", "parallel"\]\} ins\(%x, %s : tensor<4x2x3xf32>, tensor<4xf32>\) outs\(%e : tensor<4x2x3xf32>\)/);
    assert.match(text, /\^bb0\(%in: f32, %ep_a0: f32, %out: f32\):/);
    // The epilogue's values are renamed: both regions number theirs from %0.
    assert.match(text, /%ep_0 = arith\.addf %0, %ep_a0 : f32\n\s+linalg\.yield %ep_0 : f32/);
    assert.match(text, /%z = tensor\.collapse_shape %y \[\[0\], \[1, 2\]\] : tensor<4x2x3xf32> into tensor<4x6xf32>/);
    assert.ok(out.findIndex((l) => l.includes('%s = arith.addf')) < out.findIndex((l) => l.includes('%y = linalg.generic')), 'after %s is defined');
    assert.doesNotMatch(text, /%c = /);
  });

  it('leaves an epilogue reading the collapsed dimension (a residual) apart', () => {
    const lines = ir('%r : tensor<4x6xf32>', '#id2');
    assert.equal(foldCollapsedEpilogue(lines, head(lines), mapAliases(lines), '%ep'), null);
  });

  it('leaves a producer with other uses apart', () => {
    const lines = ir(undefined, undefined, '    %other = tensor.collapse_shape %y [[0, 1], [2]] : tensor<4x2x3xf32> into tensor<8x3xf32>');
    assert.equal(foldCollapsedEpilogue(lines, head(lines), mapAliases(lines), '%ep'), null);
  });
});
