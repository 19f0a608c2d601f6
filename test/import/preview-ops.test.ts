// Ops onnxruntime-node 1.30 cannot load (opset 27 CausalConvWithState and
// LinearAttention, ai.onnx.preview FlexAttention, the ai.onnx.preview.training
// optimizers, TopK on uint64), so these tests compare the mlir EP against
// straightforward JS implementations of the ONNX reference semantics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, attr, type AttrInput, type GraphBuilder } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { createMlirSession } from '../../src/ep/session.js';
import { assertMatchesOrt, floatTensor, randomTensor, toFloats } from '../helpers/differential.js';

const F = DataType.FLOAT;
const I64 = DataType.INT64;
const TOL = 1e-4;

interface In {
  name: string;
  dims: number[];
  value: HostTensor;
}

function input(name: string, dims: number[], seed: number, lo = -1, hi = 1): In {
  return { name, dims, value: randomTensor(F, dims, seed, lo, hi) };
}

/** Builds a one-node model, runs it fully compiled on the mlir EP, returns the outputs as floats. */
async function runNode(op: string, inputs: (In | null)[], outputs: number, opts: { attrs?: Record<string, AttrInput>; domain?: string; opset?: number; opsets?: Record<string, number>; body?: (b: ModelBuilder) => Record<string, AttrInput> } = {}): Promise<number[][]> {
  const b = new ModelBuilder({ opset: opts.opset ?? 27, opsets: opts.opsets });
  const feeds = new Map<string, HostTensor>();
  const names = inputs.map((i) => {
    if (!i) return '';
    b.input(i.name, i.value.dataType, i.dims);
    feeds.set(i.name, i.value);
    return i.name;
  });
  const attrs = { ...opts.attrs, ...opts.body?.(b) };
  const outs = b.node(op, names, { attrs, domain: opts.domain, outputs });
  for (const o of outs) b.output(o);
  const session = await createMlirSession(b.build(), { cacheDir: '' });
  try {
    const got = await session.run(feeds);
    const report = session.report();
    assert.equal(report.fallbackNodes, 0, `expected every node compiled; fell back: ${report.fallbackReasons.join('; ')}`);
    return outs.map((o) => {
      const t = got.get(o);
      assert.ok(t, `output ${o} missing`);
      return toFloats(t);
    });
  } finally {
    await session.dispose();
  }
}

function assertClose(actual: readonly number[], expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((a, i) => {
    const e = expected[i];
    assert.ok(Math.abs(a - e) <= TOL + TOL * Math.abs(e), `${what}[${i}]: got ${a}, expected ${e}`);
  });
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('CausalConvWithState (opset 27)', () => {
  /** padded = past ++ x per (b, c); y[t] = act(bias + sum_j w[j] padded[t + j]); state = last k-1. */
  function reference(x: number[], w: number[], bias: number[] | null, past: number[] | null, [B, C, L]: number[], k: number, silu: boolean) {
    const y: number[] = [];
    const state: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        const padded = [
          ...Array.from({ length: k - 1 }, (_, j) => (past ? past[(b * C + c) * (k - 1) + j] : 0)),
          ...x.slice((b * C + c) * L, (b * C + c + 1) * L),
        ];
        for (let t = 0; t < L; t++) {
          let s = bias ? bias[c] : 0;
          for (let j = 0; j < k; j++) s += w[c * k + j] * padded[t + j];
          y.push(silu ? s * sigmoid(s) : s);
        }
        state.push(...padded.slice(L));
      }
    }
    return { y, state };
  }

  it('with bias, past_state and SiLU', async () => {
    const [B, C, L, k] = [2, 3, 5, 4];
    const x = input('x', [B, C, L], 1);
    const w = input('w', [C, 1, k], 2);
    const bias = input('bias', [C], 3);
    const past = input('past', [B, C, k - 1], 4);
    const [y, state] = await runNode('CausalConvWithState', [x, w, bias, past], 2, { attrs: { activation: 'silu' } });
    const ref = reference(toFloats(x.value), toFloats(w.value), toFloats(bias.value), toFloats(past.value), [B, C, L], k, true);
    assertClose(y, ref.y, 'output');
    assertClose(state, ref.state, 'present_state');
  });

  it('zero padding when the input is shorter than the kernel, and k = 1 (empty state)', async () => {
    const x = input('x', [1, 2, 2], 5);
    const w = input('w', [2, 1, 5], 6);
    const [y, state] = await runNode('CausalConvWithState', [x, w], 2);
    const ref = reference(toFloats(x.value), toFloats(w.value), null, null, [1, 2, 2], 5, false);
    assertClose(y, ref.y, 'output');
    assertClose(state, ref.state, 'present_state');
    const w1 = input('w', [2, 1, 1], 7);
    const [y1, state1] = await runNode('CausalConvWithState', [x, w1], 2);
    assertClose(y1, reference(toFloats(x.value), toFloats(w1.value), null, null, [1, 2, 2], 1, false).y, 'output (k = 1)');
    assert.equal(state1.length, 0);
  });
});

