/*
 * coder.c — bench section: the writer's run coder (formats/mw_runs.c) on its own.
 *
 * Encodes PAIRS malloc/free pairs of the churn workload (bench/churn_step.h, the same sequence
 * as `churn 1`) the way the shim's hooks write them (ALLOC_SAME and
 * FREE records of one thread), then times mw_runs_code over them in the 64 KiB pieces the
 * writer drains, best of 7 passes. This is the part of the writer's CPU time that grows with
 * the allocation rate (churn4 runs the writer on the program's 2 cores), without the host
 * noise of a whole traced run. The output's size and checksum show the coding unchanged.
 *
 *     coder [PAIRS]     default 4000000; prints: pairs N ns_per_pair T out_bytes B sum S
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mw_format.h"
#include "mw_runs.h"

#include "churn_step.h"

#define PIECE (64u * 1024u)

static uint64_t out_bytes, out_sum;

static void emit(void *ctx, const uint8_t *p, size_t n, int block_end)
{
    (void)ctx;
    (void)block_end;
    out_bytes += n;
    for (size_t i = 0; i < n; i += 64) out_sum = out_sum * 31 + p[i];
    if (n) out_sum ^= p[n - 1];
}

/* Length of the record at p (the forms the hooks write): FREE_NEAR, ALLOC_SAME, or typed. */
static size_t record_len(const uint8_t *p, const uint8_t *end)
{
    if (p[0] >= MW_REC_FREE_NEAR) return 1;
    const uint8_t *q = p + 1;
    uint64_t v;
    if (mw_get_uv(&q, end, &v)) return 0;
    return (size_t)(q - p) + (p[0] == MW_REC_ALLOC_SAME ? 0 : (size_t)v);
}

int main(int argc, char **argv)
{
    long pairs = argc > 1 ? strtol(argv[1], NULL, 10) : 4000000;
    if (pairs < 1 || pairs > 100000000) {
        fprintf(stderr, "usage: coder [PAIRS(1..100000000)]\n");
        return 2;
    }
    uint8_t *buf = malloc((size_t)pairs * 48 + 64);
    size_t *cuts = malloc(((size_t)pairs * 48 / PIECE + 16) * sizeof *cuts);
    static mw_run_cols cols;
    static mw_window win;
    if (!buf || !cuts) return 1;
    size_t n = 0;
    uint64_t seq = 0, slot[CHURN_SLOTS] = { 0 }, s = churn_seed(0);
    mw_alloc_last last = { 0, 0, 0 };
    for (long i = 0; i < pairs; i++) {
        uint64_t r = churn_rand(&s);
        unsigned k = churn_slot(r);
        size_t size = churn_size(r);
        if (slot[k]) n += mw_enc_free(buf + n, 32, (mw_block_ref){ 1, slot[k] }, 1, seq);
        n += mw_enc_alloc_noaddr_hot(buf + n, MW_AK_MALLOC, size, 7, &last);
        slot[k] = ++seq;
    }
    /* whole records per piece, as the writer hands them over */
    size_t ncuts = 0;
    for (size_t off = 0; off < n;) {
        size_t at = off;
        while (at < n) {
            size_t len = record_len(buf + at, buf + n);
            if (!len || at + len - off > PIECE) break;
            at += len;
        }
        if (at == off) return 1;
        cuts[ncuts++] = off = at;
    }
    double best = 1e300;
    for (int pass = 0; pass < 7; pass++) {
        memset(&win, 0, sizeof win);
        out_bytes = out_sum = 0;
        int ok = 1;
        double t0 = churn_now_ns();
        for (size_t c = 0, off = 0; c < ncuts; off = cuts[c++])
            mw_runs_code(&win, &cols, buf + off, cuts[c] - off, &ok, 1, emit, NULL);
        double dt = churn_now_ns() - t0;
        if (!ok) {
            fprintf(stderr, "coder: a record did not parse\n");
            return 1;
        }
        if (dt < best) best = dt;
    }
    printf("pairs %ld ns_per_pair %.2f out_bytes %llu sum %016llx\n", pairs, best / (double)pairs,
           (unsigned long long)out_bytes, (unsigned long long)out_sum);
    free(buf);
    free(cuts);
    return 0;
}
