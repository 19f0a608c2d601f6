// The node and leaf tables of an ai.onnx.ml TreeEnsemble (opset 5), read from
// its attributes and checked at compile time: every id in range, every tree
// acyclic (so that the generated walk terminates), set-membership nodes given
// their sets. Semantics follow onnxruntime (the oracle) where the ONNX
// reference is silent: sets are assigned to MEMBER nodes in node order, and
// MIN / MAX of a target no leaf voted for is 0, and a root whose two
// children are the same leaf is walked like any node (onnxruntime-node's
// answer; the ONNX reference reads the root's index as a leaf index there).
import { DataType } from '../onnx/model.js';
import type { NodeContext } from './node-context.js';
import { tensorToNumbers } from './tensor-data.js';

/** nodes_modes values. */
export enum Mode { LEQ = 0, LT = 1, GTE = 2, GT = 3, EQ = 4, NEQ = 5, MEMBER = 6 }

export enum Aggregate { AVERAGE = 0, SUM = 1, MIN = 2, MAX = 3 }

export enum PostTransform { NONE = 0, SOFTMAX = 1, LOGISTIC = 2, SOFTMAX_ZERO = 3, PROBIT = 4 }

export interface TreeTables {
  dt: DataType;
  batch: number;
  features: number;
  targets: number;
  aggregate: Aggregate;
  post: PostTransform;
  /** Per tree: its root node. */
  roots: number[];
  /** Per interior node. */
  featureIds: number[];
  modes: number[];
  splits: number[];
  trueIds: number[];
  falseIds: number[];
  trueLeaf: number[];
  falseLeaf: number[];
  missingTracksTrue: number[];
  /** MEMBER nodes test x against members[memberStart[i] .. memberEnd[i]). */
  memberStart: number[];
  memberEnd: number[];
  members: number[];
  /** Per leaf. */
  leafTargets: number[];
  leafWeights: number[];
}

function tensorNumbers(ctx: NodeContext, name: string, dt?: DataType): number[] | null {
  const t = ctx.tensorAttr(name);
  if (!t) return null;
  if (dt !== undefined && t.dataType !== dt) ctx.unsupported(`attribute '${name}' is ${DataType[t.dataType]}, expected ${DataType[dt]} like X`);
  return tensorToNumbers(t);
}

function requireLength(ctx: NodeContext, name: string, values: readonly unknown[], n: number): void {
  if (values.length !== n) ctx.unsupported(`attribute '${name}' has ${values.length} entries, expected ${n}`);
}

/** Per MEMBER node (in node order), its run of membership_values up to the next NaN. */
function memberSets(ctx: NodeContext, modes: readonly number[]): Pick<TreeTables, 'memberStart' | 'memberEnd' | 'members'> {
  const values = tensorNumbers(ctx, 'membership_values', ctx.dtype(0)) ?? [];
  const memberStart: number[] = [];
  const memberEnd: number[] = [];
  const members: number[] = [];
  let at = 0;
  for (const mode of modes) {
    memberStart.push(members.length);
    if (mode === Mode.MEMBER) {
      const start = members.length;
      for (; at < values.length && !Number.isNaN(values[at]); at++) members.push(values[at]);
      at++;
      if (members.length === start) ctx.unsupported('a MEMBER node has an empty set in membership_values');
    }
    memberEnd.push(members.length);
  }
  return { memberStart, memberEnd, members };
}

type Tables = Omit<TreeTables, 'dt' | 'batch' | 'features' | 'targets' | 'aggregate' | 'post'>;

