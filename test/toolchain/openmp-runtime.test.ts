// The OpenMP runtime choice (openmp-runtime.ts) and the fork-join runtime
// itself (fork-join.c): which IR may link it, that a parallel kernel linked
// with it gives the same bits on every call, concurrent calls included (a
// caller finding the pool busy runs alone), and that the checked-in IR is
// what the C source compiles to.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chooseOpenmpRuntime, forkJoinTarget, keepsToForkJoinAbi } from '../../src/toolchain/openmp-runtime.js';
import { compileToLibrary } from '../../src/toolchain/pipeline.js';
import { Toolchain } from '../../src/toolchain/tools.js';
import { NativeLibrary } from '../../src/native/library.js';
import { DataType } from '../../src/onnx/model.js';
import { randomTensor } from '../helpers/differential.js';

const HOME = process.env.ORT_MLIR_TOOLCHAIN_HOME ?? '/usr/lib/llvm-22';

/** The shape of what MLIR's OpenMP lowering emits: a fork with one argument, and a microtask closed by one barrier. */
const FORK_IR = `define void @f(ptr %0) {
  %t = call i32 @__kmpc_global_thread_num(ptr @1)
  call void @__kmpc_push_num_threads(ptr @1, i32 %t, i32 2)
  call void (ptr, i32, ptr, ...) @__kmpc_fork_call(ptr @1, i32 1, ptr @f..omp_par, ptr %0)
  ret void
}
define internal void @f..omp_par(ptr noalias %tid, ptr noalias %zero, ptr %0) {
  call void @__kmpc_for_static_init_8u(ptr @1, i32 0, i32 34, ptr %a, ptr %b, ptr %c, ptr %d, i64 1, i64 0)
  call void @__kmpc_for_static_fini(ptr @1, i32 0)
  call void @__kmpc_barrier(ptr @2, i32 0)
  ret void
}`;

describe('OpenMP runtime choice', () => {
  it('takes the fork-join runtime for what MLIR emits', () => {
    assert.ok(keepsToForkJoinAbi(FORK_IR));
    assert.deepEqual(chooseOpenmpRuntime([FORK_IR, 'define void @g() { ret void }'], '/nonexistent', 'x64'), { kind: 'fork-join' });
  });

  it('rejects IR that needs more of libomp', () => {
    assert.equal(keepsToForkJoinAbi(FORK_IR.replace('__kmpc_for_static_fini', '__kmpc_reduce_nowait')), false, 'an unimplemented entry point');
    assert.equal(keepsToForkJoinAbi(FORK_IR.replace('i32 1, ptr @f..omp_par', 'i32 2, ptr @f..omp_par')), false, 'a fork with two arguments');
    const twoBarriers = FORK_IR.replace(/( {2}call void @__kmpc_barrier[^\n]*\n)/, '$1$1');
    assert.equal(keepsToForkJoinAbi(twoBarriers), false, 'a barrier inside a microtask, not only at its end');
    assert.equal(keepsToForkJoinAbi(FORK_IR.replace('@__kmpc_global_thread_num', '@omp_get_num_threads')), false);
  });

  it('falls back to libomp off x86_64, and to nothing without it', () => {
    const bad = FORK_IR.replace('__kmpc_barrier', '__kmpc_critical');
    assert.equal(chooseOpenmpRuntime([bad], '/nonexistent', 'x64'), null);
    assert.equal(chooseOpenmpRuntime([FORK_IR], '/nonexistent', 'arm64'), null);
    if (existsSync(join(HOME, 'lib', 'libomp.so'))) {
      assert.deepEqual(chooseOpenmpRuntime([FORK_IR], HOME, 'arm64'), { kind: 'libomp', dir: join(HOME, 'lib') });
    }
  });
});

describe('fork-join runtime', { skip: !forkJoinTarget() && 'x86_64 only' }, () => {
  const opened: NativeLibrary[] = [];
  after(() => opened.forEach((l) => l.close()));

  it('links instead of libomp, and concurrent calls of a parallel kernel give the same bits', async () => {
    // 2·M·N·K above the parallel threshold: the matmul's cache tiles become a parallel loop.
    const [m, k, n] = [160, 96, 192];
    const t = (d: number[]) => `tensor<${d.join('x')}xf32>`;
    const mlir = [
      `func.func @kernel(%a: ${t([m, k])} {bufferization.writable = false}, %b: ${t([k, n])} {bufferization.writable = false}) -> ${t([m, n])} {`,
      '  %zero = arith.constant 0.0 : f32',
      `  %e = tensor.empty() : ${t([m, n])}`,
      `  %acc = linalg.fill ins(%zero : f32) outs(%e : ${t([m, n])}) -> ${t([m, n])}`,
      `  %r = linalg.matmul ins(%a, %b : ${t([m, k])}, ${t([k, n])}) outs(%acc : ${t([m, n])}) -> ${t([m, n])}`,
      `  return %r : ${t([m, n])}`,
      '}',
    ].join('\n');
    const target = { cpu: 'host', features: '', optLevel: 2, extraFlags: { mlirOpt: [], opt: [], llc: [] }, threads: 2 };
    const result = await compileToLibrary(new Toolchain(HOME), target, [{ id: 'kernel', mlir }], 'fork-join-test');
    assert.ok(result.library, result.failures.map((f) => f.error.message).join('; '));
    const link = result.runs.find((r) => r.tool === 'ld.lld');
    assert.ok(link && link.argv.some((a) => a.endsWith('ortmlir_fork_join.o')), 'the fork-join object is linked');
    assert.ok(!link.argv.includes('-lomp'), 'libomp is not');
    const lib = new NativeLibrary(result.library);
    opened.push(lib);
    const kernel = lib.kernel('kernel', 3);
    const a = randomTensor(DataType.FLOAT, [m, k], 1).data;
    const b = randomTensor(DataType.FLOAT, [k, n], 2).data;
    const outs = Array.from({ length: 24 }, () => new Uint8Array(4 * m * n));
    // Four calls in flight at a time: one owns the pool, the others run alone.
    for (let i = 0; i < outs.length; i += 4) await Promise.all(outs.slice(i, i + 4).map((o) => kernel.callAsync([a, b, o])));
    const first = Buffer.from(outs[0]);
    assert.ok(first.some((x) => x !== 0));
    outs.forEach((o, i) => assert.ok(first.equals(o), `call ${i} differs`));
  });

  it('ships the IR that fork-join.c and tool-server.c compile to', { skip: !existsSync(join(HOME, 'bin', 'clang')) && 'no clang in the toolchain' }, () => {
    const script = new URL('../../../../scripts/gen-c-ir.mjs', import.meta.url);
    execFileSync(process.execPath, [script.pathname, '--check'], { env: { ...process.env, ORT_MLIR_TOOLCHAIN_HOME: HOME } });
  });
});
