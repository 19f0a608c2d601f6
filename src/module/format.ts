// The compiled-module file (the analog of IREE's VMFB): a versioned,
// checksummed container of the execution plan (JSON), the native library and
// the weights, each blob 64-byte aligned so it can be used in place.
//
// Layout: MAGIC(8) | formatVersion u32 | headerLength u32 | sha256(32) of all
// bytes after it | header JSON (padded) | blobs...
import { createHash } from 'node:crypto';
import type { DataType } from '../onnx/model.js';

export const MODULE_MAGIC = 'ORTMLIR\0';
/**
 * 3: native outputs may be trimmed to a run-time count (NativeArg.trim).
 * 4: native steps carry `work` (element-equivalents, multiply-adds included) in place of `flops`.
 * 5: native steps carry `threads`, how many threads their code keeps busy.
 */
export const MODULE_FORMAT_VERSION = 5;
export const BLOB_ALIGNMENT = 64;
const MAGIC_BYTES = 8;
const U32_BYTES = 4;
const SHA256_BYTES = 32;
const PREFIX_BYTES = MAGIC_BYTES + 2 * U32_BYTES + SHA256_BYTES;

export class ModuleFormatError extends Error {
  override name = 'ModuleFormatError';
}

export interface TensorSignature {
  name: string;
  dataType: DataType;
  /** Static dims; symbolic dims keep their name. */
  dims: (number | string)[];
}

export interface NativeArg {
  role: 'input' | 'weight' | 'output';
  name: string;
  dataType: DataType;
  dims: number[];
  /** For weights: index into blobs. */
  blob?: number;
  /** For outputs: see OutputTrim. */
  trim?: OutputTrim;
}

/**
 * An output whose size depends on data: the native code writes it at its
 * largest size (`dims`) plus a count (an int64 scalar output named `count`);
 * the runtime keeps the first `count` entries along `axis`.
 */
export interface OutputTrim {
  axis: number;
  count: string;
}

/**
 * A subgraph (If branch, Loop/Scan body) run by the runtime's control flow.
 * Its plans are specialised per input signature; a signature not compiled
 * ahead of time is compiled on first use when the session can compile.
 */
export interface BodyRef {
  /** Locates the subgraph in the root model (see ir/subgraph-key) for on-demand compilation. */
  key: string;
  /** The body's formal inputs (Loop: iteration, condition, carried; Scan: state, slices). */
  formals: string[];
  /** Outer-scope values the body reads at run time, fed after the formals. */
  captures: string[];
  /** Outer-scope compile-time constants the body reads (baked into its plans). */
  constants: ConstantValue[];
  /** Names of the body's outputs, in order. */
  outputs: string[];
  /** Specialisations; each plan's inputs are formals then captures. */
  variants: ExecutionPlan[];
  /**
   * Blob of the body as a standalone ONNX model (inputs: formals then
   * captures), when it has one: compiled per shape on demand, and run on the
   * CPU EP where the session cannot compile.
   */
  model?: number;
  /**
   * Captures (small integer tensors: shapes, axes...) whose VALUES select the
   * variant, not only their shapes: a compiled variant has them embedded as
   * constants. Deferred segments only.
   */
  valueInputs?: string[];
}

/** Element type and per-iteration dims of a Loop/Scan scan output (used when there are zero iterations). */
export interface ScanElement {
  dataType: DataType;
  /** Static dims, null when unknown. */
  dims: number[] | null;
}

/** An output slot of a control-flow step; '' marks an omitted optional output. */
export type OutputName = string;

export type PlanStep =
  /** `threads`: 1 when the step's code has no loop run on several threads, else the team size it was compiled for. */
  | { kind: 'native'; symbol: string; nodes: string[]; args: NativeArg[]; work: number; threads: number }
  | { kind: 'cpu'; model: number; nodes: string[]; inputs: string[]; outputs: string[] }
  | { kind: 'if'; nodes: string[]; cond: string; thenBranch: BodyRef; elseBranch: BodyRef; outputs: OutputName[] }
  | {
    kind: 'loop'; nodes: string[]; tripCount: string | null; cond: string | null; initial: string[];
    body: BodyRef; outputs: OutputName[]; scanElements: ScanElement[];
  }
  | {
    kind: 'scan'; nodes: string[]; state: string[]; scanInputs: string[]; body: BodyRef; outputs: OutputName[];
    inputAxes: number[]; inputReverse: boolean[]; outputAxes: number[]; outputReverse: boolean[]; scanElements: ScanElement[];
    /** Opset 8 Scan: every input and output carries a leading batch dimension. */
    batched: boolean;
  }
  /** Nodes whose shapes are only known at run time: compiled per concrete input shapes on first use. */
  | { kind: 'segment'; nodes: string[]; body: BodyRef; outputs: string[] };

