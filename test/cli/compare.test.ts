import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { compareTensors, isCloselyMatch, type Tolerance } from '../../src/cli/compare.js';
import { bfloat16ToFloat, decodeMiniFloat, e8m0ToFloat, halfToFloat, tensorValues } from '../../src/cli/tensor-values.js';

const TOL: Tolerance = { atol: 1e-5, rtol: 1e-3, postProcessing: false };

function f32(values: number[], dims = [values.length]): HostTensor {
  return { dataType: DataType.FLOAT, dims, data: new Uint8Array(new Float32Array(values).buffer) };
}

function f64(values: number[]): HostTensor {
  return { dataType: DataType.DOUBLE, dims: [values.length], data: new Uint8Array(new Float64Array(values).buffer) };
}

function bytes(dataType: DataType, raw: number[], dims = [raw.length]): HostTensor {
  return { dataType, dims, data: Uint8Array.from(raw) };
}

function u16(dataType: DataType, bits: number[]): HostTensor {
  return { dataType, dims: [bits.length], data: new Uint8Array(new Uint16Array(bits).buffer) };
}

function i64(values: bigint[]): HostTensor {
  return { dataType: DataType.INT64, dims: [values.length], data: new Uint8Array(new BigInt64Array(values).buffer) };
}

describe('isCloselyMatch (ORT semantics)', () => {
  it('accepts NaN only against NaN', () => {
    assert.equal(isCloselyMatch(NaN, NaN, NaN, 1), true);
    assert.equal(isCloselyMatch(NaN, 1, NaN, 1), false);
    assert.equal(isCloselyMatch(1, NaN, NaN, 1), false);
  });

  it('accepts infinities only with the same sign', () => {
    assert.equal(isCloselyMatch(Infinity, Infinity, NaN, 0), true);
    assert.equal(isCloselyMatch(-Infinity, Infinity, Infinity, 0), false);
    assert.equal(isCloselyMatch(1e38, Infinity, Infinity, 1e30), false);
  });
});

describe('compareTensors', () => {
  it('passes within atol + rtol*|expected| and fails just outside', () => {
    assert.equal(compareTensors(f32([1000.9]), f32([1000]), TOL).status, 'success');
    assert.equal(compareTensors(f32([0.000009]), f32([0]), TOL).status, 'success');
    const r = compareTensors(f32([1, 2.01]), f32([1, 2]), TOL);
    assert.equal(r.status, 'result_differs');
    assert.match(r.message, /expected 2, got 2\.0099\d*, .*idx=1\. 1 of 2 differ/);
  });

  it('reports the largest difference', () => {
    const r = compareTensors(f64([1.1, 5, 3.5]), f64([1, 2, 3]), TOL);
    assert.match(r.message, /expected 2, got 5, diff: 3, .*idx=1\. 3 of 3 differ/);
  });

  it('handles NaN and Inf in both positions', () => {
    assert.equal(compareTensors(f32([NaN, Infinity, -Infinity]), f32([NaN, Infinity, -Infinity]), TOL).status, 'success');
    assert.equal(compareTensors(f32([0]), f32([NaN]), TOL).status, 'result_differs');
    assert.equal(compareTensors(f32([NaN]), f32([0]), TOL).status, 'result_differs');
    assert.equal(compareTensors(f32([Infinity]), f32([-Infinity]), TOL).status, 'result_differs');
  });

  it('clamps actual values to [0, 255] with post_processing', () => {
    const pp = { ...TOL, postProcessing: true };
    assert.equal(compareTensors(f32([-3, 300]), f32([0, 255]), pp).status, 'success');
    assert.equal(compareTensors(f32([-3, 300]), f32([0, 255]), TOL).status, 'result_differs');
  });

  it('compares integers, bools and strings exactly', () => {
    assert.equal(compareTensors(bytes(DataType.INT8, [1, 0xff]), bytes(DataType.INT8, [1, 0xff]), TOL).status, 'success');
    const r = compareTensors(bytes(DataType.UINT8, [1, 3]), bytes(DataType.UINT8, [1, 2]), TOL);
    assert.deepEqual(r, { status: 'result_differs', message: 'expected 2, got 3 idx=1' });
    assert.equal(compareTensors(i64([2n ** 62n]), i64([2n ** 62n + 1n]), { ...TOL, atol: 10 }).status, 'result_differs');
    assert.equal(compareTensors(bytes(DataType.BOOL, [1, 0]), bytes(DataType.BOOL, [1, 1]), TOL).status, 'result_differs');
    const s = (v: string[]): HostTensor => ({ dataType: DataType.STRING, dims: [v.length], data: new Uint8Array(0), strings: v });
    assert.equal(compareTensors(s(['a', 'b']), s(['a', 'b']), TOL).status, 'success');
    assert.match(compareTensors(s(['a', 'c']), s(['a', 'b']), TOL).message, /expected "b", got "c"/);
  });

  it('compares float16 and bfloat16 as float', () => {
    // 1.0 vs 1.0009765625 (next half): within rtol 1e-3 + atol.
    assert.equal(compareTensors(u16(DataType.FLOAT16, [0x3c01]), u16(DataType.FLOAT16, [0x3c00]), TOL).status, 'success');
    assert.equal(compareTensors(u16(DataType.FLOAT16, [0x3c02]), u16(DataType.FLOAT16, [0x3c00]), TOL).status, 'result_differs');
    assert.equal(compareTensors(u16(DataType.BFLOAT16, [0x7fc0]), u16(DataType.BFLOAT16, [0x7fc1]), TOL).status, 'success');
    assert.equal(compareTensors(u16(DataType.BFLOAT16, [0x3f81]), u16(DataType.BFLOAT16, [0x3f80]), TOL).status, 'result_differs');
  });

  it('decodes FP8 to float before comparing', () => {
    // E4M3FN 0x7e = 448, 0x7f = NaN; 0x38 = 1.0.
    assert.equal(compareTensors(bytes(DataType.FLOAT8E4M3FN, [0x38, 0x7f]), bytes(DataType.FLOAT8E4M3FN, [0x38, 0xff]), TOL).status, 'success');
    const r = compareTensors(bytes(DataType.FLOAT8E4M3FN, [0x7e]), bytes(DataType.FLOAT8E4M3FN, [0x7d]), TOL);
    assert.match(r.message, /expected 416, got 448/);
  });

  it('reports shape and type mismatches first', () => {
    assert.deepEqual(compareTensors(f32([1, 2], [2, 1]), f32([1, 2], [2]), TOL),
      { status: 'shape_mismatch', message: 'shape mismatch, expect {2} got {2,1}' });
    assert.deepEqual(compareTensors(f64([1]), f32([1]), TOL), { status: 'type_mismatch', message: 'expect FLOAT got DOUBLE' });
  });
});

