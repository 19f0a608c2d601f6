// Differential tests of the transformer-block ops (Attention 23/24,
// RotaryEmbedding 23, RMSNormalization 23) against onnxruntime-node, plus a
// small reference implementation for the two places where onnxruntime
// departs from the ONNX definition (masks shorter than the KV length, and
// -inf rather than the lowest float in the masked scores it reports).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, attr, type AttrInput } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { createMlirSession } from '../../src/ep/session.js';
import { assertMatchesOrt, randomTensor, toFloats } from '../helpers/differential.js';

const F = DataType.FLOAT;
const H = DataType.FLOAT16;
const B = DataType.BOOL;
const I64 = DataType.INT64;
/** A few float16 ulps: ORT and we round half results at different points. */
const HALF_TOLERANCE = 5e-3;

interface Input {
  name: string;
  dims: number[];
  dataType?: DataType;
  lo?: number;
  hi?: number;
  /** Fixed contents instead of random ones. */
  data?: HostTensor;
}

interface Case {
  op: string;
  inputs: (Input | null)[];
  attrs?: Record<string, AttrInput>;
  /** Output count, or a mask of which outputs exist (false: left empty). */
  outputs?: number | boolean[];
}

/** IEEE half bits of `v` (round to nearest; |v| small enough to stay finite). */
function toHalf(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  const MIN_NORMAL = 2 ** -14;
  if (a < MIN_NORMAL) return sign | Math.round(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  let m = Math.round((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | m;
}

function feed(inp: Input, seed: number): HostTensor {
  if (inp.data) return inp.data;
  const dt = inp.dataType ?? F;
  if (dt !== H) return randomTensor(dt, inp.dims, seed, inp.lo ?? -1, inp.hi ?? 1);
  const src = randomTensor(F, inp.dims, seed, inp.lo ?? -1, inp.hi ?? 1);
  const halves = Uint16Array.from(toFloats(src), toHalf);
  return { dataType: H, dims: inp.dims, data: new Uint8Array(halves.buffer) };
}

/** One model running every case side by side, with random feeds. */
function model(cases: Case[], opset: number): { bytes: Uint8Array; feeds: Record<string, HostTensor> } {
  const b = new ModelBuilder({ opset });
  const feeds: Record<string, HostTensor> = {};
  let seed = 1;
  cases.forEach((c, k) => {
    const names = c.inputs.map((inp) => {
      if (!inp) return '';
      const name = `${inp.name}_${k}`;
      b.input(name, inp.dataType ?? F, inp.dims);
      feeds[name] = feed(inp, seed++);
      return name;
    });
    const mask = typeof c.outputs === 'object' ? c.outputs : Array.from({ length: c.outputs ?? 1 }, () => true);
    const outs = b.node(c.op, names, { attrs: c.attrs, outputs: mask.map((on, i) => (on ? `${c.op}_${k}_out${i}` : '')) });
    outs.filter((o) => o !== '').forEach((o) => b.output(o));
  });
  return { bytes: b.build(), feeds };
}

async function check(cases: Case[], opset: number, atol?: number): Promise<void> {
  const m = model(cases, opset);
  await assertMatchesOrt(m.bytes, m.feeds, atol === undefined ? {} : { atol, rtol: atol });
}

const t = (name: string, dims: number[], dataType = F): Input => ({ name, dims, dataType });
/** Q, K, V of 4-D shape: [B, Hq, Sq, D], [B, Hkv, Skv, D], [B, Hkv, Skv, Dv]. */
const qkv4 = (b: number, hq: number, hkv: number, sq: number, skv: number, d: number, dv = d, dt = F) => [
  t('q', [b, hq, sq, d], dt), t('k', [b, hkv, skv, d], dt), t('v', [b, hkv, skv, dv], dt),
];
/** Q, K, V of 3-D shape [B, S, H*D]. */
const qkv3 = (b: number, hq: number, hkv: number, sq: number, skv: number, d: number, dv = d) => [
  t('q', [b, sq, hq * d]), t('k', [b, skv, hkv * d]), t('v', [b, skv, hkv * dv]),
];
const heads = (q: number, kv: number) => ({ q_num_heads: q, kv_num_heads: kv });
/**
 * A bool mask with some keys masked in every row but never a whole row: ORT
 * masks with the lowest float where ONNX adds -inf, so fully masked rows
 * differ (uniform weights vs NaN).
 */
function boolMask(dims: number[]): Input {
  const n = dims.reduce((a, c) => a * c, 1);
  const data = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 1 ? 0 : 1));
  return { name: 'm', dims, dataType: B, data: { dataType: B, dims, data } };
}

describe('Attention matches onnxruntime', () => {
  it('4-D: MHA, GQA, MQA, different V head size, scale, softcap', async () => {
    await check([
      { op: 'Attention', inputs: qkv4(2, 3, 3, 4, 6, 8) },
      { op: 'Attention', inputs: qkv4(1, 6, 2, 3, 5, 4, 6) },
      { op: 'Attention', inputs: qkv4(2, 4, 1, 2, 3, 8), attrs: { scale: 0.3 } },
      { op: 'Attention', inputs: qkv4(1, 2, 2, 4, 4, 8), attrs: { softcap: 1.5 } },
    ], 23);
  });

  it('3-D inputs with q/kv head counts (MHA and GQA), causal', async () => {
    await check([
      { op: 'Attention', inputs: qkv3(2, 3, 3, 4, 6, 8), attrs: heads(3, 3) },
      { op: 'Attention', inputs: qkv3(1, 4, 2, 3, 5, 4, 6), attrs: { ...heads(4, 2), is_causal: 1 } },
    ], 23);
  });

  it('masks: 2-D/3-D/4-D float, bool, broadcast, causal with a mask', async () => {
    await check([
      { op: 'Attention', inputs: [...qkv4(2, 3, 3, 4, 6, 8), t('m', [4, 6])] },
      { op: 'Attention', inputs: [...qkv4(2, 3, 3, 4, 6, 8), t('m', [3, 4, 6])] },
      { op: 'Attention', inputs: [...qkv4(2, 3, 3, 4, 6, 8), t('m', [2, 1, 4, 6])], attrs: { is_causal: 1 } },
      { op: 'Attention', inputs: [...qkv4(2, 3, 3, 4, 6, 8), boolMask([2, 3, 4, 6])] },
      { op: 'Attention', inputs: [...qkv4(1, 2, 2, 3, 3, 4), boolMask([3, 3])] },
    ], 23);
  });

  it('KV cache: past/present keys and values, 3-D and 4-D, causal offset by the past', async () => {
    const past = (b: number, h: number, p: number, d: number, dv = d) => [t('pk', [b, h, p, d]), t('pv', [b, h, p, dv])];
    await check([
      { op: 'Attention', inputs: [...qkv4(2, 3, 3, 4, 6, 8), t('m', [4, 18]), ...past(2, 3, 12, 8)], outputs: 3 },
      { op: 'Attention', inputs: [...qkv4(1, 6, 2, 2, 3, 4, 5), null, ...past(1, 2, 4, 4, 5)], attrs: { is_causal: 1 }, outputs: 3 },
      { op: 'Attention', inputs: [...qkv3(2, 3, 3, 4, 6, 8), null, ...past(2, 3, 5, 8)], attrs: heads(3, 3), outputs: 3 },
      // Present outputs without a past: the new keys/values themselves, as 4-D.
      { op: 'Attention', inputs: qkv3(1, 2, 2, 3, 3, 4), attrs: heads(2, 2), outputs: 3 },
    ], 23);
  });

  it('qk_matmul_output modes 0-3 (with softcap and a mask)', async () => {
    const io = (): (Input | null)[] => [...qkv4(1, 2, 2, 3, 5, 4), t('m', [3, 5])];
    const withQk = [true, false, false, true];
    await check([0, 1, 2, 3].map((mode) => ({
      op: 'Attention', inputs: io(), attrs: { qk_matmul_output_mode: mode, softcap: attr.float(2) }, outputs: withQk,
    })), 23);
  });

  it('opset 24 nonpad_kv_seqlen masks padded keys per batch', async () => {
    const lens: Input = { name: 'n', dims: [2], dataType: I64, lo: 1, hi: 6 };
    await check([
      { op: 'Attention', inputs: [...qkv4(2, 3, 3, 4, 6, 8), null, null, null, lens] },
      { op: 'Attention', inputs: [...qkv4(2, 2, 1, 4, 6, 8, 4), t('m', [2, 2, 4, 6]), null, null, lens] },
    ], 24);
  });

  it('float16 with a KV cache', async () => {
    await check([
      { op: 'Attention', inputs: [...qkv4(2, 4, 2, 3, 4, 8, 8, H), t('m', [3, 7], H), t('pk', [2, 2, 3, 8], H), t('pv', [2, 2, 3, 8], H)], outputs: 3 },
    ], 23, HALF_TOLERANCE);
  });
});

// ---- reference semantics where onnxruntime differs ----

/** Row-major 4-D accessor. */
function at(shape: number[], i: number, j: number, k: number, l: number): number {
  return ((i * shape[1] + j) * shape[2] + k) * shape[3] + l;
}

interface RefOut {
  y: number[];
  qk: number[];
}

/** The ONNX function body for 4-D MHA with an optional [Sq, Lm] float mask (Lm <= Skv, padded with -inf) and causal. */
function referenceAttention(q: number[], k: number[], v: number[], dims: number[], mask: number[] | null, maskLen: number, causal: boolean): RefOut {
  const [b, h, sq, skv, d] = dims;
  const s = Math.fround(Math.sqrt(Math.fround(1 / Math.fround(Math.sqrt(d)))));
  const y: number[] = [];
  const qk: number[] = [];
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      for (let i = 0; i < sq; i++) {
        const row = Array.from({ length: skv }, (_, j) => {
          let dot = 0;
          for (let e = 0; e < d; e++) dot += q[at([b, h, sq, d], bi, hi, i, e)] * s * k[at([b, h, skv, d], bi, hi, j, e)] * s;
          let bias = mask ? (j < maskLen ? mask[i * maskLen + j] : -Infinity) : 0;
          if (causal && i < j) bias += -Infinity;
          return dot + bias;
        });
        qk.push(...row);
        const m = Math.max(...row);
        const ex = row.map((x) => Math.exp(x - m));
        const z = ex.reduce((a, c) => a + c, 0);
        for (let e = 0; e < d; e++) y.push(ex.reduce((acc, p, j) => acc + (p / z) * v[at([b, h, skv, d], bi, hi, j, e)], 0));
      }
    }
  }
  return { y, qk };
}

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((a, i) => {
    const e = expected[i];
    if (!Number.isFinite(e)) assert.equal(a, e, `${what}[${i}]`);
    else assert.ok(Math.abs(a - e) <= 1e-5 + 1e-4 * Math.abs(e), `${what}[${i}]: ${a} vs ${e}`);
  });
}

