/*
 * live.c — the live-block tables: address -> {size, block id} for every traced heap block.
 *
 * They let a FREE name its block by id, detect frees we missed (an insert finding the address
 * still present), and are the heap the reachability scan walks (mw_live_foreach).
 *
 * Each thread keeps the blocks it allocated in its own table (mw_thread.lt): open addressing,
 * linear probing, backward-shift deletion, behind a spinlock that only the owner takes in the
 * common case (its cache line stays with the owner's CPU), grown with raw mmap. A thread's
 * table stays sparse while small (live_impl.h). A free looks in the freeing thread's own table
 * first; a block of another thread is found through a per-64-KiB owner hint (the thread that
 * last allocated there: glibc gives each thread its own arena), then in the shared table,
 * then in every thread's table. Before, one table for the whole process (256 shards by
 * address hash) was what every hook touched: a shard header and a slot on lines other CPUs
 * had just written, a quarter of a traced malloc/free pair's time on one thread and more with
 * several (README, performance).
 *
 * The shared table holds the blocks of threads that exited and a thread's blocks beyond its
 * first LT_MAX_OWN live ones: the heap of a program with millions of live blocks. It is kept
 * by 64 KiB address chunk: 256 shards (by chunk hash, each behind its own lock), each a map
 * from chunk to a small table of that chunk's blocks. A program allocates and frees mostly in
 * address order, so consecutive hooks find their slots in the same small table, already in
 * the cache; one table over all blocks (by address hash) cost a cache and TLB miss per malloc
 * and per free, about 0.8 us a block with 4 M live blocks (README, `pause`). Growing a chunk's
 * table moves at most a few thousand entries: no long pause. Chunk tables and maps come from
 * a pool of big mappings (one own-range each, reach_roots.c) in power-of-two pieces.
 *
 * An exited thread's blocks move to the shared table when the writer recycles its state
 * (mw_live_thread_gone); a search that may have missed a block while it moved is repeated
 * (migration counter). No malloc anywhere: raw mmap, registered as the shim's own memory.
 */
#include <string.h>
#include <sys/mman.h>

#include "mw_core.h"

#include "live_impl.h"

_Alignas(64) _Atomic uint16_t mw_live_hint[1u << MW_HINT_BITS];
/* Odd while a thread's blocks move to the shared table; bumped twice per move. */
static _Alignas(64) _Atomic uint64_t migrations;

static inline void flag_lock(atomic_flag *f)
{
    if (MW_LIKELY(!atomic_flag_test_and_set_explicit(f, memory_order_acquire))) return;
    mw_spin_lock_slow(f);
}
static inline void flag_unlock(atomic_flag *f) { atomic_flag_clear_explicit(f, memory_order_release); }

/* ---- the pool: memory of the shared table's chunk tables and maps ----------------------- */
/* Pieces of 2^POOL_MIN_SHIFT .. 2^(POOL_MIN_SHIFT + POOL_CLASSES - 1) bytes, each aligned to
 * its size within a region, carved from POOL_REGION mappings; a freed piece waits on its
 * class's list (big ones give their pages back first). */
#define POOL_MIN_SHIFT 9u                /* 512 bytes: a chunk table of 16 slots */
#define POOL_CLASSES 14u                 /* up to 4 MiB */
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

