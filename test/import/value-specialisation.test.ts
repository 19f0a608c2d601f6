// Nodes whose shape-setting inputs (Expand's shape, Reshape's shape, Slice's
// starts..., ConstantOfShape's shape, ReduceSum's axes) are run-time values:
// deferred and compiled per value at run time, differential against
// onnxruntime-node, over several runs with different values in one session
// (a variant for one value must never serve another); and the session report
// counts what those run-time variants really did.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { createMlirSession } from '../../src/ep/session.js';
import type { SessionReport } from '../../src/ep/session-api.js';
import { bufferIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { assertRunsMatchOrt, randomTensor } from '../helpers/differential.js';
import { fakeToolchain } from '../reliability/fake-toolchain.js';

const F = DataType.FLOAT;
const I64 = DataType.INT64;

function ints(values: readonly number[], dims: number[] = [values.length]): HostTensor {
  return { dataType: I64, dims, data: new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer) };
}

type Feeds = Record<string, HostTensor>;

/** Every feed set through one mlir and one CPU session (test/helpers/differential.ts); fallback is asserted per test. */
function runAll(model: Uint8Array, runs: readonly Feeds[], options: Record<string, unknown> = {}): Promise<SessionReport> {
  return assertRunsMatchOrt(model, runs, { options, fullyCompiled: false });
}

function assertFullyCompiled(report: SessionReport): void {
  assert.equal(report.fallbackNodes, 0, `expected every node compiled; fell back: ${report.fallbackReasons.join('; ')}`);
}

function expandModel(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', F, [3, 1]);
  const s = b.input('s', I64, [3]);
  const [e] = b.node('Expand', [x, s]);
  // Downstream of a value-dependent shape: symbolic types, deferred with it.
  const [y] = b.node('Relu', [e], { outputs: ['y'] });
  b.output(y);
  return b.build();
}

