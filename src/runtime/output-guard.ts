// Fresh output buffers of native steps end in a guard zone of known bytes.
// Native code writes outputs in place (no copy from a buffer of its own), so
// a lowering that writes past an output's end would corrupt the JavaScript
// heap and crash the process later, far from the cause. The guard absorbs a
// short overrun and the check after each call turns it into an error that
// names the step and the output.
import { alignedBytes } from '../native/host-memory.js';

const GUARD_BYTES = 64;
const GUARD_VALUE = 0xa5;
/** The views guardedBuffer made: only they have a guard (a caller's buffer may sit inside a larger one). */
const guarded = new WeakSet<Uint8Array>();

/**
 * A buffer of `bytes`, followed in its ArrayBuffer by the guard zone. Not
 * zero-filled: the native step defines every byte of its outputs (a tensor
 * result is whole by construction), and filling first cost a pass over each
 * output per run (rec's 1 MB scores, det's 1.6 MB map).
 */
export function guardedBuffer(bytes: number): Uint8Array {
  const whole = alignedBytes(bytes + GUARD_BYTES);
  whole.fill(GUARD_VALUE, bytes);
  const view = whole.subarray(0, bytes);
  guarded.add(view);
  return view;
}

/** Whether the guard zone after `view` is untouched (true for views guardedBuffer did not make). */
export function guardIntact(view: Uint8Array): boolean {
  if (!guarded.has(view)) return true;
  const guard = new Uint8Array(view.buffer, view.byteOffset + view.byteLength, GUARD_BYTES);
  return guard.every((v) => v === GUARD_VALUE);
}
