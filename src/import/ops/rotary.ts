// RotaryEmbedding (23): rotates pairs of features of each head by a
// position-dependent angle given as cos/sin caches. Input is [B, H, S, D], or
// [B, S, H*D] with num_heads. The first rotary_embedding_dim features of each
// head (all by default) are rotated, pairing feature k with k + rd/2
// (halves) or 2k with 2k+1 (interleaved); the rest pass through. The caches
// are indexed by position_ids[b, s] ([max_pos, rd/2] caches), or are already
// per token ([B, S, rd/2]) when position_ids is absent.
import { DataType } from '../../onnx/model.js';
import { isFloat, type TensorType } from '../../ir/types.js';
import { Scalar, convertScalar } from '../../codegen/scalar.js';
import type { FuncBuilder } from '../../codegen/mlir-builder.js';
import { collapseShape, expandShape, typeOf, type Tensor } from '../../codegen/tensor-ops.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { accumulatorDtype, broadcastRead, mapGeneric } from '../reduce-helpers.js';
import { clampIndex, loopIndex, toIndex } from '../index-lowering.js';

const POSITION_IDS = 3;

interface RotaryPlan {
  /** The input viewed as rank 4: [B, H, S, D] (4-D input) or [B, S, H, D] (3-D input). */
  view: number[];
  /** Dim of the sequence in the view (batch is dim 0). */
  seqDim: number;
  headSize: number;
  rotaryDim: number;
  interleaved: boolean;
  hasPositions: boolean;
}

function plan(ctx: NodeContext): RotaryPlan {
  const shape = ctx.shape(0);
  const dt = ctx.dtype(0);
  if (!isFloat(dt)) ctx.unsupported(`input of ${DataType[dt]} is not supported (expected a float tensor)`);
  let view: number[];
  if (shape.length === 4) {
    view = shape;
  } else if (shape.length === 3) {
    const heads = ctx.int('num_heads', 0);
    if (heads <= 0 || shape[2] % heads !== 0) ctx.unsupported(`3-D input needs num_heads dividing the hidden size ${shape[2]}, got ${heads}`);
    view = [shape[0], shape[1], heads, shape[2] / heads];
  } else {
    return ctx.unsupported(`input must be 3-D or 4-D, got rank ${shape.length}`);
  }
  const headSize = view[3];
  const rotaryDim = ctx.int('rotary_embedding_dim', 0) || headSize;
  if (rotaryDim % 2 !== 0 || rotaryDim > headSize) ctx.unsupported(`rotary_embedding_dim ${rotaryDim} must be even and at most the head size ${headSize}`);
  const seqDim = shape.length === 4 ? 2 : 1;
  const hasPositions = ctx.has(POSITION_IDS);
  checkCaches(ctx, [view[0], view[seqDim]], rotaryDim / 2, hasPositions);
  return { view, seqDim, headSize, rotaryDim, interleaved: ctx.int('interleaved', 0) !== 0, hasPositions };
}

function checkCaches(ctx: NodeContext, batchSeq: number[], half: number, hasPositions: boolean): void {
  const want = hasPositions ? null : [...batchSeq, half];
  for (const i of [1, 2]) {
    if (ctx.dtype(i) !== ctx.dtype(0)) ctx.unsupported(`input ${i} dtype differs from the input`);
    const s = ctx.shape(i);
    const ok = want ? s.length === 3 && s.every((d, k) => d === want[k]) : s.length === 2 && s[1] === half;
    if (!ok) ctx.unsupported(`cache (input ${i}) shape [${s.join(', ')}] should be ${want ? `[${want.join(', ')}]` : `[max_position, ${half}]`}`);
  }
  if (!hasPositions) return;
  const p = ctx.shape(POSITION_IDS);
  if (ctx.dtype(POSITION_IDS) !== DataType.INT64 || p.length !== 2 || p[0] !== batchSeq[0] || p[1] !== batchSeq[1]) {
    ctx.unsupported(`position_ids should be int64 [${batchSeq.join(', ')}]`);
  }
}

function inferRotary(ctx: NodeContext): TensorType[] {
  plan(ctx);
  return [ctx.type(0)];
}

