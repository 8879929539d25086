/*
 * live_impl.h — the live-block table's layout and its two hot operations, inlined into the
 * allocation hooks (hooks_alloc.c) and used by live.c; growth, iteration and reset are in
 * live.c. See live.c for the design.
 */
#ifndef MW_LIVE_IMPL_H
#define MW_LIVE_IMPL_H

#include "mw_core.h"

#define SHARD_BITS 8u
#define NSHARDS (1u << SHARD_BITS)
#define INIT_CAP 16u

typedef struct mw_live_entry {
    uintptr_t addr;     /* 0 = empty */
    size_t size;
    uint64_t tidx;
    uint64_t seq;
} mw_live_entry;

typedef struct mw_live_shard {
    atomic_flag lock;
    uint32_t cap;       /* power of two, 0 before first use */
    uint32_t count;
    mw_live_entry *tab;
    char pad[64 - sizeof(atomic_flag) - 8 - sizeof(mw_live_entry *)];
} mw_live_shard;

extern mw_live_shard mw_live_shards[NSHARDS];
bool mw_live_grow(mw_live_shard *s);   /* caller holds the lock */

static inline uint64_t mw_live_hash(uintptr_t a)
{
    uint64_t h = (uint64_t)(a >> 4) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}

static inline mw_live_shard *mw_live_shard_of(uint64_t h) { return &mw_live_shards[h >> (64 - SHARD_BITS)]; }

static inline void mw_live_lock(mw_live_shard *s)
{
    if (MW_LIKELY(!atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire))) return;
    mw_spin_lock_slow(&s->lock);
}
static inline void mw_live_unlock(mw_live_shard *s) { atomic_flag_clear_explicit(&s->lock, memory_order_release); }

/* Inserts addr; if addr was still present (a free we missed), its block is returned in *old
 * and true. A table that cannot grow drops the block (counted as lost). */
static inline __attribute__((always_inline)) bool mw_live_insert_inl(uintptr_t addr, size_t size,
                                                                     mw_block_ref ref, mw_live_block *old)
{
    uint64_t h = mw_live_hash(addr);
    mw_live_shard *s = mw_live_shard_of(h);
    bool had = false;
    mw_live_lock(s);
    if (MW_UNLIKELY((s->count + 1) * 4 > s->cap * 3) && !mw_live_grow(s)) {
        mw_live_unlock(s);
        mw_count_lost(1, 0);
        return false;
    }
    uint32_t m = s->cap - 1, i = (uint32_t)h & m;
    for (;; i = (i + 1) & m) {
        mw_live_entry *e = &s->tab[i];
        if (e->addr == addr) {
            if (old) *old = (mw_live_block){ e->addr, e->size, { e->tidx, e->seq } };
            had = true;
            break;
        }
        if (!e->addr) {
            s->count++;
            break;
        }
    }
    s->tab[i] = (mw_live_entry){ addr, size, ref.tidx, ref.seq };
    mw_live_unlock(s);
    return had;
}

/* Removes addr; its block in *out (may be NULL). False when it was not in the table. */
static inline __attribute__((always_inline)) bool mw_live_remove_inl(uintptr_t addr, mw_live_block *out)
{
    uint64_t h = mw_live_hash(addr);
    mw_live_shard *s = mw_live_shard_of(h);
    mw_live_lock(s);
    if (MW_UNLIKELY(!s->cap)) {
        mw_live_unlock(s);
        return false;
    }
    uint32_t m = s->cap - 1, i = (uint32_t)h & m;
    for (;; i = (i + 1) & m) {
        mw_live_entry *e = &s->tab[i];
        if (!e->addr) {
            mw_live_unlock(s);
            return false;
        }
        if (e->addr == addr) break;
    }
    if (out) *out = (mw_live_block){ addr, s->tab[i].size, { s->tab[i].tidx, s->tab[i].seq } };
    /* backward-shift deletion keeps probe chains intact without tombstones */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & m;
        mw_live_entry *e = &s->tab[j];
        if (!e->addr) break;
        uint32_t home = (uint32_t)mw_live_hash(e->addr) & m;
        /* move e into the hole at i if its home is not cyclically in (i, j] */
        bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            s->tab[i] = *e;
            i = j;
        }
    }
    s->tab[i].addr = 0;
    s->count--;
    mw_live_unlock(s);
    return true;
}

#endif /* MW_LIVE_IMPL_H */
