// TopK with a compile-time k: for every slice along the axis, k selection
// passes (O(n·k)), pass r picking the best element that comes after pick r-1
// in the total order (value, then lower index first). Outputs are always
// sorted, which sorted=0 permits. NaN counts as larger than every number so
// the order stays total.
import { DataType } from '../../onnx/model.js';
import { isFloat, isInteger } from '../../ir/types.js';
import { Scalar } from '../../codegen/scalar.js';
import { elemType, tensorTypeOf } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import type { TensorType } from '../../ir/types.js';
import { forEachOuter, scfFor } from '../loop-helpers.js';

/** Opset from which k is an input rather than an attribute. */
const K_INPUT_SINCE = 10;
const DEFAULT_AXIS = -1;
/** Index value meaning "nothing picked yet". */
const NONE = -1;

interface TopKPlan {
  axis: number;
  k: number;
  largest: boolean;
}

function plan(ctx: NodeContext, kFromInput: boolean): TopKPlan {
  const dt = ctx.dtype(0);
  if (!isFloat(dt) && !isInteger(dt)) ctx.unsupported(`TopK of ${DataType[dt]} is not supported (expected a numeric tensor)`);
  const shape = ctx.shape(0);
  if (shape.length === 0) ctx.unsupported('TopK needs a tensor of rank >= 1');
  const axis = ctx.axis(ctx.int('axis', DEFAULT_AXIS), shape.length);
  const ks = kFromInput ? ctx.constInts(1, 'K (its value sets the output shape)') : [ctx.int('k')];
  if (ks.length !== 1) ctx.unsupported(`K must hold one value, got ${ks.length}`);
  const k = ks[0];
  if (k < 0 || k > shape[axis]) ctx.unsupported(`K=${k} is outside [0, ${shape[axis]}]`);
  return { axis, k, largest: ctx.int('largest', 1) !== 0 };
}

function infer(ctx: NodeContext, kFromInput: boolean): TensorType[] {
  const p = plan(ctx, kFromInput);
  const shape = ctx.shape(0).map((d, i) => (i === p.axis ? p.k : d));
  return [{ dataType: ctx.dtype(0), shape }, { dataType: DataType.INT64, shape }];
}

/** Total-order comparisons on one dtype: floats order NaN above +inf. */
class Order {
  constructor(private readonly s: Scalar) {}

  private isNaN(a: string): string {
    return this.s.b.op(`arith.cmpf uno, ${a}, ${a} : ${this.s.elem}`);
  }

  private and(a: string, c: string): string {
    return this.s.b.op(`arith.andi ${a}, ${c} : i1`);
  }

  or(a: string, c: string): string {
    return this.s.b.op(`arith.ori ${a}, ${c} : i1`);
  }

  greater(a: string, c: string): string {
    const gt = this.s.cmp('gt', a, c);
    if (!this.s.float) return gt;
    const nanOverNumber = this.and(this.isNaN(a), this.s.b.op(`arith.cmpf ord, ${c}, ${c} : ${this.s.elem}`));
    return this.or(gt, nanOverNumber);
  }

  same(a: string, c: string): string {
    const eq = this.s.cmp('eq', a, c);
    return this.s.float ? this.or(eq, this.and(this.isNaN(a), this.isNaN(c))) : eq;
  }

  /** a ranks before c in the requested direction (strictly, by value). */
  ahead(a: string, c: string, largest: boolean): string {
    return largest ? this.greater(a, c) : this.greater(c, a);
  }
}

function lower(ctx: LowerContext, kFromInput: boolean): string[] {
  const p = plan(ctx, kFromInput);
  const b = ctx.b;
  const dt = ctx.dtype(0);
  const shape = ctx.shape(0);
  const n = shape[p.axis];
  const elem = elemType(dt);
  const inT = ctx.inType(0);
  const x = ctx.input(0);
  const outShape = shape.map((d, i) => (i === p.axis ? p.k : d));
  const valsT = tensorTypeOf(dt, outShape);
  const idxT = tensorTypeOf(DataType.INT64, outShape);
  const s = new Scalar(b, dt);
  const ord = new Order(s);
  const none = b.constant(String(NONE), 'i64');
  const i64 = (iv: string) => b.op(`arith.index_cast ${iv} : index to i64`);
  const outs = forEachOuter(b, shape, p.axis, [{ value: b.empty(valsT), type: valsT }, { value: b.empty(idxT), type: idxT }], (ivs, [vals, idxs]) => {
    const picks = scfFor(b, p.k, [
      { value: s.zero(), type: elem }, { value: none, type: 'i64' }, { value: vals, type: valsT }, { value: idxs, type: idxT },
    ], (r, [prevV, prevI, curV, curI]) => {
      const [bestV, bestI] = scfFor(b, n, [{ value: s.zero(), type: elem }, { value: none, type: 'i64' }], (j, [bv, bi]) => {
        ivs[p.axis] = j;
        const v = b.op(`tensor.extract ${x}[${ivs.join(', ')}] : ${inT}`);
        const jj = i64(j);
        // Eligible: after the previous pick (lower value, or equal value at a higher index).
        const tieAfter = b.op(`arith.andi ${ord.same(v, prevV)}, ${b.op(`arith.cmpi sgt, ${jj}, ${prevI} : i64`)} : i1`);
        const first = b.op(`arith.cmpi eq, ${prevI}, ${none} : i64`);
        const eligible = ord.or(first, ord.or(ord.ahead(prevV, v, p.largest), tieAfter));
        // Scanning upwards, ties keep the earlier (lower) index.
        const better = ord.or(b.op(`arith.cmpi eq, ${bi}, ${none} : i64`), ord.ahead(v, bv, p.largest));
        const take = b.op(`arith.andi ${eligible}, ${better} : i1`);
        return [s.select(take, v, bv), b.op(`arith.select ${take}, ${jj}, ${bi} : i64`)];
      });
      ivs[p.axis] = r;
      const at = `[${ivs.join(', ')}]`;
      return [
        bestV, bestI,
        b.op(`tensor.insert ${bestV} into ${curV}${at} : ${valsT}`),
        b.op(`tensor.insert ${bestI} into ${curI}${at} : ${idxT}`),
      ];
    });
    return [picks[2], picks[3]];
  });
  return outs;
}

for (const [since, kFromInput] of [[1, false], [K_INPUT_SINCE, true]] as const) {
  registerOp({
    domain: '', op: 'TopK', since,
    infer: (ctx) => infer(ctx, kFromInput),
    lower: (ctx) => lower(ctx, kFromInput),
  });
}
