// How a run of compiled nodes is cut into compile units: cuts only before
// heavy nodes, units of about equal size (they compile in parallel, so the
// largest bounds the compile), and one unit per dispatch region when asked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IrNode } from '../../src/ir/graph.js';
import { splitIntoUnits } from '../../src/passes/compile-units.js';

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
