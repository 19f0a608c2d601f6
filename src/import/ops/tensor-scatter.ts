// TensorScatter (opset 24), the KV-cache update: present = past with
// update's rows written along `axis` from write_indices[batch] on (modulo
// max_sequence_length in circular mode). Lowered in gather form over the
// output: position p along the axis takes update row s = p - w (mod max in
// circular mode) when 0 <= s < sequence_length, else the past value. The
// inverse is unique because sequence_length <= max_sequence_length.
import { elemType, identityMap, tensorTypeOf, affineMap } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import { extract, loopIndex, operand, toIndex } from '../index-lowering.js';

const DEFAULT_AXIS = -2;
const WRITE_INDICES = 2;

interface ScatterPlan {
  axis: number;
  circular: boolean;
  shape: number[];
  seqLen: number;
}

function plan(ctx: NodeContext): ScatterPlan {
  const shape = ctx.shape(0);
  const upd = ctx.shape(1);
  if (ctx.dtype(1) !== ctx.dtype(0)) ctx.unsupported('update and past_cache dtypes differ');
  if (shape.length < 2 || upd.length !== shape.length) ctx.unsupported(`past_cache [${shape.join(', ')}] and update [${upd.join(', ')}] ranks must match (>= 2)`);
  const axis = ctx.axis(ctx.int('axis', DEFAULT_AXIS), shape.length);
  if (axis === 0) ctx.unsupported('axis must not be the batch axis');
  if (upd.some((d, i) => i !== axis && d !== shape[i]) || upd[axis] > shape[axis]) {
    ctx.unsupported(`update [${upd.join(', ')}] does not fit past_cache [${shape.join(', ')}] along axis ${axis}`);
  }
  if (ctx.has(WRITE_INDICES) && (ctx.rank(WRITE_INDICES) !== 1 || ctx.shape(WRITE_INDICES)[0] !== shape[0])) ctx.unsupported('write_indices must have shape [batch_size]');
  const mode = ctx.string('mode', 'linear');
  if (mode !== 'linear' && mode !== 'circular') ctx.unsupported(`mode '${mode}' is not linear or circular`);
  return { axis, circular: mode === 'circular', shape, seqLen: upd[axis] };
}

registerOp({
  domain: '', op: 'TensorScatter', since: 24,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: plan(ctx).shape }],
  lower: (ctx) => {
    const p = plan(ctx);
    const b = ctx.b;
    const rank = p.shape.length;
    const past = operand(ctx, 0);
    const update = operand(ctx, 1);
    const outT = tensorTypeOf(past.dtype, p.shape);
    const inputs = [{ value: past.value, type: ctx.inType(0), map: identityMap(rank), elem: elemType(past.dtype) }];
    const idx = ctx.has(WRITE_INDICES) ? operand(ctx, WRITE_INDICES) : null;
    if (idx) inputs.push({ value: idx.value, type: ctx.inType(WRITE_INDICES), map: affineMap(rank, ['d0']), elem: elemType(idx.dtype) });
    const max = p.shape[p.axis];
    const [y] = b.generic({
      inputs,
      outputs: [{ value: b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(past.dtype) }],
      iterators: p.shape.map(() => 'parallel'),
      body: (bb, args) => {
        const ivs = p.shape.map((_, k) => loopIndex(bb, k));
        const w = idx ? toIndex(bb, args[1], idx.dtype) : bb.index(0);
        let s = bb.op(`arith.subi ${ivs[p.axis]}, ${w} : index`);
        if (p.circular) {
          const r = bb.op(`arith.remsi ${s}, ${bb.index(max)} : index`);
          const neg = bb.op(`arith.cmpi slt, ${r}, ${bb.index(0)} : index`);
          s = bb.op(`arith.select ${neg}, ${bb.op(`arith.addi ${r}, ${bb.index(max)} : index`)}, ${r} : index`);
        }
        // Unsigned compare: s < 0 wraps around and fails too.
        const written = bb.op(`arith.cmpi ult, ${s}, ${bb.index(p.seqLen)} : index`);
        const safe = bb.op(`arith.select ${written}, ${s}, ${bb.index(0)} : index`);
        const u = extract(bb, update, ivs.map((v, k) => (k === p.axis ? safe : v)));
        return [bb.op(`arith.select ${written}, ${u}, ${args[0]} : ${elemType(past.dtype)}`)];
      },
    });
    return [y];
  },
});

