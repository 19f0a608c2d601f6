// GridSample (opsets 16, 20, 22) following the ONNX reference (PyTorch's
// grid_sampler): one linalg.generic over the output [N, C, ...grid dims]
// whose body denormalises the grid coordinates, applies the padding mode
// and sums the 1 (nearest), 2^r (linear) or 4^r (cubic) taps, reading the
// input with tensor.extract.
import { DataType } from '../../onnx/model.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { affineMap, elemType, identityMap } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { and, computeDtype, cubicKernel } from '../interp.js';

const FLOAT_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];
/** GridSample's fixed cubic coefficient (PyTorch's). */
const CUBIC_A = -0.75;
/** Most taps unrolled into one body (cubic on 3 spatial dims needs 64). */
const MAX_TAPS = 64;

type Mode = 'nearest' | 'linear' | 'cubic';
type Padding = 'zeros' | 'border' | 'reflection';

/** Opset 16 spells the modes bilinear / bicubic; later opsets linear / cubic. */
const MODE_NAMES: Record<string, Mode> = { nearest: 'nearest', linear: 'linear', bilinear: 'linear', cubic: 'cubic', bicubic: 'cubic' };
const PADDINGS: readonly Padding[] = ['zeros', 'border', 'reflection'];

interface GridPlan {
  mode: Mode;
  padding: Padding;
  alignCorners: boolean;
  /** Spatial dims of X. */
  dims: number[];
  outShape: number[];
}

function planGrid(ctx: NodeContext): GridPlan {
  ctx.requireDtype(0, FLOAT_TYPES);
  ctx.requireDtype(1, FLOAT_TYPES);
  const x = ctx.shape(0);
  const g = ctx.shape(1);
  const r = x.length - 2;
  if (r < 1 || g.length !== r + 2 || g[0] !== x[0] || g[r + 1] !== r) {
    ctx.unsupported(`grid [${g.join(', ')}] does not fit input [${x.join(', ')}]`);
  }
  const modeName = ctx.string('mode', ctx.opset >= 20 ? 'linear' : 'bilinear');
  const mode = MODE_NAMES[modeName] ?? ctx.unsupported(`mode '${modeName}' is not supported`);
  const padName = ctx.string('padding_mode', 'zeros');
  const padding = PADDINGS.find((p) => p === padName) ?? ctx.unsupported(`padding_mode '${padName}' is not supported`);
  const taps = mode === 'nearest' ? 1 : (mode === 'linear' ? 2 : 4) ** r;
  if (taps > MAX_TAPS) ctx.unsupported(`${mode} sampling in ${r} dims needs ${taps} taps`);
  if (x.some((d) => d === 0)) ctx.unsupported('empty input');
  return { mode, padding, alignCorners: ctx.int('align_corners', 0) !== 0, dims: x.slice(2), outShape: [x[0], x[1], ...g.slice(1, r + 1)] };
}

/** Valid coordinate range of a dim: pixel centres with align_corners, else pixel edges. */
function bounds(p: GridPlan, len: number): [number, number] {
  return p.alignCorners ? [0, len - 1] : [-0.5, len - 0.5];
}

/** Grid value n in [-1, 1] to an input coordinate. */
function denormalize(s: Scalar, p: GridPlan, n: string, len: number): string {
  const shifted = s.add(n, s.one());
  if (p.alignCorners) return s.mul(s.mul(shifted, s.const(0.5)), s.const(len - 1));
  return s.mul(s.sub(s.mul(shifted, s.const(len)), s.one()), s.const(0.5));
}

/** Reflects x into [lo, hi] by its nearer border until it lies inside (the reference's _gs_reflect). */
function reflect(s: Scalar, x: string, lo: number, hi: number): string {
  const range = hi - lo;
  if (range <= 0) return s.const(lo);
  const fold = (dx: string, near: number, far: number) => {
    const n = s.math('trunc', s.div(dx, s.const(range)));
    const rest = s.sub(dx, s.mul(n, s.const(range)));
    const even = s.cmp('eq', s.rem(n, s.const(2)), s.zero());
    const towardFar = near < far ? 1 : -1;
    const fromNear = s.add(s.const(near), s.mul(s.const(towardFar), rest));
    const fromFar = s.sub(s.const(far), s.mul(s.const(towardFar), rest));
    return s.select(even, fromNear, fromFar);
  };
  const below = fold(s.sub(s.const(lo), x), lo, hi);
  const above = fold(s.sub(x, s.const(hi)), hi, lo);
  return s.select(s.cmp('lt', x, s.const(lo)), below, s.select(s.cmp('gt', x, s.const(hi)), above, x));
}

/**
 * Coordinates outside the valid range move inside for border / reflection
 * padding before the taps are taken, as the reference does (onnxruntime
 * only pads each tap, which gives other values for cubic taps near edges).
 */
function padCoord(s: Scalar, p: GridPlan, x: string, len: number): string {
  const [lo, hi] = bounds(p, len);
  if (p.padding === 'border') return s.min(s.max(x, s.zero()), s.const(len - 1));
  if (p.padding === 'reflection') return reflect(s, x, lo, hi);
  return x;
}

