// A small typed builder for ONNX models, used by unit and differential tests:
//
//   const b = new ModelBuilder({ opset: 17 });
//   const x = b.input('x', DataType.FLOAT, [2, 3]);
//   const w = b.initializer('w', DataType.FLOAT, [3, 4], new Float32Array(12));
//   const [y] = b.node('MatMul', [x, w]);
//   b.output(y, DataType.FLOAT, [2, 4]);
//   const bytes = b.build();

import {
  DataType, type OnnxAttribute, type OnnxDim, type OnnxFunction, type OnnxGraph, type OnnxNode, type OnnxTensor,
  type OnnxType, type OnnxValueInfo,
} from './model.js';
import { encodeModel } from './encode.js';
import { utf8Encode } from './proto.js';
import { tensorFromValues, type TensorValues } from './tensor-data.js';

type AttrOf<K extends OnnxAttribute['kind']> = Extract<OnnxAttribute, { kind: K }>;

function checkInts(values: readonly number[], what: string): number[] {
  for (const v of values) if (!Number.isInteger(v)) throw new TypeError(`${what}: ${v} is not an integer`);
  return [...values];
}

/** Explicit attribute constructors, for when a plain value would be ambiguous (alpha: 1 is an int). */
export const attr = {
  float: (value: number): AttrOf<'float'> => ({ kind: 'float', value }),
  int: (value: number): AttrOf<'int'> => ({ kind: 'int', value: checkInts([value], 'attr.int')[0] }),
  string: (value: string): AttrOf<'string'> => ({ kind: 'string', value, bytes: utf8Encode(value) }),
  floats: (value: readonly number[]): AttrOf<'floats'> => ({ kind: 'floats', value: [...value] }),
  ints: (value: readonly number[]): AttrOf<'ints'> => ({ kind: 'ints', value: checkInts(value, 'attr.ints') }),
  strings: (value: readonly string[]): AttrOf<'strings'> => ({ kind: 'strings', value: [...value] }),
  tensor: (value: OnnxTensor): AttrOf<'tensor'> => ({ kind: 'tensor', value }),
  tensors: (value: readonly OnnxTensor[]): AttrOf<'tensors'> => ({ kind: 'tensors', value: [...value] }),
  graph: (g: GraphBuilder | OnnxGraph): AttrOf<'graph'> => ({ kind: 'graph', value: graphOf(g) }),
  graphs: (gs: readonly (GraphBuilder | OnnxGraph)[]): AttrOf<'graphs'> => ({ kind: 'graphs', value: gs.map(graphOf) }),
  typeProto: (value: OnnxType): AttrOf<'type_proto'> => ({ kind: 'type_proto', value }),
  /** Inside a function body: take the value of the function's attribute `name`. */
  ref: (refAttrName: string): AttrOf<'ref'> => ({ kind: 'ref', refAttrName }),
};

/**
 * An attribute value: an explicit `attr.*` value, a tensor, a subgraph, or a
 * plain value (integer → int, other number → float, string → string, arrays
 * likewise; an empty array is ints).
 */
export type AttrInput =
  | OnnxAttribute | OnnxTensor | GraphBuilder | number | string | readonly number[] | readonly string[];

function graphOf(g: GraphBuilder | OnnxGraph): OnnxGraph {
  return g instanceof GraphBuilder ? g.toGraph() : g;
}

function isList(v: AttrInput): v is readonly number[] | readonly string[] {
  return Array.isArray(v);
}

export function toAttribute(v: AttrInput, what = 'attribute'): OnnxAttribute {
  if (typeof v === 'number') return Number.isInteger(v) ? attr.int(v) : attr.float(v);
  if (typeof v === 'string') return attr.string(v);
  if (v instanceof GraphBuilder) return attr.graph(v);
  if (isList(v)) return listAttribute(v, what);
  return 'kind' in v ? v : attr.tensor(v);
}

function listAttribute(items: readonly (number | string)[], what: string): OnnxAttribute {
  const nums = items.filter((x): x is number => typeof x === 'number');
  const strs = items.filter((x): x is string => typeof x === 'string');
  if (strs.length === items.length && items.length > 0) return attr.strings(strs);
  if (nums.length !== items.length) throw new TypeError(`${what}: mixed numbers and strings`);
  return nums.every(Number.isInteger) ? attr.ints(nums) : attr.floats(nums);
}

