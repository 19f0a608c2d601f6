// Subnormal weights of contractions become zeros (microcode assists on Intel
// for every multiply with one); other constants keep them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, type OnnxTensor } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { decodeModel } from '../../src/onnx/decode.js';
import { buildGraph, type Graph } from '../../src/ir/graph.js';
import { inferShapes } from '../../src/passes/infer-shapes.js';
import { flushDenormalWeights, flushedTensor } from '../../src/passes/flush-denormal-weights.js';
import { assertMatchesOrt, floatTensor } from '../helpers/differential.js';
import '../../src/import/ops/index.js';

const F = DataType.FLOAT;
const SUBNORMAL = 1e-40;
const TINY_NORMAL = 2 ** -126;

function floats(t: OnnxTensor | null): number[] {
  assert.ok(t);
  return [...new Float32Array(t.data.slice().buffer)];
}

function tensor(values: number[]): OnnxTensor {
  return { name: 'w', dataType: F, dims: [values.length], data: new Uint8Array(new Float32Array(values).buffer) };
}

/** y = MatMul(x, w) and z = Div(x, d), w and d constants holding subnormals; `shared` makes w the divisor too. */
function model(shared: boolean): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', F, [2, 2]);
  const w = b.initializer('w', F, [2, 2], new Float32Array([SUBNORMAL, 1, -SUBNORMAL, TINY_NORMAL]));
  const d = b.initializer('d', F, [2, 2], new Float32Array([SUBNORMAL, 1, 1, 1]));
  const [y] = b.node('MatMul', [x, w], { outputs: ['y'] });
  const [z] = b.node('Div', [x, shared ? w : d], { outputs: ['z'] });
  b.output(y, F);
  b.output(z, F);
  return b.build();
}

function graphOf(bytes: Uint8Array): Graph {
  const m = decodeModel(bytes);
  const graph = buildGraph(m.graph, m.opsetImports);
  inferShapes(graph, new Map([['x', { dataType: F, shape: [2, 2] }]]));
  return graph;
}

describe('flushDenormalWeights', () => {
  it('zeroes subnormals keeping their sign, and leaves normals (the smallest too) and zeros alone', () => {
    const out = floats(flushedTensor(tensor([SUBNORMAL, -SUBNORMAL, TINY_NORMAL, -0, 0, 3])));
    assert.deepEqual(out.map((v) => Object.is(v, -0) ? '-0' : v), [0, '-0', TINY_NORMAL, '-0', 0, 3]);
  });

  it('returns null for a tensor without subnormals or of another type', () => {
    assert.equal(flushedTensor(tensor([1, TINY_NORMAL, 0])), null);
    assert.equal(flushedTensor({ name: 'i', dataType: DataType.INT32, dims: [1], data: new Uint8Array(4) }), null);
  });

  it('flushes a weight only contractions read; a divisor keeps its subnormal', () => {
    const graph = graphOf(model(false));
    assert.equal(flushDenormalWeights(graph), 1);
    assert.deepEqual(floats(graph.values.get('w')?.constant ?? null), [0, 1, -0, TINY_NORMAL]);
    assert.equal(floats(graph.values.get('d')?.constant ?? null)[0], Math.fround(SUBNORMAL));
  });

  it('leaves a weight that a non-contraction also reads', () => {
    const graph = graphOf(model(true));
    assert.equal(flushDenormalWeights(graph), 0);
    assert.equal(floats(graph.values.get('w')?.constant ?? null)[0], Math.fround(SUBNORMAL));
  });

  it('a compiled model with subnormal weights matches onnxruntime', async () => {
    await assertMatchesOrt(model(false), { x: floatTensor([2, 2], [1, 2, 3, 4]) });
  });
});
