// Regression tests of the transform-dialect schedules: scheduled kernels on
// odd shapes (tiles that don't divide, dimensions smaller than the
// micro-kernel, batches) must match onnxruntime-node, with one thread and with
// OpenMP. Kernels are compiled straight from MLIR (independent of the op
// lowerings), then the same ops go through the EP end to end. Speed is never
// asserted here: scripts/bench.mjs measures it.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { CpuSession } from '../../src/ep/cpu-session.js';
import { NativeLibrary } from '../../src/native/library.js';
import { Toolchain } from '../../src/toolchain/tools.js';
import { compileToLibrary, type TargetOptions } from '../../src/toolchain/pipeline.js';
import { planSchedules } from '../../src/codegen/schedules/index.js';
import { vectorTarget } from '../../src/codegen/schedules/target.js';
import { compareTensors, DEFAULT_ATOL, DEFAULT_RTOL } from '../../src/cli/compare.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;
const SYMBOL = 'kernel';
/** 2·M·N·K above the parallel threshold, so the OpenMP path is exercised. */
const PARALLEL_SHAPE = { m: 150, k: 100, n: 150 };

interface MatmulCase {
  batch?: number;
  m: number;
  k: number;
  n: number;
}

function tensorType(dims: readonly number[]): string {
  return `tensor<${dims.join('x')}xf32>`;
}

function dimsOf(c: MatmulCase): { a: number[]; b: number[]; c: number[] } {
  const lead = c.batch === undefined ? [] : [c.batch];
  return { a: [...lead, c.m, c.k], b: [...lead, c.k, c.n], c: [...lead, c.m, c.n] };
}

/** The IR a lowering emits for MatMul: a filled accumulator and the named op. */
function matmulMlir(c: MatmulCase): string {
  const d = dimsOf(c);
  const op = c.batch === undefined ? 'linalg.matmul' : 'linalg.batch_matmul';
  const [ta, tb, tc] = [tensorType(d.a), tensorType(d.b), tensorType(d.c)];
  return [
    `func.func @${SYMBOL}(%a: ${ta} {bufferization.writable = false}, %b: ${tb} {bufferization.writable = false}) -> ${tc} {`,
    '  %zero = arith.constant 0.0 : f32',
    `  %e = tensor.empty() : ${tc}`,
    `  %acc = linalg.fill ins(%zero : f32) outs(%e : ${tc}) -> ${tc}`,
    `  %r = ${op} ins(%a, %b : ${ta}, ${tb}) outs(%acc : ${tc}) -> ${tc}`,
    `  return %r : ${tc}`,
    '}',
    '',
  ].join('\n');
}

function matmulModel(c: MatmulCase): Uint8Array {
  const d = dimsOf(c);
  const b = new ModelBuilder({ opset: 17 });
  const [y] = b.node('MatMul', [b.input('a', F, d.a), b.input('b', F, d.b)]);
  b.output(y, F, d.c);
  return b.build();
}

function target(threads: number): TargetOptions {
  return { cpu: 'host', features: '', optLevel: 2, extraFlags: { mlirOpt: [], opt: [], llc: [] }, threads };
}

const toolchain = new Toolchain(process.env.ORT_MLIR_TOOLCHAIN_HOME ?? '/usr/lib/llvm-22');
const opened: NativeLibrary[] = [];
after(() => opened.forEach((l) => l.close()));

/** Compiles the case's kernel with a schedule, runs it, and compares with onnxruntime-node. */
async function checkKernel(c: MatmulCase, threads: number): Promise<void> {
  const d = dimsOf(c);
  const result = await compileToLibrary(toolchain, target(threads), [{ id: SYMBOL, mlir: matmulMlir(c) }], 'schedules-test');
  assert.deepEqual(result.failures.map((f) => f.error.message), []);
  assert.ok(result.library);
  assert.ok(result.notes.length > 0 && !result.notes.some((n) => n.includes('schedule failed')), `schedule was not applied: ${result.notes.join('; ')}`);
  const lib = new NativeLibrary(result.library);
  opened.push(lib);
  const a = randomTensor(F, d.a, 3);
  const b = randomTensor(F, d.b, 4);
  const out: HostTensor = { dataType: F, dims: d.c, data: new Uint8Array(4 * d.c.reduce((x, y) => x * y, 1)) };
  lib.kernel(SYMBOL, 3).callSync([a.data, b.data, out.data]);
  const cpu = await CpuSession.create(matmulModel(c));
  try {
    const expected = (await cpu.run(new Map([['a', a], ['b', b]]))).get(cpu.outputNames[0]);
    assert.ok(expected);
    const r = compareTensors(out, expected, { atol: DEFAULT_ATOL, rtol: DEFAULT_RTOL, postProcessing: false });
    assert.equal(r.status, 'success', r.message);
  } finally {
    await cpu.dispose();
  }
}

