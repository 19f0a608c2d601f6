// Every feed is checked (names, dtype, rank, dims, data length) before any
// native call — and, for models with symbolic dims, before any compile — and a
// mismatch is an error naming the input, what was expected and what was given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataType, type OnnxModel } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { Executor, ExecutionError } from '../../src/runtime/executor.js';
import { MlirSession } from '../../src/ep/session.js';
import { EpError } from '../../src/ep/errors.js';
import { resolveOptions, type ResolvedOptions } from '../../src/ep/options.js';
import { compileWithCache } from '../../src/ep/compile-cache.js';
import { CpuSession } from '../../src/ep/cpu-session.js';
import { serializeModule, type CompiledModule } from '../../src/module/format.js';
import type { TensorType } from '../../src/ir/types.js';
import { mlirBackend } from '../../src/ep/backend.js';
import '../../src/index.js';
import { floatTensor, randomTensor, toFloats } from '../helpers/differential.js';

const OPTS = { cacheDir: '' };
/** Through ORT: a variable (not a literal) so that EP-specific keys type-check. */
const MLIR_EP = { name: 'mlir', cacheDir: '' };
/** A dtype no ONNX version defines. */
const UNKNOWN_DTYPE: number = 999;

/** out = Relu(x + y), x: [2,3], y: [3]. */
function staticModel(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const y = b.input('y', DataType.FLOAT, [3]);
  const [s] = b.node('Add', [x, y]);
  const [r] = b.node('Relu', [s], { outputs: ['out'] });
  b.output(r, DataType.FLOAT, [2, 3]);
  return b.build();
}

/** out = Tanh(x), x: [N, 3] with N symbolic: the session compiles per N. */
function symbolicModel(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, ['N', 3]);
  const [t] = b.node('Tanh', [x], { outputs: ['out'] });
  b.output(t, DataType.FLOAT, ['N', 3]);
  return b.build();
}

function ints(dims: number[]): HostTensor {
  return { dataType: DataType.INT32, dims, data: new Uint8Array(4 * dims.reduce((a, b) => a * b, 1)) };
}

function float(dims: number[], bytes: number): HostTensor {
  return { dataType: DataType.FLOAT, dims, data: new Uint8Array(bytes) };
}

const X = floatTensor([2, 3], [-3, -1, 0, 1, 2, 3]);
const Y = floatTensor([3], [1, 1, 1]);

/** A session whose compiles are counted, and whose native steps are observed. */
async function counted(model: Uint8Array): Promise<{ session: MlirSession; compiles: () => number; steps: () => number }> {
  let compiles = 0;
  let steps = 0;
  const compile = (m: OnnxModel, bytes: Uint8Array, types: ReadonlyMap<string, TensorType>, options: ResolvedOptions): Promise<CompiledModule> => {
    compiles++;
    return compileWithCache({ model: m, modelBytes: bytes, inputTypes: types, options });
  };
  const session = await MlirSession.create(model, OPTS, {}, compile);
  session.observer = { onStep: () => void steps++ };
  return { session, compiles: () => compiles, steps: () => steps };
}

type BadFeed = [what: string, feeds: [string, HostTensor][], message: RegExp];

const STATIC_CASES: BadFeed[] = [
  ['missing feed', [['x', X]], /input 'y' is missing.*expected inputs: x, y/],
  ['extra feed', [['x', X], ['y', Y], ['z', Y]], /'z' is not an input.*inputs: x, y/],
  ['wrong dtype', [['x', ints([2, 3])], ['y', Y]], /input 'x' expects FLOAT\[2,3\], got INT32\[2,3\]/],
  ['wrong rank', [['x', float([6], 24)], ['y', Y]], /input 'x' expects FLOAT\[2,3\], got FLOAT\[6\]/],
  ['wrong dims', [['x', float([3, 2], 24)], ['y', Y]], /input 'x' expects FLOAT\[2,3\], got FLOAT\[3,2\]/],
  ['data shorter than dims', [['x', float([2, 3], 20)], ['y', Y]], /input 'x': data has 20 bytes, expected 24 for FLOAT\[2,3\]/],
  ['data longer than dims', [['x', X], ['y', float([3], 16)]], /input 'y': data has 16 bytes, expected 12 for FLOAT\[3\]/],
  ['negative dim', [['x', float([-2, -3], 24)], ['y', Y]], /input 'x': dims must be non-negative integers, got \[-2,-3\]/],
  ['fractional dim', [['x', float([2.5, 3], 24)], ['y', Y]], /input 'x': dims must be non-negative integers/],
  ['unknown dtype', [['x', { dataType: UNKNOWN_DTYPE, dims: [2, 3], data: new Uint8Array(24) }], ['y', Y]], /input 'x': unknown data type 999/],
  ['string tensor without strings', [['x', { dataType: DataType.STRING, dims: [2, 3], data: new Uint8Array(0) }], ['y', Y]], /input 'x': STRING\[2,3\] needs 6 strings, got 0/],
];

