/*
 * live_impl.h — the live-block tables' hot operations, inlined into the allocation hooks
 * (hooks_alloc.c) and used by live.c; growth, the cross-thread and whole-process paths are in
 * live.c. See live.c for the design.
 */
#ifndef MW_LIVE_IMPL_H
#define MW_LIVE_IMPL_H

#include "mw_core.h"

/* A thread's table stays sparse while small (at most 1/LT_SPARSE_LOAD full up to
 * LT_SPARSE_CAP slots): with few live blocks a collision makes probing and deletion branch
 * unpredictably, which costs more than the table's size in cache. Bigger tables are kept at
 * most half full. */
#define LT_INIT_CAP 256u
#define LT_SPARSE_CAP 4096u
#define LT_SPARSE_LOAD 32u
/* A thread's own table holds at most this many blocks (8192 slots); more go to the shared
 * table (live_shared.c), kept in small tables by address chunk: growing a table never pauses
 * the program for long. */
#define LT_MAX_OWN 2048u

bool mw_lt_grow(mw_ltab *L);   /* caller holds the lock */

static inline uint64_t mw_live_hash(uintptr_t a)
{
    uint64_t h = (uint64_t)(a >> 4) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}

/* ---- the table's lock, biased to its owner (live.c) ---------------------------------------
 * Only the owner thread uses its table in the common case, and the lock's atomic exchange (a
 * full barrier, where the ring's stores drain) was a tenth of a traced malloc/free pair: 3 to
 * 3.7 of 30.7 ns on churn. So while no other thread has come for a while the table is BIASED:
 * the owner marks itself busy with a plain store and checks the mode again. Any other thread
 * takes the lock, and finding the table biased makes it LOCKED, then has membarrier(2) run a
 * full barrier on every thread of the process (either the owner's busy mark is visible after
 * it, or the owner's check sees LOCKED) and waits for the owner to leave. The owner takes the
 * lock itself from then on, and makes the table BIASED again (holding the lock) after
 * MW_REBIAS_OPS operations with no other thread's locking between: a program whose threads
 * free each other's blocks all the time stays LOCKED, and one that does now and then pays a
 * membarrier at most every MW_REBIAS_OPS of the owner's operations. Without membarrier's
 * expedited command (a kernel before 4.14, a filter) tables stay LOCKED. */
#define MW_LT_LOCKED 0u
#define MW_LT_BIASED 1u
#define MW_REBIAS_OPS 65536u
extern bool mw_lt_bias_ok;       /* membarrier's expedited command is registered (live.c) */
void mw_lt_revoke(mw_ltab *L);   /* holding L's lock: BIASED -> LOCKED, once the owner is out */
void mw_lt_barrier_all(void);    /* membarrier: every owner's busy mark seen, or LOCKED seen by it */
void mw_lt_rebias_check(mw_ltab *L); /* the owner, holding L's lock */

/* The owner enters: true when biased (no lock taken), false holding the lock. */
static inline __attribute__((always_inline)) bool mw_lt_enter_own(mw_ltab *L)
{
    if (MW_LIKELY(atomic_load_explicit(&L->mode, memory_order_relaxed) == MW_LT_BIASED)) {
        atomic_store_explicit(&L->busy, 1, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst); /* the store, then the check: in program order */
        if (MW_LIKELY(atomic_load_explicit(&L->mode, memory_order_acquire) == MW_LT_BIASED)) return true;
        atomic_store_explicit(&L->busy, 0, memory_order_release);
    }
    mw_spin_lock(&L->lock);
    return false;
}
static inline __attribute__((always_inline)) void mw_lt_leave_own(mw_ltab *L, bool biased)
{
    if (MW_LIKELY(biased)) {
        atomic_store_explicit(&L->busy, 0, memory_order_release);
        return;
    }
    if (MW_UNLIKELY(++L->locked_ops >= MW_REBIAS_OPS)) mw_lt_rebias_check(L);
    mw_spin_unlock(&L->lock);
}
/* Any other thread (a cross-thread free, the writer, the exit scan, fork): the lock, and the
 * owner out of a biased operation. */
