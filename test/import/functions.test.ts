// Model-local functions (ModelProto.functions) inlined at import: every call
// is replaced by its body, so the body's nodes compile; differential against
// onnxruntime-node, which runs the functions itself.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, type OnnxGraph } from '../../src/onnx/model.js';
import { decodeModel } from '../../src/onnx/decode.js';
import { ModelBuilder, attr } from '../../src/onnx/builder.js';
import { FunctionInlineError, inlineFunctions, notInlinedReason } from '../../src/passes/inline-functions.js';
import '../../src/import/ops/index.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { assertMatchesOrt, randomTensor } from '../helpers/differential.js';

const F = DataType.FLOAT;
const OPSET = 18;
const DOMAIN = 'custom';

function boolScalar(v: boolean): HostTensor {
  return { dataType: DataType.BOOL, dims: [], data: new Uint8Array([v ? 1 : 0]) };
}

/** Every name a graph defines, subgraphs included, each as often as it is defined. */
function definitions(g: OnnxGraph): string[] {
  const out = [...g.inputs.map((v) => v.name), ...g.initializers.map((t) => t.name)];
  for (const n of g.nodes) {
    out.push(...n.outputs.filter((o) => o !== ''));
    for (const a of n.attributes.values()) {
      const graphs = a.kind === 'graph' ? [a.value] : a.kind === 'graphs' ? a.value : [];
      for (const sub of graphs) out.push(...definitions(sub));
    }
  }
  return out;
}

/** A graph as comparable text (decoded protobuf messages left out). */
function dump(g: OnnxGraph): string {
  return JSON.stringify(g, (k, v: unknown) => (k === 'raw' ? undefined : v instanceof Map ? [...v] : v));
}

/** Inlines `bytes` and checks that no call is left and that every name is defined once in the whole model. */
function assertInlined(bytes: Uint8Array): OnnxGraph {
  const g = inlineFunctions(decodeModel(bytes)).graph;
  const defs = definitions(g);
  const twice = defs.filter((d, i) => defs.indexOf(d) !== i);
  assert.deepEqual(twice, [], 'names defined more than once');
  const calls = dump(g);
  assert.ok(!calls.includes(`"domain":"${DOMAIN}"`), 'a call was left');
  // Subgraph keys computed on one inlining must resolve in another (a body compiled later).
  assert.equal(dump(inlineFunctions(decodeModel(bytes)).graph), calls, 'inlining is not deterministic');
  return g;
}

/** custom.Affine(x, w) = x * w * 0.5 + x, with body names ('t', 'x') that the main graph uses too. */
function affineModel(): Uint8Array {
  const b = new ModelBuilder({ opset: OPSET });
  const body = b.subgraph('Affine_body');
  body.node('Constant', [], { outputs: ['c'], attrs: { value_float: attr.float(0.5) } });
  body.node('Mul', ['x', 'w'], { outputs: ['t'] });
  body.node('Mul', ['t', 'c'], { outputs: ['u'] });
  body.node('Add', ['u', 'x'], { outputs: ['y'] });
  b.addFunction({ name: 'Affine', domain: DOMAIN, inputs: ['x', 'w'], outputs: ['y'], body });
  const x = b.input('x', F, [2, 3]);
  const w = b.input('w', F, [2, 3]);
  const [t] = b.node('Affine', [x, w], { domain: DOMAIN, outputs: ['t'] });
  const [y] = b.node('Affine', [t, x], { domain: DOMAIN, outputs: ['y'] });
  const [z] = b.node('Sub', [y, t]);
  b.output(t, F, [2, 3]);
  b.output(z, F, [2, 3]);
  return b.build();
}

/** custom.Act(x): LeakyRelu(alpha: no default) → Elu(alpha ← beta, default 0.25) → Softmax(axis: unset unless given). */
function activationModel(): Uint8Array {
  const b = new ModelBuilder({ opset: OPSET });
  const body = b.subgraph('Act_body');
  const [l] = body.node('LeakyRelu', ['x'], { attrs: { alpha: attr.ref('alpha') } });
  const [e] = body.node('Elu', [l], { attrs: { alpha: attr.ref('beta') } });
  body.node('Softmax', [e], { outputs: ['y'], attrs: { axis: attr.ref('axis') } });
  b.addFunction({
    name: 'Act', domain: DOMAIN, inputs: ['x'], outputs: ['y'], attributes: ['alpha', 'axis'],
    attributeDefaults: { beta: attr.float(0.25) }, body,
  });
  const x = b.input('x', F, [3, 4]);
  const [a1] = b.node('Act', [x], { domain: DOMAIN, attrs: { alpha: attr.float(0.2) } });
  const [a2] = b.node('Act', [x], { domain: DOMAIN, attrs: { alpha: attr.float(0.3), beta: attr.float(1.5), axis: 0 } });
  b.output(a1, F, [3, 4]);
  b.output(a2, F, [3, 4]);
  return b.build();
}

