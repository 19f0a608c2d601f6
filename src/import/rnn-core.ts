// Shared machinery of the recurrent ops (RNN, GRU, LSTM): attribute and shape
// checks, the activation functions, and the sequence loop. Each direction is
// one scf.for over time carrying the hidden (and cell) state and the output
// sequence as tensors; the input projection X·Wᵀ + Wb of every time step is one
// matmul before the loop, so each step only multiplies the state by Rᵀ.
//
// sequence_lens follow ONNX Runtime: batch entry b runs steps 0..len_b-1 (the
// reverse direction reads x[len_b-1-t] at step t), its state stops changing
// after that, Y is zero past its length, and Y_h/Y_c are zero when len_b = 0.
import { DataType, type OnnxTensor } from '../onnx/model.js';
import type { TensorType } from '../ir/types.js';
import { Scalar } from '../codegen/scalar.js';
import { affineMap, elemType, identityMap, tensorTypeOf, type FuncBuilder } from '../codegen/mlir-builder.js';
import { collapseShape, expandShape, typeOf, type Tensor } from '../codegen/tensor-ops.js';
import { matmul2d } from './contraction.js';
import type { NodeContext } from './node-context.js';
import type { LowerContext } from './lower-context.js';
import { scfFor, type Carried } from './loop-helpers.js';
import { tensorToNumbers } from './tensor-data.js';

export type Direction = 'forward' | 'reverse';

export interface Activation {
  name: string;
  alpha: number;
  beta: number;
}

/** LSTM peephole vectors per direction (i, o, f). */
const PEEPHOLES = 3;

/** Input slots shared by the three ops. */
export const IN = { X: 0, W: 1, R: 2, B: 3, LENS: 4, H0: 5, C0: 6, P: 7 } as const;

export interface RnnSpec {
  dt: DataType;
  gates: number;
  hidden: number;
  seq: number;
  batch: number;
  inputSize: number;
  dirs: Direction[];
  /** 1: batch-major X, Y, Y_h, Y_c. */
  layout: number;
  clip: number | null;
  /** Activations per direction, in the op's order (f, g, h). */
  acts: Activation[][];
}

/** Alpha/beta usage and defaults per activation (as ONNX Runtime reads activation_alpha/beta). */
const ACTIVATION_PARAMS: Record<string, { alpha?: number; beta?: number }> = {
  relu: {}, tanh: {}, sigmoid: {}, softsign: {}, softplus: {},
  affine: { alpha: 0, beta: 0 },
  leakyrelu: { alpha: 0.01 },
  thresholdedrelu: { alpha: 0 },
  scaledtanh: { alpha: 0, beta: 0 },
  hardsigmoid: { alpha: 0.2, beta: 0.5 },
  elu: { alpha: 1 },
};

/** Activations of every direction: alphas/betas are consumed in order by the functions that take them. */
function readActivations(ctx: NodeContext, defaults: readonly string[], dirs: number): Activation[][] {
  const given = ctx.attr('activations');
  let list: string[] = dirs === 2 ? [...defaults, ...defaults] : [...defaults];
  if (given !== undefined) {
    if (given.kind !== 'strings') ctx.unsupported(`attribute 'activations' should be strings, got ${given.kind}`);
    // One set for a bidirectional op serves both directions.
    list = given.value.length === defaults.length && dirs === 2 ? [...given.value, ...given.value] : given.value;
    if (list.length !== defaults.length * dirs) ctx.unsupported(`expected ${defaults.length * dirs} activations, got ${given.value.length}`);
  }
  const alphas = ctx.floats('activation_alpha', []);
  const betas = ctx.floats('activation_beta', []);
  let ai = 0;
  let bi = 0;
  const acts = list.map((raw) => {
    const name = raw.toLowerCase();
    const params = ACTIVATION_PARAMS[name];
    if (!params) return ctx.unsupported(`activation '${raw}' is not supported`);
    const alpha = params.alpha === undefined ? 0 : ai < alphas.length ? alphas[ai++] : params.alpha;
    const beta = params.beta === undefined ? 0 : bi < betas.length ? betas[bi++] : params.beta;
    return { name, alpha, beta };
  });
  return Array.from({ length: dirs }, (_, d) => acts.slice(d * defaults.length, (d + 1) * defaults.length));
}

