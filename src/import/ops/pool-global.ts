// GlobalAveragePool, GlobalMaxPool, GlobalLpPool (one reduction generic over
// the spatial dims into [N, C], an epilogue, then a reshape to [N, C, 1...])
// and MaxUnpool (a scatter loop over the flat indices).
import { DataType, elementCount } from '../../onnx/model.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { identityMap } from '../../codegen/mlir-builder.js';
import { collapseShape, elemOf, expandShape, filled, insertUnitDims, padTensor, typeOf, type Tensor } from '../../codegen/tensor-ops.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { accumulatorDtype } from '../contraction.js';
import { inputTensor } from '../quant.js';
import { explicitPads, kernelShape, spatialInts } from '../window.js';
import { lowestValue, reduceToChannels } from '../pool-core.js';
import { lpExponent, lpRoot, powAbsScalar } from './pool.js';
import { updateIf } from '../loop-helpers.js';

const FLOAT_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];

function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

function inferGlobal(ctx: NodeContext) {
  const dt = ctx.requireDtype(0, FLOAT_TYPES);
  const x = ctx.shape(0);
  if (x.length < 3) ctx.unsupported(`global pooling input must have rank >= 3, got ${x.length}`);
  return [{ dataType: dt, shape: [x[0], x[1], ...x.slice(2).map(() => 1)] }];
}

/** [N, C] back to the node's [N, C, 1...] output. */
function toOutput(ctx: LowerContext, t: Tensor): string {
  const rank = ctx.shape(0).length;
  return insertUnitDims(ctx.b, t, range(rank - 2, 2)).value;
}

function spatialSize(ctx: NodeContext): number {
  return ctx.shape(0).slice(2).reduce((p, d) => p * d, 1);
}

registerOp({
  domain: '', op: 'GlobalMaxPool', since: 1,
  infer: inferGlobal,
  lower: (ctx) => {
    const x = inputTensor(ctx, 0);
    const m = reduceToChannels(ctx.b, x, x.dt, lowestValue(x.dt), (s, a, v) => s.max(a, v));
    return [toOutput(ctx, m)];
  },
});

registerOp({
  domain: '', op: 'GlobalAveragePool', since: 1,
  infer: inferGlobal,
  lower: (ctx) => {
    const x = inputTensor(ctx, 0);
    const accDt = accumulatorDtype(x.dt);
    const sums = reduceToChannels(ctx.b, x, accDt, 0, (s, a, v) => s.add(a, v));
    const count = spatialSize(ctx);
    const out: Tensor = { value: '', dt: x.dt, shape: sums.shape };
    [out.value] = ctx.b.generic({
      inputs: [{ value: sums.value, type: typeOf(sums), map: identityMap(2), elem: elemOf(sums) }],
      outputs: [{ value: ctx.b.empty(typeOf(out)), type: typeOf(out), map: identityMap(2), elem: elemOf(out) }],
      iterators: ['parallel', 'parallel'],
      body: (bb, [v]) => {
        const s = new Scalar(bb, accDt);
        return [convertScalar(bb, s.div(v, s.const(count)), accDt, x.dt)];
      },
    });
    return [toOutput(ctx, out)];
  },
});

registerOp({
  domain: '', op: 'GlobalLpPool', since: 1,
  infer: (ctx) => {
    lpExponent(ctx);
    return inferGlobal(ctx);
  },
  lower: (ctx) => {
    const p = lpExponent(ctx);
    const x = inputTensor(ctx, 0);
    const sums = reduceToChannels(ctx.b, x, accumulatorDtype(x.dt), 0, (s, a, v) => s.add(a, powAbsScalar(s, v, p)));
    return [toOutput(ctx, lpRoot(ctx.b, sums, p, x.dt))];
  },
});

// ---- MaxUnpool ----

interface UnpoolShapes {
  /** The unpooled shape the indices address: (in - 1) * stride + kernel - pads. */
  inferred: number[];
  /** The output: output_shape when given (at least `inferred` in every dim), else `inferred`. */
  out: number[];
}

