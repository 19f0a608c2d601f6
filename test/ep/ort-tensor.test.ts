import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from 'onnxruntime-common';
import { DataType, byteLength, elementCount } from '../../src/onnx/model.js';
import { EpError } from '../../src/ep/errors.js';
import {
  dataTypeToOrtType, hostToOrt, isOrtRepresentable, ortToHost, ortTypeToDataType, type OrtType,
} from '../../src/ep/ort-tensor.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';

const DIMS = [2, 3];
const NUMERIC_TYPES: ReadonlyArray<[OrtType, DataType]> = [
  ['float32', DataType.FLOAT], ['uint8', DataType.UINT8], ['int8', DataType.INT8], ['uint16', DataType.UINT16],
  ['int16', DataType.INT16], ['int32', DataType.INT32], ['int64', DataType.INT64], ['bool', DataType.BOOL],
  ['float16', DataType.FLOAT16], ['float64', DataType.DOUBLE], ['uint32', DataType.UINT32], ['uint64', DataType.UINT64],
  ['int4', DataType.INT4], ['uint4', DataType.UINT4],
];
const ALL_TYPES: ReadonlyArray<[OrtType, DataType]> = [...NUMERIC_TYPES, ['string', DataType.STRING]];

/** Distinct, valid bytes for every element (bool bytes stay 0/1). */
function patternBytes(dt: DataType, dims: number[]): Uint8Array {
  const n = byteLength(dt, elementCount(dims));
  return Uint8Array.from({ length: n }, (_, i) => (dt === DataType.BOOL ? i % 2 : (i * 37 + 11) & 0xff));
}

function bytesOfData(t: Tensor): Uint8Array {
  const d = t.data;
  assert.ok(ArrayBuffer.isView(d), `tensor ${t.type} has typed-array data`);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function bufferOf(t: Tensor): ArrayBufferLike {
  const d = t.data;
  assert.ok(ArrayBuffer.isView(d));
  return d.buffer;
}

describe('ort-tensor type maps', () => {
  it('maps every ORT type to a DataType and back', () => {
    for (const [ort, dt] of ALL_TYPES) {
      assert.equal(ortTypeToDataType(ort), dt);
      assert.equal(dataTypeToOrtType(dt), ort);
      assert.equal(isOrtRepresentable(dt), true);
    }
  });

  it('rejects dtypes ORT JS lacks, naming them', () => {
    for (const dt of [DataType.BFLOAT16, DataType.FLOAT8E4M3FN, DataType.FLOAT8E5M2FNUZ, DataType.FLOAT4E2M1,
      DataType.COMPLEX64, DataType.FLOAT8E8M0, DataType.INT2, DataType.UINT2]) {
      assert.equal(isOrtRepresentable(dt), false);
      assert.throws(() => dataTypeToOrtType(dt), (e: unknown) => e instanceof EpError && e.message.includes(DataType[dt]));
      const t: HostTensor = { dataType: dt, dims: [1], data: new Uint8Array(byteLength(dt, 1)) };
      assert.throws(() => hostToOrt(t), (e: unknown) => e instanceof EpError && e.message.includes(DataType[dt]));
    }
  });
});

describe('hostToOrt / ortToHost', () => {
  for (const [ort, dt] of NUMERIC_TYPES) {
    it(`round-trips ${ort} without copying`, () => {
      const host: HostTensor = { dataType: dt, dims: DIMS, data: patternBytes(dt, DIMS) };
      const t = hostToOrt(host);
      assert.equal(t.type, ort);
      assert.deepEqual([...t.dims], DIMS);
      assert.equal(bufferOf(t), host.data.buffer, 'ORT tensor views the HostTensor buffer');
      assert.deepEqual(bytesOfData(t), host.data);
      const back = ortToHost(t);
      assert.equal(back.dataType, dt);
      assert.deepEqual(back.dims, DIMS);
      assert.equal(back.data.buffer, bufferOf(t), 'HostTensor views the ORT tensor buffer');
      assert.deepEqual(back.data, host.data);
    });
  }

  it('round-trips strings', () => {
    const host: HostTensor = { dataType: DataType.STRING, dims: [3], data: new Uint8Array(0), strings: ['a', '', 'ü'] };
    const t = hostToOrt(host);
    assert.equal(t.type, 'string');
    assert.deepEqual(t.data, ['a', '', 'ü']);
    assert.deepEqual(ortToHost(t), host);
  });

  it('copies when the bytes are misaligned for the element type', () => {
    const backing = new Uint8Array(1 + 2 * 4);
    const data = backing.subarray(1);
    new DataView(data.buffer, 1).setFloat32(0, 1.5, true);
    new DataView(data.buffer, 1).setFloat32(4, -2, true);
    const t = hostToOrt({ dataType: DataType.FLOAT, dims: [2], data });
    assert.notEqual(bufferOf(t), backing.buffer);
    assert.deepEqual([...(t.data instanceof Float32Array ? t.data : [])], [1.5, -2]);
  });

  it('views an aligned offset in place', () => {
    const backing = new Uint8Array(8 + 8);
    const data = backing.subarray(8);
    new DataView(backing.buffer).setBigInt64(8, -5n, true);
    const t = hostToOrt({ dataType: DataType.INT64, dims: [], data });
    assert.equal(bufferOf(t), backing.buffer);
    assert.deepEqual([...(t.data instanceof BigInt64Array ? t.data : [])], [-5n]);
  });

  it('packs odd-length int4 into ceil(n/2) bytes', () => {
    const data = Uint8Array.of(0x21, 0x03);
    const t = hostToOrt({ dataType: DataType.INT4, dims: [3], data });
    assert.equal(t.type, 'int4');
    assert.equal(t.size, 3);
    assert.deepEqual(ortToHost(t).data, data);
  });

  it('reads ORT-created tensors zero-copy', () => {
    const src = new Float32Array([1, 2, 3, 4]);
    const host = ortToHost(new Tensor('float32', src, [2, 2]));
    assert.equal(host.data.buffer, src.buffer);
    assert.equal(host.dataType, DataType.FLOAT);
    const half = ortToHost(new Tensor('float16', new Uint16Array([0x3c00]), [1]));
    assert.equal(half.dataType, DataType.FLOAT16);
    assert.deepEqual([...half.data], [0x00, 0x3c]);
  });

  it('rejects a byte length that does not match the dims', () => {
    assert.throws(
      () => hostToOrt({ dataType: DataType.FLOAT, dims: [2, 2], data: new Uint8Array(12) }),
      (e: unknown) => e instanceof EpError && /expected 16 bytes.*got 12/.test(e.message),
    );
    assert.throws(
      () => hostToOrt({ dataType: DataType.STRING, dims: [2], data: new Uint8Array(0), strings: ['x'] }),
      (e: unknown) => e instanceof EpError && /expected 2 strings, got 1/.test(e.message),
    );
  });
});
