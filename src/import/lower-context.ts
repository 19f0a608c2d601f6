// What a lowering sees: the node (via NodeContext), the function being built,
// SSA names of its inputs, and the inferred static output types.
import type { DataType } from '../onnx/model.js';
import type { IrNode, Value } from '../ir/graph.js';
import { isStatic, type TensorType } from '../ir/types.js';
import { FuncBuilder, tensorType, tensorTypeOf } from '../codegen/mlir-builder.js';
import { NodeContext } from './node-context.js';

/** Resolves a graph value to an SSA tensor in the function under construction. */
export type ValueResolver = (v: Value) => string;

export class LowerContext extends NodeContext {
  constructor(
    node: IrNode,
    opset: number,
    readonly b: FuncBuilder,
    private readonly resolve: ValueResolver,
  ) {
    super(node, opset);
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
