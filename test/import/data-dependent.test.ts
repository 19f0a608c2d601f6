// Ops whose output SIZE depends on input data (NonZero, Compress with a
// run-time condition, Unique, NonMaxSuppression): compiled at their largest
// output size plus a count the runtime trims the outputs to, with their users
// deferred and compiled for the size each run produces. Differential against
// onnxruntime-node over several runs per session (different counts, zero
// included), and from a precompiled module with no toolchain.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { narrowAlongAxis } from '../../src/runtime/host-slicing.js';
import { CpuSession } from '../../src/ep/cpu-session.js';
import { createMlirSession } from '../../src/ep/session.js';
import { bufferIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { compareTensors } from '../../src/cli/compare.js';
import { assertRunsMatchOrt, floatTensor, randomTensor, rng } from '../helpers/differential.js';

const F = DataType.FLOAT;
const I64 = DataType.INT64;
const BOOL = DataType.BOOL;

function bools(values: readonly number[], dims: number[] = [values.length]): HostTensor {
  return { dataType: BOOL, dims, data: new Uint8Array(values.map((v) => (v ? 1 : 0))) };
}

function ints(values: readonly number[], dims: number[] = [values.length]): HostTensor {
  return { dataType: I64, dims, data: new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer) };
}

/** Random values drawn from a few levels, so that equal elements (and zeros) are common. */
function levels(dims: number[], seed: number, count = 4, dataType: DataType = F): HostTensor {
  const r = rng(seed);
  const n = dims.reduce((a, d) => a * d, 1);
  const values = Array.from({ length: n }, () => Math.floor(r() * count) - 1);
  if (dataType === I64) return ints(values, dims);
  return floatTensor(dims, values);
}

describe('NonZero', () => {
  it('float input, users deferred; counts differ per run (none included)', async () => {
    const b = new ModelBuilder({ opset: 13 });
    const x = b.input('x', F, [3, 4]);
    const [nz] = b.node('NonZero', [x], { outputs: ['nz'] });
    const [t] = b.node('Transpose', [nz]);
    const [y] = b.node('Cast', [t], { attrs: { to: F }, outputs: ['y'] });
    b.output(nz);
    b.output(y);
    const special = floatTensor([3, 4], [0, -0, NaN, 1, 0, 2, 0, 0, -3, 0, Infinity, 0]);
    const report = await assertRunsMatchOrt(b.build(), [{ x: levels([3, 4], 1) }, { x: special }, { x: floatTensor([3, 4], new Array(12).fill(0)) }, { x: levels([3, 4], 2) }]);
    assert.equal(report.compiledNodes, 3);
  });

  it('bool and int64 inputs of rank 1 and 3', async () => {
    const b = new ModelBuilder({ opset: 13 });
    const c = b.input('c', BOOL, [5]);
    const i = b.input('i', I64, [2, 3, 2]);
    b.output(b.node('NonZero', [c], { outputs: ['nc'] })[0]);
    b.output(b.node('NonZero', [i], { outputs: ['ni'] })[0]);
    await assertRunsMatchOrt(b.build(), [
      { c: bools([0, 1, 1, 0, 1]), i: levels([2, 3, 2], 3, 3, I64) },
      { c: bools([1, 1, 1, 1, 1]), i: levels([2, 3, 2], 4, 3, I64) },
    ]);
  });
});

describe('Compress with a run-time condition', () => {
  for (const axis of [0, 1, -1, undefined]) {
    it(`axis ${axis ?? 'none'}, a user of the result deferred`, async () => {
      const b = new ModelBuilder({ opset: 11 });
      const x = b.input('x', F, [3, 4]);
      const n = axis === undefined ? 12 : [3, 4, 4][[0, 1, -1].indexOf(axis)];
      const c = b.input('c', BOOL, [n]);
      const [cz] = b.node('Compress', [x, c], { attrs: axis === undefined ? {} : { axis } });
      const [y] = b.node('Neg', [cz], { outputs: ['y'] });
      b.output(y);
      const xs = randomTensor(F, [3, 4], 5);
      const pick = (seed: number) => bools(Array.from({ length: n }, (_, k) => (k * seed) % 3), [n]);
      const report = await assertRunsMatchOrt(b.build(), [{ x: xs, c: pick(1) }, { x: xs, c: pick(2) }, { x: xs, c: bools(new Array(n).fill(0)) }, { x: xs, c: bools(new Array(n).fill(1)) }]);
      assert.equal(report.compiledNodes, 2);
    });
  }

  it('a condition shorter than the axis', async () => {
    const b = new ModelBuilder({ opset: 11 });
    const x = b.input('x', F, [5, 2]);
    const c = b.input('c', BOOL, [3]);
    b.output(b.node('Compress', [x, c], { attrs: { axis: 0 }, outputs: ['y'] })[0]);
    await assertRunsMatchOrt(b.build(), [{ x: randomTensor(F, [5, 2], 6), c: bools([1, 0, 1]) }]);
  });
});

