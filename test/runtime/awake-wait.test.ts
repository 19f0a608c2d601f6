// Waiting for a native call with the event loop turning: only while a call
// is in flight, only where a core is free beside the call's threads, only
// soon after another call, and without blocking the loop (timers still fire
// during the wait).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { IDLE_AFTER_MS, SPIN_MAX_MS, isTurning, whileAwake } from '../../src/runtime/awake-wait.js';

/** Lets pending setImmediate chains see the state change and stop. */
const settleLoop = () => sleep(5);

describe('whileAwake', () => {
  it('waits asleep for a call after an idle spell', async () => {
    await sleep(IDLE_AFTER_MS + 5);
    assert.equal(await whileAwake(1, async () => isTurning()), false);
  });

  it('turns the loop while a call soon after another runs, with timers still firing, and stops after', async (t) => {
    if (availableParallelism() < 2) return t.skip('needs a free core');
    await whileAwake(1, async () => undefined);
    const seen: boolean[] = [];
    // Resolves only once an interval has fired three times during the wait: a blocked loop would hang here.
    const value = await whileAwake(1, async () => {
      seen.push(isTurning());
      let fired = 0;
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          if (++fired < 3) return;
          clearInterval(timer);
          resolve();
        }, 1);
      });
      return 42;
    });
    assert.equal(value, 42);
    assert.deepEqual(seen, [true]);
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
