// A session on onnxruntime-node's CPU EP behind the EP's own session API: the
// `-e cpu` engine of the test runner and the executor of fallback partitions.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../onnx/decode.js';
import { DataType, type OnnxNode } from '../onnx/model.js';
import type { HostTensor } from '../runtime/host-tensor.js';
import { EpError } from './errors.js';
import { hostToOrt, isOrtRepresentable, ortToHost, ortTypeToDataType } from './ort-tensor.js';
import type { MlirSessionApi, SessionReport } from './session-api.js';

/** ORT's 'fatal' severity: run errors reach the caller as exceptions, so ORT's own log of them is noise. */
const DEFAULT_LOG_SEVERITY = 4;
const FALLBACK_REASON = 'runs on the CPU EP (no mlir compilation requested)';

function describeModel(model: string | Uint8Array): string {
  return typeof model === 'string' ? `'${model}'` : `<${model.byteLength}-byte model>`;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * onnxruntime-common's Tensor has int4/uint4, but onnxruntime-node 1.30's
 * binding rejects them as inputs and aborts the whole process (V8 OOM in
 * OrtValueToNapiValue) when returning them, so models using them are refused up front.
 */
const BINDING_UNSUPPORTED: ReadonlySet<DataType> = new Set([DataType.INT4, DataType.UINT4]);

/** Whether a CpuSession can take and return tensors of `dt`. */
export function cpuSessionSupports(dt: DataType): boolean {
  return isOrtRepresentable(dt) && !BINDING_UNSUPPORTED.has(dt);
}

function unsupportedValue(session: ort.InferenceSession, model: string | Uint8Array): string | null {
  const values = [
    ...session.inputMetadata.map((m) => ({ m, role: 'input' })),
    ...session.outputMetadata.map((m) => ({ m, role: 'output' })),
  ];
  for (const { m, role } of values) {
    if (m.isTensor && !cpuSessionSupports(ortTypeToDataType(m.type))) {
      return `model ${describeModel(model)}: ${role} '${m.name}' is ${m.type}, which onnxruntime-node cannot carry`;
    }
  }
  return null;
}

export class CpuSession implements MlirSessionApi {
  private nodes: OnnxNode[] | null = null;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly model: string | Uint8Array,
  ) {}

  /**
   * Loads `model` (a path, or the bytes of a ModelProto) on the CPU EP.
   * `executionProviders` is always ['cpu']; other session options pass through.
   */
  static async create(model: string | Uint8Array, sessionOptions?: ort.InferenceSession.SessionOptions): Promise<CpuSession> {
    const options: ort.InferenceSession.SessionOptions = {
      logSeverityLevel: DEFAULT_LOG_SEVERITY,
      ...sessionOptions,
      executionProviders: ['cpu'],
    };
    let session: ort.InferenceSession;
    try {
      session = typeof model === 'string'
        ? await ort.InferenceSession.create(model, options)
        : await ort.InferenceSession.create(model, options);
    } catch (e) {
      throw new EpError(`CPU EP failed to load model ${describeModel(model)}: ${errorMessage(e)}`, { cause: e });
    }
    const problem = unsupportedValue(session, model);
    if (problem !== null) {
      await session.release();
      throw new EpError(problem);
    }
    return new CpuSession(session, model);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: ReadonlyMap<string, HostTensor>): Promise<Map<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of feeds) {
      try {
        ortFeeds[name] = hostToOrt(t);
      } catch (e) {
        throw new EpError(`input '${name}': ${errorMessage(e)}`, { cause: e });
      }
    }
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await this.session.run(ortFeeds);
    } catch (e) {
      // ORT's own errors are untyped; callers (and fallback partitions) get one of ours.
      throw new EpError(`CPU EP failed to run model ${describeModel(this.model)}: ${errorMessage(e)}`, { cause: e });
    }
    const out = new Map<string, HostTensor>();
    for (const name of this.session.outputNames) {
      const value = results[name];
      // Optional outputs that are None come back absent; the caller decides what that means.
      if (value !== undefined) out.set(name, ortToHost(value));
    }
    return out;
  }

  /** Every node of the main graph falls back (counted on first call; 0 if the model cannot be decoded). */
  report(): SessionReport {
    const nodes = this.graphNodes();
    return {
      totalNodes: nodes.length,
      compiledNodes: 0,
      fallbackNodes: nodes.length,
      fallbackReasons: nodes.map((n) => `${n.opType}(${n.name}): ${FALLBACK_REASON}`),
    };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  private graphNodes(): OnnxNode[] {
    if (this.nodes === null) {
      try {
        const bytes = typeof this.model === 'string' ? readFileSync(this.model) : this.model;
        const baseDir = typeof this.model === 'string' ? dirname(this.model) : process.cwd();
        this.nodes = decodeModel(bytes, { baseDir }).graph.nodes;
      } catch {
        // The report is informational; a model ORT can run but our decoder cannot read counts as 0 nodes.
        this.nodes = [];
      }
    }
    return this.nodes;
  }
}
