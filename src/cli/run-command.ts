// `ort-mlir run MODEL`: one inference with given or random inputs; prints
// output statistics and where each node ran.
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeModel, decodeTensor } from '../onnx/decode.js';
import { DataType, byteLength, elementCount, type OnnxDim, type OnnxValueInfo } from '../onnx/model.js';
import type { HostTensor } from '../runtime/host-tensor.js';
import { dataTypeName } from '../ep/ort-tensor.js';
import type { SessionReport } from '../ep/session-api.js';
import { formatOptions, parseArgs, type OptionSpecs } from './args.js';
import { loadEngine, parseEngineName } from './engines.js';
import { CliError } from './errors.js';
import type { CliIo } from './io.js';
import { tensorValues, valueStats } from './tensor-values.js';
import { onnxTensorToHost } from './test-data.js';

export const RUN_OPTIONS: OptionSpecs = {
  input: { kind: 'list', short: 'i', valueName: 'NAME=FILE.pb', description: 'feed an input from a TensorProto file (repeatable)' },
  dim: { kind: 'list', short: 'd', valueName: 'NAME=VALUE', description: 'value of a symbolic dimension (default: 1; repeatable)' },
  engine: { kind: 'string', short: 'e', valueName: 'mlir|cpu', description: 'engine to run on (default: mlir)' },
  seed: { kind: 'integer', valueName: 'N', description: 'seed of the random inputs (default: 0)' },
  help: { kind: 'boolean', short: 'h', description: 'show this help' },
};

export const RUN_USAGE = `usage: ort-mlir run MODEL [options]

Runs MODEL once; inputs not given with --input get random values of their
dtype. Prints each output's dtype, shape, min/max/mean and the session report.

Options:
${formatOptions(RUN_OPTIONS)}`;

const EXIT_OK = 0;
const RANDOM_INT_LIMIT = 10;
const BITS_PER_BYTE = 8;
/** Below 0x78 every FP8 format's byte is finite (their NaN/Inf codes sit above). */
const FP8_FINITE_LIMIT = 0x78;
const FP8_SIGN = 0x80;
/** E8M0 exponents around 2^0 keep scales moderate. */
const E8M0_LOW = 123;
const E8M0_SPAN = 8;
const HALF_MAX_BITS = 0x7bff;
const HALF_NAN = 0x7e00;
const HALF_MIN_NORMAL = 2 ** -14;
const HALF_SUBNORMAL_STEP = 2 ** -24;
const HALF_MANT_SCALE = 1024;
const HALF_BIAS = 15;
const HALF_EXP_SHIFT = 10;
const HALF_SIGN = 0x8000;
const BF16_SHIFT = 16;
const MAX_STRINGS_SHOWN = 4;
const STAT_DIGITS = 6;
const PRNG_INCREMENT = 0x6d2b79f5;
const PRNG_SHIFT_A = 15;
const PRNG_SHIFT_B = 7;
const PRNG_SHIFT_C = 14;
const PRNG_ODD_C = 61;
const UINT32_RANGE = 2 ** 32;

/** mulberry32: small, seedable, good enough for test inputs. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + PRNG_INCREMENT) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> PRNG_SHIFT_A), t | 1);
    t ^= t + Math.imul(t ^ (t >>> PRNG_SHIFT_B), t | PRNG_ODD_C);
    return ((t ^ (t >>> PRNG_SHIFT_C)) >>> 0) / UINT32_RANGE;
  };
}

/** IEEE half bits of `x` (round to nearest, saturating at the largest finite half). */
export function floatToHalfBits(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? HALF_SIGN : 0;
  const abs = Math.abs(x);
  if (Number.isNaN(x)) return HALF_NAN;
  if (abs < HALF_MIN_NORMAL) return sign | Math.round(abs / HALF_SUBNORMAL_STEP);
  let exp = Math.floor(Math.log2(abs));
  let mant = Math.round((abs / 2 ** exp - 1) * HALF_MANT_SCALE);
  if (mant === HALF_MANT_SCALE) { exp++; mant = 0; }
  const bits = ((exp + HALF_BIAS) << HALF_EXP_SHIFT) | mant;
  return sign | Math.min(bits, HALF_MAX_BITS);
}

