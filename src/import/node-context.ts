// Typed access to one node's inputs and attributes for inference, folding and lowering.
import { DataType, type OnnxAttribute, type OnnxGraph, type OnnxTensor } from '../onnx/model.js';
import { nodeLabel, type IrNode, type Value } from '../ir/graph.js';
import { dtypeName, isStatic, type TensorType } from '../ir/types.js';
import { UnsupportedError } from './registry.js';
import { tensorToNumbers } from './tensor-data.js';

export class NodeContext {
  /**
   * `declared` holds the model's value_info / output types: ops whose output
   * shape depends on runtime input values (Resize scales, Col2Im image_shape)
   * take it from there (see declaredOutputShape).
   */
  constructor(readonly node: IrNode, readonly opset: number, private readonly declared?: ReadonlyMap<string, TensorType>) {}

  get label(): string {
    return nodeLabel(this.node);
  }

  unsupported(reason: string): never {
    throw new UnsupportedError(`${this.label}: ${reason}`);
  }

  get inputCount(): number {
    return this.node.inputs.length;
  }

  get outputCount(): number {
    return this.node.outputs.length;
  }

  has(i: number): boolean {
    return this.node.inputs[i] != null;
  }

  hasOutput(i: number): boolean {
    return this.node.outputs[i] != null;
  }

  value(i: number): Value {
    const v = this.node.inputs[i];
    if (!v) this.unsupported(`input ${i} is missing`);
    return v;
  }

  type(i: number): TensorType {
    const v = this.value(i);
    if (!v.type) this.unsupported(`type of input ${i} ('${v.name}') is unknown`);
    return v.type;
  }

  dtype(i: number): DataType {
    return this.type(i).dataType;
  }

  /** Static shape of input i; dynamic dims are declined (codegen specialises on shapes). */
  shape(i: number): number[] {
    const t = this.type(i);
    if (!isStatic(t.shape)) this.unsupported(`input ${i} ('${this.value(i).name}') has dynamic shape [${t.shape.join(', ')}]`);
    return t.shape;
  }

  rank(i: number): number {
    return this.type(i).shape.length;
  }

  constant(i: number): OnnxTensor | null {
    return this.node.inputs[i]?.constant ?? null;
  }

  /** Integer contents of a constant input (shapes, axes, pads...), declined if not constant. */
  constInts(i: number, what: string): number[] {
    const t = this.constant(i);
    if (!t) this.unsupported(`${what} (input ${i}) must be a compile-time constant`);
    return tensorToNumbers(t);
  }

  optionalConstInts(i: number, what: string): number[] | null {
    return this.has(i) ? this.constInts(i, what) : null;
  }

  requireDtype(i: number, allowed: readonly DataType[]): DataType {
    const dt = this.dtype(i);
    if (!allowed.includes(dt)) this.unsupported(`input ${i} dtype ${dtypeName(dt)} is not supported`);
    return dt;
  }

  /**
   * Static shape the model declares for output i (value_info or graph
   * output), or null. For outputs whose shape follows from runtime input
   * values; the model's declaration is then trusted to match them.
   */
  declaredOutputShape(i: number): number[] | null {
    const v = this.node.outputs[i];
    const t = v ? this.declared?.get(v.name) : undefined;
    return t && isStatic(t.shape) ? [...t.shape] : null;
  }

  // ---- attributes ----

  attr(name: string): OnnxAttribute | undefined {
    return this.node.attributes.get(name);
  }

  hasAttr(name: string): boolean {
    return this.node.attributes.has(name);
  }

  int(name: string, dflt?: number): number {
    const a = this.attr(name);
    if (a === undefined) return dflt ?? this.unsupported(`attribute '${name}' is required`);
    if (a.kind !== 'int') this.unsupported(`attribute '${name}' should be an int, got ${a.kind}`);
    return a.value;
  }

  float(name: string, dflt?: number): number {
    const a = this.attr(name);
    if (a === undefined) return dflt ?? this.unsupported(`attribute '${name}' is required`);
    if (a.kind === 'float' || a.kind === 'int') return a.value;
    return this.unsupported(`attribute '${name}' should be a float, got ${a.kind}`);
  }

  string(name: string, dflt?: string): string {
    const a = this.attr(name);
    if (a === undefined) return dflt ?? this.unsupported(`attribute '${name}' is required`);
    if (a.kind !== 'string') this.unsupported(`attribute '${name}' should be a string, got ${a.kind}`);
    return a.value;
  }

  ints(name: string, dflt?: number[]): number[] {
    const a = this.attr(name);
    if (a === undefined) return dflt ?? this.unsupported(`attribute '${name}' is required`);
    if (a.kind !== 'ints') this.unsupported(`attribute '${name}' should be ints, got ${a.kind}`);
    return a.value;
  }

  optionalInts(name: string): number[] | null {
    return this.hasAttr(name) ? this.ints(name) : null;
  }

  floats(name: string, dflt?: number[]): number[] {
    const a = this.attr(name);
    if (a === undefined) return dflt ?? this.unsupported(`attribute '${name}' is required`);
    if (a.kind !== 'floats') this.unsupported(`attribute '${name}' should be floats, got ${a.kind}`);
    return a.value;
  }

  tensorAttr(name: string): OnnxTensor | null {
    const a = this.attr(name);
    if (a === undefined) return null;
    if (a.kind !== 'tensor') this.unsupported(`attribute '${name}' should be a tensor, got ${a.kind}`);
    return a.value;
  }

  graphAttr(name: string): OnnxGraph | null {
    const a = this.attr(name);
    if (a === undefined) return null;
    if (a.kind !== 'graph') this.unsupported(`attribute '${name}' should be a graph, got ${a.kind}`);
    return a.value;
  }

  /** Normalises a possibly negative axis against `rank`, declining out-of-range values. */
  axis(axis: number, rank: number): number {
    const a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) this.unsupported(`axis ${axis} is out of range for rank ${rank}`);
    return a;
  }
}
