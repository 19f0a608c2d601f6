// Runtime support linked into compiled libraries that need it. MLIR lowers a
// strided memref.copy to a call of `memrefCopy`, which normally lives in MLIR's
// runner-utils library; a module must not depend on that (runtime-only mode
// has no toolchain), so an equivalent is compiled from this LLVM IR instead.
// ABI (mlir/ExecutionEngine/CRunnerUtils): memrefCopy(i64 elemSize,
// UnrankedMemRef *src, UnrankedMemRef *dst), UnrankedMemRef = { i64 rank,
// ptr descriptor }, descriptor = { ptr allocated, ptr aligned, i64 offset,
// i64 sizes[rank], i64 strides[rank] }. Hidden: each library binds its own.
// A contiguous innermost row is copied 64 bytes at a time inline: the rows are
// short (a pad's interior: 80 floats of rec's 240×12×80 maps, 2880 rows), and
// a memcpy call per row cost more than the copy (det: memmove was 10 % of a run).
// From 128 bytes on, the stores are aligned: the first and last 64 bytes are
// copied unaligned and the chunks between start at the destination's next
// 64-byte boundary (rewriting a few bytes twice; source and destination of a
// memref.copy do not overlap). A pad's interior starts a column or two into
// its row, and every unaligned 64-byte store there crossed two cache lines.
//
// It also defines __truncsfbf2 (f32 → bf16, round to nearest even, NaN kept
// a quiet NaN), which compiler-rt would provide. Casts to bf16 are integer
// arithmetic already (pipeline.ts, BF16_EXPAND_PASSES), but without
// AVX512-BF16 the x86 backend widens a select of bf16 vectors (LLVM's
// vectorizer moves the cast's NaN select after the bitcast to bf16) to f32
// and truncates the result back by calling it: a 13-element cast, whose
// vector loop is masked, failed to load for the missing symbol.

/** Symbols this support code defines that LLVM IR calls by name. */
const CALLED_SYMBOLS: readonly string[] = ['@memrefCopy'];

/** Whether a unit's optimised LLVM IR may need this support code: it calls one of its functions, or uses bf16 (whose legalization may). */
export function needsSupport(ir: string): boolean {
  return CALLED_SYMBOLS.some((s) => ir.includes(`declare void ${s}(`)) || /\bbfloat\b/.test(ir);
}

