// ReverseSequence (opset 10): for each batch entry b, the first
// sequence_lens[b] steps along time_axis are reversed and the rest copied.
// One generic over the output reads the source step with tensor.extract.
import { DataType } from '../../onnx/model.js';
import { elemType, identityMap } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { extract, indexArith, iota, loopIndex, operand, refType, toIndex } from '../index-lowering.js';

interface Axes {
  time: number;
  batch: number;
}

function planAxes(ctx: NodeContext): Axes {
  const x = ctx.shape(0);
  if (x.length < 2) ctx.unsupported(`input must have rank >= 2, got [${x.join(', ')}]`);
  const time = ctx.int('time_axis', 0);
  const batch = ctx.int('batch_axis', 1);
  // The spec allows only axes 0 and 1, one of each.
  if (!((time === 0 && batch === 1) || (time === 1 && batch === 0))) ctx.unsupported(`time_axis ${time} / batch_axis ${batch} must be 0 and 1`);
  ctx.requireDtype(1, [DataType.INT64, DataType.INT32]);
  const lens = ctx.shape(1);
  if (lens.length !== 1 || lens[0] !== x[batch]) ctx.unsupported(`sequence_lens must have shape [${x[batch]}], got [${lens.join(', ')}]`);
  return { time, batch };
}

function lowerReverseSequence(ctx: LowerContext): string {
  const { time, batch } = planAxes(ctx);
  const x = operand(ctx, 0);
  const lens = operand(ctx, 1);
  const b = ctx.b;
  const rank = x.shape.length;
  const steps = x.shape[time];
  const outT = refType(x);
  const [y] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(x.dtype) }],
    iterators: x.shape.map(() => 'parallel'),
    body: (bb) => {
      const pos = iota(rank).map((k) => loopIndex(bb, k));
      const raw = toIndex(bb, extract(bb, lens, [pos[batch]]), lens.dtype);
      // Lengths outside [0, steps] are invalid input; clamp them so reads stay in bounds.
      const len = indexArith(bb, 'minsi', indexArith(bb, 'maxsi', raw, bb.index(0)), bb.index(steps));
      const t = pos[time];
      const inside = bb.op(`arith.cmpi slt, ${t}, ${len} : index`);
      const mirrored = indexArith(bb, 'subi', indexArith(bb, 'subi', len, bb.index(1)), t);
      const src = [...pos];
      src[time] = bb.op(`arith.select ${inside}, ${mirrored}, ${t} : index`);
      return [extract(bb, x, src)];
    },
  });
  return y;
}

registerOp({
  domain: '', op: 'ReverseSequence', since: 10,
  infer: (ctx) => {
    planAxes(ctx);
    return [ctx.type(0)];
  },
  lower: (ctx) => [lowerReverseSequence(ctx)],
});
