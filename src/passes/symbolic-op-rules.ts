// Per-op symbolic shape rules for infer-symbolic-shapes.ts: output shapes as
// SymExpr dimensions, and — for the small integer tensors of shape
// computations (Shape → Gather → Concat → Reshape) — their symbolic contents.
// An op without a rule gets its declared type, or an unknown one.
import { DataType, elementCount } from '../onnx/model.js';
import { SymExpr, type SymShape } from '../ir/symbolic.js';
import type { IrNode } from '../ir/graph.js';
import type { NodeContext } from '../import/node-context.js';
import { tensorToNumbers } from '../import/tensor-data.js';

export interface SymTensor {
  dataType: DataType | null;
  /** null: rank unknown. */
  shape: SymShape | null;
  /** Contents of a small integer tensor (flattened), when known. */
  value?: SymExpr[];
}

export interface RuleContext {
  readonly node: IrNode;
  /** Attribute access (throws UnsupportedError when an attribute is malformed). */
  readonly attrs: NodeContext;
  input(i: number): SymTensor | null;
  /** Symbolic contents of input i, when known. */
  values(i: number): SymExpr[] | null;
  /** A new data-dependent dimension. */
  fresh(hint: string): SymExpr;
  /** Records that two dimensions are equal. */
  unify(a: SymExpr, b: SymExpr): void;
}

type Rule = (r: RuleContext) => (SymTensor | null)[];

const one = SymExpr.constant(1);
const zero = SymExpr.constant(0);
/** Slice ends at or beyond this mean "to the end". */
const SLICE_END_SENTINEL = 2 ** 31 - 1;

function product(dims: readonly SymExpr[]): SymExpr {
  return dims.reduce((a, d) => a.mul(d), one);
}

function consts(values: readonly SymExpr[] | null): number[] | null {
  if (!values) return null;
  const out = values.map((v) => v.value);
  return out.every((v): v is number => v !== null) ? out : null;
}

/** The static length of a 1-D input (a shape, axes or repeats tensor) whose contents are unknown. */
function lengthOf(r: RuleContext, i: number): number | null {
  const s = r.input(i)?.shape;
  return s && s.length === 1 ? s[0].value : null;
}

/** `n` fresh dims: a tensor of known rank whose sizes are only known at run time. */
function freshDims(r: RuleContext, n: number, hint: string): SymExpr[] {
  return Array.from({ length: n }, () => r.fresh(hint));
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Numpy broadcasting; unequal non-1 dims are merged (a model that runs has them equal). */
export function broadcastShapes(r: RuleContext, shapes: readonly SymShape[]): SymShape {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: SymExpr[] = [];
  for (let i = 0; i < rank; i++) {
    let d: SymExpr | null = null;
    for (const s of shapes) {
      const x = s[i - (rank - s.length)];
      if (!x || x.value === 1) continue;
      if (!d) d = x;
      else if (!d.equals(x)) {
        r.unify(d, x);
        if (x.isConstant()) d = x;
      }
    }
    out.push(d ?? one);
  }
  return out;
}

function same(dataType: (r: RuleContext) => DataType | null): Rule {
  return (r) => {
    const x = r.input(0);
    return [{ dataType: dataType(r), shape: x?.shape ?? null, value: r.node.op === 'Identity' ? r.values(0) ?? undefined : undefined }];
  };
}

const dtypeOf = (i: number) => (r: RuleContext) => r.input(i)?.dataType ?? null;

/** Elementwise arithmetic on the contents of shape tensors (lengths 1 broadcast). */
function valueArith(r: RuleContext, f: (a: SymExpr, b: SymExpr) => SymExpr): SymExpr[] | undefined {
  const [a, b] = [r.values(0), r.values(1)];
  if (!a || !b || (a.length !== b.length && a.length !== 1 && b.length !== 1)) return undefined;
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => f(a[a.length === 1 ? 0 : i], b[b.length === 1 ? 0 : i]));
}

