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
