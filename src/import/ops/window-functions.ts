// HannWindow, HammingWindow and BlackmanWindow (opset 17): cosine sums over
// n in [0, size) with period N = size (periodic, the default) or size - 1
// (symmetric). The size must be a compile-time constant (it is the output
// shape); the values are computed in f64 and cast to output_datatype.
import { DataType } from '../../onnx/model.js';
import { bitWidth, isFloat, isInteger, mlirElementType } from '../../ir/types.js';
import { elemType, identityMap, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';

/** y[n] = sum_k a_k cos(2 pi k n / N), as coefficients a_0, a_1, ... */
const WINDOWS: Record<string, readonly number[]> = {
  HannWindow: [0.5, -0.5],
  HammingWindow: [25 / 46, -21 / 46],
  BlackmanWindow: [0.42, -0.5, 0.08],
};

/** Narrowest integer output (sub-byte integer types are not outputs of these ops). */
const BYTE_BITS = 8;

interface WindowPlan {
  size: number;
  period: number;
  dt: DataType;
}

function planWindow(ctx: NodeContext): WindowPlan {
  ctx.requireDtype(0, [DataType.INT32, DataType.INT64]);
  const size = ctx.constInts(0, 'size')[0];
  if (!Number.isSafeInteger(size) || size < 0) ctx.unsupported(`size must be a non-negative integer, got ${size}`);
  const periodic = ctx.int('periodic', 1) !== 0;
  const period = periodic ? size : size - 1;
  // A symmetric window of one sample divides by a zero period.
  if (period === 0 && size > 0) ctx.unsupported('a symmetric window needs size >= 2');
  const dt = ctx.int('output_datatype', DataType.FLOAT);
  const representable = mlirElementType(dt) !== null;
  if (!representable || !(isFloat(dt) || (isInteger(dt) && bitWidth(dt) >= BYTE_BITS))) ctx.unsupported(`output_datatype ${DataType[dt] ?? dt} is not supported`);
  return { size, period, dt };
}

function emitWindow(b: FuncBuilder, coeffs: readonly number[], p: WindowPlan): string {
  const outT = tensorTypeOf(p.dt, [p.size]);
  const [y] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(1), elem: elemType(p.dt) }],
    iterators: ['parallel'],
    body: (bb) => {
      const s = new Scalar(bb, DataType.DOUBLE);
      const i = bb.op(`arith.index_cast ${bb.op('linalg.index 0 : index')} : index to i64`);
      const n = bb.op(`arith.sitofp ${i} : i64 to f64`);
      const phase = s.div(s.mul(n, s.const(2 * Math.PI)), s.const(p.period));
      let acc = s.const(coeffs[0]);
      for (let k = 1; k < coeffs.length; k++) {
        acc = s.add(acc, s.mul(s.const(coeffs[k]), s.math('cos', s.mul(phase, s.const(k)))));
      }
      return [convertScalar(bb, acc, DataType.DOUBLE, p.dt)];
    },
  });
  return y;
}

for (const [op, coeffs] of Object.entries(WINDOWS)) {
  registerOp({
    domain: '', op, since: 17,
    infer: (ctx: NodeContext) => {
      const p = planWindow(ctx);
      return [{ dataType: p.dt, shape: [p.size] }];
    },
    lower: (ctx: LowerContext) => [emitWindow(ctx.b, coeffs, planWindow(ctx))],
  });
}
