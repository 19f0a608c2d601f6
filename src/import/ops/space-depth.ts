// DepthToSpace and SpaceToDepth: pure permutations of NCHW data, lowered as
// one linalg.generic whose input map is affine (floordiv/mod by the block
// size) and folded through the same coordinate formula.
import { affineMap, elemType, identityMap } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { indexMap, ravel, stridesOf, takeElements } from '../fold-helpers.js';
import { operand, refType } from '../index-lowering.js';

const NCHW_RANK = 4;

/** Output coordinates → input coordinates, as numbers (folding) and as affine expressions (lowering). */
interface BlockMapping {
  outShape: number[];
  source: (o: readonly number[]) => number[];
  affine: string[];
}

function nchw(ctx: NodeContext): { n: number; c: number; h: number; w: number; bs: number } {
  const s = ctx.shape(0);
  if (s.length !== NCHW_RANK) ctx.unsupported(`input must be rank ${NCHW_RANK} (NCHW), got rank ${s.length}`);
  const bs = ctx.int('blocksize');
  if (bs <= 0) ctx.unsupported(`blocksize ${bs} must be positive`);
  return { n: s[0], c: s[1], h: s[2], w: s[3], bs };
}

function depthToSpace(ctx: NodeContext): BlockMapping {
  const { n, c, h, w, bs } = nchw(ctx);
  if (c % (bs * bs) !== 0) ctx.unsupported(`channels ${c} are not divisible by blocksize² ${bs * bs}`);
  const oc = c / (bs * bs);
  const crd = ctx.string('mode', 'DCR') === 'CRD';
  // DCR: depth is (bh, bw, c); CRD: depth is (c, bh, bw).
  const channel = (cc: number, bh: number, bw: number) => (crd ? cc * bs * bs + bh * bs + bw : bh * bs * oc + bw * oc + cc);
  const affineChannel = crd
    ? `d1 * ${bs * bs} + (d2 mod ${bs}) * ${bs} + d3 mod ${bs}`
    : `(d2 mod ${bs}) * ${bs * oc} + (d3 mod ${bs}) * ${oc} + d1`;
  return {
    outShape: [n, oc, h * bs, w * bs],
    source: ([b, cc, y, x]) => [b, channel(cc, y % bs, x % bs), Math.floor(y / bs), Math.floor(x / bs)],
    affine: ['d0', affineChannel, `d2 floordiv ${bs}`, `d3 floordiv ${bs}`],
  };
}

function spaceToDepth(ctx: NodeContext): BlockMapping {
  const { n, c, h, w, bs } = nchw(ctx);
  if (h % bs !== 0 || w % bs !== 0) ctx.unsupported(`spatial dims ${h}x${w} are not divisible by blocksize ${bs}`);
  // Output channel = (bh * bs + bw) * C + c.
  return {
    outShape: [n, c * bs * bs, h / bs, w / bs],
    source: ([b, oc, y, x]) => [b, oc % c, y * bs + Math.floor(oc / (c * bs)), x * bs + (Math.floor(oc / c) % bs)],
    affine: ['d0', `d1 mod ${c}`, `d2 * ${bs} + d1 floordiv ${c * bs}`, `d3 * ${bs} + (d1 floordiv ${c}) mod ${bs}`],
  };
}

function lowerBlocks(ctx: LowerContext, m: BlockMapping): string {
  const x = operand(ctx, 0);
  const outT = ctx.outTensor(0);
  const elem = elemType(x.dtype);
  const [y] = ctx.b.generic({
    inputs: [{ value: x.value, type: refType(x), map: affineMap(NCHW_RANK, m.affine), elem }],
    outputs: [{ value: ctx.b.empty(outT), type: outT, map: identityMap(NCHW_RANK), elem }],
    iterators: m.outShape.map(() => 'parallel'),
    body: (_b, [v]) => [v],
  });
  return y;
}

for (const [op, mapping] of [['DepthToSpace', depthToSpace], ['SpaceToDepth', spaceToDepth]] as const) {
  registerOp({
    domain: '', op, since: 1,
    infer: (ctx) => [{ dataType: ctx.dtype(0), shape: mapping(ctx).outShape }],
    fold: (ctx, [x]) => {
      if (!x) return null;
      const m = mapping(ctx);
      const st = stridesOf(x.dims);
      const out = takeElements(x, m.outShape, indexMap(m.outShape, (o) => ravel(m.source(o), st)));
      return out ? [out] : null;
    },
    lower: (ctx) => [lowerBlocks(ctx, mapping(ctx))],
  });
}
