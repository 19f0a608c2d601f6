// NonMaxSuppression (opset 10/11), as onnxruntime's CPU kernel computes it:
// per batch and class, candidates (above score_threshold when it is given)
// in order of decreasing score (ties: lower box index first) are selected
// greedily unless their IoU with a box already selected for that class
// exceeds iou_threshold, up to max_output_boxes_per_class (absent or 0: none).
//
// The output size depends on the data: compiled at its largest size —
// batches × classes × boxes rows, or × max_output_boxes_per_class when that is
// a constant — with the number of rows selected as the count the runtime
// trims it to (bounded-lowering.ts). The thresholds and the limit are read at
// run time; no variant per value is needed.
import { DataType } from '../../onnx/model.js';
import { Scalar } from '../../codegen/scalar.js';
import { floatLiteral, tensorTypeOf, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { registerOp, type BoundedOutput } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { extract, operand, type TensorRef } from '../index-lowering.js';
import { forEachOuter, scfFor, scfRange, updateIf } from '../loop-helpers.js';
import { bump, countTensor, indexToI64 } from '../bounded-lowering.js';
import { sortIndices } from '../sort-lowering.js';
import { tensorToNumbers } from '../tensor-data.js';

const MAX_OUTPUT = 2;
const IOU_THRESHOLD = 3;
const SCORE_THRESHOLD = 4;
/** (batch, class, box) per selected row. */
const TRIPLE = 3;

interface NmsPlan {
  batches: number;
  classes: number;
  boxes: number;
  /** Selections per class at most: the box count, or a constant max_output_boxes_per_class if smaller. */
  perClass: number;
  centerPointBox: boolean;
}

function plan(ctx: NodeContext): NmsPlan {
  const boxes = ctx.shape(0);
  const scores = ctx.shape(1);
  for (const i of [0, 1, IOU_THRESHOLD, SCORE_THRESHOLD]) {
    if (ctx.has(i) && ctx.dtype(i) !== DataType.FLOAT) ctx.unsupported(`input ${i} must be float32, got ${DataType[ctx.dtype(i)]}`);
  }
  if (boxes.length !== 3 || boxes[2] !== 4) ctx.unsupported(`boxes must be [batches, boxes, 4], got [${boxes.join(', ')}]`);
  if (scores.length !== 3 || scores[0] !== boxes[0] || scores[2] !== boxes[1]) {
    ctx.unsupported(`scores must be [${boxes[0]}, classes, ${boxes[1]}], got [${scores.join(', ')}]`);
  }
  for (const i of [MAX_OUTPUT, IOU_THRESHOLD, SCORE_THRESHOLD]) {
    if (ctx.has(i) && ctx.shape(i).some((d) => d !== 1)) ctx.unsupported(`input ${i} must hold a single value`);
  }
  const center = ctx.int('center_point_box', 0);
  if (center !== 0 && center !== 1) ctx.unsupported(`center_point_box must be 0 or 1, got ${center}`);
  const limit = ctx.has(MAX_OUTPUT) ? ctx.constant(MAX_OUTPUT) : null;
  const constLimit = !ctx.has(MAX_OUTPUT) ? 0 : limit ? Math.max(0, tensorToNumbers(limit)[0] ?? 0) : Infinity;
  return { batches: boxes[0], classes: scores[1], boxes: boxes[1], perClass: Math.min(boxes[1], constLimit), centerPointBox: center === 1 };
}

function bounded(ctx: NodeContext): BoundedOutput[] {
  const p = plan(ctx);
  return [{ type: { dataType: DataType.INT64, shape: [p.batches * p.classes * p.perClass, TRIPLE] }, trimAxis: 0 }];
}

/** The single element of an optional scalar-like input; null when it is absent. */
function scalarInput(ctx: LowerContext, i: number): string | null {
  if (!ctx.has(i)) return null;
  const t = operand(ctx, i);
  return extract(ctx.b, t, t.shape.map(() => ctx.b.index(0)));
}

/** A box as its x and y extents ([min, max] each), from corners or from centre and size. */
interface Extent {
  x: [string, string];
  y: [string, string];
}

class BoxGeometry {
  private readonly f: Scalar;

  constructor(private readonly b: FuncBuilder, private readonly boxes: TensorRef, private readonly center: boolean) {
    this.f = new Scalar(b, DataType.FLOAT);
  }

  extent(batch: string, box: string): Extent {
    const b = this.b;
    const c = [0, 1, 2, 3].map((k) => extract(b, this.boxes, [batch, box, b.index(k)]));
    if (!this.center) {
      // [y1, x1, y2, x2], any diagonal pair of corners.
      const span = (p: string, q: string): [string, string] => [this.f.min(p, q), this.f.max(p, q)];
      return { x: span(c[1], c[3]), y: span(c[0], c[2]) };
    }
    // [x_center, y_center, width, height].
    const two = this.f.const(2);
    const around = (mid: string, size: string): [string, string] => {
      const half = this.f.div(size, two);
      return [this.f.sub(mid, half), this.f.add(mid, half)];
    };
    return { x: around(c[0], c[2]), y: around(c[1], c[3]) };
  }

  /** onnxruntime's SuppressByIOU: the boxes overlap with IoU above the threshold (every degenerate case: no). */
  suppresses(a: Extent, c: Extent, threshold: string): string {
    const f = this.f;
    const b = this.b;
    const lo = (k: 'x' | 'y') => f.max(a[k][0], c[k][0]);
    const hi = (k: 'x' | 'y') => f.min(a[k][1], c[k][1]);
    const [x0, x1, y0, y1] = [lo('x'), hi('x'), lo('y'), hi('y')];
    const inter = f.mul(f.sub(x1, x0), f.sub(y1, y0));
    const area = (e: Extent) => f.mul(f.sub(e.x[1], e.x[0]), f.sub(e.y[1], e.y[0]));
    const [areaA, areaC] = [area(a), area(c)];
    const union = f.sub(f.add(areaA, areaC), inter);
    const zero = f.zero();
    const conds = [f.cmp('gt', x1, x0), f.cmp('gt', y1, y0), f.cmp('gt', inter, zero), f.cmp('gt', areaA, zero), f.cmp('gt', areaC, zero), f.cmp('gt', union, zero)];
    conds.push(f.cmp('gt', f.div(inter, union), threshold));
    return conds.reduce((acc, x) => b.op(`arith.andi ${acc}, ${x} : i1`));
  }
}

/** Runtime limits: selections per class, the IoU threshold and the score filter (null: none). */
interface Limits {
  maxOut: string;
  iou: string;
  score: string | null;
}

function limits(ctx: LowerContext): Limits {
  const b = ctx.b;
  const zero = b.constant('0', 'i64');
  const clamped = b.op(`arith.maxsi ${scalarInput(ctx, MAX_OUTPUT) ?? zero}, ${zero} : i64`);
  return {
    maxOut: b.op(`arith.index_cast ${clamped} : i64 to index`),
    iou: scalarInput(ctx, IOU_THRESHOLD) ?? b.constant(floatLiteral(0, 'f32'), 'f32'),
    score: scalarInput(ctx, SCORE_THRESHOLD),
  };
}

function lower(ctx: LowerContext): string[] {
  const b = ctx.b;
  const p = plan(ctx);
  const boxes = operand(ctx, 0);
  const scores = operand(ctx, 1);
  const lim = limits(ctx);
  const geo = new BoxGeometry(b, boxes, p.centerPointBox);
  const f = new Scalar(b, DataType.FLOAT);
  const outT = tensorTypeOf(DataType.INT64, [p.batches * p.classes * p.perClass, TRIPLE]);
  const permT = tensorTypeOf(DataType.INT64, [p.boxes]);
  const [res, total] = forEachOuter(b, [p.batches, p.classes], -1, [{ value: b.empty(outT), type: outT }, { value: b.index(0), type: 'index' }], ([bi, ci], [out, count]) => {
    const score = (box: string) => extract(b, scores, [bi, ci, box]);
    const order = sortIndices(b, p.boxes, (x, y) => f.cmp('gt', score(x), score(y)));
    const classStart = count;
    const [out2, count2] = scfFor(b, p.boxes, [{ value: out, type: outT }, { value: count, type: 'index' }], (k, [acc, n]) => {
      const box = b.op(`arith.index_cast ${b.op(`tensor.extract ${order}[${k}] : ${permT}`)} : i64 to index`);
      const here = b.op(`arith.subi ${n}, ${classStart} : index`);
      const room = b.op(`arith.cmpi slt, ${here}, ${lim.maxOut} : index`);
      const passes = lim.score === null ? room : b.op(`arith.andi ${room}, ${f.cmp('gt', score(box), lim.score)} : i1`);
      const cand = geo.extent(bi, box);
      const [hit] = scfRange(b, classStart, n, b.index(1), [{ value: b.constant('false', 'i1'), type: 'i1' }], (s, [any]) => {
        const kept = b.op(`arith.index_cast ${b.op(`tensor.extract ${acc}[${s}, ${b.index(2)}] : ${outT}`)} : i64 to index`);
        return [b.op(`arith.ori ${any}, ${geo.suppresses(geo.extent(bi, kept), cand, lim.iou)} : i1`)];
      });
      const take = b.op(`arith.andi ${passes}, ${b.op(`arith.xori ${hit}, ${b.constant('true', 'i1')} : i1`)} : i1`);
      // Only when taken: the output holds perClass rows per class, fewer than the
      // candidates, so once every row is filled n is one past the last row.
      const row = updateIf(b, take, acc, outT, (t) =>
        [bi, ci, box].reduce((r, v, j) => b.op(`tensor.insert ${indexToI64(b, v)} into ${r}[${n}, ${b.index(j)}] : ${outT}`), t));
      return [row, bump(b, n, take)];
    });
    return [out2, count2];
  });
  return [res, countTensor(b, total)];
}

for (const since of [10, 11]) {
  registerOp({
    domain: '', op: 'NonMaxSuppression', since,
    infer: (ctx) => ctx.unsupported('NonMaxSuppression has a data-dependent output shape'),
    bounded: (ctx) => bounded(ctx),
    lower,
  });
}
