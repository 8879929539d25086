/*
 * test_analyzer_tables.c — the analyzer's hash tables under long random insert/delete
 * sequences, checked against a plain reference array: the integer map (hmap.c, including
 * key 0 and iteration), the per-thread live-block table (blocktab.c) and the ordered map
 * (omap.c: its neighbour queries too, and a depth that stays logarithmic for keys in order).
 * Backward-shift deletion must never lose or duplicate an entry.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "blocktab.h"
#include "hmap.h"
#include "omap.h"

#define UNIVERSE 4096

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

Test(tables, hmap_matches_a_reference)
{
    static uint64_t ref[UNIVERSE];
    static bool present[UNIVERSE];
    mw_hmap m;
    mw_hmap_init(&m);
    size_t count = 0;
    for (int step = 0; step < 200000; step++) {
        uint64_t k = next() % UNIVERSE;
        /* keys spread over the 64-bit range, including 0 */
        uint64_t key = k == 0 ? 0 : k * 0x100000001b3ull;
        if (next() % 3) {
            bool added;
            uint64_t *v = mw_hmap_put(&m, key, &added);
            cr_assert_not_null(v);
            cr_assert_eq(added, !present[k]);
            if (added) count++;
            *v = step;
            ref[k] = (uint64_t)step;
            present[k] = true;
        } else {
            uint64_t val;
            bool was = mw_hmap_del(&m, key, &val);
            cr_assert_eq(was, present[k], "step %d key %llu", step, (unsigned long long)k);
            if (was) {
                cr_assert_eq(val, ref[k]);
                count--;
            }
            present[k] = false;
        }
        cr_assert_eq(m.count, count);
    }
    for (uint64_t k = 0; k < UNIVERSE; k++) {
        uint64_t key = k == 0 ? 0 : k * 0x100000001b3ull;
        uint64_t *v = mw_hmap_get(&m, key);
        cr_assert_eq(v != NULL, present[k]);
        if (v) cr_assert_eq(*v, ref[k]);
    }
    size_t it = 0, seen = 0;
    uint64_t k, v;
    while (mw_hmap_next(&m, &it, &k, &v)) seen++;
    cr_assert_eq(seen, count);
    mw_hmap_free(&m);
}

/* A new block seq s of the given size, noted in the reference. */
static void put_fresh(mw_btab *t, uint64_t s, uint64_t size, bool *present, size_t *count)
{
    bool added;
    mw_block *b = mw_btab_put(t, s, &added);
    cr_assert(b && added, "seq %llu", (unsigned long long)s);
    b->size = size;
    present[s] = true;
    (*count)++;
}

/* A big heap built in order (blocktab.c's pages), freed every other block, then at random
 * and refilled at random seqs, against a reference. The pages stay dense here (sparse pages
 * are the next tests'); the first 1 023 seqs live in the spill, so frees and refills go to
 * both. */
Test(tables, blocktab_big_in_order)
{
    enum { N = 300000 };
    static bool present[N + 1];
    memset(present, 0, sizeof present);
    mw_btab t = {0};
    size_t count = 0;
    bool added;
    for (uint64_t s = 1; s <= N; s++) put_fresh(&t, s, s * 3, present, &count);
    for (uint64_t s = 2; s <= N; s += 2) {
        cr_assert(mw_btab_del(&t, s, NULL));
        present[s] = false;
        count--;
    }
    for (int k = 0; k < 100000; k++) {
        uint64_t s = 1 + next() % N;
        mw_block out;
        bool was = mw_btab_del(&t, s, &out);
        cr_assert_eq(was, present[s], "seq %llu", (unsigned long long)s);
        if (was) {
            cr_assert_eq(out.size, s * 3);
            count--;
        }
        present[s] = false;
        if (next() % 3 == 0) {
            s = 1 + next() % N;
            mw_block *b = mw_btab_put(&t, s, &added);
            cr_assert_eq(added, !present[s]);
            if (added) count++;
            b->size = s * 3;
            present[s] = true;
        }
    }
    cr_assert_eq(t.count, count);
    for (uint64_t s = 1; s <= N; s++) {
        mw_block *b = mw_btab_get(&t, s);
        cr_assert_eq(b != NULL, present[s], "seq %llu", (unsigned long long)s);
        if (b) cr_assert_eq(b->size, s * 3);
    }
    mw_btab_free(&t);
}

/* mw_btab_each's visit: every block present with its size, in ascending seq order. */
typedef struct each_ctx {
    const bool *present;
    const uint64_t *size;
    size_t seen;
    uint64_t last;
} each_ctx;

