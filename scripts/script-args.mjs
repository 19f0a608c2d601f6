// What the measuring scripts (profile-steps, ort-profile, compare-builds)
// share: the model's symbolic dims and thread count on the command line,
// and the median they report.

/** parseArgs options for `-d NAME=VALUE` (repeatable) and `--threads N`. */
export const MODEL_OPTIONS = {
  dim: { type: 'string', short: 'd', multiple: true, default: [] },
  threads: { type: 'string', short: 't', default: '1' },
};

/** The `-d NAME=VALUE` values as a map of symbolic dims. */
export function dimsOf(values) {
  return new Map(values.dim.map((s) => s.split('=')).map(([k, v]) => [k, Number(v)]));
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