describe('small float decoding', () => {
  it('decodes half, bfloat16 and e8m0', () => {
    assert.equal(halfToFloat(0x3c00), 1);
    assert.equal(halfToFloat(0xc000), -2);
    assert.equal(halfToFloat(0x0001), 2 ** -24);
    assert.equal(halfToFloat(0x7c00), Infinity);
    assert.ok(Number.isNaN(halfToFloat(0x7e00)));
    assert.equal(bfloat16ToFloat(0x3f80), 1);
    assert.equal(bfloat16ToFloat(0xff80), -Infinity);
    assert.equal(e8m0ToFloat(127), 1);
    assert.ok(Number.isNaN(e8m0ToFloat(0xff)));
  });

  it('decodes the FP8 formats at their extremes', () => {
    const cases: ReadonlyArray<[DataType, number, number]> = [
      [DataType.FLOAT8E4M3FN, 0x7e, 448], [DataType.FLOAT8E4M3FN, 0x01, 2 ** -9],
      [DataType.FLOAT8E4M3FNUZ, 0x7f, 240], [DataType.FLOAT8E4M3FNUZ, 0x01, 2 ** -10],
      [DataType.FLOAT8E5M2, 0x7b, 57344], [DataType.FLOAT8E5M2, 0x7c, Infinity], [DataType.FLOAT8E5M2, 0x01, 2 ** -16],
      [DataType.FLOAT8E5M2FNUZ, 0x7f, 57344], [DataType.FLOAT8E5M2FNUZ, 0x01, 2 ** -17],
    ];
    for (const [dt, raw, expected] of cases) {
      const v = tensorValues(bytes(dt, [raw]));
      assert.equal(v.kind, 'float');
      assert.equal(v.kind === 'float' ? v.values[0] : undefined, expected, `${DataType[dt]} 0x${raw.toString(16)}`);
    }
    for (const dt of [DataType.FLOAT8E4M3FNUZ, DataType.FLOAT8E5M2FNUZ]) {
      const v = tensorValues(bytes(dt, [0x80]));
      assert.ok(v.kind === 'float' && Number.isNaN(v.values[0] ?? 0), `${DataType[dt]} 0x80 is NaN`);
    }
  });

  it('decodes packed float4, int4 and int2, first element in the lowest bits', () => {
    const fp4 = tensorValues({ dataType: DataType.FLOAT4E2M1, dims: [3], data: Uint8Array.of(0xf2, 0x07) });
    assert.deepEqual(fp4.kind === 'float' ? [...fp4.values] : [], [1, -6, 6]);
    assert.equal(decodeMiniFloat(0x1, { expBits: 2, mantBits: 1, bias: 1, specials: 'none' }), 0.5);
    const i4 = tensorValues({ dataType: DataType.INT4, dims: [3], data: Uint8Array.of(0x8f, 0x07) });
    assert.deepEqual(i4.kind === 'int' ? [...i4.values] : [], [-1, -8, 7]);
    const i2 = tensorValues({ dataType: DataType.INT2, dims: [5], data: Uint8Array.of(0b10_01_00_11, 0b01) });
    assert.deepEqual(i2.kind === 'int' ? [...i2.values] : [], [-1, 0, 1, -2, 1]);
    const u2 = tensorValues({ dataType: DataType.UINT2, dims: [4], data: Uint8Array.of(0b11_10_01_00) });
    assert.deepEqual(u2.kind === 'int' ? [...u2.values] : [], [0, 1, 2, 3]);
  });
});
