// The typed registry of op lowerings, keyed by (domain, op, since-opset).
// Each op family registers its type inference, optional constant folding and
// MLIR lowering; a node is compiled only when all three agree.
import type { DataType, OnnxTensor } from '../onnx/model.js';
import type { TensorType } from '../ir/types.js';
import type { NodeContext } from './node-context.js';
import type { LowerContext } from './lower-context.js';

export class ImportError extends Error {
  override name = 'ImportError';
}

/** A node the compiler declines; it runs on the fallback EP instead. */
export class UnsupportedError extends ImportError {
  override name = 'UnsupportedError';
}

/**
 * Declined only because input `input` (shapes, axes, pads, counts...) is not
 * a compile-time constant: the node can still be compiled once its value is
 * known, by specialising on it at run time (passes/defer-dynamic-nodes.ts).
 */
export class NeedsValueError extends UnsupportedError {
  override name = 'NeedsValueError';

  constructor(message: string, readonly input: number) {
    super(message);
  }
}

/**
 * One output of an op whose output SIZE depends on input data (NonZero,
 * Compress, Unique, NonMaxSuppression): its largest static type, and the axis
 * the runtime cuts down to the count the compiled code computes (null: the
 * output's size does not depend on data).
 */
export interface BoundedOutput {
  type: { dataType: DataType; shape: number[] };
  trimAxis: number | null;
}

export interface OpDef {
  readonly domain: string;
  readonly op: string;
  /** First opset version whose semantics this definition implements. */
  readonly since: number;
  /** Output types from input types and attributes; throws UnsupportedError to decline. */
  infer(ctx: NodeContext): TensorType[];
  /** Evaluates the node on constant inputs (small tensors only); null = not foldable. */
  fold?(ctx: NodeContext, inputs: readonly (OnnxTensor | null)[]): OnnxTensor[] | null;
  /**
   * fold() reads only input types (Shape, Size): it is tried even when inputs
   * are not constant, receiving null for them.
   */
  readonly foldsOnTypes?: boolean;
  /**
   * For ops whose output size depends on input data: each output at its
   * largest size and which axis is trimmed at run time (see BoundedOutput);
   * null when infer() knows the exact types (e.g. a constant condition).
   * Such a node's lower() returns its outputs at those largest types followed
   * by the count (a `tensor<i64>`) the trimmed axes are cut to.
   */
  bounded?(ctx: NodeContext): BoundedOutput[] | null;
  /** Emits MLIR for the node; returns one SSA tensor per output. */
  lower?(ctx: LowerContext): string[];
}

const registry = new Map<string, OpDef[]>();

function key(domain: string, op: string): string {
  return `${domain}::${op}`;
}

export function registerOp(def: OpDef): void {
  const k = key(def.domain, def.op);
  const list = registry.get(k) ?? [];
  if (list.some((d) => d.since === def.since)) {
    throw new ImportError(`op ${def.domain || 'ai.onnx'}.${def.op} since opset ${def.since} is registered twice`);
  }
  list.push(def);
  list.sort((a, b) => b.since - a.since);
  registry.set(k, list);
}

/** Registers one definition for several ops that share it (e.g. unary math). */
export function registerOps(ops: readonly string[], make: (op: string) => Omit<OpDef, 'op'>): void {
  for (const op of ops) registerOp({ ...make(op), op });
}

/** The definition in force for `opset`: the newest whose `since` is not after it. */
export function lookupOp(domain: string, op: string, opset: number): OpDef | null {
  const list = registry.get(key(domain, op));
  return list?.find((d) => d.since <= opset) ?? null;
}

export function registeredOps(): string[] {
  return [...registry.keys()].sort();
}
