// MatMul by a constant weight packed into column panels at compile time
// (import/packed-matmul.ts), its schedule (schedules/packed-matmul.ts) and
// its lifted epilogue (schedules/packed-epilogue.ts): the layout, the plans,
// that the pipeline applies them, and that compiled models match
// onnxruntime-node.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, type OnnxTensor } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { decodeModel } from '../../src/onnx/decode.js';
import { compileModel } from '../../src/ep/compile.js';
import { resolveOptions } from '../../src/ep/options.js';
import { packPanels, packsWeight } from '../../src/import/packed-matmul.js';
import { scheduleOps } from '../../src/codegen/schedules/index.js';
import { liftPackedEpilogues } from '../../src/codegen/schedules/packed-epilogue.js';
import { packedTiles, rowBands, scanPackedMatmuls } from '../../src/codegen/schedules/packed-matmul.js';
import { vectorTarget } from '../../src/codegen/schedules/target.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;
const AVX512 = vectorTarget('skylake-avx512', '');
/** AVX-512's panel width (its micro-kernel's columns), which the IR built here uses. */
const PANEL_COLUMNS = 32;

function floats(t: OnnxTensor): Float32Array {
  return new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
}

/** A packed matmul [m, k] × panels → [m, panels, 32], in mlir-opt's printed form, with a bias + Relu epilogue over [m, n]. */
function packedWithEpilogue(m: number, k: number, panels: number): string {
  const n = panels * PANEL_COLUMNS;
  const c3 = `tensor<${m}x${panels}x${PANEL_COLUMNS}xf32>`;
  const c2 = `tensor<${m}x${n}xf32>`;
  return [
    '#map = affine_map<(d0, d1, d2, d3) -> (d0, d3)>',
    '#map1 = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>',
    '#map2 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>',
    '#map3 = affine_map<(d0, d1) -> (d0, d1)>',
    '#map4 = affine_map<(d0, d1) -> (d1)>',
    'module {',
    `  func.func @kernel(%arg0: tensor<${m}x${k}xf32>, %arg1: tensor<${n}xf32>, %arg2: tensor<${panels}x${k}x${PANEL_COLUMNS}xf32>) -> ${c2} {`,
    '    %cst = arith.constant 0.000000e+00 : f32',
    `    %0 = tensor.empty() : ${c3}`,
    `    %1 = linalg.fill ins(%cst : f32) outs(%0 : ${c3}) -> ${c3}`,
    `    %2 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %arg2 : tensor<${m}x${k}xf32>, tensor<${panels}x${k}x${PANEL_COLUMNS}xf32>) outs(%1 : ${c3}) attrs =  {ortmlir.packed_b = ${PANEL_COLUMNS} : i64} {`,
    '    ^bb0(%in: f32, %in_0: f32, %out: f32):',
    '      %5 = arith.mulf %in, %in_0 : f32',
    '      %6 = arith.addf %out, %5 : f32',
    '      linalg.yield %6 : f32',
    `    } -> ${c3}`,
    `    %collapsed = tensor.collapse_shape %2 [[0], [1, 2]] : ${c3} into ${c2}`,
    `    %3 = tensor.empty() : ${c2}`,
    `    %4 = linalg.generic {indexing_maps = [#map3, #map4, #map3], iterator_types = ["parallel", "parallel"]} ins(%collapsed, %arg1 : ${c2}, tensor<${n}xf32>) outs(%3 : ${c2}) {`,
    '    ^bb0(%in: f32, %in_0: f32, %out: f32):',
    '      %5 = arith.addf %in, %in_0 : f32',
    '      %6 = arith.maximumf %5, %cst : f32',
    '      linalg.yield %6 : f32',
    `    } -> ${c2}`,
    `    return %4 : ${c2}`,
    '  }',
    '}',
  ].join('\n');
}

