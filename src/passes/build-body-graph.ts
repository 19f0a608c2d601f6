// Builds the IR of a control-flow body (If branch, Loop/Scan body) as a graph
// of its own: the body's declared inputs (the "formals") come first, then every
// outer-scope value it reads at run time becomes an extra input (a "capture"),
// while outer-scope compile-time constants stay constants inside the body so
// that folding and weight handling work across the boundary.
import type { OnnxGraph } from '../onnx/model.js';
import { buildGraph, type Graph, type Value } from '../ir/graph.js';
import { IrError } from '../ir/types.js';

export interface BodyGraph {
  graph: Graph;
  /** The body's declared inputs, in order. */
  formals: Value[];
  /** Outer values read at run time; their body-side values follow the formals in graph.inputs. */
  runtimeCaptures: Value[];
  /** Outer compile-time constants the body reads. */
  constantCaptures: Value[];
}

/** Values of `g` defined nowhere in it: references to enclosing scopes. */
function freeValues(g: Graph): Value[] {
  const formals = new Set(g.inputs);
  const used = new Set<Value>([...g.outputs, ...g.nodes.flatMap((n) => [...n.inputs, ...n.captures])].filter((v): v is Value => v !== null));
  return [...used].filter((v) => !v.producer && !v.isInitializer && !formals.has(v));
}

export function buildBodyGraph(body: OnnxGraph, outer: Graph): BodyGraph {
  const graph = buildGraph(body, outer.opsets);
  const formals = [...graph.inputs];
  const runtimeCaptures: Value[] = [];
  const constantCaptures: Value[] = [];
  for (const v of freeValues(graph)) {
    const o = outer.values.get(v.name);
    if (!o) throw new IrError(`subgraph '${body.name}' reads '${v.name}', which no enclosing scope defines`);
    if (o.constant) {
      v.constant = o.constant;
      v.isInitializer = o.isInitializer;
      v.type = o.type;
      constantCaptures.push(o);
    } else {
      graph.inputs.push(v);
      runtimeCaptures.push(o);
    }
  }
  return { graph, formals, runtimeCaptures, constantCaptures };
}