static inline void mw_lt_lock(mw_ltab *L)
{
    mw_spin_lock(&L->lock);
    L->remote++;
    if (MW_UNLIKELY(atomic_load_explicit(&L->mode, memory_order_relaxed) == MW_LT_BIASED)) mw_lt_revoke(L);
}
static inline void mw_lt_unlock(mw_ltab *L) { mw_spin_unlock(&L->lock); }
/* own: the caller is the table's owner thread (the table of its own state, mw_tls_self) */
#define MW_LT_ENTER(L, own) ((own) ? mw_lt_enter_own(L) : (mw_lt_lock(L), false))
#define MW_LT_LEAVE(L, own, biased)                                                          \
    do {                                                                                      \
        if (own)                                                                              \
            mw_lt_leave_own(L, biased);                                                       \
        else                                                                                  \
            mw_lt_unlock(L);                                                                  \
    } while (0)

/* How many blocks a table of cap slots may hold (mw_ltab.limit, set whenever cap changes). */
static inline uint32_t mw_lt_limit(uint32_t cap)
{
    return cap <= LT_SPARSE_CAP ? cap / LT_SPARSE_LOAD : cap / 2;
}
static inline bool mw_lt_full(const mw_ltab *L) { return L->count >= L->limit; }

/* Backward-shift deletion (linear probing without tombstones): the entry at j, whose home
 * slot is home, moves into the hole at i unless its home is cyclically in (i, j]. */
static inline bool mw_moves_back(uint32_t home, uint32_t i, uint32_t j)
{
    return !((i <= j) ? (home > i && home <= j) : (home > i || home <= j));
}

/* Inserts addr into table L; if addr was still present (a free we missed), its block is
 * returned in *old and true. A table that cannot grow drops the block (counted as lost). */
static inline __attribute__((always_inline)) bool mw_lt_insert(mw_ltab *L, uintptr_t addr, size_t size,
                                                               mw_block_ref ref, mw_live_block *old, bool own)
{
    uint64_t h = mw_live_hash(addr);
    bool had = false;
    bool biased = MW_LT_ENTER(L, own);
    if (MW_UNLIKELY(mw_lt_full(L)) && !mw_lt_grow(L)) {
        MW_LT_LEAVE(L, own, biased);
        mw_count_lost(1, 0);
        return false;
    }
    uint32_t m = L->cap - 1, i = (uint32_t)h & m;
    for (;; i = (i + 1) & m) {
        mw_live_entry *e = &L->tab[i];
        if (e->addr == addr) {
            if (old) *old = (mw_live_block){ e->addr, e->size, { e->tidx, e->seq } };
            had = true;
            break;
        }
        if (!e->addr) {
            L->count++;
            break;
        }
    }
    L->tab[i] = (mw_live_entry){ addr, size, ref.tidx, ref.seq };
    MW_LT_LEAVE(L, own, biased);
    return had;
}

/* Removes addr from table L; its block in *out (may be NULL). False when it is not there. */
static inline __attribute__((always_inline)) bool mw_lt_remove(mw_ltab *L, uintptr_t addr, mw_live_block *out,
                                                               bool own)
{
    uint64_t h = mw_live_hash(addr);
    bool biased = MW_LT_ENTER(L, own);
    if (MW_UNLIKELY(!L->cap)) {
        MW_LT_LEAVE(L, own, biased);
        return false;
    }
    uint32_t m = L->cap - 1, i = (uint32_t)h & m;
    for (;; i = (i + 1) & m) {
        mw_live_entry *e = &L->tab[i];
        if (!e->addr) {
            MW_LT_LEAVE(L, own, biased);
            return false;
        }
        if (e->addr == addr) break;
    }
    if (out) *out = (mw_live_block){ addr, L->tab[i].size, { L->tab[i].tidx, L->tab[i].seq } };
    /* backward-shift deletion keeps probe chains intact without tombstones */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & m;
        mw_live_entry *e = &L->tab[j];
        if (!e->addr) break;
        if (mw_moves_back((uint32_t)mw_live_hash(e->addr) & m, i, j)) {
            L->tab[i] = *e;
            i = j;
        }
    }
    L->tab[i].addr = 0;
    L->count--;
    MW_LT_LEAVE(L, own, biased);
    return true;
}

