// DeformConv (opsets 19, 22), 2-D: a convolution whose kernel taps sample
// the input bilinearly (zeros outside) at positions shifted by `offset`,
// scaled by the optional `mask`. One linalg.generic over
// [N, OC, OH, OW, IC/group, KH, KW] (the last three reductions) whose body
// reads offsets, mask and the four input corners with tensor.extract.
import { DataType } from '../../onnx/model.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { affineMap, elemType, identityMap, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { broadcastTo, filled, type Tensor } from '../../codegen/tensor-ops.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { computeDtype, indexToFloat } from '../interp.js';
import { kernelShape, spatialInts } from '../window.js';

const FLOAT_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];
const SPATIAL = 2;
/** Input indices. */
const BIAS = 3;
const MASK = 4;

interface DeformPlan {
  outShape: number[];
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  group: number;
  offsetGroup: number;
}

function planDeform(ctx: NodeContext): DeformPlan {
  ctx.requireDtype(0, FLOAT_TYPES);
  const x = ctx.shape(0);
  const w = ctx.shape(1);
  const off = ctx.shape(2);
  if (x.length !== SPATIAL + 2) ctx.unsupported(`only 2-D DeformConv is supported, input is [${x.join(', ')}]`);
  const kernel = kernelShape(ctx, SPATIAL, w.slice(2));
  const group = ctx.int('group', 1);
  const offsetGroup = ctx.int('offset_group', 1);
  const [n, c] = x;
  const oc = w[0];
  const taps = kernel[0] * kernel[1];
  if (!(group > 0) || c !== w[1] * group || oc % group !== 0) ctx.unsupported(`weight [${w.join(', ')}] does not fit input [${x.join(', ')}] with group ${group}`);
  if (!(offsetGroup > 0) || c % offsetGroup !== 0) ctx.unsupported(`offset_group ${offsetGroup} does not divide ${c} channels`);
  if (off.length !== 4 || off[0] !== n || off[1] !== offsetGroup * taps * SPATIAL) ctx.unsupported(`offset [${off.join(', ')}] does not fit the kernel`);
  const outShape = [n, oc, off[2], off[3]];
  if (ctx.has(BIAS) && (ctx.shape(BIAS).length !== 1 || ctx.shape(BIAS)[0] !== oc)) ctx.unsupported('bias must have OC elements');
  if (ctx.has(MASK)) {
    const m = ctx.shape(MASK);
    if (m.length !== 4 || m[0] !== n || m[1] !== offsetGroup * taps || m[2] !== off[2] || m[3] !== off[3]) ctx.unsupported(`mask [${m.join(', ')}] does not fit`);
  }
  return {
    outShape, kernel, group, offsetGroup,
    strides: spatialInts(ctx, 'strides', SPATIAL, 1),
    dilations: spatialInts(ctx, 'dilations', SPATIAL, 1),
    pads: spatialInts(ctx, 'pads', 2 * SPATIAL, 0),
  };
}

function ix(b: FuncBuilder, op: string, x: string, y: string): string {
  return b.op(`arith.${op} ${x}, ${y} : index`);
}

/** Bilinear sample of x[n, ch] at (h, w), corners outside the image reading zero. */
function bilinearZeros(s: Scalar, x: Tensor, xv: string, lead: string[], h: string, w: string): string {
  const b = s.b;
  const [hLen, wLen] = x.shape.slice(2);
  const h0 = s.math('floor', h);
  const w0 = s.math('floor', w);
  const th = s.sub(h, h0);
  const tw = s.sub(w, w0);
  const corner = (hi: string, wi: string) => {
    const ok = b.op(`arith.andi ${inside(s, hi, hLen)}, ${inside(s, wi, wLen)} : i1`);
    const v = b.op(`tensor.extract ${xv}[${[...lead, safeIndex(s, hi, hLen), safeIndex(s, wi, wLen)].join(', ')}] : ${tensorTypeOf(x.dt, x.shape)}`);
    return s.select(ok, convertScalar(b, v, x.dt, s.dt), s.zero());
  };
  const h1 = s.add(h0, s.one());
  const w1 = s.add(w0, s.one());
  const top = s.add(s.mul(s.sub(s.one(), tw), corner(h0, w0)), s.mul(tw, corner(h0, w1)));
  const bottom = s.add(s.mul(s.sub(s.one(), tw), corner(h1, w0)), s.mul(tw, corner(h1, w1)));
  return s.add(s.mul(s.sub(s.one(), th), top), s.mul(th, bottom));
}

function inside(s: Scalar, i: string, len: number): string {
  return s.b.op(`arith.andi ${s.cmp('ge', i, s.zero())}, ${s.cmp('le', i, s.const(len - 1))} : i1`);
}

