import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, type OnnxModel, type OnnxValueInfo } from '../../src/onnx/model.js';
import { decodeModel, decodeTensor } from '../../src/onnx/decode.js';
import { encodeModel, encodeTensor } from '../../src/onnx/encode.js';
import { attr, ModelBuilder, tensorType } from '../../src/onnx/builder.js';
import { tensorFromValues, tensorValues } from '../../src/onnx/tensor-data.js';

/** x → Relu → If(c){ Loop(Add) } else { Neg } → y: nested subgraphs two deep. */
function nestedModel(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, ['N', 2]);
  const c = b.input('c', DataType.BOOL, []);
  const [r] = b.node('Relu', [x], { name: 'relu' });
  const thenG = b.subgraph('then');
  const trip = thenG.addInitializer(tensorFromValues('trip', DataType.INT64, [], [3n]));
  const body = thenG.subgraph('body');
  body.input('i', DataType.INT64, []);
  body.input('cond_in', DataType.BOOL, []);
  body.input('acc', DataType.FLOAT, ['N', 2]);
  const [condOut] = body.node('Identity', ['cond_in']);
  const [sum] = body.node('Add', ['acc', r]);
  body.output(condOut, DataType.BOOL, []);
  body.output(sum, DataType.FLOAT, ['N', 2]);
  const [looped] = thenG.node('Loop', [trip, '', r], { outputs: 1, attrs: { body } });
  thenG.output(looped, DataType.FLOAT, ['N', 2]);
  const elseG = b.subgraph('else');
  const [neg] = elseG.node('Neg', [r]);
  elseG.output(neg, DataType.FLOAT, ['N', 2]);
  const [y] = b.node('If', [c], { name: 'if', attrs: { then_branch: thenG, else_branch: elseG } });
  b.output(y, DataType.FLOAT, ['N', 2]);
  return b.build();
}

const reencode = (m: OnnxModel): Uint8Array =>
  encodeModel({ irVersion: m.irVersion, opsetImports: m.opsetImports, functions: m.functions, graph: m.graph });

describe('encodeModel', () => {
  test('decode → encode reproduces the model byte for byte', () => {
    const bytes = nestedModel();
    assert.deepEqual(reencode(decodeModel(bytes)), bytes);
  });

  test('nodes are re-emitted from raw: renamed IO applies, subgraphs survive', () => {
    const m = decodeModel(nestedModel());
    const relu = m.graph.nodes[0];
    m.graph.nodes[0] = { ...relu, inputs: ['x2'] };
    m.graph.inputs[0] = { ...m.graph.inputs[0], name: 'x2' };
    // Edits to `attributes` do not reach nodes that carry a raw NodeProto.
    m.graph.nodes[1].attributes.clear();
    const back = decodeModel(reencode(m));
    assert.deepEqual(back.graph.nodes[0].inputs, ['x2']);
    const thenBranch = back.graph.nodes[1].attributes.get('then_branch');
    assert.ok(thenBranch?.kind === 'graph');
    const loopBody = thenBranch.value.nodes[0].attributes.get('body');
    assert.ok(loopBody?.kind === 'graph');
    assert.deepEqual(loopBody.value.nodes.map((n) => n.opType), ['Identity', 'Add']);
  });

  test('nodes without raw are encoded from their attributes', () => {
    const m = decodeModel(nestedModel());
    const relu = m.graph.nodes[0];
    m.graph.nodes[0] = { ...relu, opType: 'LeakyRelu', attributes: new Map([['alpha', attr.float(0.25)]]), raw: undefined };
    const back = decodeModel(reencode(m));
    assert.equal(back.graph.nodes[0].opType, 'LeakyRelu');
    assert.deepEqual(back.graph.nodes[0].attributes.get('alpha'), { kind: 'float', value: 0.25 });
  });

  test('value infos: sizes, symbols, unknown dims, unknown rank, non-tensor and unknown types', () => {
    const infos: OnnxValueInfo[] = [
      { name: 'a', type: tensorType(DataType.FLOAT, [2, 'N', null]) },
      { name: 'b', type: tensorType(DataType.INT64, null) },
      { name: 'c', type: tensorType(DataType.BOOL, []) },
      { name: 'd', type: { kind: 'sequence', elem: tensorType(DataType.FLOAT, ['M']) } },
      { name: 'e', type: { kind: 'optional', elem: tensorType(DataType.UINT8) } },
      { name: 'f', type: { kind: 'map', keyType: DataType.STRING, value: tensorType(DataType.FLOAT) } },
      { name: 'g', type: { kind: 'sparse_tensor', elemType: DataType.FLOAT, shape: [3] } },
      { name: 'h', type: { kind: 'unknown' } },
    ];
    const bytes = encodeModel({
      irVersion: 8, opsetImports: new Map([['', 17]]),
      graph: { name: 'g', nodes: [], inputs: infos, outputs: [], initializers: [], valueInfo: infos },
    });
    const m = decodeModel(bytes);
    assert.deepEqual(m.graph.inputs, infos);
    assert.deepEqual(m.graph.valueInfo, infos);
  });

  test('functions pass through raw, or are encoded from their fields', () => {
    const b = new ModelBuilder({ opset: 18 });
    const body = b.subgraph('F_body');
    body.node('LeakyRelu', ['a'], { outputs: ['b'], attrs: { alpha: attr.ref('alpha') } });
    b.addFunction({ name: 'F', domain: 'custom', inputs: ['a'], outputs: ['b'], attributes: ['alpha'], attributeDefaults: { beta: attr.float(2) }, body });
    const x = b.input('x', DataType.FLOAT, [2]);
    const [y] = b.node('F', [x], { domain: 'custom', attrs: { alpha: attr.float(0.1) } });
    b.output(y, DataType.FLOAT, [2]);
    const bytes = b.build();
    const m = decodeModel(bytes);
    assert.deepEqual([...m.opsetImports], [['', 18], ['custom', 1]]);
    const [f] = m.functions;
    assert.deepEqual(f.attributeNames, ['alpha', 'beta']);
    assert.deepEqual(f.nodes[0].attributes.get('alpha'), { kind: 'ref', refAttrName: 'alpha' });
    assert.deepEqual([...f.attributeDefaults], [['beta', { kind: 'float', value: 2 }]]);
    assert.deepEqual(reencode(m), bytes);
  });

  test('encodeTensor writes raw_data, or string_data for strings', () => {
    const s = tensorFromValues('s', DataType.STRING, [2], ['x', 'yz']);
    assert.deepEqual(tensorValues(decodeTensor(encodeTensor(s))), ['x', 'yz']);
    const h = tensorFromValues('h', DataType.FLOAT16, [2], [0.5, -1]);
    assert.deepEqual(tensorValues(decodeTensor(encodeTensor(h))), [0.5, -1]);
  });
});