const ARITH: Record<string, (a: SymExpr, b: SymExpr) => SymExpr> = {
  Add: (a, b) => a.add(b), Sub: (a, b) => a.sub(b), Mul: (a, b) => a.mul(b), Div: (a, b) => a.floorDiv(b),
  Max: (a, b) => a.max(b), Min: (a, b) => a.min(b),
};

function broadcastRule(dataType: (r: RuleContext) => DataType | null): Rule {
  return (r) => {
    const shapes = r.node.inputs.map((_, i) => r.input(i)?.shape ?? null);
    if (shapes.some((s) => s === null)) return [{ dataType: dataType(r), shape: null }];
    const f = ARITH[r.node.op];
    return [{ dataType: dataType(r), shape: broadcastShapes(r, shapes.filter((s): s is SymShape => s !== null)), value: f ? valueArith(r, f) : undefined }];
  };
}

function matmul(r: RuleContext): (SymTensor | null)[] {
  const [a, b] = [r.input(0)?.shape, r.input(1)?.shape];
  if (!a || !b) return [{ dataType: r.input(0)?.dataType ?? null, shape: null }];
  const aa = a.length === 1 ? [one, a[0]] : a;
  const bb = b.length === 1 ? [b[0], one] : b;
  r.unify(aa[aa.length - 1], bb[bb.length - 2]);
  const batch = broadcastShapes(r, [aa.slice(0, -2), bb.slice(0, -2)]);
  const shape = [...batch, ...(a.length === 1 ? [] : [aa[aa.length - 2]]), ...(b.length === 1 ? [] : [bb[bb.length - 1]])];
  return [{ dataType: r.input(0)?.dataType ?? null, shape }];
}

function gemm(r: RuleContext): (SymTensor | null)[] {
  const [a, b] = [r.input(0)?.shape, r.input(1)?.shape];
  if (!a || !b || a.length !== 2 || b.length !== 2) return [{ dataType: r.input(0)?.dataType ?? null, shape: null }];
  const [m, k1] = r.attrs.int('transA', 0) ? [a[1], a[0]] : [a[0], a[1]];
  const [k2, n] = r.attrs.int('transB', 0) ? [b[1], b[0]] : [b[0], b[1]];
  r.unify(k1, k2);
  return [{ dataType: r.input(0)?.dataType ?? null, shape: [m, n] }];
}

function transpose(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  const s = x?.shape;
  if (!s) return [{ dataType: x?.dataType ?? null, shape: null }];
  const perm = r.attrs.ints('perm', s.map((_, i) => s.length - 1 - i));
  return [{ dataType: x.dataType, shape: perm.map((p) => s[p]) }];
}

/** Axes from the attribute (older opsets) or the constant second input. */
function axesOf(r: RuleContext, inputIndex: number): number[] | null {
  if (r.attrs.hasAttr('axes')) return r.attrs.ints('axes');
  return r.node.inputs[inputIndex] ? consts(r.values(inputIndex)) : null;
}