function resolveDims(v: OnnxValueInfo, symbols: ReadonlyMap<string, number>): number[] {
  const t = v.type.kind === 'optional' ? v.type.elem : v.type;
  if (t.kind !== 'tensor') throw new CliError(`input '${v.name}' is a ${t.kind}; only tensor inputs can be generated`);
  if (t.shape === null) throw new CliError(`input '${v.name}' has unknown rank; pass it with --input ${v.name}=FILE.pb`);
  return t.shape.map((d: OnnxDim) => (typeof d === 'number' ? d : d === null ? 1 : symbols.get(d) ?? 1));
}

function randomFiller(dt: DataType, rand: () => number): ((v: DataView, i: number) => void) | null {
  const signed = (): number => rand() * 2 - 1;
  const int = (): number => Math.floor(rand() * RANDOM_INT_LIMIT);
  const fp8 = (): number => {
    const b = Math.floor(rand() * FP8_FINITE_LIMIT) | (rand() < 1 / 2 ? FP8_SIGN : 0);
    return b === FP8_SIGN ? 0 : b; // 0x80 is NaN in the FNUZ formats
  };
  switch (dt) {
    case DataType.FLOAT: return (v, i) => v.setFloat32(i * 4, signed(), true);
    case DataType.DOUBLE: return (v, i) => v.setFloat64(i * 8, signed(), true);
    case DataType.COMPLEX64: return (v, i) => { v.setFloat32(i * 8, signed(), true); v.setFloat32(i * 8 + 4, signed(), true); };
    case DataType.COMPLEX128: return (v, i) => { v.setFloat64(i * 16, signed(), true); v.setFloat64(i * 16 + 8, signed(), true); };
    case DataType.FLOAT16: return (v, i) => v.setUint16(i * 2, floatToHalfBits(signed()), true);
    case DataType.BFLOAT16: return (v, i) => v.setUint16(i * 2, bf16Bits(signed()), true);
    case DataType.FLOAT8E4M3FN: case DataType.FLOAT8E4M3FNUZ: case DataType.FLOAT8E5M2: case DataType.FLOAT8E5M2FNUZ:
      return (v, i) => v.setUint8(i, fp8());
    case DataType.FLOAT8E8M0: return (v, i) => v.setUint8(i, E8M0_LOW + Math.floor(rand() * E8M0_SPAN));
    case DataType.BOOL: return (v, i) => v.setUint8(i, rand() < 1 / 2 ? 0 : 1);
    case DataType.INT8: case DataType.UINT8: return (v, i) => v.setUint8(i, int());
    case DataType.INT16: case DataType.UINT16: return (v, i) => v.setUint16(i * 2, int(), true);
    case DataType.INT32: case DataType.UINT32: return (v, i) => v.setUint32(i * 4, int(), true);
    case DataType.INT64: case DataType.UINT64: return (v, i) => v.setBigUint64(i * 8, BigInt(int()), true);
    default: return null;
  }
}

const bf16Scratch = new DataView(new ArrayBuffer(4));

function bf16Bits(x: number): number {
  bf16Scratch.setFloat32(0, x, true);
  return bf16Scratch.getUint32(0, true) >>> BF16_SHIFT;
}

/** Fills packed sub-byte tensors (`bits` per element, first element in the lowest bits). */
function randomPacked(count: number, bits: number, rand: () => number): Uint8Array {
  const perByte = BITS_PER_BYTE / bits;
  const data = new Uint8Array(Math.ceil(count / perByte));
  for (let i = 0; i < count; i++) {
    const slot = Math.floor(i / perByte);
    data[slot] = (data[slot] ?? 0) | (Math.floor(rand() * 2 ** bits) << ((i % perByte) * bits));
  }
  return data;
}

const PACKED_BITS: ReadonlyMap<DataType, number> = new Map([
  [DataType.INT4, 4], [DataType.UINT4, 4], [DataType.FLOAT4E2M1, 4], [DataType.INT2, 2], [DataType.UINT2, 2],
]);

export function randomTensor(dt: DataType, dims: number[], rand: () => number): HostTensor {
  const count = elementCount(dims);
  if (dt === DataType.STRING) {
    return { dataType: dt, dims, data: new Uint8Array(0), strings: Array.from({ length: count }, (_, i) => `s${i}`) };
  }
  const bits = PACKED_BITS.get(dt);
  // Every bit pattern of the packed formats is a finite value.
  if (bits !== undefined) return { dataType: dt, dims, data: randomPacked(count, bits, rand) };
  const fill = randomFiller(dt, rand);
  if (fill === null) throw new CliError(`cannot generate random values of dtype ${dataTypeName(dt)}`);
  const data = new Uint8Array(byteLength(dt, count));
  const view = new DataView(data.buffer);
  for (let i = 0; i < count; i++) fill(view, i);
  return { dataType: dt, dims, data };
}

