// ai.onnx.ml TreeEnsemble (opset 5) against onnxruntime-node: random forests
// over every comparison mode and set membership, NaN inputs with and without
// missing_value_tracks_true, one-leaf trees, every aggregate function and
// post transform, float and double. onnxruntime swaps post_transform 1 and 2
// (it reads 1 as LOGISTIC, 2 as SOFTMAX; the spec has SOFTMAX = 1, LOGISTIC =
// 2), so those two are checked against the raw scores transformed here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataType, type OnnxTensor } from '../../src/onnx/model.js';
import { ModelBuilder, type AttrInput } from '../../src/onnx/builder.js';
import { tensorFromValues } from '../../src/onnx/tensor-data.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { createMlirSession } from '../../src/ep/session.js';
import { assertMatchesOrt, rng } from '../helpers/differential.js';

const F = DataType.FLOAT;
const D = DataType.DOUBLE;
const ML = 'ai.onnx.ml';
const MEMBER = 6;
const MODES = 7;
/** Feature values are small integers (or NaN) so that EQ / NEQ / MEMBER branch both ways. */
const VALUES = 6;

interface Forest {
  modes: number[];
  splits: number[];
  features: number[];
  trueIds: number[];
  falseIds: number[];
  trueLeafs: number[];
  falseLeafs: number[];
  missing: number[];
  members: number[];
  roots: number[];
  leafTargets: number[];
  leafWeights: number[];
}

/** Random trees of depth <= `depth` (plus a one-leaf tree), nodes numbered in creation order. */
function randomForest(trees: number, depth: number, features: number, targets: number, seed: number, weights: [number, number]): Forest {
  const r = rng(seed);
  const pick = (n: number) => Math.floor(r() * n);
  const f: Forest = { modes: [], splits: [], features: [], trueIds: [], falseIds: [], trueLeafs: [], falseLeafs: [], missing: [], members: [], roots: [], leafTargets: [], leafWeights: [] };
  const leaf = (): number => {
    f.leafTargets.push(pick(targets));
    f.leafWeights.push(weights[0] + (weights[1] - weights[0]) * r());
    return f.leafTargets.length - 1;
  };
  const node = (level: number): number => {
    const i = f.modes.length;
    const mode = pick(MODES);
    f.modes.push(mode);
    f.splits.push(mode === MEMBER ? 0 : pick(VALUES) - 0.5 * pick(2));
    f.features.push(pick(features));
    f.missing.push(pick(2));
    if (mode === MEMBER) f.members.push(pick(VALUES), pick(VALUES), NaN);
    for (const side of ['true', 'false'] as const) {
      const isLeaf = level + 1 >= depth || r() < 0.3;
      (side === 'true' ? f.trueIds : f.falseIds).push(-1);
      (side === 'true' ? f.trueLeafs : f.falseLeafs).push(isLeaf ? 1 : 0);
    }
    f.trueIds[i] = f.trueLeafs[i] ? leaf() : node(level + 1);
    f.falseIds[i] = f.falseLeafs[i] ? leaf() : node(level + 1);
    return i;
  };
  for (let t = 0; t < trees; t++) f.roots.push(node(0));
  // A one-leaf tree: a root whose two children are the same leaf.
  const only = f.modes.length;
  const l = leaf();
  f.modes.push(0); f.splits.push(0); f.features.push(0); f.missing.push(0);
  f.trueIds.push(l); f.falseIds.push(l); f.trueLeafs.push(1); f.falseLeafs.push(1);
  f.roots.push(only);
  return f;
}

function floats(name: string, dt: DataType, values: number[]): OnnxTensor {
  return tensorFromValues(name, dt, [values.length], dt === D ? new Float64Array(values) : new Float32Array(values));
}

function attrs(f: Forest, dt: DataType, targets: number, aggregate: number, post: number): Record<string, AttrInput> {
  return {
    n_targets: targets, aggregate_function: aggregate, post_transform: post, tree_roots: f.roots,
    nodes_modes: tensorFromValues('modes', DataType.UINT8, [f.modes.length], new Uint8Array(f.modes)),
    nodes_splits: floats('splits', dt, f.splits), nodes_featureids: f.features,
    nodes_truenodeids: f.trueIds, nodes_falsenodeids: f.falseIds, nodes_trueleafs: f.trueLeafs, nodes_falseleafs: f.falseLeafs,
    nodes_missing_value_tracks_true: f.missing, membership_values: floats('members', dt, f.members),
    leaf_targetids: f.leafTargets, leaf_weights: floats('weights', dt, f.leafWeights),
  };
}