function directions(ctx: NodeContext): Direction[] {
  const d = ctx.string('direction', 'forward');
  if (d === 'forward' || d === 'reverse') return [d];
  if (d === 'bidirectional') return ['forward', 'reverse'];
  return ctx.unsupported(`direction '${d}' is not one of forward, reverse, bidirectional`);
}

function expectShape(ctx: NodeContext, i: number, what: string, expected: readonly number[]): void {
  if (!ctx.has(i)) return;
  const s = ctx.shape(i);
  if (s.length !== expected.length || s.some((d, k) => d !== expected[k])) {
    ctx.unsupported(`${what} has shape [${s.join(', ')}], expected [${expected.join(', ')}]`);
  }
}

/** Validates the inputs of a recurrent op with `gates` gates and the given default activations. */
export function planRnn(ctx: NodeContext, gates: number, defaultActs: readonly string[]): RnnSpec {
  const dt = ctx.dtype(IN.X);
  if (dt !== DataType.FLOAT && dt !== DataType.DOUBLE) ctx.unsupported(`${ctx.node.op} of ${DataType[dt]} is not supported (expected float or double)`);
  const layout = ctx.int('layout', 0);
  if (layout !== 0 && layout !== 1) ctx.unsupported(`layout ${layout} is not 0 or 1`);
  const x = ctx.shape(IN.X);
  if (x.length !== 3) ctx.unsupported(`X must be 3-D, got [${x.join(', ')}]`);
  const [seq, batch] = layout === 0 ? [x[0], x[1]] : [x[1], x[0]];
  const dirs = directions(ctx);
  const r = ctx.shape(IN.R);
  const hidden = ctx.int('hidden_size', r[2]);
  const nd = dirs.length;
  expectShape(ctx, IN.W, 'W', [nd, gates * hidden, x[2]]);
  expectShape(ctx, IN.R, 'R', [nd, gates * hidden, hidden]);
  expectShape(ctx, IN.B, 'B', [nd, 2 * gates * hidden]);
  expectShape(ctx, IN.LENS, 'sequence_lens', [batch]);
  const state = layout === 0 ? [nd, batch, hidden] : [batch, nd, hidden];
  expectShape(ctx, IN.H0, 'initial_h', state);
  expectShape(ctx, IN.C0, 'initial_c', state);
  expectShape(ctx, IN.P, 'P', [nd, PEEPHOLES * hidden]);
  if (ctx.has(IN.LENS) && ctx.dtype(IN.LENS) !== DataType.INT32) ctx.unsupported('sequence_lens must be int32');
  const clipAttr = ctx.hasAttr('clip') ? ctx.float('clip') : null;
  return {
    dt, gates, hidden, seq, batch, inputSize: x[2], dirs, layout,
    clip: clipAttr, acts: readActivations(ctx, defaultActs, nd),
  };
}

/** Output types: Y, then `states` state outputs (Y_h, Y_c). */
export function inferRnn(s: RnnSpec, states: number): TensorType[] {
  const nd = s.dirs.length;
  const y = s.layout === 0 ? [s.seq, nd, s.batch, s.hidden] : [s.batch, s.seq, nd, s.hidden];
  const h = s.layout === 0 ? [nd, s.batch, s.hidden] : [s.batch, nd, s.hidden];
  return [{ dataType: s.dt, shape: y }, ...Array.from({ length: states }, () => ({ dataType: s.dt, shape: h }))];
}

// ---- activations ----

function sigmoid(s: Scalar, x: string): string {
  return s.div(s.one(), s.add(s.one(), s.math('exp', s.neg(x))));
}

