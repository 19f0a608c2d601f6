// Epilogue fusion: the elementwise consumer of a matmul (bias, BatchNorm's
// scale and shift, activations such as HardSwish) is computed on the
// micro-kernel's accumulators before they are stored, instead of as a
// separate pass over the whole output. For det's 1×1 convolutions at 320×320
// that separate pass read and wrote 13 MB per layer, several times the
// matmul's own time.
//
// It takes two steps. Before scheduling, EPILOGUE_PREPARE_PASSES fuse the
// chain of elementwise generics into one and move the reshapes between a
// convolution's matmul ([F, OH·OW]) and its epilogue ([1, F, OH, OW]) below
// the epilogue, so that the matmul's single consumer is a generic over the
// same iteration space. The schedule (matmul.ts) then tiles that generic and
// fuses the matmul and its zero-fill into each tile.
import { countUses, definitionLine, GENERIC_LINE, isIdentityMap, listAttr, mapAliases, operandNames, PACKED_ATTR, resultName, typesOf, type StructuredOp } from './ir-scan.js';
import { NESTED_ATTR } from './conv-im2col.js';

/**
 * mlir-opt passes run on the IR after convolutions became matmuls
 * (conv-im2col.ts). The test- pass is the upstream pattern sets
 * (populateElementwiseOpsFusionPatterns, populateFoldReshapeOpsByCollapsingPatterns)
 * without linalg-fuse-elementwise-ops' reshape expansion, which would
 * generalize the named matmuls out of the schedules' reach.
 */
export const EPILOGUE_PREPARE_PASSES: readonly string[] = [
  '--test-linalg-elementwise-fusion-patterns=fuse-generic-ops-control',
  '--canonicalize',
  '--test-linalg-elementwise-fusion-patterns=fuse-with-reshape-by-collapsing',
  '--linalg-fold-unit-extent-dims',
  '--canonicalize',
  '--cse',
  // Unit-dim folding can leave a reshape between a matmul and its epilogue
  // that collapsing could not move before (a [C,1,1] operand indexed by a
  // constant 0): collapse once more on the folded form.
  '--test-linalg-elementwise-fusion-patterns=fuse-with-reshape-by-collapsing',
  '--canonicalize',
];

/** A matmul whose results are only read by one all-parallel generic of the same shape, and whose init is a fill. */
export interface Epilogue {
  /** Line of the consumer linalg.generic. */
  generic: number;
  /** Line of the linalg.fill that initializes the matmul's accumulator. */
  fill: number;
}

function resolveMaps(lines: readonly string[], maps: readonly string[]): string[] {
  const aliases = mapAliases(lines);
  return maps.map((m) => aliases.get(m) ?? m);
}

/** The epilogue of matmul `op` (printed by mlir-opt), if it has one that a tile can compute. */
export function findEpilogue(lines: readonly string[], op: StructuredOp): Epilogue | null {
  const result = resultName(lines[op.line]);
  const [out] = op.outputs;
  if (!result || !out || op.attrs.includes(NESTED_ATTR)) return null;
  if (countUses(lines, result) !== 2) return null;
  const rank = out.dims.length;
  const outType = `tensor<${out.dims.join('x')}x${out.elem}>`;
  for (let i = op.line + 1; i < lines.length; i++) {
    const g = GENERIC_LINE.exec(lines[i]);
    if (!g) continue;
    const ins = operandNames(g[4]);
    const at = ins.indexOf(result);
    if (at < 0) continue;
    const maps = resolveMaps(lines, listAttr(g[3], 'indexing_maps') ?? []);
    const iterators = listAttr(g[3], 'iterator_types') ?? [];
    const outs = operandNames(g[5]);
    const fine = outs.length === 1 && maps.length === ins.length + 1 && iterators.length === rank
      && iterators.every((t) => t === '"parallel"') && isIdentityMap(maps[at], rank) && isIdentityMap(maps[ins.length], rank)
      && typesOf(g[5]) === outType;
    const fill = fine ? fillLine(lines, op) : -1;
    return fine && fill >= 0 ? { generic: i, fill } : null;
  }
  return null;
}

/** A fill's line: indent, result, the op. */
const FILL_LINE = /^(\s*)(%[\w.$-]+) = (linalg\.fill .*)$/;
/** A matmul, or a packed-weight matmul generic (import/packed-matmul.ts), on one line with its outs. */
const CONTRACTION_LINE = new RegExp(`^\\s*%[\\w.$-]+ = linalg\\.(?:batch_)?matmul |= linalg\\.generic .* attrs = +\\{.*${PACKED_ATTR.replace('.', '\\.')} = `);
/** A structured op's (first) init operand. */
const OUTS = /outs\((%[\w.$-]+) :/;

/**
 * Gives every matmul (packed ones too) its own zero-fill. CSE merges equal fills, so two
 * matmuls of the same output shape (rec's 1×1 convolutions) share one, and
 * an epilogue schedule, which computes the fill inside each tile, could then
 * take only one of them. Each further matmul reading a fill gets a copy of
 * it on the line above (same operands, which dominate the original).
 * Returns the lines, rewritten.
 */
export function unshareFills(lines: readonly string[]): string[] {
  const fills = new Map<string, { indent: string; body: string; taken: boolean }>();
  const out: string[] = [];
  let copies = 0;
  for (const line of lines) {
    const f = FILL_LINE.exec(line);
    if (f) fills.set(f[2], { indent: f[1], body: f[3], taken: false });
    const m = CONTRACTION_LINE.test(line) ? OUTS.exec(line) : null;
    const fill = m ? fills.get(m[1]) : undefined;
    if (m && fill?.taken) {
      const name = `%ortmlir_fill_${copies++}`;
      out.push(`${fill.indent}${name} = ${fill.body}`);
      out.push(line.replace(`outs(${m[1]} :`, `outs(${name} :`));
      continue;
    }
    if (fill) fill.taken = true;
    out.push(line);
  }
  return out;
}

/** The line defining the matmul's accumulator, when it is a linalg.fill read by the matmul only; else -1. */
export function fillLine(lines: readonly string[], op: StructuredOp): number {
  const m = OUTS.exec(lines[op.line]);
  if (!m) return -1;
  const i = definitionLine(lines, m[1], op.line);
  return i >= 0 && FILL_LINE.test(lines[i]) && countUses(lines, m[1]) === 2 ? i : -1;
}
