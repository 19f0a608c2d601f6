// What the measuring scripts (profile-steps, ort-profile, compare-builds,
// compile-time) share: the command line (a model, its symbolic dims, the
// thread count), the model's input types at those dims, and the median
// they report.
import { parseArgs } from 'node:util';

/** parseArgs options for `-d NAME=VALUE` (repeatable) and `--threads N`. */
const MODEL_OPTIONS = {
  dim: { type: 'string', short: 'd', multiple: true, default: [] },
  threads: { type: 'string', short: 't', default: '1' },
};

/**
 * Parses a script's command line: one MODEL, MODEL_OPTIONS and the script's
 * own `options`. Prints `usage` and exits with 2 when the MODEL or one of
 * the `required` options is missing.
 */
export function parseModelArgs(options, usage, required = []) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { ...MODEL_OPTIONS, ...options } });
  const [modelPath] = positionals;
  if (!modelPath || required.some((name) => values[name] === undefined)) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  return { values, modelPath };
}

/** The `-d NAME=VALUE` values as a map of symbolic dims. */
export function dimsOf(values) {
  return new Map(values.dim.map((s) => s.split('=')).map(([k, v]) => [k, Number(v)]));
}

/**
 * A decoded model's graph inputs (initializers aside) as compileModel's
 * inputTypes, each symbolic dim set from `dims` (else 1).
 */
export function inputTypesOf(model, dims) {
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  return new Map(model.graph.inputs.filter((vi) => !inits.has(vi.name)).map((vi) => [
    vi.name, { dataType: vi.type.elemType, shape: vi.type.shape.map((d) => (typeof d === 'number' ? d : dims.get(d) ?? 1)) },
  ]));
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
