// If / Loop / Scan through the EP, differential against onnxruntime-node:
// bodies are compiled (not sent to the CPU EP), read outer-scope values, nest,
// and produce loop-carried and scan outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, attr, type GraphBuilder } from '../../src/onnx/builder.js';
import { assertMatchesOrt, floatTensor, randomTensor } from '../helpers/differential.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';

const OPSET = 17;

function boolScalar(v: boolean): HostTensor {
  return { dataType: DataType.BOOL, dims: [], data: new Uint8Array([v ? 1 : 0]) };
}

function i64Scalar(v: number): HostTensor {
  return { dataType: DataType.INT64, dims: [], data: new Uint8Array(new BigInt64Array([BigInt(v)]).buffer) };
}

/** then: relu(x) * w (outer-scope initializer); else: tanh(x) - x. */
function ifModel(): Uint8Array {
  const b = new ModelBuilder({ opset: OPSET });
  const c = b.input('c', DataType.BOOL, []);
  const x = b.input('x', DataType.FLOAT, [3, 4]);
  const w = b.initializer('w', DataType.FLOAT, [4], [0.5, -1, 2, 3]);
  const [sx] = b.node('Sigmoid', [x]);
  const then = b.subgraph('then');
  const [r] = then.node('Relu', [sx]);
  const [m] = then.node('Mul', [r, w]);
  then.output(m, DataType.FLOAT, [3, 4]);
  const other = b.subgraph('else');
  const [t] = other.node('Tanh', [sx]);
  const [d] = other.node('Sub', [t, x]);
  other.output(d, DataType.FLOAT, [3, 4]);
  const [y] = b.node('If', [c], { attrs: { then_branch: then, else_branch: other } });
  b.output(y, DataType.FLOAT, [3, 4]);
  return b.build();
}

test('If: both branches compiled, reading outer-scope values', async () => {
  const x = randomTensor(DataType.FLOAT, [3, 4], 11);
  for (const c of [true, false]) {
    const { report } = await assertMatchesOrt(ifModel(), { c: boolScalar(c), x });
    assert.equal(report.fallbackNodes, 0);
  }
});

/** Loop body: carried acc = acc * 0.5 + x; scan output acc_i; an inner If on the iteration parity. */
function loopBody(b: ModelBuilder, x: string): GraphBuilder {
  const body = b.subgraph('body');
  const i = body.input('i', DataType.INT64, []);
  const cond = body.input('cond_in', DataType.BOOL, []);
  const acc = body.input('acc', DataType.FLOAT, [2, 3]);
  const half = body.initializer('half', DataType.FLOAT, [], [0.5]);
  const two = body.initializer('two', DataType.INT64, [], [2]);
  const zero = body.initializer('zero', DataType.INT64, [], [0]);
  const [scaled] = body.node('Mul', [acc, half]);
  const [next] = body.node('Add', [scaled, x]);
  const [rem] = body.node('Mod', [i, two]);
  const [even] = body.node('Equal', [rem, zero]);
  const evenBranch = body.subgraph('even');
  const [e] = evenBranch.node('Relu', [next]);
  evenBranch.output(e, DataType.FLOAT, [2, 3]);
  const oddBranch = body.subgraph('odd');
  const [o] = oddBranch.node('Neg', [next]);
  oddBranch.output(o, DataType.FLOAT, [2, 3]);
  const [picked] = body.node('If', [even], { attrs: { then_branch: evenBranch, else_branch: oddBranch } });
  const [condOut] = body.node('Identity', [cond]);
  body.output(condOut, DataType.BOOL, []);
  body.output(next, DataType.FLOAT, [2, 3]);
  body.output(picked, DataType.FLOAT, [2, 3]);
  return body;
}

function loopModel(): Uint8Array {
  const b = new ModelBuilder({ opset: OPSET });
  const n = b.input('n', DataType.INT64, []);
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const init = b.initializer('init', DataType.FLOAT, [2, 3], [1, 2, 3, 4, 5, 6]);
  const cond = b.initializer('cond', DataType.BOOL, [], [1]);
  const [final, scans] = b.node('Loop', [n, cond, init], { outputs: 2, attrs: { body: loopBody(b, x) } });
  b.output(final, DataType.FLOAT, [2, 3]);
  b.output(scans, DataType.FLOAT, ['N', 2, 3]);
  return b.build();
}

test('Loop: carried values, scan outputs, a nested If and an outer-scope input', async () => {
  const x = randomTensor(DataType.FLOAT, [2, 3], 5);
  for (const n of [1, 4]) {
    const { report } = await assertMatchesOrt(loopModel(), { n: i64Scalar(n), x });
    assert.equal(report.fallbackNodes, 0);
  }
});

/** Scan: running sum over the rows of x (state) and each row times the state (scan output). */
function scanModel(): Uint8Array {
  const b = new ModelBuilder({ opset: OPSET });
  const init = b.input('init', DataType.FLOAT, [3]);
  const x = b.input('x', DataType.FLOAT, [5, 3]);
  const body = b.subgraph('scan_body');
  const s = body.input('s', DataType.FLOAT, [3]);
  const row = body.input('row', DataType.FLOAT, [3]);
  const [sum] = body.node('Add', [s, row]);
  const [prod] = body.node('Mul', [sum, row]);
  body.output(sum, DataType.FLOAT, [3]);
  body.output(prod, DataType.FLOAT, [3]);
  const [final, ys] = b.node('Scan', [init, x], { outputs: 2, attrs: { body, num_scan_inputs: attr.int(1) } });
  b.output(final, DataType.FLOAT, [3]);
  b.output(ys, DataType.FLOAT, [5, 3]);
  return b.build();
}

test('Scan: state and scan output, body compiled', async () => {
  const { report } = await assertMatchesOrt(scanModel(), {
    init: floatTensor([3], [0, 1, -1]),
    x: randomTensor(DataType.FLOAT, [5, 3], 9),
  });
  assert.equal(report.fallbackNodes, 0);
});
