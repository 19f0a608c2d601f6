// RoiAlign (opsets 10, 16, 22) with a fixed sampling grid (sampling_ratio
// > 0): one linalg.generic over the output [R, C, PH, PW] whose body reads
// the ROI box, and averages (or maxes) the bilinear samples of its bin,
// unrolled, following the ONNX reference (onnxruntime's kernel).
import { DataType } from '../../onnx/model.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import { elemType, identityMap } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { computeDtype, indexToFloat } from '../interp.js';

const FLOAT_TYPES: readonly DataType[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];
const INDEX_TYPES: readonly DataType[] = [DataType.INT64, DataType.INT32];
/** Most samples per bin unrolled into the body. */
const MAX_SAMPLES = 64;
/** Box corners per ROI row: x1, y1, x2, y2. */
const BOX = 4;

interface RoiPlan {
  outShape: number[];
  grid: number;
  scale: number;
  halfPixel: boolean;
  max: boolean;
}

function planRoi(ctx: NodeContext): RoiPlan {
  ctx.requireDtype(0, FLOAT_TYPES);
  ctx.requireDtype(1, FLOAT_TYPES);
  ctx.requireDtype(2, INDEX_TYPES);
  const x = ctx.shape(0);
  const rois = ctx.shape(1);
  const idx = ctx.shape(2);
  if (x.length !== 4 || rois.length !== 2 || rois[1] !== BOX || idx.length !== 1 || idx[0] !== rois[0]) {
    ctx.unsupported(`inputs X [${x.join(', ')}], rois [${rois.join(', ')}], batch_indices [${idx.join(', ')}] do not fit`);
  }
  if (x.some((d) => d === 0)) ctx.unsupported('empty input');
  const grid = ctx.int('sampling_ratio', 0);
  // sampling_ratio 0 sizes the grid per ROI at run time (ceil(roi / bins)): not unrollable.
  if (grid <= 0) ctx.unsupported('adaptive sampling (sampling_ratio 0) is not supported');
  if (grid * grid > MAX_SAMPLES) ctx.unsupported(`sampling_ratio ${grid} needs more than ${MAX_SAMPLES} samples per bin`);
  const modeName = ctx.string('mode', 'avg');
  if (modeName !== 'avg' && modeName !== 'max') ctx.unsupported(`mode '${modeName}' is not supported`);
  const coord = ctx.opset >= 16 ? ctx.string('coordinate_transformation_mode', 'half_pixel') : 'output_half_pixel';
  if (coord !== 'half_pixel' && coord !== 'output_half_pixel') ctx.unsupported(`coordinate_transformation_mode '${coord}' is not supported`);
  const ph = ctx.int('output_height', 1);
  const pw = ctx.int('output_width', 1);
  if (!(ph > 0 && pw > 0)) ctx.unsupported('output_height / output_width must be positive');
  return { outShape: [rois[0], x[1], ph, pw], grid, scale: ctx.float('spatial_scale', 1), halfPixel: coord === 'half_pixel', max: modeName === 'max' };
}

/**
 * Weighted corner values of the bilinear sample at (y, x): four terms,
 * all zero when the point lies beyond one pixel outside the map.
 */
function sampleTerms(s: Scalar, read: (yi: string, xi: string) => string, yIn: string, xIn: string, h: number, w: number): string[] {
  const b = s.b;
  const outside = [s.cmp('lt', yIn, s.const(-1)), s.cmp('gt', yIn, s.const(h)), s.cmp('lt', xIn, s.const(-1)), s.cmp('gt', xIn, s.const(w))]
    .reduce((a, c) => b.op(`arith.ori ${a}, ${c} : i1`));
  const axis = (v: string, len: number) => {
    const c = s.max(v, s.zero());
    // low = trunc(c); at or past the last element both neighbours are the last one.
    const low = s.min(s.math('floor', c), s.const(len - 1));
    const atEnd = s.cmp('ge', s.math('floor', c), s.const(len - 1));
    const pos = s.select(atEnd, low, c);
    const high = s.select(atEnd, low, s.add(low, s.one()));
    const frac = s.sub(pos, low);
    const toIndex = (f: string) => b.op(`arith.index_cast ${b.op(`arith.fptosi ${f} : ${s.elem} to i64`)} : i64 to index`);
    return { lo: toIndex(low), hi: toIndex(high), l: frac, hw: s.sub(s.one(), frac) };
  };
  const y = axis(yIn, h);
  const x = axis(xIn, w);
  const zero = s.zero();
  const weight = (a: string, c: string) => s.select(outside, zero, s.mul(a, c));
  return [
    s.mul(weight(y.hw, x.hw), read(y.lo, x.lo)),
    s.mul(weight(y.hw, x.l), read(y.lo, x.hi)),
    s.mul(weight(y.l, x.hw), read(y.hi, x.lo)),
    s.mul(weight(y.l, x.l), read(y.hi, x.hi)),
  ];
}

