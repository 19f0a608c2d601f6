// What a lowering sees: the node (via NodeContext), the function being built,
// SSA names of its inputs, and the inferred static output types.
import type { DataType, OnnxTensor } from '../onnx/model.js';
import type { IrNode, Value } from '../ir/graph.js';
import { isStatic, type TensorType } from '../ir/types.js';
import { FuncBuilder, tensorType, tensorTypeOf } from '../codegen/mlir-builder.js';
import { NodeContext } from './node-context.js';

/** Resolves a graph value to an SSA tensor in the function under construction. */
export type ValueResolver = (v: Value) => string;

/** Makes a weight available to the function in a layout of the lowering's choosing. */
export interface WeightDeriver {
  /**
   * SSA name of `make(v's data)`, a weight argument computed at compile time
   * (once per `layout` of `v`); null when `v` is not a weight argument.
   */
  derive(v: Value, layout: string, make: (t: OnnxTensor) => OnnxTensor): string | null;
}

/** What lowerings that lay out weights for the kernels need to know of the target CPU. */
export interface LoweringTarget {
  /** Columns of a packed weight panel (import/packed-matmul.ts): the matmul micro-kernel's width. */
  panelColumns: number;
}

export class LowerContext extends NodeContext {
  constructor(
    node: IrNode,
    opset: number,
    readonly b: FuncBuilder,
    private readonly resolve: ValueResolver,
    readonly target: LoweringTarget,
    private readonly weights: WeightDeriver | null = null,
  ) {
    super(node, opset);
  }

  /**
   * Input i's weight in another layout, `make(data)`, computed at compile
   * time; null when input i is not a weight argument (a graph input, a
   * computed value, or a constant small enough to be embedded).
   */
  derivedWeight(i: number, layout: string, make: (t: OnnxTensor) => OnnxTensor): string | null {
    return this.weights?.derive(this.value(i), layout, make) ?? null;
  }

  /** SSA name of input i (constants are materialised on first use). */
  input(i: number): string {
    return this.resolve(this.value(i));
  }

  /** MLIR tensor type of input i. */
  inType(i: number): string {
    return tensorType(this.type(i));
  }

  outType(i: number): TensorType {
    const v = this.node.outputs[i];
    if (!v?.type) return this.unsupported(`type of output ${i} is unknown`);
    return v.type;
  }

  outShape(i: number): number[] {
    const t = this.outType(i);
    if (!isStatic(t.shape)) return this.unsupported(`output ${i} has a dynamic shape`);
    return t.shape;
  }

  /** At lowering time the inferred output type (which inference took from the declaration, if it did). */
  override declaredOutputShape(i: number): number[] | null {
    return this.outShape(i);
  }

  outDtype(i: number): DataType {
    return this.outType(i).dataType;
  }

  /** MLIR tensor type of output i. */
  outTensor(i: number): string {
    return tensorTypeOf(this.outDtype(i), this.outShape(i));
  }
}