/**
 * Rounding of nearest mode: half to even (nearbyint), in every rank. (The
 * current reference rounds half away from zero in 3-D, but the published
 * test data and onnxruntime round half to even.)
 */
function roundNearest(s: Scalar, x: string): string {
  return s.math('roundeven', x);
}

interface Tap {
  index: string;
  /** i1: inside the input (zeros padding reads 0 elsewhere), or null when always inside. */
  valid: string | null;
  weight: string | null;
}

/** The input index an integral float coordinate `i` reads under the padding mode. */
function pixel(s: Scalar, p: GridPlan, i: string, len: number): Tap {
  const b = s.b;
  let v = i;
  let valid: string | null = null;
  if (p.padding === 'zeros') {
    valid = b.op(`arith.andi ${s.cmp('ge', i, s.zero())}, ${s.cmp('le', i, s.const(len - 1))} : i1`);
  } else if (p.padding === 'border') {
    v = s.min(s.max(i, s.zero()), s.const(len - 1));
  } else {
    const [lo, hi] = bounds(p, len);
    v = reflect(s, i, lo, hi);
  }
  // Truncation toward zero (the reference's int()); clamped so that reads stay in bounds.
  const n = b.op(`arith.fptosi ${v} : ${s.elem} to i64`);
  const c = b.op(`arith.minsi ${b.op(`arith.maxsi ${n}, ${b.constant('0', 'i64')} : i64`)}, ${b.constant(String(len - 1), 'i64')} : i64`);
  return { index: b.op(`arith.index_cast ${c} : i64 to index`), valid, weight: null };
}

/** Taps of one spatial dim at coordinate x (already padded). */
function dimTaps(s: Scalar, p: GridPlan, x: string, len: number): Tap[] {
  if (p.mode === 'nearest') return [pixel(s, p, roundNearest(s, x), len)];
  const x0 = s.math('floor', x);
  const t = s.sub(x, x0);
  if (p.mode === 'linear') {
    return [
      { ...pixel(s, p, x0, len), weight: s.sub(s.one(), t) },
      { ...pixel(s, p, s.add(x0, s.one()), len), weight: t },
    ];
  }
  return [-1, 0, 1, 2].map((k) => ({
    ...pixel(s, p, s.add(x0, s.const(k)), len),
    weight: cubicKernel(s, s.sub(t, s.const(k)), CUBIC_A),
  }));
}

/** All combinations of one tap per dim. */
function combinations(perDim: Tap[][]): Tap[][] {
  return perDim.reduce<Tap[][]>((acc, taps) => acc.flatMap((c) => taps.map((t) => [...c, t])), [[]]);
}

function lowerGrid(ctx: LowerContext): string {
  const p = planGrid(ctx);
  const b = ctx.b;
  const r = p.dims.length;
  const rank = r + 2;
  const dt = ctx.dtype(0);
  const gdt = ctx.dtype(1);
  const ct = computeDtype(dt);
  const outT = ctx.outTensor(0);
  const x = ctx.input(0);
  const xType = ctx.inType(0);
  // Grid component k (x, y, z order) of output position (n, c, o...): grid[n, o..., k].
  const gridMap = (k: number) => affineMap(rank, ['d0', ...p.dims.map((_, i) => `d${i + 2}`), String(k)]);
  const [y] = b.generic({
    inputs: p.dims.map((_, k) => ({ value: ctx.input(1), type: ctx.inType(1), map: gridMap(k), elem: elemType(gdt) })),
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(dt) }],
    iterators: p.outShape.map(() => 'parallel'),
    body: (bb, args) => {
      const s = new Scalar(bb, ct);
      // The grid lists coordinates innermost dim first.
      const perDim = p.dims.map((len, i) => {
        const coord = denormalize(s, p, convertScalar(bb, args[r - 1 - i], gdt, ct), len);
        return dimTaps(s, p, padCoord(s, p, coord, len), len);
      });
      const lead = [bb.op('linalg.index 0 : index'), bb.op('linalg.index 1 : index')];
      const terms = combinations(perDim).map((combo) => {
        const v = convertScalar(bb, bb.op(`tensor.extract ${x}[${[...lead, ...combo.map((t) => t.index)].join(', ')}] : ${xType}`), dt, ct);
        const ok = and(bb, combo.flatMap((t) => (t.valid ? [t.valid] : [])));
        const read = ok ? s.select(ok, v, s.zero()) : v;
        const weights = combo.flatMap((t) => (t.weight ? [t.weight] : []));
        return weights.length ? s.mul(weights.reduce((a, c) => s.mul(a, c)), read) : read;
      });
      return [convertScalar(bb, terms.reduce((a, c) => s.add(a, c)), ct, dt)];
    },
  });
  return y;
}

registerOp({
  domain: '', op: 'GridSample', since: 16,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: planGrid(ctx).outShape }],
  lower: (ctx) => [lowerGrid(ctx)],
});

