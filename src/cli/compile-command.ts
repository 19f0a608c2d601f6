// `ort-mlir compile MODEL -o FILE`: ahead-of-time compilation to a module file
// that sessions load with `{ name: 'mlir', module: FILE }`, no toolchain needed.
import { readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { decodeModel } from '../onnx/decode.js';
import type { OnnxValueInfo } from '../onnx/model.js';
import type { TensorType } from '../ir/types.js';
import { MAX_THREADS, resolveOptions } from '../ep/options.js';
import { compileModel } from '../ep/compile.js';
import { serializeModule } from '../module/format.js';
import { formatOptions, parseArgs, type OptionSpec, type OptionSpecs } from './args.js';
import { CliError } from './errors.js';
import type { CliIo } from './io.js';
import { ProgressBar } from './progress.js';

/** `--no-winograd`, shared with `perf`: the EP option `winograd: false`. */
export const NO_WINOGRAD_OPTION: OptionSpec = {
  kind: 'boolean',
  description: '3×3 convolutions in their direct forms, not by Winograd F(4, 3) (the direct sums: twice the multiplies)',
};

export const COMPILE_OPTIONS: OptionSpecs = {
  output: { kind: 'string', short: 'o', valueName: 'FILE', description: 'module file to write (required)' },
  dim: { kind: 'list', short: 'd', valueName: 'NAME=VALUE', description: 'value of a symbolic dimension (repeatable)' },
  'target-cpu': { kind: 'string', valueName: 'CPU', description: "LLVM CPU name (default: host)" },
  'target-features': { kind: 'string', valueName: 'FEATURES', description: "LLVM target features, e.g. +avx2,+fma" },
  'opt-level': { kind: 'integer', valueName: 'N', description: 'optimisation level 0-3 (default: 3)' },
  fallback: { kind: 'string', valueName: 'cpu|error', description: "nodes that cannot be compiled: run on CPU (default) or fail" },
  threads: { kind: 'integer', short: 't', valueName: 'N', description: 'threads the compiled code runs on (its parallel loops are built for this count; default: the cores of this machine)' },
  'no-winograd': NO_WINOGRAD_OPTION,
  help: { kind: 'boolean', short: 'h', description: 'show this help' },
};

export const COMPILE_USAGE = `usage: ort-mlir compile MODEL -o FILE [options]

Compiles MODEL for fixed input shapes into a module file. Symbolic input
dimensions need --dim NAME=VALUE.

Options:
${formatOptions(COMPILE_OPTIONS)}`;

function parseDims(specs: readonly string[]): Map<string, number> {
  const dims = new Map<string, number>();
  for (const s of specs) {
    const m = /^([^=]+)=(\d+)$/.exec(s);
    if (!m) throw new CliError(`--dim expects NAME=VALUE, got '${s}'`);
    dims.set(m[1], Number(m[2]));
  }
  return dims;
}

function inputType(vi: OnnxValueInfo, dims: ReadonlyMap<string, number>): TensorType {
  if (vi.type.kind !== 'tensor' || vi.type.shape === null) throw new CliError(`input '${vi.name}' is not a tensor of known rank`);
  const shape = vi.type.shape.map((d, i) => {
    const v = typeof d === 'number' ? d : d === null ? undefined : dims.get(d);
    if (v === undefined) throw new CliError(`input '${vi.name}' dim ${i} ('${d ?? '?'}') is symbolic: pass --dim ${d ?? 'NAME'}=VALUE`);
    return v;
  });
  return { dataType: vi.type.elemType, shape };
}

export async function compileCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, COMPILE_OPTIONS);
  if (args.flag('help')) {
    io.stdout(`${COMPILE_USAGE}\n`);
    return 0;
  }
  const [modelPath] = args.positionals;
  const out = args.string('output');
  if (!modelPath || !out) throw new CliError(`compile needs MODEL and -o FILE\n\n${COMPILE_USAGE}`);
  const raw: Record<string, unknown> = { cacheDir: '' };
  const cpu = args.string('target-cpu');
  if (cpu) raw.targetCpu = cpu;
  const features = args.string('target-features');
  if (features) raw.targetFeatures = features;
  const opt = args.integer('opt-level', 0, 3);
  if (opt !== undefined) raw.optLevel = opt;
  const fallback = args.string('fallback');
  if (fallback) raw.fallback = fallback;
  const threads = args.integer('threads', 1, MAX_THREADS);
  if (threads !== undefined) raw.threads = threads;
  if (args.flag('no-winograd')) raw.winograd = false;
  const options = resolveOptions(raw);
  const bytes = new Uint8Array(await readFile(modelPath));
  const model = decodeModel(bytes, { baseDir: dirname(modelPath) });
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const dims = parseDims(args.list('dim'));
  const inputTypes = new Map(model.graph.inputs.filter((vi) => !inits.has(vi.name)).map((vi) => [vi.name, inputType(vi, dims)]));
  const bar = new ProgressBar(io, `compile ${modelPath}`);
  const start = performance.now();
  const module = await compileModel({ model, modelBytes: bytes, inputTypes, options, onProgress: (f, what) => bar.update(f, what) });
  bar.done();
  const file = serializeModule(module);
  await writeFile(out, file);
  const r = module.plan.report;
  io.stdout(`wrote ${out} (${file.byteLength} bytes) in ${((performance.now() - start) / 1000).toFixed(2)} s: ${r.compiledNodes}/${r.totalNodes} nodes compiled, ${r.fallbackNodes} on CPU\n`);
  for (const reason of r.fallbackReasons) io.stdout(`  fallback: ${reason}\n`);
  return 0;
}
