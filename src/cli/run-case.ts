// Runs one ONNX test case the way onnxruntime's onnx_test_runner does: one
// session per case, every dataset fed through it, outputs compared by
// position (or by the name stored in the .pb when it names a model output).
import { performance } from 'node:perf_hooks';
import type { OnnxType, OnnxValueInfo } from '../onnx/model.js';
import type { HostTensor } from '../runtime/host-tensor.js';
import { dataTypeName } from '../ep/ort-tensor.js';
import type { MlirSessionApi } from '../ep/session-api.js';
import { compareTensors, type CompareResult } from './compare.js';
import type { Engine } from './engines.js';
import { CliError } from './errors.js';
import {
  listDataFiles, readModelInfo, readTestValue, type ModelInfo, type TestCase, type TestValue,
} from './test-data.js';

/**
 * ORT's EXECUTE_RESULT, folded: 'not_implemented' = the model could not be
 * loaded or uses values this engine cannot carry; 'exception' = the run threw;
 * 'invalid_graph' = test data names an output the session does not produce.
 */
export type CaseStatus = 'passed' | 'not_implemented' | 'result_differs' | 'exception' | 'invalid_graph' | 'timeout' | 'other';

export interface CaseResult {
  name: string;
  status: CaseStatus;
  reason: string;
  /** One status per dataset (ORT counts datasets as its "test cases"). */
  dataSetStatuses: CaseStatus[];
  /** Op type when the model is a single node, else ''. */
  opType: string;
  totalNodes: number;
  compiled: number;
  fallbackNodes: number;
  fallbackReasons: string[];
  ms: number;
}

interface Outcome {
  status: CaseStatus;
  reason: string;
}

const PASSED: Outcome = { status: 'passed', reason: '' };
const MS_PER_SECOND = 1000;

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function describeType(t: OnnxType): string {
  return t.kind === 'optional' || t.kind === 'sequence' ? `${t.kind}(${describeType(t.elem)})` : t.kind;
}

/** Why `engine` cannot carry the model's inputs/outputs, or null if it can. */
function signatureProblem(info: ModelInfo, engine: Engine): string | null {
  const values = [
    ...info.inputs.map((v) => ({ v, role: 'input' })),
    ...info.outputs.map((v) => ({ v, role: 'output' })),
  ];
  for (const { v, role } of values) {
    const t = v.type.kind === 'optional' ? v.type.elem : v.type;
    if (t.kind === 'unknown') continue;
    if (t.kind !== 'tensor') {
      return `${role} '${v.name}' has type ${describeType(v.type)}; the session API carries tensors only`;
    }
    if (!engine.supportsDataType(t.elemType)) {
      return `${role} '${v.name}' has dtype ${dataTypeName(t.elemType)}, which the ${engine.name} engine cannot carry`;
    }
  }
  return null;
}

function outcomeOfError(e: unknown, what: string): Outcome {
  const unsupported = e instanceof CliError && e.unsupported;
  return { status: unsupported ? 'not_implemented' : 'exception', reason: `${what}: ${errorMessage(e)}` };
}

/** Loads input_K.pb or output_K.pb files, binding each to a model value name. */
async function loadValues(dataSet: string, kind: 'input' | 'output', declared: readonly OnnxValueInfo[] | null,
  names: readonly string[]): Promise<TestValue[]> {
  const files = await listDataFiles(dataSet, kind);
  const values: TestValue[] = [];
  for (const f of files) {
    const name = names[f.index];
    if (name === undefined) throw new CliError(`${f.path}: the model has only ${names.length} ${kind}(s)`);
    const info = declared?.find((d) => d.name === name);
    const v = await readTestValue(f.path, info?.type, name);
    values.push(names.includes(v.name) ? v : { ...v, name });
  }
  return values;
}

function dimsMatch(declared: OnnxType, actual: HostTensor): boolean {
  if (declared.kind !== 'tensor' || declared.shape === null) return true;
  if (declared.shape.length !== actual.dims.length) return false;
  return declared.shape.every((d, i) => typeof d !== 'number' || d === actual.dims[i]);
}

/** ORT's VerifyValueInfo: the output must agree with the model's declared element type and fixed dims. */
function checkDeclared(declared: OnnxType | undefined, name: string, actual: HostTensor): Outcome {
  const t = declared?.kind === 'optional' ? declared.elem : declared;
  if (t === undefined || t.kind !== 'tensor') return PASSED;
  if (t.elemType !== actual.dataType) {
    return { status: 'result_differs', reason: `output '${name}': model declares ${dataTypeName(t.elemType)}, got ${dataTypeName(actual.dataType)}` };
  }
  if (!dimsMatch(t, actual)) {
    const shape = (t.shape ?? []).map((d) => d ?? '?').join(',');
    return { status: 'result_differs', reason: `output '${name}': model declares shape {${shape}}, got {${actual.dims.join(',')}}` };
  }
  return PASSED;
}

function checkOutput(expected: TestValue, actual: Map<string, HostTensor>, session: MlirSessionApi,
  tc: TestCase, info: ModelInfo | null): Outcome {
  const name = expected.name;
  const got = actual.get(name);
  if (expected.kind === 'none') {
    return got === undefined ? PASSED : { status: 'result_differs', reason: `output '${name}': expected None, got a tensor` };
  }
  if (got === undefined) {
    return session.outputNames.includes(name)
      ? { status: 'result_differs', reason: `output '${name}': expected a tensor, got None` }
      : { status: 'invalid_graph', reason: `cannot find output '${name}' among session outputs [${session.outputNames.join(', ')}]` };
  }
  let r: CompareResult;
  try {
    r = compareTensors(got, expected.tensor, tc.tolerance);
  } catch (e) {
    return { status: 'other', reason: `output '${name}': ${errorMessage(e)}` };
  }
  if (r.status === 'not_supported') return { status: 'not_implemented', reason: `output '${name}': ${r.message}` };
  if (r.status !== 'success') return { status: 'result_differs', reason: `output '${name}': ${r.message}` };
  return checkDeclared(info?.outputs.find((o) => o.name === name)?.type, name, got);
}

