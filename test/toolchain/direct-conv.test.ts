// The direct convolution schedule (schedules/conv-direct.ts): which
// convolutions it takes, that the pipeline applies it with the padding
// fused per block of output rows, and that compiled models match
// onnxruntime-node at 1 and 2 threads. Winograd's form (conv-winograd.ts)
// would take most of these 3×3 convolutions first: it is off here.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Toolchain } from '../../src/toolchain/tools.js';
import { compileToLibrary, type TargetOptions } from '../../src/toolchain/pipeline.js';
import { directConvFits } from '../../src/codegen/schedules/conv-direct.js';
import { planSchedules } from '../../src/codegen/schedules/index.js';
import type { ConvGeometry } from '../../src/codegen/schedules/conv-im2col.js';
import { vectorTarget } from '../../src/codegen/schedules/target.js';
import { assertMatchesOrt } from '../helpers/differential.js';
import { convCasesModel, paddedConv } from '../helpers/conv-models.js';

const avx512 = vectorTarget('skylake-avx512', '');
const avx2 = vectorTarget('haswell', '');

function geometry(over: Partial<ConvGeometry>): ConvGeometry {
  return { c: 16, h: 10, w: 64, f: 16, kh: 3, kw: 3, oh: 10, ow: 64, strides: [1, 1], dilations: [1, 1], ...over };
}

function target(threads: number): TargetOptions {
  return { cpu: 'host', features: '', optLevel: 2, extraFlags: { mlirOpt: [], opt: [], llc: [] }, threads, winograd: false };
}

describe('direct convolution schedule', () => {
  it('takes stride-1 windows whose channels and columns the micro-kernel divides', () => {
    assert.equal(directConvFits(geometry({}), avx512), true);
    assert.equal(directConvFits(geometry({ kh: 1, kw: 1 }), avx512), false, '1×1 is a plain matmul');
    assert.equal(directConvFits(geometry({ strides: [2, 2] }), avx512), false);
    assert.equal(directConvFits(geometry({ dilations: [1, 2] }), avx512), false);
    assert.equal(directConvFits(geometry({ ow: 40 }), avx512), false, 'columns not a multiple of 32');
    assert.equal(directConvFits(geometry({ f: 12 }), avx512), true, 'the 12-row kernel divides 12 channels');
    assert.equal(directConvFits(geometry({ f: 13 }), avx512), false, 'no kernel height from 4 to 12 divides 13 channels');
    assert.equal(directConvFits(geometry({ f: 64, ow: 16 }), avx2), true, "AVX2's 6 rows do not divide 64 channels, its 4-row kernel does");
  });

  it('pads blocks of output rows on one thread (the slab in L2) and uses the 12-channel kernel where 12 divides', () => {
    const det = planSchedules(paddedConv(96, 24, 160, 160), { target: avx512, threads: 1, winograd: false });
    // 5 rows: 7 padded input rows of 96 × 162 floats (435 KB); 8 would take 622 KB.
    assert.deepEqual(det?.summary, ['linalg.conv_2d_nchw_fchw 24x96x3x3 at 160x160: direct, pad per row block, for rows of 5 / micro [12, 32]']);
    const narrow = planSchedules(paddedConv(16, 16, 8, 64), { target: avx512, threads: 1, winograd: false });
    assert.match(narrow?.summary.join() ?? '', /for rows of 8 \/ micro \[8, 32\]/);
  });

  for (const threads of [1, 2]) {
    it(`compiles with the padding fused per row block (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      const tc = new Toolchain(process.env.ORT_MLIR_TOOLCHAIN_HOME ?? '/usr/lib/llvm-22');
      const r = await compileToLibrary(tc, { ...target(threads), features: '+avx512f' }, [{ id: 'kernel', mlir: paddedConv(32, 16, 16, 64) }], 'direct-conv-test');
      assert.deepEqual(r.failures.map((f) => f.error.message), []);
      assert.ok(r.notes.some((n) => n.includes('direct, pad per row block')), r.notes.join('; '));
    });

    it(`convolutions on the direct path match onnxruntime (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      const m = convCasesModel([
        // Padded, large enough for a forall over blocks of two rows at 2 threads.
        { x: [1, 32, 16, 64], w: [16, 32, 3, 3], attrs: { pads: [1, 1, 1, 1] } },
        // No padding.
        { x: [1, 8, 6, 34], w: [8, 8, 3, 3] },
        // Uneven pads (wider than the window) and a 2×3 window.
        { x: [1, 8, 7, 31], w: [16, 8, 2, 3], attrs: { pads: [1, 0, 0, 3] } },
      ]);
      await assertMatchesOrt(m.bytes, m.feeds, { options: { threads, winograd: false } });
    });
  }
});
