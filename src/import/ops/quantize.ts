// QuantizeLinear, DequantizeLinear (per-tensor, per-axis, blocked; every
// quantized type incl. INT16, INT4/UINT4, INT2/UINT2, FP8 and FP4) and
// DynamicQuantizeLinear, following onnx's reference implementation.
//
// Q/DQ are registered once, since opset 10: later versions only add
// attributes (axis 13, saturate 19, block_size/output_dtype 21, precision 23)
// and types whose defaults reproduce the earlier behaviour.
import { DataType } from '../../onnx/model.js';
import { bitWidth, dtypeName, isFloat, isSignedInt, isSmallFloat, subByteBits, type TensorType } from '../../ir/types.js';
import { affineMap, elemType, floatLiteral, identityMap, tensorTypeOf, type FuncBuilder, type GenericOperand } from '../../codegen/mlir-builder.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { convertValue } from '../../codegen/convert.js';
import { storageIntType } from '../../codegen/int4.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';

const INPUT_X = 0;
const INPUT_SCALE = 1;
const INPUT_ZERO_POINT = 2;
/** ONNX's default quantization axis (the channel axis of NCHW). */
const DEFAULT_AXIS = 1;

const INT_QUANT_TYPES: readonly DataType[] = [
  DataType.UINT8, DataType.INT8, DataType.UINT16, DataType.INT16,
  DataType.UINT4, DataType.INT4, DataType.UINT2, DataType.INT2,
];
const FLOAT_QUANT_TYPES: readonly DataType[] = [
  DataType.FLOAT8E4M3FN, DataType.FLOAT8E4M3FNUZ, DataType.FLOAT8E5M2, DataType.FLOAT8E5M2FNUZ, DataType.FLOAT4E2M1,
];
const SCALE_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.FLOAT8E8M0];
const DEQUANT_OUTPUT_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16];

interface QuantLayout {
  axis: number;
  blockSize: number;
}

function layout(ctx: NodeContext): QuantLayout {
  const blockSize = ctx.int('block_size', 0);
  if (blockSize < 0) ctx.unsupported(`block_size must be non-negative, got ${blockSize}`);
  return { axis: ctx.int('axis', DEFAULT_AXIS), blockSize };
}

