/*
 * live.c — the live-block tables: address -> {size, block id} for every traced heap block.
 *
 * They let a FREE name its block by id, detect frees we missed (an insert finding the address
 * still present), and are the heap the reachability scan walks (mw_live_foreach).
 *
 * Each thread keeps the blocks it allocated in its own table (mw_thread.lt): open addressing,
 * linear probing, backward-shift deletion, behind a spinlock that only the owner takes in the
 * common case (its cache line stays with the owner's CPU), and that the owner does without
 * while no other thread comes (biased, live_impl.h: the lock's barrier was a tenth of a traced
 * malloc/free pair), grown with raw mmap. A thread's
 * table stays sparse while small (live_impl.h). A free looks in the freeing thread's own table
 * first; a block of another thread is found through a per-64-KiB owner hint (the thread that
 * last allocated there: glibc gives each thread its own arena), then in the shared table,
 * then in every thread's table. Before, one table for the whole process (256 shards by
 * address hash) was what every hook touched: a shard header and a slot on lines other CPUs
 * had just written, a quarter of a traced malloc/free pair's time on one thread and more with
 * several (bench/HISTORY.md).
 *
 * The shared table (live_shared.c) holds the blocks of threads that exited and a thread's
 * blocks beyond its first LT_MAX_OWN live ones, kept by 64 KiB address chunk.
 *
 * An exited thread's blocks stay in its table when a new thread takes its state over
 * (thread.c: the same index, so they are that thread's own), and move to the shared table
 * when the writer recycles the state instead (mw_live_thread_gone); a search that may have
 * missed a block while it moved is repeated (migration counter). No malloc anywhere: raw
 * mmap, registered as the shim's own memory.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "mw_core.h"

#include "live_impl.h"

/* ---- the biased lock (live_impl.h) ---------------------------------------------------- */
bool mw_lt_bias_ok;

/* Registers for membarrier's expedited command, as every process must before using it (a
 * fork child too: registration belongs to the address space). Tables are only biased when it
 * worked. */
static void bias_init(void)
{
    mw_lt_bias_ok = mw_raw_syscall6(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0, 0, 0, 0) == 0;
}

/* A full barrier on every thread of the process (after tables were made LOCKED): from here
 * each owner either is seen busy or sees LOCKED (its next operation takes the lock). */
void mw_lt_barrier_all(void)
{
    if (mw_raw_syscall6(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0, 0, 0, 0) != 0) {
        /* cannot happen once registered (it can only fail unregistered); should it, no table
         * is biased again, and a full barrier of our own and the waits after it cover an
         * owner whose busy mark is already visible */
        mw_lt_bias_ok = false;
        atomic_thread_fence(memory_order_seq_cst);
    }
}

void mw_lt_revoke(mw_ltab *L)
{
    atomic_store_explicit(&L->mode, MW_LT_LOCKED, memory_order_relaxed);
    mw_lt_barrier_all();
    mw_wait_clear_until(&L->busy, UINT64_MAX); /* the owner may be preempted: it sleeps */
}

void mw_lt_rebias_check(mw_ltab *L)
{
    L->locked_ops = 0;
    if (mw_lt_bias_ok && L->remote == L->remote_seen) atomic_store_explicit(&L->mode, MW_LT_BIASED, memory_order_relaxed);
    L->remote_seen = L->remote;
}

_Alignas(64) _Atomic uint16_t mw_live_hint[1u << MW_HINT_BITS];
/* Odd while a thread's blocks move to the shared table; bumped twice per move. */
static _Alignas(64) _Atomic uint64_t migrations;

/* Pages given at once, for the reason stack.c's grow gives: probes read a slot before they
 * write it. A table is 8 to 256 KiB, and a grown one has blocks on most of its pages. */
