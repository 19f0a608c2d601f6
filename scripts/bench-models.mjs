// Synthetic models of the speed table, built with the project's model
// builder (src/onnx/builder.ts): square MatMul + bias + Relu layers (the
// "512³" and "1024³" rows), a single Add on 1×16 floats (per-run overhead),
// and a 3×3 convolution + BatchNormalization + Relu shaped like det's largest
// layers (to study the convolution schedule alone).
const { ModelBuilder } = await import(new URL('../dist/esm/src/onnx/builder.js', import.meta.url).href);
const { DataType } = await import(new URL('../dist/esm/src/onnx/model.js', import.meta.url).href);

/** Deterministic weights in [-0.5, 0.5) (a fixed LCG: the table must not change between runs). */
function weights(count, seed) {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/** y = Relu(x[n×n] · W[n×n] + b[n]). */
export function matmulModel(n) {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [n, n]);
  const w = b.initializer('w', DataType.FLOAT, [n, n], weights(n * n, 1));
  const bias = b.initializer('b', DataType.FLOAT, [n], weights(n, 2));
  const [mm] = b.node('MatMul', [x, w]);
  const [sum] = b.node('Add', [mm, bias]);
  const [y] = b.node('Relu', [sum], { outputs: ['y'] });
  b.output(y, DataType.FLOAT, [n, n]);
  return b.build();
}

/** y = a + b on [1, 16] (both graph inputs). */
export function addModel() {
  const b = new ModelBuilder({ opset: 17 });
  const a = b.input('a', DataType.FLOAT, [1, 16]);
  const c = b.input('b', DataType.FLOAT, [1, 16]);
  const [y] = b.node('Add', [a, c], { outputs: ['y'] });
  b.output(y, DataType.FLOAT, [1, 16]);
  return b.build();
}

/** y = Relu(BN(Conv3x3(x))) with pads 1: [1, c, h, w] → [1, f, h, w]. */
export function convModel(c, f, h, w) {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [1, c, h, w]);
  const k = b.initializer('k', DataType.FLOAT, [f, c, 3, 3], weights(f * c * 9, 3));
  const [conv] = b.node('Conv', [x, k], { attrs: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } });
  const bn = ['scale', 'bias', 'mean', 'var'].map((n, i) => {
    const v = weights(f, 10 + i);
    if (n === 'scale' || n === 'var') v.forEach((e, j) => (v[j] = e + 1));
    return b.initializer(n, DataType.FLOAT, [f], v);
  });
  const [norm] = b.node('BatchNormalization', [conv, ...bn]);
  const [y] = b.node('Relu', [norm], { outputs: ['y'] });
  b.output(y, DataType.FLOAT, [1, f, h, w]);
  return b.build();
}
