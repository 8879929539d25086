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
 * most half full. The shared table's chunk tables (dense, live.c) start small and are kept up
 * to 3/4 full: there are many of them and they are off the common path. */
#define LT_INIT_CAP 256u
#define LT_DENSE_INIT_CAP 16u
#define LT_SPARSE_CAP 4096u
#define LT_SPARSE_LOAD 32u
/* A thread's own table holds at most this many blocks (8192 slots); more go to the shared
 * table, whose chunk tables grow independently (live.c): growing a table never pauses the
 * program for long. */
#define LT_MAX_OWN 2048u

bool mw_lt_grow(mw_ltab *L);   /* caller holds the lock */

static inline uint64_t mw_live_hash(uintptr_t a)
{
    uint64_t h = (uint64_t)(a >> 4) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}

static inline void mw_lt_lock(mw_ltab *L)
{
    if (MW_LIKELY(!atomic_flag_test_and_set_explicit(&L->lock, memory_order_acquire))) return;
    mw_spin_lock_slow(&L->lock);
}
static inline void mw_lt_unlock(mw_ltab *L) { atomic_flag_clear_explicit(&L->lock, memory_order_release); }

/* How many blocks a table of cap slots may hold (mw_ltab.limit, set whenever cap changes). */
static inline uint32_t mw_lt_limit(bool dense, uint32_t cap)
{
    if (dense) return (uint32_t)((uint64_t)cap * 3 / 4);
    return cap <= LT_SPARSE_CAP ? cap / LT_SPARSE_LOAD : cap / 2;
}
static inline bool mw_lt_full(const mw_ltab *L) { return L->count >= L->limit; }

/* Inserts addr into table L, whose lock the caller holds; if addr was still present (a free
 * we missed), its block is returned in *old and 1. A table that cannot grow drops the block
 * (counted as lost): -1. */
static inline __attribute__((always_inline)) int mw_lt_insert_held(mw_ltab *L, uintptr_t addr, size_t size,
                                                                   mw_block_ref ref, mw_live_block *old)
{
    if (MW_UNLIKELY(mw_lt_full(L)) && !mw_lt_grow(L)) {
        mw_count_lost(1, 0);
        return -1;
    }
    uint32_t m = L->cap - 1, i = (uint32_t)mw_live_hash(addr) & m;
    int had = 0;
    for (;; i = (i + 1) & m) {
        mw_live_entry *e = &L->tab[i];
        if (e->addr == addr) {
            if (old) *old = (mw_live_block){ e->addr, e->size, { e->tidx, e->seq } };
            had = 1;
            break;
        }
        if (!e->addr) {
            L->count++;
            break;
        }
    }
    L->tab[i] = (mw_live_entry){ addr, size, ref.tidx, ref.seq };
    return had;
}

/* Inserts addr into table L under its lock: true when addr was still present (*old). */
static inline __attribute__((always_inline)) bool mw_lt_insert(mw_ltab *L, uintptr_t addr, size_t size,
                                                               mw_block_ref ref, mw_live_block *old)
{
    mw_lt_lock(L);
    int had = mw_lt_insert_held(L, addr, size, ref, old);
    mw_lt_unlock(L);
    return had > 0;
}

/* Removes addr from table L, whose lock the caller holds; its block in *out (may be NULL).
 * False when it is not there. */
static inline __attribute__((always_inline)) bool mw_lt_remove_held(mw_ltab *L, uintptr_t addr, mw_live_block *out)
{
    if (MW_UNLIKELY(!L->cap)) return false;
    uint32_t m = L->cap - 1, i = (uint32_t)mw_live_hash(addr) & m;
    for (;; i = (i + 1) & m) {
        mw_live_entry *e = &L->tab[i];
        if (!e->addr) return false;
        if (e->addr == addr) break;
    }
    if (out) *out = (mw_live_block){ addr, L->tab[i].size, { L->tab[i].tidx, L->tab[i].seq } };
    /* backward-shift deletion keeps probe chains intact without tombstones */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & m;
        mw_live_entry *e = &L->tab[j];
        if (!e->addr) break;
        uint32_t home = (uint32_t)mw_live_hash(e->addr) & m;
        /* move e into the hole at i if its home is not cyclically in (i, j] */
        bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            L->tab[i] = *e;
            i = j;
        }
    }
    L->tab[i].addr = 0;
    L->count--;
    return true;
}

/* Removes addr from table L under its lock. */
static inline __attribute__((always_inline)) bool mw_lt_remove(mw_ltab *L, uintptr_t addr, mw_live_block *out)
{
    mw_lt_lock(L);
    bool r = mw_lt_remove_held(L, addr, out);
    mw_lt_unlock(L);
    return r;
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

/* The shared table (live.c): a block that does not go to its thread's own table. */
bool mw_live_shared_insert(uintptr_t addr, size_t size, mw_block_ref ref, mw_live_block *old);

/* A new block of thread t: its own table, or the shared one once that holds LT_MAX_OWN. */
static inline __attribute__((always_inline)) bool mw_live_insert_t(mw_thread *t, uintptr_t addr, size_t size,
                                                                   mw_block_ref ref, mw_live_block *old)
{
    bool had = MW_LIKELY(__atomic_load_n(&t->lt.count, __ATOMIC_RELAXED) < LT_MAX_OWN)
                   ? mw_lt_insert(&t->lt, addr, size, ref, old)
                   : mw_live_shared_insert(addr, size, ref, old);
    _Atomic uint16_t *hp = mw_live_hint_of(addr);
    uint16_t me = (uint16_t)(t->slot + 1);
    if (MW_UNLIKELY(atomic_load_explicit(hp, memory_order_relaxed) != me))
        atomic_store_explicit(hp, me, memory_order_relaxed);
    return had;
}

/* The block at addr is freed by thread t: its own table first, then (live.c) the owner's. */
bool mw_live_remove_other(mw_thread *t, uintptr_t addr, mw_live_block *out);
static inline __attribute__((always_inline)) bool mw_live_remove_t(mw_thread *t, uintptr_t addr, mw_live_block *out)
{
    if (MW_LIKELY(mw_lt_remove(&t->lt, addr, out))) return true;
    /* through a copy: *out's address never escapes, so the caller's block stays in registers
     * on the common path instead of a round trip through the stack */
    mw_live_block o;
    if (!mw_live_remove_other(t, addr, &o)) return false;
    if (out) *out = o;
    return true;
}

#endif /* MW_LIVE_IMPL_H */
