/*
 * mw_core.h — internals shared by the shim's core files (thread.c, ring.c, writer.c, live.c,
 * stack.c, modules.c, hooks_*.c, process.c, init.c). Other preload/ files (SQL hooks, watch
 * core) use only mw_shim.h; this header is the map of the tracing engine underneath it.
 *
 * Concurrency model: every thread owns an SPSC byte ring (ring.c) that only it writes and only
 * the writer thread (writer.c) reads; every thread keeps the blocks it allocated in its own
 * live-block table (live.c: a spinlock other threads take only to free one of its blocks);
 * the stack tree (stack.c) is sharded with per-shard spinlocks; the thread registry
 * (thread.c) is a fixed array of atomic slots. No lock is held while a thread waits for ring
 * space.
 */
#ifndef MW_CORE_H
#define MW_CORE_H

#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

#include "mw_shim.h"

#define MW_MAX_THREADS 8192u       /* registry slots (live threads + not yet drained ones) */
#define MW_CACHE_FRAMES 256u       /* per-thread stack cache; MEMWATCH_STACK_DEPTH <= this */
#define MW_TIME_RESERVE 12u        /* bytes a TIME record may add in front of any record */
#define MW_ICACHE 512u             /* per-thread (parent, ip) -> node cache entries (power of 2) */
#define MW_ALT_STACK (64u * 1024u) /* a thread's alternate signal stack (fatal.c) */
#define MW_UNW_STACK (64u * 1024u) /* the stack a full capture unwinds on (stack.c) */

/* ---- per-thread state ---------------------------------------------------------------- */
typedef struct mw_frame {
    uintptr_t slot;     /* address of the stack slot holding the return address */
    uintptr_t ret;      /* the return address */
    uint64_t node;      /* interned id of the stack from the outermost frame down to this one */
} mw_frame;

/* One live heap block in a live-block table (live.c). */
typedef struct mw_live_entry {
    uintptr_t addr;     /* 0 = empty */
    size_t size;
    uint64_t tidx;
    uint64_t seq;
} mw_live_entry;

/* A live-block table: open addressing behind a spinlock that its owner thread does without
 * while no other thread comes (biased: live.c, live_impl.h). */
typedef struct mw_ltab {
    atomic_flag lock;
    _Atomic uint8_t mode;   /* MW_LT_LOCKED (0) or MW_LT_BIASED: the owner enters without the lock */
    _Atomic uint8_t busy;   /* biased: the owner is inside an operation */
    uint32_t cap;       /* power of two, 0 before first use */
    uint32_t count;
    uint32_t limit;     /* the most blocks cap slots may hold (live_impl.h); 0 with cap */
    uint32_t locked_ops;    /* the owner's operations under the lock since it last looked */
    uint32_t remote, remote_seen; /* other threads' lockings (under the lock); at that look */
    mw_live_entry *tab;
} mw_ltab;

/* The flags a fork the shim does not see must not carry into the child: a raw fork(2) or
 * clone(2) system call, glibc's _Fork (no atfork handlers). Such a child would go on writing
 * into its parent's rings (shared memory: the parent's records clobbered) and wait for a
 * writer thread it does not have. They live alone in a page marked MADV_WIPEONFORK, so every
 * child reads them as 0 until the shim sets it up (the atfork child handler of fork()); a
 * child that never gets set up runs untraced (mw_not_own). */
typedef struct mw_fork_page {
    _Atomic int alloc_hot;  /* 1 while allocation hooks record (state ON and preloaded): the
                               one flag the hot path reads */
    _Atomic int own;        /* 1: this process set up the shim's state (rings, writer) */
    char pad[4096 - 2 * sizeof(int)];
} mw_fork_page;
extern mw_fork_page mw_fp;
#define mw_alloc_hot (mw_fp.alloc_hot)
static inline bool mw_own(void) { return MW_LIKELY(atomic_load_explicit(&mw_fp.own, memory_order_relaxed) != 0); }
void mw_not_own(void);   /* a child of a fork the shim did not see: tracing off, here only */

