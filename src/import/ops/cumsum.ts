// CumSum (opset 11; 14 only adds types) and CumProd (opset 26): scalar
// loops, the innermost along the axis carrying the running sum or product
// (stored before combining for `exclusive`, walked from the end for
// `reverse`). A runtime axis dispatches between per-axis loop nests with
// scf.index_switch.
import { DataType, type OnnxTensor } from '../../onnx/model.js';
import { isFloat, isInteger } from '../../ir/types.js';
import { Scalar } from '../../codegen/scalar.js';
import { elemType, type FuncBuilder } from '../../codegen/mlir-builder.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { canHoldNumbers, numbersToTensor, tensorToNumbers } from '../tensor-data.js';
import { typeOf, type TensorRef } from '../reduce-helpers.js';
import { forEachOuter, scfFor } from '../loop-helpers.js';

/** The scan's combining operation: its identity (the first exclusive value) and step. */
interface ScanKind {
  op: string;
  identity: number;
  fold: (acc: number, v: number) => number;
  emit: (s: Scalar, acc: string, v: string) => string;
}

const SUM: ScanKind = { op: 'CumSum', identity: 0, fold: (a, v) => a + v, emit: (s, a, v) => s.add(a, v) };
const PRODUCT: ScanKind = { op: 'CumProd', identity: 1, fold: (a, v) => a * v, emit: (s, a, v) => s.mul(a, v) };

interface ScanFlags {
  kind: ScanKind;
  exclusive: boolean;
  reverse: boolean;
}

function flags(ctx: NodeContext, kind: ScanKind): ScanFlags {
  return { kind, exclusive: ctx.int('exclusive', 0) !== 0, reverse: ctx.int('reverse', 0) !== 0 };
}

function checkTypes(ctx: NodeContext): void {
  const dt = ctx.dtype(0);
  if (!isFloat(dt) && !isInteger(dt)) ctx.unsupported(`${ctx.node.op} of ${DataType[dt]} is not supported (expected a numeric tensor)`);
  if (ctx.shape(0).length === 0) ctx.unsupported(`${ctx.node.op} needs a tensor of rank >= 1`);
  const a = ctx.shape(1);
  if (a.length > 1 || (a.length === 1 && a[0] !== 1)) ctx.unsupported(`axis must hold one value, got shape [${a.join(', ')}]`);
}

/** The axis when known at compile time: a constant, or the only axis of a 1-D input. */
function staticAxis(ctx: NodeContext): number | null {
  const rank = ctx.shape(0).length;
  if (ctx.constant(1)) return ctx.axis(ctx.constInts(1, 'axis')[0], rank);
  return rank === 1 ? 0 : null;
}

function foldScan(ctx: NodeContext, kind: ScanKind, x: OnnxTensor | null, axisT: OnnxTensor | null): OnnxTensor[] | null {
  if (!x || !axisT || !canHoldNumbers(x.dataType)) return null;
  checkTypes(ctx);
  const shape = [...x.dims];
  const axis = ctx.axis(tensorToNumbers(axisT)[0], shape.length);
  const { exclusive, reverse } = flags(ctx, kind);
  const inner = shape.slice(axis + 1).reduce((n, d) => n * d, 1);
  const outer = shape.slice(0, axis).reduce((n, d) => n * d, 1);
  const n = shape[axis];
  const v = tensorToNumbers(x);
  const out = new Array<number>(v.length).fill(0);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = kind.identity;
      for (let s = 0; s < n; s++) {
        const k = (o * n + (reverse ? n - 1 - s : s)) * inner + i;
        if (exclusive) out[k] = acc;
        acc = kind.fold(acc, v[k]);
        // Integer products past 2^53 lose digits in JS numbers: leave those to generated code.
        if (!isFloat(x.dataType) && !Number.isSafeInteger(acc)) return null;
        if (!exclusive) out[k] = acc;
      }
    }
  }
  return [numbersToTensor('', x.dataType, shape, out)];
}

/**
 * Emits the scan along `axis` as scalar scf.for loops (outer dims, then the
 * axis carrying the running value). Scalar tensor.extract/insert bufferize in
 * place; slice copies of strided windows would need a runtime memref copy.
 */
function scanAlong(b: FuncBuilder, x: TensorRef, axis: number, f: ScanFlags): string {
  const fullT = typeOf(x);
  const elem = elemType(x.dt);
  const s = new Scalar(b, x.dt);
  const n = x.shape[axis];
  const [out] = forEachOuter(b, x.shape, axis, [{ value: b.empty(fullT), type: fullT }], (ivs, [t]) => {
    const [, written] = scfFor(b, n, [{ value: s.const(f.kind.identity), type: elem }, { value: t, type: fullT }], (k, [acc, cur]) => {
      ivs[axis] = f.reverse ? b.op(`arith.subi ${b.index(n - 1)}, ${k} : index`) : k;
      const at = `[${ivs.join(', ')}]`;
      const next = f.kind.emit(s, acc, b.op(`tensor.extract ${x.value}${at} : ${fullT}`));
      return [next, b.op(`tensor.insert ${f.exclusive ? acc : next} into ${cur}${at} : ${fullT}`)];
    });
    return [written];
  });
  return out;
}

/** Runtime axis: normalise it and switch between one scan per axis. */
function scanDynamic(ctx: LowerContext, x: TensorRef, f: ScanFlags): string {
  const b = ctx.b;
  const rank = x.shape.length;
  const adt = ctx.dtype(1);
  const s = new Scalar(b, adt);
  const at = ctx.inType(1);
  const idx = ctx.shape(1).length === 0 ? '' : b.index(0);
  const raw = b.op(`tensor.extract ${ctx.input(1)}[${idx}] : ${at}`);
  const wrapped = s.select(s.cmp('lt', raw, s.zero()), s.add(raw, s.const(rank)), raw);
  const axis = b.op(`arith.index_cast ${wrapped} : ${s.elem} to index`);
  const fullT = typeOf(x);
  const sw = b.fresh('sw');
  b.emit(`${sw} = scf.index_switch ${axis} -> ${fullT}`);
  for (let a = 0; a < rank; a++) {
    b.emit(`case ${a} {`);
    b.emit(`scf.yield ${scanAlong(b, x, a, f)} : ${fullT}`);
    b.emit('}');
  }
  // An out-of-range axis is invalid input; pass the data through rather than read out of bounds.
  b.emit('default {');
  b.emit(`scf.yield ${x.value} : ${fullT}`);
  b.emit('}');
  return sw;
}

for (const [kind, since] of [[SUM, 11], [PRODUCT, 26]] as const) {
  registerOp({
    domain: '', op: kind.op, since,
    infer: (ctx) => {
      checkTypes(ctx);
      staticAxis(ctx);
      return [ctx.type(0)];
    },
    fold: (ctx, [x, axis]) => foldScan(ctx, kind, x, axis),
    lower: (ctx) => {
      const x = { value: ctx.input(0), dt: ctx.dtype(0), shape: ctx.shape(0) };
      const axis = staticAxis(ctx);
      return [axis === null ? scanDynamic(ctx, x, flags(ctx, kind)) : scanAlong(ctx.b, x, axis, flags(ctx, kind))];
    },
  });
}