describe('matmul schedule planning', () => {
  const ctx = { target: vectorTarget('skylake-avx512', ''), threads: 2 };

  it('tags each matmul and emits one transform library', () => {
    const prepared = matmulMlir({ m: 37, k: 29, n: 53 });
    const s = planSchedules(prepared, ctx);
    assert.ok(s);
    assert.match(s.mlir, /linalg\.matmul \{ortmlir\.sched = 0 : i64\} ins/);
    assert.match(s.transform ?? '', /@__transform_main/);
    assert.match(s.transform ?? '', /transform\.loop\.peel/);
    assert.equal(s.parallel, false, 'a tiny matmul stays on one thread');
  });

  it('goes parallel only above the work threshold', () => {
    const s = planSchedules(matmulMlir(PARALLEL_SHAPE), ctx);
    assert.ok(s?.parallel);
    assert.match(s.transform ?? '', /tile_using_forall/);
  });

  it('builds im2col patches per block of output rows, a forall only with threads', () => {
    const conv = [
      'func.func @kernel(%x: tensor<1x96x42x42xf32> {bufferization.writable = false}, %w: tensor<24x96x3x3xf32> {bufferization.writable = false}) -> tensor<1x24x40x40xf32> {',
      '  %zero = arith.constant 0.0 : f32',
      '  %e = tensor.empty() : tensor<1x24x40x40xf32>',
      '  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<1x24x40x40xf32>) -> tensor<1x24x40x40xf32>',
      '  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x96x42x42xf32>, tensor<24x96x3x3xf32>) outs(%acc : tensor<1x24x40x40xf32>) -> tensor<1x24x40x40xf32>',
      '  return %y : tensor<1x24x40x40xf32>',
      '}',
      '',
    ].join('\n');
    // Winograd's form (conv-winograd.ts) would take this 3×3 convolution first.
    const im2col = { ...ctx, winograd: false };
    const parallel = planSchedules(conv, im2col);
    assert.ok(parallel?.parallel);
    assert.match(parallel.mlir, /scf\.forall .* in \(40\)/);
    // The matmul inside the chunk loop is tiled sequentially: the loop is what runs in parallel.
    assert.match(parallel.mlir, /linalg\.matmul \{ortmlir\.sched = 0 : i64, ortmlir\.nested\} ins\(.*tensor<864x40xf32>/);
    assert.doesNotMatch(parallel.transform ?? '', /tile_using_forall/);
    const serial = planSchedules(conv, { ...im2col, threads: 1 });
    assert.equal(serial?.parallel, false);
    assert.match(serial.mlir, /scf\.for /);
    assert.doesNotMatch(serial.mlir, /scf\.forall/);
  });

  it('leaves unscheduled IR alone', () => {
    assert.equal(planSchedules('func.func @f() {\n  return\n}\n', ctx), null);
  });
});

describe('scheduled kernels match onnxruntime-node', () => {
  const cases: MatmulCase[] = [
    { m: 37, k: 29, n: 53 },
    { m: 1, k: 64, n: 10 },
    { m: 5, k: 3, n: 7 },
    { m: 64, k: 16, n: 96 },
    { batch: 3, m: 37, k: 29, n: 53 },
  ];
  for (const c of cases) {
    it(`${c.batch ? `${c.batch}x` : ''}${c.m}x${c.k}x${c.n} on 1 thread`, () => checkKernel(c, 1));
  }
  it(`${PARALLEL_SHAPE.m}x${PARALLEL_SHAPE.k}x${PARALLEL_SHAPE.n} on 2 threads (OpenMP)`, () => checkKernel(PARALLEL_SHAPE, 2));
  it('3x150x100x150 batched on 2 threads (OpenMP)', () => checkKernel({ batch: 3, ...PARALLEL_SHAPE }, 2));
});

describe('scheduled ops through the EP', () => {
  it('MatMul 37x29x53 and a parallel 150x100x150 MatMul', async () => {
    for (const [c, threads] of [[{ m: 37, k: 29, n: 53 }, 1], [PARALLEL_SHAPE, 2]] as const) {
      const d = dimsOf(c);
      await assertMatchesOrt(matmulModel(c), { a: randomTensor(F, d.a, 5), b: randomTensor(F, d.b, 6) }, { options: { threads } });
    }
  });
});
