// RNN, GRU and LSTM: the per-step cell formulas of each op; the sequence loop,
// directions, sequence_lens and layouts live in rnn-core.ts. Gate orders are
// ONNX's: GRU z, r, h; LSTM i, o, f, c (peepholes i, o, f).
import { Scalar } from '../../codegen/scalar.js';
import { registerOp } from '../registry.js';
import {
  activate, clipped, gateRead, gateVector, inferRnn, lowerRnn, planRnn, plainRead, recurrent, stateMap,
  type Cell, type RnnSpec,
} from '../rnn-core.js';

const RNN_ACTS = ['Tanh'];
const GRU_ACTS = ['Sigmoid', 'Tanh'];
const LSTM_ACTS = ['Sigmoid', 'Tanh', 'Tanh'];

/** Opset from which RNN/GRU/LSTM have the layout attribute (earlier versions are otherwise the same). */
const FIRST_OPSET = 7;
const GRU_Z = 0;
const GRU_R = 1;
const GRU_H = 2;
const LSTM_I = 0;
const LSTM_O = 1;
const LSTM_F = 2;
const LSTM_C = 3;
const PEEP_I = 0;
const PEEP_O = 1;
const PEEP_F = 2;

/** Ht = f(Xt·Wᵀ + Ht-1·Rᵀ + Wb + Rb) */
function rnnCell(spec: RnnSpec): Cell {
  return (b, d, xw, prev, [f]) => {
    const hr = recurrent(b, prev.h, d.r, 0, spec.hidden);
    const reads = [plainRead(xw), plainRead(hr), gateVector(b, d.rb, 0, spec.hidden)];
    const [h] = stateMap(b, spec.dt, prev.h.shape, reads, [null], (fb, [x, r, rb]) => {
      const s = new Scalar(fb, spec.dt);
      return [activate(s, f, clipped(s, spec.clip, s.add(s.add(x, r), rb)))];
    });
    return { h, c: null };
  };
}

/**
 * z = f(Xz + H·Rzᵀ + Rbz), r = f(Xr + H·Rrᵀ + Rbr);
 * h = g(Xh + (r⊙H)·Rhᵀ + Rbh), or with linear_before_reset g(Xh + r⊙(H·Rhᵀ + Rbh));
 * Ht = (1-z)⊙h + z⊙H. (Xg already includes Wbg.)
 */
function gruCell(spec: RnnSpec, linearBeforeReset: boolean): Cell {
  const n = spec.hidden;
  return (b, d, xw, prev, [f, g]) => {
    const gate = (s: Scalar, x: string, r: string, rb: string, act = f) => activate(s, act, clipped(s, spec.clip, s.add(s.add(x, r), rb)));
    const shape = prev.h.shape;
    if (linearBeforeReset) {
      const hr = recurrent(b, prev.h, d.r, 0, 3 * n);
      const reads = [GRU_Z, GRU_R, GRU_H].flatMap((k) => [gateRead(b, xw, k, n), gateRead(b, hr, k, n), gateVector(b, d.rb, k, n)]);
      const [h] = stateMap(b, spec.dt, shape, [...reads, plainRead(prev.h)], [null], (fb, [xz, rz, bz, xr, rr, br, xh, rh, bh, hp]) => {
        const s = new Scalar(fb, spec.dt);
        const z = gate(s, xz, rz, bz);
        const r = gate(s, xr, rr, br);
        const cand = activate(s, g, clipped(s, spec.clip, s.add(xh, s.mul(r, s.add(rh, bh)))));
        return [s.add(s.mul(s.sub(s.one(), z), cand), s.mul(z, hp))];
      });
      return { h, c: null };
    }
    const hzr = recurrent(b, prev.h, d.r, 0, 2 * n);
    const zrReads = [GRU_Z, GRU_R].flatMap((k) => [gateRead(b, xw, k, n), gateRead(b, hzr, k, n), gateVector(b, d.rb, k, n)]);
    const [resetH] = stateMap(b, spec.dt, shape, [...zrReads.slice(3), plainRead(prev.h)], [null], (fb, [xr, rr, br, hp]) => {
      const s = new Scalar(fb, spec.dt);
      return [s.mul(gate(s, xr, rr, br), hp)];
    });
    const hh = recurrent(b, resetH, d.r, 2 * n, n);
    const reads = [...zrReads.slice(0, 3), gateRead(b, xw, GRU_H, n), plainRead(hh), gateVector(b, d.rb, GRU_H, n), plainRead(prev.h)];
    const [h] = stateMap(b, spec.dt, shape, reads, [null], (fb, [xz, rz, bz, xh, rh, bh, hp]) => {
      const s = new Scalar(fb, spec.dt);
      const z = gate(s, xz, rz, bz);
      const cand = gate(s, xh, rh, bh, g);
      return [s.add(s.mul(s.sub(s.one(), z), cand), s.mul(z, hp))];
    });
    return { h, c: null };
  };
}