type Ort = typeof import('onnxruntime-node');
const ort: Ort | undefined = await import('onnxruntime-node').catch(() => undefined);

/** Runs `model` and returns its first output as numbers (-0 folded to 0). */
async function runFirst(o: Ort, model: Uint8Array, x: Float32Array, cond: boolean, xName: string): Promise<number[]> {
  const session = await o.InferenceSession.create(model);
  const out = await session.run({ [xName]: new o.Tensor('float32', x, [2, 2]), c: new o.Tensor('bool', [cond], []) });
  const values: number[] = [];
  for (const v of out[session.outputNames[0]].data) {
    if (typeof v !== 'number') throw new TypeError('expected a numeric output');
    values.push(v + 0);
  }
  return values;
}

describe('encoded models run in onnxruntime-node', { skip: ort === undefined }, () => {
  const x = Float32Array.from([1, -2, 3, -4]);

  test('nested If/Loop model, original and re-encoded', async () => {
    assert.ok(ort);
    const bytes = nestedModel();
    for (const model of [bytes, reencode(decodeModel(bytes))]) {
      assert.deepEqual(await runFirst(ort, model, x, true, 'x'), [4, 0, 12, 0]);
      assert.deepEqual(await runFirst(ort, model, x, false, 'x'), [-1, 0, -3, 0]);
    }
  });

  test('a cut-out subgraph (the fallback use case)', async () => {
    assert.ok(ort);
    const m = decodeModel(nestedModel());
    const [relu, ifNode] = m.graph.nodes;
    // The If branches read relu's output from the enclosing scope, so it becomes a graph input.
    const bytes = encodeModel({
      irVersion: m.irVersion, opsetImports: m.opsetImports,
      graph: {
        name: 'cut', nodes: [ifNode], initializers: [],
        inputs: [{ name: 'c', type: tensorType(DataType.BOOL, []) }, { name: relu.outputs[0], type: tensorType(DataType.FLOAT, ['N', 2]) }],
        outputs: [{ name: ifNode.outputs[0], type: tensorType(DataType.FLOAT, null) }],
      },
    });
    assert.deepEqual(await runFirst(ort, bytes, x, false, relu.outputs[0]), [-1, 2, -3, 4]);
    assert.deepEqual(await runFirst(ort, bytes, x, true, relu.outputs[0]), [4, -8, 12, -16]);
  });
});