/**
 * custom.Outer(x, lo) calls custom.Inner(x, lo) → (clipped, negated), taking
 * only its first output and leaving its optional `hi` out; Inner scales by a
 * Constant whose value is the attribute Outer forwards from its own.
 */
function nestedModel(): Uint8Array {
  const b = new ModelBuilder({ opset: OPSET });
  const inner = b.subgraph('Inner_body');
  const [clipped] = inner.node('Clip', ['x', 'lo', 'hi']);
  const [k] = inner.node('Constant', [], { attrs: { value_float: attr.ref('gamma') } });
  inner.node('Mul', [clipped, k], { outputs: ['y'] });
  inner.node('Neg', ['y'], { outputs: ['z'] });
  b.addFunction({ name: 'Inner', domain: DOMAIN, inputs: ['x', 'lo', 'hi'], outputs: ['y', 'z'], attributes: ['gamma'], body: inner });
  const outer = b.subgraph('Outer_body');
  const [a] = outer.node('Inner', ['x', 'lo'], { domain: DOMAIN, outputs: ['a', ''], attrs: { gamma: attr.ref('k') } });
  outer.node('Add', [a, 'x'], { outputs: ['y'] });
  b.addFunction({ name: 'Outer', domain: DOMAIN, inputs: ['x', 'lo'], outputs: ['y'], attributes: ['k'], body: outer, opsets: { '': OPSET, [DOMAIN]: 1 } });
  const x = b.input('x', F, [2, 5]);
  const lo = b.initializer('lo', F, [], [-0.25]);
  const hi = b.initializer('hi', F, [], [0.5]);
  const [o] = b.node('Outer', [x, lo], { domain: DOMAIN, attrs: { k: attr.float(3) } });
  const [i1, i2] = b.node('Inner', [x, lo, hi], { domain: DOMAIN, outputs: 2, attrs: { gamma: attr.float(-2) } });
  for (const v of [o, i1, i2]) b.output(v, F, [2, 5]);
  return b.build();
}

/**
 * custom.Sel(c, x): an If inside the function, its then-branch reading the
 * attribute `alpha`, its else-branch calling custom.Twice; the main graph
 * calls Sel inside the then-branch of its own If.
 */
function branchModel(): Uint8Array {
  const b = new ModelBuilder({ opset: OPSET });
  const twice = b.subgraph('Twice_body');
  twice.node('Add', ['x', 'x'], { outputs: ['y'] });
  b.addFunction({ name: 'Twice', domain: DOMAIN, inputs: ['x'], outputs: ['y'], body: twice });
  const sel = b.subgraph('Sel_body');
  const then = b.subgraph('Sel_then');
  const [lr] = then.node('LeakyRelu', ['x'], { outputs: ['r'], attrs: { alpha: attr.ref('alpha') } });
  then.output(lr, F, [2, 3]);
  const other = b.subgraph('Sel_else');
  const [tw] = other.node('Twice', ['x'], { domain: DOMAIN, outputs: ['r2'] });
  other.output(tw, F, [2, 3]);
  sel.node('If', ['c'], { outputs: ['y'], attrs: { then_branch: then, else_branch: other } });
  b.addFunction({ name: 'Sel', domain: DOMAIN, inputs: ['c', 'x'], outputs: ['y'], attributes: ['alpha'], body: sel, opsets: { '': OPSET, [DOMAIN]: 1 } });
  const c = b.input('c', DataType.BOOL, []);
  const d = b.input('d', DataType.BOOL, []);
  const x = b.input('x', F, [2, 3]);
  const mainThen = b.subgraph('then');
  const [s] = mainThen.node('Sel', [d, x], { domain: DOMAIN, attrs: { alpha: attr.float(0.1) } });
  mainThen.output(s, F, [2, 3]);
  const mainElse = b.subgraph('else');
  const [n] = mainElse.node('Neg', [x]);
  mainElse.output(n, F, [2, 3]);
  const [y] = b.node('If', [c], { attrs: { then_branch: mainThen, else_branch: mainElse } });
  b.output(y, F, [2, 3]);
  return b.build();
}

