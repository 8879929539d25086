/*
 * live.c — the live-block table: address -> {size, block id} for every traced heap block.
 *
 * It is what lets a FREE name its block by id, detects frees we missed (an insert finding the
 * address still present), and is the heap the reachability scan walks (mw_live_foreach).
 * 256 shards chosen by address hash, each an open-addressing (linear probing, backward-shift
 * deletion) table behind its own spinlock, grown with raw mmap: no global lock, no malloc.
 */
#include <sys/mman.h>

#include "mw_core.h"

#define SHARD_BITS 8u
#define NSHARDS (1u << SHARD_BITS)
#define INIT_CAP 256u

typedef struct entry {
    uintptr_t addr;     /* 0 = empty */
    size_t size;
    uint64_t tidx;
    uint64_t seq;
} entry;

typedef struct shard {
    atomic_flag lock;
    uint32_t cap;       /* power of two, 0 before first use */
    uint32_t count;
    entry *tab;
    char pad[64 - sizeof(atomic_flag) - 8 - sizeof(entry *)];
} shard;

static _Alignas(64) shard shards[NSHARDS];

static inline uint64_t hash_addr(uintptr_t a)
{
    uint64_t h = (uint64_t)(a >> 4) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}

static inline shard *shard_of(uint64_t h) { return &shards[h >> (64 - SHARD_BITS)]; }

static inline void lock(shard *s)
{
    while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire))
        __builtin_ia32_pause();
}
static inline void unlock(shard *s) { atomic_flag_clear_explicit(&s->lock, memory_order_release); }

static entry *map_table(uint32_t cap)
{
    void *p = mw_real.mmap ? mw_real.mmap(NULL, (size_t)cap * sizeof(entry), PROT_READ | PROT_WRITE,
                                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                           : MAP_FAILED;
    return p == MAP_FAILED ? NULL : p;
}

/* Grows (or creates) the table; false when memory is exhausted. Caller holds the lock. */
static bool grow(shard *s)
{
    uint32_t ncap = s->cap ? s->cap * 2 : INIT_CAP;
    entry *nt = map_table(ncap);
    if (!nt) return false;
    mw_own_range_add(nt, (size_t)ncap * sizeof(entry)); /* block addresses: never a root */
    for (uint32_t i = 0; i < s->cap; i++) {
        entry *e = &s->tab[i];
        if (!e->addr) continue;
        uint32_t j = (uint32_t)hash_addr(e->addr) & (ncap - 1);
        while (nt[j].addr) j = (j + 1) & (ncap - 1);
        nt[j] = *e;
    }
    if (s->tab) {
        mw_own_range_del(s->tab, (size_t)s->cap * sizeof(entry));
        mw_real.munmap(s->tab, (size_t)s->cap * sizeof(entry));
    }
    s->tab = nt;
    s->cap = ncap;
    return true;
}

void mw_live_init(void)
{
    for (unsigned i = 0; i < NSHARDS; i++) {
        atomic_flag_clear(&shards[i].lock);
        shards[i].cap = 0;
        shards[i].count = 0;
        shards[i].tab = NULL; /* after fork: the parent's tables are dropped (left mapped) */
    }
}

bool mw_live_insert(uintptr_t addr, size_t size, mw_block_ref ref, mw_live_block *old)
{
    uint64_t h = hash_addr(addr);
    shard *s = shard_of(h);
    bool had = false;
    lock(s);
    if ((s->count + 1) * 4 > s->cap * 3 && !grow(s)) {
        unlock(s);
        mw_count_lost(1, 0);
        return false;
    }
    uint32_t m = s->cap - 1, i = (uint32_t)h & m;
    for (;; i = (i + 1) & m) {
        entry *e = &s->tab[i];
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
    s->tab[i] = (entry){ addr, size, ref.tidx, ref.seq };
    unlock(s);
    return had;
}

bool mw_live_remove(uintptr_t addr, mw_live_block *out)
{
    uint64_t h = hash_addr(addr);
    shard *s = shard_of(h);
    lock(s);
    if (!s->cap) {
        unlock(s);
        return false;
    }
    uint32_t m = s->cap - 1, i = (uint32_t)h & m;
    for (;; i = (i + 1) & m) {
        entry *e = &s->tab[i];
        if (!e->addr) {
            unlock(s);
            return false;
        }
        if (e->addr == addr) break;
    }
    if (out) *out = (mw_live_block){ addr, s->tab[i].size, { s->tab[i].tidx, s->tab[i].seq } };
    /* backward-shift deletion keeps probe chains intact without tombstones */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & m;
        entry *e = &s->tab[j];
        if (!e->addr) break;
        uint32_t home = (uint32_t)hash_addr(e->addr) & m;
        /* move e into the hole at i if its home is not cyclically in (i, j] */
        bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            s->tab[i] = *e;
            i = j;
        }
    }
    s->tab[i].addr = 0;
    s->count--;
    unlock(s);
    return true;
}

bool mw_live_lookup(uintptr_t addr, mw_live_block *out)
{
    uint64_t h = hash_addr(addr);
    shard *s = shard_of(h);
    bool found = false;
    lock(s);
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
    unlock(s);
    return found;
}

void mw_live_foreach(void (*fn)(const mw_live_block *b, void *arg), void *arg)
{
    for (unsigned k = 0; k < NSHARDS; k++) {
        shard *s = &shards[k];
        lock(s);
        for (uint32_t i = 0; i < s->cap; i++) {
            entry *e = &s->tab[i];
            if (!e->addr) continue;
            mw_live_block b = { e->addr, e->size, { e->tidx, e->seq } };
            fn(&b, arg);
        }
        unlock(s);
    }
}

size_t mw_live_count(void)
{
    size_t n = 0;
    for (unsigned k = 0; k < NSHARDS; k++) n += __atomic_load_n(&shards[k].count, __ATOMIC_RELAXED);
    return n;
}
