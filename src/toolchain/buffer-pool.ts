// A buffer pool linked into every compiled library (LLVM IR, like
// runtime-support.ts). Compiled code allocates its intermediate tensors on
// every run (memref.alloc in the units, temporaries in the sequence
// drivers); for convolutional models these are megabytes each, and glibc
// hands such blocks back to the kernel on free (mmap, or trimming of the
// worker thread's arena), so each run page-faulted all of them in again —
// for PP-OCR det ~25,000 faults, a quarter of the run time. ONNX Runtime
// keeps an arena for the same reason.
//
// Blocks of at least POOL_MIN_BYTES (rounded up to pages) are kept on free
// in a table of POOL_SLOTS and handed out again for the same size: a model's
// sizes recur exactly on every run. Smaller blocks go straight to malloc.
// Each block has a header just before the pointer handed out: its total size
// at -16, the header size (= its alignment, at least 64) at -8. One spin
// lock guards the table (OpenMP threads may allocate inside parallel loops;
// the critical section is a scan of the table). ortmlir_pool_drain (called
// when the library is closed) frees what the table holds.
//
// MLIR calls _mlir_memref_to_llvm_alloc/_aligned_alloc/_free under
// --finalize-memref-to-llvm=use-generic-functions; the drivers call
// ortmlir_alloc/ortmlir_free directly.
import { POOL_DRAIN_SYMBOL } from '../native/pool-abi.js';

/** Blocks below this size are not pooled (malloc serves them from its bins without faults). */
const POOL_MIN_BYTES = 64 * 1024;
/** Free blocks the pool keeps at most; beyond, blocks go back to libc. */
const POOL_SLOTS = 256;
const PAGE_BYTES = 4096;
/** Header size and the smallest alignment handed out (a cache line). */
const MIN_ALIGN = 64;


const TABLE = `[${POOL_SLOTS} x ptr]`;

