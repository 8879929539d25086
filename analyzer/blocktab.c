/*
 * blocktab.c — per-thread live-block table (blocktab.h): pages of consecutive seqs indexed
 * directly, and a hash table ("spill") for the blocks of pages that were sparse or old.
 *
 * Invariants: a page is only ever allocated for an index past every page allocated before
 * (t->front), so a block whose page is absent lives in the spill, and a block whose page is
 * present lives in the page. Pages at least FAR_PAGES behind the newest are "far": a far page
 * with fewer than SPARSE blocks, or more than MAX_SPAN pages behind, moves its blocks to the
 * spill and is freed, which bounds the memory a retained page costs per block (a program that
 * keeps one block in a thousand would otherwise keep a 48 KiB page per block). Page 0 (seqs
 * below MW_BPAGE_SLOTS) is never allocated: a thread that makes few blocks (most threads of
 * a program that starts one per request) costs a small spill, not a page.
 */
#include "blocktab.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_MASK ((uint64_t)MW_BPAGE_SLOTS - 1)
#define FAR_PAGES 2u                     /* behind the newest page by this many: far */
#define SPARSE (MW_BPAGE_SLOTS / 8u)     /* a far page with fewer blocks goes to the spill */
#define MAX_SPAN (1u << 20)              /* pages kept behind the newest, dense or not: the
                                            directory stays under 8 MB a thread */
#define MAX_JUMP 65536u                  /* a seq further ahead (corrupt trace) goes to the spill */

/* ---- the spill: open addressing, Fibonacci hashing, backward-shift deletion ------------ */
/* A big spill (GROUPED_BITS or more: past the caches) keeps runs of GROUP consecutive
 * sequence numbers in order in an aligned group of slots, the groups spread by Fibonacci
 * hashing: blocks are freed (and exit verdicts listed) mostly in the order they were made, so
 * consecutive lookups land in the same few cache lines instead of a miss each. A small one
 * hashes every seq on its own: a few blocks spread over many seqs would crowd one group. */