describe('shape inputs fed at run time compile per value', () => {
  it('Expand: shape as a graph input, two values in one session', async () => {
    const x = randomTensor(F, [3, 1], 3);
    const report = await runAll(expandModel(), [{ x, s: ints([2, 3, 4]) }, { x, s: ints([1, 3, 5]) }, { x, s: ints([2, 3, 4]) }]);
    assertFullyCompiled(report);
    assert.equal(report.compiledNodes, 2);
  });

  it('Reshape: shape as a graph input (with 0 and -1), then another value of the same size', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', F, [2, 6]);
    const s = b.input('s', I64, [2]);
    const [r] = b.node('Reshape', [x, s]);
    const [y] = b.node('Neg', [r], { outputs: ['y'] });
    b.output(y);
    const xs = randomTensor(F, [2, 6], 5);
    const report = await runAll(b.build(), [{ x: xs, s: ints([3, 4]) }, { x: xs, s: ints([4, -1]) }, { x: xs, s: ints([0, 6]) }]);
    assertFullyCompiled(report);
  });

  it('Slice: starts, ends, axes and steps as graph inputs', async () => {
    const b = new ModelBuilder({ opset: 13 });
    const x = b.input('x', F, [5, 6]);
    const names = ['starts', 'ends', 'axes', 'steps'].map((n) => b.input(n, I64, [2]));
    const [y] = b.node('Slice', [x, ...names], { outputs: ['y'] });
    b.output(y);
    const xs = randomTensor(F, [5, 6], 7);
    const run = (starts: number[], ends: number[], axes: number[], steps: number[]) => ({ x: xs, starts: ints(starts), ends: ints(ends), axes: ints(axes), steps: ints(steps) });
    const report = await runAll(b.build(), [run([0, 1], [3, 5], [0, 1], [1, 2]), run([4, -1], [0, -7], [0, 1], [-1, -2]), run([1, 0], [100, 2], [1, 0], [1, 1])]);
    assertFullyCompiled(report);
  });

  it('ConstantOfShape: shape as a graph input feeding an Add', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const s = b.input('s', I64, [2]);
    const x = b.input('x', F, [1, 4]);
    const one = { dataType: F, dims: [1], data: new Uint8Array(new Float32Array([1.5]).buffer), name: '' };
    const [c] = b.node('ConstantOfShape', [s], { attrs: { value: one } });
    const [y] = b.node('Add', [c, x], { outputs: ['y'] });
    b.output(y);
    const xs = randomTensor(F, [1, 4], 9);
    const report = await runAll(b.build(), [{ s: ints([3, 4]), x: xs }, { s: ints([2, 4]), x: xs }]);
    assertFullyCompiled(report);
  });

  it('ReduceSum: axes as a graph input, keepdims 0 and 1', async () => {
    for (const keepdims of [0, 1]) {
      const b = new ModelBuilder({ opset: 13 });
      const x = b.input('x', F, [2, 3, 4]);
      const axes = b.input('axes', I64, [1]);
      const [y] = b.node('ReduceSum', [x, axes], { attrs: { keepdims }, outputs: ['y'] });
      b.output(y);
      const xs = randomTensor(F, [2, 3, 4], 11);
      const report = await runAll(b.build(), [{ x: xs, axes: ints([1]) }, { x: xs, axes: ints([-1]) }, { x: xs, axes: ints([0]) }]);
      assertFullyCompiled(report);
    }
  });

  it('a shape computed at run time from data (Cast of a float input) also specialises', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', F, [2, 1]);
    const sf = b.input('sf', F, [2]);
    const [s] = b.node('Cast', [sf], { attrs: { to: I64 } });
    const [y] = b.node('Expand', [x, s], { outputs: ['y'] });
    b.output(y);
    const xs = randomTensor(F, [2, 1], 13);
    const floats = (v: number[]): HostTensor => ({ dataType: F, dims: [v.length], data: new Uint8Array(new Float32Array(v).buffer) });
    const report = await runAll(b.build(), [{ x: xs, sf: floats([2, 3]) }, { x: xs, sf: floats([2, 5]) }]);
    assertFullyCompiled(report);
  });

  it('ConstantOfShape alone: a variant that folds completely hands out its constant', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const s = b.input('s', I64, [3]);
    const [y] = b.node('ConstantOfShape', [s], { outputs: ['y'] });
    b.output(y);
    const report = await runAll(b.build(), [{ s: ints([2, 1, 3]) }, { s: ints([1, 4, 1]) }, { s: ints([2, 0, 3]) }]);
    assertFullyCompiled(report);
  });

  it('Range (int64 and float bounds) and OneHot (float depth) as graph inputs', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const [start, limit, delta] = ['start', 'limit', 'delta'].map((n) => b.input(n, I64, []));
    const [r] = b.node('Range', [start, limit, delta], { outputs: ['r'] });
    b.output(r);
    const [fs, fl, fd] = ['fs', 'fl', 'fd'].map((n) => b.input(n, F, []));
    const [rf] = b.node('Range', [fs, fl, fd], { outputs: ['rf'] });
    b.output(rf);
    const idx = b.input('idx', I64, [4]);
    const depth = b.input('depth', F, [1]);
    const values = b.initializer('values', F, [2], [0, 3]);
    const [oh] = b.node('OneHot', [idx, depth, values], { attrs: { axis: 0 }, outputs: ['oh'] });
    b.output(oh);
    const scalar = (v: number): HostTensor => ({ dataType: F, dims: [], data: new Uint8Array(new Float32Array([v]).buffer) });
    const run = (i: [number, number, number], f: [number, number, number], d: number): Feeds => ({
      start: ints([i[0]], []), limit: ints([i[1]], []), delta: ints([i[2]], []),
      fs: scalar(f[0]), fl: scalar(f[1]), fd: scalar(f[2]),
      idx: ints([0, 2, -1, 1]), depth: { dataType: F, dims: [1], data: new Uint8Array(new Float32Array([d]).buffer) },
    });
    const report = await runAll(b.build(), [run([0, 7, 2], [1, 2, 0.25], 3), run([10, 1, -3], [0, -1.5, -0.5], 5)]);
    assertFullyCompiled(report);
  });

  it('empty inputs and outputs (Slice past the end, ReduceSum of an empty set) need no code', async () => {
    const b = new ModelBuilder({ opset: 13 });
    const x = b.input('x', F, [3, 4]);
    const [starts, ends] = ['starts', 'ends'].map((n) => b.input(n, I64, [1]));
    const [y] = b.node('Slice', [x, starts, ends], { outputs: ['y'] });
    b.output(y);
    const e = b.input('e', F, [2, 0, 4]);
    const axes = b.input('axes', I64, [1]);
    const [z] = b.node('ReduceSum', [e, axes], { attrs: { keepdims: 1 }, outputs: ['z'] });
    b.output(z);
    const xs = randomTensor(F, [3, 4], 17);
    const empty: HostTensor = { dataType: F, dims: [2, 0, 4], data: new Uint8Array(0) };
    const report = await runAll(b.build(), [
      { x: xs, starts: ints([5]), ends: ints([9]), e: empty, axes: ints([1]) },
      { x: xs, starts: ints([1]), ends: ints([2]), e: empty, axes: ints([2]) },
    ]);
    assertFullyCompiled(report);
  });
});

