// MatMul, Gemm, MatMulInteger and QLinearMatMul: a named linalg contraction
// into a zero-filled accumulator, followed (when needed) by one elementwise
// epilogue generic for scaling, bias and the narrowing conversion.
import { DataType } from '../../onnx/model.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { broadcastMap, elemType, identityMap } from '../../codegen/mlir-builder.js';
import { collapseShape, convertTensor, elemOf, expandShape, typeOf, type Tensor } from '../../codegen/tensor-ops.js';
import { packedMatmul, packPanels, packsWeight, panelLayout } from '../packed-matmul.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { broadcastShapes } from '../elementwise.js';
import { accumulatorDtype, emitMatMul, matmul2d, matmulShape } from '../contraction.js';
import { QUANT_TYPES, checkQuantParam, inputTensor, requantize, requireFloatScale, subtractZeroPoint } from '../quant.js';

const MATMUL_TYPES: readonly DataType[] = [
  DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16,
  DataType.INT32, DataType.INT64, DataType.UINT32, DataType.UINT64,
];

registerOp({
  domain: '', op: 'MatMul', since: 1,
  infer: (ctx) => {
    const dt = ctx.requireDtype(0, MATMUL_TYPES);
    if (ctx.dtype(1) !== dt) ctx.unsupported('MatMul operands must share a dtype');
    return [{ dataType: dt, shape: matmulShape(ctx, ctx.shape(0), ctx.shape(1)) }];
  },
  lower: (ctx) => {
    const dt = ctx.dtype(0);
    const packed = dt === DataType.FLOAT ? packedWeightMatmul(ctx) : null;
    if (packed) return [packed];
    const acc = emitMatMul(ctx.b, inputTensor(ctx, 0), inputTensor(ctx, 1), accumulatorDtype(dt));
    return [convertTensor(ctx.b, acc, dt).value];
  },
});

/** A [..., M, K] · a constant weight [K, N] with the weight packed (import/packed-matmul.ts); null when it does not apply. */
function packedWeightMatmul(ctx: LowerContext): string | null {
  const a = ctx.shape(0);
  const w = ctx.shape(1);
  if (a.length < 2 || w.length !== 2) return null;
  const [k, n] = w;
  const rows = a.slice(0, -1).reduce((x, y) => x * y, 1);
  const columns = ctx.target.panelColumns;
  if (!packsWeight(rows, k, n, columns)) return null;
  const panels = ctx.derivedWeight(1, panelLayout(columns), (t) => packPanels(t, columns));
  if (!panels) return null;
  const a2 = collapseShape(ctx.b, inputTensor(ctx, 0), [a.slice(0, -1).map((_, i) => i), [a.length - 1]]);
  const c = packedMatmul(ctx.b, a2, panels, n, columns);
  return expandShape(ctx.b, c, [a.slice(0, -1).map((_, i) => i), [a.length - 1]], [...a.slice(0, -1), n]).value;
}

// ---- Gemm ----

interface GemmShape {
  m: number;
  k: number;
  n: number;
}

function gemmShape(ctx: NodeContext): GemmShape {
  const a = ctx.shape(0);
  const w = ctx.shape(1);
  if (a.length !== 2 || w.length !== 2) ctx.unsupported('Gemm operands must be 2-D');
  const [m, k] = ctx.int('transA', 0) ? [a[1], a[0]] : a;
  const [k2, n] = ctx.int('transB', 0) ? [w[1], w[0]] : w;
  if (k !== k2) ctx.unsupported(`Gemm inner dims differ: ${k} vs ${k2}`);
  return { m, k, n };
}

