// AffineGrid (opset 20): grid[n, ..., k] = theta[n, k, :] . (x, y[, z], 1)
// over the normalised base grid of the spatial size. The size input is
// usually a runtime tensor; the output shape is then the declared one.
import { DataType } from '../../onnx/model.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { elemType, identityMap } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { computeDtype, loopCoord } from '../interp.js';

const FLOAT_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];

/** Output [N, ...spatial, r] for theta [N, r, r + 1]. */
function gridShape(ctx: NodeContext): number[] {
  ctx.requireDtype(0, FLOAT_TYPES);
  const theta = ctx.shape(0);
  const r = theta[1];
  if (theta.length !== 3 || (r !== 2 && r !== 3) || theta[2] !== r + 1) ctx.unsupported(`theta [${theta.join(', ')}] must be [N, 2, 3] or [N, 3, 4]`);
  if (ctx.shape(1)[0] !== r + 2) ctx.unsupported(`size must have ${r + 2} values`);
  const size = ctx.constant(1) ? ctx.constInts(1, 'size') : null;
  const shape = size ? [theta[0], ...size.slice(2), r] : ctx.declaredOutputShape(0);
  if (!shape) return ctx.unsupported('size is a runtime value and the model declares no static output shape');
  if (shape.length !== r + 2 || shape[0] !== theta[0] || shape[r + 1] !== r || shape.some((d) => d <= 0)) {
    ctx.unsupported(`output shape [${shape.join(', ')}] does not fit theta [${theta.join(', ')}]`);
  }
  return shape;
}

/** Normalised base coordinate of position i of `len`: pixel centres in [-1, 1]. */
function baseCoord(s: Scalar, i: string, len: number, alignCorners: boolean): string {
  if (alignCorners) return len === 1 ? s.const(-1) : s.add(s.const(-1), s.mul(i, s.const(2 / (len - 1))));
  const step = 2 / len;
  return s.add(s.const(-1 + step / 2), s.mul(i, s.const(step)));
}

function lowerAffineGrid(ctx: LowerContext): string {
  const shape = gridShape(ctx);
  const r = shape.length - 2;
  const dt = ctx.dtype(0);
  const ct = computeDtype(dt);
  const alignCorners = ctx.int('align_corners', 0) !== 0;
  const b = ctx.b;
  const outT = ctx.outTensor(0);
  const theta = ctx.input(0);
  const thetaT = ctx.inType(0);
  const rank = shape.length;
  const [y] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(dt) }],
    iterators: shape.map(() => 'parallel'),
    body: (bb) => {
      const s = new Scalar(bb, ct);
      // Homogeneous base point, innermost spatial dim first: (x, y[, z], 1).
      const base = Array.from({ length: r }, (_, i) => {
        const dim = r - i;
        return baseCoord(s, loopCoord(s, dim), shape[dim], alignCorners);
      });
      const n = bb.op('linalg.index 0 : index');
      const k = bb.op(`linalg.index ${rank - 1} : index`);
      const coef = (j: number) => convertScalar(bb, bb.op(`tensor.extract ${theta}[${n}, ${k}, ${bb.index(j)}] : ${thetaT}`), dt, ct);
      const sum = base.reduce((acc, v, j) => s.add(acc, s.mul(coef(j), v)), coef(r));
      return [convertScalar(bb, sum, ct, dt)];
    },
  });
  return y;
}

registerOp({
  domain: '', op: 'AffineGrid', since: 20,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: gridShape(ctx) }],
  lower: (ctx) => [lowerAffineGrid(ctx)],
});
