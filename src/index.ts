// onnxruntime-ep-mlir: an ONNX Runtime execution provider that JIT-compiles
// ONNX graphs to native code with MLIR/LLVM 22.
//
//   import * as ort from 'onnxruntime-node';
//   import 'onnxruntime-ep-mlir';
//   const s = await ort.InferenceSession.create('model.onnx', { executionProviders: [{ name: 'mlir' }] });
import { ortCommon } from './ep/ort-common.js';
import { BACKEND_NAME, BACKEND_PRIORITY, mlirBackend } from './ep/backend.js';

export type { MlirProviderOptions } from './ep/options.js';
export { OptionsError } from './ep/options.js';
export { EpError } from './ep/errors.js';
export { createMlirSession, MlirSession } from './ep/session.js';
export type { SessionReport } from './ep/session-api.js';
export { BACKEND_NAME };

/** The part of an onnxruntime module (onnxruntime-node or -common) needed to register. */
export interface OrtLike {
  registerBackend: typeof ortCommon.registerBackend;
}

/**
 * Registers the `mlir` backend on the given onnxruntime instance (default: the
 * onnxruntime-common this package resolves, which onnxruntime-node shares).
 */
export function register(ort: OrtLike = ortCommon): void {
  ort.registerBackend(BACKEND_NAME, mlirBackend, BACKEND_PRIORITY);
}

register();

// The same augmentation for onnxruntime-common's CommonJS typings (what onnxruntime-node's types see).
export type { MlirExecutionProviderOption } from './ep/ort-types-cjs.cjs';

declare module 'onnxruntime-common' {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace InferenceSession {
    interface ExecutionProviderOptionMap {
      mlir: import('./ep/options.js').MlirProviderOptions & { readonly name: 'mlir' };
    }
  }
}