#define GROUP_BITS 5u
#define GROUPED_BITS 16u
static inline size_t home(uint64_t seq, unsigned bits)
{
    if (bits < GROUPED_BITS) return (size_t)((seq * 0x9E3779B97F4A7C15ull) >> (64 - bits));
    size_t group = (size_t)(((seq >> GROUP_BITS) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
    return (group & ~(((size_t)1 << GROUP_BITS) - 1)) | (size_t)(seq & ((1u << GROUP_BITS) - 1));
}

static inline size_t spill_cap(const mw_btab *t) { return t->spill ? (size_t)1 << t->spill_bits : 0; }

/* Room for n blocks (kept at most half full). */
static bool spill_reserve(mw_btab *t, size_t n)
{
    if (n * 2 <= spill_cap(t)) return true;
    unsigned nbits = t->spill ? t->spill_bits : 6;
    while (((size_t)1 << nbits) < n * 2) nbits++;
    if (nbits > 40) return false;
    size_t ncap = (size_t)1 << nbits, nmask = ncap - 1;
    mw_block *ns = calloc(ncap, sizeof *ns);
    if (!ns) return false;
    for (size_t j = 0; j < spill_cap(t); j++) {
        mw_block *b = &t->spill[j];
        if (!b->seq) continue;
        size_t i = home(b->seq, nbits);
        while (ns[i].seq) i = (i + 1) & nmask;
        ns[i] = *b;
    }
    free(t->spill);
    t->spill = ns;
    t->spill_bits = nbits;
    return true;
}

static mw_block *spill_get(const mw_btab *t, uint64_t seq)
{
    if (!t->spill_count) return NULL;
    size_t mask = spill_cap(t) - 1, i = home(seq, t->spill_bits);
    for (;; i = (i + 1) & mask) {
        mw_block *b = &t->spill[i];
        if (b->seq == seq) return b;
        if (b->seq == 0) return NULL;
    }
}

/* The spill's slot for seq, existing or new (zeroed except seq); NULL when out of memory. */
static mw_block *spill_put(mw_btab *t, uint64_t seq, bool *added)
{
    if (!spill_reserve(t, t->spill_count + 1)) return NULL;
    size_t mask = spill_cap(t) - 1, i = home(seq, t->spill_bits);
    for (;; i = (i + 1) & mask) {
        mw_block *b = &t->spill[i];
        if (b->seq == seq) {
            *added = false;
            return b;
        }
        if (b->seq == 0) {
            memset(b, 0, sizeof *b);
            b->seq = seq;
            t->spill_count++;
            *added = true;
            return b;
        }
    }
}

static bool spill_del(mw_btab *t, uint64_t seq, mw_block *out)
{
    mw_block *b = spill_get(t, seq);
    if (!b) return false;
    if (out) *out = *b;
    size_t mask = spill_cap(t) - 1, hole = (size_t)(b - t->spill), j = hole;
    for (;;) {
        j = (j + 1) & mask;
        mw_block *s = &t->spill[j];
        if (s->seq == 0) break;
        size_t h = home(s->seq, t->spill_bits);
        /* s may fill the hole iff its home is not cyclically within (hole, j]. */
        bool in_range = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
        if (!in_range) {
            t->spill[hole] = *s;
            hole = j;
        }
    }
    t->spill[hole].seq = 0;
    t->spill_count--;
    return true;
}

/* ---- pages -------------------------------------------------------------------------- */
static inline mw_bpage *page_at(const mw_btab *t, uint64_t pi)
{
    return pi >= t->base && pi - t->base < t->ndir ? t->dir[pi - t->base] : NULL;
}

/* Moves page pi's blocks to the spill and frees it. False (page kept) when out of memory. */
static bool retire(mw_btab *t, uint64_t pi)
{
    mw_bpage *pg = page_at(t, pi);
    if (!pg) return true;
    if (pg->live && !spill_reserve(t, t->spill_count + pg->live)) return false;
    for (unsigned k = 0; k < MW_BPAGE_SLOTS && pg->live; k++) {
        if (!pg->s[k].seq) continue;
        bool added;
        mw_block *b = spill_put(t, pg->s[k].seq, &added); /* cannot fail: reserved */
        *b = pg->s[k];
        pg->live--;
    }
    free(pg);
    t->dir[pi - t->base] = NULL;
    return true;
}

/* The newest page becomes pi (> every page so far): pages that turn far are retired if sparse,
 * pages more than MAX_SPAN behind whatever they hold; the directory then slides past the
 * absent pages at its start and grows to cover pi. False when out of memory. */
static bool advance(mw_btab *t, uint64_t pi)
{
    uint64_t front = pi + 1;
    if (t->ndir) {
        uint64_t far_end = front > FAR_PAGES ? front - FAR_PAGES : 0;  /* pages < far_end are far */
        uint64_t old_end = t->front > FAR_PAGES ? t->front - FAR_PAGES : 0;
        uint64_t lo = old_end > t->base ? old_end : t->base, hi = t->base + t->ndir;
        if (far_end < hi) hi = far_end;
        for (uint64_t q = lo; q < hi; q++) {
            mw_bpage *pg = t->dir[q - t->base];
            if (pg && pg->live < SPARSE) retire(t, q);
        }
        uint64_t old_cut = front > MAX_SPAN ? front - MAX_SPAN : 0;
        for (uint64_t q = t->base; q < old_cut && q < t->base + t->ndir; q++)
            if (t->dir[q - t->base] && !retire(t, q)) break;
        /* slide past the absent pages at the start */
        size_t skip = 0;
        while (skip < t->ndir && !t->dir[skip]) skip++;
        if (skip == t->ndir) {
            t->base = pi;
            memset(t->dir, 0, t->ndir * sizeof *t->dir);
        } else if (skip) {
            memmove(t->dir, t->dir + skip, (t->ndir - skip) * sizeof *t->dir);
            memset(t->dir + t->ndir - skip, 0, skip * sizeof *t->dir);
            t->base += skip;
        }
    } else {
        t->base = pi;
    }
    if (pi - t->base >= t->ndir) {
        size_t n = t->ndir ? t->ndir : 16;
        while (pi - t->base >= n) n *= 2;
        mw_bpage **nd = realloc(t->dir, n * sizeof *nd);
        if (!nd) return false;
        memset(nd + t->ndir, 0, (n - t->ndir) * sizeof *nd);
        t->dir = nd;
        t->ndir = n;
    }
    mw_bpage *pg = calloc(1, sizeof *pg);
    if (!pg) return false;
    t->dir[pi - t->base] = pg;
    t->front = front;
    return true;
}

/* ---- the interface ------------------------------------------------------------------ */
mw_block *mw_btab_put(mw_btab *t, uint64_t seq, bool *added)
{
    uint64_t pi = seq >> MW_BPAGE_BITS;
    mw_bpage *pg = page_at(t, pi);
    if (!pg && pi >= t->front && pi > 0 && pi - t->front < MAX_JUMP) {
        if (!advance(t, pi)) return NULL;
        pg = page_at(t, pi);
    }
    if (pg) {
        mw_block *b = &pg->s[seq & PAGE_MASK];
        if (b->seq == seq) {
            *added = false;
            return b;
        }
        memset(b, 0, sizeof *b);
        b->seq = seq;
        pg->live++;
        t->count++;
        *added = true;
        return b;
    }
    mw_block *b = spill_put(t, seq, added);
    if (b && *added) t->count++;
    return b;
}

mw_block *mw_btab_get(const mw_btab *t, uint64_t seq)
{
    if (seq == 0) return NULL;
    mw_bpage *pg = page_at(t, seq >> MW_BPAGE_BITS);
    if (pg) {
        mw_block *b = &pg->s[seq & PAGE_MASK];
        return b->seq == seq ? b : NULL;
    }
    return spill_get(t, seq);
}

bool mw_btab_del(mw_btab *t, uint64_t seq, mw_block *out)
{
    if (seq == 0) return false;
    uint64_t pi = seq >> MW_BPAGE_BITS;
    mw_bpage *pg = page_at(t, pi);
    if (!pg) {
        if (!spill_del(t, seq, out)) return false;
        t->count--;
        return true;
    }
    mw_block *b = &pg->s[seq & PAGE_MASK];
    if (b->seq != seq) return false;
    if (out) *out = *b;
    b->seq = 0;
    pg->live--;
    t->count--;
    if (pg->live < SPARSE && pi + FAR_PAGES < t->front) retire(t, pi);
    return true;
}

void mw_btab_free(mw_btab *t)
{
    for (size_t i = 0; i < t->ndir; i++) free(t->dir[i]);
    free(t->dir);
    free(t->spill);
    memset(t, 0, sizeof *t);
}

static int cmp_seq(const void *a, const void *b)
{
    uint64_t x = ((const mw_block *)a)->seq, y = ((const mw_block *)b)->seq;
    return x < y ? -1 : x > y;
}

#define TRIM_PAGES ((64u << 20) / sizeof(mw_bpage))

/* mw_btab_each and, with drain, mw_btab_drain */
static bool walk(mw_btab *t, bool drain, bool (*fn)(const mw_block *b, void *arg), void *arg)
{
    /* the spill's blocks in seq order, merged with the pages' (already in order) */
    mw_block *sp = NULL;
    size_t ns = 0, k = 0, freed = 0; /* freed: pages since the last malloc_trim */
    if (t->spill_count) {
        sp = malloc(t->spill_count * sizeof *sp);
        if (!sp) {
            if (drain) mw_btab_free(t);
            return false;
        }
        for (size_t i = 0; i < spill_cap(t); i++)
            if (t->spill[i].seq) sp[ns++] = t->spill[i];
        qsort(sp, ns, sizeof *sp, cmp_seq);
    }
    bool ok = true;
    for (size_t d = 0; ok && d < t->ndir; d++) {
        mw_bpage *pg = t->dir[d];
        if (!pg) continue;
        for (unsigned i = 0; ok && i < MW_BPAGE_SLOTS; i++) {
            const mw_block *b = &pg->s[i];
            if (!b->seq) continue;
            while (ok && k < ns && sp[k].seq < b->seq) ok = fn(&sp[k++], arg);
            if (ok) ok = fn(b, arg);
        }
        if (!drain) continue;
        /* its blocks are the caller's now. A page is a chunk inside malloc's heap, and one
         * freed there stays in the process until the heap's top is: every 64 MiB or so,
         * malloc_trim hands the freed pages back, so that memory never holds the table and
         * its copy whole at once (30 million unfreed blocks: 2.8 GB before, 1.5 GB after) */
        free(pg);
        t->dir[d] = NULL;
        if (++freed == TRIM_PAGES) {
            malloc_trim(0);
            freed = 0;
        }
    }
    while (ok && k < ns) ok = fn(&sp[k++], arg);
    free(sp);
    if (drain) mw_btab_free(t);
    return ok;
}

bool mw_btab_each(const mw_btab *t, bool (*fn)(const mw_block *b, void *arg), void *arg)
{
    return walk((mw_btab *)t, false, fn, arg); /* not drained: left as it is */
}

bool mw_btab_drain(mw_btab *t, bool (*fn)(const mw_block *b, void *arg), void *arg)
{
    return walk(t, true, fn, arg);
}