interface PairIndices {
  /** Whether this feature takes the first (cos*x1 - sin*x2) or second formula. */
  first: string;
  /** Index into the caches (0 .. rd/2-1). */
  k: string;
  x1: string;
  x2: string;
}

/** Cache index and partner features of feature `d` (clamped into the rotary part). */
function pairIndices(b: FuncBuilder, d: string, p: RotaryPlan): PairIndices {
  const half = p.rotaryDim / 2;
  const dr = b.op(`arith.minsi ${d}, ${b.index(p.rotaryDim - 1)} : index`);
  if (p.interleaved) {
    const two = b.index(2);
    const k = b.op(`arith.divsi ${dr}, ${two} : index`);
    const x1 = b.op(`arith.muli ${k}, ${two} : index`);
    const first = b.op(`arith.cmpi eq, ${x1}, ${dr} : index`);
    return { first, k, x1, x2: b.op(`arith.addi ${x1}, ${b.index(1)} : index`) };
  }
  const h = b.index(half);
  const first = b.op(`arith.cmpi slt, ${dr}, ${h} : index`);
  const k = b.op(`arith.select ${first}, ${dr}, ${b.op(`arith.subi ${dr}, ${h} : index`)} : index`);
  return { first, k, x1: k, x2: b.op(`arith.addi ${k}, ${h} : index`) };
}

function lowerRotary(ctx: LowerContext): string[] {
  const p = plan(ctx);
  const dt = ctx.dtype(0);
  const accDt = accumulatorDtype(dt);
  const input: Tensor = { value: ctx.input(0), dt, shape: ctx.shape(0) };
  const x = input.shape.length === 3 ? expandShape(ctx.b, input, [[0], [1], [2, 3]], p.view) : input;
  const cos: Tensor = { value: ctx.input(1), dt, shape: ctx.shape(1) };
  const sin: Tensor = { value: ctx.input(2), dt, shape: ctx.shape(2) };
  const positions: Tensor | null = p.hasPositions ? { value: ctx.input(POSITION_IDS), dt: DataType.INT64, shape: ctx.shape(POSITION_IDS) } : null;
  const y = mapGeneric(ctx.b, dt, p.view, [broadcastRead(x, p.view)], (fb, [v]) => {
    const idx = [0, 1, 2, 3].map((i) => loopIndex(fb, i));
    const pair = pairIndices(fb, idx[3], p);
    const cacheRow = cacheIndex(fb, idx[0], idx[p.seqDim], positions, cos.shape[0]);
    const read = (t: Tensor, at: string[]) => convertScalar(fb, fb.op(`tensor.extract ${t.value}[${at.join(', ')}] : ${typeOf(t)}`), dt, accDt);
    const feature = (d: string) => read(x, [...idx.slice(0, 3), d]);
    const s = new Scalar(fb, accDt);
    const [c, sn] = [cos, sin].map((t) => read(t, [...cacheRow, pair.k]));
    const [x1, x2] = [feature(pair.x1), feature(pair.x2)];
    const real = s.sub(s.mul(c, x1), s.mul(sn, x2));
    const imag = s.add(s.mul(sn, x1), s.mul(c, x2));
    const rotated = convertScalar(fb, s.select(pair.first, real, imag), accDt, dt);
    const inRotary = fb.op(`arith.cmpi slt, ${idx[3]}, ${fb.index(p.rotaryDim)} : index`);
    return new Scalar(fb, dt).select(inRotary, rotated, v);
  });
  if (input.shape.length === 4) return [y.value];
  return [collapseShape(ctx.b, { value: y.value, dt, shape: p.view }, [[0], [1], [2, 3]]).value];
}

/** Leading cache indices of token (b, s): [position_ids[b, s]] or [b, s]. */
function cacheIndex(b: FuncBuilder, batch: string, seq: string, positions: Tensor | null, maxPos: number): string[] {
  if (positions === null) return [batch, seq];
  const id = b.op(`tensor.extract ${positions.value}[${batch}, ${seq}] : ${typeOf(positions)}`);
  return [clampIndex(b, toIndex(b, id, DataType.INT64), maxPos)];
}

registerOp({ domain: '', op: 'RotaryEmbedding', since: 23, infer: inferRotary, lower: lowerRotary });
