// blockPaddedDepthwise (src/codegen/schedules/depthwise-blocks.ts): which
// padded depthwise convolutions become channel-block loops, the loop's
// shape, and differential checks against onnxruntime at 1 and 2 threads
// (blocks with 5×5 and strided kernels, fused epilogues, a residual operand
// sliced with the block, and a batch of two, which stays whole).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { blockChannels, blockPaddedDepthwise } from '../../src/codegen/schedules/depthwise-blocks.js';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;

/**
 * A k×k depthwise convolution of %arg0 [48, h, w] (pads (k - 1) / 2) with
 * per-channel weights and a residual operand, as EPILOGUE_PREPARE_PASSES
 * leave it (3×3 over 20 rows of 40 unless told).
 */
function depthwiseIr(residualMap = '#id', h = 20, k = 3, w = 40): string[] {
  const p = (k - 1) / 2;
  const [hp, wp] = [h + 2 * p, w + 2 * p];
  const out = `tensor<48x${h}x${w}xf32>`;
  const kernel = [...Array(k).keys()];
  const taps = kernel.flatMap((i) => kernel.map((j) => [i, j]));
  const slices = taps.map(([i, j], n) => `  %t${n} = tensor.extract_slice %expanded[0, 0, ${i}, ${j}] [1, 48, ${h}, ${w}] [1, 1, 1, 1] : tensor<1x48x${hp}x${wp}xf32> to ${out}`);
  const ins = taps.map((_, n) => `%t${n}, %w`).join(', ');
  const types = taps.map(() => `${out}, tensor<48x${k}x${k}xf32>`).join(', ');
  const maps = taps.map(([i, j]) => `#id, affine_map<(d0, d1, d2) -> (d0, ${i}, ${j})>`).join(', ');
  return [
    '#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>',
    'module {',
    `  func.func @f(%arg0: ${out}, %w: tensor<48x${k}x${k}xf32>, %res: ${out}) -> ${out} {`,
    '    %cst = arith.constant 0.000000e+00 : f32',
    `    %padded = tensor.pad %arg0 low[0, ${p}, ${p}] high[0, ${p}, ${p}] {`,
    '    ^bb0(%a: index, %b: index, %c: index):',
    '      tensor.yield %cst : f32',
    `    } : ${out} to tensor<48x${hp}x${wp}xf32>`,
    `    %expanded = tensor.expand_shape %padded [[0, 1], [2], [3]] output_shape [1, 48, ${hp}, ${wp}] : tensor<48x${hp}x${wp}xf32> into tensor<1x48x${hp}x${wp}xf32>`,
    ...slices.map((l) => `  ${l}`),
    `    %e = tensor.empty() : ${out}`,
    `    %y = linalg.generic {indexing_maps = [${maps}, ${residualMap}, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(${ins}, %res : ${types}, ${out}) outs(%e : ${out}) {`,
    `    ^bb0(${taps.map((_, n) => `%x${n}: f32, %w${n}: f32`).join(', ')}, %r: f32, %out: f32):`,
    '      %p0 = arith.mulf %x0, %w0 : f32',
    ...taps.slice(1).map((_, n) => `      %p${n + 1} = math.fma %x${n + 1}, %w${n + 1}, %p${n} : f32`),
    `      %s = arith.addf %p${taps.length - 1}, %r : f32`,
    '      linalg.yield %s : f32',
    `    } -> ${out}`,
    `    return %y : ${out}`,
    '  }',
    '}',
  ];
}

