// Scalar arithmetic inside linalg bodies, choosing the arith/math op by the
// ONNX dtype (float vs signed vs unsigned integer; bool as i1).
import { DataType } from '../onnx/model.js';
import { bitWidth, isFloat, isUnsignedInt } from '../ir/types.js';
import { CodegenError, FuncBuilder, elemType, floatLiteral } from './mlir-builder.js';

export type CmpPredicate = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

const FLOAT_CMP: Record<CmpPredicate, string> = { eq: 'oeq', ne: 'une', lt: 'olt', le: 'ole', gt: 'ogt', ge: 'oge' };
const SIGNED_CMP: Record<CmpPredicate, string> = { eq: 'eq', ne: 'ne', lt: 'slt', le: 'sle', gt: 'sgt', ge: 'sge' };
const UNSIGNED_CMP: Record<CmpPredicate, string> = { eq: 'eq', ne: 'ne', lt: 'ult', le: 'ule', gt: 'ugt', ge: 'uge' };

/** Emits scalar ops of one dtype into a FuncBuilder (usually inside a generic body). */
export class Scalar {
  readonly elem: string;
  readonly float: boolean;
  readonly unsigned: boolean;

  constructor(readonly b: FuncBuilder, readonly dt: DataType) {
    this.elem = elemType(dt);
    this.float = isFloat(dt);
    this.unsigned = isUnsignedInt(dt) || dt === DataType.BOOL;
  }

  private bin(fop: string, sop: string, uop: string, a: string, c: string): string {
    const op = this.float ? fop : this.unsigned ? uop : sop;
    return this.b.op(`${op} ${a}, ${c} : ${this.elem}`);
  }

  add(a: string, c: string): string { return this.bin('arith.addf', 'arith.addi', 'arith.addi', a, c); }
  sub(a: string, c: string): string { return this.bin('arith.subf', 'arith.subi', 'arith.subi', a, c); }
  mul(a: string, c: string): string { return this.bin('arith.mulf', 'arith.muli', 'arith.muli', a, c); }
  div(a: string, c: string): string { return this.bin('arith.divf', 'arith.divsi', 'arith.divui', a, c); }
  /** NaN-propagating max/min, as ONNX Max/Min specify. */
  max(a: string, c: string): string { return this.bin('arith.maximumf', 'arith.maxsi', 'arith.maxui', a, c); }
  min(a: string, c: string): string { return this.bin('arith.minimumf', 'arith.minsi', 'arith.minui', a, c); }
  /** Remainder with the sign of the dividend (C fmod / ONNX Mod fmod=1). */
  rem(a: string, c: string): string { return this.bin('arith.remf', 'arith.remsi', 'arith.remui', a, c); }

  neg(a: string): string {
    if (this.float) return this.b.op(`arith.negf ${a} : ${this.elem}`);
    return this.sub(this.zero(), a);
  }

  cmp(pred: CmpPredicate, a: string, c: string): string {
    if (this.float) return this.b.op(`arith.cmpf ${FLOAT_CMP[pred]}, ${a}, ${c} : ${this.elem}`);
    const table = this.unsigned ? UNSIGNED_CMP : SIGNED_CMP;
    return this.b.op(`arith.cmpi ${table[pred]}, ${a}, ${c} : ${this.elem}`);
  }

  select(cond: string, a: string, c: string): string {
    return this.b.op(`arith.select ${cond}, ${a}, ${c} : ${this.elem}`);
  }

  /** A constant of this dtype; integers are taken modulo the width by MLIR's parser rules. */
  const(v: number): string {
    if (this.float) return this.b.constant(floatLiteral(v, this.elem), this.elem);
    if (this.dt === DataType.BOOL) return this.b.constant(v ? 'true' : 'false', 'i1');
    return this.b.constant(String(Math.trunc(v)), this.elem);
  }

  zero(): string { return this.const(0); }
  one(): string { return this.const(1); }

  /** math.<name> for float types (exp, log, tanh, ...). */
  math(name: string, a: string): string {
    if (!this.float) throw new CodegenError(`math.${name} needs a float operand, got ${this.elem}`);
    return this.b.op(`math.${name} ${a} : ${this.elem}`);
  }

  math2(name: string, a: string, c: string): string {
    if (!this.float) throw new CodegenError(`math.${name} needs float operands, got ${this.elem}`);
    return this.b.op(`math.${name} ${a}, ${c} : ${this.elem}`);
  }

  abs(a: string): string {
    if (this.float) return this.b.op(`math.absf ${a} : ${this.elem}`);
    if (this.unsigned) return a;
    return this.b.op(`math.absi ${a} : ${this.elem}`);
  }
}

/** Converts scalar `v` from dtype `from` to `to` with ONNX Cast semantics (float→int truncates). */
export function convertScalar(b: FuncBuilder, v: string, from: DataType, to: DataType): string {
  if (from === to) return v;
  const fe = elemType(from);
  const te = elemType(to);
  const fFloat = isFloat(from);
  const tFloat = isFloat(to);
  if (to === DataType.BOOL) {
    const s = new Scalar(b, from);
    return s.cmp('ne', v, s.zero());
  }
  if (fFloat && tFloat) {
    const op = floatBits(from) < floatBits(to) ? 'arith.extf' : 'arith.truncf';
    if (fe === te) return v;
    if ((fe === 'f16' && te === 'bf16') || (fe === 'bf16' && te === 'f16')) {
      const wide = b.op(`arith.extf ${v} : ${fe} to f32`);
      return b.op(`arith.truncf ${wide} : f32 to ${te}`);
    }
    return b.op(`${op} ${v} : ${fe} to ${te}`);
  }
  const fromUnsigned = isUnsignedInt(from) || from === DataType.BOOL;
  if (fFloat) return b.op(`${isUnsignedInt(to) ? 'arith.fptoui' : 'arith.fptosi'} ${v} : ${fe} to ${te}`);
  if (tFloat) return b.op(`${fromUnsigned ? 'arith.uitofp' : 'arith.sitofp'} ${v} : ${fe} to ${te}`);
  const fw = bitWidth(from);
  const tw = bitWidth(to);
  if (fw === tw) return v;
  if (fw > tw) return b.op(`arith.trunci ${v} : ${fe} to ${te}`);
  return b.op(`${fromUnsigned ? 'arith.extui' : 'arith.extsi'} ${v} : ${fe} to ${te}`);
}

function floatBits(t: DataType): number {
  return t === DataType.DOUBLE ? 64 : t === DataType.FLOAT ? 32 : 16;
}
