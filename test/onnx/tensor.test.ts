import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, OnnxDecodeError, type OnnxTensor } from '../../src/onnx/model.js';
import { decodeTensor } from '../../src/onnx/decode.js';
import { encodeTensor } from '../../src/onnx/encode.js';
import { TensorProto } from '../../src/onnx/proto.js';
import { tensorFromValues, tensorValues, type TensorValues } from '../../src/onnx/tensor-data.js';

const rawTensor = (fields: Record<string, unknown>): Uint8Array => TensorProto.encode(fields).finish();

/** One sample per data type; 4- and 2-bit types use odd element counts. */
const samples: ReadonlyArray<{ t: DataType; dims: number[]; values: TensorValues }> = [
  { t: DataType.FLOAT, dims: [3], values: [1.5, -2, 3.25] },
  { t: DataType.UINT8, dims: [3], values: [0, 128, 255] },
  { t: DataType.INT8, dims: [3], values: [-128, 0, 127] },
  { t: DataType.UINT16, dims: [2], values: [0, 65535] },
  { t: DataType.INT16, dims: [2], values: [-32768, 32767] },
  { t: DataType.INT32, dims: [2, 2], values: [-2147483648, 2147483647, 0, -1] },
  { t: DataType.INT64, dims: [3], values: [-(2n ** 63n), 2n ** 63n - 1n, -1n] },
  { t: DataType.STRING, dims: [2], values: ['héllo', ''] },
  { t: DataType.BOOL, dims: [3], values: [true, false, true] },
  { t: DataType.FLOAT16, dims: [3], values: [1, -2.5, 65504] },
  { t: DataType.DOUBLE, dims: [2], values: [Math.PI, -1e300] },
  { t: DataType.UINT32, dims: [2], values: [0, 4294967295] },
  { t: DataType.UINT64, dims: [2], values: [0n, 2n ** 64n - 1n] },
  { t: DataType.COMPLEX64, dims: [2], values: [1, 2, 3, 4] },
  { t: DataType.COMPLEX128, dims: [1], values: [-1, 0.5] },
  { t: DataType.BFLOAT16, dims: [3], values: [1, -2, 0.5] },
  { t: DataType.FLOAT8E4M3FN, dims: [3], values: new Uint8Array([0x00, 0x38, 0x7e]) },
  { t: DataType.FLOAT8E4M3FNUZ, dims: [2], values: new Uint8Array([0x80, 0x40]) },
  { t: DataType.FLOAT8E5M2, dims: [2], values: new Uint8Array([0x3c, 0xfc]) },
  { t: DataType.FLOAT8E5M2FNUZ, dims: [1], values: new Uint8Array([0x40]) },
  { t: DataType.UINT4, dims: [5], values: [0, 15, 7, 8, 1] },
  { t: DataType.INT4, dims: [5], values: [-8, 7, -1, 0, 3] },
  { t: DataType.FLOAT4E2M1, dims: [3], values: new Uint8Array([0x21, 0x0f]) },
  { t: DataType.FLOAT8E8M0, dims: [2], values: new Uint8Array([0x7f, 0xff]) },
  { t: DataType.UINT2, dims: [7], values: [0, 1, 2, 3, 3, 2, 1] },
  { t: DataType.INT2, dims: [7], values: [-2, -1, 0, 1, 1, 0, -1] },
];

const plain = (values: TensorValues): unknown[] => {
  const out: unknown[] = [];
  for (const v of values) out.push(typeof v === 'boolean' ? Number(v) : v);
  return out;
};

