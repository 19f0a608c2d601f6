// Host buffers that native code reads and writes: where they come from and
// where they start.
//
// Host buffers of a run (graph outputs, values passed between steps) are
// fresh ArrayBuffers, which Node allocates with calloc. glibc serves large
// allocations with fresh mmap()s and hands freed heap tops back to the
// kernel, so native code writing such a buffer takes a page fault per 4 KiB:
// MatMul 512³'s 1 MiB output is 256 faults, about 0.35 ms of a 2.5 ms run.
// onnxruntime's CPU arena (SessionOptions.enableCpuMemArena, on by default)
// keeps its memory for the next run; with the same option we ask glibc to do
// the same for ours: large blocks come from the heap and freed ones stay
// mapped up to a bound. It is process-wide (mallopt), set once, and a no-op
// where the C library is not glibc.
import koffi from 'koffi';
import { open } from 'node:fs/promises';

/** mallopt parameters (glibc malloc.h). */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
/** glibc's largest mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX): blocks up to this size come from the heap. */
const HEAP_BLOCK_MAX_BYTES = 32 * 1024 * 1024;
/** Freed memory at the top of the heap beyond this goes back to the system (bounds what a finished workload keeps). */
const RETAINED_MAX_BYTES = 256 * 1024 * 1024;

let state: 'unset' | 'retained' | 'unavailable' = 'unset';

/**
 * Makes freed host buffers reusable without page faults (see the header).
 * Returns whether the C library took the settings; later calls return the
 * first call's answer.
 */
export function retainFreedHostMemory(): boolean {
  if (state === 'unset') state = applyMallopt() ? 'retained' : 'unavailable';
  return state === 'retained';
}

function applyMallopt(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const libc = koffi.load('libc.so.6');
    const mallopt = libc.func('int mallopt(int param, int value)');
    // mallopt returns 1 on success; both or neither, so that the heap is not grown without being kept.
    return mallopt(M_TRIM_THRESHOLD, RETAINED_MAX_BYTES) === 1 && mallopt(M_MMAP_THRESHOLD, HEAP_BLOCK_MAX_BYTES) === 1;
  } catch {
    // Not glibc (musl has no libc.so.6 or no mallopt): keep the system's behaviour.
    return false;
  }
}

/**
 * Where native code streams through a host buffer (packed weights, outputs),
 * it should start on a cache line: Node's large ArrayBuffers come from
 * malloc, 16 bytes past one, and then every 64-byte vector load or store of
 * the kernels spans two lines. 64 = a cache line = an AVX-512 vector.
 */
export const HOST_ALIGNMENT = 64;

type Identity = (view: Uint8Array, value: number, count: number) => number | bigint;
let identity: Identity | null | undefined;

/**
 * memset(p, 0, 0): writes nothing and returns p, declared as an integer so
 * that koffi hands back the address as a number (a pointer result would be
 * an object for koffi.address and a BigInt: three times the cost, on every
 * run output).
 */
function pointerIdentity(): Identity | null {
  if (identity !== undefined) return identity;
  try {
    identity = koffi.load(process.platform === 'linux' ? 'libc.so.6' : 'libc.dylib').func('uintptr_t memset(void *p, int value, size_t count)') as Identity;
  } catch {
    identity = null;
  }
  return identity;
}

/** The address of `view`'s first byte, or null where the C library cannot be reached. */
export function addressOf(view: Uint8Array): number | null {
  const fn = pointerIdentity();
  if (!fn || view.byteLength === 0) return null;
  // User-space addresses fit a double exactly; koffi gives a BigInt only past 2^53.
  return Number(fn(view, 0, 0));
}

/** Bytes past the last HOST_ALIGNMENT boundary at or before `view`'s start (0 where the address is unknown). */
function misalignment(view: Uint8Array): number {
  const address = addressOf(view);
  return address === null ? 0 : address % HOST_ALIGNMENT;
}

/** A fresh, uninitialised buffer of `bytes` starting on a HOST_ALIGNMENT boundary (a view into a slightly larger ArrayBuffer). */
export function alignedBytes(bytes: number): Uint8Array {
  const raw = Buffer.allocUnsafeSlow(bytes + HOST_ALIGNMENT);
  const whole = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  const start = (HOST_ALIGNMENT - misalignment(whole)) % HOST_ALIGNMENT;
  return whole.subarray(start, start + bytes);
}

/** `view` itself if it starts on a HOST_ALIGNMENT boundary, else an aligned copy. */
export function aligned(view: Uint8Array): Uint8Array {
  if (misalignment(view) === 0) return view;
  const copy = alignedBytes(view.byteLength);
  copy.set(view);
  return copy;
}

/** The whole file at `path` in a buffer from alignedBytes (a module file's blobs sit at aligned offsets in it, so they need no copy). */
export async function readFileAligned(path: string): Promise<Uint8Array> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const out = alignedBytes(size);
    for (let at = 0; at < size;) {
      const { bytesRead } = await file.read(out, at, size - at, at);
      if (bytesRead === 0) return out.subarray(0, at);
      at += bytesRead;
    }
    return out;
  } finally {
    await file.close();
  }
}
