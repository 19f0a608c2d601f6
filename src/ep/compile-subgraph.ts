// On-demand compilation of a control-flow body for an input signature the
// module was not specialised for: the body is cut out of the root model as a
// standalone model (formals and runtime captures as inputs, compile-time
// captures as initializers) and compiled like any model. The EP layer hands
// this to the executor as its compile hook; runtime-only sessions have none.
// A deferred segment carries its own model; the inputs it is specialised on
// by value become initializers of it, so that folding and inference see them
// as constants.
import { encodeModel } from '../onnx/encode.js';
import { decodeModel } from '../onnx/decode.js';
import type { OnnxModel, OnnxTensor, OnnxValueInfo } from '../onnx/model.js';
import { tensorType } from '../onnx/builder.js';
import { resolveSubgraph } from '../ir/subgraph-key.js';
import { inlineFunctions } from '../passes/inline-functions.js';
import type { CompiledModule, TensorSignature } from '../module/format.js';
import type { BodyCompileRequest } from '../runtime/executor.js';
import type { HostTensor } from '../runtime/host-tensor.js';
import { compileModel } from './compile.js';
import { EpError } from './errors.js';
import type { ResolvedOptions } from './options.js';

export function subgraphModel(model: OnnxModel, req: BodyCompileRequest): OnnxModel {
  // Body keys were computed on the model with its functions inlined (see compileModel).
  const root = inlineFunctions(model);
  const body = resolveSubgraph(root.graph, req.body.key);
  const constants: OnnxTensor[] = [...req.constants].map(([name, t]) => ({ name, dataType: t.dataType, dims: [...t.dims], data: t.data }));
  return {
    ...root,
    graph: {
      ...body,
      inputs: req.inputs.map((s) => ({ name: s.name, type: { kind: 'tensor', elemType: s.dataType, shape: [...s.dims] } })),
      initializers: [...body.initializers, ...constants],
    },
  };
}

function asInitializer(name: string, t: HostTensor): OnnxTensor {
  return { name, dataType: t.dataType, dims: [...t.dims], data: t.data };
}

/**
 * The segment model with its graph inputs typed as met at run time (an input
 * made by an earlier deferred segment has no type at compile time), so that
 * it stays loadable by the CPU EP should it fall back whole.
 */
function withInputTypes(model: OnnxModel, inputs: readonly TensorSignature[]): OnnxModel {
  const signatures = new Map(inputs.map((s) => [s.name, s]));
  const needsType = (vi: OnnxValueInfo) => vi.type.kind !== 'tensor' && signatures.has(vi.name);
  if (!model.graph.inputs.some(needsType)) return model;
  const typed = model.graph.inputs.map((vi): OnnxValueInfo => {
    const s = signatures.get(vi.name);
    return s && needsType(vi) ? { name: vi.name, type: tensorType(s.dataType, s.dims.map((d) => (typeof d === 'number' ? d : null))) } : vi;
  });
  return { ...model, graph: { ...model.graph, inputs: typed } };
}

/** The model with `values` moved from its graph inputs to its initializers. */
function withValues(model: OnnxModel, values: ReadonlyMap<string, HostTensor>): OnnxModel {
  if (!values.size) return model;
  const g = model.graph;
  return {
    ...model,
    graph: {
      ...g,
      inputs: g.inputs.filter((vi) => !values.has(vi.name)),
      initializers: [...g.initializers, ...[...values].map(([name, t]) => asInitializer(name, t))],
    },
  };
}

export async function compileSubgraph(root: OnnxModel, req: BodyCompileRequest, options: ResolvedOptions): Promise<CompiledModule> {
  // A deferred segment carries its own standalone model; a body is found in the root by its key.
  const segment = req.model ? decodeModel(req.model) : null;
  const typed = segment ? withInputTypes(segment, req.inputs) : null;
  const model = typed ? withValues(typed, req.values) : subgraphModel(root, req);
  // The segment's own bytes serve only while nothing was changed in it.
  const unchanged = segment !== null && typed === segment && !req.values.size;
  const inputTypes = new Map(req.inputs.filter((s) => !req.values.has(s.name)).map((s) => {
    const shape = s.dims.map((d) => (typeof d === 'number' ? d : NaN));
    if (shape.some(Number.isNaN)) throw new EpError(`body ${req.body.key}: input '${s.name}' has no concrete shape`);
    return [s.name, { dataType: s.dataType, shape }];
  }));
  const modelBytes = req.model && unchanged ? req.model : encodeModel(model);
  return compileModel({ model, modelBytes, inputTypes, options, subgraphKey: req.body.key });
}