test('bad feeds to a static model: named errors, no native call, the session stays usable', async () => {
  const { session, steps } = await counted(staticModel());
  try {
    for (const [what, feeds, message] of STATIC_CASES) {
      await assert.rejects(session.run(new Map(feeds)), (e: unknown) => e instanceof EpError && message.test(e.message), what);
    }
    assert.equal(steps(), 0, 'no step ran for any rejected feed');
    const out = await session.run(new Map([['x', X], ['y', Y]]));
    assert.deepEqual(toFloats(out.get('out')!), [0, 0, 1, 2, 3, 4]);
  } finally {
    await session.dispose();
  }
});

test('symbolic dims: inconsistent feeds are rejected before they can trigger a compile', async () => {
  const { session, compiles, steps } = await counted(symbolicModel());
  try {
    assert.equal(compiles(), 0, 'symbolic input: nothing compiled eagerly');
    const cases: BadFeed[] = [
      ['data shorter than dims claim', [['x', float([1_000_000, 3], 12)]], /input 'x': data has 12 bytes, expected 12000000 for FLOAT\[1000000,3\]/],
      ['negative symbolic dim', [['x', float([-1, 3], 12)]], /input 'x': dims must be non-negative integers/],
      ['wrong fixed dim', [['x', float([1, 4], 16)]], /input 'x' expects FLOAT\[N,3\], got FLOAT\[1,4\]/],
      ['wrong dtype', [['x', ints([1, 3])]], /input 'x' expects FLOAT\[N,3\], got INT32\[1,3\]/],
    ];
    for (const [what, feeds, message] of cases) {
      await assert.rejects(session.run(new Map(feeds)), (e: unknown) => e instanceof EpError && message.test(e.message), what);
    }
    assert.equal(compiles(), 0, 'no compile for a rejected feed');
    assert.equal(steps(), 0);
    const out = await session.run(new Map([['x', floatTensor([2, 3], [0, 1, 2, 3, 4, 5])]]));
    assert.equal(compiles(), 1);
    toFloats(out.get('out')!).forEach((v, i) => assert.ok(Math.abs(v - Math.tanh(i)) < 1e-6));
  } finally {
    await session.dispose();
  }
});

test('Executor.validateFeeds: the runtime checks feeds itself (precompiled modules, no model at hand)', async () => {
  const options = resolveOptions(OPTS);
  const module = await compileWithCache({
    model: (await import('../../src/onnx/decode.js')).decodeModel(staticModel()),
    modelBytes: staticModel(),
    inputTypes: new Map([['x', { dataType: DataType.FLOAT, shape: [2, 3] }], ['y', { dataType: DataType.FLOAT, shape: [3] }]]),
    options,
  });
  const ex = await Executor.load(module, (m) => CpuSession.create(m));
  let steps = 0;
  const observer = { onStep: () => void steps++ };
  try {
    const cases: BadFeed[] = [
      ['missing', [['x', X]], /input 'y' is missing; expected FLOAT\[3\]/],
      ['dtype', [['x', ints([2, 3])], ['y', Y]], /input 'x': expected FLOAT\[2,3\], got INT32\[2,3\]/],
      ['rank', [['x', float([6], 24)], ['y', Y]], /input 'x': expected FLOAT\[2,3\], got FLOAT\[6\]/],
      ['dims', [['x', float([3, 2], 24)], ['y', Y]], /input 'x': expected FLOAT\[2,3\], got FLOAT\[3,2\]/],
      ['short data', [['x', float([2, 3], 8)], ['y', Y]], /input 'x': data has 8 bytes, expected 24 for dims \[2,3\]/],
    ];
    for (const [what, feeds, message] of cases) {
      await assert.rejects(ex.run(new Map(feeds), observer), (e: unknown) => e instanceof ExecutionError && message.test(e.message), what);
    }
    assert.equal(steps, 0);
    assert.deepEqual(toFloats((await ex.run(new Map([['x', X], ['y', Y]]))).get('out')!), [0, 0, 1, 2, 3, 4]);
  } finally {
    await ex.dispose();
  }
  // The same module loaded as a runtime-only session: validation still names the input.
  const dir = await mkdtemp(join(tmpdir(), 'feeds-module-'));
  const path = join(dir, 'm.ortmlir');
  await writeFile(path, serializeModule(module));
  const s = await MlirSession.create(new Uint8Array(), { module: path, cacheDir: '' });
  try {
    await assert.rejects(s.run(new Map([['x', float([3, 2], 24)], ['y', Y]])), /input 'x': expected FLOAT\[2,3\], got FLOAT\[3,2\]/);
    await assert.rejects(s.run(new Map([['x', float([2, 3], 4)], ['y', Y]])), /input 'x': data has 4 bytes, expected 24/);
    await assert.rejects(s.run(new Map([['x', X]])), /input 'y' is missing/);
  } finally {
    await s.dispose();
  }
});

