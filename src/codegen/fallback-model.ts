// Cuts a fallback partition out of the model as a standalone ONNX model for
// onnxruntime-node: its nodes re-encoded as they were, its runtime inputs as
// graph inputs, the constants it reads as initializers.
import type { OnnxModel, OnnxTensor, OnnxType, OnnxValueInfo } from '../onnx/model.js';
import { encodeModel } from '../onnx/encode.js';
import type { Value } from '../ir/graph.js';
import type { Partition } from '../passes/partition-graph.js';
import { CodegenError } from './mlir-builder.js';

function valueInfo(v: Value, declared: ReadonlyMap<string, OnnxType>, requireType: boolean): OnnxValueInfo {
  if (v.type) return { name: v.name, type: { kind: 'tensor', elemType: v.type.dataType, shape: [...v.type.shape] } };
  const d = declared.get(v.name);
  if (d) return { name: v.name, type: d };
  if (requireType) throw new CodegenError(`fallback partition input '${v.name}' has no known type`);
  return { name: v.name, type: { kind: 'unknown' } };
}

function declaredTypes(model: OnnxModel): Map<string, OnnxType> {
  const g = model.graph;
  return new Map([...g.inputs, ...g.outputs, ...g.valueInfo].map((vi) => [vi.name, vi.type]));
}

/**
 * `untypedInputs`: inputs whose type is unknown at compile time are declared
 * without one. Only for deferred segments, whose model is compiled for the
 * concrete input types met at run time (compile-subgraph.ts stamps them on).
 */
export function cutFallbackModel(model: OnnxModel, p: Partition, untypedInputs = false): Uint8Array {
  const declared = declaredTypes(model);
  const initializers: OnnxTensor[] = p.constants.map((v) => {
    if (!v.constant) throw new CodegenError(`constant '${v.name}' has no data`);
    return { ...v.constant, name: v.name };
  });
  return encodeModel({
    irVersion: model.irVersion,
    opsetImports: model.opsetImports,
    functions: model.functions,
    graph: {
      name: `fallback_${p.index}`,
      nodes: p.nodes.map((n) => n.source),
      inputs: p.inputs.map((v) => valueInfo(v, declared, !untypedInputs)),
      outputs: p.outputs.map((v) => valueInfo(v, declared, false)),
      initializers,
    },
  });
}
