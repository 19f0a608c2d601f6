// On-demand compilation of a control-flow body for an input signature the
// module was not specialised for: the body is cut out of the root model as a
// standalone model (formals and runtime captures as inputs, compile-time
// captures as initializers) and compiled like any model. The EP layer hands
// this to the executor as its compile hook; runtime-only sessions have none.
import { encodeModel } from '../onnx/encode.js';
import { decodeModel } from '../onnx/decode.js';
import type { OnnxModel, OnnxTensor } from '../onnx/model.js';
import { resolveSubgraph } from '../ir/subgraph-key.js';
import type { CompiledModule } from '../module/format.js';
import type { BodyCompileRequest } from '../runtime/executor.js';
import { compileModel } from './compile.js';
import { EpError } from './errors.js';
import type { ResolvedOptions } from './options.js';

export function subgraphModel(root: OnnxModel, req: BodyCompileRequest): OnnxModel {
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

export async function compileSubgraph(root: OnnxModel, req: BodyCompileRequest, options: ResolvedOptions): Promise<CompiledModule> {
  // A deferred segment carries its own standalone model; a body is found in the root by its key.
  const model = req.model ? decodeModel(req.model) : subgraphModel(root, req);
  const inputTypes = new Map(req.inputs.map((s) => {
    const shape = s.dims.map((d) => (typeof d === 'number' ? d : NaN));
    if (shape.some(Number.isNaN)) throw new EpError(`body ${req.body.key}: input '${s.name}' has no concrete shape`);
    return [s.name, { dataType: s.dataType, shape }];
  }));
  return compileModel({ model, modelBytes: req.model ?? encodeModel(model), inputTypes, options, subgraphKey: req.body.key });
}
