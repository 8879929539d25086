/*
 * inherit.c — a fork child's inherited heap.
 *
 * A child of fork() has a copy of every block its parent had. The parent's trace holds their
 * allocations; without this file the child's trace knew nothing of them: their frees went
 * unrecorded, a leak of one in the child went unreported, and (worse) a block the child
 * reached only through an inherited one (a new entry in an inherited list) was called
 * definitely lost, since the exit scan did not know the inherited block was heap to look in.
 *
 * fork's prepare handler takes the lock of every live-block table (each thread's own and the
 * shared table's shards; a table biased to its owner is made LOCKED, with one membarrier for
 * all of them, and its owner waited for: live_impl.h), so that the child gets them whole; the
 * forking thread's guard is raised meanwhile, so that another prepare handler's malloc cannot
 * wait for a lock its own thread holds (such calls are counted as lost). The child's handler notes where the parent's
 * tables are (the child keeps their memory: its tracing restarts with new tables and never
 * touches the old ones) and lets the locks go. Nothing more happens until the child needs the
 * blocks: its first free or realloc of a block its tables do not have, its own fork, its
 * normal exit (mw_finish). Then they are written as INHERIT records (TRACE-FORMAT.md), in address order, in a
 * stream of their own, "(inherited from pid N)", and put in the child's shared table under
 * their new ids, where frees, reallocs and the exit scan find them like any other block. A
 * child that only execs (a shell's) pays nothing but the locking. A table's lock is held only
 * for moments, by threads that go on (a fork from a signal handler that interrupted this
 * thread inside the shim finds its guard raised and does not lock at all: that child
 * inherits nothing); one still busy after 10 s (its holder, or its owner inside a biased
 * operation, stopped by a debugger) is left:
 * that table's blocks are not inherited, and the child says so.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "live_impl.h"
#include "mw_core.h"

/* How long fork's prepare handler waits for the tables' locks, in all. 100 ms was too short:
 * a holder preempted on a busy machine kept one longer (tests/victims/fork_busy.c, 1 run in 5
 * at 05:00 UTC on 2026-11-23, both cores busy). */
#define LOCK_WAIT_NS (10000ull * 1000000u)

/* What the prepare handler took, for the parent and child handlers of the same fork. glibc
 * runs the handlers of two threads' forks at once (it lets its own lock go around each
 * handler): fork_lock makes the shim's handlers take turns, from prepare to parent or child,
 * and fork_armed (the forking thread's own) says which thread's fork armed them. */
static atomic_flag fork_lock = ATOMIC_FLAG_INIT;
static __thread int fork_armed;
static struct {
    int guard;                          /* the forking thread's guard before prepare */
    unsigned nown, busy;                /* own tables locked; tables left (busy) */
    mw_thread *own[MW_MAX_THREADS];
    uint64_t shards[MW_LIVE_SHARDS / 64];
    unsigned nstacks;                   /* the other program threads' stacks */
    struct stack_span { uintptr_t lo, hi; } stacks[MW_MAX_THREADS];
} held;

/* In a child: the stacks of its ancestors' threads that were alive at each fork but are not
 * in this process (only the forking thread is). No thread runs on them, but they are memory
 * of this process that still points at blocks: valgrind scans them (from where those
 * threads' stack pointers were), and so does the exit scan here (reach_roots.c, the whole
 * stack). Without them, a block only such a stack pointed to was called definitely lost in
 * every fork child of a multithreaded program. Copied to grandchildren by fork itself. Room
 * for two generations of the most threads the registry holds (untouched pages cost nothing);
 * past that the child says so. */
#define DEAD_STACKS (2u * MW_MAX_THREADS)
static struct stack_span dead[DEAD_STACKS];
static unsigned ndead;

/* This process forked or is a fork child: some of its pages may be shared copy-on-write with
 * another process (the exit scan reads them without pinning: reach_roots.c). */
static bool forked;
bool mw_inherit_shares_pages(void) { return forked; }

bool mw_inherit_dead_stack(uintptr_t lo, uintptr_t hi)
{
    for (unsigned i = 0; i < ndead; i++)
        if (lo < dead[i].hi && dead[i].lo < hi) return true;
    return false;
}

