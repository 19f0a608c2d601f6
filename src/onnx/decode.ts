// ModelProto bytes → OnnxModel. Every failure, from truncated bytes to a
// tensor whose payload does not match its shape, surfaces as OnnxDecodeError
// naming the offending graph/node/attribute/tensor.

import {
  DataType, OnnxDecodeError, type OnnxAttribute, type OnnxDim, type OnnxFunction, type OnnxGraph, type OnnxModel,
  type OnnxNode, type OnnxTensor, type OnnxType, type OnnxValueInfo,
} from './model.js';
import {
  bytesList, bytesOf, dataTypeOf, decodeMessage, floats, guardDecode, has, int, ints, list, ModelProto, normaliseDomain, str, strs,
  sub, subs, TensorProto, toSafeNumber, utf8Decode, type Msg,
} from './proto.js';
import { decodeSparseTensor, decodeTensorProtoMessage, type TensorDecodeOptions } from './decode-tensor.js';

export { decodeSparseTensor, decodeTensorProtoMessage, type TensorDecodeOptions } from './decode-tensor.js';
export { decodeSequence, decodeOptional, decodeValue, type OnnxValue } from './decode-value.js';

export interface DecodeOptions {
  /** Directory of the model file, for tensors with external data. */
  baseDir?: string;
}

export function decodeModel(bytes: Uint8Array, opts: DecodeOptions = {}): OnnxModel {
  return guardDecode('model', () => decodeModelMessage(decodeMessage(ModelProto, bytes, 'model'), opts));
}

/** A standalone TensorProto file, e.g. test_data_set_0/input_0.pb. */
export function decodeTensor(bytes: Uint8Array, opts: TensorDecodeOptions = {}): OnnxTensor {
  return guardDecode('tensor file', () => decodeTensorProtoMessage(decodeMessage(TensorProto, bytes, 'tensor file'), opts));
}

function decodeModelMessage(m: Msg, opts: DecodeOptions): OnnxModel {
  const graph = sub(m, 'graph');
  if (!graph) throw new OnnxDecodeError('model: ModelProto has no graph');
  const ctx: Ctx = { baseDir: opts.baseDir };
  return {
    irVersion: int(m, 'ir_version', 'model'),
    producerName: str(m, 'producer_name'),
    opsetImports: decodeOpsets(m, 'model'),
    graph: decodeGraph(graph, ctx, 'graph'),
    functions: subs(m, 'functions', 'model').map((f) => decodeFunction(f, ctx)),
    metadata: decodeStringMap(m, 'metadata_props', 'model'),
  };
}

interface Ctx {
  readonly baseDir: string | undefined;
}

function decodeOpsets(m: Msg, what: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const o of subs(m, 'opset_import', what)) {
    const domain = normaliseDomain(str(o, 'domain'));
    const version = int(o, 'version', `${what} opset '${domain}'`);
    // Duplicate imports are invalid; the highest version is the least surprising reading.
    out.set(domain, Math.max(version, out.get(domain) ?? 0));
  }
  return out;
}

function decodeStringMap(m: Msg, field: string, what: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of subs(m, field, what)) out.set(str(e, 'key'), str(e, 'value'));
  return out;
}

function decodeGraph(g: Msg, ctx: Ctx, where: string): OnnxGraph {
  const name = str(g, 'name');
  const what = `${where} '${name}'`;
  const initializers = subs(g, 'initializer', what).map((t) => decodeTensorProtoMessage(t, ctx));
  for (const s of subs(g, 'sparse_initializer', what)) initializers.push(decodeSparseTensor(s, ctx));
  return {
    name,
    nodes: subs(g, 'node', what).map((n, i) => decodeNode(n, ctx, `${what} node #${i}`)),
    inputs: subs(g, 'input', what).map((v) => decodeValueInfo(v, what)),
    outputs: subs(g, 'output', what).map((v) => decodeValueInfo(v, what)),
    initializers,
    valueInfo: subs(g, 'value_info', what).map((v) => decodeValueInfo(v, what)),
  };
}

