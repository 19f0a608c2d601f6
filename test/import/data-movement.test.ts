// Data-movement and shape ops: fold-helper unit tests, differential tests of
// the lowerings against onnxruntime-node (many nodes per model so that each
// opset compiles once), and the folding of Shape → ... → Reshape chains.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, type AttrInput } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';
import { broadcastMap, concatTensors, gatherMap, sliceMap, stridesOf, takeElements, tileMap, transposeMap } from '../../src/import/fold-helpers.js';
import { numbersToTensor, tensorToNumbers } from '../../src/import/tensor-data.js';
import { decodeModel } from '../../src/onnx/decode.js';
import { buildGraph } from '../../src/ir/graph.js';
import { inferShapes } from '../../src/passes/infer-shapes.js';
import { CpuSession } from '../../src/ep/cpu-session.js';
import { compareTensors, DEFAULT_ATOL, DEFAULT_RTOL } from '../../src/cli/compare.js';
import '../../src/import/ops/index.js';

const F = DataType.FLOAT;
const I64 = DataType.INT64;
const INT64_MAX = 9223372036854775807n;

/** A runtime input with random contents in [lo, hi]. */
interface Fed { dims: number[]; dataType?: DataType; lo?: number; hi?: number }
/** A constant input (initializer). */
interface Init { init: readonly number[] | readonly bigint[]; dims?: number[]; dataType?: DataType }
type Operand = Fed | Init | '';

interface Case {
  op: string;
  inputs: Operand[];
  attrs?: Record<string, AttrInput>;
  outputs?: number;
}

function isInit(o: Fed | Init): o is Init {
  return 'init' in o;
}

function model(cases: readonly Case[], opset: number): { bytes: Uint8Array; feeds: Record<string, HostTensor> } {
  const b = new ModelBuilder({ opset });
  const feeds: Record<string, HostTensor> = {};
  let seed = 1;
  cases.forEach((c, k) => {
    const names = c.inputs.map((o, i) => {
      if (o === '') return '';
      const name = `in${k}_${i}`;
      if (isInit(o)) return b.initializer(name, o.dataType ?? I64, o.dims ?? [o.init.length], o.init);
      const dt = o.dataType ?? F;
      b.input(name, dt, o.dims);
      feeds[name] = randomTensor(dt, o.dims, seed++, o.lo ?? -1, o.hi ?? 1);
      return name;
    });
    for (const out of b.node(c.op, names, { attrs: c.attrs, outputs: c.outputs ?? 1 })) b.output(out);
  });
  return { bytes: b.build(), feeds };
}

async function check(cases: readonly Case[], opset: number): Promise<void> {
  const m = model(cases, opset);
  await assertMatchesOrt(m.bytes, m.feeds);
}

const x = (...dims: number[]): Fed => ({ dims });
const ints = (...v: number[]): Init => ({ init: v });
const scalar = (v: number, dataType = I64): Init => ({ init: [v], dims: [], dataType });
const idx = (dims: number[], lo: number, hi: number): Fed => ({ dims, dataType: I64, lo, hi });