/** Declines ids out of range and cycles (a walk from a root must reach a leaf). */
function checkTrees(ctx: NodeContext, t: Tables): void {
  const nodes = t.modes.length;
  const leaves = t.leafTargets.length;
  const state = new Uint8Array(nodes);
  const ON_PATH = 1;
  const DONE = 2;
  const child = (id: number, leaf: number): number | null => {
    const limit = leaf ? leaves : nodes;
    if (!Number.isInteger(id) || id < 0 || id >= limit) ctx.unsupported(`child id ${id} is out of range (${limit} ${leaf ? 'leaves' : 'nodes'})`);
    return leaf ? null : id;
  };
  const visit = (root: number): void => {
    const stack: [number, number][] = [[root, 0]];
    state[root] = ON_PATH;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [i, k] = top;
      if (k === 2) {
        state[i] = DONE;
        stack.pop();
        continue;
      }
      top[1] = k + 1;
      const next = k === 0 ? child(t.trueIds[i], t.trueLeaf[i]) : child(t.falseIds[i], t.falseLeaf[i]);
      if (next === null || state[next] === DONE) continue;
      if (state[next] === ON_PATH) ctx.unsupported(`the trees have a cycle through node ${next}`);
      state[next] = ON_PATH;
      stack.push([next, 0]);
    }
  };
  for (const r of t.roots) if (child(r, 0) !== null && state[r] === 0) visit(r);
}

function readTables(ctx: NodeContext, dt: DataType, targets: number): Tables {
  const modes = tensorNumbers(ctx, 'nodes_modes') ?? ctx.unsupported(`attribute 'nodes_modes' is required`);
  const n = modes.length;
  if (modes.some((m) => !(m in Mode))) ctx.unsupported(`nodes_modes holds an unknown mode (${modes.join(', ')})`);
  const ints = (name: string, dflt?: number[]) => {
    const v = ctx.ints(name, dflt);
    requireLength(ctx, name, v, n);
    return v;
  };
  const splits = tensorNumbers(ctx, 'nodes_splits', dt) ?? ctx.unsupported(`attribute 'nodes_splits' is required`);
  requireLength(ctx, 'nodes_splits', splits, n);
  const featureIds = ints('nodes_featureids');
  const t: Tables = {
    roots: ctx.ints('tree_roots'),
    featureIds, modes, splits,
    trueIds: ints('nodes_truenodeids'), falseIds: ints('nodes_falsenodeids'),
    trueLeaf: ints('nodes_trueleafs'), falseLeaf: ints('nodes_falseleafs'),
    missingTracksTrue: ints('nodes_missing_value_tracks_true', new Array<number>(n).fill(0)),
    ...memberSets(ctx, modes),
    leafTargets: ctx.ints('leaf_targetids'),
    leafWeights: tensorNumbers(ctx, 'leaf_weights', dt) ?? ctx.unsupported(`attribute 'leaf_weights' is required`),
  };
  requireLength(ctx, 'leaf_weights', t.leafWeights, t.leafTargets.length);
  if (t.leafTargets.some((id) => id < 0 || id >= targets)) ctx.unsupported(`leaf_targetids must lie in [0, ${targets})`);
  if (t.roots.length === 0) ctx.unsupported('tree_roots is empty');
  return t;
}

export function treeTables(ctx: NodeContext): TreeTables {
  const dt = ctx.requireDtype(0, [DataType.FLOAT, DataType.DOUBLE]);
  const shape = ctx.shape(0);
  if (shape.length !== 2) ctx.unsupported(`X must be [N, F], got [${shape.join(', ')}]`);
  const [batch, features] = shape;
  const targets = ctx.int('n_targets');
  if (targets < 1) ctx.unsupported(`n_targets must be positive, got ${targets}`);
  const aggregate = ctx.int('aggregate_function', Aggregate.SUM);
  const post = ctx.int('post_transform', PostTransform.NONE);
  if (!(aggregate in Aggregate)) ctx.unsupported(`aggregate_function ${aggregate} is not 0-3`);
  if (!(post in PostTransform)) ctx.unsupported(`post_transform ${post} is not 0-4`);
  // onnxruntime applies only PROBIT to a single target; the spec applies all: leave that case to it.
  if (targets === 1 && post !== PostTransform.NONE && post !== PostTransform.PROBIT) ctx.unsupported(`post_transform ${PostTransform[post]} of a single target`);
  const t = readTables(ctx, dt, targets);
  if (t.featureIds.some((f) => f < 0 || f >= features)) ctx.unsupported(`nodes_featureids must lie in [0, ${features})`);
  checkTrees(ctx, t);
  return { dt, batch, features, targets, aggregate, post, ...t };
}