struct mw_thread {
    /* producer side of the ring (only this thread writes these) */
    uint8_t *ring;              /* ring_size bytes, mapped twice back to back (mirror) */
    uint64_t ring_size, mask;
    uint64_t head_local;        /* bytes produced, including unpublished ones */
    uint64_t seq;               /* ALLOC/REALLOC records written so far */
    uint64_t prev_addr;         /* encoder's address-delta base */
    mw_alloc_last alloc_last;   /* kind and stack of the last full ALLOC written (ALLOC_SAME) */
    mw_node_last node_last;     /* id and ip of the last STACK_NODE_D written */
    uint64_t sql_base;          /* encoder's SQL ctx-delta base (mw_enc_sql_begin_d) */
    uint64_t last_clock;        /* coarse clock value of the last TIME written */
    int nest;                   /* reserve/commit depth */
    uint32_t tidx;
    /* shared with the writer */
    _Atomic uint64_t head;      /* published bytes */
    _Atomic uint64_t tail;      /* consumed bytes (writer) */
    _Atomic int exited;         /* 1: thread is gone (a new thread may take the state over),
                                   2: the writer claimed it to drain and recycle */
    uint32_t parent_tidx;
    pid_t tid;
    pthread_t pth;
    uintptr_t stack_lo, stack_hi, tls_lo, tls_hi;
    int slot;                   /* registry slot */
    /* context read by SQL hooks and the watch core */
    uint64_t sql_ctx, sql_fp;
    bool has_loc;
    int loc_line;
    char loc_file[256];
    char loc_func[128];
    /* stack cache (stack.c) */
    unsigned cache_n;
    bool cache_slots_ok;        /* cache[].slot all known: the fast path may use the cache */
    bool cache_trunc;           /* the cached stack was cut at the depth limit (outer frames missing) */
    uint8_t slots_backoff;      /* log2 of the slot searches to skip after useless ones (stack.c) */
    uint8_t partial_backoff;    /* log2 of the partial captures to skip after failed ones (stack.c) */
    uint32_t slots_skip;        /* slot searches still to skip */
    uint32_t partial_skip;      /* partial captures still to skip */
    uint64_t slots_seq;         /* seq when the slots were last found */
    mw_frame cache[MW_CACHE_FRAMES];
    struct { uint64_t parent, ip, id; } icache[MW_ICACHE]; /* per-thread intern cache */
    /* a full capture's work arrays (stack.c), here rather than on the program's stack, which
     * may be as small as PTHREAD_STACK_MIN: a capture never nests within a thread */
    void *unw_ips[MW_CACHE_FRAMES + 16];
    mw_frame unw_fr[MW_CACHE_FRAMES];
    void *unw_stack;            /* the stack libunwind runs on (stack.c), kept with the state */
    void *alt_stack;            /* its alternate signal stack (fatal.c, MW_ALT_STACK bytes), kept
                                   with the state */
    uint32_t full_captures;     /* full captures so far, up to STEP_CAPTURES (stack.c) */
    /* the program a vfork child of this thread exec'd (process.c): written by the child (it
     * shares the memory, and this thread waits meanwhile), recorded by this thread as vfork
     * returns; "" when the child exec'd nothing (yet) */
    char vfork_exec[1024];
    /* writer side: coded runs (formats/mw_runs.h), touched only by the writer thread */
    mw_window win;              /* rank window of this thread's stream */
    bool runs_off;              /* a record did not parse: copy this thread's records as they are */
    uint64_t ring_counted;      /* bytes of the ring the writer counts as resident: as far as it
                                   was ever written (writer.c, drain_one), kept with the ring */
    /* the blocks this thread allocated (live.c); last, on its own cache line, and never
     * cleared when the state is recycled (another thread may hold its lock) */
    _Alignas(64) mw_ltab lt;
};

/* TLS of the calling thread (initial-exec, no allocation on first access). */
extern __thread mw_thread *mw_tls_self;
extern __thread int mw_tls_guard;       /* >0: inside the shim (or a vfork child) */
extern __thread int mw_tls_dead;        /* MW_DEAD_EXITING: this thread's state was released
                                           (exiting); MW_DEAD_STATELESS: it never got one (past
                                           the registry's slots, or no memory) */
#define MW_DEAD_EXITING 1
#define MW_DEAD_STATELESS 2
extern __thread int mw_tls_internal;    /* >0: inside shim code entered via mw_guard_enter */
extern __thread int mw_tls_deferred_sig, mw_tls_deferred_code; /* a fatal signal that came
                                           inside the shim's code (fatal.c), acted on as it is
                                           left (mw_guard_leave) */
