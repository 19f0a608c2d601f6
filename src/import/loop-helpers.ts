// scf.for loop nests carrying values (scalars or tensors), for ops whose
// iterations depend on each other (scans, selections) and so do not fit a
// linalg.generic. Tensors updated with scalar tensor.insert bufferize in place.
import type { FuncBuilder } from '../codegen/mlir-builder.js';

/** A loop-carried value and its MLIR type. */
export interface Carried {
  value: string;
  type: string;
}

/**
 * `scf.for iv = 0 to count` carrying `init`; `body` receives the induction
 * variable and the carried values and returns their next values. Returns the
 * loop results.
 */
export function scfFor(b: FuncBuilder, count: number, init: readonly Carried[], body: (iv: string, args: string[]) => string[]): string[] {
  return scfRange(b, b.index(0), b.index(count), b.index(1), init, body);
}

/**
 * Nested loops over every dim of `shape` except `skip`, carrying `init`;
 * `body` gets the induction variables (index `skip` left empty for the caller
 * to fill) and the carried values.
 */
export function forEachOuter(b: FuncBuilder, shape: readonly number[], skip: number, init: readonly Carried[], body: (ivs: string[], args: string[]) => string[]): string[] {
  const ivs = shape.map(() => '');
  const nest = (d: number, carried: readonly Carried[]): string[] => {
    if (d === shape.length) return body(ivs, carried.map((c) => c.value));
    if (d === skip) return nest(d + 1, carried);
    return scfFor(b, shape[d], carried, (iv, args) => {
      ivs[d] = iv;
      return nest(d + 1, args.map((value, i) => ({ value, type: carried[i].type })));
    });
  };
  return nest(0, init);
}

/**
 * `scf.for iv = lo to hi step step` over SSA index bounds (not known at
 * compile time), carrying `init` like scfFor.
 */
export function scfRange(b: FuncBuilder, lo: string, hi: string, step: string, init: readonly Carried[], body: (iv: string, args: string[]) => string[]): string[] {
  const iv = b.fresh('iv');
  const args = init.map(() => b.fresh('carry'));
  const loop = b.fresh('loop');
  const types = init.map((c) => c.type).join(', ');
  const iters = init.map((c, i) => `${args[i]} = ${c.value}`).join(', ');
  const results = init.length === 1 ? '' : `:${init.length}`;
  b.emit(`${loop}${results} = scf.for ${iv} = ${lo} to ${hi} step ${step} iter_args(${iters}) -> (${types}) {`);
  const next = body(iv, args);
  b.emit(`scf.yield ${next.join(', ')} : ${types}`);
  b.emit('}');
  return init.length === 1 ? [loop] : init.map((_, i) => `${loop}#${i}`);
}

/** `update(value)` where `cond` holds, else `value` unchanged: an scf.if yielding one value of `type`. */
export function updateIf(b: FuncBuilder, cond: string, value: string, type: string, update: (v: string) => string): string {
  const out = b.fresh('if');
  b.emit(`${out} = scf.if ${cond} -> (${type}) {`);
  b.emit(`scf.yield ${update(value)} : ${type}`);
  b.emit('} else {');
  b.emit(`scf.yield ${value} : ${type}`);
  b.emit('}');
  return out;
}