export function activate(s: Scalar, a: Activation, x: string): string {
  switch (a.name) {
    case 'relu': return s.max(x, s.zero());
    case 'tanh': return s.math('tanh', x);
    case 'sigmoid': return sigmoid(s, x);
    case 'affine': return s.add(s.mul(s.const(a.alpha), x), s.const(a.beta));
    case 'leakyrelu': return s.select(s.cmp('ge', x, s.zero()), x, s.mul(s.const(a.alpha), x));
    case 'thresholdedrelu': return s.select(s.cmp('gt', x, s.const(a.alpha)), x, s.zero());
    case 'scaledtanh': return s.mul(s.const(a.alpha), s.math('tanh', s.mul(s.const(a.beta), x)));
    case 'hardsigmoid': return s.max(s.zero(), s.min(s.one(), s.add(s.mul(s.const(a.alpha), x), s.const(a.beta))));
    case 'elu': return s.select(s.cmp('ge', x, s.zero()), x, s.mul(s.const(a.alpha), s.sub(s.math('exp', x), s.one())));
    case 'softsign': return s.div(x, s.add(s.one(), s.abs(x)));
    case 'softplus': return s.math('log1p', s.math('exp', x));
    default: throw new Error(`unknown activation '${a.name}'`);
  }
}

/** Clips an activation input to [-clip, clip] when the op has a clip attribute. */
export function clipped(s: Scalar, clip: number | null, x: string): string {
  if (clip === null) return x;
  return s.max(s.min(x, s.const(clip)), s.const(-clip));
}

// ---- elementwise steps over [batch, hidden] ----

/** A generic input: a tensor read through `map` from the [batch, hidden] space. */
export interface Read {
  t: Tensor;
  map: string;
}

/** Gate `g` (columns g*hidden..) of a [batch, gates*hidden] tensor, as a view. */
export function gateRead(b: FuncBuilder, t: Tensor, g: number, hidden: number): Read {
  const part = g === 0 && t.shape[1] === hidden ? t : view(b, t, [0, g * hidden], [t.shape[0], hidden]);
  return plainRead(part);
}

/** Gate `g` of a per-gate vector [gates*hidden], broadcast over the batch. */
export function gateVector(b: FuncBuilder, t: Tensor, g: number, hidden: number): Read {
  const part = g === 0 && t.shape[0] === hidden ? t : view(b, t, [g * hidden], [hidden]);
  return { t: part, map: affineMap(2, ['d1']) };
}

export function plainRead(t: Tensor): Read {
  return { t, map: identityMap(t.shape.length) };
}

/**
 * A linalg.generic over [batch, hidden] with one result per entry of `dests`
 * (a destination tensor, or null for a fresh one of dtype `dt`).
 */
export function stateMap(b: FuncBuilder, dt: DataType, shape: number[], reads: readonly Read[], dests: readonly (Tensor | null)[], body: (fb: FuncBuilder, args: string[]) => string[]): Tensor[] {
  const outs = dests.map((d) => d ?? { value: b.empty(tensorTypeOf(dt, shape)), dt, shape });
  const values = b.generic({
    inputs: reads.map((r) => ({ value: r.t.value, type: typeOf(r.t), map: r.map, elem: elemType(r.t.dt) })),
    outputs: outs.map((o) => ({ value: o.value, type: typeOf(o), map: identityMap(shape.length), elem: elemType(o.dt) })),
    iterators: shape.map(() => 'parallel'),
    body: (fb, args) => body(fb, args.slice(0, reads.length)),
  });
  return values.map((value, i) => ({ value, dt: outs[i].dt, shape: outs[i].shape }));
}

/** `state` [batch, hidden] times the rows `from..from+rows` of `r` [gates*hidden, hidden], transposed. */
export function recurrent(b: FuncBuilder, state: Tensor, r: Tensor, from: number, rows: number): Tensor {
  const part = from === 0 && rows === r.shape[0] ? r : view(b, r, [from, 0], [rows, r.shape[1]]);
  return matmul2d(b, state, part, state.dt, false, true);
}

