// The onnxruntime-common instance shared with onnxruntime-node. onnxruntime-node
// is CommonJS and registers its backends into the CJS build of
// onnxruntime-common; importing the ESM build from here would create a second,
// disconnected backend registry and Tensor class (the dual-package hazard), so
// the CJS instance is loaded explicitly.
import { createRequire } from 'node:module';
import type * as OrtCommon from 'onnxruntime-common';

const requireCjs = createRequire(import.meta.url);

export const ortCommon: typeof OrtCommon = requireCjs('onnxruntime-common');
export const Tensor = ortCommon.Tensor;
export type Tensor = OrtCommon.Tensor;
// Type-only namespace so that `Tensor.Type` etc. resolve as with a normal import.
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace Tensor {
  type Type = OrtCommon.Tensor.Type;
  type DataType = OrtCommon.Tensor.DataType;
  type DataTypeMap = OrtCommon.Tensor.DataTypeMap;
  type ElementTypeMap = OrtCommon.Tensor.ElementTypeMap;
}
