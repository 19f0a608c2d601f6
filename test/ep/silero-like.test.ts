// A Silero-VAD-shaped model: an If on the sample rate selects one of two
// branches, each a strided Conv front end feeding an LSTM whose state comes
// from (and goes back to) a graph input, then a linear head and a Sigmoid.
// Both branches must compile and match onnxruntime-node, run after run with
// the state threaded through, as a VAD caller does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, type GraphBuilder } from '../../src/onnx/builder.js';
import { createMlirSession } from '../../src/ep/session.js';
import { CpuSession } from '../../src/ep/cpu-session.js';
import { compareTensors, DEFAULT_ATOL, DEFAULT_RTOL } from '../../src/cli/compare.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { randomTensor } from '../helpers/differential.js';

const SAMPLES = 512;
const CHANNELS = 16;
const HIDDEN = 32;
const KERNEL = 16;
const RATES = [16000, 8000] as const;
/** Each branch has its own front end: the 16 kHz one strides twice as far. */
const STRIDES = [8, 4] as const;
const STEPS = 3;

function weights(b: ModelBuilder, tag: string, dims: number[], seed: number): string {
  const n = dims.reduce((a, d) => a * d, 1);
  return b.initializer(`${tag}`, DataType.FLOAT, dims, Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 0.3));
}

/** One branch: Conv → Relu → [seq, 1, C] → LSTM(state) → head; outputs prob [1,1] and the new state [2,1,H]. */
function branch(b: ModelBuilder, k: number, input: string, state: string): GraphBuilder {
  const g = b.subgraph(`rate${RATES[k]}`);
  const convW = weights(b, `conv_w${k}`, [CHANNELS, 1, KERNEL], 1 + k);
  const lstmW = weights(b, `lstm_w${k}`, [1, 4 * HIDDEN, CHANNELS], 2 + k);
  const lstmR = weights(b, `lstm_r${k}`, [1, 4 * HIDDEN, HIDDEN], 3 + k);
  const lstmB = weights(b, `lstm_b${k}`, [1, 8 * HIDDEN], 4 + k);
  const head = weights(b, `head${k}`, [HIDDEN, 1], 5 + k);
  const one = g.initializer(`axis1_${k}`, DataType.INT64, [1], [1]);
  const zero = g.initializer(`axis0_${k}`, DataType.INT64, [1], [0]);
  const [x] = g.node('Unsqueeze', [input, one]);
  const [c] = g.node('Conv', [x, convW], { attrs: { strides: [STRIDES[k]] } });
  const [r] = g.node('Relu', [c]);
  const [seq] = g.node('Transpose', [r], { attrs: { perm: [2, 0, 1] } });
  const [h0, c0] = g.node('Split', [state], { outputs: 2, attrs: { axis: 0, num_outputs: 2 } });
  const [, yh, yc] = g.node('LSTM', [seq, lstmW, lstmR, lstmB, '', h0, c0], { outputs: 3, attrs: { hidden_size: HIDDEN } });
  const [flat] = g.node('Squeeze', [yh, zero]);
  const [logit] = g.node('MatMul', [flat, head]);
  const [p] = g.node('Sigmoid', [logit]);
  const [next] = g.node('Concat', [yh, yc], { attrs: { axis: 0 } });
  g.output(p, DataType.FLOAT, [1, 1]);
  g.output(next, DataType.FLOAT, [2, 1, HIDDEN]);
  return g;
}

function sileroLike(): Uint8Array {
  const b = new ModelBuilder({ opset: 18 });
  const input = b.input('input', DataType.FLOAT, [1, SAMPLES]);
  const state = b.input('state', DataType.FLOAT, [2, 1, HIDDEN]);
  const sr = b.input('sr', DataType.INT64, []);
  const rate16k = b.initializer('rate16k', DataType.INT64, [], [RATES[0]]);
  const [is16k] = b.node('Equal', [sr, rate16k]);
  const [prob, next] = b.node('If', [is16k], { outputs: ['output', 'stateN'], attrs: { then_branch: branch(b, 0, input, state), else_branch: branch(b, 1, input, state) } });
  b.output(prob, DataType.FLOAT, [1, 1]);
  b.output(next, DataType.FLOAT, [2, 1, HIDDEN]);
  return b.build();
}

function i64(v: number): HostTensor {
  return { dataType: DataType.INT64, dims: [], data: new Uint8Array(new BigInt64Array([BigInt(v)]).buffer) };
}

test('Silero-VAD-like model: both sample-rate branches compiled, state threaded through runs, equal to ORT', async () => {
  const model = sileroLike();
  const cpu = await CpuSession.create(model);
  const mlir = await createMlirSession(model, { cacheDir: '' });
  try {
    for (const rate of RATES) {
      let ours: HostTensor = { dataType: DataType.FLOAT, dims: [2, 1, HIDDEN], data: new Uint8Array(2 * HIDDEN * 4) };
      let theirs = ours;
      for (let step = 0; step < STEPS; step++) {
        const audio = randomTensor(DataType.FLOAT, [1, SAMPLES], rate + step);
        const a = await mlir.run(new Map([['input', audio], ['state', ours], ['sr', i64(rate)]]));
        const e = await cpu.run(new Map([['input', audio], ['state', theirs], ['sr', i64(rate)]]));
        for (const name of ['output', 'stateN']) {
          const r = compareTensors(a.get(name)!, e.get(name)!, { atol: DEFAULT_ATOL, rtol: DEFAULT_RTOL, postProcessing: false });
          assert.equal(r.status, 'success', `${rate} Hz step ${step}, ${name}: ${r.message}`);
        }
        ours = a.get('stateN')!;
        theirs = e.get('stateN')!;
      }
    }
    const report = mlir.report();
    assert.equal(report.fallbackNodes, 0, `fell back: ${report.fallbackReasons.join('; ')}`);
  } finally {
    await cpu.dispose();
    await mlir.dispose();
  }
});