describe('tensor round trip (encodeTensor → decodeTensor)', () => {
  for (const { t, dims, values } of samples) {
    test(DataType[t], () => {
      const tensor = tensorFromValues(`t_${DataType[t]}`, t, dims, values);
      const back = decodeTensor(encodeTensor(tensor));
      assert.equal(back.name, tensor.name);
      assert.equal(back.dataType, t);
      assert.deepEqual(back.dims, dims);
      assert.deepEqual(Array.from(back.data), Array.from(tensor.data));
      if (t === DataType.STRING) assert.deepEqual(tensorValues(back), values);
      else if (!ArrayBuffer.isView(values)) assert.deepEqual(tensorValues(back), plain(values));
    });
  }

  test('the covered data types are all of DataType except UNDEFINED', () => {
    const covered = new Set(samples.map((s) => s.t));
    const all = Object.values(DataType).filter((v): v is DataType => typeof v === 'number' && v !== DataType.UNDEFINED);
    assert.deepEqual(all.filter((t) => !covered.has(t)), []);
  });

  test('4-bit packing puts the first element in the low nibble', () => {
    assert.deepEqual(Array.from(tensorFromValues('x', DataType.INT4, [3], [1, -1, 2]).data), [0xf1, 0x02]);
    assert.deepEqual(Array.from(tensorFromValues('x', DataType.UINT2, [5], [1, 2, 3, 0, 2]).data), [0b00111001, 0b10]);
  });

  test('zero-sized and scalar tensors', () => {
    const empty = decodeTensor(encodeTensor(tensorFromValues('e', DataType.FLOAT, [0, 3], [])));
    assert.deepEqual(empty.dims, [0, 3]);
    assert.equal(empty.data.length, 0);
    const scalar = decodeTensor(encodeTensor(tensorFromValues('s', DataType.INT64, [], [42n])));
    assert.deepEqual(scalar.dims, []);
    assert.deepEqual(tensorValues(scalar), [42n]);
  });

  test('raw_data is a zero-copy view of the input, also for Buffers', () => {
    const bytes = encodeTensor(tensorFromValues('z', DataType.FLOAT, [4], [1, 2, 3, 4]));
    const t = decodeTensor(bytes);
    assert.equal(t.data.buffer, bytes.buffer);
    const buf = Buffer.from(bytes);
    const tb = decodeTensor(buf);
    assert.equal(tb.data.buffer, buf.buffer);
    assert.ok(!Buffer.isBuffer(tb.data), 'data is a plain Uint8Array, so slice() copies');
  });
});

describe('typed *_data fields decode like raw_data', () => {
  const same = (typed: Record<string, unknown>, t: DataType, dims: number[], values: TensorValues): void => {
    const fromTyped = decodeTensor(rawTensor({ name: 'x', data_type: t, dims, ...typed }));
    const fromRaw = decodeTensor(encodeTensor(tensorFromValues('x', t, dims, values)));
    assert.deepEqual(Array.from(fromTyped.data), Array.from(fromRaw.data));
    assert.deepEqual(fromTyped.dims, fromRaw.dims);
  };

  test('float_data: FLOAT and COMPLEX64', () => {
    same({ float_data: [1.5, -2, 0.1] }, DataType.FLOAT, [3], [1.5, -2, 0.1]);
    same({ float_data: [1, 2, 3, 4] }, DataType.COMPLEX64, [2], [1, 2, 3, 4]);
  });

  test('double_data: DOUBLE and COMPLEX128', () => {
    same({ double_data: [Math.E, -0] }, DataType.DOUBLE, [2], [Math.E, -0]);
    same({ double_data: [1, -1] }, DataType.COMPLEX128, [1], [1, -1]);
  });

  test('int32_data: 32/16/8-bit integers, bool and float bit patterns', () => {
    same({ int32_data: [-5, 2147483647] }, DataType.INT32, [2], [-5, 2147483647]);
    same({ int32_data: [-5, 300] }, DataType.INT16, [2], [-5, 300]);
    same({ int32_data: [65535, 1] }, DataType.UINT16, [2], [65535, 1]);
    same({ int32_data: [-128, 127] }, DataType.INT8, [2], [-128, 127]);
    same({ int32_data: [255, 0] }, DataType.UINT8, [2], [255, 0]);
    same({ int32_data: [1, 0, 1] }, DataType.BOOL, [3], [true, false, true]);
    same({ int32_data: [0x3c00, 0xc000] }, DataType.FLOAT16, [2], [1, -2]);
    same({ int32_data: [0x3f80] }, DataType.BFLOAT16, [1], [1]);
    for (const t of [DataType.FLOAT8E4M3FN, DataType.FLOAT8E4M3FNUZ, DataType.FLOAT8E5M2, DataType.FLOAT8E5M2FNUZ, DataType.FLOAT8E8M0]) {
      same({ int32_data: [0x38, 0xff] }, t, [2], new Uint8Array([0x38, 0xff]));
    }
  });

  test('int32_data: sub-byte types hold one packed byte per entry', () => {
    same({ int32_data: [0xf1, 0x32, 0x07] }, DataType.INT4, [5], [1, -1, 2, 3, 7]);
    same({ int32_data: [0x21, 0x03] }, DataType.UINT4, [3], [1, 2, 3]);
    same({ int32_data: [0x21, 0x0f] }, DataType.FLOAT4E2M1, [3], new Uint8Array([0x21, 0x0f]));
    same({ int32_data: [0b11100100, 0b01] }, DataType.UINT2, [5], [0, 1, 2, 3, 1]);
    same({ int32_data: [0b11100100] }, DataType.INT2, [4], [0, 1, -2, -1]);
  });

  test('int64_data is exact over the whole int64 range', () => {
    same({ int64_data: ['-9223372036854775808', '9223372036854775807', 3] }, DataType.INT64, [3],
      [-(2n ** 63n), 2n ** 63n - 1n, 3n]);
  });

  test('uint64_data: UINT32 and UINT64', () => {
    same({ uint64_data: [4294967295, 7] }, DataType.UINT32, [2], [4294967295, 7]);
    same({ uint64_data: ['18446744073709551615', 1] }, DataType.UINT64, [2], [2n ** 64n - 1n, 1n]);
  });

  test('string_data', () => {
    const t = decodeTensor(rawTensor({ name: 's', data_type: DataType.STRING, dims: [2], string_data: [new Uint8Array([0x61]), new Uint8Array([])] }));
    assert.deepEqual(tensorValues(t), ['a', '']);
    assert.equal(t.data.length, 0);
  });
});