static bool check_each(const mw_block *b, void *arg)
{
    each_ctx *c = arg;
    cr_assert(c->present[b->seq], "seq %llu", (unsigned long long)b->seq);
    cr_assert_eq(b->size, c->size[b->seq]);
    cr_assert_gt(b->seq, c->last, "in order");
    c->last = b->seq;
    c->seen++;
    return true;
}

Test(tables, blocktab_matches_a_reference)
{
    static uint64_t size[UNIVERSE + 1];
    static bool present[UNIVERSE + 1];
    mw_btab t = {0};
    size_t count = 0;
    for (int step = 0; step < 200000; step++) {
        /* mostly recent sequence numbers, like a churning program, some long-lived ones */
        uint64_t seq = 1 + (next() % 8 ? (uint64_t)(step % UNIVERSE + next() % 64) % UNIVERSE
                                        : next() % UNIVERSE);
        if (next() % 2) {
            bool added;
            mw_block *b = mw_btab_put(&t, seq, &added);
            cr_assert_not_null(b);
            cr_assert_eq(added, !present[seq]);
            cr_assert_eq(b->seq, seq);
            if (added) count++;
            b->size = (uint64_t)step;
            size[seq] = (uint64_t)step;
            present[seq] = true;
        } else {
            mw_block out;
            bool was = mw_btab_del(&t, seq, &out);
            cr_assert_eq(was, present[seq], "step %d seq %llu", step, (unsigned long long)seq);
            if (was) {
                cr_assert_eq(out.size, size[seq]);
                count--;
            }
            present[seq] = false;
        }
        cr_assert_eq(t.count, count);
    }
    each_ctx c = { present, size, 0, 0 };
    cr_assert(mw_btab_each(&t, check_each, &c));
    cr_assert_eq(c.seen, count);
    cr_assert_null(mw_btab_get(&t, 0), "seq 0 is never a block");
    mw_btab_free(&t);
}

/* A program that keeps a few blocks of every page (a slow leak under churn) and a handful
 * of long-lived ones, with a corrupt far-ahead seq: sparse pages and pages far behind move
 * to the spill, so the table holds few pages; every block stays findable and mw_btab_each
 * lists them in seq order, the spilled ones merged with the paged ones. */
Test(tables, blocktab_sparse_pages_spill)
{
    enum { N = 3000000 };
    static bool present[N + 1];
    static uint64_t size[N + 1];
    memset(present, 0, sizeof present);
    mw_btab t = {0};
    size_t count = 0;
    bool added;
    for (uint64_t s = 1; s <= N; s++) {
        put_fresh(&t, s, size[s] = s ^ 0x5a5a, present, &count);
        /* free the block made 64 allocations ago unless it is a keeper */
        if (s > 64 && (s - 64) % 997 != 0 && (s - 64) % 100003 != 1) {
            cr_assert(mw_btab_del(&t, s - 64, NULL));
            present[s - 64] = false;
            count--;
        }
    }
    cr_assert_eq(t.count, count);
    size_t pages = 0;
    for (size_t d = 0; d < t.ndir; d++) pages += t.dir[d] != NULL;
    cr_assert_leq(pages, 4, "sparse pages behind the newest went to the spill (%zu kept)", pages);
    cr_assert_geq(t.spill_count + 4 * MW_BPAGE_SLOTS, count);
    cr_assert_gt(t.spill_count, 2900, "the keepers of the sparse pages are in the spill");
    /* a seq far past the newest page (a corrupt trace) is kept too, in the spill */
    uint64_t far = (uint64_t)1 << 40;
    mw_block *b = mw_btab_put(&t, far, &added);
    cr_assert(b && added);
    b->size = 7;
    cr_assert_eq(mw_btab_get(&t, far)->size, 7);
    for (uint64_t s = 1; s <= N; s++) {
        mw_block *g = mw_btab_get(&t, s);
        cr_assert_eq(g != NULL, present[s], "seq %llu", (unsigned long long)s);
        if (g) cr_assert_eq(g->size, size[s]);
    }
    cr_assert(mw_btab_del(&t, far, NULL));
    each_ctx c = { present, size, 0, 0 };
    cr_assert(mw_btab_each(&t, check_each, &c));
    cr_assert_eq(c.seen, count);
    /* drained: the same blocks in the same order, and the table left empty (the analyzer's
     * end of ingest, ingest.c finish) */
    each_ctx d = { present, size, 0, 0 };
    cr_assert(mw_btab_drain(&t, check_each, &d));
    cr_assert_eq(d.seen, count);
    cr_assert_eq(t.count, 0);
    cr_assert_eq(t.ndir, 0);
    cr_assert_null(mw_btab_get(&t, 1));
    mw_btab_free(&t); /* a drained table may be freed again */
}

