// The non-tensor value files of the ONNX test layout (SequenceProto,
// OptionalProto, MapProto .pb files next to input_N.pb/output_N.pb).

import { DataType, OnnxDecodeError, type OnnxTensor, type OnnxType } from './model.js';
import {
  bytesList, dataTypeOf, decodeMessage, guardDecode, int, list, MapProto, OptionalProto, SequenceProto, str, sub, subs, TensorProto,
  toBigInt, utf8Decode, type Msg,
} from './proto.js';
import { decodeSparseTensor, decodeTensorProtoMessage, type TensorDecodeOptions } from './decode-tensor.js';

export type OnnxValue =
  | { kind: 'tensor'; tensor: OnnxTensor }
  | { kind: 'sequence'; elems: OnnxValue[] }
  | { kind: 'optional'; value: OnnxValue | null }
  | { kind: 'map'; keyType: DataType; keys: (bigint | string)[]; values: OnnxValue[] };

/** SequenceProto/OptionalProto.DataType */
enum ElemKind { UNDEFINED = 0, TENSOR = 1, SPARSE_TENSOR = 2, SEQUENCE = 3, MAP = 4, OPTIONAL = 5 }

/** A SequenceProto file whose elements are tensors. */
export function decodeSequence(bytes: Uint8Array, opts: TensorDecodeOptions = {}): OnnxTensor[] {
  const seq = guardDecode('sequence file', () => sequenceValue(decodeMessage(SequenceProto, bytes, 'sequence file'), opts));
  return seq.elems.map((e, i) => {
    if (e.kind !== 'tensor') throw new OnnxDecodeError(`sequence element #${i} is a ${e.kind}, not a tensor`);
    return e.tensor;
  });
}

/** An OptionalProto file; null when the optional is empty. */
export function decodeOptional(bytes: Uint8Array, opts: TensorDecodeOptions = {}): OnnxValue | null {
  return guardDecode('optional file', () => optionalValue(decodeMessage(OptionalProto, bytes, 'optional file'), opts).value);
}

/** Decodes a test-data file according to the graph input/output type it feeds. */
export function decodeValue(bytes: Uint8Array, type: OnnxType, opts: TensorDecodeOptions = {}): OnnxValue {
  return guardDecode('value file', () => valueOfType(bytes, type, opts));
}

function valueOfType(bytes: Uint8Array, type: OnnxType, opts: TensorDecodeOptions): OnnxValue {
  switch (type.kind) {
    case 'sequence': return sequenceValue(decodeMessage(SequenceProto, bytes, 'sequence file'), opts);
    case 'optional': return optionalValue(decodeMessage(OptionalProto, bytes, 'optional file'), opts);
    case 'map': return mapValue(decodeMessage(MapProto, bytes, 'map file'), opts);
    default:
      return { kind: 'tensor', tensor: decodeTensorProtoMessage(decodeMessage(TensorProto, bytes, 'tensor file'), opts) };
  }
}

function elemKind(m: Msg, what: string): ElemKind {
  const k = int(m, 'elem_type', what);
  if (typeof ElemKind[k] !== 'string') throw new OnnxDecodeError(`${what}: unknown elem_type ${k}`);
  return k;
}

function sequenceValue(m: Msg, opts: TensorDecodeOptions): { kind: 'sequence'; elems: OnnxValue[] } {
  const what = `sequence '${str(m, 'name')}'`;
  const kind = elemKind(m, what);
  const tensors = (field: string): OnnxValue[] =>
    subs(m, field, what).map((t) => ({ kind: 'tensor', tensor: decodeTensorProtoMessage(t, opts) }));
  switch (kind) {
    case ElemKind.UNDEFINED: case ElemKind.TENSOR: return { kind: 'sequence', elems: tensors('tensor_values') };
    case ElemKind.SPARSE_TENSOR:
      return {
        kind: 'sequence',
        elems: subs(m, 'sparse_tensor_values', what).map((t) => ({ kind: 'tensor', tensor: decodeSparseTensor(t, opts) })),
      };
    case ElemKind.SEQUENCE:
      return { kind: 'sequence', elems: subs(m, 'sequence_values', what).map((s) => sequenceValue(s, opts)) };
    case ElemKind.MAP: return { kind: 'sequence', elems: subs(m, 'map_values', what).map((s) => mapValue(s, opts)) };
    case ElemKind.OPTIONAL:
      return { kind: 'sequence', elems: subs(m, 'optional_values', what).map((s) => optionalValue(s, opts)) };
  }
}

function optionalValue(m: Msg, opts: TensorDecodeOptions): { kind: 'optional'; value: OnnxValue | null } {
  const what = `optional '${str(m, 'name')}'`;
  const inner = (field: string): Msg | undefined => sub(m, field);
  let value: OnnxValue | null = null;
  switch (elemKind(m, what)) {
    case ElemKind.UNDEFINED: break;
    case ElemKind.TENSOR: {
      const t = inner('tensor_value');
      if (t) value = { kind: 'tensor', tensor: decodeTensorProtoMessage(t, opts) };
      break;
    }
    case ElemKind.SPARSE_TENSOR: {
      const t = inner('sparse_tensor_value');
      if (t) value = { kind: 'tensor', tensor: decodeSparseTensor(t, opts) };
      break;
    }
    case ElemKind.SEQUENCE: { const s = inner('sequence_value'); if (s) value = sequenceValue(s, opts); break; }
    case ElemKind.MAP: { const s = inner('map_value'); if (s) value = mapValue(s, opts); break; }
    case ElemKind.OPTIONAL: { const s = inner('optional_value'); if (s) value = optionalValue(s, opts); break; }
  }
  return { kind: 'optional', value };
}

function mapValue(m: Msg, opts: TensorDecodeOptions): OnnxValue {
  const what = `map '${str(m, 'name')}'`;
  const keyType = dataTypeOf(int(m, 'key_type', what), `${what} key_type`);
  const keys: (bigint | string)[] = keyType === DataType.STRING
    ? bytesList(m, 'string_keys', what).map(utf8Decode)
    : list(m, 'keys').map((k, i) => toBigInt(k, `${what}.keys[${i}]`));
  const valuesMsg = sub(m, 'values');
  const values = valuesMsg ? sequenceValue(valuesMsg, opts).elems : [];
  if (values.length !== keys.length) {
    throw new OnnxDecodeError(`${what}: ${keys.length} keys but a different number of values`);
  }
  return { kind: 'map', keyType, keys, values };
}