describe('fold helpers', () => {
  it('computes strides and transpose/slice/gather/broadcast/tile index maps', () => {
    assert.deepEqual(stridesOf([2, 3, 4]), [12, 4, 1]);
    assert.deepEqual(transposeMap([2, 3], [1, 0]), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(sliceMap([5], [{ start: 4, step: -2, size: 3 }]), [4, 2, 0]);
    assert.deepEqual(gatherMap([3, 2], 0, [2, 0], [2]), [4, 5, 0, 1]);
    assert.deepEqual(broadcastMap([2, 1], [2, 3]), [0, 0, 0, 1, 1, 1]);
    assert.deepEqual(tileMap([2], [6]), [0, 1, 0, 1, 0, 1]);
  });

  it('moves raw elements of any fixed-width dtype and concatenates', () => {
    const t = numbersToTensor('t', I64, [2, 2], [1, 2, 3, 4]);
    const tr = takeElements(t, [2, 2], transposeMap([2, 2], [1, 0]));
    assert.ok(tr);
    assert.deepEqual(tensorToNumbers(tr), [1, 3, 2, 4]);
    const c = concatTensors([t, numbersToTensor('u', I64, [2, 1], [9, 8])], 1);
    assert.ok(c);
    assert.deepEqual(c.dims, [2, 3]);
    assert.deepEqual(tensorToNumbers(c), [1, 2, 9, 3, 4, 8]);
  });
});

describe('data-movement lowerings match onnxruntime', () => {
  // Every initializer currently becomes an argument of the compiled function
  // (at most 64), so the cases are spread over a few models.
  it('opset 17: reshapes, transpose, concat, split', async () => {
    await check([
      { op: 'Reshape', inputs: [x(2, 3, 4), ints(3, -1)] },
      { op: 'Reshape', inputs: [x(2, 3, 4), ints(0, 1, 12)] },
      { op: 'Reshape', inputs: [x(1, 1), ints()] },
      { op: 'Flatten', inputs: [x(2, 3, 4)], attrs: { axis: -1 } },
      { op: 'Flatten', inputs: [x(2, 3, 4)], attrs: { axis: 0 } },
      { op: 'Squeeze', inputs: [x(1, 3, 1, 2), ints(-2)] },
      { op: 'Unsqueeze', inputs: [x(3, 2), ints(0, 3)] },
      { op: 'Transpose', inputs: [x(2, 3, 4)], attrs: { perm: [1, 2, 0] } },
      { op: 'Transpose', inputs: [{ dims: [3, 2], dataType: DataType.BOOL }] },
      { op: 'Concat', inputs: [x(2, 1, 3), x(2, 4, 3), x(2, 2, 3)], attrs: { axis: 1 } },
      { op: 'Concat', inputs: [{ dims: [2, 2], dataType: I64, lo: -9, hi: 9 }, { dims: [2, 3], dataType: I64, lo: -9, hi: 9 }], attrs: { axis: -1 } },
      { op: 'Split', inputs: [x(2, 6), ints(1, 3, 2)], attrs: { axis: 1 }, outputs: 3 },
      { op: 'Split', inputs: [x(4, 3)], outputs: 2 },
    ], 17);
  });

  it('opset 17: slice, expand, tile, pad', async () => {
    await check([
      { op: 'Slice', inputs: [x(4, 6), ints(1, -1), { init: [INT64_MAX, -7n] }, ints(0, 1), ints(2, -2)] },
      { op: 'Slice', inputs: [x(3, 5), ints(0), ints(3), ints(1)] },
      { op: 'Expand', inputs: [x(3, 1), ints(2, 1, 4)] },
      { op: 'Tile', inputs: [x(2, 3), ints(2, 3)] },
      { op: 'Pad', inputs: [x(2, 3), ints(1, 0, 0, 2), { dims: [] }], attrs: { mode: 'constant' } },
      { op: 'Pad', inputs: [x(3, 4), ints(2, 1, 1, 3)], attrs: { mode: 'reflect' } },
      { op: 'Pad', inputs: [x(3, 4), ints(0, -1, 2, 1)] },
      { op: 'Pad', inputs: [x(2, 3), ints(2, 2, 3, 1)], attrs: { mode: 'edge' } },
    ], 17);
  });

  it('opset 17: gathers, scatters and index normalisation', async () => {
    await check([
      { op: 'Gather', inputs: [x(3, 4), idx([2, 2], -3, 2)] },
      { op: 'Gather', inputs: [x(3, 4), ints(-1, 0, 3)], attrs: { axis: 1 } },
      { op: 'Gather', inputs: [x(5), scalar(-2)] },
      { op: 'GatherElements', inputs: [x(3, 4), idx([2, 4], -3, 2)] },
      { op: 'GatherND', inputs: [x(2, 3, 4), idx([2, 1], 0, 1)] },
      { op: 'GatherND', inputs: [x(2, 3, 4), idx([2, 2, 1], -3, 2)], attrs: { batch_dims: 1 } },
      { op: 'ScatterElements', inputs: [x(3, 3), { init: [1, 0, 2, 0, 2, 1, 0, 0, 0], dims: [3, 3] }, x(3, 3)], attrs: { axis: 0 } },
      { op: 'ScatterElements', inputs: [x(1, 5), { init: [1, -2, 1], dims: [1, 3] }, x(1, 3)], attrs: { axis: 1, reduction: 'add' } },
      { op: 'ScatterND', inputs: [x(4, 3), { init: [3, 1, -4], dims: [3, 1] }, x(3, 3)] },
      { op: 'ScatterND', inputs: [x(4, 3), { init: [0, 2, 0, 2], dims: [2, 2] }, x(2)], attrs: { reduction: 'mul' } },
    ], 17);
  });

  it('opset 17: generators and masks', async () => {
    await check([
      { op: 'OneHot', inputs: [idx([2, 3], -4, 3), scalar(4), { init: [0.5, 2], dims: [2], dataType: F }], attrs: { axis: 1 } },
      { op: 'OneHot', inputs: [idx([3], 0, 2), scalar(3), { dims: [2] }] },
      { op: 'Trilu', inputs: [x(2, 4, 5), { dims: [], dataType: I64, lo: -2, hi: 2 }] },
      { op: 'Trilu', inputs: [x(4, 3), scalar(1)], attrs: { upper: 0 } },
      { op: 'EyeLike', inputs: [x(3, 5)], attrs: { k: 2, dtype: DataType.INT32 } },
      { op: 'DepthToSpace', inputs: [x(1, 8, 2, 3)], attrs: { blocksize: 2 } },
      { op: 'DepthToSpace', inputs: [x(2, 8, 2, 1)], attrs: { blocksize: 2, mode: 'CRD' } },
      { op: 'SpaceToDepth', inputs: [x(1, 2, 4, 6)], attrs: { blocksize: 2 } },
      // Outputs above the fold limit are computed by generated code.
      { op: 'Range', inputs: [scalar(1, F), scalar(2001, F), scalar(0.25, F)] },
      { op: 'ConstantOfShape', inputs: [ints(70, 80)], attrs: { value: numbersToTensor('v', DataType.INT32, [1], [7]) } },
      { op: 'Compress', inputs: [x(3, 4), { init: [1, 0, 1], dataType: DataType.BOOL }], attrs: { axis: 0 } },
      { op: 'Compress', inputs: [x(2, 3), { init: [0, 1, 1, 0, 1], dataType: DataType.BOOL }] },
    ], 17);
  });

  it('opset 9: attribute forms (Slice-1, Pad-2, Split-2, Squeeze-1, Unsqueeze-1, Scatter)', async () => {
    await check([
      { op: 'Slice', inputs: [x(4, 5)], attrs: { starts: [1, -3], ends: [1000, -1], axes: [0, 1] } },
      { op: 'Pad', inputs: [x(2, 3)], attrs: { pads: [1, 1, 0, 2], mode: 'constant', value: 1.5 } },
      { op: 'Pad', inputs: [x(3, 3)], attrs: { pads: [2, 0, 1, 2], mode: 'reflect' } },
      { op: 'Split', inputs: [x(5, 2)], attrs: { split: [2, 3] }, outputs: 2 },
      { op: 'Squeeze', inputs: [x(1, 3, 1)], attrs: { axes: [0, 2] } },
      { op: 'Unsqueeze', inputs: [x(3)], attrs: { axes: [1] } },
      { op: 'Scatter', inputs: [x(2, 4), { init: [3, 0, 1, 2], dims: [2, 2] }, x(2, 2)], attrs: { axis: 1 } },
    ], 9);
  });

  it('opset 19: Pad wrap/axes, Split num_outputs, Shape start/end, scatter max/min', async () => {
    await check([
      { op: 'Pad', inputs: [x(2, 3), ints(3, 2), '', ints(1)], attrs: { mode: 'wrap' } },
      { op: 'Pad', inputs: [x(2, 3, 2), ints(1, 1), scalar(-1, F), ints(-3)] },
      { op: 'Split', inputs: [x(7, 2)], attrs: { num_outputs: 3 }, outputs: 3 },
      { op: 'ScatterElements', inputs: [x(2, 3), { init: [0, 0, 2, 2], dims: [2, 2] }, x(2, 2)], attrs: { axis: 1, reduction: 'max' } },
      { op: 'ScatterND', inputs: [x(3, 2), { init: [1, 1], dims: [2, 1] }, x(2, 2)], attrs: { reduction: 'min' } },
      { op: 'Reshape', inputs: [x(0, 2, 2), ints(0, 4)], attrs: { allowzero: 1 } },
      { op: 'Shape', inputs: [x(2, 3, 4, 5)], attrs: { start: 1, end: -1 } },
    ], 19);
  });
});

/** A float constant with distinct values. */
const fc = (...dims: number[]): Init => {
  const n = dims.reduce((a, d) => a * d, 1);
  return { init: Array.from({ length: n }, (_, i) => i * 0.5 - 1), dims, dataType: F };
};

/** Every node folds at compile time and the folded outputs equal onnxruntime's. */
async function checkFolds(cases: readonly Case[], opset: number): Promise<void> {
  const m = model(cases, opset);
  const cpu = await CpuSession.create(m.bytes);
  try {
    const expected = await cpu.run(new Map());
    const decoded = decodeModel(m.bytes);
    const graph = buildGraph(decoded.graph, decoded.opsetImports);
    const { status } = inferShapes(graph, new Map());
    for (const node of graph.nodes) assert.equal(status.get(node)?.kind, 'folded', `${node.op} did not fold: ${JSON.stringify(status.get(node))}`);
    for (const v of graph.outputs) {
      const e = expected.get(v.name);
      assert.ok(e && v.constant, `output ${v.name}`);
      const actual: HostTensor = { dataType: v.constant.dataType, dims: v.constant.dims, data: v.constant.data };
      const r = compareTensors(actual, e, { atol: DEFAULT_ATOL, rtol: DEFAULT_RTOL, postProcessing: false });
      assert.equal(r.status, 'success', `${v.name}: ${r.message}`);
    }
  } finally {
    await cpu.dispose();
  }
}

describe('constant folding matches onnxruntime', () => {
  it('folds every data-movement op on small constants', async () => {
    await checkFolds([
      { op: 'Reshape', inputs: [fc(2, 3, 4), ints(3, -1)] },
      { op: 'Flatten', inputs: [fc(2, 3, 4)], attrs: { axis: 2 } },
      { op: 'Squeeze', inputs: [fc(1, 3, 1), ints(0)] },
      { op: 'Unsqueeze', inputs: [fc(3), ints(-1)] },
      { op: 'Transpose', inputs: [fc(2, 3, 4)], attrs: { perm: [2, 0, 1] } },
      { op: 'Concat', inputs: [fc(2, 1), fc(2, 3)], attrs: { axis: 1 } },
      { op: 'Split', inputs: [fc(5, 2), ints(3, 2)], outputs: 2 },
      { op: 'Slice', inputs: [fc(5, 4), ints(-1, 3), ints(-100, 0), ints(0, 1), ints(-2, -1)] },
      { op: 'Shape', inputs: [fc(2, 3, 4)] },
      { op: 'Size', inputs: [fc(2, 3, 4)] },
      { op: 'Gather', inputs: [fc(3, 4), ints(-1, 0)], attrs: { axis: 0 } },
      { op: 'GatherElements', inputs: [fc(2, 3), { init: [2, -1, 0, 1], dims: [2, 2] }], attrs: { axis: 1 } },
      { op: 'GatherND', inputs: [fc(2, 3, 2), { init: [1, 0, 0, 2], dims: [2, 2] }] },
      { op: 'ScatterElements', inputs: [fc(2, 3), { init: [1, 1], dims: [1, 2] }, fc(1, 2)], attrs: { axis: 0, reduction: 'add' } },
      { op: 'ScatterND', inputs: [fc(3, 2), { init: [2, 0], dims: [2, 1] }, fc(2, 2)] },
      { op: 'Expand', inputs: [fc(3, 1), ints(2, 3, 2)] },
      { op: 'Tile', inputs: [fc(2, 2), ints(1, 3)] },
      { op: 'ConstantOfShape', inputs: [ints(2, 3)], attrs: { value: numbersToTensor('v', F, [1], [2.5]) } },
      { op: 'Range', inputs: [scalar(0.5, F), scalar(3, F), scalar(0.3, F)] },
      { op: 'Pad', inputs: [fc(2, 3), ints(1, 2, 0, 1)], attrs: { mode: 'reflect' } },
      { op: 'Pad', inputs: [fc(2, 3), ints(0, 1, 1, -1), scalar(7, F)] },
      { op: 'OneHot', inputs: [ints(0, -1, 5), scalar(3), { init: [-1, 1], dataType: F }] },
      { op: 'Trilu', inputs: [fc(3, 4), scalar(-1)] },
      { op: 'EyeLike', inputs: [fc(2, 3)], attrs: { k: -1 } },
      { op: 'DepthToSpace', inputs: [fc(1, 4, 1, 2)], attrs: { blocksize: 2, mode: 'CRD' } },
      { op: 'SpaceToDepth', inputs: [fc(1, 1, 2, 4)], attrs: { blocksize: 2 } },
      { op: 'Compress', inputs: [fc(3, 2), { init: [0, 1, 1], dataType: DataType.BOOL }], attrs: { axis: 0 } },
      { op: 'NonZero', inputs: [{ init: [0, 1, 0, 3, 2, 0], dims: [2, 3] }] },
    ], 17);
  });
});

describe('shape subgraphs fold', () => {
  it('Shape → Gather → Unsqueeze → Concat → Reshape leaves only the Reshape to compile', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const xs = b.input('x', F, [2, 3, 4]);
    const [shape] = b.node('Shape', [xs]);
    const [first] = b.node('Gather', [shape, b.initializer('zero', I64, [], [0])]);
    const [dim] = b.node('Unsqueeze', [first, b.initializer('axes', I64, [1], [0])]);
    const [target] = b.node('Concat', [dim, b.initializer('rest', I64, [1], [-1])], { attrs: { axis: 0 } });
    const [y] = b.node('Reshape', [xs, target]);
    b.output(y);
    const { report } = await assertMatchesOrt(b.build(), { x: randomTensor(F, [2, 3, 4]) });
    assert.equal(report.compiledNodes, 1);
    assert.equal(report.fallbackNodes, 0);
  });

  it('defers a Reshape whose shape is only known at run time (see value-specialisation.test.ts)', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const xs = b.input('x', F, [2, 6]);
    const s = b.input('s', I64, [2]);
    const [y] = b.node('Reshape', [xs, s]);
    b.output(y);
    const shape: HostTensor = { dataType: I64, dims: [2], data: new Uint8Array(new BigInt64Array([3n, 4n]).buffer) };
    const { report } = await assertMatchesOrt(b.build(), { x: randomTensor(F, [2, 6]), s: shape });
    assert.equal(report.compiledNodes, 1);
  });
});