/* A zeroed piece of at least `bytes` (<= 4 MiB), or NULL. */
static void *pool_get(size_t bytes)
{
    unsigned c = pool_class(bytes);
    if (c >= POOL_CLASSES) return NULL;
    size_t sz = pool_size(c);
    flag_lock(&pool.lock);
    void *p = pool.free_list[c];
    if (p) {
        pool.free_list[c] = *(void **)p;
        flag_unlock(&pool.lock);
        memset(p, 0, sz);
        return p;
    }
    size_t off = pool.base ? (size_t)(pool.bump - pool.base) : 0;
    size_t aligned = (off + sz - 1) & ~(sz - 1);
    if (!pool.base || aligned + sz > POOL_REGION) {
        void *r = mw_real.mmap ? mw_real.mmap(NULL, POOL_REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                               : MAP_FAILED;
        if (r == MAP_FAILED) {
            flag_unlock(&pool.lock);
            return NULL;
        }
        mw_own_range_add(r, POOL_REGION); /* block addresses: never a root */
        if (pool.base) pool_spill(pool.bump, (size_t)(pool.end - pool.bump));
        pool.base = pool.bump = r;
        pool.end = pool.base + POOL_REGION;
        off = aligned = 0;
    }
    pool_spill(pool.bump, aligned - off); /* the gap before an aligned piece */
    p = pool.base + aligned;
    pool.bump = (uint8_t *)p + sz;
    flag_unlock(&pool.lock);
    return p; /* never handed out before: zero */
}

/* Gives a piece back; release: its pages too, if it is big (a table that grew is not
 * released: the next chunk to grow takes it over, and releasing costs a TLB shootdown). */
static void pool_put(void *p, size_t bytes, bool release)
{
    if (!p) return;
    unsigned c = pool_class(bytes);
    if (release && pool_size(c) >= POOL_RELEASE) madvise(p, pool_size(c), MADV_DONTNEED);
    flag_lock(&pool.lock);
    *(void **)p = pool.free_list[c];
    pool.free_list[c] = p;
    flag_unlock(&pool.lock);
}

/* ---- the shared table ------------------------------------------------------------------- */
#define CHUNK_SHIFT 16u
#define SHARDS 256u
typedef struct chunk_slot {
    uintptr_t key;      /* (address >> CHUNK_SHIFT) + 1; 0 = empty */
    mw_ltab t;          /* the chunk's blocks (pooled, dense; its own lock unused) */
} chunk_slot;
typedef struct shard {
    _Alignas(64) atomic_flag lock;
    uint32_t cap, used;     /* slots of the chunk map, chunks in it */
    uint32_t last;          /* slot of the chunk found last */
    uint64_t blocks;
    chunk_slot *map;        /* open addressing by chunk hash */
    mw_live_entry *spare;   /* an emptied chunk's smallest table, kept for the next chunk */
} shard;
static shard shards[SHARDS];

static inline uint64_t chunk_hash(uintptr_t key) { return mw_live_hash(key << 4); }
static inline shard *shard_of(uintptr_t addr)
{
    return &shards[chunk_hash((addr >> CHUNK_SHIFT) + 1) >> (64 - 8)];
}

/* Slot of addr's chunk in S's map, or -1. Shard lock held. */
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

/* Adds the chunk's slot (a table of LT_DENSE_INIT_CAP slots), growing the map at half full.
 * Shard lock held. -1 when memory is exhausted. */
static long chunk_add(shard *S, uintptr_t key)
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
    mw_live_entry *tab = S->spare;
    S->spare = NULL;
    if (!tab && !(tab = pool_get(LT_DENSE_INIT_CAP * sizeof(mw_live_entry)))) return -1;
    chunk_slot c = { key, { .dense = true, .pooled = true, .cap = LT_DENSE_INIT_CAP, .count = 0,
                            .limit = mw_lt_limit(true, LT_DENSE_INIT_CAP), .tab = tab } };
    atomic_flag_clear(&c.t.lock);
    S->used++;
    return S->last = chunk_place(S->map, S->cap, &c);
}

/* Drops the (empty) chunk in slot i: its table goes back (or becomes the spare), the map
 * closes the hole by backward shift. Shard lock held. */
static void chunk_drop(shard *S, uint32_t i)
{
    mw_ltab *L = &S->map[i].t;
    if (L->cap == LT_DENSE_INIT_CAP && !S->spare)
        S->spare = L->tab; /* every slot empty: ready for the next chunk */
    else
        pool_put(L->tab, (size_t)L->cap * sizeof(mw_live_entry), true);
    uint32_t m = S->cap - 1, j = i;
    for (;;) {
        j = (j + 1) & m;
        if (!S->map[j].key) break;
        uint32_t home = (uint32_t)chunk_hash(S->map[j].key) & m;
        bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            S->map[i] = S->map[j];
            i = j;
        }
    }
    S->map[i].key = 0;
    S->used--;
    S->last = 0;
}

bool mw_live_shared_insert(uintptr_t addr, size_t size, mw_block_ref ref, mw_live_block *old)
{
    shard *S = shard_of(addr);
    uintptr_t key = (addr >> CHUNK_SHIFT) + 1;
    flag_lock(&S->lock);
    long i = chunk_find(S, key);
    if (i < 0) i = chunk_add(S, key);
    int had = -1;
    if (i >= 0) {
        had = mw_lt_insert_held(&S->map[i].t, addr, size, ref, old);
        if (had == 0) S->blocks++;
        if (had < 0 && !S->map[i].t.count) chunk_drop(S, (uint32_t)i);
    } else {
        mw_count_lost(1, 0);
    }
    flag_unlock(&S->lock);
    return had > 0;
}