/* ---- what the hooks call ---------------------------------------------------------------- */
/* The owner hint of addr's 64 KiB granule (live.c): registry slot + 1 of the thread that last
 * inserted a block there, 0 = none. Read by cross-thread frees to find the owner's table. */
#define MW_HINT_BITS 14u
extern _Atomic uint16_t mw_live_hint[1u << MW_HINT_BITS];
static inline _Atomic uint16_t *mw_live_hint_of(uintptr_t addr)
{
    return &mw_live_hint[((uint64_t)(addr >> 16) * 0x9E3779B97F4A7C15ull) >> (64 - MW_HINT_BITS)];
}

/* The shared table (live_shared.c): the blocks that do not go to their thread's own table. */
bool mw_live_shared_insert(uintptr_t addr, size_t size, mw_block_ref ref, mw_live_block *old);
bool mw_live_shared_remove(uintptr_t addr, mw_live_block *out);
void mw_live_shared_foreach(void (*fn)(const mw_live_block *b, void *arg), void *arg);
size_t mw_live_shared_count(void);
void mw_live_shared_init(void);
void mw_live_table_foreach(const mw_ltab *L, void (*fn)(const mw_live_block *b, void *arg), void *arg);
/* fork (inherit.c): the shared table's shard locks, taken[4] marking the ones taken; the
 * taken shards frozen in the child (before mw_live_shared_init drops them), counted, walked
 * and forgotten */
#define MW_LIVE_SHARDS 256u
void mw_live_shared_lock_all(uint64_t deadline, uint64_t *taken);
void mw_live_shared_unlock_all(const uint64_t *taken);
void mw_live_shared_freeze(const uint64_t *taken);
size_t mw_live_shared_frozen_count(void);
void mw_live_shared_frozen_foreach(void (*fn)(const mw_live_block *b, void *arg), void *arg);
void mw_live_shared_frozen_drop(void);

/* A new block of thread t: its own table, or the shared one once that holds LT_MAX_OWN. own:
 * t is the calling thread's own state (mw_tls_self), not the orphan stream's. */
static inline __attribute__((always_inline)) bool mw_live_insert_t(mw_thread *t, bool own, uintptr_t addr,
                                                                   size_t size, mw_block_ref ref, mw_live_block *old)
{
    bool had = MW_LIKELY(__atomic_load_n(&t->lt.count, __ATOMIC_RELAXED) < LT_MAX_OWN)
                   ? (own ? mw_lt_insert(&t->lt, addr, size, ref, old, true)
                          : mw_lt_insert(&t->lt, addr, size, ref, old, false))
                   : mw_live_shared_insert(addr, size, ref, old);
    _Atomic uint16_t *hp = mw_live_hint_of(addr);
    uint16_t me = (uint16_t)(t->slot + 1);
    if (MW_UNLIKELY(atomic_load_explicit(hp, memory_order_relaxed) != me))
        atomic_store_explicit(hp, me, memory_order_relaxed);
    return had;
}

/* The block at addr is freed by thread t: its own table first, then (live.c) the owner's. */
bool mw_live_remove_other(mw_thread *t, uintptr_t addr, mw_live_block *out);
static inline __attribute__((always_inline)) bool mw_live_remove_t(mw_thread *t, bool own, uintptr_t addr,
                                                                   mw_live_block *out)
{
    if (MW_LIKELY(own ? mw_lt_remove(&t->lt, addr, out, true) : mw_lt_remove(&t->lt, addr, out, false))) return true;
    /* through a copy: *out's address never escapes, so the caller's block stays in registers
     * on the common path instead of a round trip through the stack */
    mw_live_block o;
    if (!mw_live_remove_other(t, addr, &o)) return false;
    if (out) *out = o;
    return true;
}

#endif /* MW_LIVE_IMPL_H */