function unsupportedFeed(feeds: ReadonlyMap<string, HostTensor>, engine: Engine): Outcome {
  for (const [name, t] of feeds) {
    if (!engine.supportsDataType(t.dataType)) {
      return { status: 'not_implemented', reason: `input '${name}' has dtype ${dataTypeName(t.dataType)}, which the ${engine.name} engine cannot carry` };
    }
  }
  return PASSED;
}

async function runDataSet(session: MlirSessionApi, tc: TestCase, info: ModelInfo | null, dataSet: string,
  engine: Engine): Promise<Outcome> {
  const inputNames = info ? info.inputs.map((i) => i.name) : session.inputNames;
  const outputNames = info ? info.outputs.map((o) => o.name) : session.outputNames;
  let inputs: TestValue[];
  let expected: TestValue[];
  try {
    inputs = await loadValues(dataSet, 'input', info?.inputs ?? null, inputNames);
    expected = await loadValues(dataSet, 'output', info?.outputs ?? null, outputNames);
  } catch (e) {
    return outcomeOfError(e, `loading ${dataSet}`);
  }
  const feeds = new Map<string, HostTensor>();
  for (const v of inputs) if (v.kind === 'tensor') feeds.set(v.name, v.tensor);
  const feedProblem = unsupportedFeed(feeds, engine);
  if (feedProblem.status !== 'passed') return feedProblem;
  let actual: Map<string, HostTensor>;
  try {
    actual = await session.run(feeds);
  } catch (e) {
    return outcomeOfError(e, 'run failed');
  }
  for (const e of expected) {
    const o = checkOutput(e, actual, session, tc, info);
    if (o.status !== 'passed') return o;
  }
  return PASSED;
}

function baseResult(tc: TestCase, info: ModelInfo | null, o: Outcome): CaseResult {
  return {
    name: tc.name,
    status: o.status,
    reason: o.reason,
    dataSetStatuses: tc.dataSets.map(() => o.status),
    opType: info?.opType ?? '',
    totalNodes: 0,
    compiled: 0,
    fallbackNodes: 0,
    fallbackReasons: [],
    ms: 0,
  };
}

async function runWithSession(session: MlirSessionApi, tc: TestCase, info: ModelInfo | null, engine: Engine): Promise<CaseResult> {
  const outcomes: Outcome[] = [];
  for (const dataSet of tc.dataSets) outcomes.push(await runDataSet(session, tc, info, dataSet, engine));
  const first = outcomes.find((o) => o.status !== 'passed') ?? PASSED;
  const result = { ...baseResult(tc, info, first), dataSetStatuses: outcomes.map((o) => o.status) };
  try {
    const report = session.report();
    return {
      ...result,
      totalNodes: report.totalNodes,
      compiled: report.compiledNodes,
      fallbackNodes: report.fallbackNodes,
      fallbackReasons: report.fallbackReasons,
    };
  } catch (e) {
    return { ...result, status: 'other', reason: `session report failed: ${errorMessage(e)}` };
  }
}

async function executeCase(tc: TestCase, engine: Engine): Promise<CaseResult> {
  let info: ModelInfo | null = null;
  try {
    info = await readModelInfo(tc.modelPath, tc.dir);
  } catch {
    // ORT may still load what our decoder rejects; fall back to the session's own names.
  }
  const problem = info === null ? null : signatureProblem(info, engine);
  if (problem !== null) return baseResult(tc, info, { status: 'not_implemented', reason: problem });
  let session: MlirSessionApi;
  try {
    session = await engine.createSession(tc.modelPath);
  } catch (e) {
    return baseResult(tc, info, { status: 'not_implemented', reason: `failed to load model: ${errorMessage(e)}` });
  }
  try {
    return await runWithSession(session, tc, info, engine);
  } finally {
    await session.dispose().catch(() => undefined);
  }
}

const TIMED_OUT = Symbol('timed out');

function delay(ms: number): { promise: Promise<typeof TIMED_OUT>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<typeof TIMED_OUT>((resolve) => { timer = setTimeout(() => resolve(TIMED_OUT), ms); });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * Runs a case with a deadline. A timed-out case keeps running in the
 * background (native calls cannot be interrupted) and disposes its session
 * when it ends; its result is discarded.
 */
export async function runCase(tc: TestCase, engine: Engine, timeoutMs: number): Promise<CaseResult> {
  const start = performance.now();
  const timer = delay(timeoutMs);
  // A rejection after the deadline would otherwise surface as an unhandled rejection.
  const running = executeCase(tc, engine)
    .catch((e: unknown) => baseResult(tc, null, { status: 'other', reason: `runner error: ${errorMessage(e)}` }));
  const result = await Promise.race([running, timer.promise]);
  timer.cancel();
  const ms = Math.round(performance.now() - start);
  if (result === TIMED_OUT) {
    return { ...baseResult(tc, null, { status: 'timeout', reason: `timed out after ${timeoutMs / MS_PER_SECOND} s` }), ms };
  }
  return { ...result, ms };
}
