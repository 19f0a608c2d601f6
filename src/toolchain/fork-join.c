// The fork-join runtime linked into compiled libraries with parallel loops:
// the part of libomp's ABI that MLIR's OpenMP lowering calls
// (--convert-scf-to-openmp: one omp.parallel around one static omp.wsloop).
// Source of src/toolchain/fork-join-ir.ts (scripts/gen-c-ir.mjs); the
// toolchain has no C compiler, only llc, so the build ships LLVM IR.
//
// Why not libomp: its fork-join waits at the join barrier for every thread of
// the team. On a VM a worker that slept (idle between runs, or a serial stretch
// longer than its spin) can take milliseconds to be scheduled again, and the
// caller waits that long at each such loop (rec at 2 threads: 16.4 ms per run
// with libomp's 1 ms spin, 12.7 ms when its workers never sleep). Here a loop is
// cut into shares that threads claim: the caller runs every share no awake
// worker has claimed, so a late worker costs parallelism, never a wait.
//
// Contract with the generated code (checked by the linker step, which uses
// libomp instead when a module calls anything else): __kmpc_fork_call with one
// argument; inside, one __kmpc_for_static_init_8u (static schedule) and its
// fini, then a __kmpc_barrier that ends the microtask. That barrier is a no-op:
// the fork returns only when every share is done, which is the join the
// barrier stands for, and shares of one thread run one after the other.
#define _GNU_SOURCE
#include <limits.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HIDDEN __attribute__((visibility("hidden")))

typedef void (*microtask_t)(int32_t *gtid, int32_t *btid, void *arg);

enum {
  /* Worker threads at most (the EP's thread option caps at 64 threads). */
  MAX_WORKERS = 63,
  /* Shares per thread of the team: finer shares balance a thread that the
     machine slows (a busy host core) at the price of one call each. */
  SHARES_PER_THREAD = 4,
  /* How long a worker spins for the next loop before it sleeps, when
     KMP_BLOCKTIME does not say (milliseconds, libomp's variable). */
  DEFAULT_SPIN_MS = 1,
  /* Spin iterations between clock reads. */
  SPIN_CHECK = 256,
};

#define NS_PER_MS 1000000L
#define NS_PER_S 1000000000L

/* The loop context of this thread: which share it runs, of how many. */
typedef struct {
  int32_t share;
  int32_t shares;
  int32_t inside;   /* running a share: a nested fork runs inline */
  int32_t request;  /* threads asked by __kmpc_push_num_threads (0: none asked, one thread) */
} context_t;

static __thread context_t ctx = {0, 1, 0, 0};

static struct {
  pthread_mutex_t lock;      /* guards the job fields and the worker list */
  uint32_t gen;              /* futex word: bumped by each job (and by shutdown) */
  microtask_t fn;
  void *arg;
  int32_t shares;            /* shares of the current job */
  int32_t next;              /* next unclaimed share */
  int32_t active;            /* a job is open for claims */
  _Atomic int32_t done;      /* shares finished */
  _Atomic int32_t busy;      /* a caller owns the pool */
  _Atomic int32_t sleepers;
  _Atomic int32_t stop;
  int32_t workers;
  long spin_ns;
  pthread_t threads[MAX_WORKERS];
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .spin_ns = -1};

static inline void cpu_relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * NS_PER_S + t.tv_nsec;
}

static uint32_t load_gen(void) { return __atomic_load_n(&pool.gen, __ATOMIC_SEQ_CST); }

