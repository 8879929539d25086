/*
 * live_shared.c — the shared live-block table: the blocks of threads that exited and a
 * thread's blocks beyond the first LT_MAX_OWN live ones (live_impl.h), i.e. the heap of a
 * program with many live blocks. live.c keeps the per-thread tables and finds blocks across
 * both.
 *
 * The table is kept by 64 KiB address chunk: 256 shards (by chunk hash, each behind its own
 * lock), each a map from chunk to a small open-addressing table of that chunk's blocks. A
 * program allocates and frees mostly in address order, so consecutive hooks find their slots
 * in the same small table, already in the cache; one table over all blocks (by address hash)
 * cost a cache and TLB miss per malloc and per free, about 0.8 us a block with 4 M live
 * blocks (README, `pause`). Growing a chunk's table moves at most a few thousand entries: no
 * long pause. An entry is 8 bytes for the chunk's owner thread's small blocks, 16 for the
 * others: the chunk gives the address's upper bits, and its owner and base seq the block's
 * thread and most of its seq.
 *
 * Chunk tables and maps come from a pool of big mappings (one own-range each, reach_roots.c:
 * block addresses, never a root), in power-of-two pieces. No malloc anywhere.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "live_impl.h"
#include "mw_core.h"

/* ---- the pool ----------------------------------------------------------------------------- */
/* Pieces of 2^POOL_MIN_SHIFT .. 2^(POOL_MIN_SHIFT + POOL_CLASSES - 1) bytes, each aligned to
 * its size within a region, carved from POOL_REGION mappings; a freed piece waits on its
 * class's list. */
#define POOL_MIN_SHIFT 8u                /* 256 bytes: a chunk table of 16 slots */
#define POOL_CLASSES 15u                 /* up to 4 MiB */
#define POOL_REGION ((size_t)4 << 20)
#define POOL_RELEASE ((size_t)64 << 10)  /* an emptied chunk's table this big gives its pages back */
static struct {
    atomic_flag lock;
    uint8_t *base, *bump, *end;          /* the region being carved */
    void *free_list[POOL_CLASSES];
} pool;

static inline size_t pool_size(unsigned c) { return (size_t)1 << (POOL_MIN_SHIFT + c); }

static unsigned pool_class(size_t bytes)
{
    unsigned c = 0;
    while (c < POOL_CLASSES && pool_size(c) < bytes) c++;
    return c;
}

/* Puts [p, p + n) on the free lists, in aligned power-of-two pieces (n and p's offset in its
 * region are multiples of the smallest piece). Pool lock held. */
static void pool_spill(uint8_t *p, size_t n)
{
    while (n >= pool_size(0)) {
        size_t off = (size_t)(p - pool.base);
        unsigned c = POOL_CLASSES - 1;
        while (c > 0 && ((off & (pool_size(c) - 1)) || pool_size(c) > n)) c--;
        *(void **)p = pool.free_list[c];
        pool.free_list[c] = p;
        p += pool_size(c);
        n -= pool_size(c);
    }
}

/* Gives the pages of [p, p + n) now, writable; a kernel before 5.14 (no MADV_POPULATE_WRITE)
 * leaves them to the first write. errno is left alone. */
static void populate(void *p, size_t n)
{
    int saved = errno;
    syscall(SYS_madvise, p, n, MADV_POPULATE_WRITE);
    errno = saved;
}