/* The ordered map against a reference array: put, del, get and the neighbours le / ge of
 * keys present, absent, below and above every key (0 and UINT64_MAX among them). */
Test(tables, omap_matches_a_reference)
{
    static uint64_t ref[UNIVERSE];
    static bool present[UNIVERSE];
    memset(present, 0, sizeof present);
    mw_omap m = {0};
    size_t count = 0;
    /* key k of the universe: ordered like k, spread over the whole range, both ends in it */
#define OKEY(k) ((k) == UNIVERSE - 1 ? UINT64_MAX : (uint64_t)(k) * (UINT64_MAX / UNIVERSE))
    for (int step = 0; step < 200000; step++) {
        uint64_t k = next() % UNIVERSE, op = next() % 8;
        if (op < 4) {
            cr_assert_eq(mw_omap_put(&m, OKEY(k), (uint64_t)step), 0);
            if (!present[k]) count++;
            present[k] = true;
            ref[k] = (uint64_t)step;
        } else if (op < 6) {
            cr_assert_eq(mw_omap_del(&m, OKEY(k)), present[k], "step %d", step);
            if (present[k]) count--;
            present[k] = false;
        } else {
            /* between key k and the next (or at it): le is k or the nearest below, ge the
             * nearest above k */
            uint64_t probe = OKEY(k) + (op == 6 || k == UNIVERSE - 1 ? 0 : 1), gk, gv;
            int64_t lo = (int64_t)k;
            while (lo >= 0 && !present[lo]) lo--;
            bool has = mw_omap_le(&m, probe, &gk, &gv);
            cr_assert_eq(has, lo >= 0, "step %d", step);
            if (has) cr_assert(gk == OKEY(lo) && gv == ref[lo], "step %d", step);
            size_t hi = probe == OKEY(k) ? k : k + 1;
            while (hi < UNIVERSE && !present[hi]) hi++;
            has = mw_omap_ge(&m, probe, &gk, &gv);
            cr_assert_eq(has, hi < UNIVERSE, "step %d", step);
            if (has) cr_assert(gk == OKEY(hi) && gv == ref[hi], "step %d", step);
        }
        cr_assert_eq(m.count, count);
    }
    for (uint64_t k = 0; k < UNIVERSE; k++) {
        uint64_t v;
        cr_assert_eq(mw_omap_get(&m, OKEY(k), &v), present[k]);
        if (present[k]) cr_assert_eq(v, ref[k]);
    }
#undef OKEY
    mw_omap_free(&m);
}

/* Depth of the subtree at t (recursion bounded by the depth checked). */
static unsigned omap_depth(const mw_omap *m, uint32_t t)
{
    if (!t) return 0;
    unsigned l = omap_depth(m, m->nodes[t].left), r = omap_depth(m, m->nodes[t].right);
    return 1 + (l > r ? l : r);
}

/* A million keys in order (a plain search tree would be a list a million deep), then every
 * other one removed: the depth stays near 2 log2 n. */
Test(tables, omap_stays_shallow_for_keys_in_order)
{
    mw_omap m = {0};
    const uint64_t n = 1000000;
    for (uint64_t i = 0; i < n; i++) cr_assert_eq(mw_omap_put(&m, i << 12, i), 0);
    unsigned d = omap_depth(&m, m.root);
    cr_assert_lt(d, 100, "depth %u for %llu keys", d, (unsigned long long)n);
    for (uint64_t i = 0; i < n; i += 2) cr_assert(mw_omap_del(&m, i << 12));
    cr_assert_eq(m.count, n / 2);
    d = omap_depth(&m, m.root);
    cr_assert_lt(d, 100, "depth %u after the removals", d);
    uint64_t k, v;
    cr_assert(mw_omap_le(&m, 5 << 12, &k, &v) && k == 5 << 12 && v == 5);
    cr_assert(mw_omap_le(&m, (4 << 12) + 1, &k, &v) && k == 3 << 12);
    cr_assert(mw_omap_ge(&m, (4 << 12) + 1, &k, &v) && k == 5 << 12);
    cr_assert_not(mw_omap_le(&m, 4095, &k, &v));
    mw_omap_free(&m);
}