/** custom.Decay(x): a Loop of `n` (attribute, default 3) steps acc = acc * 0.5 + x, its trip count a Constant from the attribute. */
function loopModel(): Uint8Array {
  const b = new ModelBuilder({ opset: OPSET });
  const body = b.subgraph('Decay_body');
  const loop = b.subgraph('Decay_loop');
  loop.input('i', DataType.INT64, []);
  const cond = loop.input('cond', DataType.BOOL, []);
  const acc = loop.input('acc', F, [4]);
  const half = loop.initializer('half', F, [], [0.5]);
  const [scaled] = loop.node('Mul', [acc, half], { outputs: ['scaled'] });
  const [next] = loop.node('Add', [scaled, 'x'], { outputs: ['next'] });
  const [keep] = loop.node('Identity', [cond], { outputs: ['keep'] });
  loop.output(keep, DataType.BOOL, []);
  loop.output(next, F, [4]);
  const [trips] = body.node('Constant', [], { outputs: ['trips'], attrs: { value_int: attr.ref('n') } });
  const [yes] = body.node('Constant', [], { outputs: ['yes'], attrs: { value: { name: 'yes', dataType: DataType.BOOL, dims: [], data: new Uint8Array([1]) } } });
  body.node('Loop', [trips, yes, 'x'], { outputs: ['y'], attrs: { body: loop } });
  b.addFunction({ name: 'Decay', domain: DOMAIN, inputs: ['x'], outputs: ['y'], attributeDefaults: { n: 3 }, body });
  const x = b.input('x', F, [4]);
  const [y3] = b.node('Decay', [x], { domain: DOMAIN });
  const [y5] = b.node('Decay', [y3], { domain: DOMAIN, attrs: { n: 5 } });
  b.output(y3, F, [4]);
  b.output(y5, F, [4]);
  return b.build();
}

/**
 * Calls ahead of an If shift its index once inlined; the If reads a value
 * whose shape is known only at run time (a Reshape to a runtime shape), so its
 * branches are compiled on first use, found again by their key.
 */
function lateBodyModel(): Uint8Array {
  const b = new ModelBuilder({ opset: OPSET });
  const body = b.subgraph('Scale_body');
  const [two] = body.node('Constant', [], { attrs: { value_float: attr.float(2) } });
  const [m] = body.node('Mul', ['x', two]);
  body.node('Sub', [m, 'x'], { outputs: ['y'] });
  b.addFunction({ name: 'Scale', domain: DOMAIN, inputs: ['x'], outputs: ['y'], body });
  const c = b.input('c', DataType.BOOL, []);
  const x = b.input('x', F, [6]);
  const shape = b.input('shape', DataType.INT64, [2]);
  const [x2] = b.node('Scale', [x], { domain: DOMAIN });
  const [r] = b.node('Reshape', [x2, shape]);
  const then = b.subgraph('late_then');
  const [s] = then.node('Scale', [r], { domain: DOMAIN });
  const [t] = then.node('Tanh', [s]);
  then.output(t, F, ['rows', 'cols']);
  const other = b.subgraph('late_else');
  const [n] = other.node('Neg', [r]);
  other.output(n, F, ['rows', 'cols']);
  const [picked] = b.node('If', [c], { attrs: { then_branch: then, else_branch: other } });
  const [y] = b.node('ReduceSum', [picked], { attrs: { keepdims: 0 } });
  b.output(y, F, []);
  return b.build();
}

