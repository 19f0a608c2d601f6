// Text builder for one MLIR function on tensors: SSA naming, tensor types,
// and the linalg.generic form that most lowerings reduce to.
import { DataType } from '../onnx/model.js';
import { dtypeName, mlirElementType, type TensorType } from '../ir/types.js';

export class CodegenError extends Error {
  override name = 'CodegenError';
}

export function elemType(dt: DataType): string {
  const e = mlirElementType(dt);
  if (e === null) throw new CodegenError(`codegen: dtype ${dtypeName(dt)} has no MLIR representation`);
  return e;
}

export function tensorTypeOf(dt: DataType, shape: readonly number[]): string {
  const e = elemType(dt);
  return shape.length === 0 ? `tensor<${e}>` : `tensor<${shape.join('x')}x${e}>`;
}

/** `tensor<4x8xf32>`: the type of the f32 tensors the schedules rewrite. */
export function f32Tensor(shape: readonly number[]): string {
  return tensorTypeOf(DataType.FLOAT, shape);
}

/** The type of an f32 memref of `shape` (identity layout). */
export function f32Memref(shape: readonly number[]): string {
  return `memref<${shape.join('x')}xf32>`;
}

/** Alignment of the buffers schedules allocate themselves: a cache line (and an AVX-512 vector), as bufferization aligns its own. */
export const BUFFER_ALIGNMENT = 64;

/**
 * The lines setting the slice of `into` (an f32 tensor of type `intoType`)
 * at `offsets` of `sizes` (static numbers or index values, unit strides) to
 * `zero`: an extract_slice, a fill and an insert_slice, which bufferize to
 * a fill of the slice in place. The result is `name`.
 */
export function fillSliceLines(name: string, into: string, intoType: string, zero: string, offsets: readonly (number | string)[], sizes: readonly (number | string)[]): string[] {
  const sliceType = `tensor<${sizes.map((d) => (typeof d === 'number' ? d : '?')).join('x')}xf32>`;
  const at = `[${offsets.join(', ')}] [${sizes.join(', ')}] [${sizes.map(() => 1).join(', ')}]`;
  return [
    `${name}_s = tensor.extract_slice ${into}${at} : ${intoType} to ${sliceType}`,
    `${name}_f = linalg.fill ins(${zero} : f32) outs(${name}_s : ${sliceType}) -> ${sliceType}`,
    `${name} = tensor.insert_slice ${name}_f into ${into}${at} : ${sliceType} into ${intoType}`,
  ];
}

/**
 * The head of `scf.for ${id}_i` over [0, trips) with its bound constants
 * (`${id}_lo`, `${id}_hi`, `${id}_step`): a loop's serial form where its
 * parallel form is an scf.forall. `result` prefixes the loop (e.g. '%y = ');
 * `iterArgs` follows the step (e.g. ' iter_args(%o = %init) -> (T)').
 */
export function serialLoopHead(id: string, trips: number, result = '', iterArgs = ''): string[] {
  return [
    `${id}_lo = arith.constant 0 : index`,
    `${id}_hi = arith.constant ${trips} : index`,
    `${id}_step = arith.constant 1 : index`,
    `${result}scf.for ${id}_i = ${id}_lo to ${id}_hi step ${id}_step${iterArgs} {`,
  ];
}

export function tensorType(t: TensorType): string {
  return tensorTypeOf(t.dataType, t.shape.map((d) => (typeof d === 'number' ? d : -1)));
}

/** `affine_map<(d0, d1) -> (d1, 0)>` from result expressions over `rank` dims. */
export function affineMap(rank: number, results: readonly string[]): string {
  const dims = Array.from({ length: rank }, (_, i) => `d${i}`);
  return `affine_map<(${dims.join(', ')}) -> (${results.join(', ')})>`;
}

export function identityMap(rank: number): string {
  return affineMap(rank, Array.from({ length: rank }, (_, i) => `d${i}`));
}

/**
 * Map reading an operand of `shape` broadcast (numpy rules, right-aligned)
 * into an iteration space of rank `outRank`: size-1 dims read index 0.
 */
export function broadcastMap(shape: readonly number[], outShape: readonly number[]): string {
  const offset = outShape.length - shape.length;
  const results = shape.map((d, i) => (d === 1 && outShape[i + offset] !== 1 ? '0' : `d${i + offset}`));
  return affineMap(outShape.length, results);
}

export type IteratorKind = 'parallel' | 'reduction';

export interface GenericOperand {
  value: string;
  type: string;
  map: string;
  elem: string;
}

export interface GenericSpec {
  inputs: GenericOperand[];
  /** Init tensors (outs); their block args follow the inputs'. */
  outputs: GenericOperand[];
  iterators: IteratorKind[];
  /** Emits the body; receives block-argument names (ins then outs), returns yielded values. */
  body: (b: FuncBuilder, args: string[]) => string[];
}