/* A zeroed piece of at least `bytes` (<= 4 MiB), or NULL. */
static void *pool_get(size_t bytes)
{
    unsigned c = pool_class(bytes);
    if (c >= POOL_CLASSES) return NULL;
    size_t sz = pool_size(c);
    mw_spin_lock(&pool.lock);
    void *p = pool.free_list[c];
    if (p) {
        pool.free_list[c] = *(void **)p;
        mw_spin_unlock(&pool.lock);
        memset(p, 0, sz);
        return p;
    }
    size_t off = pool.base ? (size_t)(pool.bump - pool.base) : 0;
    size_t aligned = (off + sz - 1) & ~(sz - 1);
    if (!pool.base || aligned + sz > POOL_REGION) {
        void *r = mw_real.mmap ? mw_real.mmap(NULL, POOL_REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                               : MAP_FAILED;
        if (r == MAP_FAILED) {
            mw_spin_unlock(&pool.lock);
            return NULL;
        }
        mw_own_range_add(r, POOL_REGION);
        if (pool.base) pool_spill(pool.bump, (size_t)(pool.end - pool.bump));
        pool.base = pool.bump = r;
        pool.end = pool.base + POOL_REGION;
        off = aligned = 0;
    }
    pool_spill(pool.bump, aligned - off); /* the gap before an aligned piece */
    p = pool.base + aligned;
    pool.bump = (uint8_t *)p + sz;
    mw_spin_unlock(&pool.lock);
    /* never handed out before: zero. A piece of whole pages gets them now (best effort): a
     * table's first access to a page is the read of a probe, which maps the shared zero page,
     * and the write after it then copies it, with a TLB shootdown on every CPU the process
     * runs on (bench/bigheap: 5% of its time) */
    if (sz >= 4096) populate(p, sz);
    return p;
}

/* Gives a piece back; release: its pages too, if it is big (a table that grew is not
 * released: the next chunk to grow takes it over, and releasing costs a TLB shootdown). */
static void pool_put(void *p, size_t bytes, bool release)
{
    if (!p) return;
    unsigned c = pool_class(bytes);
    if (release && pool_size(c) >= POOL_RELEASE) madvise(p, pool_size(c), MADV_DONTNEED);
    mw_spin_lock(&pool.lock);
    *(void **)p = pool.free_list[c];
    pool.free_list[c] = p;
    mw_spin_unlock(&pool.lock);
}

/* ---- a chunk's tables --------------------------------------------------------------------- */
/* A chunk keeps most of its blocks in compact 8-byte entries and the rest in 16-byte wide
 * ones. Compact: the block belongs to the chunk's owner (the thread index of the block that
 * created the chunk: glibc gives each thread arenas of its own), starts on 16 bytes, is under
 * 512 KiB, and its seq lies within 2^32 above the chunk's base seq (that first block's): bits
 * 0-12 its offset / 16 + 1 (0 = empty), 13-31 its size, 32-63 its seq - base (owner and base
 * are taken again from the next block whenever no compact entry is left). Anything else
 * (a block of another thread, one of an exited thread moved here, an odd address, a big
 * block) is wide: a = its offset + 1 (17 bits) | size << 17, 0 = empty; b = tidx | seq << 16.
 * A block whose tidx or seq does not fit even that (past 65 536 thread indexes, or 2^48
 * allocations of one) is not kept, and counted as lost; sizes are below 2^47 (the user address
 * space). The compact form halves the table of a program with millions of small blocks
 * (bench/bigheap: 130 MB for 4 M blocks before it). Both tables: open addressing by address
 * hash, linear probing, at most 3/4 full, backward-shift deletion. */
#define CHUNK_SHIFT 16u
#define CC_INIT_CAP 32u        /* a 256-byte piece, the pool's smallest */
#define CW_INIT_CAP 16u
#define CC_KEY_BITS 13u
#define CC_SIZE_BITS 19u
#define CE_OFF_BITS 17u
#define CE_TIDX_BITS 16u
typedef struct chunk_entry {
    uint64_t a, b;
} chunk_entry;
typedef struct chunk_tab {
    uint32_t cap, count;   /* compact table: cap a power of two */
    uint64_t *tab;
    uint32_t wcap, wcount; /* wide table: none (0) until a block needs it */
    chunk_entry *wtab;
    uint64_t seq_base;
    uint64_t owner;
} chunk_tab;

static inline uint32_t ce_home(uintptr_t addr, uint32_t m) { return (uint32_t)mw_live_hash(addr) & m; }
static inline uintptr_t cc_addr(uintptr_t base, uint64_t e)
{
    return base | (uintptr_t)((e & ((1u << CC_KEY_BITS) - 1)) - 1) << 4;
}
static inline uintptr_t ce_addr(uintptr_t base, const chunk_entry *e)
{
    return base | ((e->a & ((1u << CE_OFF_BITS) - 1)) - 1);
}
static inline mw_live_block cc_block(const chunk_tab *T, uintptr_t base, uint64_t e)
{
    return (mw_live_block){ cc_addr(base, e), (e >> CC_KEY_BITS) & ((1u << CC_SIZE_BITS) - 1),
                            { T->owner, T->seq_base + (e >> 32) } };
}
static inline mw_live_block ce_block(uintptr_t base, const chunk_entry *e)
{
    return (mw_live_block){ ce_addr(base, e), e->a >> CE_OFF_BITS,
                            { e->b & ((1u << CE_TIDX_BITS) - 1), e->b >> CE_TIDX_BITS } };
}

static inline bool cc_fits(const chunk_tab *T, uintptr_t addr, size_t size, mw_block_ref ref)
{
    return !(addr & 15) && size < (1u << CC_SIZE_BITS) && ref.tidx == T->owner &&
           ref.seq >= T->seq_base && ref.seq - T->seq_base <= UINT32_MAX;
}

/* Room for one more entry in the compact (wide) table, grown (created) if needed. */
static bool cc_reserve(chunk_tab *T, uintptr_t base)
{
    if ((T->count + 1) * 4 <= T->cap * 3) return true;
    uint32_t ncap = T->cap * 2;
    uint64_t *nt = pool_get((size_t)ncap * sizeof *nt);
    if (!nt) return false;
    for (uint32_t i = 0; i < T->cap; i++) {
        if (!T->tab[i]) continue;
        uint32_t j = ce_home(cc_addr(base, T->tab[i]), ncap - 1);
        while (nt[j]) j = (j + 1) & (ncap - 1);
        nt[j] = T->tab[i];
    }
    pool_put(T->tab, (size_t)T->cap * sizeof *T->tab, false);
    T->tab = nt;
    T->cap = ncap;
    return true;
}
static bool cw_reserve(chunk_tab *T, uintptr_t base)
{
    if ((T->wcount + 1) * 4 <= T->wcap * 3) return true;
    uint32_t ncap = T->wcap ? T->wcap * 2 : CW_INIT_CAP;
    chunk_entry *nt = pool_get((size_t)ncap * sizeof *nt);
    if (!nt) return false;
    for (uint32_t i = 0; i < T->wcap; i++) {
        if (!T->wtab[i].a) continue;
        uint32_t j = ce_home(ce_addr(base, &T->wtab[i]), ncap - 1);
        while (nt[j].a) j = (j + 1) & (ncap - 1);
        nt[j] = T->wtab[i];
    }
    if (T->wtab) pool_put(T->wtab, (size_t)T->wcap * sizeof *T->wtab, false);
    T->wtab = nt;
    T->wcap = ncap;
    return true;
}

/* Removes addr from the compact (wide) table, its block in *out (may be NULL); false when it
 * is not there. */
static bool cc_remove(chunk_tab *T, uintptr_t base, uintptr_t addr, mw_live_block *out)
{
    if (!T->count || (addr & 15)) return false;
    uint64_t key = ((addr - base) >> 4) + 1;
    uint32_t m = T->cap - 1, i = ce_home(addr, m);
    for (;; i = (i + 1) & m) {
        if (!T->tab[i]) return false;
        if ((T->tab[i] & ((1u << CC_KEY_BITS) - 1)) == key) break;
    }
    if (out) *out = cc_block(T, base, T->tab[i]);
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & m;
        if (!T->tab[j]) break;
        if (mw_moves_back(ce_home(cc_addr(base, T->tab[j]), m), i, j)) {
            T->tab[i] = T->tab[j];
            i = j;
        }
    }
    T->tab[i] = 0;
    T->count--;
    return true;
}
static bool cw_remove(chunk_tab *T, uintptr_t base, uintptr_t addr, mw_live_block *out)
{
    if (!T->wcount) return false;
    uint64_t key = addr - base + 1;
    uint32_t m = T->wcap - 1, i = ce_home(addr, m);
    for (;; i = (i + 1) & m) {
        if (!T->wtab[i].a) return false;
        if ((T->wtab[i].a & ((1u << CE_OFF_BITS) - 1)) == key) break;
    }
    if (out) *out = ce_block(base, &T->wtab[i]);
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & m;
        if (!T->wtab[j].a) break;
        if (mw_moves_back(ce_home(ce_addr(base, &T->wtab[j]), m), i, j)) {
            T->wtab[i] = T->wtab[j];
            i = j;
        }
    }
    T->wtab[i].a = 0;
    T->wcount--;
    return true;
}

