// Exhaustive checks of the small-type conversions in generated code (FP8,
// E8M0, FP4, INT4/UINT4, INT2/UINT2; f32 → bf16 without AVX512-BF16) against the reference in
// small-float-reference.ts. onnxruntime-node has no FP8 tensors, so models
// run through our session API with raw HostTensor feeds. Each model bundles
// many casts so that it compiles once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { createMlirSession } from '../../src/ep/session.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import {
  E8M0_NAN, REF_FORMATS, REF_SUB_BYTE_INTS, decodeE8M0Ref, decodeRef, encodeE8M0Ref, encodeRef, halfToNumber, pack,
  subByteValue, toSubByteRef, unpack, type RefFormat,
} from './small-float-reference.js';

const OPSET = 25;
const FP8_CODES = 256;
const F32_QNAN = 0x7fc00000;
const F32_INF = 0x7f800000;
const F32_SIGN = 0x80000000;
const F16_PATTERNS = 65536;
const E8M0_MODES = ['up', 'down', 'nearest'] as const;

async function run(model: Uint8Array, feeds: Record<string, HostTensor>): Promise<Map<string, HostTensor>> {
  const session = await createMlirSession(model, { cacheDir: '' });
  try {
    const out = await session.run(new Map(Object.entries(feeds)));
    const report = session.report();
    assert.equal(report.fallbackNodes, 0, `expected every node compiled; fell back: ${report.fallbackReasons.join('; ')}`);
    return out;
  } finally {
    await session.dispose();
  }
}

function output(outs: Map<string, HostTensor>, name: string): HostTensor {
  const t = outs.get(name);
  assert.ok(t, `output ${name} is missing`);
  return t;
}

function floats(t: HostTensor): number[] {
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return Array.from({ length: t.data.byteLength / 4 }, (_, i) => dv.getFloat32(i * 4, true));
}

/** The element codes of an FP8/E8M0 (one byte each) or packed FP4 output. */
function codes(t: HostTensor, count: number): number[] {
  return t.dataType === DataType.FLOAT4E2M1 ? unpack(t.data, count, 4) : Array.from(t.data.subarray(0, count));
}