function lowerRoi(ctx: LowerContext): string {
  const p = planRoi(ctx);
  const b = ctx.b;
  const dt = ctx.dtype(0);
  const ct = computeDtype(dt);
  const [, , h, w] = ctx.shape(0);
  const batch = ctx.shape(0)[0];
  const [, , ph, pw] = p.outShape;
  const outT = ctx.outTensor(0);
  const x = ctx.input(0);
  const xT = ctx.inType(0);
  const [y] = b.generic({
    inputs: [],
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(4), elem: elemType(dt) }],
    iterators: ['parallel', 'parallel', 'parallel', 'parallel'],
    body: (bb) => {
      const s = new Scalar(bb, ct);
      const [r, c, oy, ox] = [0, 1, 2, 3].map((d) => bb.op(`linalg.index ${d} : index`));
      const rawBatch = bb.op(`tensor.extract ${ctx.input(2)}[${r}] : ${ctx.inType(2)}`);
      const n = bb.op(`arith.index_cast ${rawBatch} : ${elemType(ctx.dtype(2))} to index`);
      const safeN = bb.op(`arith.minsi ${bb.op(`arith.maxsi ${n}, ${bb.index(0)} : index`)}, ${bb.index(batch - 1)} : index`);
      const offset = s.const(p.halfPixel ? 0.5 : 0);
      const corner = (k: number) => {
        const v = convertScalar(bb, bb.op(`tensor.extract ${ctx.input(1)}[${r}, ${bb.index(k)}] : ${ctx.inType(1)}`), ctx.dtype(1), ct);
        return s.sub(s.mul(v, s.const(p.scale)), offset);
      };
      const [x1, y1, x2, y2] = [0, 1, 2, 3].map(corner);
      // output_half_pixel (legacy) forces malformed ROIs to at least 1x1.
      const extent = (lo: string, hi: string) => (p.halfPixel ? s.sub(hi, lo) : s.max(s.sub(hi, lo), s.one()));
      const binH = s.div(extent(y1, y2), s.const(ph));
      const binW = s.div(extent(x1, x2), s.const(pw));
      const binY = s.add(y1, s.mul(indexToFloat(s, oy), binH));
      const binX = s.add(x1, s.mul(indexToFloat(s, ox), binW));
      const read = (yi: string, xi: string) => convertScalar(bb, bb.op(`tensor.extract ${x}[${safeN}, ${c}, ${yi}, ${xi}] : ${xT}`), dt, ct);
      const samples: string[] = [];
      for (let iy = 0; iy < p.grid; iy++) {
        const sy = s.add(binY, s.mul(s.const((iy + 0.5) / p.grid), binH));
        for (let ix = 0; ix < p.grid; ix++) {
          const sx = s.add(binX, s.mul(s.const((ix + 0.5) / p.grid), binW));
          const terms = sampleTerms(s, read, sy, sx, h, w);
          // Max mode keeps the largest weighted corner (as the reference and onnxruntime do).
          samples.push(terms.reduce((a, t) => (p.max ? s.max(a, t) : s.add(a, t))));
        }
      }
      const v = p.max ? samples.reduce((a, t) => s.max(a, t)) : s.div(samples.reduce((a, t) => s.add(a, t)), s.const(samples.length));
      return [convertScalar(bb, v, ct, dt)];
    },
  });
  return y;
}

registerOp({
  domain: '', op: 'RoiAlign', since: 10,
  infer: (ctx) => [{ dataType: ctx.dtype(0), shape: planRoi(ctx).outShape }],
  lower: (ctx) => [lowerRoi(ctx)],
});