// ---- per-direction operands ----

/** What one direction's cell reads. */
export interface DirOperands {
  /** [gates*hidden, hidden] */
  r: Tensor;
  /** Recurrence bias Rb [gates*hidden] (zeros when B is absent). */
  rb: Tensor;
  /** Peephole weights [3*hidden], LSTM only. */
  p: Tensor | null;
}

/** The state a cell step sees and returns. */
export interface CellState {
  h: Tensor;
  c: Tensor | null;
}

/** One time step: from the projected input xw [batch, gates*hidden] and the previous state to the next. */
export type Cell = (b: FuncBuilder, d: DirOperands, xw: Tensor, prev: CellState, acts: Activation[]) => CellState;

/** A same-rank slice of `t` as a view. */
function view(b: FuncBuilder, t: Tensor, offsets: readonly number[], sizes: number[]): Tensor {
  return viewDropping(b, t, offsets, sizes, { value: '', dt: t.dt, shape: sizes });
}

/** tensor.extract_slice of `sizes` at `offsets` (static or SSA index), rank-reduced to `out.shape`. */
function viewDropping(b: FuncBuilder, t: Tensor, offsets: readonly (number | string)[], sizes: readonly number[], out: Tensor): Tensor {
  const strides = sizes.map(() => 1).join(', ');
  const value = b.op(`tensor.extract_slice ${t.value}[${offsets.join(', ')}] [${sizes.join(', ')}] [${strides}] : ${typeOf(t)} to ${typeOf(out)}`, 's');
  return { ...out, value };
}

/** Row `index` of the leading dim of `t`, as a view of rank one less. */
function row(b: FuncBuilder, t: Tensor, index: number | string): Tensor {
  const rest = t.shape.slice(1);
  return viewDropping(b, t, [index, ...rest.map(() => 0)], [1, ...rest], { value: '', dt: t.dt, shape: rest });
}

/** A copy of t[..., d, ...] (dim `axis` dropped) as a fresh contiguous tensor. */
function takeCopy(b: FuncBuilder, t: Tensor, axis: number, d: number): Tensor {
  const shape = t.shape.filter((_, i) => i !== axis);
  const results: string[] = [];
  let k = 0;
  t.shape.forEach((_, i) => results.push(i === axis ? String(d) : `d${k++}`));
  return stateMap(b, t.dt, shape, [{ t, map: affineMap(shape.length, results) }], [null], (_fb, [v]) => [v])[0];
}

function zeros(b: FuncBuilder, dt: DataType, shape: number[]): Tensor {
  return { value: b.fill(new Scalar(b, dt).zero(), elemType(dt), tensorTypeOf(dt, shape)), dt, shape };
}

function inputTensor(ctx: LowerContext, i: number): Tensor {
  return { value: ctx.input(i), dt: ctx.dtype(i), shape: ctx.shape(i) };
}

/** A [batch, hidden] initial state of direction d, or zeros. */
function initialState(ctx: LowerContext, s: RnnSpec, slot: number, d: number): Tensor {
  if (!ctx.has(slot)) return zeros(ctx.b, s.dt, [s.batch, s.hidden]);
  return takeCopy(ctx.b, inputTensor(ctx, slot), s.layout === 0 ? 0 : 1, d);
}

/** sequence_lens, unless absent or a constant equal to seq_length everywhere (then every step is valid). */
function sequenceLengths(ctx: LowerContext, s: RnnSpec): Tensor | null {
  if (!ctx.has(IN.LENS)) return null;
  const c: OnnxTensor | null = ctx.constant(IN.LENS);
  if (c && tensorToNumbers(c).every((v) => v === s.seq)) return null;
  return inputTensor(ctx, IN.LENS);
}

// ---- the sequence loop ----