describe('Unique', () => {
  const outputs = ['y', 'indices', 'inverse', 'counts'];

  for (const sorted of [1, 0]) {
    it(`sorted=${sorted} without axis: float and int64, all four outputs`, async () => {
      const b = new ModelBuilder({ opset: 11 });
      const x = b.input('x', F, [4, 5]);
      const i = b.input('i', I64, [7]);
      b.node('Unique', [x], { attrs: { sorted }, outputs }).forEach((o) => b.output(o));
      b.node('Unique', [i], { attrs: { sorted }, outputs: outputs.map((o) => `${o}_i`) }).forEach((o) => b.output(o));
      await assertRunsMatchOrt(b.build(), [
        { x: levels([4, 5], 7, 6), i: levels([7], 8, 5, I64) },
        { x: randomTensor(F, [4, 5], 9), i: ints([3, 3, 3, 3, 3, 3, 3]) },
      ]);
    });
  }

  for (const [dims, axis] of [[[4, 3], 0], [[3, 5], 1], [[2, 5, 2], -2]] as const) {
    it(`slices along axis ${axis} of [${dims.join(', ')}], sorted and unsorted`, async () => {
      for (const sorted of [1, 0]) {
        const b = new ModelBuilder({ opset: 11 });
        const x = b.input('x', F, [...dims]);
        b.node('Unique', [x], { attrs: { sorted, axis }, outputs }).forEach((o) => b.output(o));
        await assertRunsMatchOrt(b.build(), [{ x: levels([...dims], 10, 2) }, { x: levels([...dims], 11, 3) }]);
      }
    });
  }

  it('only Y, with a user deferred', async () => {
    const b = new ModelBuilder({ opset: 11 });
    const x = b.input('x', F, [9]);
    const [u] = b.node('Unique', [x]);
    b.output(b.node('Neg', [u], { outputs: ['y'] })[0]);
    const report = await assertRunsMatchOrt(b.build(), [{ x: levels([9], 12) }, { x: levels([9], 13, 2) }]);
    assert.equal(report.compiledNodes, 2);
  });
});

describe('NonMaxSuppression', () => {
  /** Random corner boxes [batches, n, 4] and distinct scores [batches, classes, n]. */
  function detections(batches: number, classes: number, n: number, seed: number): { boxes: HostTensor; scores: HostTensor } {
    const r = rng(seed);
    const boxes: number[] = [];
    for (let k = 0; k < batches * n; k++) {
      const [y, x] = [r() * 0.7, r() * 0.7];
      boxes.push(y, x, y + 0.1 + r() * 0.3, x + 0.1 + r() * 0.3);
    }
    const scores = Array.from({ length: batches * classes * n }, (_, k) => (((k * 7919) % 101) + r() * 0.5) / 101);
    return { boxes: floatTensor([batches, n, 4], boxes), scores: floatTensor([batches, classes, n], scores) };
  }

  function nmsModel(batches: number, classes: number, n: number, attrs: Record<string, number> = {}, inputs = ['max', 'iou', 'score']): Uint8Array {
    const b = new ModelBuilder({ opset: 11 });
    const boxes = b.input('boxes', F, [batches, n, 4]);
    const scores = b.input('scores', F, [batches, classes, n]);
    const max = inputs.includes('max') ? b.input('max', I64, [1]) : inputs.includes('max=2') ? b.initializer('max', I64, [1], [2]) : '';
    const iou = inputs.includes('iou') ? b.input('iou', F, [1]) : '';
    const score = inputs.includes('score') ? b.input('score', F, [1]) : '';
    const [sel] = b.node('NonMaxSuppression', [boxes, scores, max, iou, score].slice(0, inputs.includes('score') ? 5 : inputs.includes('iou') ? 4 : 3), { attrs, outputs: ['sel'] });
    const [f] = b.node('Cast', [sel], { attrs: { to: F }, outputs: ['f'] });
    b.output(sel);
    b.output(f);
    return b.build();
  }

  it('batches and classes, limits and thresholds fed at run time', async () => {
    const d = detections(2, 3, 10, 21);
    const run = (max: number, iou: number, score: number) => ({ ...d, max: ints([max]), iou: floatTensor([1], [iou]), score: floatTensor([1], [score]) });
    const report = await assertRunsMatchOrt(nmsModel(2, 3, 10), [run(3, 0.3, 0.2), run(10, 0.1, 0), run(0, 0.5, 0.2), run(5, 0.5, 2)]);
    assert.equal(report.compiledNodes, 2);
  });

  it('center-point boxes, no score threshold', async () => {
    const d = detections(1, 2, 12, 22);
    await assertRunsMatchOrt(nmsModel(1, 2, 12, { center_point_box: 1 }, ['max', 'iou']), [{ ...d, max: ints([4]), iou: floatTensor([1], [0.2]) }]);
  });

  it('max_output_boxes_per_class absent (nothing selected) or a constant', async () => {
    const d = detections(1, 2, 6, 23);
    await assertRunsMatchOrt(nmsModel(1, 2, 6, {}, []), [d]);
    await assertRunsMatchOrt(nmsModel(1, 2, 6, {}, ['max=2', 'iou']), [{ ...d, iou: floatTensor([1], [0.4]) }]);
  });
});

