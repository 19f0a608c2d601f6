// Tiny ONNX models and test-case directories written from scratch for the
// CLI and EP tests (no dependency on shared test data).
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeModel, encodeTensor } from '../../src/onnx/encode.js';
import { DataType, type OnnxDim, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from '../../src/onnx/model.js';

const IR_VERSION = 8;
const OPSET = 13;

export function tensorInfo(name: string, elemType: DataType, shape: OnnxDim[]): OnnxValueInfo {
  return { name, type: { kind: 'tensor', elemType, shape } };
}

export function node(opType: string, inputs: string[], outputs: string[]): OnnxNode {
  return { name: `${opType}_0`, opType, domain: '', inputs, outputs, attributes: new Map(), raw: undefined };
}

/** A single-node model: op(inputs...) → outputs. */
export function singleNodeModel(opType: string, inputs: OnnxValueInfo[], outputs: OnnxValueInfo[]): Uint8Array {
  return encodeModel({
    irVersion: IR_VERSION,
    opsetImports: new Map([['', OPSET]]),
    graph: {
      name: `${opType}_graph`,
      nodes: [node(opType, inputs.map((i) => i.name), outputs.map((o) => o.name))],
      inputs,
      outputs,
      initializers: [],
    },
  });
}

export function floatTensor(name: string, dims: number[], values: number[]): OnnxTensor {
  return { name, dataType: DataType.FLOAT, dims, data: new Uint8Array(new Float32Array(values).buffer) };
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface CaseSpec {
  model: Uint8Array;
  modelFile?: string;
  inputs: OnnxTensor[];
  outputs: OnnxTensor[];
  config?: string;
}

/** Writes DIR/NAME/{model.onnx, test_data_set_0/input_K.pb, output_K.pb}. */
export async function writeCase(root: string, name: string, spec: CaseSpec): Promise<string> {
  const dir = join(root, name);
  const data = join(dir, 'test_data_set_0');
  await mkdir(data, { recursive: true });
  await writeFile(join(dir, spec.modelFile ?? 'model.onnx'), spec.model);
  if (spec.config !== undefined) await writeFile(join(dir, 'config.txt'), spec.config);
  await Promise.all(spec.inputs.map((t, i) => writeFile(join(data, `input_${i}.pb`), encodeTensor(t))));
  await Promise.all(spec.outputs.map((t, i) => writeFile(join(data, `output_${i}.pb`), encodeTensor(t))));
  return dir;
}
