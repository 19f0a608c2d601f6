// Lowering pieces shared by ops whose output size depends on data (NonZero,
// Compress, Unique, NonMaxSuppression): they write their outputs at the
// largest size and return how many entries are valid (registry.ts
// BoundedOutput). Results are appended at a running count carried through
// scf.for loops; at step j the count is at most j, so writing at the count is
// always in bounds and a skipped entry is simply overwritten by the next one.
import { DataType } from '../onnx/model.js';
import { tensorTypeOf, type FuncBuilder } from '../codegen/mlir-builder.js';
import { refType, type TensorRef } from './index-lowering.js';

/** The count (an index) as the `tensor<i64>` a bounded lowering returns last. */
export function countTensor(b: FuncBuilder, count: string): string {
  const c = b.op(`arith.index_cast ${count} : index to i64`);
  return b.op(`tensor.from_elements ${c} : ${tensorTypeOf(DataType.INT64, [])}`);
}

/** `count + 1` when `cond` (i1) holds, else `count`. */
export function bump(b: FuncBuilder, count: string, cond: string): string {
  const next = b.op(`arith.addi ${count}, ${b.index(1)} : index`);
  return b.op(`arith.select ${cond}, ${next}, ${count} : index`);
}

/** An index as i64. */
export function indexToI64(b: FuncBuilder, i: string): string {
  return b.op(`arith.index_cast ${i} : index to i64`);
}

/** Offsets/sizes of the one-entry slice at `at` along `axis` of `shape`. */
function sliceSpec(shape: readonly number[], axis: number, at: string): string {
  const offsets = shape.map((_, i) => (i === axis ? at : '0'));
  const sizes = shape.map((d, i) => (i === axis ? 1 : d));
  return `[${offsets.join(', ')}] [${sizes.join(', ')}] [${shape.map(() => 1).join(', ')}]`;
}

/** Copies entry `from` along `axis` of `src` into entry `to` of `dst` (same dims except along `axis`). */
export function copyEntry(b: FuncBuilder, src: TensorRef, from: string, dst: TensorRef, to: string, axis: number): string {
  const sliceT = tensorTypeOf(src.dtype, src.shape.map((d, i) => (i === axis ? 1 : d)));
  const slice = b.op(`tensor.extract_slice ${src.value}${sliceSpec(src.shape, axis, from)} : ${refType(src)} to ${sliceT}`);
  return b.op(`tensor.insert_slice ${slice} into ${dst.value}${sliceSpec(dst.shape, axis, to)} : ${sliceT} into ${refType(dst)}`);
}
