// Bounded-time fuzzing of the whole session path (decode → import → compile →
// run): random valid graphs must match onnxruntime-node; mutated or truncated
// model bytes and random attribute values must either run or be rejected with
// one of the project's typed errors — never a crash, a hang or a stray
// TypeError/RangeError from deep inside the compiler.
//
// Knobs: ORT_MLIR_FUZZ_MS (time budget per part, default 12 s),
// ORT_MLIR_FUZZ_SEED (first seed, default 1). A failure message names the seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, attr, type AttrInput } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { createMlirSession } from '../../src/ep/session.js';
import { CpuSession } from '../../src/ep/cpu-session.js';
import { compareTensors, DEFAULT_ATOL, DEFAULT_RTOL } from '../../src/cli/compare.js';
import { EpError } from '../../src/ep/errors.js';
import { OptionsError } from '../../src/ep/options.js';
import { OnnxDecodeError } from '../../src/onnx/model.js';
import { ImportError } from '../../src/import/registry.js';
import { CodegenError } from '../../src/codegen/mlir-builder.js';
import { IrError } from '../../src/ir/types.js';
import { SymbolicError } from '../../src/ir/symbolic.js';
import { SubgraphKeyError } from '../../src/ir/subgraph-key.js';
import { ExecutionError } from '../../src/runtime/executor.js';
import { ControlFlowError } from '../../src/runtime/control-flow.js';
import { SlicingError } from '../../src/runtime/host-slicing.js';
import { ToolchainError } from '../../src/toolchain/tools.js';
import { NativeError } from '../../src/native/library.js';
import { FunctionInlineError } from '../../src/passes/inline-functions.js';
import { generateGraph } from './graph-generator.js';
import { randomTensor, rng } from '../helpers/differential.js';