function parseAssignments(items: readonly string[], option: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CliError(`--${option}: expected NAME=VALUE, got '${item}'`);
    out.set(item.slice(0, eq), item.slice(eq + 1));
  }
  return out;
}

function parseDims(items: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, raw] of parseAssignments(items, 'dim')) {
    const n = Number(raw);
    if (!/^\d+$/.test(raw)) throw new CliError(`--dim ${name}: expected a non-negative integer, got '${raw}'`);
    out.set(name, n);
  }
  return out;
}

async function buildFeeds(inputs: readonly OnnxValueInfo[], given: ReadonlyMap<string, string>,
  symbols: ReadonlyMap<string, number>, rand: () => number): Promise<Map<string, HostTensor>> {
  const names = new Set(inputs.map((i) => i.name));
  for (const name of given.keys()) {
    if (!names.has(name)) throw new CliError(`--input ${name}: the model has no such input; inputs: ${[...names].join(', ')}`);
  }
  const feeds = new Map<string, HostTensor>();
  for (const v of inputs) {
    const file = given.get(v.name);
    if (file !== undefined) {
      feeds.set(v.name, onnxTensorToHost(decodeTensor(await readFile(file))));
      continue;
    }
    const t = v.type.kind === 'optional' ? v.type.elem : v.type;
    if (t.kind !== 'tensor') throw new CliError(`input '${v.name}' is a ${t.kind}; pass it with --input`);
    feeds.set(v.name, randomTensor(t.elemType, resolveDims(v, symbols), rand));
  }
  return feeds;
}

function formatNumber(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(STAT_DIGITS);
}

export function describeTensor(name: string, t: HostTensor): string {
  const head = `${name}: ${dataTypeName(t.dataType)} [${t.dims.join(', ')}]`;
  const values = tensorValues(t);
  if (values.kind === 'string') {
    const shown = values.values.slice(0, MAX_STRINGS_SHOWN).map((s) => JSON.stringify(s)).join(', ');
    return `${head} ${shown}${values.values.length > MAX_STRINGS_SHOWN ? ', …' : ''}`;
  }
  const s = valueStats(values);
  if (s === null) return head;
  const nan = s.nanCount > 0 ? ` nan=${s.nanCount}` : '';
  return `${head} min=${formatNumber(s.min)} max=${formatNumber(s.max)} mean=${formatNumber(s.mean)}${nan}`;
}

export function describeReport(r: SessionReport): string[] {
  const lines = [`nodes: ${r.totalNodes} total, ${r.compiledNodes} compiled by mlir, ${r.fallbackNodes} on the CPU EP`];
  for (const reason of r.fallbackReasons) lines.push(`  fallback ${reason}`);
  return lines;
}

export async function runCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, RUN_OPTIONS);
  if (args.flag('help')) {
    io.stdout(`${RUN_USAGE}\n`);
    return EXIT_OK;
  }
  const [modelPath, ...extra] = args.positionals;
  if (modelPath === undefined || extra.length > 0) throw new CliError(`run: expected exactly one MODEL\n\n${RUN_USAGE}`);
  const model = decodeModel(await readFile(modelPath), { baseDir: dirname(modelPath) });
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((i) => !initializers.has(i.name));
  const rand = seededRandom(args.integer('seed', 0) ?? 0);
  const feeds = await buildFeeds(inputs, parseAssignments(args.list('input'), 'input'), parseDims(args.list('dim')), rand);
  const engine = await loadEngine(parseEngineName(args.string('engine'), 'mlir'));
  const t0 = performance.now();
  const session = await engine.createSession(modelPath);
  try {
    const t1 = performance.now();
    const outputs = await session.run(feeds);
    const t2 = performance.now();
    for (const [name, t] of feeds) io.stdout(`input  ${describeTensor(name, t)}\n`);
    for (const [name, t] of outputs) io.stdout(`output ${describeTensor(name, t)}\n`);
    io.stdout(`engine: ${engine.name}  session: ${Math.round(t1 - t0)} ms  run: ${(t2 - t1).toFixed(1)} ms\n`);
    for (const line of describeReport(session.report())) io.stdout(`${line}\n`);
  } finally {
    await session.dispose();
  }
  return EXIT_OK;
}