/** X·Wᵀ + Wb of every step for direction d: [seq, batch, gates*hidden]. */
function projectInputs(b: FuncBuilder, s: RnnSpec, x: Tensor, w: Tensor, wb: Tensor): Tensor {
  const x2 = collapseShape(b, x, [[0, 1], [2]]);
  const xw = matmul2d(b, x2, w, s.dt, false, true);
  const biased = stateMap(b, s.dt, xw.shape, [plainRead(xw), { t: wb, map: affineMap(2, ['d1']) }], [null], (fb, [v, bias]) => {
    return [new Scalar(fb, s.dt).add(v, bias)];
  })[0];
  return expandShape(b, biased, [[0, 1], [2]], [s.seq, s.batch, xw.shape[1]]);
}

function indexToI32(b: FuncBuilder, v: string): string {
  return b.op(`arith.index_cast ${v} : index to i32`);
}

/** xw rows of step t per batch entry: x[len_b-1-t] in reverse (clamped to 0 once finished). */
function stepInputsWithLengths(b: FuncBuilder, s: RnnSpec, xw: Tensor, lens: Tensor, t: string, reverse: boolean): Tensor {
  const g = xw.shape[2];
  const lensRead: Read = { t: lens, map: affineMap(2, ['d0']) };
  return stateMap(b, s.dt, [s.batch, g], [lensRead], [null], (fb, [len]) => {
    const bi = fb.op('linalg.index 0 : index');
    const j = fb.op('linalg.index 1 : index');
    let step = t;
    if (reverse) {
      const lenIdx = fb.op(`arith.index_cast ${len} : i32 to index`);
      const back = fb.op(`arith.subi ${fb.op(`arith.subi ${lenIdx}, ${t} : index`)}, ${fb.index(1)} : index`);
      step = fb.op(`arith.maxsi ${back}, ${fb.index(0)} : index`);
    }
    return [fb.op(`tensor.extract ${xw.value}[${step}, ${bi}, ${j}] : ${typeOf(xw)}`)];
  })[0];
}

/** Writes `part` [batch, hidden] into row `index` of `seqOut` [n, batch, hidden]. */
function insertRow(b: FuncBuilder, seqOut: Tensor, part: Tensor, index: string): string {
  const where = `[${index}, 0, 0] [1, ${part.shape.join(', ')}] [1, 1, 1]`;
  return b.op(`tensor.insert_slice ${part.value} into ${seqOut.value}${where} : ${typeOf(part)} into ${typeOf(seqOut)}`);
}

interface DirResult {
  /** [seq, batch, hidden] in time order (zero past each entry's length). */
  y: Tensor;
  h: Tensor;
  c: Tensor | null;
}

/**
 * sequence_lens masking: entries whose step t is past their length keep
 * their previous state.
 */
function masked(b: FuncBuilder, s: RnnSpec, lens: Tensor, t: string, prev: Tensor, next: Tensor): Tensor {
  const reads = [plainRead(next), plainRead(prev), { t: lens, map: affineMap(2, ['d0']) }];
  return stateMap(b, s.dt, [s.batch, s.hidden], reads, [null], (fb, [n, p, len]) => {
    const valid = fb.op(`arith.cmpi slt, ${indexToI32(fb, t)}, ${len} : i32`);
    return [new Scalar(fb, s.dt).select(valid, n, p)];
  })[0];
}

/** A [seq+1, batch, hidden] history whose row 0 is `first`. */
function startHistory(b: FuncBuilder, s: RnnSpec, first: Tensor): Tensor {
  const hist: Tensor = { value: b.empty(tensorTypeOf(s.dt, [s.seq + 1, s.batch, s.hidden])), dt: s.dt, shape: [s.seq + 1, s.batch, s.hidden] };
  return { ...hist, value: insertRow(b, hist, first, b.index(0)) };
}

/**
 * Runs direction d over the whole sequence. The loop carries state
 * histories (row t+1 = state after step t, in step order): every update is an
 * insert into a carried tensor, so the loop's results bufferize in place.
 */