export interface NodeOptions {
  /** How many outputs to create (fresh names), or their names. Default 1. */
  outputs?: number | readonly string[];
  attrs?: Readonly<Record<string, AttrInput>>;
  name?: string;
  domain?: string;
}

/** State shared by a model and all of its subgraphs. */
class Scope {
  private readonly taken = new Set<string>();
  readonly dataTypes = new Set<DataType>();

  claim(name: string): string {
    this.taken.add(name);
    return name;
  }

  /** A name unused anywhere in the model (outer names are visible inside subgraphs). */
  fresh(prefix: string): string {
    for (let i = 0; ; i++) {
      const name = `${prefix}_${i}`;
      if (!this.taken.has(name)) return this.claim(name);
    }
  }
}

export function tensorType(dataType: DataType, dims?: readonly OnnxDim[] | null): OnnxType {
  return { kind: 'tensor', elemType: dataType, shape: dims ? [...dims] : null };
}

export class GraphBuilder {
  private readonly nodes: OnnxNode[] = [];
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly initializers: OnnxTensor[] = [];
  private readonly valueInfos: OnnxValueInfo[] = [];

  constructor(readonly name: string, protected readonly scope: Scope = new Scope()) {}

  /** A graph input of tensor type; `dims` omitted or null means unknown rank. */
  input(name: string, dataType: DataType, dims?: readonly OnnxDim[] | null): string {
    return this.typedInput(name, tensorType(dataType, dims));
  }

  /** A graph input of any type (sequence, optional, ...). */
  typedInput(name: string, type: OnnxType): string {
    this.noteType(type);
    this.inputs.push({ name: this.scope.claim(name), type });
    return name;
  }

  /** A constant; `values` is raw bytes, a typed array matching `dataType`, or plain values. */
  initializer(name: string, dataType: DataType, dims: readonly number[], values: TensorValues): string {
    return this.addInitializer(tensorFromValues(name, dataType, [...dims], values));
  }

  addInitializer(t: OnnxTensor): string {
    this.scope.dataTypes.add(t.dataType);
    this.initializers.push(t);
    return this.scope.claim(t.name);
  }

  /** Adds a node and returns its output names ('' inputs mark omitted optional inputs). */
  node(opType: string, inputs: readonly string[], opts: NodeOptions = {}): string[] {
    const outs = opts.outputs ?? 1;
    const outputs = typeof outs === 'number'
      ? Array.from({ length: outs }, () => this.scope.fresh(opts.name ?? opType))
      : outs.map((o) => (o === '' ? o : this.scope.claim(o)));
    const attributes = new Map<string, OnnxAttribute>();
    for (const [key, v] of Object.entries(opts.attrs ?? {})) attributes.set(key, toAttribute(v, `${opType}.${key}`));
    this.nodes.push({
      name: opts.name ?? '', opType, domain: opts.domain ?? '', inputs: [...inputs], outputs, attributes, raw: undefined,
    });
    return outputs;
  }

  /** Declares `name` a graph output; without a data type its type is left unknown. */
  output(name: string, dataType?: DataType, dims?: readonly OnnxDim[] | null): string {
    return this.typedOutput(name, dataType === undefined ? { kind: 'unknown' } : tensorType(dataType, dims));
  }

  typedOutput(name: string, type: OnnxType): string {
    this.noteType(type);
    this.outputs.push({ name, type });
    return name;
  }

  valueInfo(name: string, type: OnnxType): this {
    this.noteType(type);
    this.valueInfos.push({ name, type });
    return this;
  }

  /** A builder for an If/Loop/Scan body; names stay unique across the whole model. */
  subgraph(name: string): GraphBuilder {
    return new GraphBuilder(name, this.scope);
  }

  toGraph(): OnnxGraph {
    return {
      name: this.name,
      nodes: [...this.nodes],
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      initializers: [...this.initializers],
      valueInfo: [...this.valueInfos],
    };
  }