describe('LinearAttention (opset 27)', () => {
  interface LaCase { B: number; T: number; hq: number; hkv: number; dk: number; dv: number; rule: string; decayPerDim: boolean; scale: number }

  /** The reference recurrence, state [B, Hkv, dk, dv] in float64. */
  function reference(c: LaCase, q: number[], k: number[], v: number[], past: number[] | null, decay: number[] | null, beta: number[] | null) {
    const { B, T, hq, hkv, dk, dv } = c;
    const S = past ? [...past] : new Array<number>(B * hkv * dk * dv).fill(0);
    const out = new Array<number>(B * T * hq * dv).fill(0);
    const si = (b: number, h: number, d: number, m: number) => ((b * hkv + h) * dk + d) * dv + m;
    const gated = c.rule === 'gated' || c.rule === 'gated_delta';
    const delta = c.rule === 'delta' || c.rule === 'gated_delta';
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < hkv; h++) {
          const kt = (d: number) => k[(b * T + t) * hkv * dk + h * dk + d];
          const vt = (m: number) => v[(b * T + t) * hkv * dv + h * dv + m];
          if (gated && decay) {
            for (let d = 0; d < dk; d++) {
              const g = c.decayPerDim ? decay[(b * T + t) * hkv * dk + h * dk + d] : decay[(b * T + t) * hkv + h];
              for (let m = 0; m < dv; m++) S[si(b, h, d, m)] *= Math.exp(g);
            }
          }
          const vNew = Array.from({ length: dv }, (_, m) => vt(m));
          if (delta && beta) {
            const bt = beta[(b * T + t) * hkv + h];
            for (let m = 0; m < dv; m++) {
              let r = 0;
              for (let d = 0; d < dk; d++) r += S[si(b, h, d, m)] * kt(d);
              vNew[m] = bt * (vNew[m] - r);
            }
          }
          for (let d = 0; d < dk; d++) for (let m = 0; m < dv; m++) S[si(b, h, d, m)] += kt(d) * vNew[m];
        }
        for (let h = 0; h < hq; h++) {
          const g = Math.floor(h / (hq / hkv));
          for (let m = 0; m < dv; m++) {
            let o = 0;
            for (let d = 0; d < dk; d++) o += q[(b * T + t) * hq * dk + h * dk + d] * S[si(b, g, d, m)];
            out[(b * T + t) * hq * dv + h * dv + m] = c.scale * o;
          }
        }
      }
    }
    return { out, state: S };
  }

  it('gated_delta with GQA, per-dim decay and past_state', async () => {
    const c: LaCase = { B: 2, T: 3, hq: 4, hkv: 2, dk: 3, dv: 2, rule: 'gated_delta', decayPerDim: true, scale: 1 / Math.sqrt(3) };
    const q = input('q', [c.B, c.T, c.hq * c.dk], 1);
    const k = input('k', [c.B, c.T, c.hkv * c.dk], 2);
    const v = input('v', [c.B, c.T, c.hkv * c.dv], 3);
    const past = input('past', [c.B, c.hkv, c.dk, c.dv], 4);
    const decay = input('decay', [c.B, c.T, c.hkv * c.dk], 5, -0.5, 0);
    const beta = input('beta', [c.B, c.T, c.hkv], 6, 0, 1);
    const [y, state] = await runNode('LinearAttention', [q, k, v, past, decay, beta], 2, { attrs: { q_num_heads: 4, kv_num_heads: 2 } });
    const ref = reference(c, toFloats(q.value), toFloats(k.value), toFloats(v.value), toFloats(past.value), toFloats(decay.value), toFloats(beta.value));
    assertClose(y, ref.out, 'output');
    assertClose(state, ref.state, 'present_state');
  });

  it('linear and per-head gated rules with an explicit scale, no past_state', async () => {
    for (const rule of ['linear', 'gated']) {
      const c: LaCase = { B: 1, T: 4, hq: 2, hkv: 2, dk: 2, dv: 3, rule, decayPerDim: false, scale: 0.5 };
      const q = input('q', [1, 4, 4], 11);
      const k = input('k', [1, 4, 4], 12);
      const v = input('v', [1, 4, 6], 13);
      const decay = rule === 'gated' ? input('decay', [1, 4, 2], 14, -0.5, 0) : null;
      const [y, state] = await runNode('LinearAttention', [q, k, v, null, decay], 2, { attrs: { q_num_heads: 2, kv_num_heads: 2, update_rule: rule, scale: attr.float(0.5) } });
      const ref = reference(c, toFloats(q.value), toFloats(k.value), toFloats(v.value), null, decay && toFloats(decay.value), null);
      assertClose(y, ref.out, `${rule} output`);
      assertClose(state, ref.state, `${rule} present_state`);
    }
  });
});

