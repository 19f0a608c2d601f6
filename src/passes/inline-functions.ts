// Inlines calls of model-local functions (ModelProto.functions, IR >= 8):
// each call node is replaced by its function's body, so that the body's nodes
// are folded, inferred, partitioned and compiled like any other instead of the
// call running as one opaque node on the CPU EP. The rules follow ONNX's own
// inliner:
//  - every value the body defines (its nodes' outputs, and the inputs,
//    initializers and node outputs of subgraphs inside it) gets a fresh name
//    unique in the whole model, subgraphs included;
//  - formal inputs are bound to the call's actual inputs ('' when omitted);
//    formal outputs to its actual outputs, an omitted one to a fresh name of its
//    own (the body may still read it, or produce it from a required slot);
//  - an attribute reference (ref_attr_name) takes the call's attribute, else
//    the function's default, else the attribute is left out (the op's default);
//  - calls in the body, and calls inside If/Loop/Scan bodies anywhere, are
//    expanded too; a function reached again from its own body is an error.
// A function is not inlined (its calls stay, and run on the CPU EP) when a
// lowering exists for it as an op at the model's opset, or when it imports a
// version of an operator set that differs from the one in force: its body would
// be read under the wrong version.
// ONNX's own function ops (schemas defined by a body, the *_expanded tests)
// could go through the same expansion, but their bodies are not available here
// as data (they live in onnx's C++ schema code, some built per input types).
import type { OnnxAttribute, OnnxFunction, OnnxGraph, OnnxModel, OnnxNode, OnnxValueInfo } from '../onnx/model.js';
import { isMsg, str } from '../onnx/proto.js';
import { lookupOp } from '../import/registry.js';

/** A model whose functions cannot be inlined as written (recursion, arity). */
export class FunctionInlineError extends Error {
  override name = 'FunctionInlineError';
}

/** 'domain.name' (with ':overload' since IR 10), as calls and messages name a function. */
function functionId(domain: string, name: string, overload: string): string {
  return `${domain || 'ai.onnx'}.${name}${overload ? `:${overload}` : ''}`;
}

function overloadOf(raw: unknown): string {
  return isMsg(raw) ? str(raw, 'overload') : '';
}

const calleeId = (n: OnnxNode): string => functionId(n.domain, n.opType, overloadOf(n.raw));

/** Why a call was left in place; read by shape inference for its fallback reason. */
const notInlined = new WeakMap<OnnxNode, string>();

export function notInlinedReason(node: OnnxNode): string | undefined {
  return notInlined.get(node);
}

/** Every value name of the model, and fresh ones that avoid them. */
class Names {
  private readonly taken = new Set<string>();
  private readonly next = new Map<string, number>();

  addGraph(g: OnnxGraph): void {
    for (const vi of [...g.inputs, ...g.outputs, ...g.valueInfo]) this.taken.add(vi.name);
    for (const t of g.initializers) this.taken.add(t.name);
    for (const n of g.nodes) {
      for (const name of [...n.inputs, ...n.outputs]) this.taken.add(name);
      for (const sub of subgraphsOf(n.attributes)) this.addGraph(sub);
    }
  }

  fresh(base: string): string {
    let i = this.next.get(base) ?? 0;
    let name = `${base}__${i++}`;
    while (this.taken.has(name)) name = `${base}__${i++}`;
    this.next.set(base, i);
    this.taken.add(name);
    return name;
  }
}

function subgraphsOf(attributes: ReadonlyMap<string, OnnxAttribute>): OnnxGraph[] {
  return [...attributes.values()].flatMap((a) => (a.kind === 'graph' ? [a.value] : a.kind === 'graphs' ? a.value : []));
}

/** One call being expanded: its name bindings (one map per subgraph level) and attribute values. */
interface Body {
  readonly attr: (name: string) => OnnxAttribute | undefined;
  readonly scopes: Map<string, string>[];
  /** Formal output → actual name, consumed when the body defines it. */
  readonly outputs: Map<string, string>;
  /** Actual outputs some body node defines. */
  readonly defined: Set<string>;
  /** Ids of the functions being expanded, outermost first. */
  readonly stack: readonly string[];
  readonly prefix: string;
}

class Inliner {
  constructor(
    private readonly functions: ReadonlyMap<string, OnnxFunction>,
    private readonly names: Names,
    /** The model's operator sets, plus those of the functions inlined so far. */
    readonly opsets: Map<string, number>,
  ) {}

