// ONNX test-case layout, as onnxruntime's onnx_test_runner reads it:
//   CASE/<any>.onnx, CASE/config.txt (optional tolerances),
//   CASE/<dataset>/input_K.pb, CASE/<dataset>/output_K.pb (TensorProto, or
//   OptionalProto/SequenceProto when the model's value is optional/sequence).
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { decodeModel, decodeValue, type OnnxValue } from '../onnx/decode.js';
import type { OnnxTensor, OnnxType, OnnxValueInfo } from '../onnx/model.js';
import type { HostTensor } from '../runtime/host-tensor.js';
import { ATOL_OVERRIDES, DEFAULT_ATOL, DEFAULT_RTOL, type Tolerance } from './compare.js';
import { CliError } from './errors.js';

export interface TestCase {
  /** The case directory's name, e.g. 'test_abs'. */
  name: string;
  dir: string;
  modelPath: string;
  /** Dataset directories, in numeric order. */
  dataSets: string[];
  tolerance: Tolerance;
}

export interface ToleranceDefaults {
  atol?: number;
  rtol?: number;
}

const MODEL_EXT = '.onnx';
const PREFERRED_MODEL = 'model.onnx';
const CONFIG_FILE = 'config.txt';
const DATA_FILE = /^(input|output)_(\d+)\.pb$/;
/** ORT's all-in-one TraditionalMLData files (maps, sequences of maps). */
const ALL_IN_ONE_FILES = ['inputs.pb', 'outputs.pb'];

async function listDir(dir: string): Promise<{ files: string[]; dirs: string[] }> {
  const entries = await readdir(dir, { withFileTypes: true });
  const visible = entries.filter((e) => !e.name.startsWith('.'));
  return {
    files: visible.filter((e) => e.isFile()).map((e) => e.name).sort(),
    dirs: visible.filter((e) => e.isDirectory()).map((e) => e.name).sort(naturalCompare),
  };
}

/** 'test_data_set_2' before 'test_data_set_10'. */
function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function pickModel(files: readonly string[]): string | undefined {
  return files.includes(PREFERRED_MODEL) ? PREFERRED_MODEL : files.find((f) => f.endsWith(MODEL_EXT));
}

/** ORT's config.txt: `key: value` lines; per_sample_tolerance, relative_per_sample_tolerance, post_processing. */
export function parseCaseConfig(text: string, base: Tolerance, file: string): Tolerance {
  const t = { ...base };
  for (const line of text.split(/\r?\n/)) {
    const [key, value] = line.split(':').map((s) => s.trim());
    if (!key || value === undefined) continue;
    if (key === 'post_processing') t.postProcessing = value === 'true';
    if (key !== 'per_sample_tolerance' && key !== 'relative_per_sample_tolerance') continue;
    const n = Number(value);
    if (value === '' || !Number.isFinite(n)) throw new CliError(`${file}: '${key}' expects a number, got '${value}'`);
    if (key === 'per_sample_tolerance') t.atol = n;
    else t.rtol = n;
  }
  return t;
}

async function readCaseTolerance(dir: string, name: string, defaults: ToleranceDefaults): Promise<Tolerance> {
  const base: Tolerance = {
    atol: defaults.atol ?? ATOL_OVERRIDES.get(name) ?? DEFAULT_ATOL,
    rtol: defaults.rtol ?? DEFAULT_RTOL,
    postProcessing: false,
  };
  const file = join(dir, CONFIG_FILE);
  const text = await readFile(file, 'utf8').catch(() => null);
  return text === null ? base : parseCaseConfig(text, base, file);
}

async function asTestCase(dir: string, defaults: ToleranceDefaults): Promise<TestCase | null> {
  const { files, dirs } = await listDir(dir);
  const model = pickModel(files);
  if (model === undefined) return null;
  const name = basename(dir);
  return {
    name,
    dir,
    modelPath: join(dir, model),
    dataSets: dirs.map((d) => join(dir, d)),
    tolerance: await readCaseTolerance(dir, name, defaults),
  };
}

/**
 * Each root is a test case (holds a .onnx file) or a directory of test cases
 * (searched one level down). Cases are returned sorted by name.
 */
