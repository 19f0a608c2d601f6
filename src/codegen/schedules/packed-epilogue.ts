// The elementwise epilogue of a packed-weight matmul (bias, activation), lifted
// into the matmul's own layout so that the schedule can compute it on the
// accumulators in registers. The lowering returns the product as
// collapse_shape(C [M, NP, P]) → [M, N]; EPILOGUE_PREPARE_PASSES fuse the
// elementwise consumers into one generic over [M, N]. That generic is
// rewritten over [M, NP, P]: it reads C itself, operands indexed by the
// column get an expand_shape of that dimension into (NP, P), and its result
// is collapsed back to [M, N] for the rest of the function.
import { affineMap, identityMap } from '../mlir-builder.js';
import { countUses, definitionLine, GENERIC_LINE, isIdentityMap, listAttr, mapAliases, mapResults, operandNames, PACKED_ATTR, staticTensor, typesOf, valueToken } from './ir-scan.js';

/** How a packed matmul's attribute dictionary shows PACKED_ATTR. */
export const PACKED_MARK = `${PACKED_ATTR} = `;
const COLLAPSE = /^(\s*)(%[\w.$-]+) = tensor\.collapse_shape (%[\w.$-]+) \[\[0\], \[1, 2\]\] : tensor<(\d+)x(\d+)x(\d+)xf32> into tensor<(\d+)x(\d+)xf32>$/;

interface Layout {
  m: number;
  panels: number;
  width: number;
}

/** The first line after `from` using `name`. */
function userOf(lines: readonly string[], name: string, from: number): number {
  const re = valueToken(name);
  for (let i = from + 1; i < lines.length; i++) if (re.test(lines[i])) return i;
  return -1;
}

/** One operand of the lifted generic: its (maybe expanded) value and type, and its map over (d0, d1, d2). */
interface Lifted {
  value: string;
  type: string;
  map: string;
  /** An expand_shape line to insert before the generic, if any. */
  expand?: string;
}

/** Lifts operand `value: type` read through `map` (over (m, n)) to (m, panel, column); null if it cannot be. */
function liftOperand(value: string, type: string, map: string, l: Layout, fresh: () => string): Lifted | null {
  const mm = mapResults(map);
  const t = staticTensor(type);
  if (!mm || mm.rank !== 2 || !t) return null;
  const { results } = mm;
  const { dims } = t;
  if (results.length !== dims.length || results.some((r) => r !== 'd0' && r !== 'd1' && r !== '0')) return null;
  const column = results.indexOf('d1');
  if (column < 0) return { value, type, map: affineMap(3, results) };
  if (results.lastIndexOf('d1') !== column || dims[column] !== l.panels * l.width) return null;
  const expanded = [...dims.slice(0, column), l.panels, l.width, ...dims.slice(column + 1)];
  const groups = dims.map((_, i) => (i < column ? [i] : i === column ? [i, i + 1] : [i + 1]));
  const newType = `tensor<${expanded.join('x')}x${t.elem}>`;
  const name = fresh();
  const expand = `${name} = tensor.expand_shape ${value} [${groups.map((g) => `[${g.join(', ')}]`).join(', ')}] output_shape [${expanded.join(', ')}] : ${type} into ${newType}`;
  const lifted = [...results.slice(0, column), 'd1', 'd2', ...results.slice(column + 1)];
  return { value: name, type: newType, map: affineMap(3, lifted), expand };
}

/**
 * Rewrites the epilogue at `line` (a GENERIC_LINE reading `flat`, the
 * collapsed product of `packed`) over the packed layout; false when its
 * shape is not one it handles (then it stays as it is).
 */
function liftAt(lines: string[], line: number, flat: string, packed: string, l: Layout, fresh: () => string): boolean {
  const g = GENERIC_LINE.exec(lines[line]);
  if (!g) return false;
  const [, indent, result, attrs, ins, outs] = g;
  const aliases = mapAliases(lines);
  const maps = (listAttr(attrs, 'indexing_maps') ?? []).map((m) => aliases.get(m) ?? m);
  const iterators = listAttr(attrs, 'iterator_types') ?? [];
  const inNames = operandNames(ins);
  const inTypes = typesOf(ins).split(/,\s*(?=tensor<)/);
  const [outName, ...moreOuts] = operandNames(outs);
  const n = l.panels * l.width;
  const type3 = `tensor<${l.m}x${l.panels}x${l.width}xf32>`;
  const identity3 = identityMap(3);
  if (!outName || moreOuts.length || iterators.length !== 2 || iterators.some((k) => k !== '"parallel"') || maps.length !== inNames.length + 1) return false;
  if (typesOf(outs) !== `tensor<${l.m}x${n}xf32>` || !isIdentityMap(maps[inNames.length], 2) || inTypes.length !== inNames.length) return false;
  const lifted: Lifted[] = [];
  for (let i = 0; i < inNames.length; i++) {
    if (inNames[i] === flat) {
      if (!isIdentityMap(maps[i], 2)) return false;
      lifted.push({ value: packed, type: type3, map: identity3 });
      continue;
    }
    const op = liftOperand(inNames[i], inTypes[i], maps[i], l, fresh);
    if (!op) return false;
    lifted.push(op);
  }
  const init = fresh();
  const lifted3 = fresh();
  const head = [
    ...lifted.flatMap((o) => (o.expand ? [`${indent}${o.expand}`] : [])),
    `${indent}${init} = tensor.empty() : ${type3}`,
    `${indent}${lifted3} = linalg.generic {indexing_maps = [${[...lifted.map((o) => o.map), identity3].join(', ')}], iterator_types = ["parallel", "parallel", "parallel"]} ins(${lifted.map((o) => o.value).join(', ')} : ${lifted.map((o) => o.type).join(', ')}) outs(${init} : ${type3}) {`,
  ];
  // The region and its `} -> type` close stay; the result is collapsed back under the old name.
  const close = lines.findIndex((t, i) => i > line && t.startsWith(`${indent}} -> `));
  if (close < 0) return false;
  lines[close] = `${indent}} -> ${type3}`;
  lines.splice(close + 1, 0, `${indent}${result} = tensor.collapse_shape ${lifted3} [[0], [1, 2]] : ${type3} into tensor<${l.m}x${n}xf32>`);
  lines.splice(line, 1, ...head);
  return true;
}

/** Lifts every packed matmul epilogue it can (see the file comment); returns the lines, rewritten. */
export function liftPackedEpilogues(input: readonly string[]): string[] {
  const lines = [...input];
  let next = 0;
  const fresh = (): string => `%ortmlir_lift_${next++}`;
  for (let i = 0; i < lines.length; i++) {
    const c = COLLAPSE.exec(lines[i]);
    if (!c) continue;
    const [, , flat, packed, m, panels, width] = c;
    const def = definitionLine(lines, packed, i);
    if (def < 0 || !lines[def].includes(PACKED_MARK)) continue;
    // The product feeds the collapse only, and the collapse feeds the epilogue only.
    if (countUses(lines, packed) !== 2 || countUses(lines, flat) !== 2) continue;
    const user = userOf(lines, flat, i);
    if (user < 0) continue;
    // The collapse read only by the epilogue is dead once the epilogue reads the product.
    if (liftAt(lines, user, flat, packed, { m: Number(m), panels: Number(panels), width: Number(width) }, fresh)) lines.splice(i--, 1);
  }
  return lines;
}