/* Removes addr from whichever table holds it. */
static bool ct_remove(chunk_tab *T, uintptr_t base, uintptr_t addr, mw_live_block *out)
{
    return cc_remove(T, base, addr, out) || cw_remove(T, base, addr, out);
}

/* Inserts addr: 1 when it was still present (its block in *old), 0 when added, -1 when it
 * cannot be kept (counted as lost). Room is made first, so nothing is removed for a block
 * that then cannot be added. */
static int ct_insert(chunk_tab *T, uintptr_t base, uintptr_t addr, size_t size, mw_block_ref ref, mw_live_block *old)
{
    if (!T->count) { /* no compact entry depends on them: the chunk changes hands (an arena reused
                      * by a new thread) or its base moves up with the owner's seqs */
        T->owner = ref.tidx;
        T->seq_base = ref.seq;
    }
    bool compact = cc_fits(T, addr, size, ref);
    if (MW_UNLIKELY(!compact && ((ref.tidx >> CE_TIDX_BITS) || (ref.seq >> (64 - CE_TIDX_BITS))))) {
        mw_count_lost(1, 0);
        return -1;
    }
    if (MW_UNLIKELY(compact ? !cc_reserve(T, base) : !cw_reserve(T, base))) {
        mw_count_lost(1, 0);
        return -1;
    }
    int had = ct_remove(T, base, addr, old) ? 1 : 0;
    uint32_t i;
    if (compact) {
        uint32_t m = T->cap - 1;
        for (i = ce_home(addr, m); T->tab[i]; i = (i + 1) & m) {}
        T->tab[i] = (((addr - base) >> 4) + 1) | (uint64_t)size << CC_KEY_BITS | (ref.seq - T->seq_base) << 32;
        T->count++;
    } else {
        if (size >> (64 - CE_OFF_BITS)) size = (1ull << (64 - CE_OFF_BITS)) - 1;
        uint32_t m = T->wcap - 1;
        for (i = ce_home(addr, m); T->wtab[i].a; i = (i + 1) & m) {}
        T->wtab[i] = (chunk_entry){ (addr - base + 1) | (uint64_t)size << CE_OFF_BITS, ref.tidx | ref.seq << CE_TIDX_BITS };
        T->wcount++;
    }
    return had;
}