function runDirection(ctx: LowerContext, s: RnnSpec, cell: Cell, x: Tensor, d: number, lens: Tensor | null, withCell: boolean): DirResult {
  const b = ctx.b;
  const reverse = s.dirs[d] === 'reverse';
  const gh = s.gates * s.hidden;
  const w = row(b, inputTensor(ctx, IN.W), d);
  const r = row(b, inputTensor(ctx, IN.R), d);
  const bias = ctx.has(IN.B) ? row(b, inputTensor(ctx, IN.B), d) : zeros(b, s.dt, [2 * gh]);
  const wb = view(b, bias, [0], [gh]);
  const rb = view(b, bias, [gh], [gh]);
  const p = withCell && ctx.has(IN.P) ? row(b, inputTensor(ctx, IN.P), d) : null;
  const ops: DirOperands = { r, rb, p };
  const xw = projectInputs(b, s, x, w, wb);
  const histShape = [s.seq + 1, s.batch, s.hidden];
  const histType = tensorTypeOf(s.dt, histShape);
  const init: Carried[] = [{ value: startHistory(b, s, initialState(ctx, s, IN.H0, d)).value, type: histType }];
  if (withCell) init.push({ value: startHistory(b, s, initialState(ctx, s, IN.C0, d)).value, type: histType });
  const hist = (v: string): Tensor => ({ value: v, dt: s.dt, shape: histShape });
  const results = scfFor(b, s.seq, init, (t, args) => {
    const [hh, hc] = args.map(hist);
    const prev: CellState = { h: row(b, hh, t), c: hc ? row(b, hc, t) : null };
    let xwT: Tensor;
    if (lens) xwT = stepInputsWithLengths(b, s, xw, lens, t, reverse);
    else xwT = row(b, xw, reverse ? b.op(`arith.subi ${b.index(s.seq - 1)}, ${t} : index`) : t);
    const next = cell(b, ops, xwT, prev, s.acts[d]);
    const at = b.op(`arith.addi ${t}, ${b.index(1)} : index`);
    const update = (h: Tensor, old: Tensor, n: Tensor) => insertRow(b, h, lens ? masked(b, s, lens, t, old, n) : n, at);
    const out = [update(hh, prev.h, next.h)];
    if (hc && prev.c && next.c) out.push(update(hc, prev.c, next.c));
    return out;
  });
  const [hh, hc] = results.map(hist);
  return {
    y: timeOrdered(b, s, hh, lens, reverse),
    h: row(b, hh, b.index(s.seq)),
    c: hc ? row(b, hc, b.index(s.seq)) : null,
  };
}

/**
 * Y of one direction from its state history: y[t] is the state after the
 * step that read x[t] (step t forward, step len_b-1-t in reverse), zero at and
 * past len_b.
 */
function timeOrdered(b: FuncBuilder, s: RnnSpec, hist: Tensor, lens: Tensor | null, reverse: boolean): Tensor {
  const shape = [s.seq, s.batch, s.hidden];
  if (!lens) {
    const map = affineMap(3, [reverse ? `-d0 + ${s.seq}` : 'd0 + 1', 'd1', 'd2']);
    return stateMap(b, s.dt, shape, [{ t: hist, map }], [null], (_fb, [v]) => [v])[0];
  }
  const lensRead: Read = { t: lens, map: affineMap(3, ['d1']) };
  return stateMap(b, s.dt, shape, [lensRead], [null], (fb, [len]) => {
    const [t, bi, j] = [0, 1, 2].map((k) => fb.op(`linalg.index ${k} : index`));
    const lenIdx = fb.op(`arith.index_cast ${len} : i32 to index`);
    const valid = fb.op(`arith.cmpi slt, ${t}, ${lenIdx} : index`);
    const step = reverse ? fb.op(`arith.subi ${lenIdx}, ${t} : index`) : fb.op(`arith.addi ${t}, ${fb.index(1)} : index`);
    const src = fb.op(`arith.select ${valid}, ${step}, ${fb.index(0)} : index`);
    const v = fb.op(`tensor.extract ${hist.value}[${src}, ${bi}, ${j}] : ${typeOf(hist)}`);
    const sc = new Scalar(fb, s.dt);
    return [sc.select(valid, v, sc.zero())];
  })[0];
}