test('through onnxruntime-node: bad feeds are typed errors naming the input', async () => {
  const s = await ort.InferenceSession.create(staticModel(), { executionProviders: [MLIR_EP] });
  const x = new ort.Tensor('float32', new Float32Array(6), [2, 3]);
  const y = new ort.Tensor('float32', new Float32Array(3), [3]);
  try {
    await assert.rejects(s.run({ x, y: new ort.Tensor('float32', new Float32Array(6), [2, 3]) }), /input 'y' expects FLOAT\[3\], got FLOAT\[2,3\]/);
    await assert.rejects(s.run({ x: new ort.Tensor('int64', new BigInt64Array(6), [2, 3]), y }), /input 'x' expects FLOAT\[2,3\], got INT64\[2,3\]/);
    await assert.rejects(s.run({ x }), /'y'/);
    assert.ok((await s.run({ x, y })).out instanceof ort.Tensor);
  } finally {
    await s.release();
  }
  // The handler itself (below onnxruntime-common's own argument checks).
  const h = await mlirBackend.createInferenceSessionHandler(staticModel(), { executionProviders: [MLIR_EP] });
  try {
    const notATensor = { x: { dims: [2, 3], type: 'float32' }, y } as unknown as Record<string, ort.Tensor>;
    await assert.rejects(h.run(notATensor, { out: null }, {}), (e: unknown) => e instanceof EpError && /input 'x': expected an onnxruntime Tensor/.test(e.message));
    await assert.rejects(h.run({ x, y }, { nope: null }, {}), /output 'nope' is not an output of this model/);
    const small = new ort.Tensor('float32', new Float32Array(2), [2]);
    await assert.rejects(h.run({ x, y }, { out: small }, {}), /preallocated output 'out': expected FLOAT\[2,3\], got float32\[2\]/);
  } finally {
    await h.dispose();
  }
});

test('random feeds: whatever a caller passes is either run or rejected with a typed error', async () => {
  const { session, steps } = await counted(staticModel());
  const dtypes = [DataType.FLOAT, DataType.INT32, DataType.DOUBLE, DataType.INT8, DataType.BOOL];
  let accepted = 0;
  try {
    for (let seed = 1; seed <= 200; seed++) {
      const dims = [seed % 3, (seed * 7) % 4].slice(0, seed % 3);
      const dt = dtypes[seed % dtypes.length];
      const t = randomTensor(dt, dims, seed);
      const bytes = seed % 5 === 0 ? t.data.subarray(0, Math.max(0, t.data.byteLength - 1)) : t.data;
      const feeds = new Map<string, HostTensor>([[seed % 4 === 0 ? 'y' : 'x', { ...t, data: bytes }], ['y', Y]]);
      try {
        await session.run(feeds);
        accepted++;
      } catch (e) {
        assert.ok(e instanceof EpError || e instanceof ExecutionError, `seed ${seed}: untyped ${String(e)}`);
      }
    }
    assert.equal(accepted, 0, 'none of these feeds matches the model');
    assert.equal(steps(), 0);
  } finally {
    await session.dispose();
  }
});