/** Integral float i as an index clamped into [0, len-1] (masked reads stay in bounds). */
function safeIndex(s: Scalar, i: string, len: number): string {
  const b = s.b;
  const n = b.op(`arith.fptosi ${s.min(s.max(i, s.zero()), s.const(len - 1))} : ${s.elem} to i64`);
  return b.op(`arith.index_cast ${n} : i64 to index`);
}

/** Accumulator [N, OC, OH, OW] in the compute type, seeded with the bias when given. */
function initAcc(ctx: LowerContext, p: DeformPlan, ct: DataType): Tensor {
  if (!(ctx.has(BIAS))) return filled(ctx.b, ct, p.outShape, new Scalar(ctx.b, ct).zero());
  const bias: Tensor = { value: ctx.input(BIAS), dt: ctx.dtype(BIAS), shape: ctx.shape(BIAS) };
  return broadcastTo(ctx.b, bias, affineMap(4, ['d1']), p.outShape, ct);
}

function lowerDeform(ctx: LowerContext): string {
  const p = planDeform(ctx);
  const b = ctx.b;
  const dt = ctx.dtype(0);
  const ct = computeDtype(dt);
  const x: Tensor = { value: ctx.input(0), dt, shape: ctx.shape(0) };
  const wShape = ctx.shape(1);
  const [kh, kw] = p.kernel;
  const taps = kh * kw;
  const icPerGroup = wShape[1];
  const ocPerGroup = p.outShape[1] / p.group;
  const icPerOffsetGroup = x.shape[1] / p.offsetGroup;
  const hasMask = ctx.has(MASK);
  const offset = ctx.input(2);
  const offsetT = ctx.inType(2);
  const acc = initAcc(ctx, p, ct);
  const accT = tensorTypeOf(ct, p.outShape);
  const [sum] = b.generic({
    inputs: [{ value: ctx.input(1), type: ctx.inType(1), map: affineMap(7, ['d1', 'd4', 'd5', 'd6']), elem: elemType(ctx.dtype(1)) }],
    outputs: [{ value: acc.value, type: accT, map: affineMap(7, ['d0', 'd1', 'd2', 'd3']), elem: elemType(ct) }],
    iterators: ['parallel', 'parallel', 'parallel', 'parallel', 'reduction', 'reduction', 'reduction'],
    body: (bb, [wv, accum]) => {
      const s = new Scalar(bb, ct);
      const [n, oc, oh, ow, ic, ki, kj] = Array.from({ length: 7 }, (_, d) => bb.op(`linalg.index ${d} : index`));
      const channel = ix(bb, 'addi', ix(bb, 'muli', ix(bb, 'divsi', oc, bb.index(ocPerGroup)), bb.index(icPerGroup)), ic);
      const og = ix(bb, 'divsi', channel, bb.index(icPerOffsetGroup));
      const tap = ix(bb, 'addi', ix(bb, 'muli', ki, bb.index(kw)), kj);
      const offCh = ix(bb, 'addi', ix(bb, 'muli', og, bb.index(2 * taps)), ix(bb, 'muli', tap, bb.index(2)));
      const readOff = (ch: string) => convertScalar(bb, bb.op(`tensor.extract ${offset}[${n}, ${ch}, ${oh}, ${ow}] : ${offsetT}`), ctx.dtype(2), ct);
      const pos = (o: string, k: string, d: number, shift: string) => {
        const base = ix(bb, 'addi', ix(bb, 'muli', o, bb.index(p.strides[d])), ix(bb, 'muli', k, bb.index(p.dilations[d])));
        return s.add(s.sub(indexToFloat(s, base), s.const(p.pads[d])), shift);
      };
      const h = pos(oh, ki, 0, readOff(offCh));
      const w = pos(ow, kj, 1, readOff(ix(bb, 'addi', offCh, bb.index(1))));
      let v = s.mul(convertScalar(bb, wv, ctx.dtype(1), ct), bilinearZeros(s, x, x.value, [n, channel], h, w));
      if (hasMask) {
        const mch = ix(bb, 'addi', ix(bb, 'muli', og, bb.index(taps)), tap);
        const m = bb.op(`tensor.extract ${ctx.input(MASK)}[${n}, ${mch}, ${oh}, ${ow}] : ${ctx.inType(MASK)}`);
        v = s.mul(v, convertScalar(bb, m, ctx.dtype(MASK), ct));
      }
      return [s.add(accum, v)];
    },
  });
  if (ct === dt) return sum;
  const outT = ctx.outTensor(0);
  const [y] = b.generic({
    inputs: [{ value: sum, type: accT, map: identityMap(4), elem: elemType(ct) }],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(4), elem: elemType(dt) }],
    iterators: ['parallel', 'parallel', 'parallel', 'parallel'],
    body: (bb, [v]) => [convertScalar(bb, v, ct, dt)],
  });
  return y;
}

registerOp({
  domain: '', op: 'DeformConv', since: 19,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: planDeform(ctx).outShape }],
  lower: (ctx) => [lowerDeform(ctx)],
});
