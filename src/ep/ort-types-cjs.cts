// The ExecutionProviderOptionMap augmentation of src/index.ts, seen through
// CommonJS resolution: onnxruntime-node's typings import onnxruntime-common's
// CJS declarations, which TypeScript treats as a module of its own, so users
// typing options through `import * as ort from 'onnxruntime-node'` need this copy.
import type { MlirProviderOptions } from './options.js' with { 'resolution-mode': 'import' };

export type MlirExecutionProviderOption = MlirProviderOptions & { readonly name: 'mlir' };

declare module 'onnxruntime-common' {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace InferenceSession {
    interface ExecutionProviderOptionMap {
      mlir: MlirExecutionProviderOption;
    }
  }
}
