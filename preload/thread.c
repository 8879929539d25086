/*
 * thread.c — per-thread state: creation on first use, the registry the writer drains, thread
 * start/end/name records, the pthread_create wrapper, the thread stacks the reachability
 * scan uses as roots, and waiting until a thread sits in a given system call (before a
 * seccomp filter goes in).
 *
 * A thread's state (mw_thread, with its ring) is created lazily by mw_self(), registered in a
 * fixed array of slots, and released by a pthread key destructor at thread exit: THREAD_END
 * is written and the slot is marked exited. The next new thread takes such a state over at
 * once (take_over_exited), or else the writer recycles it once the ring is drained.
 * Allocation calls a thread makes after that (glibc frees the thread's DTV after all key
 * destructors) go through the shared "orphan" stream, under a spinlock.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mw_core.h"

#define RING_SIZE (512u * 1024u)

__thread mw_thread *mw_tls_self __attribute__((tls_model("initial-exec")));
__thread int mw_tls_guard __attribute__((tls_model("initial-exec")));
__thread int mw_tls_dead __attribute__((tls_model("initial-exec")));
__thread int mw_tls_internal __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_parent __attribute__((tls_model("initial-exec")));

static _Atomic(mw_thread *) slots[MW_MAX_THREADS];
static _Atomic unsigned hwm;
static atomic_flag reg_lock = ATOMIC_FLAG_INIT;
/* Recycled states, a binary min-heap on thread index (free_list_put / free_list_peek /
 * free_list_take), under reg_lock: a sorted list took O(states) per put, and the writer
 * recycling thousands of ended threads' states spent most of its time walking it (18% of a
 * run starting 4 000 threads, at 22:02 UTC on 2026-11-22). */
#define FREE_CAP (MW_MAX_THREADS + 64u)
static mw_thread *free_heap[FREE_CAP];
static unsigned free_n;
static _Atomic uint32_t next_tidx;
static pthread_key_t exit_key;
static _Atomic int key_ok;

static mw_thread *orphan;
static atomic_flag orphan_lock = ATOMIC_FLAG_INIT;

static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static int (*real_setname)(pthread_t, const char *);
static int (*real_prctl)(int, unsigned long, unsigned long, unsigned long, unsigned long);

static void rlock(void)
{
    mw_spin_lock(&reg_lock);
}
static void runlock(void) { mw_spin_unlock(&reg_lock); }

/* mw_tls_internal tells the shim's own code (which enters through here) from a hook, so a
 * hook re-entered by a signal handler can be counted as lost rather than as internal. */
int mw_guard_enter(void)
{
    mw_tls_internal++;
    return mw_tls_guard++;
}
void mw_guard_leave(int prev)
{
    mw_tls_guard = prev;
    /* a request to end that came inside the shim's code is acted on as it is left (fatal.c) */
    if (--mw_tls_internal == 0 && MW_UNLIKELY(mw_tls_deferred_sig)) mw_fatal_deferred(mw_tls_self, false);
}
bool mw_in_guard(void) { return mw_tls_guard != 0; }
bool mw_in_shim_code(void) { return mw_tls_internal > 0; }
pid_t mw_gettid(void) { return (pid_t)syscall(SYS_gettid); }

static void on_thread_exit(void *arg);

/* States whose thread ended and that neither the writer nor a new thread has taken yet
 * (exited == 1): a new thread looks for one to take over only while there are some. */
static _Atomic unsigned exited_pending;
/* The slots of such states, bit i for slot i: set as the thread ends, cleared when the state
 * is taken over or claimed by the writer. take_over_exited reads these words instead of every
 * registered state, a cache miss each under reg_lock (bench `idle`, 4 000 threads alive: a
 * thread started in 143-162 us with that scan, 49-64 us with the bits, 28-36 us natively).
 * A bit set for a state whose thread is still ending is skipped: the state's own `exited`
 * decides. */
static _Atomic uint64_t exited_bits[MW_MAX_THREADS / 64u];

static void exited_bit_clear(int slot)
{
    if (slot >= 0)
        atomic_fetch_and_explicit(&exited_bits[(unsigned)slot / 64u], ~(1ull << ((unsigned)slot % 64u)),
                              memory_order_relaxed);
}

