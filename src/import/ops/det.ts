// Det (opset 11) for matrices up to 3x3 by cofactor expansion: every matrix
// entry is read as its own generic operand (constant indices in the map), so
// the lowering is a single elementwise generic over the batch dims. Larger
// matrices would need a pivoted LU and are declined.
import { DataType } from '../../onnx/model.js';
import { isFloat } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { affineMap } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import { accumulatorDtype, mapGeneric, type Operand } from '../reduce-helpers.js';

/** Largest matrix order computed in closed form. */
const MAX_ORDER = 3;

function order(ctx: NodeContext): number {
  const dt = ctx.dtype(0);
  if (!isFloat(dt)) ctx.unsupported(`Det of ${DataType[dt]} is not supported (expected a float tensor)`);
  const shape = ctx.shape(0);
  const n = shape[shape.length - 1];
  if (shape.length < 2 || shape[shape.length - 2] !== n) ctx.unsupported(`Det needs [..., M, M] input, got [${shape.join(', ')}]`);
  if (n < 1 || n > MAX_ORDER) ctx.unsupported(`Det of ${n}x${n} matrices is not supported (closed form up to ${MAX_ORDER}x${MAX_ORDER})`);
  return n;
}

/** Determinant of the n×n matrix m (row-major scalars), by expansion along the first row. */
function det(s: Scalar, m: string[], n: number): string {
  if (n === 1) return m[0];
  const at = (r: number, c: number) => m[r * n + c];
  if (n === 2) return s.sub(s.mul(at(0, 0), at(1, 1)), s.mul(at(0, 1), at(1, 0)));
  let total: string | null = null;
  for (let c = 0; c < n; c++) {
    const minor: string[] = [];
    for (let r = 1; r < n; r++) for (let k = 0; k < n; k++) if (k !== c) minor.push(at(r, k));
    const term = s.mul(at(0, c), det(s, minor, n - 1));
    total = total === null ? term : c % 2 ? s.sub(total, term) : s.add(total, term);
  }
  return total ?? s.zero();
}

registerOp({
  domain: '', op: 'Det', since: 11,
  infer: (ctx) => {
    order(ctx);
    return [{ dataType: ctx.dtype(0), shape: ctx.shape(0).slice(0, -2) }];
  },
  lower: (ctx) => {
    const n = order(ctx);
    const dt = ctx.dtype(0);
    const accDt = accumulatorDtype(dt);
    const shape = ctx.shape(0);
    const batch = shape.slice(0, -2);
    const x = { value: ctx.input(0), dt, shape };
    const dims = batch.map((_, i) => `d${i}`);
    const entries: Operand[] = [];
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) entries.push({ ref: x, map: affineMap(batch.length, [...dims, String(r), String(c)]) });
    return [mapGeneric(ctx.b, dt, batch, entries, (fb, m) => {
      const s = new Scalar(fb, accDt);
      return convertScalar(fb, det(s, m.map((v) => convertScalar(fb, v, dt, accDt)), n), accDt, dt);
    }).value];
  },
});
