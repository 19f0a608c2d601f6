// Random, valid ONNX graphs for differential fuzzing: chains of elementwise,
// broadcasting, MatMul, Reshape-family, Transpose and Reduce ops over random
// static shapes. Every choice comes from a seeded generator, so a seed is a
// complete reproducer.
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { randomTensor, rng } from '../helpers/differential.js';

/** Upper bounds that keep every generated model cheap to compile and run. */
const MAX_RANK = 4;
const MAX_DIM = 5;
const MAX_ELEMENTS = 2048;
const MIN_OPS = 1;
const MAX_OPS = 8;
/** Opsets with different operator signatures (Reduce* axes moved from attribute to input at 18). */
const OPSETS = [13, 17, 18] as const;
/** ReduceSum, Squeeze and Unsqueeze take axes as an input from opset 13, the other reductions from 18. */
const AXES_INPUT_SINCE = 18;
const PROB_BROADCAST_SCALAR = 0.1;
const PROB_UNIT_DIM = 0.3;
const PROB_SECOND_OUTPUT = 0.3;
const PROB_GRAPH_INPUT_OPERAND = 0.3;

interface Val {
  name: string;
  shape: number[];
}

export interface GeneratedGraph {
  seed: number;
  model: Uint8Array;
  feeds: Record<string, HostTensor>;
  /** One line per node, for failure messages. */
  ops: string[];
}

const UNARY_OPS = ['Relu', 'Neg', 'Abs', 'Tanh', 'Sigmoid', 'Softsign', 'Sin', 'Erf'] as const;
const BINARY_OPS = ['Add', 'Sub', 'Mul', 'Max', 'Min'] as const;
const REDUCE_OPS = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceL2', 'ReduceSumSquare'] as const;

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

class Gen {
  private readonly r: () => number;
  readonly b: ModelBuilder;
  readonly opset: number;
  readonly feeds: Record<string, HostTensor> = {};
  readonly ops: string[] = [];
  private readonly values: Val[] = [];
  private counter = 0;

  constructor(readonly seed: number) {
    this.r = rng(seed);
    this.opset = this.pick(OPSETS);
    this.b = new ModelBuilder({ opset: this.opset });
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.r() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)];
  }

  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.r() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  randomShape(rank = this.int(0, MAX_RANK)): number[] {
    return Array.from({ length: rank }, () => this.int(1, MAX_DIM));
  }

  name(prefix: string): string {
    return `${prefix}${this.counter++}`;
  }

  /** A graph input (fed with random data) or an initializer of `shape`. */
  operand(shape: number[], lo = -1, hi = 1): string {
    const n = this.name('c');
    const t = randomTensor(DataType.FLOAT, shape, this.int(1, 1 << 30), lo, hi);
    if (this.chance(PROB_GRAPH_INPUT_OPERAND)) {
      this.b.input(n, DataType.FLOAT, shape);
      this.feeds[n] = t;
    } else {
      this.b.initializer(n, DataType.FLOAT, shape, t.data);
    }
    return n;
  }

  ints(values: readonly number[]): string {
    return this.b.initializer(this.name('i'), DataType.INT64, [values.length], values.map(BigInt));
  }

  push(name: string, shape: number[]): Val {
    const v = { name, shape };
    this.values.push(v);
    return v;
  }

  current(): Val {
    return this.values[this.values.length - 1];
  }

  /** Any earlier value, biased to the most recent. */
  earlier(): Val {
    const n = this.values.length;
    return this.values[Math.max(0, n - 1 - Math.floor(this.r() * this.r() * n))];
  }

  node(op: string, inputs: string[], outShape: number[], attrs: Record<string, number | number[]> = {}): Val {
    const [out] = this.b.node(op, inputs, { attrs });
    this.ops.push(`${op}(${inputs.join(', ')}) ${JSON.stringify(attrs)} -> ${out}[${outShape.join(',')}]`);
    return this.push(out, outShape);
  }

  input(): Val {
    const shape = this.randomShape(this.int(1, MAX_RANK));
    const n = this.name('x');
    this.b.input(n, DataType.FLOAT, shape);
    this.feeds[n] = randomTensor(DataType.FLOAT, shape, this.int(1, 1 << 30));
    return this.push(n, shape);
  }

  outputs(): void {
    const last = this.current();
    const outs = [last];
    const other = this.earlier();
    if (this.chance(PROB_SECOND_OUTPUT) && other !== last && !(other.name in this.feeds)) outs.push(other);
    for (const o of outs) this.b.output(o.name, DataType.FLOAT, o.shape);
  }
}

function unary(g: Gen, x: Val): Val {
  const op = g.pick(UNARY_OPS);
  return g.node(op, [x.name], x.shape);
}

function leakyLike(g: Gen, x: Val): Val {
  const alpha = Math.round((0.05 + g.int(0, 20) / 10) * 100) / 100 + 0.001;
  return g.node(g.pick(['LeakyRelu', 'Elu']), [x.name], x.shape, { alpha });
}

/** A shape that broadcasts against `shape` without growing it: a suffix with some dims set to 1. */
function broadcastPartner(g: Gen, shape: number[]): number[] {
  if (g.chance(PROB_BROADCAST_SCALAR)) return [];
  const keep = g.int(0, shape.length);
  return shape.slice(shape.length - keep).map((d) => (g.chance(PROB_UNIT_DIM) ? 1 : d));
}

