/*
 * reach_index.c — the exit scan's address -> block index: which live block contains a word
 * the scan found (reach.c, find_block).
 *
 * The blocks are sorted by address; a binary search over them is what valgrind does, and it
 * costs a cache miss per level once there are millions of blocks (a 40 MB array of pointers to
 * 2.5 M blocks took two seconds to scan at exit). The index is a hash table from a 4 KiB page
 * to the run of blocks that overlap it: a lookup is one probe, then a short binary search
 * among the blocks of that page. Blocks larger than IDX_BIG are not in the pages (one would
 * fill thousands of entries): they are in a sorted list of their own, searched first. Built
 * only past IDX_MIN blocks (below that the binary search stays in cache). Raw memory, as the
 * rest of the scan.
 */
#include <string.h>

#include "reach_int.h"

#define IDX_MIN 4096u
#define IDX_BIG (64u * 1024u)

static inline uint64_t page_hash(uint64_t pg) { return (pg * 0x9E3779B97F4A7C15ull) >> 20; }

static void put_page(reach_ctx *c, uint64_t pg, uint32_t i)
{
    reach_page *t = c->pages;
    for (uint64_t h = page_hash(pg);; h++) {
        reach_page *e = &t[h & c->pages_mask];
        if (e->count == 0) {
            *e = (reach_page){ pg, i, 1 };
            return;
        }
        if (e->page == pg) {
            e->count = i - e->first + 1;
            return;
        }
    }
}

void mw_reach_index_build(reach_ctx *c)
{
    if (c->nblk < IDX_MIN || c->nblk >= UINT32_MAX) return;
    size_t npages = 0, nbig = 0;
    uint64_t next = 0;   /* the first page not counted yet (blocks come in address order) */
    for (size_t i = 0; i < c->nblk; i++) {
        const block_ent *b = &c->blk[i];
        if (b->size > IDX_BIG) { nbig++; continue; }
        uint64_t p0 = b->addr / PAGE, p1 = (b->addr + (b->size ? b->size : 1) - 1) / PAGE;
        if (p0 < next) p0 = next;
        if (p1 >= p0) {
            npages += p1 - p0 + 1;
            next = p1 + 1;
        }
    }
    size_t cap = 1024;
    while (cap < 2 * npages) cap *= 2;
    c->pages = mw_own_alloc(cap * sizeof(reach_page));
    c->big = nbig ? mw_own_alloc(nbig * sizeof(uint32_t)) : NULL;
    if (!c->pages || (nbig && !c->big)) {   /* no index: find_block searches blk */
        mw_own_free(c->pages, cap * sizeof(reach_page));
        mw_own_free(c->big, nbig * sizeof(uint32_t));
        c->pages = NULL;
        c->big = NULL;
        return;
    }
    c->pages_cap = cap;
    c->pages_mask = cap - 1;
    for (size_t i = 0; i < c->nblk; i++) {
        const block_ent *b = &c->blk[i];
        if (b->size > IDX_BIG) { c->big[c->nbig++] = (uint32_t)i; continue; }
        uint64_t p0 = b->addr / PAGE, p1 = (b->addr + (b->size ? b->size : 1) - 1) / PAGE;
        for (uint64_t p = p0; p <= p1; p++) put_page(c, p, (uint32_t)i);
    }
}

void mw_reach_index_free(reach_ctx *c)
{
    mw_own_free(c->pages, c->pages_cap * sizeof(reach_page));
    mw_own_free(c->big, c->nbig * sizeof(uint32_t));
    c->pages = NULL;
    c->big = NULL;
    c->pages_cap = c->nbig = 0;
}

/* Among blocks idx[lo, hi) (through map when not NULL), the last whose address is <= v. */
static inline long last_at_or_below(const reach_ctx *c, const uint32_t *map, size_t lo, size_t hi, uintptr_t v)
{
    if (lo >= hi) return -1;
#define ADDR(k) c->blk[map ? map[k] : (k)].addr
    if (ADDR(lo) > v) return -1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (ADDR(mid) <= v) lo = mid; else hi = mid;
    }
#undef ADDR
    return (long)(map ? map[lo] : lo);
}

static inline bool contains(const block_ent *b, uintptr_t v)
{
    return v >= b->addr && (v - b->addr < b->size || v == b->addr);
}

long mw_reach_index_find(const reach_ctx *c, uintptr_t v)
{
    if (c->nbig) {
        long k = last_at_or_below(c, c->big, 0, c->nbig, v);
        if (k >= 0 && contains(&c->blk[k], v)) return k;
    }
    uint64_t pg = v / PAGE;
    for (uint64_t h = page_hash(pg);; h++) {
        const reach_page *e = &c->pages[h & c->pages_mask];
        if (e->count == 0) return -1;
        if (e->page != pg) continue;
        long k = last_at_or_below(c, NULL, e->first, (size_t)e->first + e->count, v);
        return k >= 0 && contains(&c->blk[k], v) ? k : -1;
    }
}