/**
 * As the ONNX reference (and its test data) have it, the indices address the
 * inferred shape even when output_shape is larger: the unpooled tensor sits
 * at the origin of the output, zero-padded at the end of each dim.
 * (onnxruntime instead reads the indices as flat positions in output_shape.)
 */
function unpoolShapes(ctx: NodeContext): UnpoolShapes {
  const x = ctx.shape(0);
  const r = x.length - 2;
  if (r < 1) ctx.unsupported(`MaxUnpool input must have rank >= 3, got ${x.length}`);
  const kernel = kernelShape(ctx, r);
  const strides = spatialInts(ctx, 'strides', r, 1);
  const pads = explicitPads(ctx, r);
  const inferred = [x[0], x[1], ...x.slice(2).map((len, i) => (len - 1) * strides[i] + kernel[i] - pads.begin[i] - pads.end[i])];
  const requested = ctx.optionalConstInts(2, 'output_shape');
  if (!requested) return { inferred, out: inferred };
  if (requested.length !== x.length) ctx.unsupported(`output_shape has ${requested.length} dims, expected ${x.length}`);
  if (requested.some((d, i) => d < inferred[i] || (i < 2 && d !== inferred[i]))) {
    ctx.unsupported(`output_shape [${requested.join(', ')}] is smaller than the unpooled shape [${inferred.join(', ')}] or changes N or C`);
  }
  return { inferred, out: requested };
}

registerOp({
  domain: '', op: 'MaxUnpool', since: 9,
  infer: (ctx) => {
    const dt = ctx.requireDtype(0, FLOAT_TYPES);
    ctx.requireDtype(1, [DataType.INT64]);
    const xs = ctx.shape(0);
    if (ctx.shape(1).join() !== xs.join()) ctx.unsupported('MaxUnpool indices must have the shape of X');
    const { inferred, out } = unpoolShapes(ctx);
    if (inferred.some((d) => d < 1)) ctx.unsupported(`MaxUnpool output shape [${inferred.join(', ')}] is empty`);
    return [{ dataType: dt, shape: out }];
  },
  lower: (ctx) => {
    const { inferred, out } = unpoolShapes(ctx);
    const y = scatterFlat(ctx, inferred);
    const zero = new Scalar(ctx.b, y.dt).zero();
    return [padTensor(ctx.b, y, inferred.map(() => 0), out.map((d, i) => d - inferred[i]), zero).value];
  },
});

/**
 * Zeros of `shape` with y.flat[indices[i]] = x.flat[i]; indices outside the
 * output are skipped (never written out of bounds).
 */
function scatterFlat(ctx: LowerContext, shape: number[]): Tensor {
  const b = ctx.b;
  const flat = (t: Tensor) => collapseShape(b, t, [range(t.shape.length)]);
  const x = flat(inputTensor(ctx, 0));
  const idx = flat(inputTensor(ctx, 1));
  const total = elementCount(shape);
  const zeros = filled(b, x.dt, [total], new Scalar(b, x.dt).zero());
  const type = typeOf(zeros);
  const [c0, c1, n, limit] = [b.index(0), b.index(1), b.index(elementCount(x.shape)), b.index(total)];
  const i = b.fresh('i');
  const acc = b.fresh('acc');
  const loop = b.fresh('scatter');
  b.emit(`${loop} = scf.for ${i} = ${c0} to ${n} step ${c1} iter_args(${acc} = ${zeros.value}) -> (${type}) {`);
  const v = b.op(`tensor.extract ${x.value}[${i}] : ${typeOf(x)}`);
  const raw = b.op(`tensor.extract ${idx.value}[${i}] : ${typeOf(idx)}`);
  const pos = b.op(`arith.index_cast ${raw} : i64 to index`);
  // Unsigned compare also rejects negative indices.
  const inside = b.op(`arith.cmpi ult, ${pos}, ${limit} : index`);
  const next = updateIf(b, inside, acc, type, (t) => b.op(`tensor.insert ${v} into ${t}[${pos}] : ${type}`));
  b.emit(`scf.yield ${next} : ${type}`);
  b.emit('}');
  const result: Tensor = { value: loop, dt: x.dt, shape: [total] };
  return expandShape(b, result, [range(shape.length)], shape);
}