function binary(g: Gen, x: Val): Val {
  const op = g.pick(BINARY_OPS);
  const other = g.earlier();
  // Reuse an earlier value when it broadcasts to x's shape, else make a fresh operand.
  const fits = other.shape.length <= x.shape.length && other.shape.every((d, i) => d === 1 || d === x.shape[x.shape.length - other.shape.length + i]);
  const rhs = fits && g.chance(0.5) ? other.name : g.operand(broadcastPartner(g, x.shape));
  return g.chance(0.5) ? g.node(op, [x.name, rhs], x.shape) : g.node(op, [rhs, x.name], x.shape);
}

/** Division by an operand bounded away from zero, so results stay comparable. */
function divide(g: Gen, x: Val): Val {
  return g.node('Div', [x.name, g.operand(broadcastPartner(g, x.shape), 0.5, 2)], x.shape);
}

function matmul(g: Gen, x: Val): Val {
  if (x.shape.length === 0) return unary(g, x);
  const k = x.shape[x.shape.length - 1];
  const n = g.int(1, MAX_DIM);
  if (x.shape.length === 1) return g.node('MatMul', [x.name, g.operand([k, n])], [n]);
  const out = [...x.shape.slice(0, -1), n];
  if (product(out) > MAX_ELEMENTS) return unary(g, x);
  // Sometimes a batched right operand with broadcast batch dims.
  const batch = g.chance(0.3) ? x.shape.slice(0, -2).map((d) => (g.chance(PROB_UNIT_DIM) ? 1 : d)) : [];
  return g.node('MatMul', [x.name, g.operand([...batch, k, n])], out);
}

/** Factors `total` into a random shape of rank 1..MAX_RANK. */
function factorShape(g: Gen, total: number): number[] {
  const rank = g.int(1, MAX_RANK);
  const dims: number[] = [];
  let rest = total;
  for (let i = 0; i < rank - 1; i++) {
    const divisors = Array.from({ length: rest }, (_, j) => j + 1).filter((d) => rest % d === 0 && d <= MAX_DIM * 2);
    const d = g.pick(divisors);
    dims.push(d);
    rest /= d;
  }
  dims.push(rest);
  return g.shuffle(dims);
}

function reshape(g: Gen, x: Val): Val {
  const out = factorShape(g, product(x.shape));
  const spec = out.map((d, i) => (i < x.shape.length && x.shape[i] === d && g.chance(0.3) ? 0 : d));
  const wild = g.int(0, spec.length - 1);
  if (g.chance(0.4)) spec[wild] = -1;
  return g.node('Reshape', [x.name, g.ints(spec)], out);
}

function flatten(g: Gen, x: Val): Val {
  const axis = g.int(-x.shape.length, x.shape.length);
  const a = axis < 0 ? axis + x.shape.length : axis;
  return g.node('Flatten', [x.name], [product(x.shape.slice(0, a)), product(x.shape.slice(a))], { axis });
}

function unsqueeze(g: Gen, x: Val): Val {
  if (x.shape.length >= MAX_RANK) return x.shape.includes(1) ? squeeze(g, x) : unary(g, x);
  const axis = g.int(0, x.shape.length);
  const out = [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)];
  return g.node('Unsqueeze', [x.name, g.ints([g.chance(0.5) ? axis : axis - out.length])], out);
}

function squeeze(g: Gen, x: Val): Val {
  const ones = x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  if (ones.length === 0) return x.shape.length < MAX_RANK ? unsqueeze(g, x) : unary(g, x);
  const axes = ones.filter(() => g.chance(0.6));
  const drop = axes.length ? axes : ones;
  const out = x.shape.filter((_, i) => !drop.includes(i));
  // No axes input squeezes every unit dim.
  return axes.length ? g.node('Squeeze', [x.name, g.ints(axes)], out) : g.node('Squeeze', [x.name], out);
}

function transpose(g: Gen, x: Val): Val {
  if (g.chance(0.2)) return g.node('Transpose', [x.name], [...x.shape].reverse());
  const perm = g.shuffle(x.shape.map((_, i) => i));
  return g.node('Transpose', [x.name], perm.map((p) => x.shape[p]), { perm });
}

function reduce(g: Gen, x: Val): Val {
  const op = g.pick(REDUCE_OPS);
  const keepdims = g.int(0, 1);
  const rank = x.shape.length;
  const all = rank === 0 || g.chance(0.2);
  const axes = all ? [] : g.shuffle(x.shape.map((_, i) => i)).slice(0, g.int(1, rank));
  const reduced = all ? x.shape.map((_, i) => i) : axes;
  const out = keepdims ? x.shape.map((d, i) => (reduced.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !reduced.includes(i));
  const written = axes.map((a) => (g.chance(0.3) ? a - rank : a));
  const axesAsInput = op === 'ReduceSum' || g.opset >= AXES_INPUT_SINCE;
  if (!written.length) return g.node(op, [x.name], out, { keepdims });
  return axesAsInput ? g.node(op, [x.name, g.ints(written)], out, { keepdims }) : g.node(op, [x.name], out, { keepdims, axes: written });
}

type Step = (g: Gen, x: Val) => Val;
const STEPS: readonly Step[] = [
  unary, unary, leakyLike, binary, binary, binary, divide, matmul, matmul,
  reshape, flatten, unsqueeze, squeeze, transpose, transpose, reduce, reduce,
];

export function generateGraph(seed: number): GeneratedGraph {
  const g = new Gen(seed);
  g.input();
  const count = g.int(MIN_OPS, MAX_OPS);
  for (let i = 0; i < count; i++) {
    const x = g.current();
    const before = g.ops.length;
    g.pick(STEPS)(g, x);
    if (product(g.current().shape) > MAX_ELEMENTS || g.ops.length === before) break;
  }
  if (g.ops.length === 0) unary(g, g.current());
  g.outputs();
  return { seed, model: g.b.build(), feeds: g.feeds, ops: g.ops };
}