/* Records the deferred signal in t (with the caller's stack: with_stack), flushes and dies of
 * it (fatal.c) */
void mw_fatal_deferred(mw_thread *t, bool with_stack);
#define MW_GUARD_VFORK (1 << 20)        /* guard value of a vfork child (process.c) */
/* This thread is inside one of the shim's hooks and not in the shim's own code: a signal
 * handler that interrupted the hook is running (its allocations are counted lost, its forks
 * take process.c's and init.c's special paths). */
static inline bool mw_in_interrupted_hook(void)
{
    return mw_tls_guard > 0 && mw_tls_guard < MW_GUARD_VFORK && !mw_tls_internal;
}

/* thread.c */
mw_thread *mw_self_slow(void);
void mw_threads_reset_after_fork(void);
void mw_threads_mark_exited(mw_thread *t);
/* Iterates registry slots [0, high-water); returns the thread in slot i or NULL. */
unsigned mw_registry_hwm(void);
mw_thread *mw_registry_get(unsigned i);
/* writer: an exited thread's state, for release (false: a new thread took it over) */
bool mw_registry_claim(mw_thread *t);
void mw_registry_release(unsigned i, mw_thread *t); /* writer: drained claimed state */
void mw_thread_emit_start(mw_thread *t);
void mw_threads_init(void);
void mw_threads_orphan_init(void);
mw_thread *mw_threads_stream_new(const char *name, size_t len); /* no thread's: orphan, inherited */
/* inherit.c: fork's prepare and parent handlers, the child handler's note of where the
 * parent's blocks are (first thing in the child), and their recording once the child needs
 * them */
void mw_inherit_prepare(void);
void mw_inherit_parent(void);
void mw_inherit_child(void);
bool mw_inherit_now(void); /* true: recorded during the call (here, or by a thread it waited for) */
bool mw_inherit_pending(void); /* the parent's blocks are not recorded yet */
/* whether [lo, hi) holds a stack of an ancestor's thread that was alive at a fork (a root
 * of this fork child's exit scan; reach_roots.c) */
bool mw_inherit_dead_stack(uintptr_t lo, uintptr_t hi);
/* whether this process has forked or is a fork child: pages maybe shared copy-on-write */
bool mw_inherit_shares_pages(void);
/* reach_roots.c: whether the calling thread is the process's only one besides the shim's own
 * (from /proc/self/task; false when it cannot be read). Async-signal-safe. */
bool mw_alone_in_process(void);
mw_thread *mw_orphan_acquire(void);  /* shared stream for exiting threads (locked) */
void mw_orphan_release(void);

/* The calling thread's state for a hook's record, or the shared orphan stream (locked, *orphan
 * set: release it with mw_release) for a thread that has none: one that is exiting, or one
 * whose state could not be set up (more threads at once than registry slots, no memory).
 * NULL only while nothing is traced. The orphan stream's stack cache belongs to whichever
 * thread used it last, so it is emptied here; mw_stack_ok says whether to unwind at all. */
static inline mw_thread *mw_acquire(bool *orphan)
{
    mw_thread *t = mw_tls_self;
    *orphan = false;
    if (MW_LIKELY(t)) return t;
    if (!mw_tls_dead) {
        t = mw_self_slow();
        if (t || !mw_tls_dead) return t;
    }
    t = mw_orphan_acquire();
    if (t) {
        *orphan = true;
        t->cache_n = 0; /* cached frames belong to other threads' stacks */
    }
    return t;
}

static inline void mw_release(bool orphan)
{
    if (MW_UNLIKELY(orphan)) mw_orphan_release();
}

/* Whether a record taken through mw_acquire may carry the caller's stack: always through the
 * thread's own state; through the orphan stream only for a live thread without a state (an
 * exiting thread's TLS, which the unwinder uses, may be gone). */
static inline bool mw_stack_ok(bool orphan)
{
    return !orphan || mw_tls_dead == MW_DEAD_STATELESS;
}

/* ring.c */
bool mw_ring_init(mw_thread *t, uint64_t size);
void mw_ring_release(mw_thread *t);
/* The coarse clock, updated by the writer: a multiple of MW_CLOCK_UNIT_NS, with MW_CLOCK_LIVE
 * set while the writer is in write(2) (producers then read the clock themselves). One word, so
 * the hooks' fast path checks both with one comparison. */