function knob(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

const BUDGET_MS = knob('ORT_MLIR_FUZZ_MS', 12_000);
const FIRST_SEED = knob('ORT_MLIR_FUZZ_SEED', 1);
/** A mutated model may still be valid and compile: keep one slow tool from eating the budget. */
const TOOL_TIMEOUT_MS = '60000';
const MUTATIONS_PER_MODEL = 6;

const TYPED_ERRORS = [
  EpError, OptionsError, OnnxDecodeError, ImportError, CodegenError, IrError, SymbolicError, SubgraphKeyError,
  ExecutionError, ControlFlowError, SlicingError, ToolchainError, NativeError, FunctionInlineError,
] as const;

function isTyped(e: unknown): boolean {
  return TYPED_ERRORS.some((cls) => e instanceof cls);
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}: ${e.message.split('\n')[0]}\n${e.stack ?? ''}` : String(e);
}

interface Tally {
  ran: number;
  rejected: number;
}

/** Creates a session and runs it; returns whether it ran. Throws (failing the test) on an untyped error. */
async function survive(model: Uint8Array, feeds: Record<string, HostTensor>, what: string): Promise<boolean> {
  let session;
  try {
    session = await createMlirSession(model, { cacheDir: '' });
  } catch (e) {
    assert.ok(isTyped(e), `${what}: session creation threw an untyped error: ${describe(e)}`);
    return false;
  }
  try {
    await session.run(new Map(Object.entries(feeds)));
    return true;
  } catch (e) {
    assert.ok(isTyped(e), `${what}: run threw an untyped error: ${describe(e)}`);
    return false;
  } finally {
    await session.dispose();
  }
}

async function withToolTimeout<T>(fn: () => Promise<T>): Promise<T> {
  const before = process.env.ORT_MLIR_TOOL_TIMEOUT_MS;
  process.env.ORT_MLIR_TOOL_TIMEOUT_MS = TOOL_TIMEOUT_MS;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.ORT_MLIR_TOOL_TIMEOUT_MS;
    else process.env.ORT_MLIR_TOOL_TIMEOUT_MS = before;
  }
}

async function forBudget(body: (seed: number) => Promise<void>): Promise<number> {
  const end = performance.now() + BUDGET_MS;
  let seed = FIRST_SEED;
  while (performance.now() < end) await body(seed++);
  return seed - FIRST_SEED;
}

test('fuzz: random graphs match onnxruntime-node', async (t) => {
  const n = await forBudget(async (seed) => {
    const g = generateGraph(seed);
    const feeds = new Map(Object.entries(g.feeds));
    const cpu = await CpuSession.create(g.model);
    const mlir = await createMlirSession(g.model, { cacheDir: '' });
    try {
      const expected = await cpu.run(feeds);
      const actual = await mlir.run(feeds);
      for (const [name, e] of expected) {
        const a = actual.get(name);
        assert.ok(a, `seed ${seed}: output '${name}' missing`);
        const r = compareTensors(a, e, { atol: DEFAULT_ATOL, rtol: DEFAULT_RTOL, postProcessing: false });
        assert.equal(r.status, 'success', `seed ${seed} (${g.ops.join('; ')}): output '${name}': ${r.message}`);
      }
    } finally {
      await cpu.dispose();
      await mlir.dispose();
    }
  });
  t.diagnostic(`${n} random graphs compared`);
  assert.ok(n > 0);
});

type Mutation = (bytes: Uint8Array, r: () => number) => Uint8Array;

const at = (n: number, r: () => number) => Math.floor(r() * n);

/** xorshift started from a small seed yields tiny numbers for a while: spread the seed first. */
function mixedRng(seed: number): () => number {
  const r = rng(Math.imul(seed, 0x9e3779b1) >>> 0);
  for (let k = 0; k < 8; k++) r();
  return r;
}

const MUTATIONS: readonly Mutation[] = [
  (b, r) => b.slice(0, at(b.length, r)),
  (b, r) => { const c = b.slice(); c[at(c.length, r)] ^= 1 << at(8, r); return c; },
  (b, r) => { const c = b.slice(); c[at(c.length, r)] = at(256, r); return c; },
  (b, r) => { const i = at(b.length, r); return new Uint8Array([...b.subarray(0, i), ...b.subarray(i + 1 + at(8, r))]); },
  (b, r) => { const i = at(b.length, r); const len = 1 + at(16, r); return new Uint8Array([...b.subarray(0, i), ...b.subarray(i, i + len), ...b.subarray(i)]); },
  (b, r) => { const c = b.slice(); for (let k = 0; k < 4; k++) c[at(c.length, r)] = 0xff; return c; },
];

test('fuzz: mutated and truncated model bytes run or fail with a typed error', async (t) => {
  const tally: Tally = { ran: 0, rejected: 0 };
  const n = await withToolTimeout(() => forBudget(async (seed) => {
    const g = generateGraph(seed);
    const r = mixedRng(seed);
    for (let k = 0; k < MUTATIONS_PER_MODEL; k++) {
      const m = MUTATIONS[at(MUTATIONS.length, r)];
      const ok = await survive(m(g.model, r), g.feeds, `seed ${seed} mutation ${k}`);
      if (ok) tally.ran++;
      else tally.rejected++;
    }
  }));
  t.diagnostic(`${n} models × ${MUTATIONS_PER_MODEL} mutations: ${tally.ran} ran, ${tally.rejected} rejected with typed errors`);
  assert.ok(n > 0);
});

/** Single-node models whose attributes (and constant operands) are drawn at random, in and out of range. */
interface AttrCase {
  op: string;
  shape: number[];
  attrs: (r: () => number) => Record<string, AttrInput>;
}

const wild = (r: () => number) => [0, 1, -1, 2, 3, -3, 7, 1 << 20, -(1 << 30)][at(9, r)];
const wilds = (r: () => number, n: number) => Array.from({ length: n }, () => wild(r));
const someFloat = (r: () => number) => attr.float([0, 0.5, -2, 1e30, Number.NaN, Number.POSITIVE_INFINITY][at(6, r)]);

const ATTR_CASES: readonly AttrCase[] = [
  { op: 'Transpose', shape: [2, 3, 4], attrs: (r) => ({ perm: wilds(r, 1 + at(4, r)) }) },
  { op: 'Softmax', shape: [2, 3], attrs: (r) => ({ axis: wild(r) }) },
  { op: 'Flatten', shape: [2, 3, 4], attrs: (r) => ({ axis: wild(r) }) },
  { op: 'LeakyRelu', shape: [5], attrs: (r) => ({ alpha: someFloat(r) }) },
  { op: 'Elu', shape: [5], attrs: (r) => ({ alpha: someFloat(r) }) },
  { op: 'Gelu', shape: [5], attrs: (r) => ({ approximate: ['none', 'tanh', 'bogus'][at(3, r)] }) },
  { op: 'ArgMax', shape: [3, 4], attrs: (r) => ({ axis: wild(r), keepdims: wild(r) }) },
  { op: 'CumSum', shape: [6], attrs: (r) => ({ exclusive: wild(r), reverse: wild(r) }) },
  { op: 'MaxPool', shape: [1, 1, 5, 5], attrs: (r) => ({ kernel_shape: wilds(r, 1 + at(3, r)), strides: wilds(r, 2), pads: wilds(r, 4) }) },
  { op: 'AveragePool', shape: [1, 1, 5, 5], attrs: (r) => ({ kernel_shape: wilds(r, 2), ceil_mode: wild(r), count_include_pad: wild(r) }) },
  { op: 'LpNormalization', shape: [2, 3], attrs: (r) => ({ axis: wild(r), p: wild(r) }) },
  { op: 'DepthToSpace', shape: [1, 4, 2, 2], attrs: (r) => ({ blocksize: wild(r), mode: ['DCR', 'CRD', 'XYZ'][at(3, r)] }) },
  { op: 'Cast', shape: [4], attrs: (r) => ({ to: at(30, r) }) },
];

test('fuzz: random attribute values run or fail with a typed error', async (t) => {
  const tally: Tally = { ran: 0, rejected: 0 };
  const n = await withToolTimeout(() => forBudget(async (seed) => {
    const r = mixedRng(seed);
    const c = ATTR_CASES[at(ATTR_CASES.length, r)];
    const attrs = c.attrs(r);
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', DataType.FLOAT, c.shape);
    const [y] = b.node(c.op, [x], { attrs });
    b.output(y);
    const feeds = { x: randomTensor(DataType.FLOAT, c.shape, seed) };
    const ok = await survive(b.build(), feeds, `seed ${seed} ${c.op} ${JSON.stringify(attrs)}`);
    if (ok) tally.ran++;
    else tally.rejected++;
  }));
  t.diagnostic(`${n} attribute draws: ${tally.ran} ran, ${tally.rejected} rejected with typed errors`);
  assert.ok(n > 0);
});
