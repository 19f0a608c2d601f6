// Waiting for a native call with the event loop turning: only while a call
// is in flight, only where a core is free beside the call's threads, and
// without blocking the loop (timers still fire during the wait).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { SPIN_MAX_MS, isTurning, whileAwake } from '../../src/runtime/awake-wait.js';

/** Lets pending setImmediate chains see the state change and stop. */
const settleLoop = () => sleep(5);

describe('whileAwake', () => {
  it('turns the loop while a call runs, with timers still firing, and stops after', async (t) => {
    if (availableParallelism() < 2) t.skip('needs a free core');
    let fired = 0;
    const timer = setInterval(() => fired++, 1);
    const seen: boolean[] = [];
    const value = await whileAwake(1, async () => {
      seen.push(isTurning());
      await sleep(SPIN_MAX_MS + 10);
      return 42;
    });
    clearInterval(timer);
    assert.equal(value, 42);
    assert.deepEqual(seen, [true]);
    assert.ok(fired >= 2, `interval fired ${fired} times during the wait`);
    await settleLoop();
    assert.equal(isTurning(), false);
  });

  it('sleeps once the call has run for SPIN_MAX_MS', async () => {
    await settleLoop();
    const seen = await whileAwake(1, async () => {
      await sleep(SPIN_MAX_MS + 10);
      return isTurning();
    });
    assert.equal(seen, false);
  });

  it('does not turn when the call uses every core', async () => {
    await settleLoop();
    const seen = await whileAwake(availableParallelism(), async () => isTurning());
    assert.equal(seen, false);
  });

  it('passes a failing call through and stops turning', async () => {
    await assert.rejects(whileAwake(1, async () => {
      throw new Error('native call failed');
    }), /native call failed/);
    await settleLoop();
    assert.equal(isTurning(), false);
  });
});
