/*
 * steady.c — bench section: the per-pair cost of single-thread churn in steady state.
 *
 * The same work as `churn 1` (a window of 64 live blocks, each step frees one and allocates
 * one of a random size, fixed-seed PRNG), timed in WINDOWS windows of 100 000 pairs each. The
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
#include <time.h>

#define SLOTS 64
#define PAIRS_PER_WINDOW 100000

static inline uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return *s = x;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

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
    void *slot[SLOTS] = { 0 };
    uint64_t s = 88172645463325252ull, sum = 0;
    for (long w = 0; w < windows; w++) {
        double t0 = now_ns();
        for (int i = 0; i < PAIRS_PER_WINDOW; i++) {
            uint64_t r = xorshift(&s);
            unsigned k = (unsigned)(r % SLOTS);
            size_t size = (r >> 8) % 16 == 0 ? 16 + (r >> 16) % 8192 : 16 + (r >> 16) % 1009;
            free(slot[k]);
            char *p = malloc(size);
            if (!p) abort();
            p[0] = (char)i;
            p[size - 1] = (char)r;
            __asm__ volatile("" : : "r"(p) : "memory"); /* p escapes: no elision */
            sum += (unsigned char)p[0];
            slot[k] = p;
        }
        ns[w] = (now_ns() - t0) / PAIRS_PER_WINDOW;
    }
    for (unsigned k = 0; k < SLOTS; k++) free(slot[k]);
    qsort(ns, (size_t)windows, sizeof *ns, cmp_double);
    printf("pairs %ld min_ns %.2f p10_ns %.2f median_ns %.2f sum %llu\n", windows * PAIRS_PER_WINDOW,
           ns[0], ns[windows / 10], ns[windows / 2], (unsigned long long)sum);
    free(ns);
    return 0;
}
