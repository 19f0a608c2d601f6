// A small writer for transform-dialect scripts (MLIR 22 syntax): fresh SSA
// handles and the handful of transform ops the schedules use. The result is
// a library module holding @__transform_main, loaded with
// --transform-preload-library and run by --transform-interpreter.
import { TAG_ATTR } from './ir-scan.js';

const ANY = '!transform.any_op';
const FOR = '!transform.op<"scf.for">';

export interface Tiled {
  /** Handle to the tiled op. */
  op: string;
  /** Loop handles, one per non-zero tile size, outermost first. */
  loops: string[];
}

export class TransformScript {
  private next = 0;
  private readonly body: string[] = [];
  /** Handle to the payload function(s). */
  readonly func: string;

  constructor() {
    this.func = this.fresh('func');
    this.emit(`${this.func} = transform.structured.match ops{["func.func"]} in %root : (${ANY}) -> ${ANY}`);
  }

  fresh(prefix: string): string {
    return `%${prefix}${this.next++}`;
  }

  emit(line: string): void {
    this.body.push(`    ${line}`);
  }

  /** The ops named `name` carrying schedule tag `tag` (tiles keep their tag); with `resultType`, only those of that result type (not their tiles). */
  matchTagged(name: string, tag: number, within = this.func, attr = TAG_ATTR, resultType?: string): string {
    const h = this.fresh('op');
    const filter = resultType ? ` filter_result_type = ${resultType}` : '';
    this.emit(`${h} = transform.structured.match ops{["${name}"]} attributes{${attr} = ${tag} : i64}${filter} in ${within} : (${ANY}) -> ${ANY}`);
    return h;
  }

  /** Splits a structured op along `dimension` into the part before `at` and the part from it: two ops of static shapes. */
  split(target: string, dimension: number, at: number): [string, string] {
    const parts = this.fresh('parts');
    const low = this.fresh('low');
    const high = this.fresh('high');
    this.emit(`${parts} = transform.structured.split ${target} after ${at} {dimension = ${dimension}} : ${ANY}`);
    this.emit(`${low}, ${high} = transform.split_handle ${parts} : (${ANY}) -> (${ANY}, ${ANY})`);
    return [low, high];
  }

  matchOps(name: string, within = this.func): string {
    const h = this.fresh('ops');
    this.emit(`${h} = transform.structured.match ops{["${name}"]} in ${within} : (${ANY}) -> ${ANY}`);
    return h;
  }

  /** Tiles into an scf.forall (parallel when lowered to OpenMP). */
  tileForall(target: string, sizes: readonly number[]): Tiled {
    const op = this.fresh('t');
    const loop = this.fresh('forall');
    this.emit(`${op}, ${loop} = transform.structured.tile_using_forall ${target} tile_sizes [${sizes.join(', ')}] : (${ANY}) -> (${ANY}, ${ANY})`);
    return { op, loops: [loop] };
  }

  /** Tiles into nested scf.for loops; a 0 size leaves that dimension untiled. */
  tileFor(target: string, sizes: readonly number[], interchange?: readonly number[]): Tiled {
    const op = this.fresh('t');
    const loops = sizes.filter((s) => s !== 0).map(() => this.fresh('loop'));
    const results = [op, ...loops].join(', ');
    const types = [op, ...loops].map(() => ANY).join(', ');
    const order = interchange ? ` interchange = [${interchange.join(', ')}]` : '';
    this.emit(`${results} = transform.structured.tile_using_for ${target} tile_sizes [${sizes.join(', ')}]${order} : (${ANY}) -> (${types})`);
    return { op, loops };
  }

  /**
   * Tiles the reduced dimensions of a reduction by `sizes`, accumulating into
   * partial results of the tile's shape (a fill, then the tiled op adding
   * element by element), combined by one final reduction. Returns the fill,
   * the partial op and the final reduction.
   */
  tileReduction(target: string, sizes: readonly number[]): [string, string, string] {
    const [fill, partial, combine, loop] = ['fill', 'partial', 'combine', 'loop'].map((p) => this.fresh(p));
    this.emit(`${fill}, ${partial}, ${combine}, ${loop} = transform.structured.tile_reduction_using_for ${target} by tile_sizes = [${sizes.join(', ')}] : (${ANY}) -> (${ANY}, ${ANY}, ${ANY}, ${ANY})`);
    return [fill, partial, combine];
  }

