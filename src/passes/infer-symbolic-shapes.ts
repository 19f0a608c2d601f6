// Symbolic shape inference (the analog of onnxruntime's symbolic_shape_infer):
// dimensions are SymExpr expressions over the model's dim_params and over
// fresh data-dependent symbols (NonZero counts, Loop trip counts, If branches
// of different sizes), merged across ops by a unifier. The compiler uses it
// where concrete inference stops — values whose size is only known at run
// time — to keep ranks, dtypes and dimension relations, so that downstream
// nodes are deferred (compiled per concrete shape at run time) rather than
// sent to the CPU EP; and standalone, on declared input shapes, to tell which
// output dims depend on which input symbols and which are data-dependent.
import { DataType, elementCount, type OnnxType } from '../onnx/model.js';
import type { Graph, IrNode, Value } from '../ir/graph.js';
import { DimUnifier, SymExpr, SymbolicError, type SymShape } from '../ir/symbolic.js';
import type { Dim, TensorType } from '../ir/types.js';
import { NodeContext } from '../import/node-context.js';
import { ImportError, type BoundedOutput } from '../import/registry.js';
import { canHoldNumbers, tensorToNumbers } from '../import/tensor-data.js';
import { buildBodyGraph } from './build-body-graph.js';
import { symbolicRule, type RuleContext, type SymTensor } from './symbolic-op-rules.js';

export type { SymTensor };

/** Integer tensors up to this many elements have their contents tracked symbolically. */
const MAX_TRACKED_ELEMENTS = 64;

/** State shared by a graph and its subgraphs: symbols, their equalities, and printed names. */
class SymbolScope {
  readonly unifier = new DimUnifier();
  /** Symbols standing for sizes only known at run time. */
  readonly dataDependent = new Set<string>();
  /** Printed dims (in TensorType strings) back to their expressions. */
  readonly printed = new Map<string, SymExpr>();
  private counter = 0;

  fresh(hint: string): SymExpr {
    const name = `${hint}#${++this.counter}`;
    this.dataDependent.add(name);
    return SymExpr.symbol(name);
  }
}

function trackedValue(v: Value): SymExpr[] | undefined {
  const t = v.constant;
  if (!t || elementCount(t.dims) > MAX_TRACKED_ELEMENTS || t.dims.length > 1) return undefined;
  if (![DataType.INT64, DataType.INT32].includes(t.dataType) || !canHoldNumbers(t.dataType)) return undefined;
  return tensorToNumbers(t).map((n) => SymExpr.constant(n));
}

export class SymbolicShapes {
  private readonly tensors = new Map<Value, SymTensor>();

  constructor(readonly graph: Graph, private readonly scope: SymbolScope = new SymbolScope()) {}

  get unifier(): DimUnifier {
    return this.scope.unifier;
  }

  /** Symbols introduced for run-time sizes (not derived from input dims). */
  get dataDependent(): ReadonlySet<string> {
    return this.scope.dataDependent;
  }

  /** The expression a dim of a TensorType stands for. */
  dim(d: Dim): SymExpr {
    return typeof d === 'number' ? SymExpr.constant(d) : this.scope.printed.get(d) ?? SymExpr.symbol(d);
  }

  seed(v: Value, t: SymTensor): void {
    this.tensors.set(v, t);
  }

  /** What is known of `v`: inferred here, else from its compile-time type and contents. */
  tensorOf(v: Value): SymTensor | null {
    const known = this.tensors.get(v);
    if (known) return { ...known, shape: known.shape?.map((d) => this.unifier.resolve(d)) ?? null, value: known.value?.map((d) => this.unifier.resolve(d)) };
    if (!v.type) return null;
    return { dataType: v.type.dataType, shape: v.type.shape.map((d) => this.unifier.resolve(this.dim(d))), value: trackedValue(v) };
  }

  /** Infers one node's outputs symbolically and records them. */
  inferNode(node: IrNode): (SymTensor | null)[] {
    const outs = this.apply(node);
    node.outputs.forEach((v, i) => {
      const t = outs[i];
      if (v && t) this.tensors.set(v, t);
    });
    return outs;
  }

  /**
   * Types of a node compiled at its largest output size (registry.ts
   * BoundedOutput): the trimmed axes share one fresh run-time count.
   */
  inferBounded(node: IrNode, bounds: readonly BoundedOutput[]): (TensorType | null)[] {
    const count = this.scope.fresh(node.op.toLowerCase());
    return node.outputs.map((v, i) => {
      const o = bounds[i];
      if (!v || !o) return null;
      const t: SymTensor = { dataType: o.type.dataType, shape: o.type.shape.map((d, k) => (k === o.trimAxis ? count : SymExpr.constant(d))) };
      this.tensors.set(v, t);
      return this.toType(t);
    });
  }

  private apply(node: IrNode): (SymTensor | null)[] {
    if (node.domain === '' && (node.op === 'If' || node.op === 'Loop' || node.op === 'Scan')) return this.controlFlow(node);
    const rule = symbolicRule(node);
    if (!rule) return node.outputs.map(() => null);
    try {
      // A rule fed an invalid node (a perm out of range, say) may build holes; such an output is simply unknown.
      return rule(this.ruleContext(node)).map((t) => (t && t.shape?.some((d) => d === undefined) ? null : t));
    } catch (e) {
      if (e instanceof ImportError || e instanceof SymbolicError) return node.outputs.map(() => null);
      throw e;
    }
  }