extern _Atomic uint64_t mw_clock_ns;
#define MW_CLOCK_UNIT_NS (1ull << 23)     /* its granularity (writer.c) */
#define MW_CLOCK_LIVE 1u
extern _Atomic int mw_writer_alive;      /* 0: nobody drains rings, reserve must not wait */
extern _Atomic int mw_writer_sleeping;
extern _Atomic int mw_writer_futex;
void mw_writer_kick(void);
void mw_writer_space_wake(void);         /* writer: after a drain, wake producers waiting for room */

/* Inline fast path of mw_reserve/mw_commit for the allocation hooks: the common case (room in
 * the ring, no TIME record due, not nested) without a call; anything else goes to ring.c.
 * Only for the allocation hooks: they run only with mw_alloc_hot set, which a child of a fork
 * the shim did not see reads as 0 (mw_fork_page); every other caller goes through mw_reserve,
 * which checks mw_own(). */
static inline uint8_t *mw_reserve_fast(mw_thread *t, size_t need, size_t *cap)
{
    uint64_t tail = atomic_load_explicit(&t->tail, memory_order_acquire);
    if (MW_LIKELY(t->nest == 0 && t->head_local + need + MW_TIME_RESERVE - tail <= t->ring_size &&
                  atomic_load_explicit(&mw_clock_ns, memory_order_relaxed) == t->last_clock)) {
        t->nest = 1;
        *cap = (size_t)(t->ring_size - (t->head_local - tail));
        return t->ring + (t->head_local & t->mask);
    }
    size_t c = 0; /* through a copy: the caller's cap stays in a register on the fast path */
    uint8_t *p = mw_reserve(t, need, &c);
    *cap = c;
    return p;
}

static inline void mw_commit_fast(mw_thread *t, size_t used)
{
    t->head_local += used;
    if (MW_LIKELY(t->nest == 1)) {
        t->nest = 0;
        atomic_store_explicit(&t->head, t->head_local, memory_order_release);
        if (MW_UNLIKELY(t->head_local - atomic_load_explicit(&t->tail, memory_order_relaxed) > t->ring_size / 2) &&
            atomic_load_explicit(&mw_writer_sleeping, memory_order_relaxed))
            mw_writer_kick(); /* a sleeping writer: wake it early */
        return;
    }
    t->head_local -= used;
    mw_commit(t, used);
}

/* A system call made inline (not through glibc's syscall(), which hooks_seccomp.c
 * interposes): the raw return, -errno on failure. */
static inline long mw_raw_syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* A stretch of the shim's own work on a program thread that may reach a cancellation point
 * (libunwind's pipe, /proc reads): a cancellation the program has asked for waits until it is
 * done, as it waits natively for the thread's next cancellation point. Ended there, the
 * thread skipped the cleanup handlers of the program's frames (puts() holding stdout's lock:
 * the next printf of any thread hung) and left the shim's own state half made. */
static inline int mw_nocancel_begin(void)
{
    int s = PTHREAD_CANCEL_ENABLE;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &s);
    return s;
}
static inline void mw_nocancel_end(int s) { pthread_setcancelstate(s, NULL); }

/* A sleep of ns nanoseconds that is not a cancellation point (glibc's nanosleep is one): a
 * thread the program cancels must never end inside the shim's waits, holding a table's lock
 * or with the writer paused (the process would hang). Interrupted by a signal: returns. */
static inline void mw_sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
    mw_raw_syscall6(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0);
}

/* ring.c: contended spinlock (pause, then sleep: with more threads than cores the holder may
 * be preempted, and waiters that stay runnable would keep it off the CPU) */
void mw_spin_lock_slow(atomic_flag *f);
static inline void mw_spin_lock(atomic_flag *f)
{
    if (MW_LIKELY(!atomic_flag_test_and_set_explicit(f, memory_order_acquire))) return;
    mw_spin_lock_slow(f);
}
static inline void mw_spin_unlock(atomic_flag *f) { atomic_flag_clear_explicit(f, memory_order_release); }
bool mw_spin_lock_until(atomic_flag *f, uint64_t deadline_ns); /* false: still busy at the deadline */
bool mw_wait_clear_until(_Atomic uint8_t *flag, uint64_t deadline_ns); /* false: still set then */