export async function discoverTestCases(roots: readonly string[], defaults: ToleranceDefaults = {}): Promise<TestCase[]> {
  const cases: TestCase[] = [];
  for (const root of roots) {
    const info = await stat(root).catch(() => null);
    if (info === null || !info.isDirectory()) throw new CliError(`test directory '${root}' does not exist or is not a directory`);
    const self = await asTestCase(root, defaults);
    if (self !== null) {
      cases.push(self);
      continue;
    }
    const children = await Promise.all((await listDir(root)).dirs.map((d) => asTestCase(join(root, d), defaults)));
    const found = children.filter((c): c is TestCase => c !== null);
    if (found.length === 0) throw new CliError(`'${root}' holds no test case: no ${MODEL_EXT} file in it or its subdirectories`);
    cases.push(...found);
  }
  return cases.sort((a, b) => naturalCompare(a.name, b.name));
}

export interface DataFile {
  index: number;
  path: string;
}

/** input_K.pb / output_K.pb of a dataset, by K; K must run 0..n-1 as in ORT. */
export async function listDataFiles(dataSet: string, kind: 'input' | 'output'): Promise<DataFile[]> {
  const { files } = await listDir(dataSet);
  const allInOne = files.find((f) => ALL_IN_ONE_FILES.includes(f));
  if (allInOne !== undefined && !files.some((f) => DATA_FILE.test(f))) {
    throw unsupported(`${join(dataSet, allInOne)}: all-in-one TraditionalMLData files are not supported`);
  }
  const found: DataFile[] = [];
  for (const f of files) {
    const m = DATA_FILE.exec(f);
    if (m !== null && m[1] === kind) found.push({ index: Number(m[2]), path: join(dataSet, f) });
  }
  found.sort((a, b) => a.index - b.index);
  found.forEach((f, i) => {
    if (f.index !== i) throw new CliError(`${dataSet}: ${kind} files are not numbered 0..${found.length - 1} (found ${kind}_${f.index}.pb at position ${i})`);
  });
  return found;
}

/** A value read from a test-data file: a tensor, or an optional that is None. */
export type TestValue =
  | { kind: 'tensor'; name: string; tensor: HostTensor }
  | { kind: 'none'; name: string };

const utf8 = new TextDecoder();
const UNKNOWN_TYPE: OnnxType = { kind: 'unknown' };

export function onnxTensorToHost(t: OnnxTensor): HostTensor {
  const host: HostTensor = { dataType: t.dataType, dims: [...t.dims], data: t.data };
  if (t.strings !== undefined) host.strings = t.strings.map((s) => utf8.decode(s));
  return host;
}

/** Test data the tensor-only session API cannot carry (sequences, maps): reported as "not implemented". */
function unsupported(message: string): CliError {
  return new CliError(message, { unsupported: true });
}

function toTestValue(v: OnnxValue, fallbackName: string, file: string): TestValue {
  if (v.kind === 'tensor') return { kind: 'tensor', name: v.tensor.name || fallbackName, tensor: onnxTensorToHost(v.tensor) };
  if (v.kind === 'optional') return v.value === null ? { kind: 'none', name: fallbackName } : toTestValue(v.value, fallbackName, file);
  throw unsupported(`${file}: ${v.kind} values are not supported by the tensor-only session API`);
}

/** Reads one input_K.pb/output_K.pb, interpreting it by the model's declared type for that position. */
export async function readTestValue(file: string, declared: OnnxType | undefined, fallbackName: string): Promise<TestValue> {
  const bytes = await readFile(file);
  const kind = declared?.kind ?? 'tensor';
  if (kind !== 'tensor' && kind !== 'unknown' && kind !== 'optional') {
    throw unsupported(`${file}: ${kind} values are not supported by the tensor-only session API`);
  }
  return toTestValue(decodeValue(bytes, declared ?? UNKNOWN_TYPE), fallbackName, file);
}

export interface ModelInfo {
  /** Graph inputs that are not initializers, in order: what input_K.pb binds to. */
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** The op type when the graph is a single node (how ORT names a case in its stats), else ''. */
  opType: string;
}

export async function readModelInfo(modelPath: string, dir: string): Promise<ModelInfo> {
  const model = decodeModel(await readFile(modelPath), { baseDir: dir });
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  const nodes = model.graph.nodes;
  return {
    inputs: model.graph.inputs.filter((i) => !initializers.has(i.name)),
    outputs: model.graph.outputs,
    opType: nodes.length === 1 ? nodes[0]?.opType ?? '' : '',
  };
}
