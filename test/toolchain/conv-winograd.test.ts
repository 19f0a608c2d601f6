// Winograd's F(4, 3) along rows for 3×3 convolutions (schedules/conv-winograd.ts):
// which convolutions it takes, how it chunks them, and that compiled models
// match onnxruntime-node at 1 and 2 threads, with the per-chunk padding, an
// input that is not a pad, one-tile chunks, several chunks, each point as a
// 1×3 convolution and as a matmul with masked columns.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Toolchain } from '../../src/toolchain/tools.js';
import { compileToLibrary, type TargetOptions } from '../../src/toolchain/pipeline.js';
import { winogradChunkTiles, winogradFits } from '../../src/codegen/schedules/conv-winograd.js';
import { planSchedules } from '../../src/codegen/schedules/index.js';
import type { ConvGeometry } from '../../src/codegen/schedules/conv-im2col.js';
import { vectorTarget } from '../../src/codegen/schedules/target.js';
import { assertMatchesOrt } from '../helpers/differential.js';
import { convCasesModel, paddedConv } from '../helpers/conv-models.js';

const avx512 = vectorTarget('skylake-avx512', '');
/**
 * The transforms scale terms by up to 8 before they cancel, so the sums
 * carry a few times the direct form's rounding error: about 1e-5 on these
 * outputs of magnitude ~5, where the runner's atol is 1e-5.
 */
const WINOGRAD_ATOL = 1e-4;

/** A 3×3 convolution of an input padded by one on each side ([C, H + 2, W + 2] read). */
function geometry(over: Partial<ConvGeometry>): ConvGeometry {
  return { c: 32, h: 18, w: 66, f: 16, kh: 3, kw: 3, oh: 16, ow: 64, strides: [1, 1], dilations: [1, 1], ...over };
}

function target(threads: number): TargetOptions {
  return { cpu: 'host', features: '+avx512f', optLevel: 2, extraFlags: { mlirOpt: [], opt: [], llc: [] }, threads };
}

describe('Winograd convolutions', () => {
  it('takes 3×3 stride-1 convolutions of four-row multiples with enough work', () => {
    assert.equal(winogradFits(geometry({})), true);
    assert.equal(winogradFits(geometry({ strides: [2, 2], oh: 8, ow: 32 })), false, 'stride 2');
    assert.equal(winogradFits(geometry({ dilations: [2, 2], h: 20, w: 68 })), false, 'dilation 2');
    assert.equal(winogradFits(geometry({ kh: 5, kw: 5, h: 20, w: 68 })), false, '5×5');
    assert.equal(winogradFits(geometry({ oh: 14, h: 16 })), false, 'rows not a multiple of four');
    assert.equal(winogradFits(geometry({ c: 4 })), false, 'a matmul K of 12');
    assert.equal(winogradFits(geometry({ oh: 4, h: 6, ow: 16, w: 18 })), false, 'too little work to pay for the transforms');
  });

  it('chunks tile rows so that one transformed operand stays within 256 KB', () => {
    // det's 96-channel 160² layer: 96·3·160 floats per tile row (184 KB): one per chunk.
    assert.equal(winogradChunkTiles(geometry({ c: 96, oh: 160, ow: 160, h: 162, w: 162 })), 1);
    // At 80²: 92 KB per tile row, two of the twenty per chunk.
    assert.equal(winogradChunkTiles(geometry({ c: 96, oh: 80, ow: 80, h: 82, w: 82 })), 2);
    const det = planSchedules(paddedConv(96, 24, 160, 160), { target: avx512, threads: 2 });
    assert.match(det?.summary[0] ?? '', /Winograd F\(4, 3\) along rows, 40 parallel chunks of 6 1x3 convolutions/);
    assert.match(det?.summary.join('; ') ?? '', /conv_2d_nchw_fchw 24x96x1x3 at 1x160: direct/);
    // 80 columns: the 32-column kernel does not divide them, so each point is a matmul of shifted rows.
    const narrow = planSchedules(paddedConv(96, 24, 80, 80), { target: avx512, threads: 1 });
    assert.match(narrow?.summary[0] ?? '', /10 chunks of 6 matmuls 24x160x288/);
    const off = planSchedules(paddedConv(96, 24, 160, 160), { target: avx512, threads: 1, winograd: false });
    assert.match(off?.summary.join() ?? '', /direct/);
  });

  it('pads each chunk from the pad\'s source: no padded copy of the whole input is kept', () => {
    const s = planSchedules(paddedConv(32, 16, 16, 64), { target: avx512, threads: 1 });
    assert.ok(s, 'scheduled');
    const uses = s.mlir.split('\n').filter((l) => /%padded\b/.test(l) && !/%padded = /.test(l));
    assert.deepEqual(uses, [], 'the padded tensor is no longer read');
    assert.match(s.mlir, /tensor\.extract_slice %x\[0, 0, %\S+, 0\] \[1, 32, %\S+, 64\]/);
  });

  for (const threads of [1, 2]) {
    const label = `${threads} thread${threads > 1 ? 's' : ''}`;
    it(`compiles, the matmuls scheduled inside the chunk loop (${label})`, async () => {
      const tc = new Toolchain(process.env.ORT_MLIR_TOOLCHAIN_HOME ?? '/usr/lib/llvm-22');
      const r = await compileToLibrary(tc, target(threads), [{ id: 'kernel', mlir: paddedConv(64, 16, 16, 128) }], 'winograd-test');
      assert.deepEqual(r.failures.map((f) => f.error.message), []);
      assert.ok(r.notes.some((n) => /Winograd F\(4, 3\) along rows, 2 (parallel )?chunks/.test(n)), r.notes.join('; '));
      assert.ok(r.notes.some((n) => n.includes('conv_2d_nchw_fchw 16x64x1x3 at 2x128: direct')), r.notes.join('; '));
      assert.ok(!r.notes.some((n) => n.includes('schedule failed')), r.notes.join('; '));
    });

    it(`matches onnxruntime (${label})`, async () => {
      const m = convCasesModel([
        // Two chunks of two tile rows; padded per chunk.
        { x: [1, 64, 16, 128], w: [16, 64, 3, 3], attrs: { pads: [1, 1, 1, 1] } },
        // One-tile chunks (the transformed rows without their unit dimension).
        { x: [1, 96, 8, 128], w: [8, 96, 3, 3], attrs: { pads: [1, 1, 1, 1] } },
        // No padding: the input rows are sliced, not padded.
        { x: [1, 32, 34, 34], w: [16, 32, 3, 3] },
        // A bias, 12 channels, and 40 columns (matmul columns the 32-wide kernel does not divide).
        { x: [1, 24, 40, 40], w: [12, 24, 3, 3], attrs: { pads: [1, 1, 1, 1] }, bias: true },
      ]);
      const { report } = await assertMatchesOrt(m.bytes, m.feeds, { options: { threads }, atol: WINOGRAD_ATOL });
      assert.equal(report.fallbackNodes, 0);
    });
  }
});
