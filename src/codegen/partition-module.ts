// Emits the MLIR module for one native partition: a single public function on
// tensors whose arguments are the partition's runtime inputs followed by its
// weights, returning its outputs. Bufferization later turns results into
// trailing out-params (bare pointers), which is the ABI the runtime calls.
import { DataType, elementCount, type OnnxTensor } from '../onnx/model.js';
import { nodeLabel, type Graph, type IrNode, type Value } from '../ir/graph.js';
import { dtypeName, isStatic, subByteBits, type TensorType } from '../ir/types.js';
import { LowerContext, type LoweringTarget, type WeightDeriver } from '../import/lower-context.js';
import { ImportError, type BoundedOutput } from '../import/registry.js';
import type { NodeStatus } from '../passes/infer-shapes.js';
import type { Partition } from '../passes/partition-graph.js';
import type { OutputTrim } from '../module/format.js';
import { CodegenError, FuncBuilder, tensorType, tensorTypeOf } from './mlir-builder.js';
import { boundaryTensorType, packResult, unpackArgument, unpackConstant } from './int4.js';

/** Constants up to this many elements are embedded as MLIR literals; larger ones are weight arguments. */
export const MAX_EMBEDDED_ELEMENTS = 256;

export type ArgRole = 'input' | 'weight' | 'output';

export interface ArgSpec {
  role: ArgRole;
  /** ONNX value name. */
  name: string;
  dataType: DataType;
  dims: number[];
  /** An output written at its largest size, trimmed at run time (module/format.ts OutputTrim). */
  trim?: OutputTrim;
}

/** A partition output of data-dependent size: its largest type and the count its trimmed axis is cut to. */
interface BoundedResult {
  bound: BoundedOutput;
  /** Name of the count output (an int64 scalar). */
  countName: string;
  /** SSA value of the count. */
  count: string;
  /** A value of the same node, to tell whether the count is computed from embedded constants alone. */
  sibling: Value;
}

export interface PartitionModule {
  symbol: string;
  mlir: string;
  /** C argument order of the compiled function: inputs, weights, outputs. */
  args: ArgSpec[];
  /** Weight tensors, in the order of the weight arguments. */
  weights: OnnxTensor[];
}

function argSpec(role: ArgRole, v: Value): ArgSpec {
  const t = v.type;
  if (!t || !isStatic(t.shape)) throw new CodegenError(`value '${v.name}' has no static type at a partition boundary`);
  return { role, name: v.name, dataType: t.dataType, dims: t.shape };
}

/** Small constants (folded or initializers) are embedded; so is any empty tensor (a zero-size argument breaks the LLVM lowering). */
function isEmbedded(v: Value): boolean {
  if (v.constant === null) return false;
  const n = elementCount(v.constant.dims);
  return n <= MAX_EMBEDDED_ELEMENTS;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex').toUpperCase();
}

/** A dense literal nesting `items` (row-major) by `dims`: `[[a, b], [c, d]]`, or the bare item of a scalar. */
function nestedLiteral(items: readonly string[], dims: readonly number[]): string {
  if (dims.length === 0) return items[0];
  const [d, ...rest] = dims;
  const inner = elementCount(rest);
  return `[${Array.from({ length: d }, (_, i) => nestedLiteral(items.slice(i * inner, (i + 1) * inner), rest)).join(', ')}]`;
}

/** `arith.constant dense<...>` for a compile-time constant tensor. */
function materialize(b: FuncBuilder, t: OnnxTensor, type: TensorType): string {
  const mt = tensorType(type);
  if (elementCount(t.dims) === 0) return b.empty(mt);
  if (t.dataType === DataType.BOOL) {
    // i1 has no hex form; the literal's nesting must match the tensor's rank.
    const items = Array.from(t.data, (x) => (x ? 'true' : 'false'));
    return b.constant(`dense<${nestedLiteral(items, t.dims)}>`, mt);
  }
  const bytes = subByteBits(t.dataType) === null ? t.data : unpackConstant(t);
  return b.constant(`dense<"0x${hex(bytes)}">`, mt);
}