/* live.c (the hooks' operations are inline in live_impl.h) */
void mw_live_init(void);
/* An exited thread's state is about to be recycled: its table's blocks move to the shared
 * table of exited threads' blocks (writer thread, from the registry). */
void mw_live_thread_gone(mw_thread *t);

/* hooks_mmap.c: the parts of the data segment the program grew with sbrk/brk itself, at most
 * max of them into lo[]/hi[] (the reachability scan's roots) */
size_t mw_brk_parts(uintptr_t *lo, uintptr_t *hi, size_t max);
void mw_brk_reset_after_fork(void); /* the parts stay (the child's memory is a copy), the lock is freed */

/* hooks_alloc.c: C++ operator new and delete of a foreign malloc, through the shim
 * (hooks_cxx.c). align 0: new's default alignment. fa, ra: the operator's frame. */
void *mw_cxx_alloc(size_t n, size_t align, void *fa, void *ra);
void mw_cxx_note(void *p, size_t n, size_t align, void *fa, void *ra); /* a block its own new made */
void mw_cxx_free(void *p);

/* sanitizers.c: the sanitizer that keeps this process untraced (one with an allocator of its
 * own), its runtime's path into path ("" when in the executable); NULL when none */
const char *mw_sanitizer_in_the_way(char *path, size_t cap);

/* alloc_ranges.c: the mappings of a malloc behind the shim other than the C library's, which
 * are not roots of the reachability scan */
extern bool mw_alloc_foreign;                     /* such a malloc is behind the shim */
enum { MW_ALLOC_UNKNOWN, MW_ALLOC_LIBC, MW_ALLOC_FOREIGN };
extern _Atomic int mw_alloc_mode;                 /* which, once known (mw_alloc_ranges_init) */
void mw_alloc_early_mapped(const void *p, size_t len, const void *ret, bool inside_shim);
void mw_alloc_early_unmapped(const void *p, size_t len);
#define MW_ALLOC_RANGES_MAX 4096u
void mw_alloc_ranges_init(void *real_malloc);     /* at start: the object that defines it (NULL:
                                                     libc's, or nothing to note) */
bool mw_alloc_is_module(uintptr_t load_base);     /* that object (dl_phdr_info.dlpi_addr) */
bool mw_alloc_by(const void *ret);                /* a return address inside that object */
void mw_alloc_mapped(const void *p, size_t len);  /* the allocator mapped this */
void mw_alloc_unmapped(const void *p, size_t len);/* unmapped, or mapped by the program */
size_t mw_alloc_ranges(uintptr_t *lo, uintptr_t *hi, size_t max, unsigned *missed);
void mw_alloc_ranges_after_fork(void);

/* deepbind.c: the allocation calls of objects loaded with RTLD_DEEPBIND go through the shim */
struct dl_phdr_info;
void mw_deepbind_init(void);                            /* at start, under the guard */
void mw_deepbind_redirect(struct dl_phdr_info *info);   /* a newly seen object (modules.c) */

/* init.c: main runs under a wrapper of the shim's (main_wrapper), the one frame of the shim's
 * a program's own backtrace would show; its code is in this section, with hooks_backtrace.c's
 * backtrace() and _Unwind_Backtrace, which leave the frames of its code out (the linker names
 * its bounds __start_/__stop_) */
#define MW_MAIN_SECTION "mw_main_text"
bool mw_in_main_wrapper(uintptr_t pc);
void mw_backtrace_resolve(void); /* the real backtrace() and _Unwind_Backtrace (real.c, at start) */

/* yield.c: a call of the program's that starts a task (pthread_create, fork, a spawn, system,
 * popen) failed for want of one; true when tracing ended to give it the writer thread's task
 * and memory. MW_YIELD_RETRY(what, failed, call): after the program's call, while `failed`
 * holds and the shim gave way, `call` again, up to MW_YIELD_TRIES times a millisecond apart
 * (the kernel lets go of the ended thread's task within a few). */
bool mw_yield_task(const char *what);
void mw_yield_wait(void);
#define MW_YIELD_TRIES 50u
#define MW_YIELD_RETRY(what, failed, call)                                                   \
    do {                                                                                      \
        if ((failed) && mw_yield_task(what))                                                  \
            for (unsigned yield_i_ = 0; yield_i_ < MW_YIELD_TRIES && ((call), (failed)); yield_i_++) \
                mw_yield_wait();                                                              \
    } while (0)