describe('Attention follows the ONNX definition where onnxruntime differs', () => {
  it('pads a short mask with -inf and reports -inf masked scores (mode 2, causal)', async () => {
    const [b, h, sq, skv, d, maskLen] = [1, 2, 3, 5, 4, 4];
    const mb = new ModelBuilder({ opset: 23 });
    for (const [name, dims] of [['q', [b, h, sq, d]], ['k', [b, h, skv, d]], ['v', [b, h, skv, d]], ['m', [sq, maskLen]]] as const) {
      mb.input(name, F, [...dims]);
    }
    mb.node('Attention', ['q', 'k', 'v', 'm'], { outputs: ['y', '', '', 'qk'], attrs: { is_causal: 1, qk_matmul_output_mode: 2 } });
    mb.output('y', F, [b, h, sq, d]);
    mb.output('qk', F, [b, h, sq, skv]);
    const feeds = new Map<string, HostTensor>([
      ['q', randomTensor(F, [b, h, sq, d], 1)], ['k', randomTensor(F, [b, h, skv, d], 2)],
      ['v', randomTensor(F, [b, h, skv, d], 3)], ['m', randomTensor(F, [sq, maskLen], 4)],
    ]);
    const session = await createMlirSession(mb.build(), { cacheDir: '' });
    try {
      const out = await session.run(feeds);
      assert.equal(session.report().fallbackNodes, 0, session.report().fallbackReasons.join('; '));
      const f = (name: string) => toFloats(feeds.get(name)!);
      const ref = referenceAttention(f('q'), f('k'), f('v'), [b, h, sq, skv, d], f('m'), maskLen, true);
      assertClose(toFloats(out.get('y')!), ref.y, 'Y');
      assertClose(toFloats(out.get('qk')!), ref.qk, 'qk_matmul_output');
    } finally {
      await session.dispose();
    }
  });
});

