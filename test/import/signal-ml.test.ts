// Differential tests of DFT, TensorScatter, TfIdfVectorizer, the simple
// ai.onnx.ml ops, MelWeightMatrix and the tensor forms of the Optional ops against
// onnxruntime-node. (onnxruntime's one-sided DFT disagrees with the ONNX test
// data, so rfft/irfft are checked as a round trip on the mlir EP instead.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, attr, type AttrInput } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { createMlirSession } from '../../src/ep/session.js';
import { assertMatchesOrt, floatTensor, randomTensor, toFloats } from '../helpers/differential.js';

const F = DataType.FLOAT;
const I64 = DataType.INT64;
const ML = 'ai.onnx.ml';

function int64Tensor(dims: number[], values: number[]): HostTensor {
  return { dataType: I64, dims, data: new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer) };
}

interface Node {
  op: string;
  inputs: { dims: number[]; dataType?: DataType; value?: HostTensor; constant?: number[]; omit?: boolean }[];
  attrs?: Record<string, AttrInput>;
  domain?: string;
}

/** One model running every node side by side (constant inputs become initializers). */
function model(nodes: Node[], opset: number): { bytes: Uint8Array; feeds: Record<string, HostTensor> } {
  const b = new ModelBuilder({ opset, opsets: { [ML]: 3 } });
  const feeds: Record<string, HostTensor> = {};
  let seed = 1;
  nodes.forEach((n, k) => {
    const names = n.inputs.map((inp, i) => {
      if (inp.omit) return '';
      const name = `in${k}_${i}`;
      const dt = inp.dataType ?? F;
      if (inp.constant) return b.initializer(name, dt, inp.dims, dt === I64 ? BigInt64Array.from(inp.constant.map(BigInt)) : new Float32Array(inp.constant));
      b.input(name, dt, inp.dims);
      feeds[name] = inp.value ?? randomTensor(dt, inp.dims, seed++, -2, 2);
      return name;
    });
    const [out] = b.node(n.op, names, { attrs: n.attrs, domain: n.domain });
    b.output(out);
  });
  return { bytes: b.build(), feeds };
}

async function check(nodes: Node[], opset = 17): Promise<void> {
  const m = model(nodes, opset);
  await assertMatchesOrt(m.bytes, m.feeds, { atol: 1e-4, rtol: 1e-4 });
}