  /**
   * Tiles into nested scf.for loops like tileFor, and fuses the producers of
   * the tile's operands into the loops, the zero-fill of its accumulator
   * included (reached through the loops' iteration arguments, which
   * fuseInto does not follow).
   */
  tileAndFuse(target: string, sizes: readonly number[]): Tiled {
    const op = this.fresh('tf');
    const loops = sizes.filter((s) => s !== 0).map(() => this.fresh('loop'));
    const types = [op, ...loops].map(() => ANY).join(', ');
    this.emit(`${[op, ...loops].join(', ')} = transform.structured.fuse ${target} tile_sizes [${sizes.join(', ')}] : (${ANY}) -> (${types})`);
    return { op, loops };
  }

  /**
   * Moves `producer` into `containing` (a loop), computing per iteration only
   * the slice that the loop's body reads. Returns the fused op and the loop.
   */
  fuseInto(producer: string, containing: string): { op: string; loop: string } {
    const op = this.fresh('fused');
    const loop = this.fresh('in');
    this.emit(`${op}, ${loop} = transform.structured.fuse_into_containing_op ${producer} into ${containing} : (${ANY}, ${ANY}) -> (${ANY}, ${ANY})`);
    return { op, loop };
  }

  /** The closest enclosing op named `name` of each payload op of `target`. */
  parentOf(target: string, name: string): string {
    const h = this.fresh('parent');
    this.emit(`${h} = transform.get_parent_op ${target} {op_name = "${name}"} : (${ANY}) -> ${ANY}`);
    return h;
  }

  /** Moves side-effect-free, loop-invariant ops (tensor ops, linalg on tensors included) out of `loop`. */
  licm(loop: string): void {
    this.emit(`transform.apply_licm to ${loop} : ${ANY}`);
  }

  /** Splits a loop into full iterations and a remainder, so full tiles get static shapes. */
  peel(loop: string): void {
    const typed = this.fresh('for');
    this.emit(`${typed} = transform.cast ${loop} : ${ANY} to ${FOR}`);
    const main = this.fresh('main');
    const rest = this.fresh('rest');
    this.emit(`${main}, ${rest} = transform.loop.peel ${typed} : (${FOR}) -> (${ANY}, ${ANY})`);
  }

  /** The op producing operand `index` of `target`. */
  producerOf(target: string, index: number): string {
    const h = this.fresh('producer');
    this.emit(`${h} = transform.get_producer_of_operand ${target}[${index}] : (${ANY}) -> ${ANY}`);
    return h;
  }

  /** Rewrites a convolution with a unit window dimension as a lower-rank one (2-D with one output row → 1-D), which the vectorizer handles. */
  decompose(target: string): string {
    const h = this.fresh('dec');
    this.emit(`${h} = transform.structured.decompose ${target} : (${ANY}) -> ${ANY}`);
    return h;
  }

  /** Rewrites a named structured op (a fill) as the equivalent linalg.generic. */
  generalize(target: string): string {
    const h = this.fresh('gen');
    this.emit(`${h} = transform.structured.generalize ${target} : (${ANY}) -> ${ANY}`);
    return h;
  }

  /** Vectorizes; with `sizes`, dynamic (remainder) shapes are masked. */
  vectorize(target: string, sizes?: readonly number[]): void {
    const vs = sizes ? ` vector_sizes [${sizes.join(', ')}]` : '';
    this.emit(`transform.structured.vectorize ${target}${vs} : ${ANY}`);
  }

  /** One greedy pattern application on the function. */
  patterns(names: readonly string[], target = this.func): void {
    this.emit(`transform.apply_patterns to ${target} {`);
    for (const n of names) this.emit(`  transform.apply_patterns.${n}`);
    this.emit(`} : ${ANY}`);
  }

  hoistInvariantSubsets(loops: string): void {
    this.emit(`transform.loop.hoist_loop_invariant_subsets ${loops} : ${ANY}`);
  }

  get empty(): boolean {
    return this.body.length <= 1;
  }

  text(): string {
    return [
      'module attributes {transform.with_named_sequence} {',
      `  transform.named_sequence @__transform_main(%root: ${ANY} {transform.readonly}) {`,
      ...this.body,
      '    transform.yield',
      '  }',
      '}',
      '',
    ].join('\n');
  }
}