  /** `g` with its calls expanded (and, inside a body, renamed); `g` itself when nothing changed. */
  graph(g: OnnxGraph, body: Body | null): OnnxGraph {
    if (!body) {
      const nodes = g.nodes.flatMap((n) => this.node(n, null));
      const same = nodes.length === g.nodes.length && nodes.every((n, i) => n === g.nodes[i]);
      return same ? g : { ...g, nodes };
    }
    body.scopes.push(new Map());
    try {
      const rename = (vi: OnnxValueInfo): OnnxValueInfo => ({ ...vi, name: this.define(body, vi.name) });
      const inputs = g.inputs.map(rename);
      const initializers = g.initializers.map((t) => ({ ...t, name: this.define(body, t.name) }));
      const nodes = g.nodes.flatMap((n) => this.node(n, body));
      const look = (vi: OnnxValueInfo): OnnxValueInfo => ({ ...vi, name: lookup(body, vi.name) });
      return { ...g, inputs, initializers, nodes, outputs: g.outputs.map(look), valueInfo: g.valueInfo.map(look) };
    } finally {
      body.scopes.pop();
    }
  }

  private node(n: OnnxNode, body: Body | null): OnnxNode[] {
    const id = calleeId(n);
    const node = body ? this.rewrite(n, body) : this.withSubgraphs(n);
    const fn = this.functions.get(id);
    return fn ? this.expand(node, fn, id, body?.stack ?? []) : [node];
  }

  /** A node outside any body: unchanged unless a subgraph of it held a call. */
  private withSubgraphs(n: OnnxNode): OnnxNode {
    let changed = false;
    const attributes = new Map<string, OnnxAttribute>();
    for (const [key, a] of n.attributes) {
      const b = this.subgraphAttribute(a, null);
      changed ||= b !== a;
      attributes.set(key, b);
    }
    // Attributes are re-encoded from `attributes` only for nodes without a raw message.
    return changed ? { ...n, attributes, raw: undefined } : n;
  }

  private subgraphAttribute(a: OnnxAttribute, body: Body | null): OnnxAttribute {
    if (a.kind === 'graph') {
      const g = this.graph(a.value, body);
      return g === a.value ? a : { kind: 'graph', value: g };
    }
    if (a.kind === 'graphs') {
      const gs = a.value.map((g) => this.graph(g, body));
      return gs.every((g, i) => g === a.value[i]) ? a : { kind: 'graphs', value: gs };
    }
    return a;
  }

  /** A body node with its values renamed, its attribute references resolved and its subgraphs rewritten. */
  private rewrite(n: OnnxNode, body: Body): OnnxNode {
    const inputs = n.inputs.map((x) => lookup(body, x));
    const attributes = new Map<string, OnnxAttribute>();
    for (const [key, a] of n.attributes) {
      const value = a.kind === 'ref' ? this.referenced(a.refAttrName, body) : this.subgraphAttribute(a, body);
      if (value) attributes.set(key, value);
    }
    const outputs = n.outputs.map((x) => this.define(body, x));
    const name = `${body.prefix}/${n.name || n.opType}`;
    return { name, opType: n.opType, domain: n.domain, inputs, outputs, attributes, raw: undefined };
  }

  /** The value of a referenced attribute; a graph gets fresh names, as it may be placed more than once. */
  private referenced(name: string, body: Body): OnnxAttribute | undefined {
    const a = body.attr(name);
    if (!a || (a.kind !== 'graph' && a.kind !== 'graphs')) return a;
    // Its free names are the call site's, already final: only what it defines is renamed.
    const copy: Body = { ...body, scopes: [], outputs: new Map(), defined: new Set() };
    return this.subgraphAttribute(a, copy);
  }

  private define(body: Body, name: string): string {
    if (name === '') return name;
    const top = body.scopes.length === 1;
    const actual = top ? body.outputs.get(name) : undefined;
    if (actual !== undefined) body.outputs.delete(name);
    const fresh = actual || this.names.fresh(name);
    if (actual) body.defined.add(actual);
    body.scopes[body.scopes.length - 1].set(name, fresh);
    return fresh;
  }