registerOp({
  domain: '', op: 'Gemm', since: 7,
  infer: (ctx) => {
    const dt = ctx.requireDtype(0, [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);
    if (ctx.dtype(1) !== dt) ctx.unsupported('Gemm operands must share a dtype');
    const { m, n } = gemmShape(ctx);
    if (ctx.has(2)) {
      if (ctx.dtype(2) !== dt) ctx.unsupported('Gemm C must have the dtype of A');
      // C broadcasts one way only: the result must stay [M, N].
      const out = broadcastShapes(ctx, [ctx.shape(2), [m, n]]);
      if (out.length !== 2 || out[0] !== m || out[1] !== n) ctx.unsupported(`Gemm C [${ctx.shape(2).join(', ')}] does not broadcast to [${m}, ${n}]`);
    }
    return [{ dataType: dt, shape: [m, n] }];
  },
  lower: (ctx) => {
    const dt = ctx.dtype(0);
    const accDt = accumulatorDtype(dt);
    const acc = matmul2d(ctx.b, inputTensor(ctx, 0), inputTensor(ctx, 1), accDt, ctx.int('transA', 0) !== 0, ctx.int('transB', 0) !== 0);
    return [gemmEpilogue(ctx, acc, dt)];
  },
});

/** y = alpha * acc + beta * C, narrowed to `dt`; skipped when it would be the identity. */
function gemmEpilogue(ctx: LowerContext, acc: Tensor, dt: DataType): string {
  const alpha = ctx.float('alpha', 1);
  const beta = ctx.float('beta', 1);
  const withC = ctx.has(2) && beta !== 0;
  if (alpha === 1 && !withC) return convertTensor(ctx.b, acc, dt).value;
  const outShape = acc.shape;
  const outT = ctx.outTensor(0);
  const inputs = [{ value: acc.value, type: typeOf(acc), map: identityMap(2), elem: elemOf(acc) }];
  if (withC) inputs.push({ value: ctx.input(2), type: ctx.inType(2), map: broadcastMap(ctx.shape(2), outShape), elem: elemOf(inputTensor(ctx, 2)) });
  const [y] = ctx.b.generic({
    inputs,
    outputs: [{ value: ctx.b.empty(outT), type: outT, map: identityMap(2), elem: elemType(dt) }],
    iterators: ['parallel', 'parallel'],
    body: (b, [v, c]) => {
      const s = new Scalar(b, acc.dt);
      let r = alpha === 1 ? v : s.mul(v, s.const(alpha));
      if (withC) {
        const cw = convertScalar(b, c, dt, acc.dt);
        r = s.add(r, beta === 1 ? cw : s.mul(cw, s.const(beta)));
      }
      return [convertScalar(b, r, acc.dt, dt)];
    },
  });
  return y;
}

// ---- integer and quantized matmul ----

/** Rows of A / columns of B, for per-axis zero points and scales. */
function quantAxes(ctx: NodeContext, a: number, w: number): { rows: number | null; cols: number | null } {
  const as = ctx.shape(a);
  const ws = ctx.shape(w);
  return { rows: as.length >= 2 ? as[as.length - 2] : null, cols: ws.length >= 2 ? ws[ws.length - 1] : null };
}

function optionalInput(ctx: LowerContext, i: number): Tensor | null {
  return ctx.has(i) ? inputTensor(ctx, i) : null;
}

/** A and B minus their zero points, as i32, multiplied with numpy matmul semantics. */
function integerProduct(ctx: LowerContext, a: number, aZp: number, w: number, wZp: number): Tensor {
  const at = inputTensor(ctx, a);
  const wt = inputTensor(ctx, w);
  const a32 = subtractZeroPoint(ctx.b, at, optionalInput(ctx, aZp), at.shape.length - 2);
  const w32 = subtractZeroPoint(ctx.b, wt, optionalInput(ctx, wZp), wt.shape.length - 1);
  return emitMatMul(ctx.b, a32, w32, DataType.INT32);
}

registerOp({
  domain: '', op: 'MatMulInteger', since: 10,
  infer: (ctx) => {
    ctx.requireDtype(0, QUANT_TYPES);
    ctx.requireDtype(1, QUANT_TYPES);
    const { rows, cols } = quantAxes(ctx, 0, 1);
    checkQuantParam(ctx, 2, rows, 'a_zero_point');
    checkQuantParam(ctx, 3, cols, 'b_zero_point');
    return [{ dataType: DataType.INT32, shape: matmulShape(ctx, ctx.shape(0), ctx.shape(1)) }];
  },
  lower: (ctx) => [integerProduct(ctx, 0, 2, 1, 3).value],
});

registerOp({
  domain: '', op: 'QLinearMatMul', since: 10,
  infer: (ctx) => {
    ctx.requireDtype(0, QUANT_TYPES);
    ctx.requireDtype(3, QUANT_TYPES);
    const outDt = ctx.requireDtype(7, QUANT_TYPES);
    for (const i of [1, 4, 6]) requireFloatScale(ctx, i);
    const { rows, cols } = quantAxes(ctx, 0, 3);
    checkQuantParam(ctx, 1, rows, 'a_scale');
    checkQuantParam(ctx, 2, rows, 'a_zero_point');
    checkQuantParam(ctx, 4, cols, 'b_scale');
    checkQuantParam(ctx, 5, cols, 'b_zero_point');
    checkQuantParam(ctx, 6, null, 'y_scale');
    checkQuantParam(ctx, 7, null, 'y_zero_point');
    return [{ dataType: outDt, shape: matmulShape(ctx, ctx.shape(0), ctx.shape(3)) }];
  },
  lower: (ctx) => {
    const acc = integerProduct(ctx, 0, 2, 3, 5);
    const rank = acc.shape.length;
    const aRows = ctx.shape(0).length >= 2 ? rank - (ctx.shape(3).length >= 2 ? 2 : 1) : 0;
    const y = requantize(ctx.b, {
      acc,
      scales: [{ t: inputTensor(ctx, 1), axis: aRows }, { t: inputTensor(ctx, 4), axis: rank - 1 }],
      yScale: inputTensor(ctx, 6),
      yZeroPoint: inputTensor(ctx, 7),
      outDt: ctx.dtype(7),
    });
    return [y.value];
  },
});
