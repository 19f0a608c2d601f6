import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, OnnxDecodeError, type OnnxAttribute, type OnnxGraph } from '../../src/onnx/model.js';
import { decodeModel, decodeOptional, decodeSequence, decodeSparseTensor, decodeValue } from '../../src/onnx/decode.js';
import { tensorMessage } from '../../src/onnx/encode.js';
import { attr, ModelBuilder, tensorType } from '../../src/onnx/builder.js';
import { isMsg, ModelProto, OptionalProto, SequenceProto } from '../../src/onnx/proto.js';
import { tensorFromValues, tensorValues } from '../../src/onnx/tensor-data.js';

const f32 = (name: string, dims: number[], values: number[]) => tensorFromValues(name, DataType.FLOAT, dims, values);

function attrOf(g: OnnxGraph, opType: string, name: string): OnnxAttribute {
  const a = g.nodes.find((n) => n.opType === opType)?.attributes.get(name);
  assert.ok(a, `${opType}.${name} missing`);
  return a;
}

/** A model whose single 'Custom' node carries one attribute of every kind. */
function everyKindModel(): Uint8Array {
  const b = new ModelBuilder({ opset: 17, opsets: { 'test.domain': 1 } });
  const x = b.input('x', DataType.FLOAT, [1]);
  const body = b.subgraph('body');
  const [neg] = body.node('Neg', [x]);
  body.output(neg, DataType.FLOAT, [1]);
  const other = b.subgraph('other');
  const [id] = other.node('Identity', [x]);
  other.output(id, DataType.FLOAT);
  const sparse = {
    values: tensorMessage(f32('sp', [2], [5, 6])),
    indices: tensorMessage(tensorFromValues('spi', DataType.INT64, [2], [1n, 3n])),
    dims: [2, 2],
  };
  const [y] = b.node('Custom', [x], {
    domain: 'test.domain',
    name: 'every',
    attrs: {
      f: attr.float(1), i: 3, s: 'héllo', t: f32('tv', [2], [1, 2]), g: body, fs: [0.5, 1.5], is: [1, -2, 3],
      ss: ['a', 'b'], ts: attr.tensors([f32('t0', [1], [7]), f32('t1', [], [8])]), gs: attr.graphs([body, other]),
      tp: attr.typeProto({ kind: 'sequence', elem: tensorType(DataType.INT64, ['n']) }),
      sp: { kind: 'sparse_tensor', value: sparse },
    },
  });
  b.output(y, DataType.FLOAT, [1]);
  return b.build();
}

describe('decodeModel', () => {
  const model = decodeModel(everyKindModel());
  const g = model.graph;

  test('model header', () => {
    assert.equal(model.irVersion, 8);
    assert.deepEqual([...model.opsetImports], [['', 17], ['test.domain', 1]]);
    assert.equal(model.producerName, 'onnxruntime-ep-mlir');
    assert.equal(g.name, 'main');
  });

  test('scalar attribute kinds', () => {
    assert.deepEqual(attrOf(g, 'Custom', 'f'), { kind: 'float', value: 1 });
    assert.deepEqual(attrOf(g, 'Custom', 'i'), { kind: 'int', value: 3 });
    const s = attrOf(g, 'Custom', 's');
    assert.equal(s.kind, 'string');
    assert.equal(s.kind === 'string' && s.value, 'héllo');
    assert.deepEqual(attrOf(g, 'Custom', 'fs'), { kind: 'floats', value: [0.5, 1.5] });
    assert.deepEqual(attrOf(g, 'Custom', 'is'), { kind: 'ints', value: [1, -2, 3] });
    assert.deepEqual(attrOf(g, 'Custom', 'ss'), { kind: 'strings', value: ['a', 'b'] });
  });

  test('tensor, graph and type attribute kinds', () => {
    const t = attrOf(g, 'Custom', 't');
    assert.ok(t.kind === 'tensor' && tensorValues(t.value).join() === '1,2');
    const ts = attrOf(g, 'Custom', 'ts');
    assert.ok(ts.kind === 'tensors');
    assert.deepEqual(ts.value.map((x) => [x.name, x.dims, tensorValues(x)]), [['t0', [1], [7]], ['t1', [], [8]]]);
    const sub = attrOf(g, 'Custom', 'g');
    assert.ok(sub.kind === 'graph');
    assert.equal(sub.value.name, 'body');
    assert.deepEqual(sub.value.nodes.map((n) => [n.opType, n.inputs]), [['Neg', ['x']]]);
    const gs = attrOf(g, 'Custom', 'gs');
    assert.ok(gs.kind === 'graphs');
    assert.deepEqual(gs.value.map((x) => x.name), ['body', 'other']);
    assert.deepEqual(gs.value[1].outputs[0].type, { kind: 'tensor', elemType: DataType.FLOAT, shape: null });
    assert.deepEqual(attrOf(g, 'Custom', 'tp'), {
      kind: 'type_proto', value: { kind: 'sequence', elem: { kind: 'tensor', elemType: DataType.INT64, shape: ['n'] } },
    });
  });

  test('sparse_tensor attributes stay raw and densify on demand', () => {
    const sp = attrOf(g, 'Custom', 'sp');
    assert.ok(sp.kind === 'sparse_tensor' && isMsg(sp.value));
    const dense = decodeSparseTensor(sp.value);
    assert.deepEqual(dense.dims, [2, 2]);
    assert.deepEqual(tensorValues(dense), [0, 5, 0, 6]);
  });

  test('nodes keep name, domain, IO and the raw NodeProto', () => {
    const n = g.nodes[0];
    assert.equal(n.name, 'every');
    assert.equal(n.domain, 'test.domain');
    assert.deepEqual(n.inputs, ['x']);
    assert.ok(isMsg(n.raw));
  });
});