describe('FlexAttention (ai.onnx.preview)', () => {
  const PREVIEW = { domain: 'ai.onnx.preview', opsets: { 'ai.onnx.preview': 1 } };

  /** softmax(mod(scale·QKᵀ))·V per (b, h), K/V heads shared by consecutive query heads. */
  function reference(q: number[], k: number[], v: number[], [B, Hq, L, E]: number[], [Hkv, S, Ev]: number[], scale: number,
    scoreMod: (s: number, l: number, j: number) => number, probMod: (p: number) => number): number[] {
    const out: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < Hq; h++) {
        const g = Math.floor(h / (Hq / Hkv));
        for (let l = 0; l < L; l++) {
          const scores = Array.from({ length: S }, (_, j) => {
            let s = 0;
            for (let e = 0; e < E; e++) s += q[((b * Hq + h) * L + l) * E + e] * k[((b * Hkv + g) * S + j) * E + e];
            return scoreMod(s * scale, l, j);
          });
          const max = Math.max(...scores);
          const ex = scores.map((s) => Math.exp(s - max));
          const z = ex.reduce((a, c) => a + c, 0);
          const p = ex.map((x) => probMod(x / z));
          for (let m = 0; m < Ev; m++) out.push(p.reduce((a, pj, j) => a + pj * v[((b * Hkv + g) * S + j) * Ev + m], 0));
        }
      }
    }
    return out;
  }

  it('GQA with different head sizes and the default scale', async () => {
    const q = input('q', [1, 4, 3, 4], 1);
    const k = input('k', [1, 2, 5, 4], 2);
    const v = input('v', [1, 2, 5, 6], 3);
    const [y] = await runNode('FlexAttention', [q, k, v], 1, PREVIEW);
    const ref = reference(toFloats(q.value), toFloats(k.value), toFloats(v.value), [1, 4, 3, 4], [2, 5, 6], 0.5, (s) => s, (p) => p);
    assertClose(y, ref, 'Y');
  });

  it('inlines a causal-mask score_mod (shape arithmetic folded) and a prob_mod', async () => {
    const q = input('q', [1, 2, 4, 3], 4);
    const k = input('k', [1, 2, 4, 3], 5);
    const v = input('v', [1, 2, 4, 3], 6);
    const body = (b: ModelBuilder) => {
      const sm: GraphBuilder = b.subgraph('score_mod');
      sm.input('scores', F, ['B', 'H', 'L', 'S']);
      const i64 = (name: string, dims: number[], values: number[]) => sm.initializer(name, I64, dims, BigInt64Array.from(values.map(BigInt)));
      const [shape] = sm.node('Shape', ['scores']);
      const [l] = sm.node('Gather', [shape, i64('two', [], [2])], { attrs: { axis: 0 } });
      const [s] = sm.node('Gather', [shape, i64('three', [], [3])], { attrs: { axis: 0 } });
      const zero = i64('zero', [], [0]);
      const one = i64('one', [], [1]);
      const [qi] = sm.node('Reshape', [sm.node('Range', [zero, l, one])[0], i64('qshape', [2], [-1, 1])]);
      const [ki] = sm.node('Reshape', [sm.node('Range', [zero, s, one])[0], i64('kshape', [2], [1, -1])]);
      const [mask] = sm.node('GreaterOrEqual', [qi, ki]);
      const negInf = sm.initializer('neg_inf', F, [], new Float32Array([-Infinity]));
      const [capped] = sm.node('Mul', [sm.node('Tanh', ['scores'])[0], sm.initializer('cap', F, [], new Float32Array([2]))]);
      sm.output(sm.node('Where', [mask, capped, negInf], { outputs: ['scores_out'] })[0], F);
      const pm: GraphBuilder = b.subgraph('prob_mod');
      pm.input('probs', F, ['B', 'H', 'L', 'S']);
      pm.output(pm.node('Mul', ['probs', pm.initializer('half', F, [], new Float32Array([0.5]))], { outputs: ['probs_out'] })[0], F);
      return { score_mod: sm, prob_mod: pm };
    };
    const [y] = await runNode('FlexAttention', [q, k, v], 1, { ...PREVIEW, opset: 26, attrs: { scale: attr.float(0.25) }, body });
    const ref = reference(toFloats(q.value), toFloats(k.value), toFloats(v.value), [1, 2, 4, 3], [2, 4, 3], 0.25,
      (sc, li, j) => (li >= j ? 2 * Math.tanh(sc) : -Infinity), (p) => 0.5 * p);
    assertClose(y, ref, 'Y');
  });
});