function unsqueeze(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  const axes = axesOf(r, 1);
  const added = lengthOf(r, 1);
  if (x?.shape && !axes && added !== null) {
    // Which axes are new is unknown: every output dim may be any input dim or 1.
    return [{ dataType: x.dataType, shape: freshDims(r, x.shape.length + added, 'unsqueeze') }];
  }
  if (!x?.shape || !axes) return [{ dataType: x?.dataType ?? null, shape: null }];
  const rank = x.shape.length + axes.length;
  const norm = new Set(axes.map((a) => normAxis(a, rank)));
  const out: SymExpr[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(norm.has(i) ? one : x.shape[k++]);
  return [{ dataType: x.dataType, shape: out, value: r.values(0) ?? undefined }];
}

function squeeze(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  if (!x?.shape) return [{ dataType: x?.dataType ?? null, shape: null }];
  const s = x.shape;
  const axes = axesOf(r, 1);
  const dropped = r.node.inputs[1] ? lengthOf(r, 1) : null;
  if (!axes && dropped !== null) return [{ dataType: x.dataType, shape: freshDims(r, s.length - dropped, 'squeeze') }];
  if (!axes && s.some((d) => !d.isConstant())) return [{ dataType: x.dataType, shape: null }];
  const drop = new Set(axes ? axes.map((a) => normAxis(a, s.length)) : s.flatMap((d, i) => (d.value === 1 ? [i] : [])));
  for (const i of drop) if (s[i]) r.unify(s[i], one);
  return [{ dataType: x.dataType, shape: s.filter((_, i) => !drop.has(i)), value: r.values(0) ?? undefined }];
}

function flatten(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  if (!x?.shape) return [{ dataType: x?.dataType ?? null, shape: null }];
  const axis = normAxis(r.attrs.int('axis', 1), x.shape.length);
  return [{ dataType: x.dataType, shape: [product(x.shape.slice(0, axis)), product(x.shape.slice(axis))] }];
}

function concat(r: RuleContext): (SymTensor | null)[] {
  const ins = r.node.inputs.map((_, i) => r.input(i));
  const dataType = ins.find((t) => t?.dataType != null)?.dataType ?? null;
  const shapes = ins.map((t) => t?.shape ?? null);
  if (shapes.some((s) => s === null) || shapes.length === 0) return [{ dataType, shape: null }];
  const ss = shapes.filter((s): s is SymShape => s !== null);
  const axis = normAxis(r.attrs.int('axis'), ss[0].length);
  const out = [...ss[0]];
  out[axis] = ss.reduce((acc, s) => acc.add(s[axis]), zero);
  for (const s of ss.slice(1)) s.forEach((d, i) => i !== axis && r.unify(out[i], d));
  const values = r.node.inputs.map((_, i) => r.values(i));
  const value = ss[0].length === 1 && values.every((v) => v) ? values.flatMap((v) => v ?? []) : undefined;
  return [{ dataType, shape: out, value }];
}

function shapeOp(r: RuleContext): (SymTensor | null)[] {
  const s = r.input(0)?.shape;
  if (!s) return [{ dataType: DataType.INT64, shape: [r.fresh('rank')] }];
  const clamp = (v: number) => Math.min(Math.max(normAxis(v, s.length), 0), s.length);
  const dims = s.slice(clamp(r.attrs.int('start', 0)), clamp(r.attrs.int('end', s.length)));
  return [{ dataType: DataType.INT64, shape: [SymExpr.constant(dims.length)], value: dims }];
}

function size(r: RuleContext): (SymTensor | null)[] {
  const s = r.input(0)?.shape;
  return [{ dataType: DataType.INT64, shape: [], value: s ? [product(s)] : undefined }];
}

function gather(r: RuleContext): (SymTensor | null)[] {
  const [x, idx] = [r.input(0), r.input(1)];
  if (!x?.shape || !idx?.shape) return [{ dataType: x?.dataType ?? null, shape: null }];
  const axis = normAxis(r.attrs.int('axis', 0), x.shape.length);
  const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
  const data = r.values(0);
  const at = consts(r.values(1));
  const value = data && at && x.shape.length === 1 ? at.map((i) => data[normAxis(i, data.length)]).filter((v): v is SymExpr => !!v) : undefined;
  return [{ dataType: x.dataType, shape, value: value && at && value.length === at.length ? value : undefined }];
}

function reshape(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  const target = r.values(1);
  const targetShape = r.input(1)?.shape;
  if (!target) {
    const n = targetShape?.[0]?.value;
    return [{ dataType: x?.dataType ?? null, shape: n == null ? null : Array.from({ length: n }, () => r.fresh('reshape')) }];
  }
  const allowZero = r.attrs.int('allowzero', 0) === 1;
  const out = target.map((d, i) => (d.value === 0 && !allowZero && x?.shape?.[i] ? x.shape[i] : d));
  const inferred = out.findIndex((d) => d.value === -1);
  if (inferred >= 0) {
    const known = product(out.filter((_, i) => i !== inferred));
    out[inferred] = x?.shape ? product(x.shape).floorDiv(known) : r.fresh('reshape');
  }
  return [{ dataType: x?.dataType ?? null, shape: out, value: r.values(0) ?? undefined }];
}

function expand(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  const target = r.values(1);
  const n = lengthOf(r, 1);
  if (x?.shape && !target && n !== null) return [{ dataType: x.dataType, shape: freshDims(r, Math.max(n, x.shape.length), 'expand') }];
  if (!x?.shape || !target) return [{ dataType: x?.dataType ?? null, shape: null }];
  return [{ dataType: x.dataType, shape: broadcastShapes(r, [x.shape, target]) }];
}

function constantOfShape(r: RuleContext): (SymTensor | null)[] {
  const t = r.attrs.tensorAttr('value');
  const shape = r.values(0);
  const n = lengthOf(r, 0);
  return [{ dataType: t?.dataType ?? DataType.FLOAT, shape: shape ?? (n === null ? null : freshDims(r, n, 'fill')) }];
}

function reduce(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  if (!x?.shape) return [{ dataType: x?.dataType ?? null, shape: null }];
  const s = x.shape;
  const keep = r.attrs.int('keepdims', 1) === 1;
  const isArg = r.node.op === 'ArgMax' || r.node.op === 'ArgMin';
  const axes = isArg ? [r.attrs.int('axis', 0)] : axesOf(r, 1);
  const noop = r.attrs.int('noop_with_empty_axes', 0) === 1;
  if (axes === null && r.node.inputs[1]) {
    // Run-time axes: with keepdims the rank stays; without, it drops by their count (unless none are given).
    const n = lengthOf(r, 1);
    const rank = keep ? s.length : n !== null && n > 0 ? s.length - n : null;
    return [{ dataType: x.dataType, shape: rank === null ? null : freshDims(r, rank, 'reduce') }];
  }
  const set = new Set((axes && axes.length ? axes : noop ? [] : s.map((_, i) => i)).map((a) => normAxis(a, s.length)));
  const shape = s.flatMap((d, i) => (set.has(i) ? (keep ? [one] : []) : [d]));
  return [{ dataType: isArg ? DataType.INT64 : x.dataType, shape }];
}

/** Length of x[start:end:step] along a dimension of size d, symbolically. */
function sliceLength(d: SymExpr, start: number, end: number, step: number): SymExpr | null {
  if (step !== 1) {
    const n = d.value;
    if (n === null) return null;
    const clampIdx = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
    const [s, e] = step > 0 ? [clampIdx(start, 0, n), clampIdx(end, 0, n)] : [clampIdx(start, -1, n - 1), clampIdx(end, -1, n - 1)];
    return SymExpr.constant(Math.max(0, Math.ceil((e - s) / step)));
  }
  const s = start < 0 ? d.add(start).max(0) : SymExpr.constant(start).min(d);
  const e = end >= SLICE_END_SENTINEL ? d : end < 0 ? d.add(end).max(0) : SymExpr.constant(end).min(d);
  return e.sub(s).max(0);
}

function slice(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  if (!x?.shape) return [{ dataType: x?.dataType ?? null, shape: null }];
  const legacy = r.attrs.opset < 10;
  const starts = legacy ? r.attrs.ints('starts') : consts(r.values(1));
  const ends = legacy ? r.attrs.ints('ends') : consts(r.values(2));
  if (!starts || !ends) return [{ dataType: x.dataType, shape: x.shape.map(() => r.fresh('slice')) }];
  const axes = (legacy ? r.attrs.optionalInts('axes') : r.node.inputs[3] ? consts(r.values(3)) : null) ?? starts.map((_, i) => i);
  const steps = (legacy ? null : r.node.inputs[4] ? consts(r.values(4)) : null) ?? starts.map(() => 1);
  const shape = [...x.shape];
  axes.forEach((a, i) => {
    const ax = normAxis(a, shape.length);
    shape[ax] = sliceLength(x.shape![ax], starts[i], ends[i], steps[i]) ?? r.fresh('slice');
  });
  const v = r.values(0);
  const n = shape[0]?.value;
  const value = v && x.shape.length === 1 && n !== null && n !== undefined && steps[0] === 1 && starts[0] >= 0 ? v.slice(starts[0], starts[0] + n) : undefined;
  return [{ dataType: x.dataType, shape, value }];
}

function split(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  const count = r.node.outputs.length;
  if (!x?.shape) return r.node.outputs.map(() => ({ dataType: x?.dataType ?? null, shape: null }));
  const axis = normAxis(r.attrs.int('axis', 0), x.shape.length);
  const sizes = r.attrs.hasAttr('split') ? r.attrs.ints('split') : r.node.inputs[1] ? consts(r.values(1)) : null;
  const d = x.shape[axis];
  return r.node.outputs.map((_, i) => {
    const even = () => (i < count - 1 ? d.ceilDiv(count) : d.sub(d.ceilDiv(count).mul(count - 1)));
    const part = sizes ? SymExpr.constant(sizes[i]) : r.node.inputs[1] ? r.fresh('split') : even();
    return { dataType: x.dataType, shape: x.shape!.map((e, k) => (k === axis ? part : e)) };
  });
}

function tile(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  const reps = r.values(1);
  if (x?.shape && !reps) return [{ dataType: x.dataType, shape: freshDims(r, x.shape.length, 'tile') }];
  if (!x?.shape || !reps) return [{ dataType: x?.dataType ?? null, shape: null }];
  return [{ dataType: x.dataType, shape: x.shape.map((d, i) => d.mul(reps[i] ?? one)) }];
}

function pad(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  const pads = r.attrs.hasAttr('pads') ? r.attrs.ints('pads') : consts(r.values(1));
  if (!x?.shape || !pads) return [{ dataType: x?.dataType ?? null, shape: x?.shape?.map(() => r.fresh('pad')) ?? null }];
  const s = x.shape;
  const axes = r.node.inputs[3] ? consts(r.values(3)) : s.map((_, i) => i);
  if (!axes) return [{ dataType: x.dataType, shape: s.map(() => r.fresh('pad')) }];
  const out = [...s];
  axes.forEach((a, i) => {
    const ax = normAxis(a, s.length);
    out[ax] = s[ax].add(pads[i]).add(pads[i + axes.length]);
  });
  return [{ dataType: x.dataType, shape: out }];
}

function range(r: RuleContext): (SymTensor | null)[] {
  const [s, l, d] = [0, 1, 2].map((i) => r.values(i)?.[0] ?? null);
  const dataType = r.input(0)?.dataType ?? null;
  if (!s || !l || !d) return [{ dataType, shape: [r.fresh('range')] }];
  const dv = d.value;
  return [{ dataType, shape: [dv === null ? r.fresh('range') : l.sub(s).ceilDiv(dv).max(0)] }];
}

/** [dft_length / 2 + 1, num_mel_bins] of output_datatype. */
function melWeightMatrix(r: RuleContext): (SymTensor | null)[] {
  const mels = r.values(0)?.[0] ?? r.fresh('mel');
  const dft = r.values(1)?.[0];
  return [{ dataType: r.attrs.int('output_datatype', DataType.FLOAT), shape: [dft ? dft.floorDiv(2).add(1) : r.fresh('mel'), mels] }];
}

function oneHot(r: RuleContext): (SymTensor | null)[] {
  const idx = r.input(0)?.shape;
  const dataType = r.input(2)?.dataType ?? null;
  if (!idx) return [{ dataType, shape: null }];
  const depth = r.values(1)?.[0] ?? r.fresh('depth');
  const shape = [...idx];
  shape.splice(normAxis(r.attrs.int('axis', -1), idx.length + 1), 0, depth);
  return [{ dataType, shape }];
}

/** Compress: the input with the compressed axis (or the flattened input) cut to a run-time count. */
function compress(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  const count = r.fresh('compress');
  if (!r.attrs.hasAttr('axis')) return [{ dataType: x?.dataType ?? null, shape: [count] }];
  if (!x?.shape) return [{ dataType: x?.dataType ?? null, shape: null }];
  const axis = normAxis(r.attrs.int('axis'), x.shape.length);
  return [{ dataType: x.dataType, shape: x.shape.map((d, i) => (i === axis ? count : d)) }];
}

/** Unique: Y, indices and counts share the run-time number of unique elements; inverse_indices follow the input. */
function unique(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  const count = r.fresh('unique');
  const i64 = (shape: SymShape | null): SymTensor => ({ dataType: DataType.INT64, shape });
  if (!r.attrs.hasAttr('axis')) {
    const n = x?.shape ? product(x.shape) : r.fresh('unique_input');
    return [{ dataType: x?.dataType ?? null, shape: [count] }, i64([count]), i64([n]), i64([count])];
  }
  if (!x?.shape) return [{ dataType: x?.dataType ?? null, shape: null }, i64([count]), i64(null), i64([count])];
  const axis = normAxis(r.attrs.int('axis'), x.shape.length);
  return [{ dataType: x.dataType, shape: x.shape.map((d, i) => (i === axis ? count : d)) }, i64([count]), i64([x.shape[axis]]), i64([count])];
}

/** NonMaxSuppression: [selected boxes, 3] (batch, class, box) triples. */
function nonMaxSuppression(r: RuleContext): (SymTensor | null)[] {
  return [{ dataType: DataType.INT64, shape: [r.fresh('nms'), SymExpr.constant(3)] }];
}

function nonZero(r: RuleContext): (SymTensor | null)[] {
  const s = r.input(0)?.shape;
  return [{ dataType: DataType.INT64, shape: [s ? SymExpr.constant(s.length) : r.fresh('rank'), r.fresh('nonzero')] }];
}

function topK(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  const k = r.values(1)?.[0] ?? r.fresh('topk');
  if (!x?.shape) return [{ dataType: x?.dataType ?? null, shape: null }, { dataType: DataType.INT64, shape: null }];
  const axis = normAxis(r.attrs.int('axis', -1), x.shape.length);
  const shape = x.shape.map((d, i) => (i === axis ? k : d));
  return [{ dataType: x.dataType, shape }, { dataType: DataType.INT64, shape }];
}

/** Output size of one spatial dim of a convolution or pooling window. */
function windowDim(r: RuleContext, d: SymExpr, k: number, i: number, rank: number): SymExpr {
  const stride = r.attrs.ints('strides', new Array<number>(rank).fill(1))[i] ?? 1;
  const dil = r.attrs.ints('dilations', new Array<number>(rank).fill(1))[i] ?? 1;
  const autoPad = r.attrs.string('auto_pad', 'NOTSET');
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return d.ceilDiv(stride);
  const pads = autoPad === 'VALID' ? new Array<number>(2 * rank).fill(0) : r.attrs.ints('pads', new Array<number>(2 * rank).fill(0));
  const span = d.add(pads[i] + pads[i + rank]).sub(dil * (k - 1) + 1);
  if (r.attrs.int('ceil_mode', 0)) return span.ceilDiv(stride).add(1);
  // onnxruntime's pools divide in integers (toward zero): an input shorter than the window gets one window.
  const known = span.value;
  if (r.node.op !== 'Conv' && known !== null && known < 0) return SymExpr.constant(Math.trunc(known / stride) + 1);
  return span.floorDiv(stride).add(1);
}

function window(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  if (!x?.shape || x.shape.length < 3) return [{ dataType: x?.dataType ?? null, shape: null }];
  const spatial = x.shape.slice(2);
  const w = r.node.op === 'Conv' ? r.input(1)?.shape : null;
  const kernel = r.attrs.hasAttr('kernel_shape') ? r.attrs.ints('kernel_shape') : consts(w?.slice(2) ?? null);
  if (!kernel) return [{ dataType: x.dataType, shape: null }];
  const channels = r.node.op === 'Conv' ? w?.[0] ?? r.fresh('channels') : x.shape[1];
  const shape = [x.shape[0], channels, ...spatial.map((d, i) => windowDim(r, d, kernel[i], i, spatial.length))];
  return r.node.outputs.map((_, i) => ({ dataType: i === 0 ? x.dataType : DataType.INT64, shape }));
}

function globalPool(r: RuleContext): (SymTensor | null)[] {
  const x = r.input(0);
  return [{ dataType: x?.dataType ?? null, shape: x?.shape ? x.shape.map((d, i) => (i < 2 ? d : one)) : null }];
}

/** Integer constants up to this many elements have their contents tracked. */
const MAX_TRACKED_ELEMENTS = 64;

function constant(r: RuleContext): (SymTensor | null)[] {
  const t = r.attrs.tensorAttr('value');
  if (!t) return [null];
  const small = (t.dataType === DataType.INT64 || t.dataType === DataType.INT32) && t.dims.length <= 1 && elementCount(t.dims) <= MAX_TRACKED_ELEMENTS;
  return [{ dataType: t.dataType, shape: t.dims.map((d) => SymExpr.constant(d)), value: small ? tensorToNumbers(t).map((n) => SymExpr.constant(n)) : undefined }];
}

const SAME_SHAPE = [
  'Identity', 'Abs', 'Neg', 'Relu', 'LeakyRelu', 'Elu', 'Selu', 'Celu', 'Gelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh',
  'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh',
  'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Erf', 'Softplus', 'Softsign', 'Mish', 'Softmax', 'LogSoftmax', 'Hardmax', 'Not',
  'BitwiseNot', 'Clip', 'Dropout', 'LpNormalization', 'LRN', 'InstanceNormalization', 'LayerNormalization',
  'BatchNormalization', 'MeanVarianceNormalization', 'Shrink', 'ThresholdedRelu', 'CumSum', 'Trilu', 'EyeLike',
  'QuantizeLinear', 'DequantizeLinear',
];
const BROADCAST = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'PRelu', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'Max', 'Min', 'Sum', 'Mean'];
const COMPARE = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'];
const REDUCE = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare', 'ArgMax', 'ArgMin'];

