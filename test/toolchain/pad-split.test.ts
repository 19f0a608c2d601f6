// splitZeroPads (src/codegen/schedules/pad-split.ts): which pads become
// fill + copy generics for the threads, and which stay pads. The end-to-end
// check of a split pad (an im2col convolution's input at 2 threads against
// onnxruntime) is in conv-fast.test.ts; depthwise convolutions' pads are
// padded per channel block instead (depthwise-blocks.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { splitZeroPads } from '../../src/codegen/schedules/pad-split.js';
import { planParallelGenerics } from '../../src/codegen/schedules/parallel-generic.js';
import { vectorTarget } from '../../src/codegen/schedules/target.js';

/** Above the pad below (16·66·66), like planParallelGenerics' own threshold. */
const MIN = 64 * 1024;

/** A function padding %arg0 [16, 64, 64] by 1 on each side with `value`, read by `reader`. */
function padded(value = '0.000000e+00', reader = '  %r = tensor.expand_shape %padded [[0, 1], [2], [3]] output_shape [1, 16, 66, 66] : tensor<16x66x66xf32> into tensor<1x16x66x66xf32>'): string[] {
  return [
    'func.func @f(%arg0: tensor<16x64x64xf32>) -> tensor<1x16x66x66xf32> {',
    `  %cst = arith.constant ${value} : f32`,
    '  %padded = tensor.pad %arg0 low[0, 1, 1] high[0, 1, 1] {',
    '  ^bb0(%i: index, %j: index, %k: index):',
    '    tensor.yield %cst : f32',
    '  } : tensor<16x64x64xf32> to tensor<16x66x66xf32>',
    reader,
    '  return %r : tensor<1x16x66x66xf32>',
    '}',
  ];
}

describe('zero pads split for threads', () => {
  it('turns a large zero pad into a fill generic, a copy generic into its interior and an insert', () => {
    const out = splitZeroPads(padded(), MIN).join('\n');
    assert.doesNotMatch(out, /tensor\.pad/);
    assert.match(out, /%ortmlir_pad0_fill = linalg\.generic .* ins\(%cst : f32\) outs\(%ortmlir_pad0_e : tensor<16x66x66xf32>\)/);
    assert.match(out, /%ortmlir_pad0_in = tensor\.extract_slice %ortmlir_pad0_fill\[0, 1, 1\] \[16, 64, 64\] \[1, 1, 1\]/);
    assert.match(out, /%ortmlir_pad0_copy = linalg\.generic .* ins\(%arg0 : tensor<16x64x64xf32>\) outs\(%ortmlir_pad0_in : tensor<16x64x64xf32>\)/);
    assert.match(out, /%padded = tensor\.insert_slice %ortmlir_pad0_copy into %ortmlir_pad0_fill\[0, 1, 1\] \[16, 64, 64\] \[1, 1, 1\]/);
    // Both generics are what the thread split then picks up.
    const generics = planParallelGenerics(out.split('\n'), { target: vectorTarget('skylake-avx512', ''), threads: 2 });
    assert.equal(generics.length, 2);
  });

  it('keeps pads with another value, small pads, and pads a scheduled op fuses', () => {
    assert.match(splitZeroPads(padded('1.000000e+00'), MIN).join('\n'), /tensor\.pad/);
    assert.match(splitZeroPads(padded(), 16 * 66 * 66 + 1).join('\n'), /tensor\.pad/);
    const tagged = '  %r = linalg.conv_2d_nchw_fchw {ortmlir.sched = 0 : i64} ins(%padded, %w : tensor<16x66x66xf32>, tensor<1x16x3x3xf32>) outs(%o : tensor<1x1x64x64xf32>) -> tensor<1x1x64x64xf32>';
    assert.match(splitZeroPads(padded(undefined, tagged), MIN).join('\n'), /tensor\.pad/, 'read by a tagged op');
    const viaExpand = [...padded(), ''];
    viaExpand.splice(7, 0, '  %c = linalg.conv_2d_nchw_fchw {ortmlir.sched = 0 : i64} ins(%r, %w : tensor<1x16x66x66xf32>, tensor<1x16x3x3xf32>) outs(%o : tensor<1x1x64x64xf32>) -> tensor<1x1x64x64xf32>');
    assert.match(splitZeroPads(viaExpand, MIN).join('\n'), /tensor\.pad/, 'read by a tagged op through an expand_shape');
  });
});