function sameValue(actual: number, expected: number): boolean {
  return Number.isNaN(expected) ? Number.isNaN(actual) : Object.is(actual, expected);
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

/** Asserts element-wise equality, reporting the first few mismatches with their inputs. */
function assertAll(what: string, n: number, ok: (i: number) => boolean, describe: (i: number) => string): void {
  const bad: string[] = [];
  for (let i = 0; i < n && bad.length < 5; i++) if (!ok(i)) bad.push(describe(i));
  assert.equal(bad.length, 0, `${what}: mismatches:\n${bad.join('\n')}`);
}

function fp8Tensor(f: RefFormat, values: readonly number[]): HostTensor {
  const data = f.bits === 4 ? pack(values, 4) : Uint8Array.from(values);
  return { dataType: f.dt, dims: [values.length], data };
}

function allCodes(f: RefFormat): number[] {
  return Array.from({ length: 2 ** f.bits }, (_, i) => i);
}

test('decodes every FP8 / FP4 / E8M0 code to f32 (and E5M2 to f64)', async () => {
  const b = new ModelBuilder({ opset: OPSET });
  for (const f of REF_FORMATS) {
    b.input(`c_${f.name}`, f.dt, [2 ** f.bits]);
    b.node('Cast', [`c_${f.name}`], { attrs: { to: DataType.FLOAT }, outputs: [`f_${f.name}`] });
    b.output(`f_${f.name}`, DataType.FLOAT, [2 ** f.bits]);
  }
  b.input('c_E8M0', DataType.FLOAT8E8M0, [FP8_CODES]);
  b.node('Cast', ['c_E8M0'], { attrs: { to: DataType.FLOAT }, outputs: ['f_E8M0'] });
  b.output('f_E8M0', DataType.FLOAT, [FP8_CODES]);
  b.node('Cast', ['c_E5M2'], { attrs: { to: DataType.DOUBLE }, outputs: ['d_E5M2'] });
  b.output('d_E5M2', DataType.DOUBLE, [FP8_CODES]);
  const feeds: Record<string, HostTensor> = {
    c_E8M0: { dataType: DataType.FLOAT8E8M0, dims: [FP8_CODES], data: Uint8Array.from(allCodes({ ...REF_FORMATS[0] })) },
  };
  for (const f of REF_FORMATS) feeds[`c_${f.name}`] = fp8Tensor(f, allCodes(f));
  const outs = await run(b.build(), feeds);
  for (const f of REF_FORMATS) {
    const got = floats(output(outs, `f_${f.name}`));
    assertAll(`${f.name} → f32`, got.length, (c) => sameValue(got[c], decodeRef(c, f)), (c) => `code ${hex(c)}: got ${got[c]}, want ${decodeRef(c, f)}`);
  }
  const e8 = floats(output(outs, 'f_E8M0'));
  assertAll('E8M0 → f32', FP8_CODES, (c) => sameValue(e8[c], decodeE8M0Ref(c)), (c) => `code ${hex(c)}: got ${e8[c]}`);
  const d = output(outs, 'd_E5M2');
  const dv = new DataView(d.data.buffer, d.data.byteOffset, d.data.byteLength);
  const e5m2 = REF_FORMATS[2];
  assertAll('E5M2 → f64', FP8_CODES, (c) => sameValue(dv.getFloat64(c * 8, true), decodeRef(c, e5m2)), (c) => `code ${hex(c)}`);
});

// ---- f32 → small types ----

const f32View = new DataView(new ArrayBuffer(4));

function f32FromBits(bits: number): number {
  f32View.setUint32(0, bits >>> 0);
  return f32View.getFloat32(0);
}

function f32Bits(v: number): number {
  f32View.setFloat32(0, v);
  return f32View.getUint32(0);
}

/** Inputs that probe every rounding decision: grid values, ties and their neighbours, overflow, specials, denormals. */
function f32Probes(): number[] {
  const bits = new Set<number>();
  const addValue = (v: number) => {
    bits.add(f32Bits(v));
    bits.add(f32Bits(-v));
  };
  for (const f of REF_FORMATS) {
    const finite = allCodes(f).map((c) => decodeRef(c, f)).filter((v) => Number.isFinite(v) && v >= 0 && !Object.is(v, -0));
    finite.sort((x, y) => x - y);
    const max = finite[finite.length - 1];
    const ulp = max - finite[finite.length - 2];
    for (let i = 0; i < finite.length; i++) {
      addValue(finite[i]);
      const next = i + 1 < finite.length ? finite[i + 1] : max + ulp;
      const mid = (finite[i] + next) / 2;
      const midBits = f32Bits(mid);
      for (const d of [-1, 0, 1]) addValue(f32FromBits(midBits + d));
    }
    for (const v of [max * 1.01, max * 2, 1e6]) addValue(v);
  }
  // E8M0: powers of two, their 1.5× ties and neighbours, the ends of its range.
  for (let k = -127; k <= 127; k += 7) {
    for (const v of [2 ** k, 1.5 * 2 ** k]) {
      const vb = f32Bits(v);
      for (const d of [-1, 0, 1]) addValue(f32FromBits(vb + d));
    }
  }
  for (const v of [2 ** 127, 1.5 * 2 ** 127, 3.4028234663852886e38, 2 ** -127, 1.5 * 2 ** -127, 2 ** -149, 2 ** -130]) addValue(v);
  for (const b of [0, F32_INF, F32_QNAN, F32_INF + 1, 0x007fffff, 0x00400001]) {
    bits.add(b);
    bits.add((b | F32_SIGN) >>> 0);
  }
  // Pseudo-random values across the interesting exponent range.
  let s = 12345;
  for (let i = 0; i < 2000; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const exp = 100 + (s % 60);
    bits.add(((s & 1) << 31 | exp << 23 | (s >>> 9)) >>> 0);
  }
  return [...bits];
}

interface EncodeCase {
  out: string;
  dt: DataType;
  attrs: Record<string, number | string>;
  ref: (value: number, negative: boolean) => number;
}

function encodeCases(): EncodeCase[] {
  const cases: EncodeCase[] = [];
  for (const f of REF_FORMATS) {
    for (const saturate of f.bits === 4 ? [1] : [1, 0]) {
      cases.push({ out: `${f.name}_s${saturate}`, dt: f.dt, attrs: { saturate }, ref: (v, neg) => encodeRef(v, neg, f, saturate === 1) });
    }
  }
  for (const mode of E8M0_MODES) {
    // Saturation cannot change 'down' (it never rounds up); identical outputs would only duplicate work.
    for (const saturate of mode === 'down' ? [1] : [1, 0]) {
      cases.push({ out: `E8M0_${mode}_s${saturate}`, dt: DataType.FLOAT8E8M0, attrs: { saturate, round_mode: mode }, ref: (v) => encodeE8M0Ref(v, saturate === 1, mode) });
    }
  }
  return cases;
}

function encodeModel(inputDt: DataType, n: number, cases: readonly EncodeCase[]): Uint8Array {
  const b = new ModelBuilder({ opset: OPSET });
  b.input('x', inputDt, [n]);
  for (const c of cases) {
    b.node('Cast', ['x'], { attrs: { to: c.dt, ...c.attrs }, outputs: [c.out] });
    b.output(c.out, c.dt, [n]);
  }
  return b.build();
}

function checkEncodes(outs: Map<string, HostTensor>, cases: readonly EncodeCase[], n: number, input: (i: number) => [number, boolean], show: (i: number) => string): void {
  for (const c of cases) {
    const got = codes(output(outs, c.out), n);
    assertAll(`${c.out}`, n, (i) => got[i] === c.ref(...input(i)), (i) => `${show(i)}: got ${hex(got[i])}, want ${hex(c.ref(...input(i)))}`);
  }
}

test('encodes f32 to FP8 / FP4 / E8M0 (saturate on and off, every round_mode)', async () => {
  const probes = f32Probes();
  const cases = encodeCases();
  const data = new Uint8Array(probes.length * 4);
  const dv = new DataView(data.buffer);
  probes.forEach((p, i) => dv.setUint32(i * 4, p, true));
  const outs = await run(encodeModel(DataType.FLOAT, probes.length, cases), { x: { dataType: DataType.FLOAT, dims: [probes.length], data } });
  checkEncodes(outs, cases, probes.length, (i) => [f32FromBits(probes[i]), probes[i] >>> 31 === 1], (i) => `f32 ${hex(probes[i])} (${f32FromBits(probes[i])})`);
});

test('encodes every f16 bit pattern to FP8 / FP4 / E8M0', async () => {
  const cases = encodeCases().filter((c) => !c.out.startsWith('E8M0') || c.out === 'E8M0_up_s1');
  const data = new Uint8Array(F16_PATTERNS * 2);
  const dv = new DataView(data.buffer);
  for (let h = 0; h < F16_PATTERNS; h++) dv.setUint16(h * 2, h, true);
  const outs = await run(encodeModel(DataType.FLOAT16, F16_PATTERNS, cases), { x: { dataType: DataType.FLOAT16, dims: [F16_PATTERNS], data } });
  checkEncodes(outs, cases, F16_PATTERNS, (h) => [halfToNumber(h), (h & 0x8000) !== 0], (h) => `f16 ${hex(h)}`);
});

test('encodes f64 to FP8 with a single rounding (no detour through f32)', async () => {
  const values: number[] = [];
  for (const f of REF_FORMATS) {
    const finite = allCodes(f).map((c) => decodeRef(c, f)).filter((v) => Number.isFinite(v) && v > 0);
    finite.sort((x, y) => x - y);
    for (let i = 0; i + 1 < finite.length; i++) {
      const mid = (finite[i] + finite[i + 1]) / 2;
      // Within f32's rounding of the tie, but not a tie in f64.
      for (const v of [mid, mid * (1 + 2 ** -40), mid * (1 - 2 ** -40)]) values.push(v, -v);
    }
  }
  values.push(0, -0, Infinity, -Infinity, NaN, 1e300, 1e-300);
  const cases = encodeCases().filter((c) => !c.out.startsWith('E8M0'));
  const data = new Uint8Array(new Float64Array(values).buffer);
  const outs = await run(encodeModel(DataType.DOUBLE, values.length, cases), { x: { dataType: DataType.DOUBLE, dims: [values.length], data } });
  checkEncodes(outs, cases, values.length, (i) => [values[i], Object.is(values[i], -0) || values[i] < 0], (i) => `f64 ${values[i]}`);
});

// ---- sub-byte integers ----

test('INT4 / UINT4 / INT2 / UINT2: every code to f32 and int32, floats and ints back (wrapping)', async () => {
  const floatsIn = [-20, -9, -8.5, -8, -7.5, -3.5, -2.5, -1.5, -0.5, -0.4, 0, 0.5, 0.6, 1.5, 2.5, 2.4, 3.5, 4.5, 7, 7.5, 8, 15, 15.5, 16, 17, 100.5];
  const intsIn = [-300, -129, -17, -9, -8, -1, 0, 1, 7, 8, 15, 16, 255, 1000];
  const b = new ModelBuilder({ opset: OPSET });
  b.input('xf', DataType.FLOAT, [floatsIn.length]);
  b.input('xi', DataType.INT32, [intsIn.length]);
  for (const t of REF_SUB_BYTE_INTS) {
    const name = DataType[t.dt];
    b.input(`c_${name}`, t.dt, [2 ** t.bits]);
    for (const [to, suffix] of [[DataType.FLOAT, 'f'], [DataType.INT32, 'i']] as const) {
      b.node('Cast', [`c_${name}`], { attrs: { to }, outputs: [`${suffix}_${name}`] });
      b.output(`${suffix}_${name}`, to, [2 ** t.bits]);
    }
    for (const [src, n] of [['xf', floatsIn.length], ['xi', intsIn.length]] as const) {
      b.node('Cast', [src], { attrs: { to: t.dt }, outputs: [`${src}_${name}`] });
      b.output(`${src}_${name}`, t.dt, [n]);
    }
  }
  const feeds: Record<string, HostTensor> = {
    xf: { dataType: DataType.FLOAT, dims: [floatsIn.length], data: new Uint8Array(new Float32Array(floatsIn).buffer) },
    xi: { dataType: DataType.INT32, dims: [intsIn.length], data: new Uint8Array(new Int32Array(intsIn).buffer) },
  };
  for (const t of REF_SUB_BYTE_INTS) {
    const all = Array.from({ length: 2 ** t.bits }, (_, i) => i);
    feeds[`c_${DataType[t.dt]}`] = { dataType: t.dt, dims: [all.length], data: pack(all, t.bits) };
  }
  const outs = await run(b.build(), feeds);
  for (const t of REF_SUB_BYTE_INTS) {
    const name = DataType[t.dt];
    const f = floats(output(outs, `f_${name}`));
    const iOut = output(outs, `i_${name}`);
    const ints = Array.from(new Int32Array(iOut.data.slice().buffer));
    assertAll(`${name} → f32`, f.length, (c) => f[c] === subByteValue(c, t), (c) => `code ${c}: got ${f[c]}`);
    assertAll(`${name} → int32`, ints.length, (c) => ints[c] === subByteValue(c, t), (c) => `code ${c}: got ${ints[c]}`);
    const fromF = unpack(output(outs, `xf_${name}`).data, floatsIn.length, t.bits).map((c) => subByteValue(c, t));
    assertAll(`f32 → ${name}`, floatsIn.length, (i) => fromF[i] === toSubByteRef(floatsIn[i], t), (i) => `${floatsIn[i]}: got ${fromF[i]}`);
    const fromI = unpack(output(outs, `xi_${name}`).data, intsIn.length, t.bits).map((c) => subByteValue(c, t));
    assertAll(`int32 → ${name}`, intsIn.length, (i) => fromI[i] === toSubByteRef(intsIn[i], t), (i) => `${intsIn[i]}: got ${fromI[i]}`);
  }
});

test('packed sub-byte tensors cross partition boundaries: inputs, outputs, weights, embedded constants, odd sizes, scalars', async () => {
  const WEIGHT_COUNT = 301;
  const CONST_COUNT = 7;
  const b = new ModelBuilder({ opset: OPSET });
  b.input('m', DataType.INT4, [3, 5]);
  b.input('s', DataType.UINT4, []);
  const wFields = Array.from({ length: WEIGHT_COUNT }, (_, i) => (i * 7) % 16);
  b.initializer('w', DataType.UINT4, [WEIGHT_COUNT], pack(wFields, 4));
  const kFields = [3, 0, 1, 2, 3, 2, 1];
  b.initializer('k', DataType.INT2, [CONST_COUNT], pack(kFields, 2));
  b.node('Identity', ['m'], { outputs: ['m_copy'] });
  b.node('Cast', ['m'], { attrs: { to: DataType.INT8 }, outputs: ['m_i8'] });
  b.node('Cast', ['s'], { attrs: { to: DataType.FLOAT }, outputs: ['s_f'] });
  b.node('Cast', ['w'], { attrs: { to: DataType.UINT8 }, outputs: ['w_u8'] });
  b.node('Cast', ['k'], { attrs: { to: DataType.INT8 }, outputs: ['k_i8'] });
  b.node('Cast', ['m_i8'], { attrs: { to: DataType.UINT4 }, outputs: ['m_u4'] });
  b.output('m_copy', DataType.INT4, [3, 5]);
  b.output('m_i8', DataType.INT8, [3, 5]);
  b.output('s_f', DataType.FLOAT, []);
  b.output('w_u8', DataType.UINT8, [WEIGHT_COUNT]);
  b.output('k_i8', DataType.INT8, [CONST_COUNT]);
  b.output('m_u4', DataType.UINT4, [3, 5]);
  const mFields = Array.from({ length: 15 }, (_, i) => (i * 5 + 3) % 16);
  const mPacked = pack(mFields, 4);
  const outs = await run(b.build(), {
    m: { dataType: DataType.INT4, dims: [3, 5], data: mPacked },
    s: { dataType: DataType.UINT4, dims: [], data: Uint8Array.from([0x0d]) },
  });
  assert.deepEqual(Array.from(output(outs, 'm_copy').data), Array.from(mPacked), 'an odd-sized round trip keeps the zero padding nibble');
  assert.deepEqual(Array.from(new Int8Array(output(outs, 'm_i8').data.slice().buffer)), mFields.map((c) => subByteValue(c, { bits: 4, signed: true })));
  assert.deepEqual(floats(output(outs, 's_f')), [13]);
  assert.deepEqual(Array.from(output(outs, 'w_u8').data), wFields);
  assert.deepEqual(Array.from(new Int8Array(output(outs, 'k_i8').data.slice().buffer)), kFields.map((c) => subByteValue(c, { bits: 2, signed: true })));
  assert.deepEqual(Array.from(output(outs, 'm_u4').data), Array.from(mPacked));
});

test('the reference agrees with the spec tables (sanity of the oracle itself)', () => {
  const [e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, fp4] = REF_FORMATS;
  assert.equal(decodeRef(0x7e, e4m3fn), 448);
  assert.equal(decodeRef(0x7f, e4m3fnuz), 240);
  assert.equal(decodeRef(0x7b, e5m2), 57344);
  assert.equal(decodeRef(0x7c, e5m2), Infinity);
  assert.equal(decodeRef(0x7f, e5m2fnuz), 57344);
  assert.equal(decodeRef(0x01, e4m3fn), 2 ** -9);
  assert.equal(decodeRef(0x01, e5m2fnuz), 2 ** -17);
  assert.equal(decodeRef(0x7, fp4), 6);
  assert.equal(encodeRef(464, false, e4m3fn, false), 0x7e, 'a tie at the top of E4M3FN rounds to the even 448');
  assert.equal(encodeRef(61440, false, e5m2, false), 0x7c, 'a tie at the top of E5M2 rounds up to Inf');
  assert.equal(encodeRef(1e6, true, e4m3fnuz, false), 0x80);
  assert.equal(encodeRef(-1e-7, true, e4m3fnuz, true), 0);
  assert.equal(encodeRef(NaN, false, fp4, true), 0x8);
  assert.equal(encodeE8M0Ref(0.124, true, 'up'), 0x7c);
  assert.equal(encodeE8M0Ref(1.1, true, 'up'), 0x80);
  assert.equal(encodeE8M0Ref(2 ** 127 * 1.5, false, 'up'), E8M0_NAN);
});

/** f32 bits → bf16 bits, rounded to nearest even (NaN: checked separately). */
function bf16Ref(bits: number): number {
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

test('casts f32 to bf16 in compiled code without AVX512-BF16 (no __truncsfbf2 from the process), rounding to nearest even', async () => {
  const inputs = [0, F32_SIGN, 0x3f800000, 0x3f808000, 0x3f818000, 0x3f80ffff, 0x00000001, 0x7f7fffff, F32_INF, F32_INF | F32_SIGN, F32_QNAN, 0x7f800001, 0xc0490fdb];
  const b = new ModelBuilder({ opset: OPSET });
  const x = b.input('x', DataType.FLOAT, [inputs.length]);
  const [y] = b.node('Cast', [x], { attrs: { to: DataType.BFLOAT16 }, outputs: ['y'] });
  b.output(y, DataType.BFLOAT16, [inputs.length]);
  const data = new Uint8Array(new Uint32Array(inputs).buffer);
  // Without the feature LLVM calls __truncsfbf2 on any host (13 elements: a masked vector loop whose select of bf16 the backend widens to f32).
  const session = await createMlirSession(b.build(), { cacheDir: '', targetFeatures: '-avx512bf16' });
  try {
    const out = output(await session.run(new Map([['x', { dataType: DataType.FLOAT, dims: [inputs.length], data }]])), 'y');
    assert.equal(session.report().fallbackNodes, 0, session.report().fallbackReasons.join('; '));
    const got = new Uint16Array(out.data.buffer.slice(out.data.byteOffset, out.data.byteOffset + out.data.byteLength));
    const isNan = (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
    assertAll('f32 → bf16', inputs.length,
      (i) => (Number.isNaN(new Float32Array(new Uint32Array([inputs[i]]).buffer)[0]) ? isNan(got[i]) : got[i] === bf16Ref(inputs[i])),
      (i) => `${hex(inputs[i])} → ${hex(got[i])}, expected ${hex(bf16Ref(inputs[i]))}`);
  } finally {
    await session.dispose();
  }
});