/** ModelProto bytes from plain protobuf fields, for shapes the builder cannot express. */
function rawModel(graph: Record<string, unknown>, extra: Record<string, unknown> = {}): Uint8Array {
  return ModelProto.encode({ ir_version: 8, opset_import: [{ domain: 'ai.onnx', version: 13 }], graph, ...extra }).finish();
}

describe('decodeModel on hand-built protos', () => {
  test("'ai.onnx' is normalised to ''", () => {
    const m = decodeModel(rawModel({ node: [{ op_type: 'Relu', domain: 'ai.onnx', input: ['x'], output: ['y'] }] }));
    assert.deepEqual([...m.opsetImports], [['', 13]]);
    assert.equal(m.graph.nodes[0].domain, '');
  });

  test('int64 attributes saturate to ±MAX_SAFE_INTEGER', () => {
    const m = decodeModel(rawModel({
      node: [{
        op_type: 'Slice', input: ['x'], output: ['y'], attribute: [
          { name: 'ends', type: 7, ints: ['9223372036854775807', '-9223372036854775808', 5] },
          { name: 'axis', type: 2, i: '-9223372036854775807' },
        ],
      }],
    }));
    const a = m.graph.nodes[0].attributes;
    assert.deepEqual(a.get('ends'), { kind: 'ints', value: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 5] });
    assert.deepEqual(a.get('axis'), { kind: 'int', value: -Number.MAX_SAFE_INTEGER });
  });

  test('IR v1 attributes without a type are inferred from the populated field', () => {
    const m = decodeModel(rawModel({
      node: [{ op_type: 'X', attribute: [{ name: 'a', f: 2.5 }, { name: 'b', ints: [1, 2] }, { name: 'c', s: new Uint8Array([0x7a]) }] }],
    }));
    const a = m.graph.nodes[0].attributes;
    assert.deepEqual(a.get('a'), { kind: 'float', value: 2.5 });
    assert.deepEqual(a.get('b'), { kind: 'ints', value: [1, 2] });
    assert.equal(a.get('c')?.kind, 'string');
  });

  test('value info types: dims, symbols, unknown dims, no shape, nested types', () => {
    const m = decodeModel(rawModel({
      input: [
        { name: 'a', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 2 }, { dim_param: 'N' }, {}] } } } },
        { name: 'b', type: { tensor_type: { elem_type: 7 } } },
        { name: 'c', type: { sequence_type: { elem_type: { tensor_type: { elem_type: 1, shape: { dim: [] } } } } } },
        { name: 'd', type: { optional_type: { elem_type: { sequence_type: {} } } } },
        { name: 'e', type: { map_type: { key_type: 8, value_type: { tensor_type: { elem_type: 1 } } } } },
        { name: 'f', type: { sparse_tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 4 }] } } } },
        { name: 'g' },
      ],
    }));
    assert.deepEqual(m.graph.inputs.map((i) => i.type), [
      { kind: 'tensor', elemType: DataType.FLOAT, shape: [2, 'N', null] },
      { kind: 'tensor', elemType: DataType.INT64, shape: null },
      { kind: 'sequence', elem: { kind: 'tensor', elemType: DataType.FLOAT, shape: [] } },
      { kind: 'optional', elem: { kind: 'sequence', elem: { kind: 'unknown' } } },
      { kind: 'map', keyType: DataType.STRING, value: { kind: 'tensor', elemType: DataType.FLOAT, shape: null } },
      { kind: 'sparse_tensor', elemType: DataType.FLOAT, shape: [4] },
      { kind: 'unknown' },
    ]);
  });

  test('sparse initializers are densified into initializers; metadata is kept', () => {
    const m = decodeModel(rawModel({
      sparse_initializer: [{
        values: tensorMessage(f32('s', [2], [1, 2])),
        indices: tensorMessage(tensorFromValues('i', DataType.INT64, [2, 2], [0n, 1n, 1n, 0n])),
        dims: [2, 2],
      }],
    }, { metadata_props: [{ key: 'k', value: 'v' }] }));
    assert.deepEqual(m.graph.initializers.map((t) => [t.name, t.dims, tensorValues(t)]), [['s', [2, 2], [0, 1, 2, 0]]]);
    assert.deepEqual([...m.metadata], [['k', 'v']]);
  });

  test('functions: attributes, defaults, refs, opsets and raw', () => {
    const m = decodeModel(rawModel({}, {
      functions: [{
        name: 'F', domain: 'custom', input: ['a'], output: ['b'], attribute: ['alpha'],
        attribute_proto: [{ name: 'beta', type: 1, f: 0.5 }],
        node: [{ op_type: 'LeakyRelu', input: ['a'], output: ['b'], attribute: [{ name: 'alpha', ref_attr_name: 'alpha', type: 1 }] }],
        opset_import: [{ domain: '', version: 18 }],
      }],
    }));
    const [f] = m.functions;
    assert.equal(f.name, 'F');
    assert.deepEqual(f.attributeNames, ['alpha', 'beta']);
    assert.deepEqual([...f.attributeDefaults], [['beta', { kind: 'float', value: 0.5 }]]);
    assert.deepEqual(f.nodes[0].attributes.get('alpha'), { kind: 'ref', refAttrName: 'alpha' });
    assert.deepEqual([...f.opsetImports], [['', 18]]);
    assert.ok(isMsg(f.raw));
  });
});