function numel(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/**
 * Indexing map reading scale / zero point `i` for an element of x: one value
 * (any rank), one per slice along `axis`, or one per block of `blockSize`
 * elements along `axis` (same rank as x).
 */
function paramMap(ctx: NodeContext, i: number, xShape: readonly number[], q: QuantLayout): string {
  const s = ctx.shape(i);
  const rank = xShape.length;
  if (numel(s) === 1) return affineMap(rank, s.map(() => '0'));
  const axis = ctx.axis(q.axis, rank);
  if (q.blockSize > 0) {
    const fits = s.length === rank && s.every((d, k) => d === (k === axis ? Math.ceil(xShape[k] / q.blockSize) : xShape[k]));
    if (!fits) ctx.unsupported(`blocked input ${i} has shape [${s.join(', ')}], expected x's shape [${xShape.join(', ')}] with axis ${axis} divided into blocks of ${q.blockSize}`);
    return affineMap(rank, s.map((_, k) => (k === axis ? `d${k} floordiv ${q.blockSize}` : `d${k}`)));
  }
  if (s.length !== 1 || s[0] !== xShape[axis]) {
    ctx.unsupported(`input ${i} has shape [${s.join(', ')}], expected a scalar or a vector of ${xShape[axis]} (x's axis ${axis})`);
  }
  return affineMap(rank, [`d${axis}`]);
}

function operand(ctx: LowerContext, i: number, map: string): GenericOperand {
  return { value: ctx.input(i), type: ctx.inType(i), map, elem: elemType(ctx.dtype(i)) };
}

/** Emits a generic over x's shape reading x and the (broadcast) scale / zero point. */
function lowerQuantGeneric(ctx: LowerContext, body: (b: FuncBuilder, x: string, scale: string, zp: string | null) => string): string {
  const xShape = ctx.shape(INPUT_X);
  const q = layout(ctx);
  const rank = xShape.length;
  const inputs = [operand(ctx, INPUT_X, identityMap(rank)), operand(ctx, INPUT_SCALE, paramMap(ctx, INPUT_SCALE, xShape, q))];
  const hasZp = ctx.has(INPUT_ZERO_POINT);
  if (hasZp) inputs.push(operand(ctx, INPUT_ZERO_POINT, paramMap(ctx, INPUT_ZERO_POINT, xShape, q)));
  const outT = ctx.outTensor(0);
  const [y] = ctx.b.generic({
    inputs,
    outputs: [{ value: ctx.b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(ctx.outDtype(0)) }],
    iterators: xShape.map(() => 'parallel'),
    body: (b, args) => [body(b, args[0], args[1], hasZp ? args[2] : null)],
  });
  return y;
}

/** Checks scale / zero-point shapes against x (declines what paramMap cannot express). */
function checkParams(ctx: NodeContext): void {
  const xShape = ctx.shape(INPUT_X);
  const q = layout(ctx);
  paramMap(ctx, INPUT_SCALE, xShape, q);
  if (ctx.has(INPUT_ZERO_POINT)) paramMap(ctx, INPUT_ZERO_POINT, xShape, q);
}

// ---- QuantizeLinear ----

function quantizedType(ctx: NodeContext): DataType {
  const attr = ctx.int('output_dtype', 0);
  if (!ctx.has(INPUT_ZERO_POINT)) return attr || DataType.UINT8;
  const zp = ctx.dtype(INPUT_ZERO_POINT);
  if (attr && attr !== zp) ctx.unsupported(`output_dtype ${dtypeName(attr)} differs from the zero point's ${dtypeName(zp)}`);
  return zp;
}

/** The dtype x / scale is computed in: numpy's promotion of the two, or the `precision` attribute. */
function divisionType(ctx: NodeContext): DataType {
  const precision = ctx.int('precision', 0);
  if (precision) {
    if (!isFloat(precision)) ctx.unsupported(`precision ${dtypeName(precision)} is not a float type`);
    return precision;
  }
  const x = ctx.dtype(INPUT_X);
  const s = ctx.dtype(INPUT_SCALE);
  if (x === DataType.DOUBLE || s === DataType.DOUBLE || x === DataType.INT32) return DataType.DOUBLE;
  return x === s ? x : DataType.FLOAT;
}

/** Closed integer range of an integer quantized type. */
function intRange(dt: DataType): [number, number] {
  const w = subByteBits(dt) ?? bitWidth(dt);
  return isSignedInt(dt) ? [-(2 ** (w - 1)), 2 ** (w - 1) - 1] : [0, 2 ** w - 1];
}

/** Rounds half to even, adds the zero point and saturates, computed in f32 (f64 for f64 inputs). */
function quantizeInt(b: FuncBuilder, q: string, cdt: DataType, zp: string | null, zpDt: DataType, out: DataType): string {
  const wide = cdt === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
  const s = new Scalar(b, wide);
  let v = convertScalar(b, new Scalar(b, cdt).math('roundeven', q), cdt, wide);
  if (zp !== null) v = s.add(v, convertValue(b, zp, zpDt, wide));
  const [lo, hi] = intRange(out);
  // maxnumf/minnumf send NaN to the low end, as the reference's int cast then clip does.
  v = b.op(`arith.maxnumf ${v}, ${s.const(lo)} : ${s.elem}`);
  v = b.op(`arith.minnumf ${v}, ${s.const(hi)} : ${s.elem}`);
  return convertScalar(b, v, wide, subByteBits(out) === null ? out : storageIntType(out));
}

function inferQuantize(ctx: NodeContext): TensorType[] {
  const x = ctx.dtype(INPUT_X);
  if (!isFloat(x) && x !== DataType.INT32) ctx.unsupported(`x dtype ${dtypeName(x)} is not supported (expected a float type or int32)`);
  ctx.requireDtype(INPUT_SCALE, SCALE_TYPES);
  const out = quantizedType(ctx);
  if (!INT_QUANT_TYPES.includes(out) && !FLOAT_QUANT_TYPES.includes(out)) ctx.unsupported(`quantized type ${dtypeName(out)} is not supported`);
  divisionType(ctx);
  checkParams(ctx);
  return [{ dataType: out, shape: ctx.shape(INPUT_X) }];
}

function lowerQuantize(ctx: LowerContext): string[] {
  const out = ctx.outDtype(0);
  const cdt = divisionType(ctx);
  const saturate = ctx.int('saturate', 1) !== 0;
  const zpDt = ctx.has(INPUT_ZERO_POINT) ? ctx.dtype(INPUT_ZERO_POINT) : out;
  return [lowerQuantGeneric(ctx, (b, x, scale, zp) => {
    const s = new Scalar(b, cdt);
    const q = s.div(convertValue(b, x, ctx.dtype(INPUT_X), cdt), convertValue(b, scale, ctx.dtype(INPUT_SCALE), cdt));
    if (INT_QUANT_TYPES.includes(out)) return quantizeInt(b, q, cdt, zp, zpDt, out);
    // FP8 ignores the zero point (it must be 0); FP4 adds it, as the reference does.
    const shifted = out === DataType.FLOAT4E2M1 && zp !== null ? s.add(q, convertValue(b, zp, zpDt, cdt)) : q;
    return convertValue(b, shifted, cdt, out, { saturate, roundMode: 'up' });
  })];
}

registerOp({ domain: '', op: 'QuantizeLinear', since: 10, infer: inferQuantize, lower: lowerQuantize });

// ---- DequantizeLinear ----

function inferDequantize(ctx: NodeContext): TensorType[] {
  const x = ctx.dtype(INPUT_X);
  if (!INT_QUANT_TYPES.includes(x) && !FLOAT_QUANT_TYPES.includes(x) && x !== DataType.INT32) {
    ctx.unsupported(`x dtype ${dtypeName(x)} is not a quantized type`);
  }
  const scale = ctx.requireDtype(INPUT_SCALE, SCALE_TYPES);
  if (ctx.has(INPUT_ZERO_POINT) && !isSmallFloat(x) && ctx.dtype(INPUT_ZERO_POINT) !== x) {
    ctx.unsupported(`zero point dtype ${dtypeName(ctx.dtype(INPUT_ZERO_POINT))} differs from x's ${dtypeName(x)}`);
  }
  const out = ctx.int('output_dtype', 0) || scale;
  if (!DEQUANT_OUTPUT_TYPES.includes(out)) ctx.unsupported(`output dtype ${dtypeName(out)} is not supported`);
  checkParams(ctx);
  return [{ dataType: out, shape: ctx.shape(INPUT_X) }];
}

function lowerDequantize(ctx: LowerContext): string[] {
  const x = ctx.dtype(INPUT_X);
  const f32 = DataType.FLOAT;
  return [lowerQuantGeneric(ctx, (b, v, scale, zp) => {
    const s = new Scalar(b, f32);
    let dx = convertValue(b, v, x, f32);
    // Float quantized types have no zero point to subtract (it must be 0).
    if (zp !== null && !isSmallFloat(x)) dx = s.sub(dx, convertValue(b, zp, x, f32));
    const y = s.mul(dx, convertValue(b, scale, ctx.dtype(INPUT_SCALE), f32));
    return convertValue(b, y, f32, ctx.outDtype(0));
  })];
}

registerOp({ domain: '', op: 'DequantizeLinear', since: 10, infer: inferDequantize, lower: lowerDequantize });

// ---- DynamicQuantizeLinear ----

const UINT8_MAX = 255;

/** min(0, min(x)) and max(0, max(x)) as f32 scalars: both accumulators start at 0. */
function rangeWithZero(ctx: LowerContext): [string, string] {
  const b = ctx.b;
  const shape = ctx.shape(INPUT_X);
  const scalarT = tensorTypeOf(DataType.FLOAT, []);
  const zero = b.constant(floatLiteral(0, 'f32'), 'f32');
  const init = () => b.fill(zero, 'f32', scalarT);
  const acc = affineMap(shape.length, []);
  const [mn, mx] = b.generic({
    inputs: [operand(ctx, INPUT_X, identityMap(shape.length))],
    outputs: [
      { value: init(), type: scalarT, map: acc, elem: 'f32' },
      { value: init(), type: scalarT, map: acc, elem: 'f32' },
    ],
    iterators: shape.map(() => 'reduction'),
    body: (fb, [v, lo, hi]) => {
      const s = new Scalar(fb, DataType.FLOAT);
      return [s.min(lo, v), s.max(hi, v)];
    },
  });
  return [b.op(`tensor.extract ${mn}[] : ${scalarT}`), b.op(`tensor.extract ${mx}[] : ${scalarT}`)];
}

function lowerDynamicQuantize(ctx: LowerContext): string[] {
  const b = ctx.b;
  const s = new Scalar(b, DataType.FLOAT);
  const [mn, mx] = rangeWithZero(ctx);
  // An all-zero x has an empty range; the scale is then defined as 1.
  const scale = s.select(s.cmp('eq', mx, mn), s.one(), s.div(s.sub(mx, mn), s.const(UINT8_MAX)));
  const initialZp = s.sub(s.zero(), s.div(mn, scale));
  const zpF = s.math('roundeven', b.op(`arith.maxnumf ${s.zero()}, ${b.op(`arith.minnumf ${s.const(UINT8_MAX)}, ${initialZp} : f32`)} : f32`));
  const shape = ctx.shape(INPUT_X);
  const outT = ctx.outTensor(0);
  const [y] = b.generic({
    inputs: [operand(ctx, INPUT_X, identityMap(shape.length))],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(shape.length), elem: 'i8' }],
    iterators: shape.map(() => 'parallel'),
    body: (fb, [v]) => {
      const fs = new Scalar(fb, DataType.FLOAT);
      const q = fs.add(fs.math('roundeven', fs.div(v, scale)), zpF);
      const clipped = fb.op(`arith.minnumf ${fb.op(`arith.maxnumf ${q}, ${fs.zero()} : f32`)}, ${fs.const(UINT8_MAX)} : f32`);
      return [convertScalar(fb, clipped, DataType.FLOAT, DataType.UINT8)];
    },
  });
  const zp = convertScalar(b, zpF, DataType.FLOAT, DataType.UINT8);
  return [
    y,
    b.op(`tensor.from_elements ${scale} : ${tensorTypeOf(DataType.FLOAT, [])}`),
    b.op(`tensor.from_elements ${zp} : ${tensorTypeOf(DataType.UINT8, [])}`),
  ];
}

registerOp({
  domain: '', op: 'DynamicQuantizeLinear', since: 11,
  infer: (ctx) => {
    ctx.requireDtype(INPUT_X, [DataType.FLOAT]);
    const shape = ctx.shape(INPUT_X);
    if (numel(shape) === 0) ctx.unsupported('x is empty (its range is undefined)');
    return [
      { dataType: DataType.UINT8, shape },
      { dataType: DataType.FLOAT, shape: [] },
      { dataType: DataType.UINT8, shape: [] },
    ];
  },
  lower: lowerDynamicQuantize,
});
