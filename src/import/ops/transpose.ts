// Transpose → linalg.transpose (identity permutations are a no-op).
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import { permuteDims, takeElements, transposeMap } from '../fold-helpers.js';

/** The permutation, defaulting to reversed axes; declined unless it is a permutation of the input's axes. */
function permutation(ctx: NodeContext): number[] {
  const r = ctx.rank(0);
  const perm = ctx.ints('perm', Array.from({ length: r }, (_, i) => r - 1 - i));
  const seen = new Set(perm);
  if (perm.length !== r || seen.size !== r || perm.some((p) => p < 0 || p >= r)) {
    ctx.unsupported(`perm [${perm.join(', ')}] is not a permutation of ${r} axes`);
  }
  return perm;
}

registerOp({
  domain: '', op: 'Transpose', since: 1,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: permuteDims(ctx.shape(0), permutation(ctx)) }],
  fold: (ctx, [x]) => {
    if (!x) return null;
    const perm = permutation(ctx);
    const out = takeElements(x, permuteDims(x.dims, perm), transposeMap(x.dims, perm));
    return out ? [out] : null;
  },
  lower: (ctx) => {
    const perm = permutation(ctx);
    if (perm.every((p, i) => p === i)) return [ctx.input(0)];
    const outT = ctx.outTensor(0);
    const init = ctx.b.empty(outT);
    return [ctx.b.op(`linalg.transpose ins(${ctx.input(0)} : ${ctx.inType(0)}) outs(${init} : ${outT}) permutation = [${perm.join(', ')}]`)];
  },
});
