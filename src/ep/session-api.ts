import type { HostTensor } from '../runtime/host-tensor.js';

/** Where each ONNX node of the main graph ended up. */
export interface SessionReport {
  totalNodes: number;
  /** Nodes compiled to native code by the mlir EP. */
  compiledNodes: number;
  /** Nodes that run on onnxruntime-node's CPU EP. */
  fallbackNodes: number;
  /** One line per fallen-back node: `OpType(name): reason`. */
  fallbackReasons: string[];
}

/** The EP's own session, below ORT's JS API; the CLI test runner drives it directly. */
export interface MlirSessionApi {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: ReadonlyMap<string, HostTensor>): Promise<Map<string, HostTensor>>;
  report(): SessionReport;
  dispose(): Promise<void>;
}