describe('training optimizers (ai.onnx.preview.training)', () => {
  const TRAINING = { domain: 'ai.onnx.preview.training', opsets: { 'ai.onnx.preview.training': 1 } };
  const scalarR = (r: number): In => ({ name: 'R', dims: [], value: floatTensor([], [r]) });
  const scalarT = (t: number): In => ({ name: 'T', dims: [], value: { dataType: I64, dims: [], data: new Uint8Array(new BigInt64Array([BigInt(t)]).buffer) } });
  /** X1, X2, G1, G2, ... with fresh names. */
  const groups = (names: string[], dims: number[][], seed: number): In[] => names.flatMap((n, g) => dims.map((d, i) => input(`${n}${i}`, d, seed + g * 10 + i, g === 0 ? -1 : 0.1, 1)));

  it('Adagrad over two tensors', async () => {
    const [r, t, decay, eps, norm] = [0.1, 3, 0.1, 1e-5, 0.01];
    const tensors = groups(['X', 'G', 'H'], [[2], [3]], 1);
    const outs = await runNode('Adagrad', [scalarR(r), scalarT(t), ...tensors], 4, { ...TRAINING, attrs: { decay_factor: attr.float(decay), epsilon: attr.float(eps), norm_coefficient: attr.float(norm) } });
    const [x, g, h] = [0, 2, 4].map((i) => [toFloats(tensors[i].value), toFloats(tensors[i + 1].value)]);
    for (let i = 0; i < 2; i++) {
      const rate = r / (1 + t * decay);
      const gr = x[i].map((xv, j) => norm * xv + g[i][j]);
      const hNew = h[i].map((hv, j) => hv + gr[j] * gr[j]);
      assertClose(outs[i], x[i].map((xv, j) => xv - (rate * gr[j]) / (Math.sqrt(hNew[j]) + eps)), `X${i}`);
      assertClose(outs[2 + i], hNew, `H${i}`);
    }
  });

  it('Momentum (standard at T = 0, nesterov at T > 0)', async () => {
    const [r, alpha, beta, norm] = [0.1, 0.9, 0.5, 0.01];
    for (const [mode, t] of [['standard', 0], ['nesterov', 2]] as const) {
      const tensors = groups(['X', 'G', 'V'], [[3]], 20);
      const [xNew, vNew] = await runNode('Momentum', [scalarR(r), scalarT(t), ...tensors], 2, { ...TRAINING, attrs: { alpha: attr.float(alpha), beta: attr.float(beta), mode, norm_coefficient: attr.float(norm) } });
      const [x, g, v] = tensors.map((i) => toFloats(i.value));
      const gr = x.map((xv, j) => norm * xv + g[j]);
      const vRef = v.map((vv, j) => alpha * vv + (t > 0 ? beta : 1) * gr[j]);
      const step = mode === 'standard' ? vRef : vRef.map((vv, j) => gr[j] + alpha * vv);
      assertClose(vNew, vRef, `${mode} V`);
      assertClose(xNew, x.map((xv, j) => xv - r * step[j]), `${mode} X`);
    }
  });

  it('Adam with bias correction and post-update decay', async () => {
    const [r, t, alpha, beta, eps, norm, post] = [0.1, 4, 0.9, 0.99, 1e-3, 0.01, 0.05];
    const tensors = groups(['X', 'G', 'V', 'H'], [[4]], 30);
    const [xNew, vNew, hNew] = await runNode('Adam', [scalarR(r), scalarT(t), ...tensors], 3, {
      ...TRAINING,
      attrs: { alpha: attr.float(alpha), beta: attr.float(beta), epsilon: attr.float(eps), norm_coefficient: attr.float(norm), norm_coefficient_post: attr.float(post) },
    });
    const [x, g, v, h] = tensors.map((i) => toFloats(i.value));
    const gr = x.map((xv, j) => norm * xv + g[j]);
    const vRef = v.map((vv, j) => alpha * vv + (1 - alpha) * gr[j]);
    const hRef = h.map((hv, j) => beta * hv + (1 - beta) * gr[j] * gr[j]);
    const rate = (r * Math.sqrt(1 - beta ** t)) / (1 - alpha ** t);
    assertClose(vNew, vRef, 'V');
    assertClose(hNew, hRef, 'H');
    assertClose(xNew, x.map((xv, j) => (1 - post) * (xv - rate * (vRef[j] / (Math.sqrt(hRef[j]) + eps)))), 'X');
  });
});