/* stack.c (the fast path is inline here: it runs on every allocation) */
uint64_t mw_stack_capture_slow(mw_thread *t, uintptr_t slot0, uintptr_t ret0);

/* The cached frames k+1.. still hold their return addresses? */
static inline bool mw_cache_valid_above(const mw_thread *t, unsigned k)
{
    /* all of them, differences accumulated: one branch at the end instead of one per frame */
    uintptr_t diff = 0;
    for (unsigned j = k + 1; j < t->cache_n; j++) diff |= *(const uintptr_t *)t->cache[j].slot ^ t->cache[j].ret;
    return diff == 0;
}

/* Index of the cached frame with this slot and return address, or -1 (slots ascend). */
static inline int mw_cache_find(const mw_thread *t, uintptr_t slot, uintptr_t ret)
{
    for (unsigned k = 0; k < t->cache_n; k++) {
        if (t->cache[k].slot < slot) continue;
        if (t->cache[k].slot == slot && t->cache[k].ret == ret) return (int)k;
        return -1;
    }
    return -1;
}

/* Interned stack of a hook's caller: frame is the hook's __builtin_frame_address(0), ret its
 * __builtin_return_address(0). Reuses the previous stack when the caller's frame and all its
 * cached ancestors are unchanged; otherwise unwinds (stack.c). */
static inline uint64_t mw_stack_capture(mw_thread *t, void *frame, void *ret)
{
    if (MW_UNLIKELY(!mw_cfg.stacks || !frame)) return 0;
    uintptr_t slot0 = (uintptr_t)frame + 8, ret0 = (uintptr_t)ret;
    if (MW_LIKELY(t->cache_slots_ok && t->cache_n)) {
        int k = mw_cache_find(t, slot0, ret0);
        /* past a cut stack's innermost frame its frames are no longer the innermost ones a
         * capture keeps: unwind again */
        if (k >= 0 && (k == 0 || !t->cache_trunc) && mw_cache_valid_above(t, (unsigned)k)) {
            if (k > 0) {
                t->cache_n -= (unsigned)k;
                __builtin_memmove(&t->cache[0], &t->cache[k], t->cache_n * sizeof(mw_frame));
            }
            return t->cache[0].node;
        }
    }
    return mw_stack_capture_slow(t, slot0, ret0);
}
void mw_stack_init(void);
void mw_stack_reset_after_fork(void);

/* writer.c */
bool mw_writer_open(void);               /* opens the trace file, writes preamble + header */
void mw_writer_sync_exec(void);          /* same, then END(reason exec) and a frame end */
void mw_writer_after_fork_child(void);
/* chroot(): keep the output directory open first, so that the children made after it can
 * still create their traces there; a fork child that is not traced closes it */
void mw_writer_before_chroot(void);
/* Before the process's effective uid becomes uid (hooks_uid.c): traces of what it starts go
 * to a directory of that user's (writer.c). */
void mw_writer_before_uid_change(uid_t uid);
/* That user's directory, to pass to what the process execs, or -1 (writer.c). */
int mw_writer_user_dir_fd(void);
/* mw_cfg.out_pattern changed: MEMWATCH_OUT in the environment follows it (process_env.c). */
void mw_env_out_changed(void);
/* MEMWATCH_WARNED got a value after start (config.c): passed on from now. */
void mw_env_warned_changed(void);
/* around a change of the process's root: chroot(), syscall(SYS_chroot or SYS_pivot_root)
 * (process.c); _after only when it succeeded */
void mw_root_change_before(void);
/* The shim's fork handlers, when tracing started from a hook and they wait for its
 * constructor: registered now (init.c; before a fork). */
void mw_atfork_pending(void);
void mw_root_change_after(void);
void mw_writer_child_keeps_dir(bool keep);

/* modules.c */
void mw_modules_refresh(mw_thread *t);   /* t NULL: writer context (direct to the stream) */
bool mw_modules_changed(void);
void mw_modules_reset_after_fork(void);

/* writer.c: direct emission from the writer thread itself (no ring) */
void mw_writer_direct(const uint8_t *p, size_t n);