/* Every block of a chunk. */
static void ct_foreach(const chunk_tab *T, uintptr_t base, void (*fn)(const mw_live_block *b, void *arg), void *arg)
{
    for (uint32_t j = 0; j < T->cap; j++) {
        if (!T->tab[j]) continue;
        mw_live_block b = cc_block(T, base, T->tab[j]);
        fn(&b, arg);
    }
    for (uint32_t j = 0; j < T->wcap; j++) {
        if (!T->wtab[j].a) continue;
        mw_live_block b = ce_block(base, &T->wtab[j]);
        fn(&b, arg);
    }
}

/* ---- shards: chunk -> table --------------------------------------------------------------- */
#define SHARDS MW_LIVE_SHARDS
typedef struct chunk_slot {
    uintptr_t key;      /* (address >> CHUNK_SHIFT) + 1; 0 = empty */
    chunk_tab t;
} chunk_slot;
typedef struct shard {
    _Alignas(64) atomic_flag lock;
    uint32_t cap, used;     /* slots of the chunk map, chunks in it */
    uint32_t last;          /* slot of the chunk found last */
    uint64_t blocks;
    chunk_slot *map;        /* open addressing by chunk hash */
    uint64_t *spare;        /* an emptied chunk's smallest compact table, kept for the next chunk */
} shard;
static shard shards[SHARDS];

static inline uint64_t chunk_hash(uintptr_t key) { return mw_live_hash(key << 4); }
static inline uintptr_t chunk_key(uintptr_t addr) { return (addr >> CHUNK_SHIFT) + 1; }
static inline uintptr_t chunk_base(uintptr_t key) { return (key - 1) << CHUNK_SHIFT; }
static inline shard *shard_of(uintptr_t addr) { return &shards[chunk_hash(chunk_key(addr)) >> (64 - 8)]; }

