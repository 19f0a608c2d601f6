// Conv, ConvInteger and QLinearConv: pad the input (tensor ops), run the
// convolution contraction (named linalg conv ops where they exist), then one
// epilogue for the bias, narrowing or requantisation.
import { DataType } from '../../onnx/model.js';
import { Scalar } from '../../codegen/scalar.js';
import { padTensor, type Tensor } from '../../codegen/tensor-ops.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { accumulatorDtype } from '../contraction.js';
import { biasEpilogue, emitConv } from '../conv-core.js';
import { depthwiseExtraRows } from '../depthwise-conv.js';
import { convWindow, inputPadding, kernelShape, type Window } from '../window.js';
import { QUANT_TYPES, checkQuantParam, inputTensor, requantize, requireFloatScale, subtractZeroPoint } from '../quant.js';

const CONV_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];

/** Shapes and geometry of a convolution node whose X / W are inputs `xi` / `wi`. */
interface ConvGeometry {
  window: Window;
  group: number;
  outShape: number[];
}

function convGeometry(ctx: NodeContext, xi: number, wi: number): ConvGeometry {
  const x = ctx.shape(xi);
  const w = ctx.shape(wi);
  if (x.length < 3) ctx.unsupported(`Conv input must have rank >= 3, got ${x.length}`);
  if (w.length !== x.length) ctx.unsupported('Conv weight rank must equal input rank');
  const group = ctx.int('group', 1);
  const [n, c] = x;
  const m = w[0];
  if (group < 1 || w[1] * group !== c || m % group !== 0) {
    ctx.unsupported(`Conv channels do not fit group ${group}: X [${x.join(', ')}], W [${w.join(', ')}]`);
  }
  const kernel = kernelShape(ctx, x.length - 2, w.slice(2));
  const window = convWindow(ctx, x.slice(2), kernel);
  return { window, group, outShape: [n, m, ...window.out] };
}

/** Zero-pads `x` spatially so that every window of `w` is in bounds, plus `extraRows` at the bottom. */
function padInput(ctx: LowerContext, x: Tensor, w: Window, extraRows: number): Tensor {
  const { lo, hi } = inputPadding(w, x.shape.slice(2));
  const bottom = hi.map((v, i) => (i === 0 ? v + extraRows : v));
  return padTensor(ctx.b, x, [0, 0, ...lo], [0, 0, ...bottom], new Scalar(ctx.b, x.dt).zero());
}

/** Rows the depthwise fast path wants below the image (depthwise-conv.ts); 0 for other convolutions. */
function extraRowsFor(g: ConvGeometry, x: Tensor, w: Tensor): number {
  const depthwise = g.group > 1 && g.group === x.shape[1] && w.shape[0] === g.group && w.shape[1] === 1;
  const float = x.dt === DataType.FLOAT && w.dt === DataType.FLOAT;
  return depthwise && float ? depthwiseExtraRows(g.window, w.shape.slice(2)) : 0;
}

function convolve(ctx: LowerContext, g: ConvGeometry, x: Tensor, w: Tensor, accDt: DataType): Tensor {
  return emitConv(ctx.b, {
    x: padInput(ctx, x, g.window, accDt === DataType.FLOAT ? extraRowsFor(g, x, w) : 0),
    w,
    out: g.window.out,
    strides: g.window.strides,
    dilations: g.window.dilations,
    group: g.group,
    accDt,
  });
}

function checkBias(ctx: NodeContext, i: number, m: number, dt: DataType): void {
  if (!ctx.has(i)) return;
  const s = ctx.shape(i);
  if (s.length !== 1 || s[0] !== m) ctx.unsupported(`bias must have shape [${m}], got [${s.join(', ')}]`);
  if (ctx.dtype(i) !== dt) ctx.unsupported('bias dtype does not match');
}

registerOp({
  domain: '', op: 'Conv', since: 1,
  infer: (ctx) => {
    const dt = ctx.requireDtype(0, CONV_TYPES);
    if (ctx.dtype(1) !== dt) ctx.unsupported('Conv X and W dtypes differ');
    const g = convGeometry(ctx, 0, 1);
    checkBias(ctx, 2, g.outShape[1], dt);
    return [{ dataType: dt, shape: g.outShape }];
  },
  lower: (ctx) => {
    const dt = ctx.dtype(0);
    const acc = convolve(ctx, convGeometry(ctx, 0, 1), inputTensor(ctx, 0), inputTensor(ctx, 1), accumulatorDtype(dt));
    return [biasEpilogue(ctx.b, acc, ctx.has(2) ? inputTensor(ctx, 2) : null, dt).value];
  },
});

/** x and w with their zero points subtracted (as i32), convolved. */
function integerConv(ctx: LowerContext, g: ConvGeometry, xi: number, xZp: number, wi: number, wZp: number): Tensor {
  const zp = (i: number) => (ctx.has(i) ? inputTensor(ctx, i) : null);
  // Padding after the subtraction pads with the zero point's real value, 0.
  const x = subtractZeroPoint(ctx.b, inputTensor(ctx, xi), zp(xZp), 1);
  const w = subtractZeroPoint(ctx.b, inputTensor(ctx, wi), zp(wZp), 0);
  return convolve(ctx, g, x, w, DataType.INT32);
}

registerOp({
  domain: '', op: 'ConvInteger', since: 10,
  infer: (ctx) => {
    ctx.requireDtype(0, QUANT_TYPES);
    ctx.requireDtype(1, QUANT_TYPES);
    const g = convGeometry(ctx, 0, 1);
    checkQuantParam(ctx, 2, null, 'x_zero_point');
    checkQuantParam(ctx, 3, g.outShape[1], 'w_zero_point');
    return [{ dataType: DataType.INT32, shape: g.outShape }];
  },
  lower: (ctx) => [integerConv(ctx, convGeometry(ctx, 0, 1), 0, 2, 1, 3).value],
});

registerOp({
  domain: '', op: 'QLinearConv', since: 10,
  infer: (ctx) => {
    ctx.requireDtype(0, QUANT_TYPES);
    ctx.requireDtype(3, QUANT_TYPES);
    const outDt = ctx.requireDtype(7, QUANT_TYPES);
    for (const i of [1, 4, 6]) requireFloatScale(ctx, i);
    const g = convGeometry(ctx, 0, 3);
    const m = g.outShape[1];
    checkQuantParam(ctx, 1, null, 'x_scale');
    checkQuantParam(ctx, 2, null, 'x_zero_point');
    checkQuantParam(ctx, 4, m, 'w_scale');
    checkQuantParam(ctx, 5, m, 'w_zero_point');
    checkQuantParam(ctx, 6, null, 'y_scale');
    checkQuantParam(ctx, 7, null, 'y_zero_point');
    checkBias(ctx, 8, m, DataType.INT32);
    return [{ dataType: outDt, shape: g.outShape }];
  },
  lower: (ctx) => {
    const acc = integerConv(ctx, convGeometry(ctx, 0, 3), 0, 2, 3, 5);
    const biased = biasEpilogue(ctx.b, acc, ctx.has(8) ? inputTensor(ctx, 8) : null, DataType.INT32);
    const y = requantize(ctx.b, {
      acc: biased,
      scales: [{ t: inputTensor(ctx, 1), axis: 1 }, { t: inputTensor(ctx, 4), axis: 1 }],
      yScale: inputTensor(ctx, 6),
      yZeroPoint: inputTensor(ctx, 7),
      outDt: ctx.dtype(7),
    });
    return [y.value];
  },
});
