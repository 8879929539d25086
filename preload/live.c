/*
 * live.c — the live-block table: address -> {size, block id} for every traced heap block.
 *
 * It is what lets a FREE name its block by id, detects frees we missed (an insert finding the
 * address still present), and is the heap the reachability scan walks (mw_live_foreach).
 * 256 shards chosen by address hash, each an open-addressing (linear probing, backward-shift
 * deletion) table behind its own spinlock, starting in a static array and grown with raw
 * mmap: no global lock, no malloc.
 */
#include <sys/mman.h>

#include "mw_core.h"

#include "live_impl.h"

_Alignas(64) mw_live_shard mw_live_shards[NSHARDS];
/* Every shard's first table, side by side: separately mmapped, the 256 small tables all began
 * on a page boundary and fought over the same few cache sets (a miss on every lookup). Part of
 * the shim's own data segment, so never a reachability root. */
static _Alignas(64) mw_live_entry first_tabs[NSHARDS][INIT_CAP];

static mw_live_entry *map_table(uint32_t cap)
{
    void *p = mw_real.mmap ? mw_real.mmap(NULL, (size_t)cap * sizeof(mw_live_entry), PROT_READ | PROT_WRITE,
                                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                           : MAP_FAILED;
    return p == MAP_FAILED ? NULL : p;
}

/* Grows (or creates) the table; false when memory is exhausted. Caller holds the lock. */
bool mw_live_grow(mw_live_shard *s)
{
    uint32_t ncap = s->cap ? s->cap * 2 : INIT_CAP;
    mw_live_entry *first = first_tabs[s - mw_live_shards], *nt;
    if (!s->cap) {
        nt = first;
        __builtin_memset(nt, 0, sizeof first_tabs[0]); /* after fork: the parent's entries */
    } else {
        nt = map_table(ncap);
        if (!nt) return false;
        mw_own_range_add(nt, (size_t)ncap * sizeof(mw_live_entry)); /* block addresses: never a root */
    }
    for (uint32_t i = 0; i < s->cap; i++) {
        mw_live_entry *e = &s->tab[i];
        if (!e->addr) continue;
        uint32_t j = (uint32_t)mw_live_hash(e->addr) & (ncap - 1);
        while (nt[j].addr) j = (j + 1) & (ncap - 1);
        nt[j] = *e;
    }
    if (s->tab && s->tab != first) {
        mw_own_range_del(s->tab, (size_t)s->cap * sizeof(mw_live_entry));
        mw_real.munmap(s->tab, (size_t)s->cap * sizeof(mw_live_entry));
    }
    s->tab = nt;
    s->cap = ncap;
    return true;
}

void mw_live_init(void)
{
    for (unsigned i = 0; i < NSHARDS; i++) {
        atomic_flag_clear(&mw_live_shards[i].lock);
        mw_live_shards[i].cap = 0;
        mw_live_shards[i].count = 0;
        mw_live_shards[i].tab = NULL; /* after fork: the parent's tables are dropped (left mapped) */
    }
}

bool mw_live_lookup(uintptr_t addr, mw_live_block *out)
{
    uint64_t h = mw_live_hash(addr);
    mw_live_shard *s = mw_live_shard_of(h);
    bool found = false;
    mw_live_lock(s);
    if (s->cap) {
        uint32_t m = s->cap - 1;
        for (uint32_t i = (uint32_t)h & m; s->tab[i].addr; i = (i + 1) & m) {
            if (s->tab[i].addr == addr) {
                if (out) *out = (mw_live_block){ addr, s->tab[i].size, { s->tab[i].tidx, s->tab[i].seq } };
                found = true;
                break;
            }
        }
    }
    mw_live_unlock(s);
    return found;
}

void mw_live_foreach(void (*fn)(const mw_live_block *b, void *arg), void *arg)
{
    for (unsigned k = 0; k < NSHARDS; k++) {
        mw_live_shard *s = &mw_live_shards[k];
        mw_live_lock(s);
        for (uint32_t i = 0; i < s->cap; i++) {
            mw_live_entry *e = &s->tab[i];
            if (!e->addr) continue;
            mw_live_block b = { e->addr, e->size, { e->tidx, e->seq } };
            fn(&b, arg);
        }
        mw_live_unlock(s);
    }
}

size_t mw_live_count(void)
{
    size_t n = 0;
    for (unsigned k = 0; k < NSHARDS; k++) n += __atomic_load_n(&mw_live_shards[k].count, __ATOMIC_RELAXED);
    return n;
}

bool mw_live_insert(uintptr_t addr, size_t size, mw_block_ref ref, mw_live_block *old)
{
    return mw_live_insert_inl(addr, size, ref, old);
}

bool mw_live_remove(uintptr_t addr, mw_live_block *out) { return mw_live_remove_inl(addr, out); }
