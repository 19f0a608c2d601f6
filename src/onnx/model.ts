// The decoded ONNX model as the rest of the compiler sees it: plain, typed,
// normalised objects (every tensor as little-endian raw bytes) with a link back
// to the protobuf message so that subgraphs can be re-encoded losslessly for
// the CPU fallback.

/** TensorProto.DataType, numbered as in onnx.proto. */
export enum DataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
  FLOAT8E4M3FN = 17,
  FLOAT8E4M3FNUZ = 18,
  FLOAT8E5M2 = 19,
  FLOAT8E5M2FNUZ = 20,
  UINT4 = 21,
  INT4 = 22,
  FLOAT4E2M1 = 23,
  FLOAT8E8M0 = 24,
  UINT2 = 25,
  INT2 = 26,
}

/**
 * A tensor with its payload as the bytes `raw_data` would hold: little-endian,
 * int4/uint4/float4 packed two per byte (low nibble first), int2/uint2 four per
 * byte (first element in the lowest bits), bool one byte each.
 * STRING tensors carry `strings` and an empty `data`.
 */
export interface OnnxTensor {
  name: string;
  dataType: DataType;
  dims: number[];
  data: Uint8Array;
  strings?: Uint8Array[];
}

/** A dimension: a size, a symbol (dim_param), or unknown. */
export type OnnxDim = number | string | null;

export type OnnxType =
  | { kind: 'tensor'; elemType: DataType; shape: OnnxDim[] | null }
  | { kind: 'sparse_tensor'; elemType: DataType; shape: OnnxDim[] | null }
  | { kind: 'sequence'; elem: OnnxType }
  | { kind: 'optional'; elem: OnnxType }
  | { kind: 'map'; keyType: DataType; value: OnnxType }
  | { kind: 'unknown' };

export interface OnnxValueInfo {
  name: string;
  type: OnnxType;
}

export type OnnxAttribute =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string; bytes: Uint8Array }
  | { kind: 'tensor'; value: OnnxTensor }
  | { kind: 'graph'; value: OnnxGraph }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] }
  | { kind: 'strings'; value: string[] }
  | { kind: 'tensors'; value: OnnxTensor[] }
  | { kind: 'graphs'; value: OnnxGraph[] }
  | { kind: 'sparse_tensor'; value: unknown }
  | { kind: 'type_proto'; value: OnnxType }
  | { kind: 'ref'; refAttrName: string };

export interface OnnxNode {
  name: string;
  opType: string;
  /** '' for the default ONNX domain ('ai.onnx' is normalised to ''). */
  domain: string;
  /** '' marks an omitted optional input/output. */
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttribute>;
  /** The decoded protobuf NodeProto, re-encoded as is for the fallback. */
  readonly raw: unknown;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializers: OnnxTensor[];
  valueInfo: OnnxValueInfo[];
}

export interface OnnxFunction {
  name: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  /** Every declared attribute: FunctionProto.attribute, then the names of attribute_proto. */
  attributeNames: string[];
  /** Default values of attributes (FunctionProto.attribute_proto). */
  attributeDefaults: Map<string, OnnxAttribute>;
  nodes: OnnxNode[];
  opsetImports: Map<string, number>;
  /** The decoded protobuf FunctionProto, re-encoded as is for the fallback. */
  readonly raw?: unknown;
}

export interface OnnxModel {
  irVersion: number;
  producerName: string;
  /** domain ('' for default) → version */
  opsetImports: Map<string, number>;
  graph: OnnxGraph;
  functions: OnnxFunction[];
  metadata: Map<string, string>;
}

/** Errors of the decode layer: malformed bytes, unsupported encodings, missing external data. */
export class OnnxDecodeError extends Error {
  override name = 'OnnxDecodeError';
}

/** Bytes per element; 0.5 for the 4-bit types, 0.25 for the 2-bit types, 0 for strings. */
export function elementSize(t: DataType): number {
  switch (t) {
    case DataType.FLOAT: case DataType.INT32: case DataType.UINT32: return 4;
    case DataType.DOUBLE: case DataType.INT64: case DataType.UINT64: case DataType.COMPLEX64: return 8;
    case DataType.COMPLEX128: return 16;
    case DataType.FLOAT16: case DataType.BFLOAT16: case DataType.INT16: case DataType.UINT16: return 2;
    case DataType.UINT4: case DataType.INT4: case DataType.FLOAT4E2M1: return 0.5;
    case DataType.UINT2: case DataType.INT2: return 0.25;
    case DataType.STRING: case DataType.UNDEFINED: return 0;
    default: return 1;
  }
}

/** Byte length of a tensor of `count` elements of type `t`. */
export function byteLength(t: DataType, count: number): number {
  return Math.ceil(elementSize(t) * count);
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}