describe('inside control flow', () => {
  it('If branches: NonZero of the input or of its negation, compiled in the branch bodies', async () => {
    const b = new ModelBuilder({ opset: 13 });
    const c = b.input('c', BOOL, []);
    const x = b.input('x', F, [2, 3]);
    const then = b.subgraph('then');
    then.output(then.node('NonZero', [x])[0], I64, null);
    const other = b.subgraph('else');
    const [r] = other.node('Relu', [x]);
    other.output(other.node('NonZero', [r])[0], I64, null);
    const [y] = b.node('If', [c], { attrs: { then_branch: then, else_branch: other }, outputs: ['y'] });
    b.output(y);
    const xs = levels([2, 3], 14);
    await assertRunsMatchOrt(b.build(), [{ c: bools([1], []), x: xs }, { c: bools([0], []), x: xs }]);
  });
});

describe('trimming on the host', () => {
  it('narrowAlongAxis keeps the leading entries of any axis', () => {
    const t: HostTensor = { dataType: I64, dims: [2, 3], data: ints([0, 1, 2, 3, 4, 5], [2, 3]).data };
    const cols = narrowAlongAxis(t, 1, 2);
    assert.deepEqual(cols.dims, [2, 2]);
    assert.deepEqual(Array.from(new BigInt64Array(cols.data.slice().buffer)), [0n, 1n, 3n, 4n]);
    const rows = narrowAlongAxis(t, 0, 1);
    assert.deepEqual(Array.from(new BigInt64Array(rows.data.slice().buffer)), [0n, 1n, 2n]);
    assert.throws(() => narrowAlongAxis(t, 1, 4), /out of range/);
  });
});

describe('a precompiled module runs with no toolchain', () => {
  it('NonZero runs compiled; its deferred user runs on the CPU EP', async () => {
    const b = new ModelBuilder({ opset: 13 });
    const x = b.input('x', F, [2, 3]);
    const [nz] = b.node('NonZero', [x]);
    b.output(b.node('Neg', [nz], { outputs: ['y'] })[0]);
    const model = b.build();
    const dir = await mkdtemp(join(tmpdir(), 'bounded-aot-'));
    const onnx = join(dir, 'm.onnx');
    const mod = join(dir, 'm.ortmlir');
    await writeFile(onnx, model);
    const io = bufferIo();
    assert.equal(await main(['compile', onnx, '-o', mod], io), 0, io.err.join(''));
    const s = await createMlirSession(onnx, { module: mod, toolchainHome: join(dir, 'no-llvm-here'), cacheDir: '' });
    const cpu = await CpuSession.create(model);
    try {
      for (const seed of [1, 2]) {
        const feeds = new Map([['x', levels([2, 3], seed)]]);
        const [a, e] = [(await s.run(feeds)).get('y'), (await cpu.run(feeds)).get('y')];
        assert.ok(a && e);
        assert.equal(compareTensors(a, e, { atol: 0, rtol: 0, postProcessing: false }).status, 'success');
      }
      const report = s.report();
      assert.equal(report.compiledNodes, 1);
      assert.equal(report.fallbackNodes, 1);
    } finally {
      await s.dispose();
      await cpu.dispose();
    }
  });
});
