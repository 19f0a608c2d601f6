// Integer bit manipulation on one MLIR integer type (i8/i16/i32/i64), for the
// small-type conversions that generated code performs on raw bit patterns.
import type { FuncBuilder } from './mlir-builder.js';

export type IntType = 'i8' | 'i16' | 'i32' | 'i64';
export type IntPredicate = 'eq' | 'ne' | 'slt' | 'sle' | 'sgt' | 'sge' | 'ult' | 'ule' | 'ugt' | 'uge';

/** Emits arith integer ops of one width; constants are given as bigint so 64-bit masks stay exact. */
export class Bits {
  constructor(readonly b: FuncBuilder, readonly type: IntType) {}

  /** A constant; values are taken modulo 2^width (MLIR prints them signed). */
  c(v: bigint | number): string {
    const width = BigInt(this.type.slice(1));
    return this.b.constant(BigInt.asIntN(Number(width), BigInt(v)).toString(), this.type);
  }

  private bin(op: string, a: string, x: string): string {
    return this.b.op(`arith.${op} ${a}, ${x} : ${this.type}`);
  }

  and(a: string, x: string): string { return this.bin('andi', a, x); }
  or(a: string, x: string): string { return this.bin('ori', a, x); }
  xor(a: string, x: string): string { return this.bin('xori', a, x); }
  add(a: string, x: string): string { return this.bin('addi', a, x); }
  sub(a: string, x: string): string { return this.bin('subi', a, x); }
  mul(a: string, x: string): string { return this.bin('muli', a, x); }
  shl(a: string, x: string): string { return this.bin('shli', a, x); }
  /** Logical (zero-filling) right shift. */
  shrU(a: string, x: string): string { return this.bin('shrui', a, x); }
  /** Arithmetic (sign-filling) right shift. */
  shrS(a: string, x: string): string { return this.bin('shrsi', a, x); }
  minS(a: string, x: string): string { return this.bin('minsi', a, x); }
  maxS(a: string, x: string): string { return this.bin('maxsi', a, x); }

  cmp(pred: IntPredicate, a: string, x: string): string {
    return this.b.op(`arith.cmpi ${pred}, ${a}, ${x} : ${this.type}`);
  }

  select(cond: string, a: string, x: string): string {
    return this.b.op(`arith.select ${cond}, ${a}, ${x} : ${this.type}`);
  }

  /** Count of leading zero bits (an LLVM intrinsic, one instruction on common targets). */
  ctlz(a: string): string {
    return this.b.op(`math.ctlz ${a} : ${this.type}`);
  }

  /** Zero-extends a narrower integer (or i1) into this type. */
  extU(a: string, from: string): string {
    return this.b.op(`arith.extui ${a} : ${from} to ${this.type}`);
  }

  /** Truncates this type to a narrower integer type. */
  trunc(a: string, to: IntType): string {
    return to === this.type ? a : this.b.op(`arith.trunci ${a} : ${this.type} to ${to}`);
  }

  /** Reinterprets a float of the same width as this integer type. */
  fromFloat(a: string, floatType: string): string {
    return this.b.op(`arith.bitcast ${a} : ${floatType} to ${this.type}`);
  }

  toFloat(a: string, floatType: string): string {
    return this.b.op(`arith.bitcast ${a} : ${this.type} to ${floatType}`);
  }
}

/** `and(a, b)` of i1 conditions. */
export function andI1(b: FuncBuilder, x: string, y: string): string {
  return b.op(`arith.andi ${x}, ${y} : i1`);
}

export function orI1(b: FuncBuilder, x: string, y: string): string {
  return b.op(`arith.ori ${x}, ${y} : i1`);
}
