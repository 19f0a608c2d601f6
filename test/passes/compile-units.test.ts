// How a run of compiled nodes is cut into compile units: cuts only before
// heavy nodes, units of about equal size (they compile in parallel, so the
// largest bounds the compile) by expected compile time, and one unit per
// dispatch region when asked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Value, type IrNode } from '../../src/ir/graph.js';
import { DataType } from '../../src/onnx/model.js';
import { compileWeight, splitIntoUnits } from '../../src/passes/compile-units.js';

function node(id: number, op: string): IrNode {
  return {
    id, op, domain: '', name: `${op}_${id}`, inputs: [], outputs: [], attributes: new Map(), captures: [],
    source: { name: `${op}_${id}`, opType: op, domain: '', inputs: [], outputs: [], attributes: new Map(), raw: null },
  };
}

/** Nodes from a pattern: 'C' a Conv (heavy), '.' a Relu (cheap). */
function nodes(pattern: string): IrNode[] {
  return [...pattern].map((ch, i) => node(i, ch === 'C' ? 'Conv' : 'Relu'));
}

const sizes = (units: IrNode[][]) => units.map((u) => u.length);

describe('splitIntoUnits', () => {
  it('keeps a run shorter than two units whole', () => {
    assert.deepEqual(sizes(splitIntoUnits(nodes('C...C...C...'), { minNodes: 8, maxUnits: 99 })), [12]);
  });

  it('cuts only just before heavy nodes', () => {
    const units = splitIntoUnits(nodes('C..C....C..C...C....C..C...C..'), { minNodes: 4, maxUnits: 99 });
    for (const u of units.slice(1)) assert.equal(u[0].op, 'Conv');
    assert.equal(units.flat().length, 30);
  });

  it('balances the last unit instead of giving it the remainder', () => {
    // 10 regions of 8 nodes and a minimum of 20: four units of 16 – 24 nodes, not 24 + 24 + 32.
    const units = splitIntoUnits(nodes('C.......'.repeat(10)), { minNodes: 20, maxUnits: 99 });
    assert.deepEqual(sizes(units), [16, 24, 16, 24]);
    assert.ok(Math.max(...sizes(units)) < 32);
  });

  it('gives each dispatch region its own unit at a minimum of one node', () => {
    assert.deepEqual(sizes(splitIntoUnits(nodes('..C..C.CC...'), { minNodes: 1, maxUnits: 99 })), [2, 3, 2, 1, 4]);
  });

  it('makes fewer, larger units than the minimum allows when capped', () => {
    // 10 regions of 8 nodes: 8 units of 10 nodes allowed, two wanted.
    assert.deepEqual(sizes(splitIntoUnits(nodes('C.......'.repeat(10)), { minNodes: 10, maxUnits: 2 })), [40, 40]);
  });

  it('does not cut off a unit much smaller than the minimum', () => {
    // Heavy nodes only near the ends: no cut leaves both sides at least half a unit.
    assert.deepEqual(sizes(splitIntoUnits(nodes('.C' + '.'.repeat(36) + 'C.'), { minNodes: 10, maxUnits: 99 })), [40]);
  });
});

describe('splitIntoUnits by expected compile time', () => {
  /** A Conv whose filter is k×k (`group` convolutions when grouped). */
  function conv(id: number, k: number, group = 1): IrNode {
    const base = node(id, 'Conv');
    const w = new Value(`w${id}`);
    w.type = { dataType: DataType.FLOAT, shape: [8, 8 / group, k, k] };
    return { ...base, inputs: [null, w], attributes: new Map([['group', { kind: 'int', value: group }]]) };
  }

  it('weighs a dense 3×3 convolution above a 1×1 or a grouped one, and both above a cheap node', () => {
    const relu = compileWeight(node(0, 'Relu'));
    const pointwise = compileWeight(conv(1, 1));
    assert.ok(relu < pointwise);
    assert.equal(compileWeight(conv(2, 3, 8)), pointwise);
    assert.ok(pointwise < compileWeight(conv(3, 3)));
  });

  it('gives the 3×3 convolutions\' end of a run fewer nodes', () => {
    // 8 regions of 1×1 convolutions, then 8 of 3×3 ones, 6 nodes each: the cut falls inside the 3×3 half.
    let id = 0;
    const region = (k: number) => [conv(id++, k), ...Array.from({ length: 5 }, () => node(id++, 'Relu'))];
    const run = [...Array.from({ length: 8 }, () => region(1)), ...Array.from({ length: 8 }, () => region(3))].flat();
    const units = splitIntoUnits(run, { minNodes: 40, maxUnits: 2 });
    assert.equal(units.length, 2);
    assert.ok(units[0].length > 48 + 6, `sizes ${sizes(units)}`);
  });
});