/* Slot of the chunk in S's map, or -1. Shard lock held. */
static long chunk_find(shard *S, uintptr_t key)
{
    if (!S->map) return -1;
    if (S->map[S->last].key == key) return S->last;
    uint32_t m = S->cap - 1;
    for (uint32_t i = (uint32_t)chunk_hash(key) & m;; i = (i + 1) & m) {
        if (S->map[i].key == key) {
            S->last = i;
            return i;
        }
        if (!S->map[i].key) return -1;
    }
}

/* Places a chunk slot in a map of cap slots (key absent). */
static uint32_t chunk_place(chunk_slot *map, uint32_t cap, const chunk_slot *c)
{
    uint32_t m = cap - 1, i = (uint32_t)chunk_hash(c->key) & m;
    while (map[i].key) i = (i + 1) & m;
    map[i] = *c;
    return i;
}

/* Adds the chunk (a compact table of CC_INIT_CAP slots; its owner and base seq those of the
 * block about to be inserted), growing the map at half full. Shard lock held. -1 when memory
 * is exhausted. */
static long chunk_add(shard *S, uintptr_t key, mw_block_ref first)
{
    if ((S->used + 1) * 2 > S->cap) {
        uint32_t ncap = S->cap ? S->cap * 2 : 8;
        chunk_slot *nm = pool_get((size_t)ncap * sizeof *nm);
        if (!nm) return -1;
        for (uint32_t i = 0; i < S->cap; i++)
            if (S->map[i].key) chunk_place(nm, ncap, &S->map[i]);
        pool_put(S->map, (size_t)S->cap * sizeof *S->map, false);
        S->map = nm;
        S->cap = ncap;
    }
    uint64_t *tab = S->spare;
    S->spare = NULL;
    if (!tab && !(tab = pool_get(CC_INIT_CAP * sizeof *tab))) return -1;
    chunk_slot c = { key, { CC_INIT_CAP, 0, tab, 0, 0, NULL, first.seq, first.tidx } };
    S->used++;
    return S->last = chunk_place(S->map, S->cap, &c);
}

/* Drops the (empty) chunk in slot i: its table goes back (or becomes the spare), the map
 * closes the hole by backward shift. Shard lock held. */
static void chunk_drop(shard *S, uint32_t i)
{
    chunk_tab *T = &S->map[i].t;
    if (T->cap == CC_INIT_CAP && !S->spare)
        S->spare = T->tab; /* every slot empty: ready for the next chunk */
    else
        pool_put(T->tab, (size_t)T->cap * sizeof *T->tab, true);
    if (T->wtab) pool_put(T->wtab, (size_t)T->wcap * sizeof *T->wtab, true);
    uint32_t m = S->cap - 1, j = i;
    for (;;) {
        j = (j + 1) & m;
        if (!S->map[j].key) break;
        if (mw_moves_back((uint32_t)chunk_hash(S->map[j].key) & m, i, j)) {
            S->map[i] = S->map[j];
            i = j;
        }
    }
    S->map[i].key = 0;
    S->used--;
    S->last = 0;
}

/* ---- what live.c calls -------------------------------------------------------------------- */
bool mw_live_shared_insert(uintptr_t addr, size_t size, mw_block_ref ref, mw_live_block *old)
{
    shard *S = shard_of(addr);
    uintptr_t key = chunk_key(addr);
    mw_spin_lock(&S->lock);
    long i = chunk_find(S, key);
    if (i < 0) i = chunk_add(S, key, ref);
    int had = -1;
    if (i >= 0) {
        chunk_tab *T = &S->map[i].t;
        had = ct_insert(T, chunk_base(key), addr, size, ref, old);
        if (had == 0) S->blocks++;
        if (had < 0 && !T->count && !T->wcount) chunk_drop(S, (uint32_t)i);
    } else {
        mw_count_lost(1, 0);
    }
    mw_spin_unlock(&S->lock);
    return had > 0;
}

