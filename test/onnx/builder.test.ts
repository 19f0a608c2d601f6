import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { decodeModel } from '../../src/onnx/decode.js';
import { attr, irVersionForOpset, ModelBuilder, toAttribute } from '../../src/onnx/builder.js';
import { bfloat16Bits, bfloat16ToNumber, float16Bits, float16ToNumber, tensorFromValues, tensorValues } from '../../src/onnx/tensor-data.js';

describe('attribute inference', () => {
  test('plain values', () => {
    assert.deepEqual(toAttribute(1), { kind: 'int', value: 1 });
    assert.deepEqual(toAttribute(1.5), { kind: 'float', value: 1.5 });
    assert.equal(toAttribute('constant').kind, 'string');
    assert.deepEqual(toAttribute([1, 0]), { kind: 'ints', value: [1, 0] });
    assert.deepEqual(toAttribute([1, 0.5]), { kind: 'floats', value: [1, 0.5] });
    assert.deepEqual(toAttribute(['a']), { kind: 'strings', value: ['a'] });
    assert.deepEqual(toAttribute([]), { kind: 'ints', value: [] });
    const t = tensorFromValues('v', DataType.FLOAT, [1], [1]);
    assert.deepEqual(toAttribute(t), { kind: 'tensor', value: t });
  });

  test('explicit wrappers win', () => {
    assert.deepEqual(toAttribute(attr.float(1)), { kind: 'float', value: 1 });
    assert.deepEqual(toAttribute(attr.floats([1, 2])), { kind: 'floats', value: [1, 2] });
    assert.deepEqual(toAttribute(attr.int(DataType.FLOAT)), { kind: 'int', value: 1 });
    assert.throws(() => attr.int(1.5), TypeError);
    assert.throws(() => attr.ints([1, 0.5]), TypeError);
  });

  test('a float written as 1 survives encoding as a float', () => {
    const b = new ModelBuilder();
    const x = b.input('x', DataType.FLOAT, [2]);
    const [y] = b.node('LeakyRelu', [x], { attrs: { alpha: attr.float(1) } });
    const [z] = b.node('Cast', [y], { attrs: { to: DataType.INT32 } });
    b.output(z, DataType.INT32, [2]);
    const m = decodeModel(b.build());
    assert.deepEqual(m.graph.nodes[0].attributes.get('alpha'), { kind: 'float', value: 1 });
    assert.deepEqual(m.graph.nodes[1].attributes.get('to'), { kind: 'int', value: DataType.INT32 });
  });
});

describe('ModelBuilder', () => {
  test('the example from the builder docs', () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', DataType.FLOAT, [2, 3]);
    const w = b.initializer('w', DataType.FLOAT, [3, 4], new Float32Array(12).fill(0.5));
    const [y] = b.node('MatMul', [x, w], { name: 'mm' });
    b.output(y, DataType.FLOAT, [2, 4]);
    const m = decodeModel(b.build());
    assert.equal(m.irVersion, 8);
    assert.deepEqual(m.graph.inputs, [{ name: 'x', type: { kind: 'tensor', elemType: DataType.FLOAT, shape: [2, 3] } }]);
    assert.deepEqual(m.graph.nodes.map((n) => [n.name, n.opType, n.inputs, n.outputs]), [['mm', 'MatMul', ['x', 'w'], [y]]]);
    assert.deepEqual(tensorValues(m.graph.initializers[0]), new Array(12).fill(0.5));
    assert.deepEqual(m.graph.outputs[0].type, { kind: 'tensor', elemType: DataType.FLOAT, shape: [2, 4] });
  });

  test('generated output names are unique across subgraphs; explicit names and omitted outputs', () => {
    const b = new ModelBuilder();
    const [a] = b.node('Relu', ['x']);
    const sub = b.subgraph('s');
    const [c] = sub.node('Relu', [a]);
    const outs = b.node('Split', ['x'], { outputs: ['p', '', 'q'] });
    assert.notEqual(a, c);
    assert.deepEqual(outs, ['p', '', 'q']);
    assert.deepEqual(b.node('TopK', ['x', 'k'], { outputs: 2, name: 'topk' }), ['topk_0', 'topk_1']);
  });

  test('ir_version follows the opset table, the data types used, and overrides', () => {
    assert.deepEqual([7, 9, 11, 13, 17, 19, 21, 23, 24, 25].map(irVersionForOpset), [3, 4, 6, 7, 8, 9, 10, 11, 12, 13]);
    const withType = (t: DataType): number => {
      const b = new ModelBuilder({ opset: 17 });
      b.input('x', t, [1]);
      return decodeModel(b.build()).irVersion;
    };
    assert.equal(withType(DataType.FLOAT), 8);
    assert.equal(withType(DataType.FLOAT8E4M3FN), 9);
    assert.equal(withType(DataType.INT4), 10);
    assert.equal(withType(DataType.FLOAT4E2M1), 11);
    assert.equal(withType(DataType.FLOAT8E8M0), 12);
    assert.equal(withType(DataType.INT2), 13);
    assert.equal(decodeModel(new ModelBuilder({ opset: 17, irVersion: 7 }).build()).irVersion, 7);
  });

  test('typed inputs/outputs and value_info', () => {
    const b = new ModelBuilder({ opset: 18 });
    const s = b.typedInput('s', { kind: 'sequence', elem: { kind: 'tensor', elemType: DataType.FLOAT, shape: null } });
    const [n] = b.node('SequenceLength', [s]);
    b.valueInfo(n, { kind: 'tensor', elemType: DataType.INT64, shape: [] });
    b.output(n);
    const m = decodeModel(b.build());
    assert.equal(m.graph.inputs[0].type.kind, 'sequence');
    assert.deepEqual(m.graph.outputs[0].type, { kind: 'unknown' });
    assert.deepEqual(m.graph.valueInfo[0].type, { kind: 'tensor', elemType: DataType.INT64, shape: [] });
  });
});

describe('16-bit float conversion', () => {
  test('float16 bits, rounding to nearest even, subnormals and specials', () => {
    const cases: ReadonlyArray<readonly [number, number]> = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [0.1, 0x2e66], [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], [3 * 2 ** -26, 0x0001], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
      [Infinity, 0x7c00], [-Infinity, 0xfc00], [-0, 0x8000], [1e-10, 0],
    ];
    for (const [v, bits] of cases) assert.equal(float16Bits(v), bits, `float16Bits(${v})`);
    assert.equal(float16Bits(NaN) & 0x7e00, 0x7e00);
    for (const bits of [0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0xc000]) assert.equal(float16Bits(float16ToNumber(bits)), bits);
    assert.ok(Number.isNaN(float16ToNumber(0x7e00)));
  });

  test('bfloat16 bits, rounding to nearest even', () => {
    assert.equal(bfloat16Bits(1), 0x3f80);
    assert.equal(bfloat16Bits(1 + 2 ** -8), 0x3f80);
    assert.equal(bfloat16Bits(1 + 3 * 2 ** -8), 0x3f82);
    assert.equal(bfloat16Bits(-2), 0xc000);
    assert.equal(bfloat16Bits(NaN) & 0x7fc0, 0x7fc0);
    assert.equal(bfloat16ToNumber(0x3fc0), 1.5);
  });
});