export function emitPartitionModule(graph: Graph, p: Partition, status: ReadonlyMap<unknown, NodeStatus>, symbol: string, target: LoweringTarget): PartitionModule {
  const b = new FuncBuilder();
  const ssa = new Map<Value, string>();
  const weightValues = p.constants.filter((v) => !isEmbedded(v));
  const argName = new Map([...p.inputs, ...weightValues].map((v, i) => [v, `%arg${i}`]));
  const param = (v: Value): string => `${argName.get(v)}: ${boundaryType(v)} {bufferization.writable = false}`;
  for (const [v, name] of argName) ssa.set(v, name);
  /** Whether weight `v` is still its bare argument (not replaced by entry code: sub-byte unpacking, empty tensors). */
  const bareWeight = (v: Value): boolean => weightValues.includes(v) && ssa.get(v) === argName.get(v);
  // Packed sub-byte arguments are unpacked once, on entry (see codegen/int4.ts);
  // empty arguments hold no data and are re-created in their real shape.
  for (const v of [...p.inputs, ...weightValues]) {
    const t = argType(v);
    const arg = ssa.get(v);
    if (isEmptyStatic(t)) {
      // Nothing to read: the body sees a fresh tensor of the real (empty) shape.
      ssa.set(v, b.empty(tensorType(t)));
      continue;
    }
    if (arg && subByteBits(t.dataType) !== null && isStatic(t.shape)) ssa.set(v, unpackArgument(b, arg, t.dataType, t.shape));
  }
  // Weight arguments the lowerings read as they are (a weight read only in a
  // derived layout, such as packed matmul panels, is not passed at all).
  const readWeights = new Set<Value>();
  const resolve = (v: Value): string => {
    const known = ssa.get(v);
    if (known) {
      readWeights.add(v);
      return known;
    }
    if (v.constant && v.type) {
      const name = materialize(b, v.constant, v.type);
      ssa.set(v, name);
      return name;
    }
    throw new CodegenError(`value '${v.name}' is used before it is defined in partition ${p.index}`);
  };
  const derived = new DerivedWeights(bareWeight);
  // Values computed from the function's arguments; the others fold to constants in canonicalization.
  const readsArguments = new Set<Value>([...p.inputs, ...weightValues]);
  const bounded = new Map<Value, BoundedResult>();
  for (const node of p.nodes) {
    if (node.inputs.some((v) => v !== null && readsArguments.has(v))) for (const v of node.outputs) if (v) readsArguments.add(v);
    const s = status.get(node);
    if (!s || s.kind !== 'compiled' || !s.def.lower) throw new CodegenError(`${nodeLabel(node)} is not compilable`);
    const ctx = new LowerContext(node, graph.opsetOf(node.domain), b, resolve, target, derived);
    let results: string[];
    try {
      results = s.def.lower(ctx);
    } catch (e) {
      if (e instanceof ImportError) throw new CodegenError(e.message);
      throw e;
    }
    node.outputs.forEach((v, i) => {
      if (v && results[i] !== undefined) ssa.set(v, results[i]);
    });
    if (s.bounds) recordBounded(node, s.bounds, results, bounded);
  }
  // Trimmed outputs come back at their largest size, followed by the counts they are cut to.
  const counts = [...new Map(p.outputs.flatMap((v) => {
    const r = bounded.get(v);
    return r ? [[r.countName, r] as const] : [];
  }))];
  const outs = [
    ...p.outputs.map((v) => boundedArg(v, bounded.get(v)) ?? argSpec('output', v)),
    ...counts.map(([name]) => ({ role: 'output' as const, name, dataType: DataType.INT64, dims: [] })),
  ];
  const retTypes = [...p.outputs.map((v) => boundedType(bounded.get(v)) ?? boundaryType(v)), ...counts.map(() => COUNT_TYPE)];
  const results = [...p.outputs.map((v) => {
    const t = argType(v);
    // An allocation, not tensor.empty: CSE must not merge two empty results into one SSA value.
    if (isEmptyStatic(t)) return b.op(`bufferization.alloc_tensor() : ${boundaryType(v)}`, 'z');
    return subByteBits(t.dataType) !== null && isStatic(t.shape) ? packResult(b, resolve(v), t.dataType, t.shape) : resolve(v);
  }), ...counts.map(([, r]) => r.count)];
  // Counts are scalars: like other small results they may fold, so they get the copy too.
  const folding = [
    ...p.outputs.map((v) => !v.constant && (!readsArguments.has(v) || isSmall(argType(v)))),
    ...counts.map(() => true),
  ];
  b.emit(`return ${distinctResults(b, results, retTypes, folding).join(', ')} : ${retTypes.join(', ')}`);
  // A weight that is no longer its bare argument stays: the entry code reads it.
  const passed = weightValues.filter((v) => readWeights.has(v) || !bareWeight(v));
  const params = [...p.inputs.map(param), ...passed.map(param), ...derived.params()];
  const args = [...p.inputs.map((v) => argSpec('input', v)), ...passed.map((v) => argSpec('weight', v)), ...derived.args()];
  const mlir = [
    `func.func @${symbol}(${params.join(', ')}) -> (${retTypes.join(', ')}) {`,
    ...b.body(),
    '}',
    '',
  ].join('\n');
  return {
    symbol,
    mlir,
    args: [...args, ...outs],
    weights: [...passed.map((v) => v.constant).filter((t): t is OnnxTensor => t !== null), ...derived.tensors()],
  };
}

const COUNT_TYPE = 'tensor<i64>';

