// Waiting for a native call on a worker thread with the event loop kept
// turning (a chain of setImmediate callbacks) instead of asleep in epoll.
//
// Why: on a VM a thread that sleeps gives up its virtual CPU, and waking it
// again when the call completes takes a host round trip. For a short run
// that is a large share: PP-OCR cls at one thread (0.5 ms of kernels) took
// 0.75 – 0.85 ms per run with the loop asleep and 0.65 – 0.71 ms with it
// turning (alternating with onnxruntime in one process, Zen 5). The loop is
// not blocked: timers, I/O and other callbacks run between the turns.
//
// It costs a core while the call runs, so it is done only where a core is
// free: the threads of calls in flight plus the turning loop fit in the
// machine. And only while the process is busy (a call ended within
// IDLE_AFTER_MS): after an idle spell the turning loop slows the call it
// waits for (PP-OCR cls after 100 ms idle, alternating in one process:
// 1.86 ms turning, 1.34 ms asleep at one thread; 1.98 / 1.39 ms at two), as
// if the woken worker thread had to share the loop's core; a call soon after
// another still gains (0.49 / 0.57 ms back to back). It is onnxruntime's
// spinning policy (its intra-op threads spin while waiting unless
// session.intra_op.allow_spinning is '0'), applied to the thread that waits
// for the run.
import { availableParallelism } from 'node:os';

/**
 * How long the loop turns for one call at most, then sleeps: past this the
 * wake-up is a small share of the run (0.1 ms of more than 2 ms), and a run
 * whose size was misjudged (a 1024³ MatMul counts as small by its tensor
 * sizes) costs no more than this of a second core.
 */
export const SPIN_MAX_MS = 2;

/**
 * How long after the last call ended the process counts as busy, so that
 * the next call is awaited turning: longer than the gap between the calls
 * of one run, or between back-to-back runs (a fraction of a millisecond).
 */
export const IDLE_AFTER_MS = 10;

/** When (performance.now()) the last call under whileAwake ended. */
let lastEnd = Number.NEGATIVE_INFINITY;

/** Until when (performance.now()) the loop may turn: the latest of the waiting calls' limits. */
let until = 0;

/** Threads of native calls in flight under whileAwake. */
let busyThreads = 0;
/** Calls in flight under whileAwake. */
let waiting = 0;
/** Whether a setImmediate chain is scheduled. */
let turning = false;

function coreFree(): boolean {
  return busyThreads < availableParallelism();
}

function turn(): void {
  if (waiting > 0 && coreFree() && performance.now() < until) setImmediate(turn);
  else turning = false;
}

/**
 * `call()`'s result, awaited with the event loop turning while it runs (for
 * SPIN_MAX_MS at most), if a core is free for that beside the call's
 * `threads` threads and another call ended less than IDLE_AFTER_MS ago.
 */
export async function whileAwake<T>(threads: number, call: () => Promise<T>): Promise<T> {
  waiting++;
  busyThreads += threads;
  until = Math.max(until, performance.now() + SPIN_MAX_MS);
  try {
    if (!turning && coreFree() && performance.now() - lastEnd < IDLE_AFTER_MS) {
      turning = true;
      setImmediate(turn);
    }
    return await call();
  } finally {
    waiting--;
    busyThreads -= threads;
    lastEnd = performance.now();
  }
}

/** Whether the event loop is being kept turning now (for tests and diagnostics). */
export function isTurning(): boolean {
  return turning;
}