/* init.c */
extern pid_t mw_pid;
extern uint64_t mw_start_mono_ns;
extern int64_t mw_exit_status;
void mw_finish(int64_t status, uint64_t reason); /* once: reach scan, END, close */
void mw_finish_before_exit(int status);          /* _exit()'s: the trace ended, unless in a vfork child */
extern __thread bool mw_vfork_child_ran_exit;    /* set by a vfork child's exit() (init.c) */
void mw_after_vfork_child_exit(void);            /* the parent, back from vfork: its exit ends the trace */
bool mw_stop_tracing(bool end_writer); /* END (reason shutdown) now, untraced from here (init.c) */
void mw_seccomp_before(const char *how); /* a seccomp filter is about to go in (hooks_seccomp.c) */
bool mw_seccomp_installs(long op, unsigned long flags, const void *arg, bool via_prctl);
extern _Atomic int mw_sandboxed;         /* one has: the hooks make no system call of their own */
void mw_lazy_init(void);  /* start tracing from a hook if the constructor has not run yet */
void mw_init_child_after_fork(void);
uint64_t mw_mono_raw_ns(void);

/* process.c */
void mw_process_init(void);
/* filtering our own entry out of LD_PRELOAD */
/* process_env.c: the environment of exec'd and spawned programs (MEMWATCH_FOLLOW) */
void mw_env_strip_self(void);    /* FOLLOW=0: our LD_PRELOAD entry out of environ, at start */
void mw_env_after_chroot(void);  /* the shim out of reach after chroot(): stop passing it on */
void mw_env_drop_self(void);     /* stop passing the shim on to exec'd programs (process_env.c) */
void mw_env_keep_follow(void);   /* FOLLOW=1: what an exec into a new environment gets added */
void mw_env_hide_added(void);    /* takes what a traced parent added out of environ again */
/* envp as it goes to the new program: out[] of mw_exec_env_slots(envp) pointers, buf of
 * mw_exec_env_buf(envp) bytes and mark of MW_EXEC_ENV_MARK bytes hold what is made for it
 * (no allocation: a vfork child calls it). */
#define MW_EXEC_ENV_MARK (32u + 32u * 64u)
bool mw_exec_env_readable(char *const *envp); /* every pointer and string, without a fault */
bool mw_exec_str_readable(const char *s);     /* (process_env.c) */
size_t mw_exec_env_slots(char *const *envp);
size_t mw_exec_env_buf(char *const *envp);
/* Whether the new program gets the shim (its entry, the MEMWATCH_* settings, the user's
 * directory): FOLLOW=1, and the shim can be loaded into it (foreign: a 32-bit program,
 * process.c) and its file opened; not for ldd's listing. */
bool mw_exec_passes_shim(char *const *envp, bool foreign);
/* pass: mw_exec_passes_shim's answer; otherwise no entry of ours */
char *const *mw_exec_env(char *const *envp, char **out, char *buf, char *mark, bool pass);
/* The exec or spawn of path with argv and env, the environment mw_exec_env made of envp,
 * failed with E2BIG: true when env had the shim's variables added, so envp may fit (one line
 * says so when it will). */
bool mw_exec_env_retry(char *const *envp, char *const *env, char *const *argv, const char *path);
/* Around an exec or spawn: the user's directory (writer.c) open across it and named in the
 * environment made for it; _before returns the descriptor for _after (-1: none). */
int mw_exec_dir_fd_before(void);
void mw_exec_dir_fd_after(int fd);
extern const char *mw_self_path;         /* path of this .so (dladdr) */
/* dynsym.c: name's address in the loaded object info, from its dynamic symbol table in memory
 * (a defined function of the default version), or NULL: also for an IFUNC, which sets *ifunc
 * (may be NULL). No allocation, no loader. */
struct dl_phdr_info;
void *mw_dynsym_find(const struct dl_phdr_info *info, const char *name, bool *ifunc);

/* real.c: bootstrap pool for allocations made before the real functions are known */
#define MW_POOL_SIZE (256u * 1024u)
extern unsigned char mw_pool[MW_POOL_SIZE];
static inline bool mw_pool_owns(const void *p)
{
    return (uintptr_t)p - (uintptr_t)mw_pool < MW_POOL_SIZE;
}
void *mw_pool_alloc(size_t size, size_t align);
size_t mw_pool_usable(const void *p);

/* Small helpers without libc allocation */
size_t mw_u64_to_dec(char *buf, uint64_t v);

#endif /* MW_CORE_H */