/**
 * Weights a lowering passes in another layout than the model's (packed
 * matmul panels): computed once at compile time and passed as extra weight
 * arguments after the model's own, one per (weight, layout).
 */
class DerivedWeights implements WeightDeriver {
  private readonly made = new Map<string, { ssa: string; tensor: OnnxTensor }>();

  /** `isArgument(v)`: whether `v` is a weight argument of this function (so its data is known here). */
  constructor(private readonly isArgument: (v: Value) => boolean) {}

  derive(v: Value, layout: string, make: (t: OnnxTensor) => OnnxTensor): string | null {
    if (!v.constant || !this.isArgument(v)) return null;
    const name = `${v.name}#${layout}`;
    const known = this.made.get(name);
    if (known) return known.ssa;
    const entry = { ssa: `%derived${this.made.size}`, tensor: make(v.constant) };
    this.made.set(name, entry);
    return entry.ssa;
  }

  params(): string[] {
    return [...this.made.values()].map(({ ssa, tensor }) => `${ssa}: ${tensorTypeOf(tensor.dataType, tensor.dims)} {bufferization.writable = false}`);
  }

  args(): ArgSpec[] {
    return [...this.made].map(([name, { tensor }]) => ({ role: 'weight', name, dataType: tensor.dataType, dims: [...tensor.dims] }));
  }

  tensors(): OnnxTensor[] {
    return [...this.made.values()].map((e) => e.tensor);
  }
}

/** Notes the trimmed outputs of a node compiled at its largest output size; its lowering returned the count last. */
function recordBounded(node: IrNode, bounds: readonly BoundedOutput[], results: readonly string[], into: Map<Value, BoundedResult>): void {
  const count = results[node.outputs.length];
  const sibling = node.outputs.find((v): v is Value => v !== null);
  if (count === undefined || !sibling) throw new CodegenError(`${nodeLabel(node)}: the lowering returned no output count`);
  const countName = `${sibling.name}#count`;
  node.outputs.forEach((v, i) => {
    const bound = bounds[i];
    if (v && bound && bound.trimAxis !== null) into.set(v, { bound, countName, count, sibling });
  });
}

function boundedArg(v: Value, r: BoundedResult | undefined): ArgSpec | null {
  if (!r || r.bound.trimAxis === null) return null;
  const t = r.bound.type;
  return { role: 'output', name: v.name, dataType: t.dataType, dims: [...t.shape], trim: { axis: r.bound.trimAxis, count: r.countName } };
}

function boundedType(r: BoundedResult | undefined): string | null {
  return r ? boundaryTensorType(r.bound.type.dataType, r.bound.type.shape) : null;
}

/**
 * MLIR type of `v` as a function argument or result: sub-byte types stay
 * packed there. Empty tensors cross as rank-1 `0x` tensors: a memref with a
 * zero dim after a non-zero one (2x0) has no bare-pointer form, so the
 * function would not lower to LLVM at all.
 */
function boundaryType(v: Value): string {
  const t = argType(v);
  if (isEmptyStatic(t)) return boundaryTensorType(t.dataType, [0]);
  return isStatic(t.shape) ? boundaryTensorType(t.dataType, t.shape) : tensorType(t);
}

function isSmall(t: TensorType): boolean {
  return isStatic(t.shape) && elementCount(t.shape) <= MAX_EMBEDDED_ELEMENTS;
}

function isEmptyStatic(t: TensorType): boolean {
  return isStatic(t.shape) && t.shape.length > 0 && elementCount(t.shape) === 0;
}

/**
 * One SSA value returned twice (y and Identity(y) both live out) crashes
 * buffer-results-to-out-params: repeats are returned through a copy that
 * canonicalization cannot fold away (a linalg.copy into tensor.empty folds).
 * Results that may fold to constants (`folding`: computed from constants
 * only, or small, like the shape computations of function-expanded graphs)
 * get the copy too: two of them that fold to equal values (Equal(a, a) and
 * Equal(b, b) are both `true`) become one value after canonicalization and
 * CSE, the same crash. Copies of small tensors cost nothing.
 */
function distinctResults(b: FuncBuilder, results: readonly string[], types: readonly string[], folding: readonly boolean[]): string[] {
  const seen = new Set<string>();
  return results.map((r, i) => {
    if (!seen.has(r) && !folding[i]) {
      seen.add(r);
      return r;
    }
    return b.op(`bufferization.alloc_tensor() copy(${r}) : ${types[i]}`, 'cp');
  });
}

function argType(v: Value): TensorType {
  if (!v.type) throw new CodegenError(`value '${v.name}' has unknown type`);
  return v.type;
}

export function describeArgs(args: readonly ArgSpec[]): string {
  return args.map((a) => `${a.role} ${a.name}: ${tensorTypeOf(a.dataType, a.dims)} (${dtypeName(a.dataType)})`).join('\n');
}
