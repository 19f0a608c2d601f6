// OnnxModel pieces → ModelProto bytes, for the CPU fallback (subgraphs cut out
// of a model and handed to onnxruntime-node) and for the test model builder.
// Decoded nodes and functions are re-emitted from their protobuf messages so
// that subgraph attributes survive byte for byte.

import {
  DataType, type OnnxAttribute, type OnnxDim, type OnnxFunction, type OnnxGraph, type OnnxNode, type OnnxTensor,
  type OnnxType, type OnnxValueInfo,
} from './model.js';
import { isMsg, list, ModelProto, str, TensorProto, utf8Encode, type Msg } from './proto.js';

/** A protobuf message as plain fields, in onnx.proto (snake_case) names. */
type Fields = { [field: string]: unknown };

export interface EncodeGraphSpec {
  name: string;
  nodes: OnnxNode[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializers: OnnxTensor[];
  valueInfo?: OnnxValueInfo[];
}

export interface EncodeModelSpec {
  irVersion: number;
  /** domain ('' for default) → version */
  opsetImports: Map<string, number>;
  functions?: OnnxFunction[];
  graph: EncodeGraphSpec;
  producerName?: string;
  metadata?: Map<string, string>;
}

export const PRODUCER_NAME = 'onnxruntime-ep-mlir';

export function encodeModel(spec: EncodeModelSpec): Uint8Array {
  const model: Fields = {
    ir_version: spec.irVersion,
    producer_name: spec.producerName ?? PRODUCER_NAME,
    opset_import: opsetMessages(spec.opsetImports),
    graph: graphMessage(spec.graph),
    functions: (spec.functions ?? []).map(functionMessage),
    metadata_props: [...(spec.metadata ?? [])].map(([key, value]) => ({ key, value })),
  };
  return ModelProto.encode(model).finish();
}

/** TensorProto bytes; the payload goes to raw_data (strings to string_data). */
export function encodeTensor(t: OnnxTensor): Uint8Array {
  return TensorProto.encode(tensorMessage(t)).finish();
}

function opsetMessages(opsets: Map<string, number>): Fields[] {
  return [...opsets].map(([domain, version]) => ({ domain, version }));
}

export function tensorMessage(t: OnnxTensor): Fields {
  const base: Fields = { name: t.name, data_type: t.dataType, dims: t.dims };
  if (t.dataType === DataType.STRING) return { ...base, string_data: t.strings ?? [] };
  return { ...base, raw_data: t.data };
}

export function graphMessage(g: EncodeGraphSpec | OnnxGraph): Fields {
  return {
    name: g.name,
    node: g.nodes.map(nodeMessage),
    input: g.inputs.map(valueInfoMessage),
    output: g.outputs.map(valueInfoMessage),
    initializer: g.initializers.map(tensorMessage),
    value_info: (g.valueInfo ?? []).map(valueInfoMessage),
  };
}

/**
 * A node's inputs, outputs and identity come from the OnnxNode (the compiler
 * may rename values); its attributes come from `raw` when it is a decoded
 * NodeProto, so that edits to `attributes` only take effect on nodes without one.
 */
export function nodeMessage(n: OnnxNode): Fields {
  const raw = isMsg(n.raw) ? n.raw : undefined;
  const fields: Fields = {
    name: n.name,
    op_type: n.opType,
    domain: n.domain,
    input: n.inputs,
    output: n.outputs,
    attribute: raw ? list(raw, 'attribute') : [...n.attributes].map(([name, a]) => attributeMessage(name, a)),
  };
  const overload = raw ? str(raw, 'overload') : '';
  return overload ? { ...fields, overload } : fields;
}

function functionMessage(f: OnnxFunction): Msg {
  if (isMsg(f.raw)) return f.raw;
  return {
    name: f.name,
    domain: f.domain,
    input: f.inputs,
    output: f.outputs,
    attribute: f.attributeNames.filter((n) => !f.attributeDefaults.has(n)),
    attribute_proto: [...f.attributeDefaults].map(([name, a]) => attributeMessage(name, a)),
    node: f.nodes.map(nodeMessage),
    opset_import: opsetMessages(f.opsetImports),
  };
}

/** AttributeProto.AttributeType numbers per OnnxAttribute kind. */
const ATTR_TYPE: Record<OnnxAttribute['kind'], number> = {
  float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7, strings: 8, tensors: 9, graphs: 10,
  sparse_tensor: 11, type_proto: 13, ref: 0,
};

export function attributeMessage(name: string, a: OnnxAttribute): Fields {
  const head: Fields = { name, type: ATTR_TYPE[a.kind] };
  switch (a.kind) {
    case 'float': return { ...head, f: a.value };
    case 'int': return { ...head, i: a.value };
    case 'string': return { ...head, s: a.bytes };
    case 'tensor': return { ...head, t: tensorMessage(a.value) };
    case 'graph': return { ...head, g: graphMessage(a.value) };
    case 'floats': return { ...head, floats: a.value };
    case 'ints': return { ...head, ints: a.value };
    case 'strings': return { ...head, strings: a.value.map(utf8Encode) };
    case 'tensors': return { ...head, tensors: a.value.map(tensorMessage) };
    case 'graphs': return { ...head, graphs: a.value.map(graphMessage) };
    case 'sparse_tensor': return { ...head, sparse_tensor: a.value };
    case 'type_proto': return { ...head, tp: typeMessage(a.value) ?? {} };
    // The referenced attribute's type is unknown here; onnx.proto lets the
    // reference stand without one.
    case 'ref': return { name, ref_attr_name: a.refAttrName };
  }
}

export function valueInfoMessage(v: OnnxValueInfo): Fields {
  const type = typeMessage(v.type);
  return type ? { name: v.name, type } : { name: v.name };
}

export function typeMessage(t: OnnxType): Fields | undefined {
  switch (t.kind) {
    case 'tensor': return { tensor_type: tensorTypeMessage(t.elemType, t.shape) };
    case 'sparse_tensor': return { sparse_tensor_type: tensorTypeMessage(t.elemType, t.shape) };
    case 'sequence': return { sequence_type: nested('elem_type', t.elem) };
    case 'optional': return { optional_type: nested('elem_type', t.elem) };
    case 'map': return { map_type: { key_type: t.keyType, ...nested('value_type', t.value) } };
    case 'unknown': return undefined;
  }
}

function nested(field: string, t: OnnxType): Fields {
  const m = typeMessage(t);
  return m ? { [field]: m } : {};
}

function tensorTypeMessage(elemType: DataType, shape: OnnxDim[] | null): Fields {
  if (shape === null) return { elem_type: elemType };
  return { elem_type: elemType, shape: { dim: shape.map(dimMessage) } };
}

function dimMessage(d: OnnxDim): Fields {
  if (typeof d === 'number') return { dim_value: d };
  if (typeof d === 'string') return { dim_param: d };
  return {};
}