static mw_live_entry *map_table(uint32_t cap)
{
    void *p = mw_real.mmap ? mw_real.mmap(NULL, (size_t)cap * sizeof(mw_live_entry), PROT_READ | PROT_WRITE,
                                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
                           : MAP_FAILED;
    if (p == MAP_FAILED) return NULL;
    mw_own_range_add(p, (size_t)cap * sizeof(mw_live_entry)); /* block addresses: never a root */
    return p;
}

static void unmap_table(mw_live_entry *tab, uint32_t cap)
{
    if (!tab) return;
    mw_own_range_del(tab, (size_t)cap * sizeof(mw_live_entry));
    mw_real.munmap(tab, (size_t)cap * sizeof(mw_live_entry));
}

/* Grows (or creates) L until an insert fits; false when memory is exhausted. Caller holds
 * the lock. */
bool mw_lt_grow(mw_ltab *L)
{
    uint32_t ncap = L->cap ? L->cap * 2 : LT_INIT_CAP;
    while (ncap < (1u << 31) && L->count >= mw_lt_limit(ncap)) ncap *= 2;
    mw_live_entry *nt = map_table(ncap);
    if (!nt) return false;
    for (uint32_t i = 0; i < L->cap; i++) {
        mw_live_entry *e = &L->tab[i];
        if (!e->addr) continue;
        uint32_t j = (uint32_t)mw_live_hash(e->addr) & (ncap - 1);
        while (nt[j].addr) j = (j + 1) & (ncap - 1);
        nt[j] = *e;
    }
    unmap_table(L->tab, L->cap);
    L->tab = nt;
    L->cap = ncap;
    L->limit = mw_lt_limit(ncap);
    return true;
}

/* Tracing starts with every table empty. The first start finds them so already (zero bss:
 * nothing is recorded before it), and clearing them there wrote 12 pages of zeros into pages
 * the process had never touched, a page fault each; a fork child's restart clears them. */
void mw_live_init(void)
{
    static bool started;
    bias_init();
    if (!started) {
        started = true;
        return;
    }
    mw_live_shared_init(); /* after fork: the parent's shared table is dropped (left mapped) */
    for (unsigned i = 0; i < (1u << MW_HINT_BITS); i++) atomic_store_explicit(&mw_live_hint[i], 0, memory_order_relaxed);
    atomic_store(&migrations, 0);
}

/* A free of a block thread t did not allocate (or one we never saw). */
bool mw_live_remove_other(mw_thread *t, uintptr_t addr, mw_live_block *out)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t gen = atomic_load_explicit(&migrations, memory_order_acquire);
        bool inheriting = mw_inherit_pending();
        unsigned hint = atomic_load_explicit(mw_live_hint_of(addr), memory_order_relaxed);
        mw_thread *owner = hint ? mw_registry_get(hint - 1) : NULL;
        if (owner && owner != t && mw_lt_remove(&owner->lt, addr, out, false)) return true;
        if (mw_live_shared_remove(addr, out)) return true;
        unsigned n = mw_registry_hwm();
        for (unsigned i = 0; i < n; i++) {
            mw_thread *u = mw_registry_get(i);
            if (!u || u == t || u == owner) continue;
            if (mw_lt_remove(&u->lt, addr, out, false)) return true;
        }
        /* not found: really not traced, unless a thread's blocks were moving meanwhile or it
         * is one this fork child inherited and has not recorded yet (inherit.c), or had not
         * when the search began: another thread may have recorded it behind the search, and
         * be done by the time this one asks (until 07:50 UTC on 2026-11-23 one free was lost
         * so in about 900 runs of tests/victims/fork_child_threads.c on a loaded machine) */
        if (mw_inherit_now() || inheriting) continue;
        if (!(gen & 1) && atomic_load_explicit(&migrations, memory_order_acquire) == gen) return false;
    }
    return false;
}

/* A table this small stays with the state, emptied, for the next thread that reuses it: a
 * program that starts a thread per request would otherwise map and unmap one per thread (the
 * unmap stops every CPU for a TLB flush). */
#define LT_KEEP_CAP LT_INIT_CAP