/** [N, F] of small integers, every fifth one NaN. */
function features(dt: DataType, n: number, count: number, seed: number): HostTensor {
  const r = rng(seed);
  const values = Array.from({ length: n * count }, (_, i) => (i % 5 === 3 ? NaN : Math.floor(r() * VALUES)));
  const data = dt === D ? new Float64Array(values) : new Float32Array(values);
  return { dataType: dt, dims: [n, count], data: new Uint8Array(data.buffer) };
}

interface Variant {
  targets: number;
  aggregate: number;
  post: number;
  weights?: [number, number];
}

const BATCH = 16;
const FEATURES = 3;

/** One model with a TreeEnsemble per variant over the same X (variant k's forest seeded by seed + k). */
function ensembles(dt: DataType, variants: Variant[], seed: number): Uint8Array {
  const b = new ModelBuilder({ opset: 21, opsets: { [ML]: 5 } });
  const x = b.input('x', dt, [BATCH, FEATURES]);
  variants.forEach((v, k) => {
    const forest = randomForest(4, 4, FEATURES, v.targets, seed + k, v.weights ?? [-2, 2]);
    const [y] = b.node('TreeEnsemble', [x], { domain: ML, attrs: attrs(forest, dt, v.targets, v.aggregate, v.post), outputs: [`y${k}`] });
    b.output(y);
  });
  return b.build();
}

async function check(dt: DataType, variants: Variant[], seed: number): Promise<void> {
  await assertMatchesOrt(ensembles(dt, variants, seed), { x: features(dt, BATCH, FEATURES, seed) }, { atol: 1e-5, rtol: 1e-5 });
}

/** Every output of the model on the mlir EP (fully compiled), as rows of numbers. */
async function runMlir(model: Uint8Array, x: HostTensor): Promise<number[][]> {
  const s = await createMlirSession(model, { cacheDir: '' });
  try {
    const out = await s.run(new Map([['x', x]]));
    assert.equal(s.report().fallbackNodes, 0, s.report().fallbackReasons.join('; '));
    return [...out.values()].map((t) => Array.from(t.dataType === D ? new Float64Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 8) : new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4)));
  } finally {
    await s.dispose();
  }
}

const softmaxRows = (v: number[], width: number) => v.map((_, i) => {
  const row = v.slice(i - (i % width), i - (i % width) + width);
  const m = Math.max(...row);
  return Math.exp(v[i] - m) / row.reduce((a, r) => a + Math.exp(r - m), 0);
});
const logistic = (v: number[]) => v.map((s) => 1 / (1 + Math.exp(-s)));

const [AVERAGE, SUM, MIN, MAX] = [0, 1, 2, 3];
const [NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT] = [0, 1, 2, 3, 4];

describe('TreeEnsemble matches onnxruntime', () => {
  it('every aggregate function, several targets, no post transform', async () => {
    await check(F, [
      { targets: 3, aggregate: SUM, post: NONE },
      { targets: 4, aggregate: AVERAGE, post: NONE },
      { targets: 5, aggregate: MIN, post: NONE },
      { targets: 5, aggregate: MAX, post: NONE },
      { targets: 1, aggregate: SUM, post: NONE },
    ], 11);
  });

  it('post transforms: softmax_zero, probit', async () => {
    await check(F, [
      { targets: 6, aggregate: MAX, post: SOFTMAX_ZERO },
      { targets: 4, aggregate: SUM, post: SOFTMAX_ZERO },
      { targets: 2, aggregate: AVERAGE, post: PROBIT, weights: [0.05, 0.95] },
      { targets: 1, aggregate: AVERAGE, post: PROBIT, weights: [0.05, 0.95] },
    ], 23);
  });

  it('double inputs', async () => {
    await check(D, [
      { targets: 2, aggregate: SUM, post: NONE },
      { targets: 3, aggregate: MIN, post: NONE },
      { targets: 3, aggregate: AVERAGE, post: SOFTMAX_ZERO },
    ], 37);
  });

  for (const dt of [F, D]) {
    it(`SOFTMAX (1) and LOGISTIC (2) as the spec numbers them, ${DataType[dt]}`, async () => {
      const x = features(dt, BATCH, FEATURES, 41);
      const [raw3, raw4] = await runMlir(ensembles(dt, [{ targets: 3, aggregate: SUM, post: NONE }, { targets: 4, aggregate: MIN, post: NONE }], 41), x);
      const [soft, logi] = await runMlir(ensembles(dt, [{ targets: 3, aggregate: SUM, post: SOFTMAX }, { targets: 4, aggregate: MIN, post: LOGISTIC }], 41), x);
      const close = (got: number[], want: number[]) => got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < 1e-5, `element ${i}: ${g} vs ${want[i]}`));
      close(soft, softmaxRows(raw3, 3));
      close(logi, logistic(raw4));
    });
  }
});
