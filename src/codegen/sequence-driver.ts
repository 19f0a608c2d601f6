// A native driver that runs several compiled partitions back to back in one
// call. Partitions are split into compile units so that they compile in
// parallel (passes/compile-units.ts), but every plan step costs a trip
// through the FFI and a worker-thread hop at run time; the driver brings a
// run of consecutive native partitions back to a single step. Values passed
// only between its members live in buffers it allocates (64-byte aligned)
// and frees after their last use. The members' weights come packed in one
// argument (a C call has few parameters to spare: koffi takes at most 64).
// Written directly as LLVM IR: it is only calls, and llc compiles it in
// milliseconds.
import { DataType, byteLength, elementCount, type OnnxTensor } from '../onnx/model.js';
import type { ArgSpec, PartitionModule } from './partition-module.js';

export interface SequenceDriver {
  symbol: string;
  /** Member symbols, in call order. */
  members: string[];
  /** C argument order of the driver: inputs, the weight pack (when there are weights), outputs. */
  args: ArgSpec[];
  /** The members' weights at their offsets in the pack. */
  weights: PackedWeight[];
  /** Bytes of the weight pack. */
  packBytes: number;
}

export interface PackedWeight {
  name: string;
  offset: number;
  tensor: OnnxTensor;
}

/** Alignment of the driver's temporary buffers (a cache line; what the blobs use too). */
const TEMP_ALIGNMENT = 64;

/**
 * The driver for `members` (in execution order); `isExternal(name)` says
 * whether a value a member produces is needed after the sequence (or is a
 * graph output), making it a driver output rather than a temporary.
 */
export function sequenceDriver(symbol: string, members: readonly PartitionModule[], isExternal: (name: string) => boolean): SequenceDriver {
  const produced = new Set(members.flatMap((m) => m.args.filter((a) => a.role === 'output').map((a) => a.name)));
  const seen = new Set<string>();
  const pick = (role: ArgSpec['role'], keep: (a: ArgSpec) => boolean): ArgSpec[] =>
    members.flatMap((m) => m.args).filter((a) => {
      if (a.role !== role || !keep(a) || seen.has(a.name)) return false;
      seen.add(a.name);
      return true;
    });
  const inputs = pick('input', (a) => !produced.has(a.name));
  const outputs = pick('output', (a) => isExternal(a.name));
  const weights: PackedWeight[] = [];
  let packBytes = 0;
  for (const m of members) {
    m.args.filter((a) => a.role === 'weight').forEach((a, i) => {
      const tensor = m.weights[i];
      if (!tensor || weights.some((w) => w.name === a.name)) return;
      weights.push({ name: a.name, offset: packBytes, tensor });
      packBytes += alignUp(tensor.data.byteLength);
    });
  }
  const pack: ArgSpec[] = weights.length ? [{ role: 'weight', name: `${symbol}.weights`, dataType: DataType.UINT8, dims: [packBytes] }] : [];
  return { symbol, members: members.map((m) => m.symbol), args: [...inputs, ...pack, ...outputs], weights, packBytes };
}

function alignUp(n: number): number {
  return Math.ceil(n / TEMP_ALIGNMENT) * TEMP_ALIGNMENT;
}

/** The weight pack's bytes: every weight at its offset. */
export function packWeights(d: SequenceDriver): Uint8Array {
  const pack = new Uint8Array(d.packBytes);
  for (const w of d.weights) pack.set(w.tensor.data, w.offset);
  return pack;
}

/** Bytes of a temporary, rounded up to the alignment (aligned_alloc requires a multiple). */
function tempBytes(a: ArgSpec): number {
  return Math.max(TEMP_ALIGNMENT, alignUp(byteLength(a.dataType, elementCount(a.dims))));
}

/** One LLVM IR module defining every driver of `drivers`; `modules` gives each member's ABI by symbol. */
export function driversIr(drivers: readonly SequenceDriver[], modules: ReadonlyMap<string, PartitionModule>): string {
  const declared = new Set<string>();
  // The library's buffer pool (toolchain/buffer-pool.ts): temporaries recur every run.
  const lines = ['declare noalias ptr @ortmlir_alloc(i64, i64)', 'declare void @ortmlir_free(ptr)', ''];
  for (const d of drivers) {
    for (const s of d.members) {
      const m = modules.get(s);
      if (!m || declared.has(s)) continue;
      declared.add(s);
      lines.push(`declare void @${s}(${m.args.map(() => 'ptr').join(', ')})`);
    }
  }
  for (const d of drivers) lines.push('', ...driverBody(d, modules));
  return `${lines.join('\n')}\n`;
}

function driverBody(d: SequenceDriver, modules: ReadonlyMap<string, PartitionModule>): string[] {
  const ptr = new Map<string, string>(d.args.map((a, i) => [a.name, `%a${i}`]));
  const members = d.members.map((s) => {
    const m = modules.get(s);
    if (!m) throw new Error(`sequence ${d.symbol}: member ${s} has no module`);
    return m;
  });
  // The last member reading each temporary frees it.
  const lastUse = new Map<string, number>();
  members.forEach((m, i) => m.args.forEach((a) => lastUse.set(a.name, i)));
  const body: string[] = [`define void @${d.symbol}(${d.args.map((_, i) => `ptr %a${i}`).join(', ')}) {`, 'entry:'];
  const pack = d.args.findIndex((a) => a.role === 'weight');
  d.weights.forEach((w, i) => {
    body.push(`  %w${i} = getelementptr inbounds i8, ptr %a${pack}, i64 ${w.offset}`);
    ptr.set(w.name, `%w${i}`);
  });
  let temps = 0;
  members.forEach((m, i) => {
    for (const a of m.args) {
      if (a.role !== 'output' || ptr.has(a.name)) continue;
      const t = `%t${temps++}`;
      body.push(`  ${t} = call ptr @ortmlir_alloc(i64 ${TEMP_ALIGNMENT}, i64 ${tempBytes(a)})`);
      ptr.set(a.name, t);
    }
    body.push(`  call void @${m.symbol}(${m.args.map((a) => `ptr ${ptr.get(a.name)}`).join(', ')})`);
    for (const a of m.args) {
      const p = ptr.get(a.name);
      if (!p?.startsWith('%t') || lastUse.get(a.name) !== i) continue;
      body.push(`  call void @ortmlir_free(ptr ${p})`);
      ptr.delete(a.name);
    }
  });
  body.push('  ret void', '}');
  return body;
}