/* In the child: the parent's tables as the child handler found them, until recorded. */
static struct {
    _Atomic int pending;                /* the parent's blocks are not in the trace yet */
    atomic_flag lock;                   /* held while they are being recorded */
    unsigned nown, busy;
    mw_thread *own[MW_MAX_THREADS];     /* the parent's thread states (their tables) */
    pid_t parent;
} kept;

/* The tables whose locks prepare holds that are biased to their owner (live_impl.h): LOCKED,
 * with one membarrier for all, then each owner out of its operation by the deadline; a table
 * whose owner is not (a signal handler's fork interrupted it, on this thread or a stopped
 * one) is let go and counted busy, as a lock not taken in time is. Returns how many are
 * still held (compacted in held.own). */
static unsigned revoke_held(unsigned n, uint64_t deadline, unsigned *busy)
{
    for (unsigned i = 0; i < n; i++) atomic_store_explicit(&held.own[i]->lt.mode, MW_LT_LOCKED, memory_order_relaxed);
    mw_lt_barrier_all();
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        mw_ltab *L = &held.own[i]->lt;
        if (mw_wait_clear_until(&L->busy, deadline)) {
            held.own[k++] = held.own[i];
        } else {
            mw_spin_unlock(&L->lock);
            ++*busy;
        }
    }
    return k;
}

void mw_inherit_prepare(void)
{
    fork_armed = 0;
    if (mw_tls_guard || atomic_load(&mw_state) != MW_ST_ON || !mw_cfg.follow || !mw_alloc_tracing) return;
    mw_inherit_now(); /* what this process inherited itself, for its child to inherit in turn */
    int g = mw_tls_guard++; /* first: a signal handler's fork here must not wait for fork_lock */
    mw_spin_lock(&fork_lock); /* another thread's fork: after it */
    fork_armed = 1;
    held.guard = g;
    uint64_t deadline = mw_now_ns() + LOCK_WAIT_NS;
    unsigned h = mw_registry_hwm(), n = 0, busy = 0;
    held.nstacks = 0;
    bool biased = false;
    for (unsigned i = 0; i < h; i++) {
        mw_thread *u = mw_registry_get(i);
        if (!u) continue;
        if (mw_spin_lock_until(&u->lt.lock, deadline)) {
            held.own[n++] = u;
            u->lt.remote++;
            if (atomic_load_explicit(&u->lt.mode, memory_order_relaxed) == MW_LT_BIASED) biased = true;
        } else {
            busy++;
        }
        if (u != mw_tls_self && u->tid != mw_gettid() && u->stack_hi && !atomic_load(&u->exited))
            held.stacks[held.nstacks++] = (struct stack_span){ u->stack_lo, u->stack_hi };
    }
    if (biased) n = revoke_held(n, deadline, &busy);
    mw_live_shared_lock_all(deadline, held.shards);
    for (unsigned k = 0; k < MW_LIVE_SHARDS; k++) busy += !(held.shards[k / 64] >> (k % 64) & 1);
    held.nown = n;
    held.busy = busy;
}

static void release(void)
{
    for (unsigned i = 0; i < held.nown; i++) mw_spin_unlock(&held.own[i]->lt.lock);
    mw_live_shared_unlock_all(held.shards);
    mw_tls_guard = held.guard;
    fork_armed = 0;
    mw_spin_unlock(&fork_lock);
}

void mw_inherit_parent(void)
{
    forked = true;
    if (fork_armed) release();
}

/* fork's child handler, first of all: where the parent's blocks are; then the locks go. */
void mw_inherit_child(void)
{
    forked = true;
    atomic_store(&kept.pending, 0);
    atomic_flag_clear(&kept.lock);
    if (!fork_armed) {
        atomic_flag_clear(&fork_lock); /* another thread's fork held it: not in this process */
        return;
    }
    unsigned dropped = 0;
    for (unsigned i = 0; i < held.nstacks; i++) {
        if (ndead < DEAD_STACKS) dead[ndead++] = held.stacks[i];
        else dropped++;
    }
    memcpy(kept.own, held.own, held.nown * sizeof *held.own);
    kept.nown = held.nown;
    kept.busy = held.busy;
    kept.parent = getppid();
    mw_live_shared_freeze(held.shards);
    release();
    atomic_store(&kept.pending, 1);
    if (dropped)
        mw_diag("fork: %u stacks of threads this child's ancestors had are past the %u it keeps; "
                "its exit scan may call lost what only they point to", dropped, DEAD_STACKS);
}

