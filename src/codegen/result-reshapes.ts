// Function results returned through a reshape, returned without it. A unit's
// result is often a reshape of the tensor its last op computes (an
// expand_shape back to [1, C, H, W]). Bufferization can write a returned
// allocation straight into the caller's output buffer, but not a reshaped
// view of one: it computes into a temporary and copies the whole result at
// the end (det: about 25 MB of copies a run). Results cross the ABI as bare
// pointers, so a result's shape in the signature is only a view of the same
// row-major bytes: returning the tensor before the reshape, with its type in
// the signature, changes nothing for the caller and lets the last op write
// the output in place.

const RETURN = /^(\s*)return (.+) : (.+)$/;
const RESHAPE = /^\s*(%[\w.$#-]+) = tensor\.(?:expand|collapse)_shape (%[\w.$#-]+) .* : (tensor<[^<>]*>) into (tensor<[^<>]*>)$/;
const FUNC = /^(\s*func\.func @[\w.$-]+\(.*\)) -> (.+) \{$/;

/** Each result's SSA name with the reshapes above it removed, and its type then. */
function unreshape(value: string, type: string, defs: ReadonlyMap<string, RegExpExecArray>): [string, string] {
  let [v, t] = [value, type];
  for (let d = defs.get(v); d && d[4] === t; d = defs.get(v)) [v, t] = [d[2], d[3]];
  return [v, t];
}

/** The result types of a func.func signature's `-> ...` part. */
function resultTypes(text: string): string[] {
  return (text.startsWith('(') ? text.slice(1, -1) : text).split(/,\s*(?=tensor<)/);
}

/** Rewrites `lines` (one or more functions, as mlir-opt prints them); returns the lines. */
export function returnUnreshaped(input: readonly string[]): string[] {
  const lines = [...input];
  let func = -1;
  let defs = new Map<string, RegExpExecArray>();
  for (let i = 0; i < lines.length; i++) {
    if (FUNC.test(lines[i])) {
      func = i;
      defs = new Map();
      continue;
    }
    const d = RESHAPE.exec(lines[i]);
    if (d) defs.set(d[1], d);
    const r = RETURN.exec(lines[i]);
    const f = func >= 0 ? FUNC.exec(lines[func]) : null;
    if (!r || !f) continue;
    const values = r[2].split(', ');
    const types = r[3].split(/,\s*(?=tensor<)/);
    const sig = resultTypes(f[2]);
    if (values.length !== types.length || sig.length !== types.length || sig.some((t, k) => t !== types[k])) continue;
    const pairs = values.map((v, k) => unreshape(v, types[k], defs));
    // Two results must stay two values (buffer-results-to-out-params needs distinct buffers).
    const distinct = new Set(pairs.map(([v]) => v)).size === pairs.length && pairs.every(([v], k) => v === values[k] || !values.includes(v));
    if (!distinct || pairs.every(([v], k) => v === values[k])) continue;
    const newTypes = pairs.map(([, t]) => t);
    lines[i] = `${r[1]}return ${pairs.map(([v]) => v).join(', ')} : ${newTypes.join(', ')}`;
    lines[func] = `${f[1]} -> ${newTypes.length === 1 ? newTypes[0] : `(${newTypes.join(', ')})`} {`;
  }
  return lines;
}
