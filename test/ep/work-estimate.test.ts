// The work estimate the executor uses to run a step inline, on a worker, or
// awaited awake: elements touched, plus contractions' multiply-adds, so that a
// large MatMul with small tensors does not look like a short elementwise step.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, type AttrInput } from '../../src/onnx/builder.js';
import { decodeModel } from '../../src/onnx/decode.js';
import { buildGraph, type IrNode } from '../../src/ir/graph.js';
import { inferShapes } from '../../src/passes/infer-shapes.js';
import { MACS_PER_ELEMENT, workEstimate } from '../../src/ep/work-estimate.js';
import '../../src/import/ops/index.js';

const F = DataType.FLOAT;

/** One node of `op` over a graph input x and a weight w, with its shapes inferred. */
function single(op: string, x: number[], w: number[], attrs: Record<string, AttrInput> = {}): IrNode {
  const b = new ModelBuilder({ opset: 17 });
  const xi = b.input('x', F, x);
  const wi = b.initializer('w', F, w, new Float32Array(w.reduce((a, d) => a * d, 1)));
  const [y] = b.node(op, [xi, wi], { outputs: ['y'], attrs });
  b.output(y, F);
  const m = decodeModel(b.build());
  const graph = buildGraph(m.graph, m.opsetImports);
  inferShapes(graph, new Map([['x', { dataType: F, shape: x }]]));
  return graph.nodes[0]!;
}

describe('workEstimate', () => {
  it('counts an elementwise node by the elements it reads and writes', () => {
    assert.equal(workEstimate([single('Add', [4, 8], [4, 8])]), 3 * 32);
  });

  it('adds a MatMul\'s multiply-adds, weighted against elements', () => {
    const n = 64;
    const elements = 3 * n * n;
    assert.equal(workEstimate([single('MatMul', [n, n], [n, n])]), Math.round(elements + n ** 3 / MACS_PER_ELEMENT));
  });

  it('reads Gemm\'s depth from the transposed side when transA is set', () => {
    const plain = workEstimate([single('Gemm', [16, 32], [32, 8])]);
    const transposed = workEstimate([single('Gemm', [32, 16], [32, 8], { transA: 1 })]);
    assert.equal(plain, transposed);
    assert.equal(plain, 16 * 32 + 32 * 8 + 16 * 8 + Math.round((16 * 8 * 32) / MACS_PER_ELEMENT));
  });

  it('counts a grouped Conv\'s depth as its weights per output channel', () => {
    // 8 → 8 channels in 4 groups, 3×3 kernel, 10×10 image with padding 1: 800 outputs of depth 2·9.
    const node = single('Conv', [1, 8, 10, 10], [8, 2, 3, 3], { group: 4, pads: [1, 1, 1, 1] });
    const elements = 800 + 8 * 2 * 9 + 800;
    assert.equal(workEstimate([node]), Math.round(elements + (800 * 18) / MACS_PER_ELEMENT));
  });

  it('sums the nodes of a step', () => {
    const a = single('Add', [4, 4], [4, 4]);
    const b = single('MatMul', [4, 4], [4, 4]);
    assert.equal(workEstimate([a, b]), workEstimate([a]) + workEstimate([b]));
  });
});