const RULES = new Map<string, Rule>([
  ...SAME_SHAPE.map((op): [string, Rule] => [op, same(dtypeOf(0))]),
  ['IsNaN', same(() => DataType.BOOL)], ['IsInf', same(() => DataType.BOOL)],
  ['Cast', (r) => [{ dataType: r.attrs.int('to'), shape: r.input(0)?.shape ?? null, value: r.values(0) ?? undefined }]],
  ['CastLike', same(dtypeOf(1))],
  ...BROADCAST.map((op): [string, Rule] => [op, broadcastRule(dtypeOf(0))]),
  ...COMPARE.map((op): [string, Rule] => [op, broadcastRule(() => DataType.BOOL)]),
  ['Where', broadcastRule(dtypeOf(1))],
  ['MatMul', matmul], ['Gemm', gemm], ['Transpose', transpose], ['Unsqueeze', unsqueeze], ['Squeeze', squeeze],
  ['Flatten', flatten], ['Concat', concat], ['Shape', shapeOp], ['Size', size], ['Gather', gather], ['Reshape', reshape],
  ['Expand', expand], ['ConstantOfShape', constantOfShape], ...REDUCE.map((op): [string, Rule] => [op, reduce]),
  ['Slice', slice], ['Split', split], ['Tile', tile], ['Pad', pad], ['Range', range], ['OneHot', oneHot], ['NonZero', nonZero], ['TopK', topK],
  ['MelWeightMatrix', melWeightMatrix],
  ['Conv', window], ['MaxPool', window], ['AveragePool', window], ['LpPool', window],
  ['GlobalAveragePool', globalPool], ['GlobalMaxPool', globalPool], ['Constant', constant],
  ['Compress', compress], ['Unique', unique], ['NonMaxSuppression', nonMaxSuppression],
]);

/** The symbolic rule for an op of the default domain, if there is one. */
export function symbolicRule(node: IrNode): Rule | null {
  return node.domain === '' ? RULES.get(node.op) ?? null : null;
}

export type { Rule };
