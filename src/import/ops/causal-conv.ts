// CausalConvWithState (opset 27): a depthwise causal Conv1d over the input
// left-padded with past_state (or zeros), with an optional fused SiLU, that
// also returns the last k-1 padded positions as the next call's state.
//
//   padded  = concat(past_state | zeros, input)        [B, C, L + k - 1]
//   output  = act(bias[c] + sum_j w[c, 0, j] * padded[b, c, t + j])
//   present = padded[:, :, L:]                         [B, C, k - 1]
import { DataType } from '../../onnx/model.js';
import { isFloat } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { affineMap, tensorTypeOf } from '../../codegen/mlir-builder.js';
import { padTensor } from '../../codegen/tensor-ops.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import type { TensorType } from '../../ir/types.js';
import { accumulatorDtype, mapGeneric, reduceGeneric, type TensorRef } from '../reduce-helpers.js';
import { emitInsert } from '../index-lowering.js';

const INPUT = 0;
const WEIGHT = 1;
const BIAS = 2;
const PAST = 3;
const ACTIVATIONS = ['none', 'silu', 'swish'] as const;

interface CausalPlan {
  batch: number;
  channels: number;
  length: number;
  kernel: number;
  silu: boolean;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function causalPlan(ctx: NodeContext): CausalPlan {
  const dt = ctx.dtype(INPUT);
  if (!isFloat(dt)) ctx.unsupported(`input of ${DataType[dt]} is not supported (expected a float tensor)`);
  const x = ctx.shape(INPUT);
  const w = ctx.shape(WEIGHT);
  if (x.length !== 3) ctx.unsupported(`input must be rank 3 [batch, channels, length], got [${x.join(', ')}]`);
  const [batch, channels, length] = x;
  if (w.length !== 3 || w[0] !== channels || w[1] !== 1 || w[2] < 1) {
    ctx.unsupported(`weight must be [${channels}, 1, k] with k >= 1, got [${w.join(', ')}]`);
  }
  const kernel = w[2];
  const expected: [number, number[]][] = [[WEIGHT, w], [BIAS, [channels]], [PAST, [batch, channels, kernel - 1]]];
  for (const [i, shape] of expected) {
    if (!ctx.has(i)) continue;
    if (ctx.dtype(i) !== dt) ctx.unsupported(`input ${i} dtype ${DataType[ctx.dtype(i)]} differs from input's ${DataType[dt]}`);
    if (!sameShape(ctx.shape(i), shape)) ctx.unsupported(`input ${i} must have shape [${shape.join(', ')}], got [${ctx.shape(i).join(', ')}]`);
  }
  const activation = ctx.string('activation', 'none');
  if (!ACTIVATIONS.some((a) => a === activation)) ctx.unsupported(`activation '${activation}' is not one of ${ACTIVATIONS.join(', ')}`);
  return { batch, channels, length, kernel, silu: activation !== 'none' };
}

function inferCausalConv(ctx: NodeContext): TensorType[] {
  const p = causalPlan(ctx);
  const dataType = ctx.dtype(INPUT);
  return [
    { dataType, shape: [p.batch, p.channels, p.length] },
    { dataType, shape: [p.batch, p.channels, p.kernel - 1] },
  ];
}

function ref(ctx: LowerContext, i: number): TensorRef {
  return { value: ctx.input(i), dt: ctx.dtype(i), shape: ctx.shape(i) };
}

/** past_state (or zeros) followed by the input along the length axis. */
function paddedInput(ctx: LowerContext, p: CausalPlan): TensorRef {
  const x = ref(ctx, INPUT);
  const shape = [p.batch, p.channels, p.length + p.kernel - 1];
  if (!ctx.has(PAST)) {
    const zero = new Scalar(ctx.b, x.dt).zero();
    const padded = padTensor(ctx.b, x, [0, 0, p.kernel - 1], [0, 0, 0], zero);
    return { value: padded.value, dt: x.dt, shape };
  }
  const type = tensorTypeOf(x.dt, shape);
  let dest = ctx.b.empty(type);
  const parts = [ref(ctx, PAST), x];
  let offset = 0;
  for (const part of parts) {
    if (part.shape[2] === 0) continue;
    dest = emitInsert(ctx.b, dest, type, { value: part.value, dtype: part.dt, shape: part.shape }, [0, 0, offset]);
    offset += part.shape[2];
  }
  return { value: dest, dt: x.dt, shape };
}

/** Depthwise causal convolution, accumulated in f32 for half types: [B, C, L, 1]. */
function convolve(ctx: LowerContext, padded: TensorRef, p: CausalPlan): TensorRef {
  const accDt = accumulatorDtype(padded.dt);
  const w = ref(ctx, WEIGHT);
  const space = [p.batch, p.channels, p.length, p.kernel];
  return reduceGeneric(ctx.b, {
    space, reduced: [false, false, false, true], accDt, identity: 'zero',
    inputs: [
      { ref: padded, map: affineMap(space.length, ['d0', 'd1', 'd2 + d3']) },
      { ref: w, map: affineMap(space.length, ['d1', '0', 'd3']) },
    ],
    step: (fb, [x, k], acc) => {
      const s = new Scalar(fb, accDt);
      return s.add(acc, s.mul(convertScalar(fb, x, padded.dt, accDt), convertScalar(fb, k, w.dt, accDt)));
    },
  });
}

function lowerCausalConv(ctx: LowerContext): string[] {
  const p = causalPlan(ctx);
  const dt = ctx.dtype(INPUT);
  const accDt = accumulatorDtype(dt);
  const padded = paddedInput(ctx, p);
  const acc = convolve(ctx, padded, p);
  const outShape = [p.batch, p.channels, p.length];
  const inputs = [{ ref: acc, map: affineMap(3, ['d0', 'd1', 'd2', '0']) }];
  if (ctx.has(BIAS)) inputs.push({ ref: ref(ctx, BIAS), map: affineMap(3, ['d1']) });
  const y = mapGeneric(ctx.b, dt, outShape, inputs, (fb, [sum, bias]) => {
    const s = new Scalar(fb, accDt);
    const biased = bias === undefined ? sum : s.add(sum, convertScalar(fb, bias, dt, accDt));
    // The reference rounds the convolution to the input dtype before the
    // activation, which it then computes in float32 (or wider).
    const conv = convertScalar(fb, biased, accDt, dt);
    if (!p.silu) return conv;
    const v = convertScalar(fb, conv, dt, accDt);
    const sigmoid = s.div(s.one(), s.add(s.one(), s.math('exp', s.neg(v))));
    return convertScalar(fb, s.mul(v, sigmoid), accDt, dt);
  });
  // present_state: the last k-1 positions of the padded input (none when k = 1).
  const stateShape = [p.batch, p.channels, p.kernel - 1];
  if (p.kernel === 1) return [y.value, ctx.b.empty(tensorTypeOf(dt, stateShape))];
  const present = mapGeneric(ctx.b, dt, stateShape,
    [{ ref: padded, map: affineMap(3, ['d0', 'd1', `d2 + ${p.length}`]) }], (_fb, [v]) => v);
  return [y.value, present.value];
}

registerOp({ domain: '', op: 'CausalConvWithState', since: 27, infer: inferCausalConv, lower: lowerCausalConv });