/**
 * Assembles per-direction parts (named dims `partDims`) into an output whose
 * dims are `outDims` ('d' = direction); with `lens`, entries of zero length
 * read zero (Y_h / Y_c).
 */
function assemble(b: FuncBuilder, s: RnnSpec, parts: readonly Tensor[], partDims: readonly string[], outDims: readonly string[], lens: Tensor | null): string {
  const extent: Record<string, number> = { t: s.seq, b: s.batch, h: s.hidden, d: s.dirs.length };
  const shape = outDims.map((n) => extent[n]);
  const rank = shape.length;
  const partMap = affineMap(rank, partDims.map((n) => `d${outDims.indexOf(n)}`));
  const inputs = parts.map((p) => ({ value: p.value, type: typeOf(p), map: partMap, elem: elemType(p.dt) }));
  if (lens) inputs.push({ value: lens.value, type: typeOf(lens), map: affineMap(rank, [`d${outDims.indexOf('b')}`]), elem: 'i32' });
  const outT = tensorTypeOf(s.dt, shape);
  const [value] = b.generic({
    inputs,
    outputs: [{ value: b.empty(outT), type: outT, map: identityMap(rank), elem: elemType(s.dt) }],
    iterators: shape.map(() => 'parallel'),
    body: (fb, args) => {
      const sc = new Scalar(fb, s.dt);
      let v = args[0];
      if (parts.length === 2) {
        const dir = fb.op(`linalg.index ${outDims.indexOf('d')} : index`);
        const first = fb.op(`arith.cmpi eq, ${dir}, ${fb.index(0)} : index`);
        v = sc.select(first, args[0], args[1]);
      }
      if (lens) {
        const empty = fb.op(`arith.cmpi eq, ${args[parts.length]}, ${fb.constant('0', 'i32')} : i32`);
        v = sc.select(empty, sc.zero(), v);
      }
      return [v];
    },
  });
  return value;
}

/** X in [seq, batch, input] order. */
function timeMajorInput(ctx: LowerContext, s: RnnSpec): Tensor {
  const x = inputTensor(ctx, IN.X);
  if (s.layout === 0) return x;
  const shape = [s.seq, s.batch, s.inputSize];
  return stateMap(ctx.b, s.dt, shape, [{ t: x, map: affineMap(3, ['d1', 'd0', 'd2']) }], [null], (_fb, [v]) => [v])[0];
}

/** Lowers a recurrent op: Y, Y_h and (withCell) Y_c. */
export function lowerRnn(ctx: LowerContext, s: RnnSpec, cell: Cell, withCell: boolean): string[] {
  const x = timeMajorInput(ctx, s);
  const lens = sequenceLengths(ctx, s);
  const dirs = s.dirs.map((_, d) => runDirection(ctx, s, cell, x, d, lens, withCell));
  const b = ctx.b;
  const [yDims, stateDims] = s.layout === 0 ? [['t', 'd', 'b', 'h'], ['d', 'b', 'h']] : [['b', 't', 'd', 'h'], ['b', 'd', 'h']];
  const outs: string[] = [];
  outs.push(ctx.hasOutput(0) ? assemble(b, s, dirs.map((r) => r.y), ['t', 'b', 'h'], yDims, null) : '');
  outs.push(ctx.hasOutput(1) ? assemble(b, s, dirs.map((r) => r.h), ['b', 'h'], stateDims, lens) : '');
  if (withCell) {
    const cells = dirs.map((r) => r.c).filter((c): c is Tensor => c !== null);
    outs.push(ctx.hasOutput(2) ? assemble(b, s, cells, ['b', 'h'], stateDims, lens) : '');
  }
  return outs;
}