static void futex_wait(uint32_t *word, uint32_t value) {
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake_all(uint32_t *word) {
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Takes the next share of job `gen`; 0 when the job is gone or fully claimed. */
static int claim(uint32_t gen, microtask_t *fn, void **arg, int32_t *share, int32_t *shares) {
  int ok = 0;
  pthread_mutex_lock(&pool.lock);
  if (pool.active && pool.gen == gen && pool.next < pool.shares) {
    *share = pool.next++;
    *shares = pool.shares;
    *fn = pool.fn;
    *arg = pool.arg;
    ok = 1;
  }
  pthread_mutex_unlock(&pool.lock);
  return ok;
}

static void run_share(microtask_t fn, void *arg, int32_t share, int32_t shares) {
  context_t saved = ctx;
  ctx.share = share;
  ctx.shares = shares;
  ctx.inside = 1;
  int32_t tid = share;
  fn(&tid, &tid, arg);
  ctx = saved;
}

/* Runs shares of job `gen` until none is left to claim. */
static void work_on(uint32_t gen) {
  microtask_t fn;
  void *arg;
  int32_t share, shares;
  while (claim(gen, &fn, &arg, &share, &shares)) {
    run_share(fn, arg, share, shares);
    atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
  }
}

/* Waits for a job newer than `seen`: spins spin_ns, then sleeps on the futex. */
static uint32_t await_job(uint32_t seen) {
  long until = now_ns() + pool.spin_ns;
  for (unsigned i = 1;; i++) {
    uint32_t g = load_gen();
    if (g != seen) return g;
    if (i % SPIN_CHECK == 0 && now_ns() > until) break;
    cpu_relax();
  }
  atomic_fetch_add(&pool.sleepers, 1);
  while (load_gen() == seen) futex_wait(&pool.gen, seen);
  atomic_fetch_sub(&pool.sleepers, 1);
  return load_gen();
}

static void *worker_main(void *unused) {
  (void)unused;
  /* Read before stop: a worker that starts after shutdown bumped gen sees stop set. */
  uint32_t seen = load_gen();
  while (!atomic_load(&pool.stop)) {
    seen = await_job(seen);
    if (!atomic_load(&pool.stop)) work_on(seen);
  }
  return NULL;
}

static long spin_from_env(void) {
  const char *s = getenv("KMP_BLOCKTIME");
  if (!s || !*s) return DEFAULT_SPIN_MS * NS_PER_MS;
  if (s[0] == 'i' || s[0] == 'I') return LONG_MAX / 2; /* "infinite" */
  long ms = strtol(s, NULL, 10);
  return ms >= 0 ? ms * NS_PER_MS : DEFAULT_SPIN_MS * NS_PER_MS;
}

/* Starts workers up to `count` (fewer if the system refuses threads, none after shutdown). */
static void ensure_workers(int32_t count) {
  if (count > MAX_WORKERS) count = MAX_WORKERS;
  if (pool.workers >= count) return;
  pthread_mutex_lock(&pool.lock);
  if (pool.spin_ns < 0) pool.spin_ns = spin_from_env();
  while (!atomic_load(&pool.stop) && pool.workers < count &&
         pthread_create(&pool.threads[pool.workers], NULL, worker_main, NULL) == 0)
    pool.workers++;
  pthread_mutex_unlock(&pool.lock);
}

/*
 * Joins the workers before the library's code goes away (dlclose, or exit).
 * A kernel still running on another thread at exit finds the pool stopped
 * and runs its loops alone.
 */
__attribute__((destructor)) static void stop_workers(void) {
  pthread_t joined[MAX_WORKERS];
  pthread_mutex_lock(&pool.lock);
  atomic_store(&pool.stop, 1);
  int32_t n = pool.workers;
  for (int32_t i = 0; i < n; i++) joined[i] = pool.threads[i];
  pool.workers = 0;
  __atomic_add_fetch(&pool.gen, 1, __ATOMIC_SEQ_CST);
  pthread_mutex_unlock(&pool.lock);
  futex_wake_all(&pool.gen);
  for (int32_t i = 0; i < n; i++) pthread_join(joined[i], NULL);
}

/*
 * Wakes the sleeping workers on CPUs other than this thread's. Left to itself
 * the scheduler tends to wake a thread on its waker's CPU (they share
 * caches), where it waits behind the caller's busy loop for a time slice:
 * milliseconds, the lateness this runtime is meant to absorb.
 */
static void wake_elsewhere(void) {
  int here = sched_getcpu();
  cpu_set_t others;
  if (here >= 0 && sched_getaffinity(0, sizeof others, &others) == 0 && CPU_COUNT(&others) > 1) {
    CPU_CLR(here, &others);
    for (int32_t i = 0; i < pool.workers; i++) pthread_setaffinity_np(pool.threads[i], sizeof others, &others);
  }
  futex_wake_all(&pool.gen);
}

static void run_inline(microtask_t fn, void *arg) { run_share(fn, arg, 0, 1); }

HIDDEN int32_t __kmpc_global_thread_num(void *loc) {
  (void)loc;
  return ctx.share;
}

HIDDEN void __kmpc_push_num_threads(void *loc, int32_t gtid, int32_t threads) {
  (void)loc;
  (void)gtid;
  ctx.request = threads;
}

HIDDEN void __kmpc_fork_call(void *loc, int32_t argc, microtask_t fn, void *arg) {
  (void)loc;
  (void)argc;
  int32_t team = ctx.request > 0 ? ctx.request : 1;
  ctx.request = 0;
  if (team > MAX_WORKERS + 1) team = MAX_WORKERS + 1;
  /* Nested loops, a one-thread team, a stopped pool, or one already serving another caller: this thread alone. */
  if (ctx.inside || team == 1 || atomic_load(&pool.stop) || atomic_exchange(&pool.busy, 1)) {
    run_inline(fn, arg);
    return;
  }
  ensure_workers(team - 1);
  int32_t shares = team * SHARES_PER_THREAD;
  pthread_mutex_lock(&pool.lock);
  pool.fn = fn;
  pool.arg = arg;
  pool.shares = shares;
  pool.next = 0;
  pool.active = 1;
  atomic_store(&pool.done, 0);
  uint32_t gen = __atomic_add_fetch(&pool.gen, 1, __ATOMIC_SEQ_CST);
  pthread_mutex_unlock(&pool.lock);
  if (atomic_load(&pool.sleepers) > 0) wake_elsewhere();
  work_on(gen);
  /* Only shares that workers are running remain. */
  while (atomic_load_explicit(&pool.done, memory_order_acquire) < shares) cpu_relax();
  pthread_mutex_lock(&pool.lock);
  pool.active = 0;
  pthread_mutex_unlock(&pool.lock);
  atomic_store(&pool.busy, 0);
}

/* Static schedule (kmp_sch_static): share s of S gets the s-th of S near-equal
   contiguous ranges of [*lower, *upper] (inclusive); an empty range has
   lower = upper + 1, so that the caller's trip count upper - lower + 1 is 0. */
HIDDEN void __kmpc_for_static_init_8u(void *loc, int32_t gtid, int32_t schedule, int32_t *last, uint64_t *lower,
                                      uint64_t *upper, int64_t *stride, int64_t incr, int64_t chunk) {
  (void)loc;
  (void)gtid;
  (void)schedule;
  (void)chunk;
  uint64_t lo = *lower, hi = *upper;
  uint64_t trips = incr == 1 ? hi - lo + 1 : (hi - lo) / (uint64_t)incr + 1;
  uint64_t shares = (uint64_t)ctx.shares, s = (uint64_t)ctx.share;
  uint64_t base = trips / shares, extra = trips % shares;
  uint64_t first = s * base + (s < extra ? s : extra);
  uint64_t count = base + (s < extra ? 1 : 0);
  *last = first + count == trips;
  *stride = (int64_t)(trips * (uint64_t)incr);
  if (count == 0) {
    *lower = hi + 1;
    *upper = hi;
    return;
  }
  *lower = lo + first * (uint64_t)incr;
  *upper = *lower + (count - 1) * (uint64_t)incr;
}

HIDDEN void __kmpc_for_static_fini(void *loc, int32_t gtid) {
  (void)loc;
  (void)gtid;
}

HIDDEN void __kmpc_barrier(void *loc, int32_t gtid) {
  (void)loc;
  (void)gtid;
}