describe('padded depthwise convolutions in channel blocks', () => {
  it('sizes blocks to the slab budget, dividing the channels and leaving blocks for every thread', () => {
    assert.equal(blockChannels(240, 16 * 84 * 4, 1), 12);
    assert.equal(blockChannels(200, 6 * 100 * 4, 1), 25);
    assert.equal(blockChannels(8, 27 * 100 * 4, 1), 4);
    assert.equal(blockChannels(48, 1024, 2), 12, 'two blocks per thread at most 12 channels each');
    assert.equal(blockChannels(7, 1024, 1), 7, 'a prime count fitting whole stays one block');
    assert.equal(blockChannels(8, 400 * 1024, 1), 1, 'a slab larger than the budget: one channel per block');
  });

  it('pads, slices and computes each block inside one loop, slicing the channel-indexed operands', () => {
    const r = blockPaddedDepthwise(depthwiseIr(), 1);
    const out = r.lines.join('\n');
    assert.equal(r.summary.length, 1);
    assert.match(r.summary[0], /depthwise 48x20x40: 3 blocks of 16 channels/);
    assert.equal(r.parallel, false);
    assert.match(out, /%ortmlir_dw0_hi = arith\.constant 3 : index/);
    assert.match(out, /%y = scf\.for %ortmlir_dw0_i = %ortmlir_dw0_lo to %ortmlir_dw0_hi step %ortmlir_dw0_step iter_args\(%ortmlir_dw0_o = %e\) -> \(tensor<48x20x40xf32>\)/);
    assert.match(out, /tensor\.extract_slice %arg0\[%ortmlir_dw0_c, 0, 0\] \[16, 20, 40\]/);
    // The slab: its four borders zeroed, the block's source copied into the interior (no memset of the whole slab).
    assert.equal((out.match(/= linalg\.fill ins\(%cst : f32\) outs\(%ortmlir_dw0_z\d_s : /g) ?? []).length, 4);
    assert.match(out, /%ortmlir_dw0_z1_s = tensor\.extract_slice %ortmlir_dw0_z0\[0, 21, 0\] \[16, 1, 42\]/);
    assert.match(out, /%ortmlir_dw0_pad = tensor\.insert_slice %ortmlir_dw0_src into %ortmlir_dw0_z3\[0, 1, 1\] \[16, 20, 40\]/);
    assert.doesNotMatch(out, /tensor\.pad /);
    assert.match(out, /tensor\.extract_slice %ortmlir_dw0_pad\[0, 2, 1\] \[16, 20, 40\] \[1, 1, 1\]/);
    assert.match(out, /tensor\.extract_slice %w\[%ortmlir_dw0_c, 0, 0\] \[16, 3, 3\]/);
    assert.match(out, /tensor\.extract_slice %res\[%ortmlir_dw0_c, 0, 0\] \[16, 20, 40\]/);
    assert.match(out, /%ortmlir_dw0_next = tensor\.insert_slice %ortmlir_dw0_y into %ortmlir_dw0_o\[%ortmlir_dw0_c, 0, 0\] \[16, 20, 40\]/);
    assert.match(out, /scf\.yield %ortmlir_dw0_next : tensor<48x20x40xf32>/);
    // The whole pad, its view and the whole-size taps are gone.
    assert.doesNotMatch(out, /%padded = |%expanded = |%t0 = /);
  });

  it('computes four output rows per iteration from row-strided views of the slab when no operand reads along rows', () => {
    const out = blockPaddedDepthwise(depthwiseIr('affine_map<(d0, d1, d2) -> (d0, 0, 0)>'), 1).lines.join('\n');
    assert.match(out, /%ortmlir_dw0_rows:4 = linalg\.generic /);
    // Rows 0 – 5 of the slab (4 output rows + 3 kernel rows - 1) at 3 column offsets: 18 views, not 4·9 = 36 taps.
    assert.equal((out.match(/= tensor\.extract_slice %ortmlir_dw0_pad\[/g) ?? []).length, 18);
    assert.match(out, /tensor\.extract_slice %ortmlir_dw0_pad\[0, 5, 2\] \[16, 5, 40\] \[1, 4, 1\]/);
    // The rows go straight into the output buffer: rows 3, 7, ... of the block are one strided subview.
    assert.match(out, /%ortmlir_dw0_m = memref\.alloc\(\) \{alignment = 64 : i64\} : memref<48x20x40xf32>/);
    assert.match(out, /scf\.for %ortmlir_dw0_i = %ortmlir_dw0_lo to %ortmlir_dw0_hi step %ortmlir_dw0_step \{/);
    assert.match(out, /%ortmlir_dw0_q3 = memref\.subview %ortmlir_dw0_m\[%ortmlir_dw0_c, 3, 0\] \[16, 5, 40\] \[1, 4, 1\] : memref<48x20x40xf32> to memref<16x5x40xf32, strided<\[800, 160, 1\], offset: \?>>/);
    assert.match(out, /bufferization\.materialize_in_destination %ortmlir_dw0_rows#3 in restrict writable %ortmlir_dw0_q3 /);
    assert.match(out, /%y = bufferization\.to_tensor %ortmlir_dw0_m restrict writable : memref<48x20x40xf32> to tensor<48x20x40xf32>/);
    assert.doesNotMatch(out, /insert_slice %ortmlir_dw0_rows/);
  });

  it('leaves out the terms of taps that read only padding rows (5×5 over 2 rows: 2 of 5 kernel rows per output row)', () => {
    // 64 columns: 48 channels of 2-row slabs of 40 would fit one block.
    const out = blockPaddedDepthwise(depthwiseIr('affine_map<(d0, d1, d2) -> (d0, 0, 0)>', 2, 5, 64), 1).lines.join('\n');
    assert.match(out, /%ortmlir_dw0_rows:2 = linalg\.generic /);
    // Slab rows 2 and 3 hold the image: 2 rows at 5 column offsets are the only views.
    assert.equal((out.match(/= tensor\.extract_slice %ortmlir_dw0_pad\[/g) ?? []).length, 10);
    assert.doesNotMatch(out, /%ortmlir_dw0_pad\[0, [0145], /);
    // Per row 10 terms: one multiply and nine fused multiply-adds, then the residual add.
    assert.equal((out.match(/= arith\.mulf %ortmlir_dw0_v/g) ?? []).length, 2);
    assert.equal((out.match(/= math\.fma %ortmlir_dw0_v/g) ?? []).length, 18);
    assert.doesNotMatch(out, /_zt|arith\.constant 0\.0+e\+00 : f32\n\s+%ortmlir_dw0_r/);
  });

  it('shares blocks out across threads only when the convolution has the work to pay for a fork', () => {
    // 5×5 over 40 rows of 64: 2 · 25 · 48 · 40 · 64 = 6.1 MFLOP; 3×3 over 20 rows of 40: 0.7 MFLOP.
    const large = blockPaddedDepthwise(depthwiseIr('#id', 40, 5, 64), 2);
    assert.equal(large.parallel, true);
    assert.match(large.summary[0], /: \d+ parallel blocks of /);
    const out = large.lines.join('\n');
    assert.match(out, /%y = scf\.forall \(%ortmlir_dw0_i\) in \(\d+\) shared_outs\(%ortmlir_dw0_o = %e\)/);
    assert.match(out, /tensor\.parallel_insert_slice %ortmlir_dw0_y into %ortmlir_dw0_o\[%ortmlir_dw0_c, 0, 0\]/);
    // A depthwise flop costs about four matmul flops: 3×3 over 24 rows of 80 (1.7 MFLOP) is worth a fork too.
    assert.equal(blockPaddedDepthwise(depthwiseIr('#id', 24, 3, 80), 2).parallel, true);
    const small = blockPaddedDepthwise(depthwiseIr(), 2);
    assert.equal(small.parallel, false);
    assert.match(small.summary[0], /: 3 blocks of 16 channels/, 'sized as on one thread');
    assert.match(small.lines.join('\n'), /%y = scf\.for %ortmlir_dw0_i = /);
  });

  it('leaves the convolution whole when an operand mixes the channel into other dimensions', () => {
    const r = blockPaddedDepthwise(depthwiseIr('affine_map<(d0, d1, d2) -> (d1, d0, d2)>'), 1);
    assert.equal(r.summary.length, 0);
    assert.deepEqual(r.lines, depthwiseIr('affine_map<(d0, d1, d2) -> (d1, d0, d2)>'));
  });

  /**
   * Depthwise Conv (+ bias) + BatchNorm + HardSwish, optionally + the input
   * (a residual), or followed by a 1×1 convolution to `pointwise` channels
   * (which reads the epilogue collapsed: depthwise-epilogue.ts).
   */
  function model(x: number[], k: number, attrs: Record<string, number[] | number>, residual = false, pointwise = 0): { bytes: Uint8Array; feeds: Record<string, HostTensor> } {
    const b = new ModelBuilder({ opset: 17 });
    const c = x[1];
    const feeds: Record<string, HostTensor> = { x: randomTensor(F, x, 3) };
    b.input('x', F, x);
    const w = b.initializer('w', F, [c, 1, k, k], Array.from({ length: c * k * k }, (_, i) => ((i * 7) % 11) / 11 - 0.45));
    const bias = b.initializer('bias', F, [c], Array.from({ length: c }, (_, i) => (i % 5) / 10));
    const [conv] = b.node('Conv', ['x', w, bias], { attrs: { group: c, ...attrs } });
    const bn = ['scale', 'offset', 'mean', 'var'].map((n, j) => b.initializer(n, F, [c], Array.from({ length: c }, (_, i) => (j === 3 ? 1 + (i % 3) / 4 : ((i + j) % 4) / 8))));
    const [norm] = b.node('BatchNormalization', [conv, ...bn]);
    let [y] = b.node('HardSwish', [norm]);
    if (residual) [y] = b.node('Add', [y, 'x']);
    if (pointwise) {
      const pw = b.initializer('pw', F, [pointwise, c, 1, 1], Array.from({ length: pointwise * c }, (_, i) => ((i * 5) % 13) / 13 - 0.5));
      [y] = b.node('Conv', [y, pw]);
    }
    b.output(y);
    return { bytes: b.build(), feeds };
  }

  const cases: [string, () => ReturnType<typeof model>][] = [
    ['5×5, pads 2, in blocks of channels', () => model([1, 48, 20, 40], 5, { pads: [2, 2, 2, 2] })],
    // 6.1 MFLOP: the blocks are shared out at two threads (plain form, then rows at a time).
    ['5×5 over 40 rows of 64 (parallel blocks)', () => model([1, 48, 40, 64], 5, { pads: [2, 2, 2, 2] }, true)],
    ['5×5 over 40 rows of 64, rows at a time (parallel blocks)', () => model([1, 48, 40, 64], 5, { pads: [2, 2, 2, 2] })],
    ['3×3 with strides 2 and uneven pads', () => model([1, 32, 31, 64], 3, { pads: [1, 0, 1, 1], strides: [2, 2] })],
    ['3×3 + residual Add of the input', () => model([1, 24, 16, 70], 3, { pads: [1, 1, 1, 1] }, true)],
    ['3×3 over 6 rows (three rows per iteration)', () => model([1, 40, 6, 48], 3, { pads: [1, 1, 1, 1] })],
    ['5×5 over 2 rows (cls)', () => model([1, 64, 2, 96], 5, { pads: [2, 2, 2, 2] })],
    ['5×5 with strides (2, 1) over 3 rows (cls: two output rows at once, padding terms left out)', () => model([1, 104, 3, 96], 5, { pads: [2, 2, 2, 2], strides: [2, 1] })],
    ['3×3 with strides (2, 1) over 6 rows, then a 1×1 convolution', () => model([1, 32, 6, 96], 3, { pads: [1, 1, 1, 1], strides: [2, 1] }, false, 16)],
    ['3×3 with strides (2, 1) over 16 rows (plain form)', () => model([1, 32, 16, 48], 3, { pads: [1, 1, 1, 1], strides: [2, 1] })],
    ['a batch of two (not blocked)', () => model([2, 16, 20, 40], 3, { pads: [1, 1, 1, 1] })],
    ['3×3 with strides 2, then a 1×1 convolution (epilogue joined)', () => model([1, 32, 24, 64], 3, { pads: [1, 1, 1, 1], strides: [2, 2] }, false, 48)],
    ['5×5 in rows, then a 1×1 convolution (epilogue apart)', () => model([1, 48, 12, 40], 5, { pads: [2, 2, 2, 2] }, false, 32)],
    // Slab rows of 124, 128 and 188 bytes copied 4 or 8 bytes into the padded row (memrefCopy's short
    // path, its aligned path with no middle chunk, and with some).
    ['rows of 31, 32 and 47 columns into the slab', () => model([1, 16, 6, 31], 3, { pads: [1, 1, 1, 1] }, false, 8)],
    ['rows of 32 columns, pads 2', () => model([1, 16, 4, 32], 5, { pads: [2, 2, 2, 2] })],
    ['rows of 47 columns', () => model([1, 16, 4, 47], 3, { pads: [1, 1, 1, 1] })],
  ];
  for (const threads of [1, 2]) {
    for (const [name, build] of cases) {
      it(`${name} matches onnxruntime (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
        const m = build();
        await assertMatchesOrt(m.bytes, m.feeds, { options: { threads } });
      });
    }
  }
});