function decodeNode(n: Msg, ctx: Ctx, fallback: string): OnnxNode {
  const name = str(n, 'name');
  const opType = str(n, 'op_type');
  const what = name ? `node '${name}' (${opType})` : `${fallback} (${opType})`;
  if (!opType) throw new OnnxDecodeError(`${what}: op_type is missing`);
  const attributes = new Map<string, OnnxAttribute>();
  for (const a of subs(n, 'attribute', what)) {
    const [key, value] = decodeAttribute(a, ctx, what);
    if (attributes.has(key)) throw new OnnxDecodeError(`${what}: duplicate attribute '${key}'`);
    attributes.set(key, value);
  }
  return {
    name,
    opType,
    domain: normaliseDomain(str(n, 'domain')),
    inputs: strs(n, 'input'),
    outputs: strs(n, 'output'),
    attributes,
    raw: n,
  };
}

function decodeFunction(f: Msg, ctx: Ctx): OnnxFunction {
  const name = str(f, 'name');
  const what = `function '${name}'`;
  const attributeDefaults = new Map<string, OnnxAttribute>();
  for (const a of subs(f, 'attribute_proto', what)) {
    const [key, value] = decodeAttribute(a, ctx, what);
    attributeDefaults.set(key, value);
  }
  return {
    name,
    domain: normaliseDomain(str(f, 'domain')),
    inputs: strs(f, 'input'),
    outputs: strs(f, 'output'),
    attributeNames: [...strs(f, 'attribute'), ...attributeDefaults.keys()],
    attributeDefaults,
    nodes: subs(f, 'node', what).map((n, i) => decodeNode(n, ctx, `${what} node #${i}`)),
    opsetImports: decodeOpsets(f, what),
    raw: f,
  };
}

// ---------------------------------------------------------------------------
// Attributes

/** AttributeProto.AttributeType */
enum AttrType {
  UNDEFINED = 0, FLOAT = 1, INT = 2, STRING = 3, TENSOR = 4, GRAPH = 5, FLOATS = 6, INTS = 7, STRINGS = 8,
  TENSORS = 9, GRAPHS = 10, SPARSE_TENSOR = 11, SPARSE_TENSORS = 12, TYPE_PROTO = 13, TYPE_PROTOS = 14,
}

const SINGLE_FIELDS: ReadonlyArray<readonly [string, AttrType]> = [
  ['f', AttrType.FLOAT], ['i', AttrType.INT], ['s', AttrType.STRING], ['t', AttrType.TENSOR], ['g', AttrType.GRAPH],
  ['sparse_tensor', AttrType.SPARSE_TENSOR], ['tp', AttrType.TYPE_PROTO],
];
const LIST_FIELDS: ReadonlyArray<readonly [string, AttrType]> = [
  ['floats', AttrType.FLOATS], ['ints', AttrType.INTS], ['strings', AttrType.STRINGS], ['tensors', AttrType.TENSORS],
  ['graphs', AttrType.GRAPHS], ['sparse_tensors', AttrType.SPARSE_TENSORS], ['type_protos', AttrType.TYPE_PROTOS],
];

/** IR version 1 had no type discriminator; infer it from the populated field. */
function attrType(a: Msg, what: string): AttrType {
  const declared = int(a, 'type', what);
  if (declared !== AttrType.UNDEFINED) {
    if (typeof AttrType[declared] !== 'string') throw new OnnxDecodeError(`${what}: unknown attribute type ${declared}`);
    return declared;
  }
  const single = SINGLE_FIELDS.find(([f]) => has(a, f));
  if (single) return single[1];
  const listed = LIST_FIELDS.find(([f]) => list(a, f).length > 0);
  if (listed) return listed[1];
  throw new OnnxDecodeError(`${what}: attribute has neither a type nor a value`);
}

function decodeAttribute(a: Msg, ctx: Ctx, owner: string): [string, OnnxAttribute] {
  const name = str(a, 'name');
  const what = `${owner} attribute '${name}'`;
  if (!name) throw new OnnxDecodeError(`${owner}: attribute without a name`);
  const ref = str(a, 'ref_attr_name');
  if (ref) return [name, { kind: 'ref', refAttrName: ref }];
  return [name, attributeValue(a, attrType(a, what), ctx, what)];
}

function required(a: Msg, field: string, what: string): Msg {
  const v = sub(a, field);
  if (!v) throw new OnnxDecodeError(`${what}: field '${field}' is missing`);
  return v;
}