describe('decodeModel errors', () => {
  const rejects = (bytes: Uint8Array, pattern: RegExp): void => {
    assert.throws(() => decodeModel(bytes), (e: unknown) => e instanceof OnnxDecodeError && pattern.test(e.message));
  };

  test('missing graph', () => rejects(ModelProto.encode({ ir_version: 8 }).finish(), /no graph/));
  test('empty input', () => rejects(new Uint8Array(0), /no graph/));
  test('garbage bytes', () => {
    rejects(new Uint8Array([0x3a, 0x05, 0x01]), /malformed or truncated ModelProto.*index out of range/);
    rejects(new Uint8Array([0xff, 0x01, 0x00]), /malformed or truncated ModelProto.*wire type/);
  });

  test('every truncation of a model fails with OnnxDecodeError or decodes', () => {
    const bytes = everyKindModel();
    let failures = 0;
    for (let n = 0; n < bytes.length; n++) {
      try {
        decodeModel(bytes.subarray(0, n));
      } catch (e) {
        assert.ok(e instanceof OnnxDecodeError, `cut at ${n}: ${String(e)}`);
        failures++;
      }
    }
    assert.ok(failures > bytes.length / 2);
  });

  test('random bytes never escape as a non-OnnxDecodeError', () => {
    let seed = 12345;
    const next = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    for (let i = 0; i < 500; i++) {
      const bytes = Uint8Array.from({ length: 1 + (i % 64) }, next);
      try {
        decodeModel(bytes);
      } catch (e) {
        assert.ok(e instanceof OnnxDecodeError, String(e));
      }
    }
  });

  test('absurdly deep subgraph nesting is an OnnxDecodeError, not a crash', () => {
    const varint = (n: number): number[] => {
      const out: number[] = [];
      for (; n > 0x7f; n >>>= 7) out.push((n & 0x7f) | 0x80);
      return [...out, n];
    };
    // Each level is GraphProto{node{op_type:'If', attribute{name:'g', type:GRAPH, g:<inner>}}},
    // all prefix bytes, so the prefixes are built inside-out and joined outside-in.
    const prefixes: number[][] = [];
    let inner = 0;
    for (let depth = 0; depth < 20000; depth++) {
      const attr = [0x0a, 0x01, 0x67, 0xa0, 0x01, 0x05, 0x32, ...varint(inner)];
      const attrLen = attr.length + inner;
      const node = [0x22, 0x02, 0x49, 0x66, 0x2a, ...varint(attrLen)];
      const nodeLen = node.length + attrLen;
      const prefix = [0x0a, ...varint(nodeLen), ...node, ...attr];
      prefixes.push(prefix);
      inner = nodeLen + 1 + varint(nodeLen).length;
    }
    const bytes = Uint8Array.from([0x3a, ...varint(inner), ...prefixes.reverse().flat()]);
    assert.throws(() => decodeModel(bytes), OnnxDecodeError);
  });

  test('bad initializer is named', () => {
    rejects(rawModel({ initializer: [{ name: 'weights', data_type: 1, dims: [4], raw_data: new Uint8Array(3) }] }), /tensor 'weights'/);
  });

  test('bad attribute is named with its node', () => {
    rejects(rawModel({ node: [{ name: 'n1', op_type: 'Foo', attribute: [{ name: 'k', type: 4 }] }] }), /node 'n1' \(Foo\) attribute 'k'.*'t' is missing/);
    rejects(rawModel({ node: [{ op_type: 'Foo', attribute: [{ name: 'k' }] }] }), /node #0 \(Foo\) attribute 'k'.*neither a type nor a value/);
    rejects(rawModel({ node: [{ op_type: 'Foo', attribute: [{ name: 'k', type: 14 }] }] }), /TYPE_PROTOS is not supported/);
    rejects(rawModel({ node: [{ name: 'n', input: ['x'] }] }), /op_type is missing/);
  });
});

describe('sequence / optional / map value files', () => {
  const tensors = [f32('a', [1], [1]), f32('b', [2], [2, 3])].map(tensorMessage);

  test('decodeSequence', () => {
    const bytes = SequenceProto.encode({ name: 's', elem_type: 1, tensor_values: tensors }).finish();
    assert.deepEqual(decodeSequence(bytes).map((t) => tensorValues(t)), [[1], [2, 3]]);
  });

  test('decodeOptional: empty and present', () => {
    assert.equal(decodeOptional(OptionalProto.encode({ name: 'o', elem_type: 0 }).finish()), null);
    const v = decodeOptional(OptionalProto.encode({ name: 'o', elem_type: 1, tensor_value: tensors[0] }).finish());
    assert.ok(v?.kind === 'tensor' && v.tensor.name === 'a');
  });

  test('decodeValue dispatches on the declared type', () => {
    const seqBytes = SequenceProto.encode({ elem_type: 1, tensor_values: tensors }).finish();
    const seq = decodeValue(seqBytes, { kind: 'sequence', elem: tensorType(DataType.FLOAT) });
    assert.ok(seq.kind === 'sequence' && seq.elems.length === 2);
    const optSeq = OptionalProto.encode({ elem_type: 3, sequence_value: { elem_type: 1, tensor_values: tensors } }).finish();
    const opt = decodeValue(optSeq, { kind: 'optional', elem: { kind: 'sequence', elem: tensorType(DataType.FLOAT) } });
    assert.ok(opt.kind === 'optional' && opt.value?.kind === 'sequence' && opt.value.elems.length === 2);
  });
});
