// Pad (constant / reflect / edge / wrap): a linalg.generic over the output
// whose body maps each output coordinate back into the input (o - begin,
// then reflected, clamped or wrapped) and reads it with tensor.extract; in
// constant mode, coordinates outside the input select the pad value.
import { elementCount, type OnnxTensor } from '../../onnx/model.js';
import { elemType, identityMap, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { Scalar } from '../../codegen/scalar.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { canHoldNumbers, numbersToTensor } from '../tensor-data.js';
import { FILL, elementAt, indexMap, ravel, stridesOf, takeElements } from '../fold-helpers.js';
import { elementConstant, extract, indexArith, loopIndex, operand, type TensorRef } from '../index-lowering.js';

type PadMode = 'constant' | 'reflect' | 'edge' | 'wrap';

interface PadPlan {
  mode: PadMode;
  begin: number[];
  end: number[];
  shape: number[];
}

function padMode(ctx: NodeContext, allowed: readonly PadMode[]): PadMode {
  const m = ctx.string('mode', 'constant');
  const mode = allowed.find((a) => a === m);
  if (!mode) ctx.unsupported(`pad mode '${m}' is not supported at opset ${ctx.opset}`);
  return mode;
}

function planPad(ctx: NodeContext, pads: readonly number[], axes: readonly number[] | null, mode: PadMode): PadPlan {
  const input = ctx.shape(0);
  const r = input.length;
  const ax = (axes ?? input.map((_, i) => i)).map((a) => ctx.axis(a, r));
  if (new Set(ax).size !== ax.length) ctx.unsupported('axes repeat an axis');
  if (pads.length !== 2 * ax.length) ctx.unsupported(`expected ${2 * ax.length} pads, got ${pads.length}`);
  const begin = new Array<number>(r).fill(0);
  const end = new Array<number>(r).fill(0);
  ax.forEach((a, k) => {
    begin[a] = pads[k];
    end[a] = pads[k + ax.length];
  });
  const shape = input.map((d, i) => d + begin[i] + end[i]);
  if (shape.some((d) => d < 0)) ctx.unsupported(`pads [${pads.join(', ')}] crop more than [${input.join(', ')}]`);
  if (mode !== 'constant') {
    // ONNX Runtime crops before it reflects/replicates; declined rather than mimicked.
    if (pads.some((p) => p < 0)) ctx.unsupported(`negative pads with mode '${mode}'`);
    if (elementCount(shape) > 0 && input.some((d, i) => d === 0 && shape[i] > 0)) ctx.unsupported(`mode '${mode}' cannot pad an empty axis`);
  }
  return { mode, begin, end, shape };
}

/** Source coordinate of output coordinate `o` along an axis of `n` elements, or null for the pad value. */
function sourceIndex(mode: PadMode, o: number, begin: number, n: number): number | null {
  const i = o - begin;
  switch (mode) {
    case 'constant': return i >= 0 && i < n ? i : null;
    case 'edge': return Math.min(Math.max(i, 0), n - 1);
    case 'wrap': return ((i % n) + n) % n;
    case 'reflect': {
      if (n === 1) return 0;
      const period = 2 * (n - 1);
      const m = ((i % period) + period) % period;
      return m < n ? m : period - m;
    }
  }
}

/** Smallest multiple of `period` that makes o - begin non-negative for every o >= 0. */
function shiftFor(begin: number, period: number): number {
  return begin > 0 ? Math.ceil(begin / period) * period : 0;
}

/** MLIR twin of sourceIndex for non-constant modes (constant mode is handled by the caller). */
function emitSource(b: FuncBuilder, mode: PadMode, o: string, begin: number, n: number): string {
  const sub = (x: string, k: number) => (k === 0 ? x : indexArith(b, k > 0 ? 'subi' : 'addi', x, b.index(Math.abs(k))));
  if (mode === 'edge') {
    return indexArith(b, 'minsi', indexArith(b, 'maxsi', sub(o, begin), b.index(0)), b.index(n - 1));
  }
  if (mode === 'wrap') return indexArith(b, 'remsi', sub(o, begin - shiftFor(begin, n)), b.index(n));
  if (n === 1) return b.index(0);
  const period = 2 * (n - 1);
  const m = indexArith(b, 'remsi', sub(o, begin - shiftFor(begin, period)), b.index(period));
  const low = b.op(`arith.cmpi slt, ${m}, ${b.index(n)} : index`);
  return b.op(`arith.select ${low}, ${m}, ${indexArith(b, 'subi', b.index(period), m)} : index`);
}

/** Constant mode: the clamped coordinate and whether it was inside the input (null when always inside). */
function emitConstantSource(b: FuncBuilder, o: string, begin: number, end: number, n: number): { index: string; inside: string | null } {
  const i = begin === 0 ? o : indexArith(b, begin > 0 ? 'subi' : 'addi', o, b.index(Math.abs(begin)));
  if (begin <= 0 && end <= 0) return { index: i, inside: null };
  const geZero = b.op(`arith.cmpi sge, ${i}, ${b.index(0)} : index`);
  const ltN = b.op(`arith.cmpi slt, ${i}, ${b.index(n)} : index`);
  const inside = b.op(`arith.andi ${geZero}, ${ltN} : i1`);
  const index = indexArith(b, 'minsi', indexArith(b, 'maxsi', i, b.index(0)), b.index(n - 1));
  return { index, inside };
}

function emitPad(ctx: LowerContext, plan: PadPlan, padValue: (b: FuncBuilder) => string): string {
  const x: TensorRef = operand(ctx, 0);
  const b = ctx.b;
  const outT = ctx.outTensor(0);
  const elem = elemType(x.dtype);
  if (elementCount(plan.shape) === 0) return b.empty(outT);
  if (plan.mode === 'constant' && x.shape.includes(0)) return b.fill(padValue(b), elem, outT);
  const value = plan.mode === 'constant' ? padValue(b) : null;
  const [y] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(plan.shape.length), elem }],
    iterators: plan.shape.map(() => 'parallel'),
    body: (bb) => {
      const coords: string[] = [];
      let inside: string | null = null;
      x.shape.forEach((n, k) => {
        const o = loopIndex(bb, k);
        if (value === null) {
          coords.push(emitSource(bb, plan.mode, o, plan.begin[k], n));
          return;
        }
        const src = emitConstantSource(bb, o, plan.begin[k], plan.end[k], n);
        coords.push(src.index);
        if (src.inside) inside = inside ? bb.op(`arith.andi ${inside}, ${src.inside} : i1`) : src.inside;
      });
      const v = extract(bb, x, coords);
      return [inside && value ? new Scalar(bb, x.dtype).select(inside, v, value) : v];
    },
  });
  return y;
}