export const POOL_LLVM_IR = `declare ptr @aligned_alloc(i64, i64)
declare void @free(ptr)

@ortmlir_pool = internal global ${TABLE} zeroinitializer
@ortmlir_pool_mutex = internal global i32 0

define internal void @ortmlir_pool_lock() {
entry:
  br label %spin
spin:
  %r = cmpxchg ptr @ortmlir_pool_mutex, i32 0, i32 1 acquire monotonic
  %ok = extractvalue { i32, i1 } %r, 1
  br i1 %ok, label %done, label %spin
done:
  ret void
}

define internal void @ortmlir_pool_unlock() {
entry:
  store atomic i32 0, ptr @ortmlir_pool_mutex release, align 4
  ret void
}

define internal i64 @ortmlir_block_total(ptr %p) {
entry:
  %tp = getelementptr inbounds i8, ptr %p, i64 -16
  %t = load i64, ptr %tp
  ret i64 %t
}

define internal i64 @ortmlir_block_header(ptr %p) {
entry:
  %hp = getelementptr inbounds i8, ptr %p, i64 -8
  %h = load i64, ptr %hp
  ret i64 %h
}

; A pooled block with this total and header size, removed from the table; null if none.
define internal ptr @ortmlir_pool_take(i64 %total, i64 %hdr) {
entry:
  call void @ortmlir_pool_lock()
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %next ]
  %slot = getelementptr inbounds ${TABLE}, ptr @ortmlir_pool, i64 0, i64 %i
  %p = load ptr, ptr %slot
  %used = icmp ne ptr %p, null
  br i1 %used, label %check, label %next
check:
  %t = call i64 @ortmlir_block_total(ptr %p)
  %h = call i64 @ortmlir_block_header(ptr %p)
  %st = icmp eq i64 %t, %total
  %sh = icmp eq i64 %h, %hdr
  %same = and i1 %st, %sh
  br i1 %same, label %hit, label %next
hit:
  store ptr null, ptr %slot
  call void @ortmlir_pool_unlock()
  ret ptr %p
next:
  %i.next = add i64 %i, 1
  %more = icmp ult i64 %i.next, ${POOL_SLOTS}
  br i1 %more, label %loop, label %miss
miss:
  call void @ortmlir_pool_unlock()
  ret ptr null
}

; Puts a block into a free slot; false when the table is full.
define internal i1 @ortmlir_pool_put(ptr %p) {
entry:
  call void @ortmlir_pool_lock()
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %next ]
  %slot = getelementptr inbounds ${TABLE}, ptr @ortmlir_pool, i64 0, i64 %i
  %q = load ptr, ptr %slot
  %free = icmp eq ptr %q, null
  br i1 %free, label %store, label %next
store:
  store ptr %p, ptr %slot
  call void @ortmlir_pool_unlock()
  ret i1 true
next:
  %i.next = add i64 %i, 1
  %more = icmp ult i64 %i.next, ${POOL_SLOTS}
  br i1 %more, label %loop, label %full
full:
  call void @ortmlir_pool_unlock()
  ret i1 false
}

define hidden ptr @ortmlir_alloc(i64 %align, i64 %size) {
entry:
  %big = icmp ugt i64 %align, ${MIN_ALIGN}
  %hdr = select i1 %big, i64 %align, i64 ${MIN_ALIGN}
  %mask = sub i64 0, %hdr
  %s1 = add i64 %size, %hdr
  %s2 = sub i64 %s1, 1
  %srnd = and i64 %s2, %mask
  %t0 = add i64 %srnd, %hdr
  %pooled = icmp uge i64 %t0, ${POOL_MIN_BYTES}
  br i1 %pooled, label %pool, label %fresh
pool:
  %t1 = add i64 %t0, ${PAGE_BYTES - 1}
  %t = and i64 %t1, ${-PAGE_BYTES}
  %c = call ptr @ortmlir_pool_take(i64 %t, i64 %hdr)
  %hit = icmp ne ptr %c, null
  br i1 %hit, label %reuse, label %fresh
reuse:
  ret ptr %c
fresh:
  %total = phi i64 [ %t0, %entry ], [ %t, %pool ]
  %base = call ptr @aligned_alloc(i64 %hdr, i64 %total)
  %oom = icmp eq ptr %base, null
  br i1 %oom, label %fail, label %ok
fail:
  ret ptr null
ok:
  %user = getelementptr inbounds i8, ptr %base, i64 %hdr
  %tp = getelementptr inbounds i8, ptr %user, i64 -16
  store i64 %total, ptr %tp
  %hp = getelementptr inbounds i8, ptr %user, i64 -8
  store i64 %hdr, ptr %hp
  ret ptr %user
}

define hidden void @ortmlir_free(ptr %p) {
entry:
  %none = icmp eq ptr %p, null
  br i1 %none, label %done, label %some
some:
  %t = call i64 @ortmlir_block_total(ptr %p)
  %pooled = icmp uge i64 %t, ${POOL_MIN_BYTES}
  br i1 %pooled, label %pool, label %release
pool:
  %kept = call i1 @ortmlir_pool_put(ptr %p)
  br i1 %kept, label %done, label %release
release:
  %h = call i64 @ortmlir_block_header(ptr %p)
  %off = sub i64 0, %h
  %base = getelementptr inbounds i8, ptr %p, i64 %off
  call void @free(ptr %base)
  br label %done
done:
  ret void
}

define void @${POOL_DRAIN_SYMBOL}() {
entry:
  call void @ortmlir_pool_lock()
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %next ]
  %slot = getelementptr inbounds ${TABLE}, ptr @ortmlir_pool, i64 0, i64 %i
  %p = load ptr, ptr %slot
  %used = icmp ne ptr %p, null
  br i1 %used, label %release, label %next
release:
  store ptr null, ptr %slot
  %h = call i64 @ortmlir_block_header(ptr %p)
  %off = sub i64 0, %h
  %base = getelementptr inbounds i8, ptr %p, i64 %off
  call void @free(ptr %base)
  br label %next
next:
  %i.next = add i64 %i, 1
  %more = icmp ult i64 %i.next, ${POOL_SLOTS}
  br i1 %more, label %loop, label %done
done:
  call void @ortmlir_pool_unlock()
  ret void
}

define hidden ptr @_mlir_memref_to_llvm_alloc(i64 %size) {
entry:
  %p = call ptr @ortmlir_alloc(i64 ${MIN_ALIGN}, i64 %size)
  ret ptr %p
}

define hidden ptr @_mlir_memref_to_llvm_aligned_alloc(i64 %align, i64 %size) {
entry:
  %p = call ptr @ortmlir_alloc(i64 %align, i64 %size)
  ret ptr %p
}

define hidden void @_mlir_memref_to_llvm_free(ptr %p) {
entry:
  call void @ortmlir_free(ptr %p)
  ret void
}
`;