static bool shared_remove(uintptr_t addr, mw_live_block *out)
{
    shard *S = shard_of(addr);
    flag_lock(&S->lock);
    long i = chunk_find(S, (addr >> CHUNK_SHIFT) + 1);
    bool found = i >= 0 && mw_lt_remove_held(&S->map[i].t, addr, out);
    if (found) {
        S->blocks--;
        if (!S->map[i].t.count) chunk_drop(S, (uint32_t)i);
    }
    flag_unlock(&S->lock);
    return found;
}

static mw_live_entry *map_table(uint32_t cap)
{
    void *p = mw_real.mmap ? mw_real.mmap(NULL, (size_t)cap * sizeof(mw_live_entry), PROT_READ | PROT_WRITE,
                                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
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
    uint32_t ncap = L->cap ? L->cap * 2 : L->dense ? LT_DENSE_INIT_CAP : LT_INIT_CAP;
    while (ncap < (1u << 31) && L->count >= mw_lt_limit(L->dense, ncap)) ncap *= 2;
    mw_live_entry *nt = L->pooled ? pool_get((size_t)ncap * sizeof *nt) : map_table(ncap);
    if (!nt) return false;
    for (uint32_t i = 0; i < L->cap; i++) {
        mw_live_entry *e = &L->tab[i];
        if (!e->addr) continue;
        uint32_t j = (uint32_t)mw_live_hash(e->addr) & (ncap - 1);
        while (nt[j].addr) j = (j + 1) & (ncap - 1);
        nt[j] = *e;
    }
    if (L->pooled)
        pool_put(L->tab, (size_t)L->cap * sizeof *L->tab, false);
    else
        unmap_table(L->tab, L->cap);
    L->tab = nt;
    L->cap = ncap;
    L->limit = mw_lt_limit(L->dense, ncap);
    return true;
}

void mw_live_init(void)
{
    /* after fork: the parent's tables and pool are dropped (left mapped) */
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
    for (unsigned i = 0; i < (1u << MW_HINT_BITS); i++) atomic_store_explicit(&mw_live_hint[i], 0, memory_order_relaxed);
    atomic_store(&migrations, 0);
}

/* A free of a block thread t did not allocate (or one we never saw). */
bool mw_live_remove_other(mw_thread *t, uintptr_t addr, mw_live_block *out)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t gen = atomic_load_explicit(&migrations, memory_order_acquire);
        unsigned hint = atomic_load_explicit(mw_live_hint_of(addr), memory_order_relaxed);
        mw_thread *owner = hint ? mw_registry_get(hint - 1) : NULL;
        if (owner && owner != t && mw_lt_remove(&owner->lt, addr, out)) return true;
        if (shared_remove(addr, out)) return true;
        unsigned n = mw_registry_hwm();
        for (unsigned i = 0; i < n; i++) {
            mw_thread *u = mw_registry_get(i);
            if (!u || u == t || u == owner) continue;
            if (mw_lt_remove(&u->lt, addr, out)) return true;
        }
        /* not found: really not traced, unless a thread's blocks were moving meanwhile */
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

static void foreach_entry(const mw_ltab *L, void (*fn)(const mw_live_block *b, void *arg), void *arg)
{
    for (uint32_t i = 0; i < L->cap; i++) {
        const mw_live_entry *e = &L->tab[i];
        if (!e->addr) continue;
        mw_live_block b = { e->addr, e->size, { e->tidx, e->seq } };
        fn(&b, arg);
    }
}

/* Every table, each locked while visited: a block freed by one thread and reallocated by
 * another meanwhile may be seen twice (the reachability scan keeps the later one). */
void mw_live_foreach(void (*fn)(const mw_live_block *b, void *arg), void *arg)
{
    unsigned n = mw_registry_hwm();
    for (unsigned i = 0; i < n; i++) {
        mw_thread *u = mw_registry_get(i);
        if (!u) continue;
        mw_lt_lock(&u->lt);
        foreach_entry(&u->lt, fn, arg);
        mw_lt_unlock(&u->lt);
    }
    for (unsigned k = 0; k < SHARDS; k++) {
        shard *S = &shards[k];
        flag_lock(&S->lock);
        for (uint32_t i = 0; i < S->cap; i++)
            if (S->map[i].key) foreach_entry(&S->map[i].t, fn, arg);
        flag_unlock(&S->lock);
    }
}

size_t mw_live_count(void)
{
    size_t n = 0;
    unsigned h = mw_registry_hwm();
    for (unsigned i = 0; i < h; i++) {
        mw_thread *u = mw_registry_get(i);
        if (u) n += __atomic_load_n(&u->lt.count, __ATOMIC_RELAXED);
    }
    for (unsigned k = 0; k < SHARDS; k++) n += __atomic_load_n(&shards[k].blocks, __ATOMIC_RELAXED);
    return n;
}
