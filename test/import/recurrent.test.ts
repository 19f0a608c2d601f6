// Differential tests of RNN, GRU and LSTM against onnxruntime-node: both
// directions, sequence_lens, initial states, peepholes, linear_before_reset,
// clip and non-default activations. (onnxruntime has no layout=1 kernels, so
// batch-major layouts are covered by the conformance tests only.)
import { describe, it } from 'node:test';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, attr, type AttrInput } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;
const SEQ = 4;
const BATCH = 3;
const INPUT = 2;
const HIDDEN = 5;

interface RnnCase {
  op: 'RNN' | 'GRU' | 'LSTM';
  dirs: 1 | 2;
  attrs?: Record<string, AttrInput>;
  /** Which optional inputs to feed: B, sequence_lens, initial_h, initial_c, P. */
  bias?: boolean;
  lens?: number[];
  initialH?: boolean;
  initialC?: boolean;
  peepholes?: boolean;
}

const GATES = { RNN: 1, GRU: 3, LSTM: 4 } as const;

function int32Tensor(dims: number[], values: number[]): HostTensor {
  return { dataType: DataType.INT32, dims, data: new Uint8Array(new Int32Array(values).buffer) };
}

/** One model holding every case (each with its own inputs); returns it with feeds. */
function model(cases: RnnCase[]): { bytes: Uint8Array; feeds: Record<string, HostTensor> } {
  const b = new ModelBuilder({ opset: 17 });
  const feeds: Record<string, HostTensor> = {};
  let seed = 1;
  const add = (name: string, dt: DataType, dims: number[], value?: HostTensor) => {
    b.input(name, dt, dims);
    feeds[name] = value ?? randomTensor(dt, dims, seed++, -1, 1);
    return name;
  };
  cases.forEach((c, k) => {
    const g = GATES[c.op] * HIDDEN;
    const state = [c.dirs, BATCH, HIDDEN];
    const inputs = [
      add(`x${k}`, F, [SEQ, BATCH, INPUT]),
      add(`w${k}`, F, [c.dirs, g, INPUT]),
      add(`r${k}`, F, [c.dirs, g, HIDDEN]),
      c.bias ? add(`b${k}`, F, [c.dirs, 2 * g]) : '',
      c.lens ? add(`lens${k}`, DataType.INT32, [BATCH], int32Tensor([BATCH], c.lens)) : '',
      c.initialH ? add(`h${k}`, F, state) : '',
    ];
    if (c.op === 'LSTM') inputs.push(c.initialC ? add(`c${k}`, F, state) : '', c.peepholes ? add(`p${k}`, F, [c.dirs, 3 * HIDDEN]) : '');
    while (inputs[inputs.length - 1] === '') inputs.pop();
    const direction = c.dirs === 2 ? 'bidirectional' : 'forward';
    const outs = b.node(c.op, inputs, { attrs: { hidden_size: HIDDEN, direction, ...c.attrs }, outputs: c.op === 'LSTM' ? 3 : 2 });
    outs.forEach((o) => b.output(o));
  });
  return { bytes: b.build(), feeds };
}

async function check(cases: RnnCase[]): Promise<void> {
  const m = model(cases);
  await assertMatchesOrt(m.bytes, m.feeds, { atol: 1e-5, rtol: 1e-4 });
}

describe('recurrent lowerings match onnxruntime', () => {
  it('RNN: forward, reverse, bidirectional, sequence_lens, clip and activations', async () => {
    await check([
      { op: 'RNN', dirs: 1 },
      { op: 'RNN', dirs: 1, bias: true, initialH: true, attrs: { direction: 'reverse' } },
      { op: 'RNN', dirs: 2, bias: true, lens: [4, 2, 1], initialH: true },
      { op: 'RNN', dirs: 1, lens: [0, 3, 1], initialH: true, attrs: { direction: 'reverse' } },
      { op: 'RNN', dirs: 1, attrs: { clip: attr.float(0.5), activations: ['Relu'] } },
      { op: 'RNN', dirs: 2, attrs: { activations: ['LeakyRelu', 'HardSigmoid'], activation_alpha: [0.3, 0.4], activation_beta: [0.1] } },
    ]);
  });

  it('GRU: linear_before_reset, both directions, sequence_lens and initial state', async () => {
    await check([
      { op: 'GRU', dirs: 1, bias: true },
      { op: 'GRU', dirs: 1, bias: true, attrs: { linear_before_reset: 1 } },
      { op: 'GRU', dirs: 2, bias: true, lens: [3, 4, 2], initialH: true },
      { op: 'GRU', dirs: 1, bias: true, lens: [1, 4, 2], attrs: { direction: 'reverse', linear_before_reset: 1 } },
      { op: 'GRU', dirs: 1, attrs: { clip: attr.float(0.7), activations: ['HardSigmoid', 'Softsign'] } },
    ]);
  });

  it('LSTM: peepholes, input_forget, both directions, sequence_lens and initial states', async () => {
    await check([
      { op: 'LSTM', dirs: 1, bias: true },
      { op: 'LSTM', dirs: 1, bias: true, initialH: true, initialC: true, peepholes: true },
      { op: 'LSTM', dirs: 2, bias: true, lens: [2, 4, 3], initialH: true, initialC: true, peepholes: true },
      { op: 'LSTM', dirs: 1, attrs: { direction: 'reverse', input_forget: 1, clip: attr.float(0.9) } },
      { op: 'LSTM', dirs: 1, attrs: { activations: ['Sigmoid', 'Elu', 'ScaledTanh'], activation_alpha: [0.5, 1.5], activation_beta: [0.8] } },
    ]);
  });
});