function attributeValue(a: Msg, type: AttrType, ctx: Ctx, what: string): OnnxAttribute {
  switch (type) {
    case AttrType.FLOAT: return { kind: 'float', value: floatField(a, what) };
    case AttrType.INT: return { kind: 'int', value: int(a, 'i', what) };
    case AttrType.STRING: {
      const bytes = bytesOf(a, 's') ?? new Uint8Array(0);
      return { kind: 'string', value: utf8Decode(bytes), bytes };
    }
    case AttrType.TENSOR: return { kind: 'tensor', value: decodeTensorProtoMessage(required(a, 't', what), ctx) };
    case AttrType.GRAPH: return { kind: 'graph', value: decodeGraph(required(a, 'g', what), ctx, `${what} graph`) };
    case AttrType.FLOATS: return { kind: 'floats', value: floats(a, 'floats', what) };
    case AttrType.INTS: return { kind: 'ints', value: ints(a, 'ints', what) };
    case AttrType.STRINGS: return { kind: 'strings', value: bytesList(a, 'strings', what).map(utf8Decode) };
    case AttrType.TENSORS:
      return { kind: 'tensors', value: subs(a, 'tensors', what).map((t) => decodeTensorProtoMessage(t, ctx)) };
    case AttrType.GRAPHS:
      return { kind: 'graphs', value: subs(a, 'graphs', what).map((g, i) => decodeGraph(g, ctx, `${what} graph #${i}`)) };
    case AttrType.SPARSE_TENSOR: return { kind: 'sparse_tensor', value: required(a, 'sparse_tensor', what) };
    case AttrType.TYPE_PROTO: return { kind: 'type_proto', value: decodeType(required(a, 'tp', what), what) };
    case AttrType.SPARSE_TENSORS: case AttrType.TYPE_PROTOS: case AttrType.UNDEFINED:
      throw new OnnxDecodeError(`${what}: attribute type ${AttrType[type]} is not supported`);
  }
}

function floatField(a: Msg, what: string): number {
  const v = a.f;
  if (!has(a, 'f')) return 0;
  if (typeof v !== 'number') throw new OnnxDecodeError(`${what}: f is not a number`);
  return v;
}

// ---------------------------------------------------------------------------
// Types

function decodeValueInfo(v: Msg, where: string): OnnxValueInfo {
  const name = str(v, 'name');
  const t = sub(v, 'type');
  return { name, type: t ? decodeType(t, `${where} value '${name}'`) : { kind: 'unknown' } };
}

export function decodeType(t: Msg, what: string): OnnxType {
  const tensor = sub(t, 'tensor_type');
  if (tensor) return { kind: 'tensor', ...tensorTypeFields(tensor, what) };
  const sparse = sub(t, 'sparse_tensor_type');
  if (sparse) return { kind: 'sparse_tensor', ...tensorTypeFields(sparse, what) };
  const seq = sub(t, 'sequence_type');
  if (seq) return { kind: 'sequence', elem: nestedType(seq, 'elem_type', what) };
  const opt = sub(t, 'optional_type');
  if (opt) return { kind: 'optional', elem: nestedType(opt, 'elem_type', what) };
  const map = sub(t, 'map_type');
  if (map) {
    const keyType = dataTypeOf(int(map, 'key_type', what), `${what} map key`);
    return { kind: 'map', keyType, value: nestedType(map, 'value_type', what) };
  }
  return { kind: 'unknown' };
}

function nestedType(m: Msg, field: string, what: string): OnnxType {
  const t = sub(m, field);
  return t ? decodeType(t, what) : { kind: 'unknown' };
}

function tensorTypeFields(m: Msg, what: string): { elemType: DataType; shape: OnnxDim[] | null } {
  const elemType = dataTypeOf(int(m, 'elem_type', what), `${what} elem_type`);
  const shape = sub(m, 'shape');
  return { elemType, shape: shape ? subs(shape, 'dim', what).map((d) => decodeDim(d, what)) : null };
}

function decodeDim(d: Msg, what: string): OnnxDim {
  if (has(d, 'dim_value')) return toSafeNumber(d.dim_value, `${what} dim_value`);
  const param = str(d, 'dim_param');
  return param === '' ? null : param;
}
