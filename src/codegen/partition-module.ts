// Emits the MLIR module for one native partition: a single public function on
// tensors whose arguments are the partition's runtime inputs followed by its
// weights, returning its outputs. Bufferization later turns results into
// trailing out-params (bare pointers), which is the ABI the runtime calls.
import { DataType, elementCount, type OnnxTensor } from '../onnx/model.js';
import { nodeLabel, type Graph, type Value } from '../ir/graph.js';
import { dtypeName, isStatic, subByteBits, type TensorType } from '../ir/types.js';
import { LowerContext } from '../import/lower-context.js';
import { ImportError } from '../import/registry.js';
import type { NodeStatus } from '../passes/infer-shapes.js';
import type { Partition } from '../passes/partition-graph.js';
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

/** Small folded constants are embedded; so is any empty tensor (a zero-size argument breaks the LLVM lowering). */
function isEmbedded(v: Value): boolean {
  if (v.constant === null) return false;
  const n = elementCount(v.constant.dims);
  return n === 0 || (!v.isInitializer && n <= MAX_EMBEDDED_ELEMENTS);
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

export function emitPartitionModule(graph: Graph, p: Partition, status: ReadonlyMap<unknown, NodeStatus>, symbol: string): PartitionModule {
  const b = new FuncBuilder();
  const ssa = new Map<Value, string>();
  const weightValues = p.constants.filter((v) => !isEmbedded(v));
  const args = [...p.inputs.map((v) => argSpec('input', v)), ...weightValues.map((v) => argSpec('weight', v))];
  const params = [...p.inputs, ...weightValues].map((v, i) => {
    ssa.set(v, `%arg${i}`);
    return `%arg${i}: ${boundaryType(v)} {bufferization.writable = false}`;
  });
  // Packed sub-byte arguments are unpacked once, on entry (see codegen/int4.ts).
  for (const v of [...p.inputs, ...weightValues]) {
    const t = argType(v);
    const arg = ssa.get(v);
    if (arg && subByteBits(t.dataType) !== null && isStatic(t.shape)) ssa.set(v, unpackArgument(b, arg, t.dataType, t.shape));
  }
  const resolve = (v: Value): string => {
    const known = ssa.get(v);
    if (known) return known;
    if (v.constant && v.type) {
      const name = materialize(b, v.constant, v.type);
      ssa.set(v, name);
      return name;
    }
    throw new CodegenError(`value '${v.name}' is used before it is defined in partition ${p.index}`);
  };
  for (const node of p.nodes) {
    const s = status.get(node);
    if (!s || s.kind !== 'compiled' || !s.def.lower) throw new CodegenError(`${nodeLabel(node)} is not compilable`);
    const ctx = new LowerContext(node, graph.opsetOf(node.domain), b, resolve);
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
  }
  const outs = p.outputs.map((v) => argSpec('output', v));
  const retTypes = p.outputs.map(boundaryType);
  const results = p.outputs.map((v) => {
    const t = argType(v);
    return subByteBits(t.dataType) !== null && isStatic(t.shape) ? packResult(b, resolve(v), t.dataType, t.shape) : resolve(v);
  });
  const foldable = constantDerived(p);
  const opaque = results.map((r, i) => (foldable.has(p.outputs[i]) ? copied(b, r, retTypes[i]) : r));
  b.emit(`return ${distinctResults(b, opaque, retTypes).join(', ')} : ${retTypes.join(', ')}`);
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
    weights: weightValues.map((v) => v.constant).filter((t): t is OnnxTensor => t !== null),
  };
}

/** MLIR type of `v` as a function argument or result: sub-byte types stay packed there. */
function boundaryType(v: Value): string {
  const t = argType(v);
  return isStatic(t.shape) ? boundaryTensorType(t.dataType, t.shape) : tensorType(t);
}

/**
 * Values of the partition computed from embedded constants alone: mlir-opt
 * folds them to constants and CSE may then merge two such results into one
 * SSA value (which crashes buffer-results-to-out-params, as below).
 */
function constantDerived(p: Partition): Set<Value> {
  const runtime = new Set<Value>(p.inputs);
  for (const v of p.constants) if (!isEmbedded(v)) runtime.add(v);
  const out = new Set<Value>();
  for (const node of p.nodes) {
    const dynamic = [...node.inputs, ...node.captures].some((v) => v !== null && runtime.has(v));
    for (const v of node.outputs) if (v) (dynamic ? runtime : out).add(v);
  }
  return out;
}

/** A copy canonicalization cannot fold away (a linalg.copy into tensor.empty folds). */
function copied(b: FuncBuilder, r: string, t: string): string {
  return b.op(`bufferization.alloc_tensor() copy(${r}) : ${t}`, 'cp');
}

/**
 * One SSA value returned twice (y and Identity(y) both live out) crashes
 * buffer-results-to-out-params: repeats are returned through a copy.
 */
function distinctResults(b: FuncBuilder, results: readonly string[], types: readonly string[]): string[] {
  const seen = new Set<string>();
  return results.map((r, i) => {
    if (!seen.has(r)) {
      seen.add(r);
      return r;
    }
    return copied(b, r, types[i]);
  });
}

function argType(v: Value): TensorType {
  if (!v.type) throw new CodegenError(`value '${v.name}' has unknown type`);
  return v.type;
}

export function describeArgs(args: readonly ArgSpec[]): string {
  return args.map((a) => `${a.role} ${a.name}: ${tensorTypeOf(a.dataType, a.dims)} (${dtypeName(a.dataType)})`).join('\n');
}
