/*
 * steady.c — bench section: the per-pair cost of single-thread churn in steady state.
 *
 * The same work as `churn 1` (bench/churn_step.h: a window of 64 live blocks, each step frees
 * one and allocates one of a random size, the same fixed-seed PRNG), timed in WINDOWS windows of 100 000 pairs each. The
 * fastest windows are what the code costs; the slow ones are whatever else ran on the host
 * meanwhile. On this VM whole-run times drift by tens of percent from run to run, so the
 * minimum and the 10th percentile of the windows compare native and traced runs far more
 * reliably than wall times do.
 *
 *     steady [WINDOWS]     default 100; prints: pairs N min_ns A p10_ns B median_ns C sum S
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "churn_step.h"

#define PAIRS_PER_WINDOW 100000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long windows = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
    if (windows < 1 || windows > 100000) {
        fprintf(stderr, "usage: steady [WINDOWS(1..100000)]\n");
        return 2;
    }
    double *ns = malloc((size_t)windows * sizeof *ns);
    if (!ns) return 1;
    void *slot[CHURN_SLOTS] = { 0 };
    uint64_t s = churn_seed(0), sum = 0;
    for (long w = 0; w < windows; w++) {
        double t0 = churn_now_ns();
        for (int i = 0; i < PAIRS_PER_WINDOW; i++) sum += churn_pair(slot, churn_rand(&s), (uint64_t)i);
        ns[w] = (churn_now_ns() - t0) / PAIRS_PER_WINDOW;
    }
    for (unsigned k = 0; k < CHURN_SLOTS; k++) free(slot[k]);
    qsort(ns, (size_t)windows, sizeof *ns, cmp_double);
    printf("pairs %ld min_ns %.2f p10_ns %.2f median_ns %.2f sum %llu\n", windows * PAIRS_PER_WINDOW,
           ns[0], ns[windows / 10], ns[windows / 2], (unsigned long long)sum);
    free(ns);
    return 0;
}
