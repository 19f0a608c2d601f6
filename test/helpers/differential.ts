// Differential testing against onnxruntime-node: the same model and feeds
// through the CPU EP (oracle) and through the mlir EP, outputs compared with
// the test runner's tolerances.
import assert from 'node:assert/strict';
import { DataType, byteLength, elementCount } from '../../src/onnx/model.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { CpuSession } from '../../src/ep/cpu-session.js';
import { createMlirSession } from '../../src/ep/session.js';
import type { SessionReport } from '../../src/ep/session-api.js';
import { compareTensors, DEFAULT_ATOL, DEFAULT_RTOL } from '../../src/cli/compare.js';

export interface DiffOptions {
  atol?: number;
  rtol?: number;
  /** Require every node to be compiled (default true). */
  fullyCompiled?: boolean;
  options?: Record<string, unknown>;
}

/** Deterministic pseudo-random numbers (xorshift32) so failures reproduce. */
export function rng(seed = 0x9e3779b9): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

export function randomTensor(dataType: DataType, dims: number[], seed = 1, lo = -1, hi = 1): HostTensor {
  const n = elementCount(dims);
  const r = rng(seed);
  const data = new Uint8Array(byteLength(dataType, n));
  const dv = new DataView(data.buffer);
  for (let i = 0; i < n; i++) {
    const v = lo + (hi - lo) * r();
    switch (dataType) {
      case DataType.FLOAT: dv.setFloat32(i * 4, v, true); break;
      case DataType.DOUBLE: dv.setFloat64(i * 8, v, true); break;
      case DataType.INT32: dv.setInt32(i * 4, Math.round(v), true); break;
      case DataType.INT64: dv.setBigInt64(i * 8, BigInt(Math.round(v)), true); break;
      case DataType.INT8: dv.setInt8(i, Math.round(v)); break;
      case DataType.UINT8: dv.setUint8(i, Math.round(Math.abs(v))); break;
      case DataType.BOOL: dv.setUint8(i, v > (lo + hi) / 2 ? 1 : 0); break;
      default: throw new Error(`randomTensor: ${DataType[dataType]} not supported`);
    }
  }
  return { dataType, dims, data };
}

export function floatTensor(dims: number[], values: number[]): HostTensor {
  return { dataType: DataType.FLOAT, dims, data: new Uint8Array(new Float32Array(values).buffer) };
}

export function toFloats(t: HostTensor): number[] {
  return Array.from(new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4));
}

/** Runs `model` on both EPs and asserts equal outputs; returns the mlir outputs and report. */
export async function assertMatchesOrt(model: Uint8Array, feeds: Record<string, HostTensor>, opts: DiffOptions = {}): Promise<{ outputs: Map<string, HostTensor>; report: SessionReport }> {
  const feedMap = new Map(Object.entries(feeds));
  const cpu = await CpuSession.create(model);
  const mlir = await createMlirSession(model, { cacheDir: '', ...opts.options });
  try {
    const expected = await cpu.run(feedMap);
    const actual = await mlir.run(feedMap);
    const report = mlir.report();
    if (opts.fullyCompiled ?? true) {
      assert.equal(report.fallbackNodes, 0, `expected every node compiled; fell back: ${report.fallbackReasons.join('; ')}`);
    }
    for (const [name, e] of expected) {
      const a = actual.get(name);
      assert.ok(a, `output '${name}' missing from mlir results`);
      const r = compareTensors(a, e, { atol: opts.atol ?? DEFAULT_ATOL, rtol: opts.rtol ?? DEFAULT_RTOL, postProcessing: false });
      assert.equal(r.status, 'success', `output '${name}': ${r.message}`);
    }
    return { outputs: actual, report };
  } finally {
    await cpu.dispose();
    await mlir.dispose();
  }
}

/**
 * Runs every feed set through one mlir session and one CPU session (outputs
 * compared each time: a run-time variant must never serve inputs it was not
 * made for); returns the mlir session's report after all runs.
 */
export async function assertRunsMatchOrt(model: Uint8Array, runs: readonly Record<string, HostTensor>[], opts: DiffOptions = {}): Promise<SessionReport> {
  const cpu = await CpuSession.create(model);
  const mlir = await createMlirSession(model, { cacheDir: '', ...opts.options });
  try {
    for (const [k, feeds] of runs.entries()) {
      const feedMap = new Map(Object.entries(feeds));
      const expected = await cpu.run(feedMap);
      const actual = await mlir.run(feedMap);
      for (const [name, e] of expected) {
        const a = actual.get(name);
        assert.ok(a, `run ${k}: output '${name}' missing from mlir results`);
        const r = compareTensors(a, e, { atol: opts.atol ?? DEFAULT_ATOL, rtol: opts.rtol ?? DEFAULT_RTOL, postProcessing: false });
        assert.equal(r.status, 'success', `run ${k}: output '${name}': ${r.message}`);
      }
    }
    const report = mlir.report();
    if (opts.fullyCompiled ?? true) {
      assert.equal(report.fallbackNodes, 0, `expected every node compiled; fell back: ${report.fallbackReasons.join('; ')}`);
    }
    return report;
  } finally {
    await cpu.dispose();
    await mlir.dispose();
  }
}