  private noteType(t: OnnxType): void {
    if (t.kind === 'tensor' || t.kind === 'sparse_tensor') this.scope.dataTypes.add(t.elemType);
    else if (t.kind === 'sequence' || t.kind === 'optional') this.noteType(t.elem);
    else if (t.kind === 'map') this.noteType(t.value);
  }
}

export interface ModelBuilderOptions {
  /** Version of the default ('') domain. Default 17. */
  opset?: number;
  /** Further operator sets, e.g. { 'com.microsoft': 1 }. */
  opsets?: Readonly<Record<string, number>>;
  /** Defaults to onnx's release table for `opset`, raised as the data types used require. */
  irVersion?: number;
  graphName?: string;
  producerName?: string;
}

export interface FunctionSpec {
  name: string;
  domain: string;
  inputs: readonly string[];
  outputs: readonly string[];
  /** Attribute parameters without defaults (refer to them with attr.ref). */
  attributes?: readonly string[];
  attributeDefaults?: Readonly<Record<string, AttrInput>>;
  /** Only the nodes of the body are used. */
  body: GraphBuilder;
  /** The body's operator sets; default: the model's default-domain opset. */
  opsets?: Readonly<Record<string, number>>;
}

export class ModelBuilder extends GraphBuilder {
  private readonly opsets: Map<string, number>;
  private readonly functions: OnnxFunction[] = [];

  constructor(private readonly opts: ModelBuilderOptions = {}) {
    super(opts.graphName ?? 'main');
    this.opsets = new Map([['', opts.opset ?? 17], ...Object.entries(opts.opsets ?? {})]);
  }

  /** Adds a model-local function; call it with b.node(spec.name, ..., { domain: spec.domain }). */
  addFunction(spec: FunctionSpec): void {
    const attributeDefaults = new Map<string, OnnxAttribute>();
    for (const [k, v] of Object.entries(spec.attributeDefaults ?? {})) attributeDefaults.set(k, toAttribute(v, k));
    this.functions.push({
      name: spec.name,
      domain: spec.domain,
      inputs: [...spec.inputs],
      outputs: [...spec.outputs],
      attributeNames: [...(spec.attributes ?? []), ...attributeDefaults.keys()],
      attributeDefaults,
      nodes: spec.body.toGraph().nodes,
      opsetImports: new Map(Object.entries(spec.opsets ?? { '': this.opsets.get('') ?? 17 })),
    });
    if (!this.opsets.has(spec.domain)) this.opsets.set(spec.domain, 1);
  }

  irVersion(): number {
    if (this.opts.irVersion !== undefined) return this.opts.irVersion;
    const byType = [...this.scope.dataTypes].map(minIrVersionFor);
    return Math.max(irVersionForOpset(this.opsets.get('') ?? 17), ...byType);
  }

  build(): Uint8Array {
    const graph = this.toGraph();
    return encodeModel({
      irVersion: this.irVersion(),
      opsetImports: this.opsets,
      functions: this.functions,
      graph,
      producerName: this.opts.producerName,
    });
  }
}

/** onnx's release table: the IR version that shipped with each default-domain opset. */
export function irVersionForOpset(opset: number): number {
  const table: ReadonlyArray<readonly [number, number]> = [
    [8, 3], [9, 4], [10, 5], [11, 6], [14, 7], [18, 8], [20, 9], [22, 10], [23, 11], [24, 12],
  ];
  return table.find(([maxOpset]) => opset <= maxOpset)?.[1] ?? 13;
}

/** The first IR version that has data type `t`. */
export function minIrVersionFor(t: DataType): number {
  switch (t) {
    case DataType.BFLOAT16: return 4;
    case DataType.FLOAT8E4M3FN: case DataType.FLOAT8E4M3FNUZ: case DataType.FLOAT8E5M2: case DataType.FLOAT8E5M2FNUZ:
      return 9;
    case DataType.UINT4: case DataType.INT4: return 10;
    case DataType.FLOAT4E2M1: return 11;
    case DataType.FLOAT8E8M0: return 12;
    case DataType.UINT2: case DataType.INT2: return 13;
    default: return 3;
  }
}
