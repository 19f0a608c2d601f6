// A convolution body with the terms of known-zero inputs left out. A
// depthwise block computed rows at a time (depthwise-rows.ts) on an image
// only a few rows high has taps that read nothing but the slab's zero
// padding: PP-OCR cls's 5×5 layers on 2- and 3-row images spend 40 – 60 % of
// their multiply-adds on them. The body is a chain `mulf(tap, w)` then
// `fma(tap, w, acc)`; a term whose tap is zero adds exactly zero for any
// finite weight, so it is dropped and its accumulator passed on. An op of
// another form that reads a zero gets a real 0.0, so the rewrite never
// changes what an unrecognised body computes.
import { SSA_TOKEN } from './ir-scan.js';

const MULF = /^(%[\w.$-]+) = arith\.mulf (%[\w.$-]+), (%[\w.$-]+) : f32$/;
const FMA = /^(%[\w.$-]+) = math\.fma (%[\w.$-]+), (%[\w.$-]+), (%[\w.$-]+) : f32$/;
const ADDF = /^(%[\w.$-]+) = arith\.addf (%[\w.$-]+), (%[\w.$-]+) : f32$/;

export interface ZeroFreeBody {
  ops: string[];
  /** The value to yield in place of the body's yielded one. */
  yielded: string;
}

/** Rewrites body ops (trimmed lines, values already renamed) over a set of values known zero. */
class ZeroFolder {
  readonly out: string[] = [];
  private readonly alias = new Map<string, string>();
  private constantNeeded = false;

  constructor(private readonly zeros: Set<string>, private readonly zeroName: string) {}

  private resolve(v: string): string {
    return this.alias.get(v) ?? v;
  }

  private isZero(v: string): boolean {
    return this.zeros.has(v);
  }

  /** `v` as an operand of an op kept as it is: a zero becomes the real constant. */
  private operand(v: string): string {
    if (!this.isZero(v)) return v;
    this.constantNeeded = true;
    return this.zeroName;
  }

  add(line: string): void {
    const l = line.replace(SSA_TOKEN, (t) => this.resolve(t));
    const fma = FMA.exec(l);
    const mul = fma ? null : MULF.exec(l);
    const sum = fma || mul ? null : ADDF.exec(l);
    if (fma) this.fma(fma[1], fma[2], fma[3], fma[4]);
    else if (mul && (this.isZero(mul[2]) || this.isZero(mul[3]))) this.zeros.add(mul[1]);
    else if (sum && this.isZero(sum[2])) this.pass(sum[1], sum[3]);
    else if (sum && this.isZero(sum[3])) this.pass(sum[1], sum[2]);
    else this.out.push(l.replace(SSA_TOKEN, (t) => this.operand(t)));
  }

  /** `r` stands for `v` (a dropped term's accumulator). */
  private pass(r: string, v: string): void {
    if (this.isZero(v)) this.zeros.add(r);
    else this.alias.set(r, v);
  }

  private fma(r: string, a: string, b: string, c: string): void {
    if (this.isZero(a) || this.isZero(b)) this.pass(r, c);
    else if (this.isZero(c)) this.out.push(`${r} = arith.mulf ${a}, ${b} : f32`);
    else this.out.push(`${r} = math.fma ${a}, ${b}, ${c} : f32`);
  }

  finish(yielded: string): ZeroFreeBody {
    const y = this.operand(this.resolve(yielded));
    const constant = this.constantNeeded ? [`${this.zeroName} = arith.constant 0.000000e+00 : f32`] : [];
    return { ops: [...constant, ...this.out], yielded: y };
  }
}

/** `ops` (yielding `yielded`) with the terms of the values in `zeros` left out; `zeroName` names a 0.0 if one is still read. */
export function withoutZeroTerms(ops: readonly string[], yielded: string, zeros: ReadonlySet<string>, zeroName: string): ZeroFreeBody {
  const folder = new ZeroFolder(new Set(zeros), zeroName);
  for (const l of ops) folder.add(l.trim());
  return folder.finish(yielded);
}