describe('signal and ml lowerings match onnxruntime', () => {
  it('DFT (opset 17): real and complex, inverse, axis and dft_length', async () => {
    await check([
      { op: 'DFT', inputs: [{ dims: [2, 8, 1] }] },
      { op: 'DFT', inputs: [{ dims: [2, 6, 2] }], attrs: { inverse: 1 } },
      { op: 'DFT', inputs: [{ dims: [3, 5, 4, 2] }], attrs: { axis: 2 } },
      { op: 'DFT', inputs: [{ dims: [2, 7, 1] }, { dims: [], dataType: I64, constant: [10] }] },
      { op: 'DFT', inputs: [{ dims: [2, 9, 2] }, { dims: [], dataType: I64, constant: [4] }], attrs: { inverse: 1 } },
    ]);
  });

  it('DFT (opset 20): axis as a constant input', async () => {
    await check([
      { op: 'DFT', inputs: [{ dims: [2, 6, 5, 2] }, { dims: [], dataType: I64, constant: [6] }, { dims: [], dataType: I64, constant: [1] }] },
      { op: 'DFT', inputs: [{ dims: [2, 6, 5, 1] }, { dims: [], dataType: I64, constant: [5] }, { dims: [], dataType: I64, constant: [-2] }], attrs: { inverse: 1 } },
    ], 20);
  });

  it('STFT: constant frame_step, with a window or a frame_length', async () => {
    await check([
      { op: 'STFT', inputs: [{ dims: [2, 32, 1] }, { dims: [], dataType: I64, constant: [6] }, { dims: [8] }] },
      { op: 'STFT', inputs: [{ dims: [1, 20, 1] }, { dims: [], dataType: I64, constant: [4] }, { dims: [], omit: true }, { dims: [], dataType: I64, constant: [8] }], attrs: { onesided: 0 } },
    ]);
  });

  it('MelWeightMatrix: constant and run-time scalars, float, double and integer outputs', async () => {
    const i64 = (v: number) => ({ dims: [], dataType: I64, constant: [v] });
    const f32 = (v: number) => ({ dims: [], constant: [v] });
    const fed = (v: number) => ({ dims: [], value: floatTensor([], [v]) });
    const fedInt = (v: number) => ({ dims: [], dataType: I64, value: int64Tensor([], [v]) });
    await check([
      { op: 'MelWeightMatrix', inputs: [i64(8), i64(16), i64(8192), f32(0), f32(4096)] },
      { op: 'MelWeightMatrix', inputs: [i64(10), i64(64), i64(16000), f32(100), f32(7000)], attrs: { output_datatype: DataType.DOUBLE } },
      { op: 'MelWeightMatrix', inputs: [i64(5), i64(32), i64(8000), f32(0), f32(3900)], attrs: { output_datatype: DataType.INT32 } },
      { op: 'MelWeightMatrix', inputs: [fedInt(12), fedInt(100), fedInt(22050), fed(30), fed(11000)] },
    ]);
  });

  it('DFT: onesided forward then inverse restores the real signal', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', F, [2, 10, 1]);
    const [spec] = b.node('DFT', [x], { attrs: { axis: 1, onesided: 1 } });
    const [back] = b.node('DFT', [spec], { attrs: { axis: 1, onesided: 1, inverse: 1 } });
    b.output(back);
    const feed = randomTensor(F, [2, 10, 1], 7);
    const s = await createMlirSession(b.build(), { cacheDir: '' });
    try {
      const out = await s.run(new Map([['x', feed]]));
      assert.equal(s.report().fallbackNodes, 0);
      const y = out.get(back);
      assert.ok(y);
      assert.deepEqual(y.dims, [2, 10, 1]);
      toFloats(y).forEach((v, i) => assert.ok(Math.abs(v - toFloats(feed)[i]) < 1e-4, `element ${i}: ${v}`));
    } finally {
      await s.dispose();
    }
  });

  it('Binarizer, ArrayFeatureExtractor', async () => {
    await check([
      { op: 'Binarizer', domain: ML, inputs: [{ dims: [3, 4] }], attrs: { threshold: attr.float(0.25) } },
      { op: 'ArrayFeatureExtractor', domain: ML, inputs: [{ dims: [3, 5] }, { dims: [3], dataType: I64, value: int64Tensor([3], [4, 0, 2]) }] },
      { op: 'ArrayFeatureExtractor', domain: ML, inputs: [{ dims: [6] }, { dims: [2], dataType: I64, value: int64Tensor([2], [5, 1]) }] },
    ]);
  });

  it('TfIdfVectorizer: TF, IDF and TFIDF with skips and unigrams', async () => {
    const pool = { ngram_counts: [0, 3], ngram_indexes: [4, 1, 0, 2, 3], pool_int64s: [2, 3, 5, 5, 6, 7, 8] };
    const tokens = int64Tensor([2, 8], [2, 3, 5, 6, 7, 8, 5, 6, 3, 3, 7, 7, 8, 5, 2, 6]);
    await check([
      { op: 'TfIdfVectorizer', inputs: [{ dims: [2, 8], dataType: I64, value: tokens }], attrs: { ...pool, mode: 'TF', min_gram_length: 1, max_gram_length: 2, max_skip_count: 2 } },
      { op: 'TfIdfVectorizer', inputs: [{ dims: [2, 8], dataType: I64, value: tokens }], attrs: { ...pool, mode: 'IDF', min_gram_length: 1, max_gram_length: 2, max_skip_count: 0, weights: [0.5, 1.5, 2.5, 3.5, 4.5] } },
      { op: 'TfIdfVectorizer', inputs: [{ dims: [2, 8], dataType: I64, value: tokens }], attrs: { ...pool, mode: 'TFIDF', min_gram_length: 2, max_gram_length: 2, max_skip_count: 3, weights: [0.5, 1.5, 2.5, 3.5, 4.5] } },
    ], 9);
  });

  it('OptionalHasElement and OptionalGetElement on tensors', async () => {
    await check([
      { op: 'OptionalHasElement', inputs: [{ dims: [3] }] },
      { op: 'OptionalGetElement', inputs: [{ dims: [2, 2] }] },
    ], 18);
  });
});

const WRITE_LINEAR = [1, 2];
/** The second batch entry wraps around the end of the cache. */
const WRITE_CIRCULAR = [1, 3];

describe('TensorScatter', () => {
  it('writes linear and circular updates at per-batch indices', async () => {
    const b = new ModelBuilder({ opset: 24 });
    const past = b.input('past', F, [2, 4, 3]);
    const upd = b.input('upd', F, [2, 2, 3]);
    const idxLin = b.input('idxLin', I64, [2]);
    const idxCirc = b.input('idxCirc', I64, [2]);
    const [lin] = b.node('TensorScatter', [past, upd, idxLin], { attrs: { axis: 1 } });
    const [circ] = b.node('TensorScatter', [past, upd, idxCirc], { attrs: { axis: -2, mode: 'circular' } });
    b.output(lin);
    b.output(circ);
    const pastV = floatTensor([2, 4, 3], Array.from({ length: 24 }, (_, i) => i));
    const updV = floatTensor([2, 2, 3], Array.from({ length: 12 }, (_, i) => 100 + i));
    const s = await createMlirSession(b.build(), { cacheDir: '' });
    try {
      const out = await s.run(new Map([['past', pastV], ['upd', updV], ['idxLin', int64Tensor([2], WRITE_LINEAR)], ['idxCirc', int64Tensor([2], WRITE_CIRCULAR)]]));
      assert.equal(s.report().fallbackNodes, 0);
      const expect = (circular: boolean) => {
        const y = Array.from({ length: 24 }, (_, i) => i);
        (circular ? WRITE_CIRCULAR : WRITE_LINEAR).forEach((w, bi) => {
          for (let si = 0; si < 2; si++) {
            const pos = circular ? (w + si) % 4 : w + si;
            for (let d = 0; d < 3; d++) y[bi * 12 + pos * 3 + d] = 100 + bi * 6 + si * 3 + d;
          }
        });
        return y;
      };
      const linOut = out.get(lin);
      const circOut = out.get(circ);
      assert.ok(linOut && circOut);
      assert.deepEqual(toFloats(linOut), expect(false));
      assert.deepEqual(toFloats(circOut), expect(true));
    } finally {
      await s.dispose();
    }
  });
});
