// A depthwise convolution's epilogue, folded into it across a reshape.
// The convolution (import/depthwise-conv.ts) is a [C, OH, OW] generic; the
// 1×1 convolution that usually follows reads its result as [C, OH·OW], so
// EPILOGUE_PREPARE_PASSES leave the elementwise epilogue between them
// (BatchNorm's scale and shift, HardSwish) on that collapsed form:
//
//   %y = linalg.generic {...3 parallel...} ins(taps, weights...) outs(%e : tensor<CxOHxOWxf32>) {...} -> tensor<CxOHxOWxf32>
//   %c = tensor.collapse_shape %y [[0], [1, 2]] : tensor<CxOHxOWxf32> into tensor<Cx(OH·OW)xf32>
//   %z = linalg.generic {...2 parallel...} ins(%c, %bias... : ...) outs(%o : tensor<Cx(OH·OW)xf32>) {...} -> tensor<Cx(OH·OW)xf32>
//
// Elementwise fusion cannot join them through the reshape without
// collapsing the convolution's taps (strided views, which would become
// copies), so the epilogue ran as a pass of its own over the output: a read
// and a write of it, and a division per element. Here it joins the
// convolution's body instead, its other operands (indexed by the channel or
// by nothing) becoming the convolution's, and %z becomes the collapse of
// the joined result, both where the epilogue was (its operands may be
// computed after the convolution: BatchNorm's scale from its variance); the
// channel blocks (depthwise-blocks.ts) then slice those operands with the
// block like the weights. depthwise-blocks.ts asks for this only for the
// convolutions it keeps in the plain form (cls: 0.97 of the time at one
// thread); in the row form the joined loop spilled.
import { affineMap } from '../mlir-builder.js';
import { genericHeader, genericTail, isIdentityMap, mapResults, PACKED_ATTR, readsOutput, regionBody, renamedOps, staticTensor, TAG_ATTR, useLines, type RegionBody } from './ir-scan.js';

const COLLAPSE = /^\s*(%[\w.$-]+) = tensor\.collapse_shape (%[\w.$-]+) \[\[0\], \[1, 2\]\] : (tensor<[\dx]+xf32>) into (tensor<[\dx]+xf32>)$/;

/** A generic's parts, as its header line and region give them. */
interface GenericParts extends RegionBody {
  head: number;
  tail: number;
  indent: string;
  result: string;
  maps: string[];
  ins: string[];
  inTypes: string[];
  init: string;
  outType: string;
}

/** The single-result, all-parallel, f32 generic starting at `head` (maps resolved), or null. */
function genericAt(lines: readonly string[], head: number, aliases: ReadonlyMap<string, string>, rank: number): GenericParts | null {
  const h = genericHeader(lines[head], aliases);
  if (!h) return null;
  const { indent, result, attrs, iterators, maps, ins, inTypes, outs } = h;
  // A tagged generic belongs to a schedule already.
  if (iterators.length !== rank || iterators.some((t) => t !== '"parallel"') || [TAG_ATTR, PACKED_ATTR].some((a) => attrs.includes(a))) return null;
  const tail = genericTail(lines, head, indent);
  if (outs.length !== 1 || maps.length !== ins.length + 1 || inTypes.length !== ins.length || tail < 0) return null;
  const body = regionBody(lines.slice(head + 1, tail));
  if (!body || body.args.length !== ins.length + 1) return null;
  return { head, tail, indent, result, maps, ins, inTypes, init: outs[0], outType: h.outTypes, ...body };
}

/** `map` over (d0, d1) as a map over (d0, d1, d2), or null when it reads d1 (the collapsed rows and columns). */
function lifted(map: string): string | null {
  const m = mapResults(map);
  if (!m || m.rank !== 2 || m.results.some((r) => /\bd1\b/.test(r))) return null;
  return affineMap(3, m.results);
}

/** The joined generic's lines, or null when the epilogue cannot join the convolution. */
function joined(conv: GenericParts, ep: GenericParts, collapsed: string, id: string): string[] | null {
  const from = ep.ins.indexOf(collapsed);
  if (from < 0 || ep.ins.lastIndexOf(collapsed) !== from || !isIdentityMap(ep.maps[from], 2)) return null;
  if (readsOutput(ep)) return null;
  const extra = ep.ins.map((name, k) => ({ name, k })).filter(({ k }) => k !== from);
  const extraMaps = extra.map(({ k }) => lifted(ep.maps[k]));
  if (extraMaps.some((m) => m === null)) return null;
  // The epilogue's values get names of their own (both regions number theirs from the same point).
  const rename = new Map<string, string>([[ep.args[from], conv.yielded]]);
  extra.forEach(({ k }, j) => rename.set(ep.args[k], `${id}_a${j}`));
  const ops = renamedOps(ep.ops, rename, `${id}_`);
  const maps = [...conv.maps.slice(0, -1), ...extraMaps, conv.maps[conv.maps.length - 1]];
  const ins = [...conv.ins, ...extra.map(({ name }) => name)];
  const inTypes = [...conv.inTypes, ...extra.map(({ k }) => ep.inTypes[k])];
  const args = [...conv.args.slice(0, -1), ...extra.map((_, j) => `${id}_a${j}`), conv.args[conv.args.length - 1]];
  const body = `${conv.indent}  `;
  return [
    `${conv.indent}${conv.result} = linalg.generic {indexing_maps = [${maps.join(', ')}], iterator_types = ["parallel", "parallel", "parallel"]} ins(${ins.join(', ')} : ${inTypes.join(', ')}) outs(${conv.init} : ${conv.outType}) {`,
    `${body}^bb0(${args.map((a) => `${a}: f32`).join(', ')}):`,
    ...conv.ops,
    ...ops.map((l) => `${body}  ${l}`),
    `${body}  linalg.yield ${rename.get(ep.yielded) ?? ep.yielded} : f32`,
    `${conv.indent}} -> ${conv.outType}`,
  ];
}

/**
 * `lines` with the collapsed elementwise epilogue of the [C, OH, OW] generic
 * starting at `head` joined into it (the epilogue's result becoming a
 * collapse_shape of it), or null when there is none that can join.
 */
export function foldCollapsedEpilogue(lines: readonly string[], head: number, aliases: ReadonlyMap<string, string>, id: string): string[] | null {
  const conv = genericAt(lines, head, aliases, 3);
  const outInfo = conv && staticTensor(conv.outType);
  if (!conv || !outInfo || outInfo.elem !== 'f32') return null;
  const convUses = useLines(lines, conv.result);
  const collapse = convUses.length === 1 ? COLLAPSE.exec(lines[convUses[0]]) : null;
  if (!collapse || collapse[2] !== conv.result) return null;
  const collapseLine = convUses[0];
  const epUses = useLines(lines, collapse[1]);
  const ep = epUses.length === 1 ? genericAt(lines, epUses[0], aliases, 2) : null;
  if (!ep || ep.outType !== collapse[4] || ep.head < collapseLine) return null;
  const merged = joined(conv, ep, collapse[1], id);
  if (!merged) return null;
  // At the epilogue's place, where its operands are all defined (the convolution's are too).
  const out: string[] = [];
  lines.forEach((l, i) => {
    if (i === ep.head) out.push(...merged, `${conv.indent}${ep.result} = tensor.collapse_shape ${conv.result} [[0], [1, 2]] : ${conv.outType} into ${ep.outType}`);
    else if ((i >= conv.head && i <= conv.tail) || i === collapseLine || (i > ep.head && i <= ep.tail)) return;
    else out.push(l);
  });
  return out;
}
