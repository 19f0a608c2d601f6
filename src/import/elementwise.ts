// Shared machinery for elementwise ops: numpy broadcasting for inference and a
// linalg.generic whose body the op supplies.
import type { DataType } from '../onnx/model.js';
import type { TensorType } from '../ir/types.js';
import { broadcastMap, elemType, identityMap, tensorTypeOf, type FuncBuilder } from '../codegen/mlir-builder.js';
import type { NodeContext } from './node-context.js';
import type { LowerContext } from './lower-context.js';

export function broadcastShapes(ctx: NodeContext, shapes: readonly number[][]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      const sd = k < 0 ? 1 : s[k];
      if (sd === 1) continue;
      if (d !== 1 && d !== sd) ctx.unsupported(`shapes [${shapes.map((x) => x.join('x')).join('], [')}] do not broadcast`);
      d = sd;
    }
    // A zero-sized dim wins over 1 (numpy semantics).
    out.push(shapes.some((s) => s[s.length - rank + i] === 0) ? 0 : d);
  }
  return out;
}

/** Output type of a broadcasting op over `inputs`, with dtype `dt` (default: input 0's). */
export function inferBroadcast(ctx: NodeContext, inputs: readonly number[], dt?: DataType): TensorType {
  const shape = broadcastShapes(ctx, inputs.map((i) => ctx.shape(i)));
  return { dataType: dt ?? ctx.dtype(inputs[0]), shape };
}

/** Block-level scalar body: receives one scalar per input, returns the result scalar. */
export type ScalarBody = (b: FuncBuilder, args: string[]) => string;

/**
 * Emits a broadcasting elementwise generic over the given inputs (by index, or
 * explicit SSA/type pairs) producing output 0 of the node.
 */
export function lowerElementwise(ctx: LowerContext, inputs: readonly number[], body: ScalarBody, outIndex = 0): string {
  const outShape = ctx.outShape(outIndex);
  const outT = tensorTypeOf(ctx.outDtype(outIndex), outShape);
  const outElem = elemType(ctx.outDtype(outIndex));
  const init = ctx.b.empty(outT);
  const [result] = ctx.b.generic({
    inputs: inputs.map((i) => ({
      value: ctx.input(i),
      type: ctx.inType(i),
      map: broadcastMap(ctx.shape(i), outShape),
      elem: elemType(ctx.dtype(i)),
    })),
    outputs: [{ value: init, type: outT, map: identityMap(outShape.length), elem: outElem }],
    iterators: outShape.map(() => 'parallel'),
    body: (b, args) => [body(b, args.slice(0, inputs.length))],
  });
  return result;
}