/**
 * A float sum or product that folds into a reduction's accumulator, marked
 * reassociable. Without the flag LLVM must add the elements one after the
 * other (rec's GlobalAveragePool over 480×6×80: one scalar add per element,
 * latency-bound, 6× onnxruntime's time); with it the reduction schedule
 * (codegen/schedules/reduction.ts) keeps partial sums in vector lanes, as
 * onnxruntime's reductions do.
 */
const COMBINER = /^(\s*(%[\w.$#-]+) = arith\.(?:addf|mulf) (%[\w.$#-]+), (%[\w.$#-]+))( : .*)$/;

export class FuncBuilder {
  private readonly lines: string[] = [];
  private counter = 0;
  private indent = '  ';

  fresh(prefix = 'v'): string {
    return `%${prefix}${this.counter++}`;
  }

  emit(line: string): void {
    this.lines.push(this.indent + line);
  }

  /** `%x = <rhs>` with a fresh name. */
  op(rhs: string, prefix = 'v'): string {
    const name = this.fresh(prefix);
    this.emit(`${name} = ${rhs}`);
    return name;
  }

  body(): string[] {
    return this.lines;
  }

  empty(type: string): string {
    return this.op(`tensor.empty() : ${type}`, 'e');
  }

  constant(literal: string, type: string): string {
    // MLIR's parser takes the i1 keywords only without a type ('true : i1' is an error).
    if (type === 'i1' && (literal === 'true' || literal === 'false')) return this.op(`arith.constant ${literal}`, 'c');
    return this.op(`arith.constant ${literal} : ${type}`, 'c');
  }

  index(n: number): string {
    return this.constant(String(n), 'index');
  }

  fill(scalar: string, elem: string, type: string): string {
    const init = this.empty(type);
    return this.op(`linalg.fill ins(${scalar} : ${elem}) outs(${init} : ${type}) -> ${type}`, 'f');
  }

  generic(spec: GenericSpec): string[] {
    const name = this.fresh('g');
    const count = spec.outputs.length;
    const operands = [...spec.inputs, ...spec.outputs];
    const maps = operands.map((o) => o.map).join(', ');
    const iters = spec.iterators.map((k) => `"${k}"`).join(', ');
    const ins = spec.inputs.length
      ? ` ins(${spec.inputs.map((o) => o.value).join(', ')} : ${spec.inputs.map((o) => o.type).join(', ')})`
      : '';
    const outs = `outs(${spec.outputs.map((o) => o.value).join(', ')} : ${spec.outputs.map((o) => o.type).join(', ')})`;
    this.emit(`${name}${count === 1 ? '' : `:${count}`} = linalg.generic {indexing_maps = [${maps}], iterator_types = [${iters}]}${ins} ${outs} {`);
    const args = operands.map((_, i) => `${name}_a${i}`);
    this.lines.push(`${this.indent}^bb0(${operands.map((o, i) => `${args[i]}: ${o.elem}`).join(', ')}):`);
    const saved = this.indent;
    this.indent += '  ';
    const bodyStart = this.lines.length;
    const yielded = spec.body(this, args);
    if (spec.iterators.includes('reduction')) this.reassociateCombiners(bodyStart, yielded, args.slice(spec.inputs.length));
    this.emit(`linalg.yield ${yielded.join(', ')} : ${spec.outputs.map((o) => o.elem).join(', ')}`);
    this.indent = saved;
    const results = spec.outputs.map((o) => o.type).join(', ');
    // Several result types must be parenthesised, or the parser binds only the first.
    this.emit(`} -> ${count === 1 ? results : `(${results})`}`);
    return count === 1 ? [name] : spec.outputs.map((_, i) => `${name}#${i}`);
  }

  /** Adds fastmath<reassoc> to body lines from `start` that combine an accumulator (`accs`) into a yielded value. */
  private reassociateCombiners(start: number, yielded: readonly string[], accs: readonly string[]): void {
    for (let i = start; i < this.lines.length; i++) {
      const m = COMBINER.exec(this.lines[i]);
      if (m && yielded.includes(m[2]) && (accs.includes(m[3]) || accs.includes(m[4]))) this.lines[i] = `${m[1]} fastmath<reassoc>${m[5]}`;
    }
  }
}

/** Float literal MLIR accepts for any float type (hex for non-finite values). */
export function floatLiteral(v: number, elem: string): string {
  if (Number.isFinite(v)) {
    const s = v.toString();
    // MLIR float literals need a '.' in the mantissa: 1e-9 must read 1.0e-9.
    if (s.includes('.')) return s;
    return /e/.test(s) ? s.replace('e', '.0e') : `${s}.0`;
  }
  const bits: Record<string, [string, string, string]> = {
    f32: ['0x7FC00000', '0x7F800000', '0xFF800000'],
    f64: ['0x7FF8000000000000', '0x7FF0000000000000', '0xFFF0000000000000'],
    f16: ['0x7E00', '0x7C00', '0xFC00'],
    bf16: ['0x7FC0', '0x7F80', '0xFF80'],
  };
  const [nan, inf, ninf] = bits[elem] ?? bits.f32;
  return Number.isNaN(v) ? nan : v > 0 ? inf : ninf;
}