export const SUPPORT_LLVM_IR = `declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)

define hidden bfloat @__truncsfbf2(float %x) {
  %b = bitcast float %x to i32
  %nan = fcmp uno float %x, %x
  %high = lshr i32 %b, 16
  %odd = and i32 %high, 1
  %bias = add i32 %odd, 32767
  %rounded = add i32 %b, %bias
  %top = lshr i32 %rounded, 16
  %even = trunc i32 %top to i16
  %truncated = trunc i32 %high to i16
  %quiet = or i16 %truncated, 64
  %v = select i1 %nan, i16 %quiet, i16 %even
  %r = bitcast i16 %v to bfloat
  ret bfloat %r
}

define internal void @ortmlir_copy_dim(i64 %dim, i64 %rank, i64 %esz, ptr %sizes, ptr %sstr, ptr %dstr, ptr %sp, ptr %dp) {
entry:
  %done = icmp eq i64 %dim, %rank
  br i1 %done, label %elem, label %loop.pre
elem:
  call void @llvm.memcpy.p0.p0.i64(ptr %dp, ptr %sp, i64 %esz, i1 false)
  ret void
loop.pre:
  %n.p = getelementptr inbounds i64, ptr %sizes, i64 %dim
  %n = load i64, ptr %n.p
  %ss.p = getelementptr inbounds i64, ptr %sstr, i64 %dim
  %ss = load i64, ptr %ss.p
  %ds.p = getelementptr inbounds i64, ptr %dstr, i64 %dim
  %ds = load i64, ptr %ds.p
  %last = add i64 %dim, 1
  %innermost = icmp eq i64 %last, %rank
  %s1 = icmp eq i64 %ss, 1
  %d1 = icmp eq i64 %ds, 1
  %u = and i1 %s1, %d1
  %contig = and i1 %innermost, %u
  br i1 %contig, label %row, label %check
row:
  %bytes = mul i64 %n, %esz
  %long = icmp uge i64 %bytes, 128
  br i1 %long, label %arow, label %short
arow:
  %v0 = load <16 x i32>, ptr %sp, align 1
  store <16 x i32> %v0, ptr %dp, align 1
  %dpi = ptrtoint ptr %dp to i64
  %mis = and i64 %dpi, 63
  %start = sub i64 64, %mis
  %end = sub i64 %bytes, 64
  br label %acheck
acheck:
  %off = phi i64 [ %start, %arow ], [ %off.next, %aloop ]
  %fits = icmp ule i64 %off, %end
  br i1 %fits, label %aloop, label %alast
aloop:
  %as = getelementptr inbounds i8, ptr %sp, i64 %off
  %ad = getelementptr inbounds i8, ptr %dp, i64 %off
  %av = load <16 x i32>, ptr %as, align 1
  store <16 x i32> %av, ptr %ad, align 64
  %off.next = add i64 %off, 64
  br label %acheck
alast:
  %ls = getelementptr inbounds i8, ptr %sp, i64 %end
  %ld = getelementptr inbounds i8, ptr %dp, i64 %end
  %lv = load <16 x i32>, ptr %ls, align 1
  store <16 x i32> %lv, ptr %ld, align 1
  ret void
short:
  %chunks = lshr i64 %bytes, 6
  %has = icmp ne i64 %chunks, 0
  br i1 %has, label %vloop, label %vdone
vloop:
  %k = phi i64 [ 0, %short ], [ %k.next, %vloop ]
  %voff = shl i64 %k, 6
  %vs = getelementptr inbounds i8, ptr %sp, i64 %voff
  %vd = getelementptr inbounds i8, ptr %dp, i64 %voff
  %v = load <16 x i32>, ptr %vs, align 1
  store <16 x i32> %v, ptr %vd, align 1
  %k.next = add i64 %k, 1
  %vmore = icmp ult i64 %k.next, %chunks
  br i1 %vmore, label %vloop, label %vdone
vdone:
  %head = shl i64 %chunks, 6
  %rest = sub i64 %bytes, %head
  %tailp = icmp ne i64 %rest, 0
  br i1 %tailp, label %tail, label %rowexit
tail:
  %ts = getelementptr inbounds i8, ptr %sp, i64 %head
  %td = getelementptr inbounds i8, ptr %dp, i64 %head
  call void @llvm.memcpy.p0.p0.i64(ptr %td, ptr %ts, i64 %rest, i1 false)
  br label %rowexit
rowexit:
  ret void
check:
  %sstep = mul i64 %ss, %esz
  %dstep = mul i64 %ds, %esz
  %empty = icmp sle i64 %n, 0
  br i1 %empty, label %exit, label %loop
loop:
  %i = phi i64 [ 0, %check ], [ %i.next, %loop ]
  %so = mul i64 %i, %sstep
  %do = mul i64 %i, %dstep
  %sq = getelementptr inbounds i8, ptr %sp, i64 %so
  %dq = getelementptr inbounds i8, ptr %dp, i64 %do
  call void @ortmlir_copy_dim(i64 %last, i64 %rank, i64 %esz, ptr %sizes, ptr %sstr, ptr %dstr, ptr %sq, ptr %dq)
  %i.next = add i64 %i, 1
  %more = icmp slt i64 %i.next, %n
  br i1 %more, label %loop, label %exit
exit:
  ret void
}

define hidden void @memrefCopy(i64 %esz, ptr %src, ptr %dst) {
entry:
  %rank = load i64, ptr %src
  %sd.p = getelementptr inbounds i8, ptr %src, i64 8
  %sd = load ptr, ptr %sd.p
  %dd.p = getelementptr inbounds i8, ptr %dst, i64 8
  %dd = load ptr, ptr %dd.p
  %sa.p = getelementptr inbounds i8, ptr %sd, i64 8
  %sa = load ptr, ptr %sa.p
  %da.p = getelementptr inbounds i8, ptr %dd, i64 8
  %da = load ptr, ptr %da.p
  %so.p = getelementptr inbounds i8, ptr %sd, i64 16
  %so = load i64, ptr %so.p
  %do.p = getelementptr inbounds i8, ptr %dd, i64 16
  %do = load i64, ptr %do.p
  %sob = mul i64 %so, %esz
  %dob = mul i64 %do, %esz
  %sp = getelementptr inbounds i8, ptr %sa, i64 %sob
  %dp = getelementptr inbounds i8, ptr %da, i64 %dob
  %sizes = getelementptr inbounds i8, ptr %sd, i64 24
  %sstr = getelementptr inbounds i64, ptr %sizes, i64 %rank
  %dsizes = getelementptr inbounds i8, ptr %dd, i64 24
  %dstr = getelementptr inbounds i64, ptr %dsizes, i64 %rank
  call void @ortmlir_copy_dim(i64 0, i64 %rank, i64 %esz, ptr %sizes, ptr %sstr, ptr %dstr, ptr %sp, ptr %dp)
  ret void
}
`;