typedef struct collect {
    mw_live_block *v;
    size_t n, cap;
} collect;

static void copy_block(const mw_live_block *b, void *arg)
{
    collect *c = arg;
    if (c->n < c->cap) c->v[c->n++] = *b;
}

/* The parent's blocks into the trace and the shared table, in address order. */
static void record(mw_live_block *a, size_t n)
{
    char name[64];
    int len = snprintf(name, sizeof name, "(inherited from pid %d)", (int)kept.parent);
    mw_thread *o = mw_threads_stream_new(name, len > 0 ? (size_t)len : 0);
    mw_inherit_last last = { 0, 0 };
    size_t lost = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && a[i].addr == a[i - 1].addr) continue; /* seen twice in the parent's tables */
        size_t cap, used = 0;
        uint8_t *q = o ? mw_reserve(o, 64, &cap) : NULL;
        if (q) {
            used = mw_enc_inherit(q, cap, a[i].size, a[i].ref, a[i].addr, &last);
            mw_commit(o, used);
        }
        if (!used) {
            lost++;
            continue;
        }
        mw_live_shared_insert(a[i].addr, a[i].size, (mw_block_ref){ o->tidx, ++o->seq }, NULL);
    }
    if (lost) mw_count_lost(lost, 0);
}

/* Whether the parent's blocks are still to be recorded (a free that finds nothing while
 * they are looks again: live.c). */
bool mw_inherit_pending(void) { return atomic_load_explicit(&kept.pending, memory_order_acquire) != 0; }

/* Records the parent's blocks if the child has not yet (once; a thread that comes while
 * another records waits for it). Called where the child needs them: a free of a block its
 * tables do not have (live.c), anything that lists the live blocks (mw_live_count,
 * mw_live_foreach: the exit scan), its own fork (mw_inherit_prepare), its normal exit
 * (mw_finish, also without the scan). Returns whether they were recorded during the call (by
 * this thread or by another one it waited for): a block looked for in vain may be there now. */
bool mw_inherit_now(void)
{
    if (MW_LIKELY(!atomic_load_explicit(&kept.pending, memory_order_acquire))) return false;
    /* the guard first: a signal handler's free in this thread, once the lock is held, must
     * not come back here and wait for it */
    int g = mw_guard_enter();
    mw_spin_lock(&kept.lock);
    if (!atomic_load(&kept.pending)) { /* another thread recorded them meanwhile */
        mw_spin_unlock(&kept.lock);
        mw_guard_leave(g);
        return true;
    }
    if (kept.busy)
        mw_diag("fork: %u of the parent's live-block tables were busy; their blocks are not in "
                "this child's trace", kept.busy);
    size_t n = mw_live_shared_frozen_count();
    for (unsigned i = 0; i < kept.nown; i++) n += kept.own[i]->lt.count;
    size_t bytes = n * sizeof(mw_live_block);
    collect c = { n ? mw_own_alloc(bytes) : NULL, 0, n }; /* heap addresses: never a root */
    if (c.v && atomic_load(&mw_state) == MW_ST_ON) {
        for (unsigned i = 0; i < kept.nown; i++) mw_live_table_foreach(&kept.own[i]->lt, copy_block, &c);
        mw_live_shared_frozen_foreach(copy_block, &c);
        mw_live_sort_by_addr(c.v, c.n); /* in place: 32 bytes a block, none more */
        record(c.v, c.n);
    } else if (n && !c.v) {
        mw_diag("fork: no memory to record the %zu blocks this child inherited", n);
        mw_count_lost(n, 0);
    }
    if (c.v) mw_own_free(c.v, bytes);
    mw_live_shared_frozen_drop();
    kept.nown = 0;
    atomic_store(&kept.pending, 0);
    mw_spin_unlock(&kept.lock);
    mw_guard_leave(g);
    return true;
}
