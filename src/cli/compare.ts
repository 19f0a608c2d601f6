// Output comparison, following onnxruntime's test/util/compare_ortvalue.cc:
// floats within atol + rtol*|expected| (NaN matches only NaN, ±Inf only the
// same infinity), everything else exact. ORT itself reports FP8/int4 outputs
// as unsupported; here they are decoded (FP8 → float, int4 → int) and compared.
import { DataType } from '../onnx/model.js';
import type { HostTensor } from '../runtime/host-tensor.js';
import { dataTypeName } from '../ep/ort-tensor.js';
import { tensorValues, type TensorValues } from './tensor-values.js';

export type CompareStatus = 'success' | 'result_differs' | 'shape_mismatch' | 'type_mismatch' | 'not_supported';

export interface CompareResult {
  status: CompareStatus;
  message: string;
}

export interface Tolerance {
  /** ORT's per_sample_tolerance. */
  atol: number;
  /** ORT's relative_per_sample_tolerance. */
  rtol: number;
  /** Clamp actual values to [0, 255] before comparing (ORT's post_processing, for image models). */
  postProcessing: boolean;
}

/** onnx_backend_test_series_overrides.jsonc: the defaults ORT's test runner uses for ONNX test data. */
export const DEFAULT_ATOL = 1e-5;
export const DEFAULT_RTOL = 1e-3;
/** Per-test absolute tolerance overrides from the same file, keyed by test directory name. */
export const ATOL_OVERRIDES: ReadonlyMap<string, number> = new Map([
  ['test_dft', 1e-3],
  ['test_dft_axis', 1e-3],
  ['test_dft_inverse', 1e-3],
  ['test_dft_opset19', 1e-3],
  ['test_dft_axis_opset19', 1e-3],
  ['test_dft_inverse_opset19', 1e-3],
  ['test_stft', 1e-4],
  ['test_stft_with_window', 1e-4],
]);

const POST_PROCESSING_MAX = 255;
const SUCCESS: CompareResult = { status: 'success', message: '' };

/** ORT's IsResultCloselyMatch. */
export function isCloselyMatch(actual: number, expected: number, diff: number, tol: number): boolean {
  if (Number.isNaN(actual) || Number.isNaN(expected)) return Number.isNaN(actual) && Number.isNaN(expected);
  if (!Number.isFinite(actual) || !Number.isFinite(expected)) {
    return !Number.isFinite(actual) && !Number.isFinite(expected) && Math.sign(actual) === Math.sign(expected);
  }
  return diff <= tol;
}

function shapeString(dims: readonly number[]): string {
  return `{${dims.join(',')}}`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

interface FloatMismatch {
  index: number;
  expected: number;
  actual: number;
  diff: number;
  tol: number;
}

function compareFloats(actual: Float64Array, expected: Float64Array, narrow: boolean, t: Tolerance): CompareResult {
  let worst: FloatMismatch | null = null;
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] ?? NaN;
    const raw = actual[i] ?? NaN;
    const a = t.postProcessing ? Math.max(0, Math.min(POST_PROCESSING_MAX, raw)) : raw;
    // ORT subtracts 16-bit formats after widening to float, not double.
    const diff = narrow ? Math.abs(Math.fround(e - a)) : Math.abs(e - a);
    const tol = t.atol + t.rtol * Math.abs(e);
    if (isCloselyMatch(a, e, diff, tol)) continue;
    count++;
    if (worst === null || diff > worst.diff || (Number.isNaN(diff) && !Number.isNaN(worst.diff))) {
      worst = { index: i, expected: e, actual: a, diff, tol };
    }
  }
  if (worst === null) return SUCCESS;
  return {
    status: 'result_differs',
    message: `expected ${worst.expected}, got ${worst.actual}, diff: ${worst.diff}, tol=${worst.tol} idx=${worst.index}. ` +
      `${count} of ${expected.length} differ`,
  };
}

function compareExact<T>(actual: ArrayLike<T>, expected: ArrayLike<T>, same: (a: T, e: T) => boolean): CompareResult {
  for (let i = 0; i < expected.length; i++) {
    if (!same(actual[i], expected[i])) {
      return { status: 'result_differs', message: `expected ${showValue(expected[i])}, got ${showValue(actual[i])} idx=${i}` };
    }
  }
  return SUCCESS;
}

function showValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function compareValues(actual: TensorValues, expected: TensorValues, isBool: boolean, t: Tolerance): CompareResult {
  if (actual.kind === 'float' && expected.kind === 'float') {
    return compareFloats(actual.values, expected.values, expected.narrow, t);
  }
  if (actual.kind === 'int' && expected.kind === 'int') {
    const same = isBool ? (a: number, e: number) => (a !== 0) === (e !== 0) : (a: number, e: number) => a === e;
    return compareExact(actual.values, expected.values, same);
  }
  if (actual.kind === 'bigint' && expected.kind === 'bigint') {
    return compareExact(actual.values, expected.values, (a, e) => a === e);
  }
  if (actual.kind === 'string' && expected.kind === 'string') {
    return compareExact(actual.values, expected.values, (a, e) => a === e);
  }
  return { status: 'not_supported', message: `cannot compare ${actual.kind} values with ${expected.kind} values` };
}

/** Compares one output tensor against its expected value (ORT's CompareOrtValue for tensors). */
export function compareTensors(actual: HostTensor, expected: HostTensor, t: Tolerance): CompareResult {
  if (actual.dataType !== expected.dataType) {
    return { status: 'type_mismatch', message: `expect ${dataTypeName(expected.dataType)} got ${dataTypeName(actual.dataType)}` };
  }
  if (!sameShape(actual.dims, expected.dims)) {
    return { status: 'shape_mismatch', message: `shape mismatch, expect ${shapeString(expected.dims)} got ${shapeString(actual.dims)}` };
  }
  return compareValues(tensorValues(actual), tensorValues(expected), expected.dataType === DataType.BOOL, t);
}