function matmulModel(a: number[], k: number, n: number, epilogue: boolean): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', F, [...a, k]);
  const w = b.initializer('w', F, [k, n], Array.from({ length: k * n }, (_, i) => ((i * 7) % 13) / 13 - 0.5));
  let [y] = b.node('MatMul', [x, w]);
  if (epilogue) {
    const bias = b.initializer('bias', F, [n], Array.from({ length: n }, (_, i) => i / n - 0.5));
    const [sum] = b.node('Add', [y, bias]);
    [y] = b.node('Relu', [sum]);
  }
  b.output(y, F, [...a, n]);
  return b.build();
}

describe('packed matmul weights', () => {
  it('packs a weight into zero-padded column panels', () => {
    const k = 3;
    const n = 40;
    const data = new Float32Array(k * n).map((_, i) => i + 1);
    const p = packPanels({ name: 'w', dataType: F, dims: [k, n], data: new Uint8Array(data.buffer) }, PANEL_COLUMNS);
    assert.deepEqual(p.dims, [2, k, PANEL_COLUMNS]);
    const v = floats(p);
    // Panel 0, row 1, column 5 is w[1][5]; panel 1, row 2, column 3 is w[2][35]; past column 39 it is zero.
    assert.equal(v[(0 * k + 1) * PANEL_COLUMNS + 5], data[1 * n + 5]);
    assert.equal(v[(1 * k + 2) * PANEL_COLUMNS + 3], data[2 * n + 35]);
    assert.equal(v[(1 * k + 2) * PANEL_COLUMNS + 8], 0);
  });

  it('packs weights large enough, with row counts the kernels divide', () => {
    assert.ok(packsWeight(40, 120, 6625, 32));
    assert.ok(packsWeight(7, 128, 128, 32));
    assert.ok(!packsWeight(50, 128, 128, 32), '50 rows: neither small nor a multiple of 4');
    assert.ok(!packsWeight(64, 16, 128, 32), 'a 2K-element weight stays in cache anyway');
    assert.ok(!packsWeight(64, 512, 32, 32), 'one panel');
    assert.ok(packsWeight(64, 512, 32, 16), 'two panels of AVX2 width');
  });

  it('lifts the epilogue into the panel layout and fuses it into the tiles', () => {
    const lines = liftPackedEpilogues(packedWithEpilogue(24, 64, 4).split('\n'));
    const text = lines.join('\n');
    assert.match(text, /tensor\.expand_shape %arg1 \[\[0, 1\]\] output_shape \[4, 32\]/);
    assert.match(text, /= linalg\.generic \{indexing_maps = \[affine_map<\(d0, d1, d2\) -> \(d0, d1, d2\)>, affine_map<\(d0, d1, d2\) -> \(d1, d2\)>/);
    assert.doesNotMatch(text, /%collapsed = /, 'the collapse between the product and the epilogue is gone');
    assert.match(text, /%4 = tensor\.collapse_shape %ortmlir_lift_\d+ \[\[0\], \[1, 2\]\] : tensor<24x4x32xf32> into tensor<24x128xf32>/);
    const s = scheduleOps({ mlir: packedWithEpilogue(24, 64, 4), summary: [], parallel: false }, { target: AVX512, threads: 1 });
    assert.ok(s);
    assert.deepEqual(s.summary, ['packed matmul 24x128x64 + epilogue: for [24, 4 panels] / micro [12, 32, 1]']);
    assert.match(s.mlir, /linalg\.generic \{ortmlir\.sched_epilogue = 0 : i64, /);
    assert.match(s.mlir, /linalg\.fill \{ortmlir\.sched = 0 : i64\}/);
  });

  it('plans row tiles that divide the rows, and enough tiles for the threads', () => {
    const [op] = scanPackedMatmuls(packedWithEpilogue(40, 120, 208).split('\n'));
    assert.ok(op);
    assert.deepEqual({ ...packedTiles(op, { target: AVX512, threads: 1 }) }, { m: 40, rows: 40, panels: 4, micro: 10, columns: 32, parallel: false });
    const two = packedTiles(op, { target: AVX512, threads: 2 });
    assert.ok(two.parallel);
    assert.ok((40 / two.rows) * (208 / two.panels) >= 8);
    const avx2 = packedTiles(op, { target: vectorTarget('haswell', ''), threads: 1 });
    assert.equal(avx2.micro, 5);
    assert.equal(avx2.columns, 16);
  });

  it('splits rows that only a low kernel divides into a band of the default height and a remainder (AVX2)', () => {
    const op = { line: 0, m: 512, k: 512, panels: 32, panelColumns: 16 };
    const avx2 = { target: vectorTarget('haswell', ''), threads: 2 };
    assert.deepEqual(rowBands(op, avx2, true).map((t) => [t.m, t.micro, t.parallel]), [[510, 6, true], [2, 2, false]]);
    assert.deepEqual(rowBands(op, avx2, false).map((t) => [t.m, t.micro]), [[512, 4]], 'without a fused epilogue: one band');
    const wide = { ...op, panels: 16, panelColumns: 32 };
    assert.deepEqual(rowBands(wide, { target: AVX512, threads: 1 }, true).map((t) => [t.m, t.micro]), [[512, 8]]);
    assert.deepEqual(rowBands({ ...op, m: 200 }, avx2, true).map((t) => [t.m, t.micro]), [[200, 5]], 'a 5-row kernel has accumulators enough');
  });

  for (const [targetCpu, columns] of [['skylake-avx512', 32], ['haswell', 16]] as const) {
    it(`passes the packed panels instead of the weight, as wide as the ${targetCpu} kernel`, async () => {
      const bytes = matmulModel([24], 64, 128, false);
      const model = decodeModel(bytes);
      const module = await compileModel({
        model,
        modelBytes: bytes,
        inputTypes: new Map([['x', { dataType: F, shape: [24, 64] }]]),
        options: resolveOptions({ cacheDir: '', targetCpu }),
      });
      const weights = module.plan.steps.flatMap((s) => (s.kind === 'native' ? s.args.filter((a) => a.role === 'weight') : []));
      assert.deepEqual(weights.map((a) => [a.name, a.dims]), [[`w#panels${columns}`, [128 / columns, 64, columns]]]);
    });
  }

  for (const threads of [1, 2]) {
    it(`matches onnxruntime at ${threads} thread(s): padded columns, epilogues, batches, odd row counts, a shared weight`, async () => {
      const cases: [number[], number, number, boolean][] = [
        [[40], 120, 100, false], // 100 columns: the last panel is padded; the result is a view of the first 100
        [[40], 120, 100, true], // the same, its bias + Relu reading the view in place
        [[2, 12], 64, 100, true], // a batch folded into the rows, expanded back from the view
        [[24], 64, 128, true], // bias + Relu lifted and fused
        [[2, 12], 64, 128, true], // a batch folded into the rows
        [[7], 128, 96, true], // 7 rows: a 7-row kernel (AVX-512) or 1-row (AVX2)
        [[1, 64], 256, 256, true],
      ];
      for (const [a, k, n, epilogue] of cases) {
        await assertMatchesOrt(matmulModel(a, k, n, epilogue), { x: randomTensor(F, [...a, k], k + n) }, { options: { threads } });
      }
      // AVX2 code on any host: 64 rows in bands of 60 (6-row kernels) and 4, 16-column panels.
      await assertMatchesOrt(matmulModel([64], 256, 256, true), { x: randomTensor(F, [64, 256], 7) }, { options: { threads, targetFeatures: '-avx512f' } });
      // One weight read by two MatMuls: packed once, each product with its own fill and epilogue.
      const b = new ModelBuilder({ opset: 17 });
      const x = b.input('x', F, [16, 64]);
      const z = b.input('z', F, [16, 64]);
      const w = b.initializer('w', F, [64, 128], Array.from({ length: 64 * 128 }, (_, i) => ((i * 5) % 11) / 11 - 0.5));
      const [p] = b.node('MatMul', [x, w]);
      const [q] = b.node('MatMul', [z, w]);
      const [rp] = b.node('Relu', [p]);
      const [rq] = b.node('Sigmoid', [q]);
      const [y] = b.node('Add', [rp, rq]);
      b.output(y, F, [16, 128]);
      await assertMatchesOrt(b.build(), { x: randomTensor(F, [16, 64], 3), z: randomTensor(F, [16, 64], 4) }, { options: { threads } });
    });
  }
});
