// CenterCropPad (opset 18): along each listed axis (default all) the input is
// cropped to a centred window when it is larger than the target size, or
// zero-padded equally on both sides (the extra element at the end) when it is
// smaller. Output element i of such an axis reads input i + shift, where
// shift = floor((dim - size) / 2) for a crop and -floor((size - dim) / 2) for
// a pad; reads outside the input give 0. The target shape must be constant.
import { DataType } from '../../onnx/model.js';
import { elemType, identityMap, tensorTypeOf } from '../../codegen/mlir-builder.js';
import { Scalar } from '../../codegen/scalar.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { extract, indexArith, iota, loopIndex, operand } from '../index-lowering.js';
import { reducedMask } from '../reduce-helpers.js';

interface CropPlan {
  shape: number[];
  /** Input index minus output index, per dim. */
  shift: number[];
}

function planCrop(ctx: NodeContext): CropPlan {
  const x = ctx.shape(0);
  ctx.requireDtype(1, [DataType.INT32, DataType.INT64]);
  const sizes = ctx.constInts(1, 'shape');
  const axes = ctx.ints('axes', iota(x.length));
  if (sizes.length !== axes.length) ctx.unsupported(`shape has ${sizes.length} values for ${axes.length} axes`);
  reducedMask(ctx, x.length, axes); // declines repeated or out-of-range axes
  const shape = [...x];
  const shift = x.map(() => 0);
  axes.forEach((ax, i) => {
    const a = ctx.axis(ax, x.length);
    const size = sizes[i];
    if (!Number.isSafeInteger(size) || size < 0) ctx.unsupported(`target size ${size} of axis ${a} is invalid`);
    shape[a] = size;
    shift[a] = size <= x[a] ? Math.floor((x[a] - size) / 2) : -Math.floor((size - x[a]) / 2);
  });
  if (x.some((d) => d === 0) && shape.every((d) => d > 0)) ctx.unsupported('padding an empty input is not supported');
  return { shape, shift };
}

function lowerCenterCropPad(ctx: LowerContext): string {
  const { shape, shift } = planCrop(ctx);
  const x = operand(ctx, 0);
  const b = ctx.b;
  const outT = tensorTypeOf(x.dtype, shape);
  const padded = shape.some((d, a) => shift[a] < 0 || d - 1 + shift[a] >= x.shape[a]);
  const [y] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(shape.length), elem: elemType(x.dtype) }],
    iterators: shape.map(() => 'parallel'),
    body: (bb) => {
      const src = shape.map((_, a) => {
        const i = loopIndex(bb, a);
        return shift[a] === 0 ? i : indexArith(bb, 'addi', i, bb.index(shift[a]));
      });
      if (!padded) return [extract(bb, x, src)];
      // Clamp the read into the input and select 0 where it fell outside.
      let inside = bb.constant('true', 'i1');
      const clamped = src.map((i, a) => {
        const lo = bb.op(`arith.cmpi sge, ${i}, ${bb.index(0)} : index`);
        const hi = bb.op(`arith.cmpi slt, ${i}, ${bb.index(x.shape[a])} : index`);
        inside = bb.op(`arith.andi ${inside}, ${bb.op(`arith.andi ${lo}, ${hi} : i1`)} : i1`);
        return indexArith(bb, 'minsi', indexArith(bb, 'maxsi', i, bb.index(0)), bb.index(Math.max(x.shape[a] - 1, 0)));
      });
      const s = new Scalar(bb, x.dtype);
      return [s.select(inside, extract(bb, x, clamped), s.zero())];
    },
  });
  return y;
}

registerOp({
  domain: '', op: 'CenterCropPad', since: 18,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: planCrop(ctx).shape }],
  lower: (ctx) => [lowerCenterCropPad(ctx)],
});
