// Epilogue fusion (schedules/epilogue.ts) and threads for large generics
// (schedules/parallel-generic.ts): the plans they make, that the pipeline
// applies them, and that the compiled models still match onnxruntime-node.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { Toolchain } from '../../src/toolchain/tools.js';
import { compileToLibrary, type TargetOptions } from '../../src/toolchain/pipeline.js';
import { scheduleOps } from '../../src/codegen/schedules/index.js';
import { addCopyEpilogues } from '../../src/codegen/schedules/matmul.js';
import { findEpilogue, unshareFills } from '../../src/codegen/schedules/epilogue.js';
import { chunkSizes, planParallelGenerics, PARALLEL_MIN_ELEMENTS } from '../../src/codegen/schedules/parallel-generic.js';
import { scanStructuredOps } from '../../src/codegen/schedules/ir-scan.js';
import { vectorTarget } from '../../src/codegen/schedules/target.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;
const M = 64;
const N = 128;
const K = 48;

/** matmul + (bias, relu) generic, in mlir-opt's printed form (what the planner reads), or with inline maps. */
function matmulWithEpilogue(consumerUses = 1, printed = true, n = N): string {
  const t = `tensor<${M}x${n}xf32>`;
  const [map, map1] = printed ? ['#map', '#map1'] : ['affine_map<(d0, d1) -> (d0, d1)>', 'affine_map<(d0, d1) -> (d1)>'];
  const extra = consumerUses > 1 ? `    %again = arith.constant 0 : i32\n    "test.use"(%2) : (${t}) -> ()\n` : '';
  return [
    ...(printed ? ['#map = affine_map<(d0, d1) -> (d0, d1)>', '#map1 = affine_map<(d0, d1) -> (d1)>'] : []),
    'module {',
    `  func.func @kernel(%arg0: tensor<${M}x${K}xf32>, %arg1: tensor<${K}x${n}xf32>, %arg2: tensor<${n}xf32>) -> ${t} {`,
    '    %cst = arith.constant 0.000000e+00 : f32',
    `    %0 = tensor.empty() : ${t}`,
    `    %1 = linalg.fill ins(%cst : f32) outs(%0 : ${t}) -> ${t}`,
    `    %2 = linalg.matmul ins(%arg0, %arg1 : tensor<${M}x${K}xf32>, tensor<${K}x${n}xf32>) outs(%1 : ${t}) -> ${t}`,
    extra,
    `    %3 = linalg.generic {indexing_maps = [${map}, ${map1}, ${map}], iterator_types = ["parallel", "parallel"]} ins(%2, %arg2 : ${t}, tensor<${n}xf32>) outs(%0 : ${t}) {`,
    '    ^bb0(%in: f32, %in_0: f32, %out: f32):',
    '      %4 = arith.addf %in, %in_0 : f32',
    '      %5 = arith.maximumf %4, %cst : f32',
    '      linalg.yield %5 : f32',
    `    } -> ${t}`,
    `    return %3 : ${t}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

const ctx = { target: vectorTarget('skylake-avx512', ''), threads: 2 };

function target(threads: number): TargetOptions {
  return { cpu: 'host', features: '', optLevel: 2, extraFlags: { mlirOpt: [], opt: [], llc: [] }, threads };
}

describe('epilogue fusion', () => {
  it('finds the single elementwise consumer and the fill of a matmul', () => {
    for (const printed of [true, false]) {
      const lines = matmulWithEpilogue(1, printed).split('\n');
      const [mm] = scanStructuredOps(lines, new Set(['linalg.matmul']));
      assert.ok(mm && findEpilogue(lines, mm), `printed: ${printed}`);
    }
    const lines = matmulWithEpilogue().split('\n');
    const [mm] = scanStructuredOps(lines, new Set(['linalg.matmul']));
    assert.ok(mm);
    const epi = findEpilogue(lines, mm);
    assert.ok(epi);
    assert.match(lines[epi.generic], /linalg\.generic/);
    assert.match(lines[epi.fill], /linalg\.fill/);
  });

  it('leaves a matmul whose result has other users alone', () => {
    const lines = matmulWithEpilogue(2).split('\n');
    const [mm] = scanStructuredOps(lines, new Set(['linalg.matmul']));
    assert.ok(mm);
    assert.equal(findEpilogue(lines, mm), null);
  });

  it('tiles the epilogue and fuses the matmul and its fill into the tiles', () => {
    // 32 columns: one panel, so B is read in place (not packed, pack-activations.ts).
    const s = scheduleOps({ mlir: matmulWithEpilogue(1, true, 32), summary: [], parallel: false }, ctx);
    assert.ok(s);
    assert.match(s.summary.join('\n'), /linalg\.matmul 64x32x48 \+ epilogue/);
    assert.match(s.summary.join('\n'), /\+ epilogue/);
    assert.match(s.mlir, /linalg\.generic \{ortmlir\.sched = 0 : i64, indexing_maps/);
    assert.match(s.mlir, /linalg\.fill \{ortmlir\.sched = 0 : i64\}/);
    assert.equal((s.transform?.match(/fuse_into_containing_op/g) ?? []).length, 4);
  });

  it('packs a computed B into panels where they are whole, and lifts the epilogue into them', () => {
    // 1024 columns: 6.3 MFLOP, enough to share out across threads (PARALLEL_MIN_FLOPS).
    const s = scheduleOps({ mlir: matmulWithEpilogue(1, true, 1024), summary: [], parallel: false }, ctx);
    assert.ok(s);
    assert.match(s.summary.join('\n'), /^packed matmul 64x1024x48 \+ epilogue/m);
    assert.match(s.mlir, /%ortmlir_pack_0_panels = linalg\.generic \{ortmlir\.panels = 32 : i64, indexing_maps = \[affine_map<\(d0, d1, d2\) -> \(d1, d0 \* 32 \+ d2\)>/);
    assert.doesNotMatch(s.transform ?? '', /apply_licm/, 'with threads the panels are copied whole, before the forall (untagged: parallel-generic.ts may share it out)');
    // On one thread each panel tile is copied inside the panels' loop, hoisted out of the rows' loop.
    const serial = scheduleOps({ mlir: matmulWithEpilogue(), summary: [], parallel: false }, { ...ctx, threads: 1 });
    assert.match(serial?.mlir ?? '', /%ortmlir_pack_0_panels = linalg\.generic \{ortmlir\.sched_panels = 0 : i64, ortmlir\.panels = 32 : i64,/);
    assert.match(serial?.transform ?? '', /attributes\{ortmlir\.sched_panels = 0 : i64\}[^\n]*\n[^\n]*fuse_into_containing_op[^\n]*\n[^\n]*get_parent_op[^\n]*\n[^\n]*apply_licm/);
    assert.doesNotMatch(s.mlir, /linalg\.matmul /);
    const unlifted = scheduleOps({ mlir: matmulWithEpilogue(2), summary: [], parallel: false }, ctx);
    assert.match(unlifted?.summary.join('\n') ?? '', /^linalg\.matmul 64x128x48/m, 'a product read by more than its epilogue stays unpacked');
  });

  it('gives each matmul its own fill when CSE merged them, so both fuse their epilogues', () => {
    // Two matmuls with epilogues reading one fill, as CSE leaves rec's 1×1 convolutions of one shape.
    const t = `tensor<${M}x${N}xf32>`;
    const epilogue = (res: string, arg: string) => [
      `    ${res} = linalg.generic {indexing_maps = [#map, #map1, #map], iterator_types = ["parallel", "parallel"]} ins(${arg}, %arg2 : ${t}, tensor<${N}xf32>) outs(%0 : ${t}) {`,
      '    ^bb0(%in: f32, %in_0: f32, %out: f32):',
      '      %s = arith.addf %in, %in_0 : f32',
      '      linalg.yield %s : f32',
      `    } -> ${t}`,
    ];
    const lines = [
      '#map = affine_map<(d0, d1) -> (d0, d1)>',
      '#map1 = affine_map<(d0, d1) -> (d1)>',
      'module {',
      `  func.func @kernel(%arg0: tensor<${M}x${K}xf32>, %arg1: tensor<${K}x${N}xf32>, %arg2: tensor<${N}xf32>, %arg3: tensor<${M}x${K}xf32>) -> ${t} {`,
      '    %cst = arith.constant 0.000000e+00 : f32',
      `    %0 = tensor.empty() : ${t}`,
      `    %1 = linalg.fill ins(%cst : f32) outs(%0 : ${t}) -> ${t}`,
      `    %2 = linalg.matmul ins(%arg0, %arg1 : tensor<${M}x${K}xf32>, tensor<${K}x${N}xf32>) outs(%1 : ${t}) -> ${t}`,
      ...epilogue('%3', '%2'),
      `    %4 = linalg.matmul ins(%arg3, %arg1 : tensor<${M}x${K}xf32>, tensor<${K}x${N}xf32>) outs(%1 : ${t}) -> ${t}`,
      ...epilogue('%5', '%4'),
      `    %6 = arith.addf %3, %5 : ${t}`,
      `    return %6 : ${t}`,
      '  }',
      '}',
    ];
    const unshared = unshareFills(lines);
    assert.equal(unshared.length, lines.length + 1);
    assert.equal(unshared.filter((l) => /= linalg\.fill /.test(l)).length, 2);
    assert.ok(unshared.some((l) => /%4 = linalg\.matmul .* outs\(%ortmlir_fill_0 :/.test(l)));
    const s = scheduleOps({ mlir: lines.join('\n'), summary: [], parallel: false }, ctx);
    assert.ok(s);
    assert.equal(s.summary.filter((l) => l.includes('+ epilogue')).length, 2, s.summary.join('\n'));
  });

  it('gives a matmul without an epilogue a copy as its epilogue, so its fill is computed in the tiles', () => {
    const t = `tensor<${M}x${N}xf32>`;
    const lines = matmulWithEpilogue().split('\n').map((l) => l.replace(/linalg\.generic .* ins\(%2, %arg2 .*$/, `linalg.generic {indexing_maps = [#map1, #map], iterator_types = ["parallel", "parallel"]} ins(%arg2 : tensor<${N}xf32>) outs(%0 : ${t}) {`));
    lines.splice(lines.findIndex((l) => l.includes('return')), 1, `    %r = arith.addf %2, %3 : ${t}`, `    return %r : ${t}`);
    const copied = addCopyEpilogues(lines, { target: vectorTarget('skylake-avx512', ''), threads: 1 });
    assert.equal(copied.length, lines.length + 7);
    assert.ok(copied.some((l) => /%r = arith\.addf %ortmlir_copy_0, %3/.test(l)), copied.join('\n'));
    const s = scheduleOps({ mlir: lines.join('\n'), summary: [], parallel: false }, ctx);
    assert.ok(s);
    assert.match(s.summary.join('\n'), /linalg\.matmul 64x128x48 \+ epilogue/);
    // A matmul with an epilogue gets no copy.
    assert.deepEqual(addCopyEpilogues(matmulWithEpilogue().split('\n'), ctx), matmulWithEpilogue().split('\n'));
  });

  it('compiles with the fused schedule applied', async () => {
    const tc = new Toolchain(process.env.ORT_MLIR_TOOLCHAIN_HOME ?? '/usr/lib/llvm-22');
    const mlir = matmulWithEpilogue(1, false).split('\n').filter((l) => !/^(module|\}$)/.test(l)).join('\n');
    const r = await compileToLibrary(tc, target(1), [{ id: 'kernel', mlir: `${mlir}\n` }], 'epilogue-test');
    assert.deepEqual(r.failures.map((f) => f.error.message), []);
    assert.ok(r.notes.some((n) => n.includes('+ epilogue')), r.notes.join('; '));
  });

  for (const threads of [1, 2]) {
    it(`MatMul + bias + Relu and a 1x1 Conv + HardSwish match onnxruntime at ${threads} thread(s)`, async () => {
      const b = new ModelBuilder({ opset: 17 });
      const x = b.input('x', F, [M, K]);
      const w = b.initializer('w', F, [K, N], Array.from({ length: K * N }, (_, i) => ((i * 7) % 13) / 13 - 0.5));
      const bias = b.initializer('bias', F, [N], Array.from({ length: N }, (_, i) => i / N - 0.5));
      const [mm] = b.node('MatMul', [x, w]);
      const [sum] = b.node('Add', [mm, bias]);
      const [y] = b.node('Relu', [sum]);
      b.output(y, F, [M, N]);
      await assertMatchesOrt(b.build(), { x: randomTensor(F, [M, K], 11) }, { options: { threads } });

      const c = new ModelBuilder({ opset: 17 });
      const img = c.input('img', F, [1, 16, 32, 32]);
      const k = c.initializer('k', F, [32, 16, 1, 1], Array.from({ length: 512 }, (_, i) => ((i * 5) % 11) / 11 - 0.5));
      const [conv] = c.node('Conv', [img, k]);
      const [hs] = c.node('HardSwish', [conv]);
      c.output(hs, F, [1, 32, 32, 32]);
      await assertMatchesOrt(c.build(), { img: randomTensor(F, [1, 16, 32, 32], 12) }, { options: { threads } });

      // rec's blocks: 1×1 convolutions of one shape, each with a per-channel affine and a HardSwish
      // written out with scalar initializers (x · clip(x + 3, 0, 6) / 6).
      const r = new ModelBuilder({ opset: 17 });
      let v = r.input('v', F, [1, 32, 8, 32]);
      const scalar = (name: string, value: number) => r.initializer(name, F, [], [value]);
      const [three, zero, six] = [scalar('three', 3), scalar('zero', 0), scalar('six', 6)];
      for (let layer = 0; layer < 2; layer++) {
        const wk = r.initializer(`w${layer}`, F, [32, 32, 1, 1], Array.from({ length: 1024 }, (_, i) => (((i + layer) * 7) % 17) / 17 - 0.5));
        const scale = r.initializer(`s${layer}`, F, [32, 1, 1], Array.from({ length: 32 }, (_, i) => 0.5 + i / 64));
        const shift = r.initializer(`b${layer}`, F, [32, 1, 1], Array.from({ length: 32 }, (_, i) => i / 32 - 0.5));
        const [cv] = r.node('Conv', [v, wk]);
        const [scaled] = r.node('Mul', [cv, scale]);
        const [shifted] = r.node('Add', [scaled, shift]);
        const [plus] = r.node('Add', [shifted, three]);
        const [clipped] = r.node('Clip', [plus, zero, six]);
        const [prod] = r.node('Mul', [shifted, clipped]);
        [v] = r.node('Div', [prod, six]);
      }
      r.output(v, F, [1, 32, 8, 32]);
      await assertMatchesOrt(r.build(), { v: randomTensor(F, [1, 32, 8, 32], 13) }, { options: { threads } });
    });
  }
});

