// Finds the structured (linalg) ops a schedule can target in IR printed by
// mlir-opt, and tags chosen ops with a discardable attribute so that the
// transform script can match each one by tag. Reading mlir-opt's own printed
// form (not the lowerings' text) keeps the parsing to one stable format:
//
//   %3 = linalg.matmul ins(%a, %b : tensor<8x4xf32>, tensor<4x2xf32>) outs(%c : tensor<8x2xf32>) -> tensor<8x2xf32>
//   %5 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = ...} ins(...) outs(...) -> ...

/** The discardable attribute that carries an op's schedule tag. */
export const TAG_ATTR = 'ortmlir.sched';
/** The discardable attribute marking a packed-weight matmul generic (import/packed-matmul.ts); its value is the panel width. */
export const PACKED_ATTR = 'ortmlir.packed_b';
/** Marks the copy of a computed B into panels (pack-activations.ts), which a serial packed schedule computes panel tile by panel tile. */
export const PANELS_ATTR = 'ortmlir.panels';

export interface TensorInfo {
  dims: number[];
  /** Element type as printed: f32, f16, i8, ... */
  elem: string;
}

export interface StructuredOp {
  /** Index of the op's line in the scanned text. */
  line: number;
  /** Full op name, e.g. linalg.matmul. */
  name: string;
  /** The op's attribute dictionary text without braces ('' when none). */
  attrs: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

const OP_LINE = /^(\s*%[\w.$-]+ = )(linalg\.[a-z0-9_]+)( \{[^{}]*\})? ins\((.*)\) outs\((.*)\) -> (.*)$/;
/** The same line split as indent, result, op name, attributes, ins, outs, result types. */
export const OP_LINE_PARTS = /^(\s*)(%[\w.$-]+) = (linalg\.[a-z0-9_]+)( \{[^{}]*\})? ins\((.*)\) outs\((.*)\) -> (.*)$/;
const TENSOR_TYPE = /tensor<([^<>]*)>/g;
/** A linalg.generic's first line: indent, result, attributes, ins, outs (its region follows). */
export const GENERIC_LINE = /^(\s*)(%[\w.$-]+) = linalg\.generic \{(.*)\} ins\((.*)\) outs\((.*)\) \{$/;


/** `4x?x8xf32` → dims and element type; null for dynamic or unranked shapes. */
function parseTensorBody(body: string): TensorInfo | null {
  const parts = body.split('x');
  const elem = parts.pop();
  if (!elem) return null;
  const dims = parts.map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) return null;
  return { dims, elem };
}

/** A printed static tensor type (`tensor<4x8xf32>`, `tensor<f32>`) → dims and element type; null for anything else. */
export function staticTensor(type: string): TensorInfo | null {
  const m = /^tensor<([^<>]*)>$/.exec(type.trim());
  const t = m ? parseTensorBody(m[1]) : null;
  return t && /^[a-z]\w*$/.test(t.elem) ? t : null;
}

/** The tensor types after the ':' of an `ins(...)`/`outs(...)` group; null if any operand is not a static tensor. */
function operandTypes(group: string): TensorInfo[] | null {
  if (!group.includes(' : ')) return null;
  const found = [...typesOf(group).matchAll(TENSOR_TYPE)].map((m) => parseTensorBody(m[1]));
  if (found.length !== operandNames(group).length || found.some((t) => t === null)) return null;
  return found.filter((t): t is TensorInfo => t !== null);
}

/** Structured ops with static tensor operands whose name is in `names`. */
export function scanStructuredOps(lines: readonly string[], names: ReadonlySet<string>): StructuredOp[] {
  const ops: StructuredOp[] = [];
  lines.forEach((text, line) => {
    const m = OP_LINE.exec(text);
    if (!m || !names.has(m[2])) return;
    const inputs = operandTypes(m[4]);
    const outputs = operandTypes(m[5]);
    if (!inputs || !outputs) return;
    ops.push({ line, name: m[2], attrs: m[3] ? m[3].trim().slice(1, -1) : '', inputs, outputs });
  });
  return ops;
}

/** Returns `lines` with op `op` carrying `{ortmlir.sched = tag}` (merged into an existing dictionary). */
export function tagOp(lines: string[], op: Pick<StructuredOp, 'line'>, tag: number): void {
  const m = OP_LINE.exec(lines[op.line]);
  if (!m) throw new Error(`tagOp: line ${op.line} is no longer a structured op`);
  const attr = `${TAG_ATTR} = ${tag} : i64`;
  const dict = m[3] ? ` {${attr}, ${m[3].trim().slice(1)}` : ` {${attr}}`;
  lines[op.line] = `${m[1]}${m[2]}${dict} ins(${m[4]}) outs(${m[5]}) -> ${m[6]}`;
}

/** Reads `name = dense<...>` from an attribute dictionary: `dense<2>` → [2, 2] for `rank` 2. */
export function denseIntsAttr(attrs: string, name: string, rank: number): number[] | null {
  const m = new RegExp(`${name} = dense<([^>]*)>`).exec(attrs);
  if (!m) return null;
  const body = m[1].trim();
  const values = body.startsWith('[') ? body.slice(1, -1).split(',').map((s) => Number(s.trim())) : Array.from({ length: rank }, () => Number(body));
  return values.length === rank && values.every(Number.isInteger) ? values : null;
}

/**
 * The line defining SSA value `name`: the nearest one above line `before`
 * (SSA names repeat across the functions of one compile unit), or -1.
 */
export function definitionLine(lines: readonly string[], name: string, before: number): number {
  const prefix = `${name} = `;
  for (let i = before - 1; i >= 0; i--) if (lines[i].trimStart().startsWith(prefix)) return i;
  return -1;
}

/** A pattern matching SSA value `name` as a whole token (not a prefix of %name_1). */
export function valueToken(name: string, flags = ''): RegExp {
  return new RegExp(`${name.replace(/[$.]/g, '\\$&')}(?![\\w.$-])`, flags);
}

/** How often SSA value `name` appears as a whole token in `lines` (its definition included). */
export function countUses(lines: readonly string[], name: string): number {
  const re = valueToken(name, 'g');
  return lines.reduce((n, l) => n + (l.match(re)?.length ?? 0), 0);
}

/** Indices of the lines that read SSA value `name` (not the one defining it). */
export function useLines(lines: readonly string[], name: string): number[] {
  const use = valueToken(name);
  const out: number[] = [];
  lines.forEach((l, i) => {
    if (use.test(l) && !l.trimStart().startsWith(`${name} =`)) out.push(i);
  });
  return out;
}

/** The lines that read SSA value `name` (not the one defining it). */
export function uses(lines: readonly string[], name: string): string[] {
  return useLines(lines, name).map((i) => lines[i]);
}

const RESULT = /^\s*(%[\w.$-]+) = /;

/** The SSA name a line defines (`%x = ...`), or null. */
export function resultName(line: string): string | null {
  return RESULT.exec(line)?.[1] ?? null;
}

const MAP_ALIAS = /^(#[\w$.-]+) = (affine_map<.*>)$/;

/** The module's affine map aliases (`#map3 = affine_map<...>`), as mlir-opt prints them. */
export function mapAliases(lines: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of lines) {
    const m = MAP_ALIAS.exec(l);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

/** Whether `map` (resolved, not an alias) is the identity of `rank` dimensions. */
export function isIdentityMap(map: string, rank: number): boolean {
  const dims = Array.from({ length: rank }, (_, i) => `d${i}`).join(', ');
  return map.replace(/\s+/g, ' ') === `affine_map<(${dims}) -> (${dims})>`;
}

const MAP = /^affine_map<\(([^)]*)\) -> \((.*)\)>$/;

/** An affine map's domain rank and result expressions (`affine_map<(d0, d1) -> (d1, 0)>` → 2, [d1, 0]); null if it is not one. */
export function mapResults(map: string): { rank: number; results: string[] } | null {
  const m = MAP.exec(map.replace(/\s+/g, ' ').trim());
  if (!m) return null;
  return { rank: m[1].trim() === '' ? 0 : m[1].split(',').length, results: splitTop(m[2]) };
}

/** Operand SSA names of an `ins(...)` / `outs(...)` group: `%a, %b : types` → [%a, %b]. */
export function operandNames(group: string): string[] {
  const colon = group.lastIndexOf(' : ');
  return (colon < 0 ? group : group.slice(0, colon)).split(',').map((s) => s.trim());
}

/** The types after the ':' of an `ins(...)` / `outs(...)` group. */
export function typesOf(group: string): string {
  const colon = group.lastIndexOf(' : ');
  return colon < 0 ? '' : group.slice(colon + 3).trim();
}

/** Splits `a, b<c, d>, [e, f]` at top-level commas. */
function splitTop(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '<' || ch === '(' || ch === '[') depth++;
    // The '>' of an affine map's '->' closes nothing.
    else if ((ch === '>' && text[i - 1] !== '-') || ch === ')' || ch === ']') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out.filter((s) => s !== '');
}

/** The value of `key = [...]` in an attribute dictionary body, split into elements. */
export function listAttr(attrs: string, key: string): string[] | null {
  const at = attrs.indexOf(`${key} = [`);
  if (at < 0) return null;
  let depth = 0;
  const open = at + key.length + 3;
  for (let i = open; i < attrs.length; i++) {
    if (attrs[i] === '[') depth++;
    else if (attrs[i] === ']' && --depth === 0) return splitTop(attrs.slice(open + 1, i));
  }
  return null;
}

/** Adds the schedule tag to a linalg.generic line, as `attr` (TAG_ATTR, or a role's variant of it such as an epilogue's). */
export function tagGeneric(lines: string[], line: number, tag: number, attr = TAG_ATTR): void {
  const g = GENERIC_LINE.exec(lines[line]);
  if (!g) throw new Error(`tagGeneric: line ${line} is not a linalg.generic`);
  lines[line] = lines[line].replace('linalg.generic {', `linalg.generic {${attr} = ${tag} : i64, `);
}

/** The closing line (`} -> type` at `indent`) of the op whose region opens at line `head`, or -1. */
export function genericTail(lines: readonly string[], head: number, indent: string): number {
  return lines.findIndex((l, j) => j > head && l.startsWith(`${indent}} -> `));
}

/** A single-result f32 linalg region: its block arguments (inputs, then the output), body and yielded value. */
export interface RegionBody {
  args: string[];
  ops: string[];
  yielded: string;
}

export const SSA_TOKEN = /%[\w.$-]+/g;

/** `region` (`^bb0(...)`, the body, `linalg.yield %v : f32`) taken apart, or null when it is not of that form. */
export function regionBody(region: readonly string[]): RegionBody | null {
  const head = /^\s*\^bb0\((.*)\):$/.exec(region[0] ?? '');
  const tail = /^\s*linalg\.yield (%[\w.$-]+) : f32$/.exec(region[region.length - 1] ?? '');
  if (!head || !tail) return null;
  const args = head[1].split(',').map((a) => a.trim().split(':')[0].trim());
  return { args, ops: region.slice(1, -1), yielded: tail[1] };
}

/** Whether the body reads its output argument (the last one): a generic that does is no elementwise map. */
export function readsOutput(body: RegionBody): boolean {
  const out = body.args[body.args.length - 1];
  return body.ops.some((l) => [...l.matchAll(SSA_TOKEN)].some((m) => m[0] === out));
}

/**
 * `ops` (a region's body) with the values they define renamed to `prefix` +
 * their name and every value in `rename` replaced (trimmed lines); the new
 * names are added to `rename`. For copying a body into another region, whose
 * values mlir-opt may have numbered alike.
 */
export function renamedOps(ops: readonly string[], rename: Map<string, string>, prefix: string): string[] {
  return ops.map((l) => {
    const def = RESULT.exec(l);
    if (def) rename.set(def[1], `${prefix}${def[1].slice(1)}`);
    return l.trim().replace(SSA_TOKEN, (t) => rename.get(t) ?? t);
  });
}

/** A linalg.generic's header line taken apart (maps resolved through `aliases`). */
export interface GenericHeader {
  indent: string;
  result: string;
  attrs: string;
  maps: string[];
  iterators: string[];
  ins: string[];
  inTypes: string[];
  outs: string[];
  outTypes: string;
}

/** The header of the linalg.generic that `line` opens, or null when it opens none. */
export function genericHeader(line: string, aliases: ReadonlyMap<string, string>): GenericHeader | null {
  const g = GENERIC_LINE.exec(line);
  if (!g) return null;
  const [, indent, result, attrs, insGroup, outsGroup] = g;
  return {
    indent, result, attrs,
    maps: (listAttr(attrs, 'indexing_maps') ?? []).map((m) => aliases.get(m) ?? m),
    iterators: listAttr(attrs, 'iterator_types') ?? [],
    ins: operandNames(insGroup),
    // Ranked tensor types have no commas: the list splits at every one.
    inTypes: typesOf(insGroup).split(',').map((t) => t.trim()),
    outs: operandNames(outsGroup),
    outTypes: typesOf(outsGroup),
  };
}

/** A linalg.generic opening at `line`, taken apart. */
export interface LocatedGeneric {
  line: number;
  header: GenericHeader;
}

const FUNC_LINE = /^(\s*)func\.func /;

/**
 * The linalg.generics at the top level of each function body that no
 * schedule has tagged yet. Generics in loop bodies (deeper indentation) are
 * already inside another schedule's loops.
 */
export function untaggedTopLevelGenerics(lines: readonly string[]): LocatedGeneric[] {
  const aliases = mapAliases(lines);
  const out: LocatedGeneric[] = [];
  let bodyIndent = -1;
  lines.forEach((text, line) => {
    const fn = FUNC_LINE.exec(text);
    if (fn) bodyIndent = fn[1].length + 2;
    const header = genericHeader(text, aliases);
    if (header && header.indent.length === bodyIndent && !header.attrs.includes(TAG_ATTR)) out.push({ line, header });
  });
  return out;
}