/**
 * i = f(Xi + H·Riᵀ + Rbi + Pi⊙C), f = f(Xf + H·Rfᵀ + Rbf + Pf⊙C) (or 1-i with
 * input_forget), c = g(Xc + H·Rcᵀ + Rbc), Ct = f⊙C + i⊙c,
 * o = f(Xo + H·Roᵀ + Rbo + Po⊙Ct), Ht = o⊙h(Ct).
 */
function lstmCell(spec: RnnSpec, inputForget: boolean): Cell {
  const n = spec.hidden;
  return (b, d, xw, prev, [f, g, hAct]) => {
    const cPrev = prev.c;
    if (!cPrev) throw new Error('LSTM cell needs a cell state');
    const hr = recurrent(b, prev.h, d.r, 0, 4 * n);
    const gates = [LSTM_I, LSTM_O, LSTM_F, LSTM_C].flatMap((k) => [gateRead(b, xw, k, n), gateRead(b, hr, k, n), gateVector(b, d.rb, k, n)]);
    const p = d.p;
    const peep = p ? [PEEP_I, PEEP_O, PEEP_F].map((k) => gateVector(b, p, k, n)) : [];
    const outs = stateMap(b, spec.dt, prev.h.shape, [...gates, plainRead(cPrev), ...peep], [null, null], (fb, args) => {
      const s = new Scalar(fb, spec.dt);
      const [xi, ri, bi, xo, ro, bo, xf, rf, bf, xc, rc, bc, c] = args;
      const [pi, po, pf] = p ? args.slice(gates.length + 1) : [];
      const pre = (x: string, r: string, bias: string, p?: string, state?: string) => {
        const sum = s.add(s.add(x, r), bias);
        return clipped(s, spec.clip, p && state ? s.add(sum, s.mul(p, state)) : sum);
      };
      const i = activate(s, f, pre(xi, ri, bi, pi, c));
      const fg = inputForget ? s.sub(s.one(), i) : activate(s, f, pre(xf, rf, bf, pf, c));
      const cand = activate(s, g, pre(xc, rc, bc));
      const ct = s.add(s.mul(fg, c), s.mul(i, cand));
      const o = activate(s, f, pre(xo, ro, bo, po, ct));
      return [s.mul(o, activate(s, hAct, ct)), ct];
    });
    return { h: outs[0], c: outs[1] };
  };
}

const RNN_GATES = 1;
const GRU_GATES = 3;
const LSTM_GATES = 4;

registerOp({
  domain: '', op: 'RNN', since: FIRST_OPSET,
  infer: (ctx) => inferRnn(planRnn(ctx, RNN_GATES, RNN_ACTS), 1),
  lower: (ctx) => {
    const spec = planRnn(ctx, RNN_GATES, RNN_ACTS);
    return lowerRnn(ctx, spec, rnnCell(spec), false);
  },
});

registerOp({
  domain: '', op: 'GRU', since: FIRST_OPSET,
  infer: (ctx) => inferRnn(planRnn(ctx, GRU_GATES, GRU_ACTS), 1),
  lower: (ctx) => {
    const spec = planRnn(ctx, GRU_GATES, GRU_ACTS);
    return lowerRnn(ctx, spec, gruCell(spec, ctx.int('linear_before_reset', 0) !== 0), false);
  },
});

registerOp({
  domain: '', op: 'LSTM', since: FIRST_OPSET,
  infer: (ctx) => inferRnn(planRnn(ctx, LSTM_GATES, LSTM_ACTS), 2),
  lower: (ctx) => {
    const spec = planRnn(ctx, LSTM_GATES, LSTM_ACTS);
    return lowerRnn(ctx, spec, lstmCell(spec, ctx.int('input_forget', 0) !== 0), true);
  },
});