describe('RotaryEmbedding and RMSNormalization match onnxruntime', () => {
  const pos = (dims: number[], max: number): Input => ({ name: 'p', dims, dataType: I64, lo: 0, hi: max - 1 });
  it('RotaryEmbedding: halves and interleaved, position ids or per-token caches, 3-D input, partial rotary dim', async () => {
    await check([
      { op: 'RotaryEmbedding', inputs: [t('x', [2, 4, 3, 8]), t('c', [50, 4]), t('s', [50, 4]), pos([2, 3], 50)] },
      { op: 'RotaryEmbedding', inputs: [t('x', [2, 4, 3, 8]), t('c', [50, 4]), t('s', [50, 4]), pos([2, 3], 50)], attrs: { interleaved: 1 } },
      { op: 'RotaryEmbedding', inputs: [t('x', [2, 3, 32]), t('c', [50, 4]), t('s', [50, 4]), pos([2, 3], 50)], attrs: { num_heads: 4 } },
      { op: 'RotaryEmbedding', inputs: [t('x', [2, 4, 3, 8]), t('c', [2, 3, 4]), t('s', [2, 3, 4])] },
      { op: 'RotaryEmbedding', inputs: [t('x', [2, 4, 3, 8]), t('c', [20, 2]), t('s', [20, 2]), pos([2, 3], 20)], attrs: { rotary_embedding_dim: 4, interleaved: 1 } },
      { op: 'RotaryEmbedding', inputs: [t('x', [1, 3, 2, 12]), t('c', [1, 2, 3]), t('s', [1, 2, 3])], attrs: { rotary_embedding_dim: 6 } },
    ], 23);
  });

  it('RMSNormalization: axes, epsilon, broadcast scale, float16', async () => {
    await check([
      { op: 'RMSNormalization', inputs: [t('x', [3, 4]), t('w', [4])] },
      { op: 'RMSNormalization', inputs: [t('x', [2, 3, 5]), t('w', [3, 5])], attrs: { axis: 1, epsilon: 0.1 } },
      { op: 'RMSNormalization', inputs: [t('x', [2, 3, 4, 5]), t('w', [2, 3, 4, 5])], attrs: { axis: 0 } },
      { op: 'RMSNormalization', inputs: [t('x', [2, 3, 4, 5]), t('w', [1, 5])], attrs: { axis: -2 } },
    ], 23);
    await check([{ op: 'RMSNormalization', inputs: [t('x', [2, 8], H), t('w', [8], H)] }], 23, HALF_TOLERANCE);
  });
});
