/*
 * blocktab.c — per-thread live-block table (blocktab.h).
 */
#include "blocktab.h"

#include <stdlib.h>
#include <string.h>

/* A big table (GROUPED_BITS or more: past the caches) keeps runs of GROUP consecutive
 * sequence numbers in order in an aligned group of slots, the groups spread by Fibonacci
 * hashing: a program's blocks are freed (and its exit verdicts listed) mostly in the order
 * they were made, so consecutive lookups land in the same few cache lines instead of a miss
 * each (bigheap's 2 M verdicts and frees: 10 s -> 6.5 s). A small table, which the caches
 * hold anyway, hashes every seq on its own: there a few live blocks spread over a few dozen
 * seqs would crowd into the same groups. */
#define GROUP_BITS 5u
#define GROUPED_BITS 16u
static inline size_t home(uint64_t seq, unsigned bits)
{
    if (bits < GROUPED_BITS) return (size_t)((seq * 0x9E3779B97F4A7C15ull) >> (64 - bits));
    size_t group = (size_t)(((seq >> GROUP_BITS) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
    return (group & ~(((size_t)1 << GROUP_BITS) - 1)) | (size_t)(seq & ((1u << GROUP_BITS) - 1));
}

static bool grow(mw_btab *t)
{
    unsigned nbits = t->slots ? t->bits + 1 : 6;
    if (nbits > 40) return false;
    size_t ncap = (size_t)1 << nbits, nmask = ncap - 1;
    mw_block *ns = calloc(ncap, sizeof *ns);
    if (!ns) return false;
    for (size_t j = 0; j < mw_btab_cap(t); j++) {
        mw_block *b = &t->slots[j];
        if (!b->seq) continue;
        size_t i = home(b->seq, nbits);
        while (ns[i].seq) i = (i + 1) & nmask;
        ns[i] = *b;
    }
    free(t->slots);
    t->slots = ns;
    t->bits = nbits;
    return true;
}

mw_block *mw_btab_put(mw_btab *t, uint64_t seq, bool *added)
{
    if (!t->slots || (t->count + 1) * 2 > mw_btab_cap(t)) {
        if (!grow(t)) return NULL;
    }
    size_t mask = mw_btab_cap(t) - 1, i = home(seq, t->bits);
    for (;;) {
        mw_block *b = &t->slots[i];
        if (b->seq == seq) {
            *added = false;
            return b;
        }
        if (b->seq == 0) {
            memset(b, 0, sizeof *b);
            b->seq = seq;
            t->count++;
            *added = true;
            return b;
        }
        i = (i + 1) & mask;
    }
}

mw_block *mw_btab_get(const mw_btab *t, uint64_t seq)
{
    if (!t->slots || seq == 0) return NULL;
    size_t mask = mw_btab_cap(t) - 1, i = home(seq, t->bits);
    for (;;) {
        mw_block *b = &t->slots[i];
        if (b->seq == seq) return b;
        if (b->seq == 0) return NULL;
        i = (i + 1) & mask;
    }
}

bool mw_btab_del(mw_btab *t, uint64_t seq, mw_block *out)
{
    mw_block *b = mw_btab_get(t, seq);
    if (!b) return false;
    if (out) *out = *b;
    size_t mask = mw_btab_cap(t) - 1, hole = (size_t)(b - t->slots), j = hole;
    for (;;) {
        j = (j + 1) & mask;
        mw_block *s = &t->slots[j];
        if (s->seq == 0) break;
        size_t h = home(s->seq, t->bits);
        /* s may fill the hole iff its home is not cyclically within (hole, j]. */
        bool in_range = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
        if (!in_range) {
            t->slots[hole] = *s;
            hole = j;
        }
    }
    t->slots[hole].seq = 0;
    t->count--;
    return true;
}

void mw_btab_free(mw_btab *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}