describe('model-local functions: inlined and compiled', () => {
  it('a simple function called twice, its body names clashing with the main graph', async () => {
    const bytes = affineModel();
    assert.equal(assertInlined(bytes).nodes.length, 9);
    await assertMatchesOrt(bytes, { x: randomTensor(F, [2, 3], 1), w: randomTensor(F, [2, 3], 2) });
  });

  it('attribute references: given, defaulted, and left to the op default', async () => {
    const bytes = activationModel();
    const softmax = assertInlined(bytes).nodes.filter((n) => n.opType === 'Softmax');
    assert.deepEqual(softmax.map((n) => n.attributes.get('axis')), [undefined, { kind: 'int', value: 0 }]);
    await assertMatchesOrt(bytes, { x: randomTensor(F, [3, 4], 3, -2, 2) });
  });

  it('nested functions forwarding an attribute, with omitted optional inputs and outputs', async () => {
    const bytes = nestedModel();
    const clips = assertInlined(bytes).nodes.filter((n) => n.opType === 'Clip');
    assert.deepEqual(clips.map((n) => n.inputs[2]), ['', 'hi']);
    await assertMatchesOrt(bytes, { x: randomTensor(F, [2, 5], 4, -1, 1) });
  });

  it('a call inside an If branch, and an If (calling a function) inside a function', async () => {
    const bytes = branchModel();
    assertInlined(bytes);
    const x = randomTensor(F, [2, 3], 5);
    for (const [c, d] of [[true, true], [true, false], [false, true]]) {
      await assertMatchesOrt(bytes, { c: boolScalar(c), d: boolScalar(d), x });
    }
  });

  it('a function whose Loop body gets fresh names per call, its trip count from an attribute', async () => {
    const bytes = loopModel();
    assertInlined(bytes);
    await assertMatchesOrt(bytes, { x: randomTensor(F, [4], 6) });
  });
  it('a branch compiled on first use is found again in the inlined model', async () => {
    const bytes = lateBodyModel();
    assertInlined(bytes);
    const x = randomTensor(F, [6], 8);
    const shape: HostTensor = { dataType: DataType.INT64, dims: [2], data: new Uint8Array(new BigInt64Array([2n, 3n]).buffer) };
    for (const c of [true, false]) {
      await assertMatchesOrt(bytes, { c: boolScalar(c), x, shape });
    }
  });
});

describe('model-local functions: what is not inlined', () => {
  it('a recursive function is a clear error', () => {
    const b = new ModelBuilder({ opset: OPSET });
    const body = b.subgraph('Loopy_body');
    body.node('Loopy', ['x'], { domain: DOMAIN, outputs: ['y'] });
    b.addFunction({ name: 'Loopy', domain: DOMAIN, inputs: ['x'], outputs: ['y'], body });
    const [y] = b.node('Loopy', [b.input('x', F, [2])], { domain: DOMAIN });
    b.output(y, F, [2]);
    assert.throws(() => inlineFunctions(decodeModel(b.build())), (e: unknown) => (
      e instanceof FunctionInlineError && /custom\.Loopy -> custom\.Loopy/.test(e.message)));
  });

  it('a function importing another default opset than the model stays a call, with a reason naming it', async () => {
    const b = new ModelBuilder({ opset: OPSET });
    const body = b.subgraph('Old_body');
    body.node('Relu', ['x'], { outputs: ['y'] });
    b.addFunction({ name: 'Old', domain: DOMAIN, inputs: ['x'], outputs: ['y'], body, opsets: { '': 13 } });
    const [y] = b.node('Old', [b.input('x', F, [2, 3])], { domain: DOMAIN });
    b.output(y, F, [2, 3]);
    const g = inlineFunctions(decodeModel(b.build())).graph;
    assert.equal(g.nodes.length, 1);
    assert.match(notInlinedReason(g.nodes[0]) ?? '', /function custom\.Old imports ai\.onnx opset 13 but opset 18/);
    const { report } = await assertMatchesOrt(b.build(), { x: randomTensor(F, [2, 3], 7) }, { fullyCompiled: false });
    assert.match(report.fallbackReasons.join('\n'), /function custom\.Old imports ai\.onnx opset 13/);
  });

  it('a function that is also an op with a lowering at the model opset stays that op', () => {
    const b = new ModelBuilder({ opset: 20 });
    const body = b.subgraph('Gelu_body');
    body.node('Relu', ['X'], { outputs: ['Y'] });
    b.addFunction({ name: 'Gelu', domain: '', inputs: ['X'], outputs: ['Y'], body });
    const [y] = b.node('Gelu', [b.input('x', F, [2])]);
    b.output(y, F, [2]);
    const model = decodeModel(b.build());
    assert.equal(inlineFunctions(model), model);
  });
});