  private ruleContext(node: IrNode): RuleContext {
    const inputs = node.inputs.map((v) => (v ? this.tensorOf(v) : null));
    return {
      node,
      attrs: new NodeContext(node, this.graph.opsetOf(node.domain)),
      input: (i) => inputs[i] ?? null,
      values: (i) => inputs[i]?.value ?? null,
      fresh: (hint) => this.scope.fresh(hint),
      unify: (a, b) => {
        this.unifier.unify(a, b, node.name || node.op);
      },
    };
  }

  /** The type a SymTensor prints as: constant dims as numbers, others as their canonical text. */
  toType(t: SymTensor | null): TensorType | null {
    if (!t || t.dataType === null || !t.shape) return null;
    const shape = t.shape.map((d) => {
      const r = this.unifier.resolve(d);
      if (r.value !== null) return r.value;
      this.scope.printed.set(r.key, r);
      return r.key;
    });
    return { dataType: t.dataType, shape };
  }

  /** The symbolic shape of `v` after inference, resolved. */
  shapeOf(v: Value): SymShape | null {
    return this.tensorOf(v)?.shape ?? null;
  }

  // ---- control flow ----

  private child(body: Graph): SymbolicShapes {
    return new SymbolicShapes(body, this.scope);
  }

  private inferBody(node: IrNode, attr: string, formals: (SymTensor | null)[]): (SymTensor | null)[] | null {
    const a = node.attributes.get(attr);
    if (!a || a.kind !== 'graph') return null;
    let body;
    try {
      body = buildBodyGraph(a.value, this.graph);
    } catch {
      return null;
    }
    const child = this.child(body.graph);
    body.formals.forEach((v, i) => {
      const t = formals[i];
      if (t) child.seed(v, t);
    });
    body.graph.inputs.slice(body.formals.length).forEach((v, i) => {
      const t = this.tensorOf(body.runtimeCaptures[i]);
      if (t) child.seed(v, t);
    });
    for (const n of body.graph.nodes) child.inferNode(n);
    return body.graph.outputs.map((v) => child.tensorOf(v));
  }

  private controlFlow(node: IrNode): (SymTensor | null)[] {
    const ins = node.inputs.map((v) => (v ? this.tensorOf(v) : null));
    if (node.op === 'If') {
      const [t, e] = ['then_branch', 'else_branch'].map((attr) => this.inferBody(node, attr, []));
      return node.outputs.map((_, i) => this.mergeBranches(t?.[i] ?? null, e?.[i] ?? null));
    }
    if (node.op === 'Loop') {
      const carried = ins.slice(2);
      const outs = this.inferBody(node, 'body', [{ dataType: DataType.INT64, shape: [] }, { dataType: DataType.BOOL, shape: [] }, ...carried]);
      const m = ins[0]?.value?.[0];
      const trips = m && !node.inputs[1] ? m : this.scope.fresh('loop');
      const finals = carried.map((c, i) => this.mergeBranches(c, outs?.[1 + i] ?? null));
      const scans = (outs ?? []).slice(1 + carried.length).map((t) => (t?.shape ? { dataType: t.dataType, shape: [trips, ...t.shape] } : null));
      return [...finals, ...scans];
    }
    return node.outputs.map(() => null);
  }

  /** One value that is `a` or `b` depending on run-time data: equal dims stay, others become data-dependent. */
  private mergeBranches(a: SymTensor | null, b: SymTensor | null): SymTensor | null {
    if (!a || !b) return a ?? b;
    if (!a.shape || !b.shape || a.shape.length !== b.shape.length) return { dataType: a.dataType ?? b.dataType, shape: null };
    const bs = b.shape;
    return { dataType: a.dataType ?? b.dataType, shape: a.shape.map((d, i) => (this.unifier.resolve(d).equals(this.unifier.resolve(bs[i])) ? d : this.scope.fresh('branch'))) };
  }
}

/** A symbolic tensor from a declared ONNX type: dim_params are symbols, unknown dims fresh ones. */
function fromDeclared(t: OnnxType, scope: SymbolicShapes, fresh: (hint: string) => SymExpr): SymTensor | null {
  if (t.kind !== 'tensor') return null;
  return { dataType: t.elemType, shape: t.shape?.map((d, i) => (d === null ? fresh(`unk${i}`) : scope.dim(d))) ?? null };
}

/**
 * Runs symbolic inference over a whole graph whose inputs have their declared
 * types (or `inputs` when given): the result maps every value to a symbolic shape.
 */
export function inferSymbolicShapes(graph: Graph, inputs?: ReadonlyMap<string, TensorType>): SymbolicShapes {
  const scope = new SymbolScope();
  const shapes = new SymbolicShapes(graph, scope);
  const declared = new Map(graph.onnx.inputs.map((vi) => [vi.name, vi.type]));
  for (const v of graph.inputs) {
    const given = inputs?.get(v.name);
    const d = declared.get(v.name);
    const t = given ? { dataType: given.dataType, shape: given.shape.map((x) => shapes.dim(x)) } : d ? fromDeclared(d, shapes, (h) => scope.fresh(h)) : null;
    if (t) shapes.seed(v, t);
  }
  for (const node of graph.nodes) shapes.inferNode(node);
  return shapes;
}
