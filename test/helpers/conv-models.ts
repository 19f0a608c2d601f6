// Convolutions for the schedule tests (direct-conv, conv-winograd): a padded
// 3×3 convolution as MLIR in the importer's form, and ONNX models of
// Conv (+ bias) + Relu layers with their random inputs.
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, type AttrInput } from '../../src/onnx/builder.js';
import { randomTensor } from './differential.js';

const F = DataType.FLOAT;

/** A padded 3×3 convolution in the form the importer emits (tensor.pad, fill, conv). */
export function paddedConv(c: number, f: number, h: number, w: number): string {
  const x = `tensor<1x${c}x${h}x${w}xf32>`;
  const p = `tensor<1x${c}x${h + 2}x${w + 2}xf32>`;
  const y = `tensor<1x${f}x${h}x${w}xf32>`;
  return [
    `func.func @kernel(%x: ${x}, %w: tensor<${f}x${c}x3x3xf32>) -> ${y} {`,
    '  %cst = arith.constant 0.000000e+00 : f32',
    '  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {',
    '  ^bb0(%a: index, %b: index, %c: index, %d: index):',
    '    tensor.yield %cst : f32',
    `  } : ${x} to ${p}`,
    `  %0 = tensor.empty() : ${y}`,
    `  %1 = linalg.fill ins(%cst : f32) outs(%0 : ${y}) -> ${y}`,
    `  %2 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%padded, %w : ${p}, tensor<${f}x${c}x3x3xf32>) outs(%1 : ${y}) -> ${y}`,
    `  return %2 : ${y}`,
    '}',
    '',
  ].join('\n');
}

/** One Conv layer of a test model: input and weight shapes, attributes, and whether it has a bias. */
export interface ConvCase {
  x: number[];
  w: number[];
  attrs?: Record<string, AttrInput>;
  bias?: boolean;
}

/** A model with one Conv (+ bias) + Relu per case, each on its own input, and random feeds for them. */
export function convCasesModel(cases: readonly ConvCase[]): { bytes: Uint8Array; feeds: Record<string, ReturnType<typeof randomTensor>> } {
  const b = new ModelBuilder({ opset: 17 });
  const feeds: Record<string, ReturnType<typeof randomTensor>> = {};
  cases.forEach((c, k) => {
    b.input(`x${k}`, F, c.x);
    feeds[`x${k}`] = randomTensor(F, c.x, 2 * k + 1);
    const w = b.initializer(`w${k}`, F, c.w, Array.from({ length: c.w.reduce((a, d) => a * d, 1) }, (_, i) => ((i * 7) % 17) / 17 - 0.5));
    const bias = c.bias ? [b.initializer(`b${k}`, F, [c.w[0]], Array.from({ length: c.w[0] }, (_, i) => i / 8 - 1))] : [];
    const [y] = b.node('Conv', [`x${k}`, w, ...bias], { attrs: c.attrs });
    const [r] = b.node('Relu', [y]);
    b.output(r);
  });
  return { bytes: b.build(), feeds };
}
