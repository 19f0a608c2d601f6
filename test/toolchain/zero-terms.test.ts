// withoutZeroTerms (src/codegen/schedules/zero-terms.ts): a multiply-add
// chain loses the terms of values known zero, accumulators pass through, and
// an op of another form reads a real 0.0.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { withoutZeroTerms } from '../../src/codegen/schedules/zero-terms.js';

const chain = [
  '%p0 = arith.mulf %z, %w0 : f32',
  '%p1 = math.fma %x1, %w1, %p0 : f32',
  '%p2 = math.fma %z, %w2, %p1 : f32',
  '%p3 = math.fma %x3, %w3, %p2 : f32',
];

describe('withoutZeroTerms', () => {
  it('drops zero terms: a leading one turns the next fma into a multiply, a middle one passes its accumulator on', () => {
    const r = withoutZeroTerms(chain, '%p3', new Set(['%z']), '%zero');
    assert.deepEqual(r.ops, ['%p1 = arith.mulf %x1, %w1 : f32', '%p3 = math.fma %x3, %w3, %p1 : f32']);
    assert.equal(r.yielded, '%p3');
  });

  it('passes an add of zero through and yields the accumulator of a dropped last term', () => {
    const r = withoutZeroTerms(['%p0 = arith.mulf %x0, %w0 : f32', '%s = arith.addf %z, %p0 : f32', '%p1 = math.fma %z, %w1, %s : f32'], '%p1', new Set(['%z']), '%zero');
    assert.deepEqual(r.ops, ['%p0 = arith.mulf %x0, %w0 : f32']);
    assert.equal(r.yielded, '%p0');
  });

  it('gives an op of another form a real zero, and yields one when every term is zero', () => {
    const other = withoutZeroTerms(['%m = arith.maximumf %z, %x : f32'], '%m', new Set(['%z']), '%zero');
    assert.deepEqual(other.ops, ['%zero = arith.constant 0.000000e+00 : f32', '%m = arith.maximumf %zero, %x : f32']);
    const all = withoutZeroTerms(['%p0 = arith.mulf %z, %w0 : f32', '%p1 = math.fma %z, %w1, %p0 : f32'], '%p1', new Set(['%z']), '%zero');
    assert.deepEqual(all, { ops: ['%zero = arith.constant 0.000000e+00 : f32'], yielded: '%zero' });
  });

  it('leaves a body without zeros as it is', () => {
    const ops = chain.map((l) => l.replace('%z', '%x0').replace('%z', '%x2'));
    assert.deepEqual(withoutZeroTerms(ops, '%p3', new Set(['%z']), '%zero'), { ops, yielded: '%p3' });
  });
});