  private expand(call: OnnxNode, fn: OnnxFunction, id: string, stack: readonly string[]): OnnxNode[] {
    const what = `call ${call.name ? `'${call.name}' ` : ''}of function ${id}`;
    if (stack.includes(id)) {
      throw new FunctionInlineError(`${what}: the function calls itself (${[...stack, id].join(' -> ')}); recursive functions cannot be inlined`);
    }
    if (call.inputs.length > fn.inputs.length || call.outputs.length > fn.outputs.length) {
      throw new FunctionInlineError(`${what}: ${call.inputs.length} inputs and ${call.outputs.length} outputs, the function declares ${fn.inputs.length} and ${fn.outputs.length}`);
    }
    const conflict = this.opsetConflict(fn, id);
    if (conflict) {
      notInlined.set(call, conflict);
      return [call];
    }
    for (const [domain, version] of fn.opsetImports) this.opsets.set(domain, version);
    const outputs = new Map<string, string>();
    fn.outputs.forEach((f, i) => outputs.set(f, outputs.get(f) ?? call.outputs[i] ?? ''));
    const body: Body = {
      attr: (name) => call.attributes.get(name) ?? fn.attributeDefaults.get(name),
      scopes: [new Map(fn.inputs.map((f, i) => [f, call.inputs[i] ?? '']))],
      outputs,
      defined: new Set(),
      stack: [...stack, id],
      prefix: call.name || fn.name,
    };
    const nodes = fn.nodes.flatMap((n) => this.node(n, body));
    return [...nodes, ...passThroughs(call, fn, body, what)];
  }

  /** Why `fn` cannot be inlined under the operator sets in force, or null. */
  private opsetConflict(fn: OnnxFunction, id: string): string | null {
    for (const [domain, version] of fn.opsetImports) {
      const inForce = this.opsets.get(domain);
      if (inForce !== undefined && inForce !== version) {
        return `function ${id} imports ${domain || 'ai.onnx'} opset ${version} but opset ${inForce} is in force here; its body is not inlined`;
      }
    }
    return null;
  }
}

function lookup(body: Body, name: string): string {
  if (name === '') return name;
  for (let i = body.scopes.length - 1; i >= 0; i--) {
    const to = body.scopes[i].get(name);
    if (to !== undefined) return to;
  }
  return name;
}

/**
 * Identity nodes for actual outputs no body node defines: a formal output
 * that is a formal input, or one value returned under several formals.
 */
function passThroughs(call: OnnxNode, fn: OnnxFunction, body: Body, what: string): OnnxNode[] {
  const out: OnnxNode[] = [];
  fn.outputs.forEach((formal, i) => {
    const actual = call.outputs[i];
    if (!actual || body.defined.has(actual)) return;
    const source = lookup(body, formal);
    const known = body.scopes[0].has(formal) && source !== '';
    if (!known) throw new FunctionInlineError(`${what}: output '${formal}' is neither computed by the body nor a given input`);
    out.push({
      name: `${body.prefix}/${formal}`, opType: 'Identity', domain: '', inputs: [source], outputs: [actual],
      attributes: new Map(), raw: undefined,
    });
  });
  return out;
}

const inlinedModels = new WeakMap<OnnxModel, OnnxModel>();

/**
 * The model with its function calls inlined (the model itself when there is
 * nothing to inline). Deterministic and memoised per model: subgraph keys
 * computed on the result must resolve again when a body is compiled later.
 */
export function inlineFunctions(model: OnnxModel): OnnxModel {
  let out = inlinedModels.get(model);
  if (!out) {
    out = inlineModel(model);
    inlinedModels.set(model, out);
  }
  return out;
}

function inlineModel(model: OnnxModel): OnnxModel {
  const functions = new Map<string, OnnxFunction>();
  for (const f of model.functions) {
    // A function that is also an op we lower stays a call: the lowering is the better code.
    if (lookupOp(f.domain, f.name, model.opsetImports.get(f.domain) ?? 0)?.lower) continue;
    functions.set(functionId(f.domain, f.name, overloadOf(f.raw)), f);
  }
  if (!functions.size) return model;
  const names = new Names();
  names.addGraph(model.graph);
  const inliner = new Inliner(functions, names, new Map(model.opsetImports));
  const graph = inliner.graph(model.graph, null);
  return graph === model.graph ? model : { ...model, graph, opsetImports: inliner.opsets };
}