/** `fill`: the pad value's bytes; undefined = zeros, null = not representable. */
function foldPad(x: OnnxTensor, plan: PadPlan, fill: Uint8Array | null | undefined): OnnxTensor | null {
  if (fill === null) return null;
  const st = stridesOf(x.dims);
  const map = indexMap(plan.shape, (pos) => {
    const src: number[] = [];
    for (let k = 0; k < pos.length; k++) {
      const s = sourceIndex(plan.mode, pos[k], plan.begin[k], x.dims[k]);
      if (s === null) return FILL;
      src.push(s);
    }
    return ravel(src, st);
  });
  return takeElements(x, plan.shape, map, fill);
}

// Pad-2: pads, mode and a float pad value as attributes.
registerOp({
  domain: '', op: 'Pad', since: 2,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: planPad(ctx, ctx.ints('pads'), null, padMode(ctx, ['constant', 'reflect', 'edge'])).shape }],
  fold: (ctx, [x]) => {
    if (!x) return null;
    const plan = planPad(ctx, ctx.ints('pads'), null, padMode(ctx, ['constant', 'reflect', 'edge']));
    const fill = canHoldNumbers(x.dataType) ? numbersToTensor('', x.dataType, [1], [ctx.float('value', 0)]).data : null;
    const out = foldPad(x, plan, fill);
    return out ? [out] : null;
  },
  lower: (ctx) => {
    const plan = planPad(ctx, ctx.ints('pads'), null, padMode(ctx, ['constant', 'reflect', 'edge']));
    return [emitPad(ctx, plan, (b) => new Scalar(b, ctx.dtype(0)).const(ctx.float('value', 0)))];
  },
});

// Pad-11+: pads, constant_value and (18+) axes as inputs; wrap mode from 19.
const WRAP_SINCE = 19;

function plan11(ctx: NodeContext): PadPlan {
  const modes: PadMode[] = ctx.opset >= WRAP_SINCE ? ['constant', 'reflect', 'edge', 'wrap'] : ['constant', 'reflect', 'edge'];
  return planPad(ctx, ctx.constInts(1, 'pads'), ctx.optionalConstInts(3, 'axes'), padMode(ctx, modes));
}

/** The constant_value input: a literal when constant, else read at run time; zero when absent. */
function padValue11(ctx: LowerContext, b: FuncBuilder): string {
  if (!ctx.has(2)) return new Scalar(b, ctx.dtype(0)).zero();
  const t = ctx.constant(2);
  const lit = t && elementConstant(b, t, 0);
  if (lit) return lit;
  const cv = operand(ctx, 2);
  return extract(b, cv, cv.shape.map(() => b.index(0)));
}

registerOp({
  domain: '', op: 'Pad', since: 11,
  infer: (ctx) => {
    if (ctx.has(2) && (ctx.dtype(2) !== ctx.dtype(0) || elementCount(ctx.shape(2)) !== 1)) ctx.unsupported('constant_value must be one element of the data dtype');
    return [{ dataType: ctx.dtype(0), shape: plan11(ctx).shape }];
  },
  fold: (ctx, [x, , value]) => {
    if (!x) return null;
    const out = foldPad(x, plan11(ctx), value ? elementAt(value, 0) : undefined);
    return out ? [out] : null;
  },
  lower: (ctx) => [emitPad(ctx, plan11(ctx), (b) => padValue11(ctx, b))],
});