void mw_live_thread_gone(mw_thread *t)
{
    mw_ltab *L = &t->lt;
    mw_lt_lock(L);
    if (L->count) {
        atomic_fetch_add_explicit(&migrations, 1, memory_order_acq_rel);
        for (uint32_t i = 0; i < L->cap; i++) {
            mw_live_entry *e = &L->tab[i];
            if (!e->addr) continue;
            mw_live_shared_insert(e->addr, e->size, (mw_block_ref){ e->tidx, e->seq }, NULL);
            e->addr = 0;
        }
        atomic_fetch_add_explicit(&migrations, 1, memory_order_acq_rel);
    }
    L->count = 0;
    if (L->cap <= LT_KEEP_CAP) { /* every slot is empty now */
        mw_lt_unlock(L);
        return;
    }
    mw_live_entry *tab = L->tab;
    uint32_t cap = L->cap;
    L->tab = NULL;
    L->cap = 0;
    L->limit = 0;
    mw_lt_unlock(L);
    unmap_table(tab, cap);
}

/* One table's blocks; the caller holds its lock (or, in a fork child, the parent's tables are
 * its own copies: inherit.c). */
void mw_live_table_foreach(const mw_ltab *L, void (*fn)(const mw_live_block *b, void *arg), void *arg)
{
    for (uint32_t i = 0; i < L->cap; i++) {
        const mw_live_entry *e = &L->tab[i];
        if (!e->addr) continue;
        mw_live_block b = { e->addr, e->size, { e->tidx, e->seq } };
        fn(&b, arg);
    }
}

/* The tables biased to their owners, taken from them a batch at a time with one membarrier
 * per batch (each lock held from before its mode changes until its owner is out, as
 * mw_lt_revoke does for one): for a walk over every table, which taking them one by one made
 * pay a membarrier each (a process ending with 400 threads that had each made 70 000 calls:
 * 400 membarriers of 11 us). Locks are taken in registry order, as fork's prepare takes
 * them; no other thread holds two. */
#define REVOKE_BATCH 256u
static void revoke_all(void)
{
    mw_ltab *batch[REVOKE_BATCH];
    unsigned n = mw_registry_hwm(), k = 0;
    for (unsigned i = 0; i <= n; i++) {
        mw_thread *u = i < n ? mw_registry_get(i) : NULL;
        if (u && atomic_load_explicit(&u->lt.mode, memory_order_relaxed) == MW_LT_BIASED) {
            mw_ltab *L = &u->lt;
            mw_spin_lock(&L->lock);
            L->remote++;
            if (atomic_load_explicit(&L->mode, memory_order_relaxed) == MW_LT_BIASED) {
                atomic_store_explicit(&L->mode, MW_LT_LOCKED, memory_order_relaxed);
                batch[k++] = L;
            } else {
                mw_spin_unlock(&L->lock);
            }
        }
        if (k && (k == REVOKE_BATCH || i == n)) {
            mw_lt_barrier_all();
            for (unsigned j = 0; j < k; j++) {
                mw_wait_clear_until(&batch[j]->busy, UINT64_MAX); /* as mw_lt_revoke */
                mw_spin_unlock(&batch[j]->lock);
            }
            k = 0;
        }
    }
}

/* Every table, each locked while visited: a block freed by one thread and reallocated by
 * another meanwhile may be seen twice (the reachability scan keeps the later one). The biased
 * ones are taken from their owners first, all together (revoke_all); one an owner biases
 * again meanwhile is taken on its own when visited. */
void mw_live_foreach(void (*fn)(const mw_live_block *b, void *arg), void *arg)
{
    mw_inherit_now(); /* a fork child's inherited blocks are live blocks too */
    revoke_all();
    unsigned n = mw_registry_hwm();
    for (unsigned i = 0; i < n; i++) {
        mw_thread *u = mw_registry_get(i);
        if (!u) continue;
        mw_lt_lock(&u->lt);
        mw_live_table_foreach(&u->lt, fn, arg);
        mw_lt_unlock(&u->lt);
    }
    mw_live_shared_foreach(fn, arg);
}

size_t mw_live_count(void)
{
    mw_inherit_now();
    size_t n = 0;
    unsigned h = mw_registry_hwm();
    for (unsigned i = 0; i < h; i++) {
        mw_thread *u = mw_registry_get(i);
        if (u) n += __atomic_load_n(&u->lt.count, __ATOMIC_RELAXED);
    }
    n += mw_live_shared_count();
    return n;
}
