/*
 * pause.c — bench section: the longest single malloc call while one thread builds up a large
 * heap (COUNT live blocks of 24 bytes, default 4 000 000), then the longest single free while
 * it frees it all. Under the shim
 * this shows what growing the live-block tables costs at once: the program stops for as long
 * as the longest malloc takes (preload/live.c keeps every table small for that reason).
 *
 *     pause [COUNT]     prints: blocks N total_s T longest_malloc_ms M longest_free_ms F
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 4000000;
    if (n < 1 || n > 100000000) {
        fprintf(stderr, "usage: pause [COUNT(1..100000000)]\n");
        return 2;
    }
    void **a = malloc((size_t)n * sizeof *a);
    if (!a) return 1;
    double t0 = now(), prev = t0, worst = 0;
    for (long i = 0; i < n; i++) {
        a[i] = malloc(24);
        if (!a[i]) return 1;
        double t = now();
        if (t - prev > worst) worst = t - prev;
        prev = t;
    }
    double worst_free = 0;
    prev = now();
    for (long i = 0; i < n; i++) {
        free(a[i]);
        double t = now();
        if (t - prev > worst_free) worst_free = t - prev;
        prev = t;
    }
    free(a);
    printf("blocks %ld total_s %.2f longest_malloc_ms %.1f longest_free_ms %.1f\n", n, now() - t0,
           worst * 1e3, worst_free * 1e3);
    return 0;
}
