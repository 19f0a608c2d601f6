import { DataType } from '../onnx/model.js';

/**
 * A tensor as the runtime moves it: raw little-endian bytes plus dtype and dims.
 * Unlike ORT's JS Tensor it can carry every ONNX dtype (FP8, bf16, int4, ...).
 * `data` may be a view into a caller's buffer (zero-copy); STRING tensors use `strings`.
 */
export interface HostTensor {
  dataType: DataType;
  dims: number[];
  data: Uint8Array;
  strings?: string[];
}
