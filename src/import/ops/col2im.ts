// Col2Im (opset 18) as a gather: every output pixel sums, over the kernel
// offsets k, the column entry of the block that covers it with offset k
// (if any). One linalg.generic over [N, C, ...image, K] with K a reduction.
// block_shape is often a runtime tensor: its values are read by the
// generated code (K = prod(block_shape) is static: input dim 1 / C).
import { DataType } from '../../onnx/model.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { affineMap, elemType, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { filled } from '../../codegen/tensor-ops.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { and, computeDtype } from '../interp.js';
import { spatialInts } from '../window.js';

const FLOAT_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];

interface Col2ImPlan {
  outShape: number[];
  /** Kernel positions per channel (prod(block_shape)). */
  k: number;
  /** Blocks (input dim 2). */
  l: number;
  strides: number[];
  dilations: number[];
  padBegin: number[];
  padEnd: number[];
}

function planCol2Im(ctx: NodeContext): Col2ImPlan {
  ctx.requireDtype(0, FLOAT_TYPES);
  const x = ctx.shape(0);
  if (x.length !== 3) ctx.unsupported(`input must be [N, C*prod(block), L], got [${x.join(', ')}]`);
  const r = ctx.shape(1)[0];
  if (ctx.shape(2)[0] !== r || r < 1) ctx.unsupported('image_shape and block_shape must have the same length');
  const image = ctx.constant(1) ? ctx.constInts(1, 'image_shape') : null;
  const block = ctx.constant(2) ? ctx.constInts(2, 'block_shape') : null;
  let outShape = ctx.declaredOutputShape(0);
  if (image && block) {
    const k = block.reduce((p, v) => p * v, 1);
    outShape = [x[0], k > 0 ? x[1] / k : 0, ...image];
  }
  if (!outShape) return ctx.unsupported('image_shape / block_shape are runtime values and the model declares no static output shape');
  const c = outShape[1];
  if (outShape.length !== r + 2 || outShape[0] !== x[0] || !(c > 0) || x[1] % c !== 0 || outShape.some((d) => !Number.isInteger(d) || d <= 0)) {
    ctx.unsupported(`output shape [${outShape.join(', ')}] does not fit input [${x.join(', ')}]`);
  }
  const pads = spatialInts(ctx, 'pads', 2 * r, 0);
  return {
    outShape, k: x[1] / c, l: x[2],
    strides: spatialInts(ctx, 'strides', r, 1),
    dilations: spatialInts(ctx, 'dilations', r, 1),
    padBegin: pads.slice(0, r),
    padEnd: pads.slice(r),
  };
}

/** block_shape entries as index values (function level). */
function blockDims(ctx: LowerContext, r: number): string[] {
  const b = ctx.b;
  return Array.from({ length: r }, (_, i) => {
    const v = b.op(`tensor.extract ${ctx.input(2)}[${b.index(i)}] : ${ctx.inType(2)}`);
    return b.op(`arith.index_cast ${v} : ${elemType(ctx.dtype(2))} to index`);
  });
}

function ix(b: FuncBuilder, op: string, x: string, y: string): string {
  return b.op(`arith.${op} ${x}, ${y} : index`);
}

function lowerCol2Im(ctx: LowerContext): string {
  const p = planCol2Im(ctx);
  const b = ctx.b;
  const r = p.outShape.length - 2;
  const dt = ctx.dtype(0);
  const ct = computeDtype(dt);
  const blocks = blockDims(ctx, r);
  // Blocks along dim d: (image + pads - dilated kernel) / stride + 1.
  const counts = blocks.map((k, d) => {
    const span = ix(b, 'muli', ix(b, 'subi', k, b.index(1)), b.index(p.dilations[d]));
    const room = ix(b, 'subi', b.index(p.outShape[d + 2] + p.padBegin[d] + p.padEnd[d] - 1), span);
    return ix(b, 'addi', ix(b, 'divsi', room, b.index(p.strides[d])), b.index(1));
  });
  const x = ctx.input(0);
  const xType = ctx.inType(0);
  const rank = r + 2;
  const acc = filled(b, ct, p.outShape, new Scalar(b, ct).zero());
  const accT = tensorTypeOf(ct, p.outShape);
  // Shape-only operand giving the reduction dim its extent (its values are never read).
  const kT = tensorTypeOf(ct, [p.k]);
  const [sum] = b.generic({
    inputs: [{ value: b.empty(kT), type: kT, map: affineMap(rank + 1, [`d${rank}`]), elem: elemType(ct) }],
    outputs: [{ value: acc.value, type: accT, map: affineMap(rank + 1, Array.from({ length: rank }, (_, i) => `d${i}`)), elem: elemType(ct) }],
    iterators: [...p.outShape.map(() => 'parallel' as const), 'reduction'],
    body: (bb, [, accum]) => {
      const s = new Scalar(bb, ct);
      const kflat = bb.op(`linalg.index ${rank} : index`);
      const zero = bb.index(0);
      // Kernel offset per dim (row-major in block_shape), and the block it implies.
      let rest = kflat;
      const offs: string[] = new Array<string>(r);
      for (let d = r - 1; d >= 0; d--) {
        offs[d] = ix(bb, 'remsi', rest, blocks[d]);
        rest = ix(bb, 'divsi', rest, blocks[d]);
      }
      const conds: string[] = [];
      let bflat = zero;
      for (let d = 0; d < r; d++) {
        const y = bb.op(`linalg.index ${d + 2} : index`);
        const t = ix(bb, 'subi', ix(bb, 'addi', y, bb.index(p.padBegin[d])), ix(bb, 'muli', offs[d], bb.index(p.dilations[d])));
        const stride = bb.index(p.strides[d]);
        const blk = ix(bb, 'divsi', t, stride);
        conds.push(bb.op(`arith.cmpi sge, ${t}, ${zero} : index`));
        conds.push(bb.op(`arith.cmpi eq, ${ix(bb, 'remsi', t, stride)}, ${zero} : index`));
        conds.push(bb.op(`arith.cmpi slt, ${blk}, ${counts[d]} : index`));
        bflat = ix(bb, 'addi', ix(bb, 'muli', bflat, counts[d]), blk);
      }
      const ok = and(bb, conds) ?? bb.constant('true', 'i1');
      // Reads stay in bounds even for masked-out positions.
      const safe = ix(bb, 'minsi', ix(bb, 'maxsi', bflat, zero), bb.index(p.l - 1));
      const ch = ix(bb, 'addi', ix(bb, 'muli', bb.op('linalg.index 1 : index'), bb.index(p.k)), kflat);
      const v = convertScalar(bb, bb.op(`tensor.extract ${x}[${bb.op('linalg.index 0 : index')}, ${ch}, ${safe}] : ${xType}`), dt, ct);
      return [s.add(accum, s.select(ok, v, s.zero()))];
    },
  });
  if (ct === dt) return sum;
  const outT = ctx.outTensor(0);
  const ident = affineMap(rank, Array.from({ length: rank }, (_, i) => `d${i}`));
  const [y] = b.generic({
    inputs: [{ value: sum, type: accT, map: ident, elem: elemType(ct) }],
    outputs: [{ value: b.empty(outT), type: outT, map: ident, elem: elemType(dt) }],
    iterators: p.outShape.map(() => 'parallel'),
    body: (bb, [v]) => [convertScalar(bb, v, ct, dt)],
  });
  return y;
}

registerOp({
  domain: '', op: 'Col2Im', since: 18,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: planCol2Im(ctx).outShape }],
  lower: (ctx) => [lowerCol2Im(ctx)],
});