bool mw_live_shared_remove(uintptr_t addr, mw_live_block *out)
{
    shard *S = shard_of(addr);
    uintptr_t key = chunk_key(addr);
    mw_spin_lock(&S->lock);
    long i = chunk_find(S, key);
    bool found = i >= 0 && ct_remove(&S->map[i].t, chunk_base(key), addr, out);
    if (found) {
        S->blocks--;
        if (!S->map[i].t.count && !S->map[i].t.wcount) chunk_drop(S, (uint32_t)i);
    }
    mw_spin_unlock(&S->lock);
    return found;
}

/* One shard's blocks (its lock held, or a frozen copy). */
static void shard_foreach(const shard *S, void (*fn)(const mw_live_block *b, void *arg), void *arg)
{
    for (uint32_t i = 0; i < S->cap; i++) {
        const chunk_slot *c = &S->map[i];
        if (c->key) ct_foreach(&c->t, chunk_base(c->key), fn, arg);
    }
}

/* Every block, each shard locked while visited. */
void mw_live_shared_foreach(void (*fn)(const mw_live_block *b, void *arg), void *arg)
{
    for (unsigned k = 0; k < SHARDS; k++) {
        shard *S = &shards[k];
        mw_spin_lock(&S->lock);
        shard_foreach(S, fn, arg);
        mw_spin_unlock(&S->lock);
    }
}

size_t mw_live_shared_count(void)
{
    size_t n = 0;
    for (unsigned k = 0; k < SHARDS; k++) n += __atomic_load_n(&shards[k].blocks, __ATOMIC_RELAXED);
    return n;
}

/* fork (inherit.c): every shard's lock, each taken unless still busy at deadline (mw_now_ns);
 * the taken ones are marked in taken[SHARDS / 64]. */
void mw_live_shared_lock_all(uint64_t deadline, uint64_t *taken)
{
    for (unsigned k = 0; k < SHARDS; k++) {
        taken[k / 64] &= ~(1ull << (k % 64));
        if (mw_spin_lock_until(&shards[k].lock, deadline)) taken[k / 64] |= 1ull << (k % 64);
    }
}

void mw_live_shared_unlock_all(const uint64_t *taken)
{
    for (unsigned k = 0; k < SHARDS; k++)
        if (taken[k / 64] >> (k % 64) & 1) mw_spin_unlock(&shards[k].lock);
}

/* fork (inherit.c): the parent's shards as they were at the fork, copied in the child while
 * the prepare handler holds their locks. mw_live_shared_init then drops them, but the child
 * keeps the memory they point to (nothing frees or reuses it), so the parent's blocks can be
 * walked later, and only if the child needs them. */
static shard frozen[SHARDS];
static uint64_t frozen_taken[SHARDS / 64];

void mw_live_shared_freeze(const uint64_t *taken)
{
    memcpy(frozen, shards, sizeof frozen);
    memcpy(frozen_taken, taken, sizeof frozen_taken);
}

size_t mw_live_shared_frozen_count(void)
{
    size_t n = 0;
    for (unsigned k = 0; k < SHARDS; k++)
        if (frozen_taken[k / 64] >> (k % 64) & 1) n += frozen[k].blocks;
    return n;
}

void mw_live_shared_frozen_foreach(void (*fn)(const mw_live_block *b, void *arg), void *arg)
{
    for (unsigned k = 0; k < SHARDS; k++)
        if (frozen_taken[k / 64] >> (k % 64) & 1) shard_foreach(&frozen[k], fn, arg);
}

void mw_live_shared_frozen_drop(void) { memset(frozen_taken, 0, sizeof frozen_taken); }

/* At start and in a fork child: the parent's tables and pool are dropped (left mapped). */
void mw_live_shared_init(void)
{
    for (unsigned i = 0; i < SHARDS; i++) {
        atomic_flag_clear(&shards[i].lock);
        shards[i].cap = shards[i].used = shards[i].last = 0;
        shards[i].blocks = 0;
        shards[i].map = NULL;
        shards[i].spare = NULL;
    }
    atomic_flag_clear(&pool.lock);
    pool.base = pool.bump = pool.end = NULL;
    for (unsigned c = 0; c < POOL_CLASSES; c++) pool.free_list[c] = NULL;
}