describe('shape computations the compiler settles at compile time or per segment', () => {
  it('an If on Equal(Size(v), 4) folds and is inlined: the branch not taken is never inferred', async () => {
    // As in the AffineGrid function body: the branch for 4 elements splits v into 4 parts, which its 5 do not allow.
    const b = new ModelBuilder({ opset: 18 });
    const x = b.input('x', F, [2, 3]);
    const v = b.input('v', F, [5]);
    const four = b.initializer('four', I64, [], [4]);
    const [n] = b.node('Size', [v]);
    const [is4] = b.node('Equal', [n, four]);
    const [isNot4] = b.node('Not', [is4]);
    const [cond] = b.node('And', [isNot4, b.initializer('yes', DataType.BOOL, [], [1])]);
    const then = b.subgraph('then');
    const parts = then.node('Split', [v], { attrs: { num_outputs: 4 }, outputs: 4 });
    then.output(parts[0]);
    const other = b.subgraph('else');
    const [neg] = other.node('Neg', [x]);
    other.output(neg);
    const [r] = b.node('If', [cond], { attrs: { then_branch: other, else_branch: then } });
    const [y] = b.node('Relu', [r], { outputs: ['y'] });
    b.output(y);
    const report = await runAll(b.build(), [{ x: randomTensor(F, [2, 3], 5), v: randomTensor(F, [5], 6) }]);
    assertFullyCompiled(report);
  });

  it('comparisons folded on constants feed compiled nodes as embedded bool constants of any rank', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', DataType.BOOL, [1, 2, 2, 3]);
    const s = b.input('s', DataType.BOOL, []);
    const a = b.initializer('a', F, [2, 1, 3], [0, 1, 2, 3, 4, 5]);
    const c = b.initializer('c', F, [2, 1], [2, 3]);
    const [less] = b.node('Less', [a, c]);
    const [mask] = b.node('Xor', [x, less], { outputs: ['mask'] });
    const [eq] = b.node('Equal', [b.initializer('one', I64, [], [1]), b.initializer('uno', I64, [], [1])]);
    const [both] = b.node('And', [s, eq], { outputs: ['both'] });
    b.output(mask);
    b.output(both);
    const bools = (dims: number[], seed: number) => randomTensor(DataType.BOOL, dims, seed);
    const report = await runAll(b.build(), [{ x: bools([1, 2, 2, 3], 3), s: bools([], 4) }]);
    assertFullyCompiled(report);
  });

  it('a deferred segment reading a value another segment made with no compile-time type', async () => {
    // Einsum has no symbolic shape rule, so t is untyped; Neg (static) splits the deferred run in two.
    // (y's declared type gives the graph output its signature.)
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', F, [1, 3]);
    const s = b.input('s', I64, [2]);
    const z = b.input('z', F, [4]);
    const [e] = b.node('Expand', [x, s]);
    const [t] = b.node('Einsum', [e], { attrs: { equation: 'ij->ji' } });
    const [nz] = b.node('Neg', [z], { outputs: ['nz'] });
    const [y] = b.node('Relu', [t], { outputs: ['y'] });
    b.output(y, F, [3, 2]);
    b.output(nz);
    const z0 = randomTensor(F, [4], 8);
    const report = await runAll(b.build(), [{ x: randomTensor(F, [1, 3], 7), s: ints([2, 3]), z: z0 }, { x: randomTensor(F, [1, 3], 9), s: ints([2, 3]), z: z0 }]);
    assertFullyCompiled(report);
  });
});

describe('the session report counts what run-time variants did', () => {
  it('a deferred segment whose run-time compile fails counts as fallen back', async () => {
    // Nothing compiles at session creation (the Expand is deferred), so only the run-time compile meets the broken tool.
    const home = await fakeToolchain({ 'mlir-opt': { fault: 'fail', versionOk: true } });
    const x = randomTensor(F, [3, 1], 3);
    const report = await runAll(expandModel(), [{ x, s: ints([2, 3, 4]) }], { toolchainHome: home });
    assert.equal(report.fallbackNodes, 2, report.fallbackReasons.join('; '));
    assert.equal(report.compiledNodes, 0);
    assert.match(report.fallbackReasons.join('\n'), /deferred segment: .*injected failure/s);
  });

  it('a runtime-only module runs value-specialised segments on the CPU EP and says so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spec-aot-'));
    const onnx = join(dir, 'm.onnx');
    const mod = join(dir, 'm.ortmlir');
    await writeFile(onnx, expandModel());
    const io = bufferIo();
    assert.equal(await main(['compile', onnx, '-o', mod], io), 0, io.err.join(''));
    const s = await createMlirSession(onnx, { module: mod, toolchainHome: join(dir, 'no-llvm-here'), cacheDir: '' });
    try {
      assert.equal(s.report().fallbackNodes, 0, 'before any run, the plan-time report');
      const x = randomTensor(F, [3, 1], 3);
      for (const shape of [[2, 3, 4], [1, 3, 5]]) {
        const out = await s.run(new Map([['x', x], ['s', ints(shape)]]));
        assert.deepEqual(out.get('y')?.dims, shape);
      }
      const report = s.report();
      assert.equal(report.fallbackNodes, 2);
      assert.match(report.fallbackReasons.join('\n'), /runtime-only module/);
    } finally {
      await s.dispose();
    }
  });
});