/* Recycled states wait for new threads in thread-index order, so a new thread gets the lowest
 * free index, as it does when it takes over an ended thread's state (take_over_exited): the
 * indexes a program uses stay few and small. Under reg_lock. A state that finds the heap
 * full (more states than registry slots: never, but bounded) stays mapped, unused. */
static void free_list_put(mw_thread *t)
{
    if (free_n >= FREE_CAP) return;
    unsigned i = free_n++;
    while (i > 0 && free_heap[(i - 1) / 2]->tidx > t->tidx) {
        free_heap[i] = free_heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    free_heap[i] = t;
}

static mw_thread *free_list_peek(void) { return free_n ? free_heap[0] : NULL; }

static mw_thread *free_list_take(void)
{
    if (!free_n) return NULL;
    mw_thread *top = free_heap[0], *last = free_heap[--free_n];
    unsigned i = 0;
    for (;;) {
        unsigned k = 2 * i + 1;
        if (k >= free_n) break;
        if (k + 1 < free_n && free_heap[k + 1]->tidx < free_heap[k]->tidx) k++;
        if (last->tidx <= free_heap[k]->tidx) break;
        free_heap[i] = free_heap[k];
        i = k;
    }
    if (free_n) free_heap[i] = last;
    return top;
}

/* The fields a thread taking over a state starts afresh: its identity, its context for the
 * SQL hooks and the watch core, its stack caches. */
static void owner_reset(mw_thread *t)
{
    t->nest = 0;
    t->parent_tidx = 0;
    t->tid = 0;
    t->pth = 0;
    t->stack_lo = t->stack_hi = t->tls_lo = t->tls_hi = 0;
    t->sql_ctx = t->sql_fp = 0;
    t->has_loc = false;
    t->loc_line = 0;
    t->loc_file[0] = t->loc_func[0] = 0;
    memset(&t->cache_n, 0, offsetof(mw_thread, unw_stack) - offsetof(mw_thread, cache_n));
    t->full_captures = 0;
}

/* A new thread takes over the state of a thread that ended, before the writer has drained
 * it, when its index is lower than any recycled state's. Its records then follow the
 * previous owner's THREAD_END in the same ring: the stream of that index simply goes on (the
 * writer needs no ordering between two rings), and the ring, its positions, the stream's
 * encoder and coder state and the live-block table (the previous owner's unfreed blocks,
 * which belong to the index's stream) stay as they are. A program that starts a thread per
 * request keeps the few indexes of the threads alive at once this way: waiting for the
 * writer, which comes round every few milliseconds, the `threads` bench went through 190
 * indexes and 190 rings for 4 threads at a time, and an index written in each THREAD_START,
 * THREAD_SWITCH and THREAD_END that keeps changing is a fresh literal for zstd each time
 * (its trace: 55-61 KB, against 26-29 KB with the states taken over). The state's `exited`
 * goes 1 -> 0 here and 1 -> 2 in the writer (mw_registry_claim), whichever comes first.
 * Under reg_lock. */
static mw_thread *take_over_exited(void)
{
    if (!atomic_load_explicit(&exited_pending, memory_order_relaxed)) return NULL;
    mw_thread *best = NULL;
    unsigned h = atomic_load(&hwm);
    for (unsigned w = 0; w < (h + 63u) / 64u; w++) {
        uint64_t bits = atomic_load_explicit(&exited_bits[w], memory_order_relaxed);
        for (; bits; bits &= bits - 1) {
            mw_thread *u = atomic_load_explicit(&slots[w * 64u + (unsigned)__builtin_ctzll(bits)],
                                                memory_order_relaxed);
            if (u && u != orphan && atomic_load_explicit(&u->exited, memory_order_relaxed) == 1 &&
                (!best || u->tidx < best->tidx))
                best = u;
        }
    }
    mw_thread *recycled = free_list_peek();
    if (!best || (recycled && recycled->tidx < best->tidx)) return NULL;
    int one = 1;
    if (!atomic_compare_exchange_strong_explicit(&best->exited, &one, 0, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return NULL;   /* the writer claimed it meanwhile */
    atomic_fetch_sub_explicit(&exited_pending, 1, memory_order_relaxed);
    exited_bit_clear(best->slot);
    return best;
}

/* A fresh state is one mapping with the thread's two stacks of the shim's below it, the
 * alternate signal stack (fatal.c) and the one a full capture unwinds on (stack.c): each was
 * a mapping of its own, with the state, the ring (two) and the live table six a thread, and a
 * program with thousands of threads ran into vm.max_map_count (65 530) where it ran without
 * the shim (8 300 threads with mimalloc behind the shim: a thread's set-up failed, the
 * program aborted; 2026-11-24). */
#define STATE_BELOW (MW_ALT_STACK + MW_UNW_STACK)
#define STATE_MAP (((STATE_BELOW + sizeof(mw_thread)) + 4095u) & ~(size_t)4095u)

static mw_thread *state_map(void)
{
    uint8_t *m = mw_real.mmap(NULL, STATE_MAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    mw_own_range_add(m, STATE_MAP); /* heap addresses (delta bases), stacks: never a root */
    mw_thread *t = (mw_thread *)(m + STATE_BELOW);
    t->alt_stack = m;
    t->unw_stack = m + MW_ALT_STACK;
    mw_stack_register(t->unw_stack, MW_UNW_STACK);
    return t;
}

static void state_unmap(mw_thread *t)
{
    uint8_t *m = (uint8_t *)t - STATE_BELOW;
    mw_own_range_del(m, STATE_MAP);
    mw_real.munmap(m, STATE_MAP);
}

/* A state for a new thread, registered in a slot: an ended thread's taken over, a recycled
 * one, or a fresh one with a new thread index. NULL with *full set when every slot is taken,
 * with it clear when memory ran out. */
static mw_thread *state_new(bool *full)
{
    *full = false;
    mw_thread *t = NULL;
    bool fresh = false;
    rlock();
    mw_thread *taken = take_over_exited();
    if (!taken) t = free_list_take();
    runlock();
    if (taken) {
        owner_reset(taken);
        taken->tid = mw_gettid();
        return taken;
    }
    if (!t) {
        t = state_map();
        if (!t) return NULL;
        fresh = true;
    }
    uint8_t *ring = t->ring;
    uint64_t rs = t->ring_size, mask = t->mask;
    void *unw_stack = t->unw_stack, *alt_stack = t->alt_stack;
    uint64_t ring_counted = t->ring_counted;
    /* A recycled state keeps its thread index and that index's stream state (block numbers,
     * the encoder's delta bases, the writer's rank window): the new thread's records continue
     * the stream the previous owner ended (THREAD_END, then THREAD_START with the new tid),
     * block ids stay unique, and indexes stay bounded by the threads alive at once. A program
     * that starts a thread per request would otherwise run them past what a reader accepts. */
    struct {
        uint32_t tidx;
        uint64_t seq, prev_addr, sql_base, last_clock;
        mw_alloc_last alloc_last;
        mw_node_last node_last;
        mw_window win;
        bool runs_off;
    } keep = { t->tidx, t->seq, t->prev_addr, t->sql_base, t->last_clock, t->alloc_last, t->node_last,
               t->win, t->runs_off };
    /* everything but the live-block table: a recycled state's table is empty (its blocks
     * moved when it was released), and a thread looking for a block may hold its lock. A
     * fresh state is zero pages already: writing them would only fault them all in (27 KiB) */
    if (!fresh) memset(t, 0, offsetof(mw_thread, lt));
    t->ring = ring;
    t->ring_size = rs;
    t->mask = mask;
    t->ring_counted = ring_counted; /* its pages stay resident with it */
    t->unw_stack = unw_stack;   /* the memory stays with the state */
    t->alt_stack = alt_stack;
    if (!fresh) {
        t->tidx = keep.tidx;
        t->seq = keep.seq;
        t->prev_addr = keep.prev_addr;
        t->sql_base = keep.sql_base;
        t->last_clock = keep.last_clock; /* a TIME only when the clock moved since the last one */
        t->alloc_last = keep.alloc_last;
        t->node_last = keep.node_last;
        t->win = keep.win;
        t->runs_off = keep.runs_off;
    }
    if (!mw_ring_init(t, RING_SIZE)) { /* only a fresh state has no ring yet */
        state_unmap(t);
        return NULL;
    }
    if (fresh) t->tidx = atomic_fetch_add(&next_tidx, 1);
    t->tid = mw_gettid();
    t->slot = -1;
    rlock();
    for (unsigned i = 0; i < MW_MAX_THREADS; i++) {
        if (!atomic_load_explicit(&slots[i], memory_order_relaxed)) {
            t->slot = (int)i;
            atomic_store_explicit(&slots[i], t, memory_order_release);
            if (i + 1 > atomic_load(&hwm)) atomic_store(&hwm, i + 1);
            break;
        }
    }
    runlock();
    if (t->slot < 0) { /* registry full: nobody would drain this ring */
        *full = true;
        if (!fresh) { /* a recycled state stays mapped: a free searching tables may still see it */
            rlock();
            free_list_put(t);
            runlock();
            return NULL;
        }
        mw_ring_release(t);
        state_unmap(t);
        return NULL;
    }
    return t;
}

static void thread_identity(mw_thread *t)
{
    t->pth = pthread_self();
    pthread_attr_t a;
    if (pthread_getattr_np(t->pth, &a) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&a, &addr, &size) == 0) {
            t->stack_lo = (uintptr_t)addr;
            t->stack_hi = (uintptr_t)addr + size;
        }
        pthread_attr_destroy(&a);
    }
    /* static TLS block lies below the thread pointer, the TCB (struct pthread) above it */
    static void (*tls_info)(size_t *, size_t *);
    static int tls_resolved;
    if (!tls_resolved) {
        tls_info = (void (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
        tls_resolved = 1;
    }
    if (tls_info) {
        /* Its size counts the TCB too: glibc reserves [tp + TCB - size, tp + TCB) and a
         * thread's stack begins right below (allocatestack.c). Taking tp - size as the low
         * end put the top TCB bytes of the stack in the range: the exiting thread's own
         * frames, where the reachability scan itself keeps block addresses. */
        size_t size = 0, align = 0;
        tls_info(&size, &align);
        uintptr_t tp;
        __asm__("mov %%fs:0, %0" : "=r"(tp));
        t->tls_hi = tp + MW_TCB_SIZE;
        t->tls_lo = size > MW_TCB_SIZE && t->tls_hi > size ? t->tls_hi - size : tp;
    }
}

void mw_thread_emit_start(mw_thread *t)
{
    char name[17] = { 0 };
    if (real_prctl)
        real_prctl(PR_GET_NAME, (unsigned long)name, 0, 0, 0);
    else
        prctl(PR_GET_NAME, name, 0, 0, 0);
    size_t nl = strnlen(name, 16);
    MW_EMIT(t, 32 + nl, mw_enc_thread_start, t->tidx, (uint64_t)t->tid, t->parent_tidx, name, nl);
}

mw_thread *mw_self_slow(void)
{
    if (mw_tls_dead || atomic_load_explicit(&mw_state, memory_order_acquire) != MW_ST_ON) return NULL;
    if (!mw_own()) {
        mw_not_own();
        return NULL;
    }
    int g = mw_guard_enter();
    int saved_errno = errno;
    int cs = mw_nocancel_begin(); /* the thread's stack bounds read /proc/self/maps */
    bool full;
    mw_thread *t = state_new(&full);
    if (!t) {
        /* No state: more threads at once than registry slots, or no memory for a ring. This
         * thread's allocation and mapping calls go to the shared stream of exiting threads
         * (mw_acquire), with their stacks (a full unwind each: that stream's cache is shared);
         * a watch event of its is counted as lost. One line on stderr per cause, not one per
         * thread. */
        static _Atomic int said_full, said_nomem;
        mw_tls_dead = MW_DEAD_STATELESS;
        if (full && !atomic_exchange(&said_full, 1))
            mw_diag("more than %u threads at once: thread %d and others past that many are recorded in "
                    "the shared stream of exited threads",
                    MW_MAX_THREADS, (int)mw_gettid());
        else if (!full && !atomic_exchange(&said_nomem, 1))
            mw_diag("cannot set up tracing for thread %d (out of memory): its calls are recorded in the "
                    "shared stream of exited threads", (int)mw_gettid());
    }
    if (t) {
        t->parent_tidx = tls_parent;
        thread_identity(t);
        mw_tls_self = t;
        if (atomic_load(&key_ok)) pthread_setspecific(exit_key, t);
        mw_thread_emit_start(t);
        mw_fatal_thread_start(t);
    }
    mw_nocancel_end(cs);
    errno = saved_errno;
    mw_guard_leave(g);
    return t;
}

mw_thread *mw_self(void)
{
    mw_thread *t = mw_tls_self;
    return t ? t : mw_self_slow();
}

/* Shared stream for threads whose own state is gone (see the file comment). */
mw_thread *mw_orphan_acquire(void)
{
    if (!orphan) return NULL;
    mw_spin_lock(&orphan_lock);
    return orphan;
}
void mw_orphan_release(void) { mw_spin_unlock(&orphan_lock); }

void mw_threads_mark_exited(mw_thread *t)
{
    MW_EMIT(t, 16, mw_enc_thread_end, t->tidx);
    if (t->slot >= 0)
        atomic_fetch_or_explicit(&exited_bits[(unsigned)t->slot / 64u], 1ull << ((unsigned)t->slot % 64u),
                                 memory_order_relaxed);
    atomic_fetch_add_explicit(&exited_pending, 1, memory_order_relaxed);
    atomic_store_explicit(&t->exited, 1, memory_order_release);
}

/* The key's destructor runs among the program's own, in the order of the keys, the shim's
 * (made at start) usually first: a program's destructor that allocates (a per-thread cache
 * freed and a last block made, OpenSSL's or glib's thread-local state) then went through the
 * orphan stream, without a stack ("no stack recorded" for a leak valgrind gives a stack for,
 * 2026-11-23). So the destructor sets the key again, which makes glibc run another round of
 * destructors, until the last round (PTHREAD_DESTRUCTOR_ITERATIONS) releases the state:
 * the program's destructors of the earlier rounds run with it. The thread's TLS, which the
 * unwinder uses, lasts until after the last round. */
static __thread unsigned char exit_round __attribute__((tls_model("initial-exec")));

static void on_thread_exit(void *arg)
{
    mw_thread *t = arg;
    if (!t || t != mw_tls_self) return;
    if (++exit_round < PTHREAD_DESTRUCTOR_ITERATIONS && pthread_setspecific(exit_key, t) == 0) return;
    exit_round = 0; /* a state made again later (a destructor after this one allocates) */
    int g = mw_guard_enter();
    mw_fatal_thread_exit(); /* before the state (and its stack) can go to another thread */
    mw_tls_self = NULL;
    mw_tls_dead = MW_DEAD_EXITING;
    mw_threads_mark_exited(t);
    mw_guard_leave(g);
}

unsigned mw_registry_hwm(void) { return atomic_load_explicit(&hwm, memory_order_acquire); }
mw_thread *mw_registry_get(unsigned i) { return atomic_load_explicit(&slots[i], memory_order_acquire); }

bool mw_registry_claim(mw_thread *t)
{
    int one = 1;
    if (!atomic_compare_exchange_strong_explicit(&t->exited, &one, 2, memory_order_acq_rel,
                                                 memory_order_acquire))
        return false;
    atomic_fetch_sub_explicit(&exited_pending, 1, memory_order_relaxed);
    exited_bit_clear(t->slot);
    return true;
}

void mw_registry_release(unsigned i, mw_thread *t)
{
    mw_live_thread_gone(t); /* its blocks move to the shared table before the slot is free */
    rlock();
    atomic_store(&slots[i], NULL);
    free_list_put(t);
    runlock();
}

/* Called once by the constructor (and again in a forked child). */
void mw_threads_init(void)
{
    if (!real_pthread_create) {
        real_pthread_create = dlsym(RTLD_NEXT, "pthread_create");
        real_setname = dlsym(RTLD_NEXT, "pthread_setname_np");
        real_prctl = dlsym(RTLD_NEXT, "prctl");
    }
    if (!atomic_load(&key_ok) && pthread_key_create(&exit_key, on_thread_exit) == 0)
        atomic_store(&key_ok, 1);
}

/* A stream that is no thread's own (tid 0, no stack): it never ends, so its index is never
 * taken over. The exited threads' shared stream, a fork child's inherited blocks (inherit.c). */
mw_thread *mw_threads_stream_new(const char *name, size_t len)
{
    bool full;
    mw_thread *o = state_new(&full);
    if (!o) return NULL;
    o->tid = 0;
    o->parent_tidx = 0;
    MW_EMIT(o, 48 + len, mw_enc_thread_start, o->tidx, 0, 0, name, len);
    return o;
}

/* The shared stream for exiting threads; created after the main thread's state (tidx 1). */
void mw_threads_orphan_init(void)
{
    if (orphan) return;
    static const char name[] = "(exited threads)";
    orphan = mw_threads_stream_new(name, sizeof name - 1);
}

void mw_threads_reset_after_fork(void)
{
    /* The parent's states and rings are shared memory (memfd) or belong to threads that do not
     * exist here: drop them all without touching them, start numbering again. */
    /* Slots past the high-water mark were never used, but slot hwm itself may have been
     * taken by a thread of the parent that had not yet raised the mark when the parent forked
     * (state_new). Not writing the rest spares a fork child copying 16 pages of the parent's. */
    unsigned h = atomic_load(&hwm);
    for (unsigned i = 0; i <= h && i < MW_MAX_THREADS; i++) atomic_store(&slots[i], NULL);
    atomic_store(&hwm, 0);
    atomic_flag_clear(&reg_lock);
    atomic_flag_clear(&orphan_lock);
    free_n = 0;
    atomic_store(&exited_pending, 0);
    for (unsigned w = 0; w < MW_MAX_THREADS / 64u; w++) atomic_store(&exited_bits[w], 0);
    orphan = NULL;
    atomic_store(&next_tidx, 0);
    mw_tls_self = NULL;
    mw_tls_dead = 0;
}

size_t mw_threads_stacks(mw_thread_stack *out, size_t max)
{
    size_t n = 0;
    unsigned h = mw_registry_hwm();
    for (unsigned i = 0; i < h && n < max; i++) {
        mw_thread *t = mw_registry_get(i);
        if (!t || t == orphan || atomic_load(&t->exited) || !t->stack_hi) continue;
        out[n++] = (mw_thread_stack){ t->tid, t->stack_lo, t->stack_hi, t->tls_lo, t->tls_hi };
    }
    return n;
}

mw_thread *mw_thread_by_tid(pid_t tid)
{
    unsigned h = mw_registry_hwm();
    for (unsigned i = 0; i < h; i++) {
        mw_thread *t = mw_registry_get(i);
        if (t && t != orphan && t->tid == tid && !atomic_load(&t->exited)) return t;
    }
    return NULL;
}

static mw_thread *thread_by_pth(pthread_t p)
{
    unsigned h = mw_registry_hwm();
    for (unsigned i = 0; i < h; i++) {
        mw_thread *t = mw_registry_get(i);
        if (t && t != orphan && !atomic_load(&t->exited) && pthread_equal(t->pth, p)) return t;
    }
    return NULL;
}

/* ---- SQL context and adapter location ----------------------------------------------------- */
uint64_t mw_thread_sql_fp(mw_thread *t) { return t ? t->sql_fp : 0; }
void mw_thread_set_sql(mw_thread *t, uint64_t ctx, uint64_t fp)
{
    if (!t) return;
    t->sql_ctx = ctx;
    t->sql_fp = fp;
}
void mw_thread_set_location(mw_thread *t, const char *file, int line, const char *function)
{
    if (!t) return;
    size_t n = file ? strnlen(file, sizeof t->loc_file - 1) : 0;
    memcpy(t->loc_file, file ? file : "", n);
    t->loc_file[n] = 0;
    n = function ? strnlen(function, sizeof t->loc_func - 1) : 0;
    memcpy(t->loc_func, function ? function : "", n);
    t->loc_func[n] = 0;
    t->loc_line = line;
    t->has_loc = true;
}
bool mw_thread_take_location(mw_thread *t, char *file, size_t flen, int *line, char *func,
                             size_t fnlen)
{
    if (!t || !t->has_loc) return false;
    if (flen) {
        size_t n = strnlen(t->loc_file, flen - 1);
        memcpy(file, t->loc_file, n);
        file[n] = 0;
    }
    if (fnlen) {
        size_t n = strnlen(t->loc_func, fnlen - 1);
        memcpy(func, t->loc_func, n);
        func[n] = 0;
    }
    if (line) *line = t->loc_line;
    t->has_loc = false;
    return true;
}

/* ---- hooks: pthread_create, thread names ---------------------------------------------------- */
struct start_args {
    void *(*fn)(void *);
    void *arg;
    uint32_t parent;
};

static void *start_wrapper(void *p)
{
    struct start_args a = *(struct start_args *)p;
    mw_real.free(p);
    tls_parent = a.parent;
    mw_self();
    return a.fn(a.arg);
}

MW_EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    if (!real_pthread_create) real_pthread_create = dlsym(RTLD_NEXT, "pthread_create");
    mw_thread *self = mw_tls_self;
    if (mw_tls_guard || !self || atomic_load(&mw_state) != MW_ST_ON || !mw_real.malloc)
        return real_pthread_create(th, attr, fn, arg);
    struct start_args *a = mw_real.malloc(sizeof *a);
    if (!a) return real_pthread_create(th, attr, fn, arg);
    *a = (struct start_args){ fn, arg, self->tidx };
    int rc = real_pthread_create(th, attr, start_wrapper, a);
    if (rc != 0) mw_real.free(a);
    MW_YIELD_RETRY("pthread_create", rc == EAGAIN, rc = real_pthread_create(th, attr, fn, arg)); /* yield.c */
    return rc;
}

static void emit_name(mw_thread *target_state, const char *name)
{
    mw_thread *t = mw_tls_self;
    if (!t || !target_state || !name || mw_tls_guard) return;
    size_t n = strnlen(name, 64);
    MW_EMIT(t, 24 + n, mw_enc_thread_name, target_state->tidx, name, n);
}

MW_EXPORT int pthread_setname_np(pthread_t th, const char *name)
{
    if (!real_setname) real_setname = dlsym(RTLD_NEXT, "pthread_setname_np");
    int rc = real_setname(th, name);
    if (rc == 0 && atomic_load(&mw_state) == MW_ST_ON && !mw_tls_guard) emit_name(thread_by_pth(th), name);
    return rc;
}

MW_EXPORT int prctl(int option, ...)
{
    va_list ap;
    va_start(ap, option);
    unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long),
                  a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
    va_end(ap);
    if (!real_prctl) real_prctl = dlsym(RTLD_NEXT, "prctl");
    if (option == PR_SET_SECCOMP && mw_seccomp_installs((long)a2, 0, (const void *)a3, true))
        mw_seccomp_before("prctl(PR_SET_SECCOMP)"); /* hooks_seccomp.c */
    int rc = real_prctl(option, a2, a3, a4, a5);
    mw_creds_after_prctl(option, a2, a3, a4, a5, rc); /* per-thread credentials: hooks_creds.c */
    if (rc == 0 && option == PR_SET_NAME && atomic_load(&mw_state) == MW_ST_ON && !mw_tls_guard) {
        char name[17] = { 0 };
        strncpy(name, (const char *)a2, 16);
        emit_name(mw_tls_self, name);
    }
    return rc;
}

/* Waits (at most max_ms) until thread tid of this process is blocked in system call nr, as
 * /proc/self/task/TID/syscall tells (its first field is the number of the call a blocked
 * thread is in). Returns at once when the thread is gone. Before a seccomp filter goes in
 * (hooks_seccomp.c): a shim thread that has finished its work may still be on its way into
 * the call it then stays in, and the filter could kill the process for any call after it. */
void mw_wait_thread_in_syscall(pid_t tid, long nr, unsigned max_ms)
{
    if (tid <= 0) return;
    char path[64], buf[64];
    memcpy(path, "/proc/self/task/", 16);
    size_t n = 16 + mw_u64_to_dec(path + 16, (uint64_t)tid);
    memcpy(path + n, "/syscall", 9);
    int saved = errno;
    for (unsigned i = 0; i < max_ms * 10u; i++) { /* 100 us apart */
        int fd = mw_proc_open(path, O_RDONLY);
        if (fd < 0) break; /* no such thread (any more) */
        ssize_t got = syscall(SYS_read, fd, buf, sizeof buf - 1);
        syscall(SYS_close, fd);
        if (got <= 0) break;
        buf[got] = 0;
        if (buf[0] >= '0' && buf[0] <= '9' && strtol(buf, NULL, 10) == nr) break;
        mw_sleep_ns(100 * 1000);
    }
    errno = saved;
}