describe('malformed tensors', () => {
  const rejects = (fields: Record<string, unknown>, pattern: RegExp): void => {
    assert.throws(() => decodeTensor(rawTensor(fields)), (e: unknown) => e instanceof OnnxDecodeError && pattern.test(e.message));
  };

  test('payload size must match dims × element size, naming the tensor', () => {
    rejects({ name: 'w', data_type: DataType.FLOAT, dims: [2], raw_data: new Uint8Array(7) }, /tensor 'w'.*needs 8 bytes.*found 7/);
    rejects({ name: 'w', data_type: DataType.FLOAT, dims: [3], float_data: [1, 2] }, /tensor 'w'/);
    rejects({ name: 'n', data_type: DataType.INT4, dims: [5], int32_data: [1, 2] }, /tensor 'n'.*3 int32_data entries/);
    rejects({ name: 's', data_type: DataType.STRING, dims: [3], string_data: [new Uint8Array(1)] }, /tensor 's'.*3 strings/);
    rejects({ name: 'm', data_type: DataType.FLOAT, dims: [2] }, /tensor 'm'.*found 0/);
  });

  test('the typed field must match the data type', () => {
    rejects({ name: 'i', data_type: DataType.INT32, dims: [1], float_data: [1] }, /tensor 'i'.*int32_data.*float_data/);
    rejects({ name: 'i', data_type: DataType.INT8, dims: [1], int32_data: [300] }, /tensor 'i'.*does not fit INT8/);
    rejects({ name: 'u', data_type: DataType.UINT32, dims: [1], uint64_data: ['4294967296'] }, /overflows UINT32/);
  });

  test('unknown or UNDEFINED data types, negative dims, segments', () => {
    rejects({ name: 'q', data_type: 99, dims: [1] }, /tensor 'q'.*unknown TensorProto.DataType 99/);
    rejects({ name: 'q', dims: [1] }, /tensor 'q'.*UNDEFINED/);
    rejects({ name: 'q', data_type: DataType.FLOAT, dims: [-1] }, /tensor 'q'.*dims\[0\]/);
    rejects({ name: 'q', data_type: DataType.FLOAT, dims: [1], segment: { begin: 0, end: 1 }, raw_data: new Uint8Array(4) }, /segmented/);
    rejects({ name: 'q', data_type: DataType.STRING, dims: [1], raw_data: new Uint8Array(1) }, /string_data/);
  });

  test('garbage and truncated bytes raise OnnxDecodeError only', () => {
    assert.throws(() => decodeTensor(new Uint8Array([0xff, 0xff, 0xff, 0xff])), OnnxDecodeError);
    const good = encodeTensor(tensorFromValues('good', DataType.FLOAT, [4], [1, 2, 3, 4]));
    for (let n = 0; n < good.length; n++) {
      try {
        decodeTensor(good.subarray(0, n));
      } catch (e) {
        assert.ok(e instanceof OnnxDecodeError, `cut at ${n}: ${String(e)}`);
      }
    }
  });
});

test('tensorFromValues validates its input', () => {
  assert.throws(() => tensorFromValues('x', DataType.FLOAT, [2], [1]), RangeError);
  assert.throws(() => tensorFromValues('x', DataType.FLOAT16, [1], new Float32Array(1)), TypeError);
  assert.throws(() => tensorFromValues('x', DataType.FLOAT8E4M3FN, [1], [1]), TypeError);
  const t: OnnxTensor = tensorFromValues('x', DataType.FLOAT, [2], new Float32Array([1, 2]));
  assert.deepEqual(tensorValues(t), [1, 2]);
});