export type ControlStep = Extract<PlanStep, { kind: 'if' | 'loop' | 'scan' | 'segment' }>;

export interface ConstantValue {
  name: string;
  dataType: DataType;
  dims: number[];
  blob: number;
}

export interface ExecutionPlan {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
  steps: PlanStep[];
  /** Compile-time constants the runtime needs (graph outputs, cpu partition feeds). */
  constants: ConstantValue[];
  /** Blob index of the shared library; -1 when nothing was compiled. */
  library: number;
  /** Node accounting for reports. */
  report: { totalNodes: number; compiledNodes: number; fallbackNodes: number; fallbackReasons: string[] };
  /** Toolchain and target the native code was built with. */
  target: { triple: string; cpu: string; toolchain: string };
}

export interface CompiledModule {
  plan: ExecutionPlan;
  blobs: Uint8Array[];
}

interface Header {
  plan: ExecutionPlan;
  blobs: { offset: number; length: number }[];
}

function align(n: number): number {
  return Math.ceil(n / BLOB_ALIGNMENT) * BLOB_ALIGNMENT;
}

export function serializeModule(m: CompiledModule): Uint8Array {
  // Offsets depend on the header length, which depends on the offsets: settle it in two passes.
  let headerBytes = 0;
  let header: Header = { plan: m.plan, blobs: [] };
  let json = new Uint8Array();
  for (let pass = 0; pass < 2; pass++) {
    let offset = align(PREFIX_BYTES + headerBytes);
    header = { plan: m.plan, blobs: m.blobs.map((b) => { const e = { offset, length: b.byteLength }; offset = align(offset + b.byteLength); return e; }) };
    json = new TextEncoder().encode(JSON.stringify(header));
    headerBytes = align(json.byteLength + BLOB_ALIGNMENT);
  }
  const last = header.blobs[header.blobs.length - 1];
  const total = last ? last.offset + last.length : align(PREFIX_BYTES + headerBytes);
  const out = new Uint8Array(total);
  out.set(new TextEncoder().encode(MODULE_MAGIC), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(MAGIC_BYTES, MODULE_FORMAT_VERSION, true);
  dv.setUint32(MAGIC_BYTES + U32_BYTES, json.byteLength, true);
  out.set(json, PREFIX_BYTES);
  m.blobs.forEach((b, i) => out.set(b, header.blobs[i].offset));
  out.set(checksum(out), MAGIC_BYTES + 2 * U32_BYTES);
  return out;
}

function checksum(file: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(file.subarray(PREFIX_BYTES)).digest());
}

/** Parses and verifies a module; blobs are zero-copy views into `file`. */
export function deserializeModule(file: Uint8Array, source = 'module'): CompiledModule {
  const magic = new TextDecoder().decode(file.subarray(0, MAGIC_BYTES));
  if (file.byteLength >= MAGIC_BYTES && magic !== MODULE_MAGIC) {
    throw new ModuleFormatError(`${source}: not an onnxruntime-ep-mlir module (bad magic)`);
  }
  if (file.byteLength < PREFIX_BYTES) throw new ModuleFormatError(`${source}: truncated (${file.byteLength} bytes)`);
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const version = dv.getUint32(MAGIC_BYTES, true);
  if (version !== MODULE_FORMAT_VERSION) {
    throw new ModuleFormatError(`${source}: format version ${version}, this runtime reads version ${MODULE_FORMAT_VERSION}`);
  }
  const stored = file.subarray(MAGIC_BYTES + 2 * U32_BYTES, PREFIX_BYTES);
  const actual = checksum(file);
  if (!stored.every((b, i) => b === actual[i])) throw new ModuleFormatError(`${source}: checksum mismatch (corrupt or truncated)`);
  const headerLength = dv.getUint32(MAGIC_BYTES + U32_BYTES, true);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(file.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength)));
  } catch {
    throw new ModuleFormatError(`${source}: unreadable header`);
  }
  const blobs = header.blobs.map((b, i) => {
    if (b.offset + b.length > file.byteLength) throw new ModuleFormatError(`${source}: blob ${i} extends past the end of the file`);
    return file.subarray(b.offset, b.offset + b.length);
  });
  return { plan: header.plan, blobs };
}