describe('TopK on uint64 (onnxruntime has no uint64 kernel)', () => {
  it('selects the largest values with a constant k, lower index first on ties', async () => {
    const values = [5n, 1n, 18446744073709551615n, 5n, 7n, 0n];
    const b = new ModelBuilder({ opset: 24 });
    b.input('x', DataType.UINT64, [2, 3]);
    const k = b.initializer('k', I64, [1], BigInt64Array.from([2n]));
    const [v, i] = b.node('TopK', ['x', k], { outputs: 2, attrs: { axis: 1 } });
    b.output(v);
    b.output(i);
    const session = await createMlirSession(b.build(), { cacheDir: '' });
    try {
      const out = await session.run(new Map([['x', { dataType: DataType.UINT64, dims: [2, 3], data: new Uint8Array(BigUint64Array.from(values).buffer) }]]));
      assert.equal(session.report().fallbackNodes, 0);
      const get = (name: string) => out.get(name)?.data ?? new Uint8Array();
      const vals = new BigUint64Array(get(v).buffer, get(v).byteOffset, 4);
      const idx = new BigInt64Array(get(i).buffer, get(i).byteOffset, 4);
      assert.deepEqual([...vals], [18446744073709551615n, 5n, 7n, 5n]);
      assert.deepEqual([...idx], [2n, 0n, 1n, 0n]);
    } finally {
      await session.dispose();
    }
  });
});

describe('empty tensors at partition boundaries', () => {
  it('inputs and outputs with a trailing zero dim (rank-1 at the ABI) match onnxruntime', async () => {
    const b = new ModelBuilder({ opset: 17 });
    b.input('e', F, [2, 3, 0]);
    b.input('x', F, [2, 3, 2]);
    b.output(b.node('Abs', ['e'])[0]);
    b.output(b.node('Concat', ['e', 'x'], { attrs: { axis: 2 } })[0]);
    await assertMatchesOrt(b.build(), { e: { dataType: F, dims: [2, 3, 0], data: new Uint8Array() }, x: randomTensor(F, [2, 3, 2], 1) });
  });
});