describe('threads for large generics', () => {
  it('splits the outermost dimension that has room for every thread', () => {
    assert.deepEqual(chunkSizes([1, 16, 320, 320], 2), [0, 4, 0, 0]);
    assert.deepEqual(chunkSizes([1, 1, 640, 640], 2), [0, 0, 160, 0]);
    assert.equal(chunkSizes([1, 1], 2), null);
    // A reduction splits only its parallel dimensions.
    assert.deepEqual(chunkSizes([1, 480, 480], 2, [true, true, false]), [0, 120, 0]);
    assert.equal(chunkSizes([1, 1, 480], 2, [true, true, false]), null);
  });

  it('plans a reduction generic over its parallel rows only (maps given as aliases, as mlir-opt prints them)', () => {
    const lines = [
      '#map = affine_map<(d0, d1) -> (d0, d1)>',
      '#map1 = affine_map<(d0, d1) -> (d0)>',
      'func.func @f(%x: tensor<96x6400xf32>, %acc: tensor<96xf32>) -> tensor<96xf32> {',
      '  %r = linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<96x6400xf32>) outs(%acc : tensor<96xf32>) {',
      '  ^bb0(%a: f32, %b: f32):',
      '    %s = arith.addf %a, %b fastmath<reassoc> : f32',
      '    linalg.yield %s : f32',
      '  } -> tensor<96xf32>',
      '  return %r : tensor<96xf32>',
      '}',
    ];
    const plans = planParallelGenerics(lines, ctx);
    assert.deepEqual(plans.map((p) => p.plan.summary), ['linalg.generic 96x6400: forall [24, 0]']);
  });

  it('pooling and Softmax over large tensors match onnxruntime at 2 threads (rows split, reductions whole)', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', F, [1, 64, 40, 40]);
    const [pooled] = b.node('GlobalAveragePool', [x]);
    b.output(pooled, F, [1, 64, 1, 1]);
    const [soft] = b.node('Softmax', [x], { attrs: { axis: -1 } });
    const [summed] = b.node('ReduceSum', [soft, b.initializer('axes', DataType.INT64, [1], [2])], { attrs: { keepdims: 0 } });
    b.output(summed, F, [1, 64, 40]);
    await assertMatchesOrt(b.build(), { x: randomTensor(F, [1, 64, 40, 40], 17) }, { options: { threads: 2 } });
  });

  it('a depthwise Conv + HardSwish over a large image matches onnxruntime at 2 threads', async () => {
    const side = Math.ceil(Math.sqrt(PARALLEL_MIN_ELEMENTS / 8)) + 2;
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', F, [1, 8, side, side]);
    const w = b.initializer('w', F, [8, 1, 3, 3], Array.from({ length: 72 }, (_, i) => ((i * 3) % 7) / 7 - 0.4));
    const [conv] = b.node('Conv', [x, w], { attrs: { group: 8, pads: [1, 1, 1, 1] } });
    const [y] = b.node('HardSwish', [conv]);
    b.output(y, F, [1, 8, side, side]);
    await assertMatchesOrt(b.build(), { x: randomTensor(F, [1, 8, side, side], 13) }, { options: { threads: 2 } });
  });
});
