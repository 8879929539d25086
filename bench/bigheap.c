/*
 * bigheap.c — bench workload: a big heap at exit. COUNT blocks of 16..63 bytes (default
 * 4 000 000) are allocated into an array, every other one is freed, and the program exits
 * with the rest still allocated: the live-block tables hold millions of blocks (memwatch
 * keeps them by address chunk, preload/live_shared.c) and the reachability scan at exit
 * gives each of them a verdict.
 *
 *     bigheap [COUNT]      prints: blocks N live L
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 4000000;
    if (n < 2 || n > 100000000) {
        fprintf(stderr, "usage: bigheap [COUNT(2..100000000)]\n");
        return 2;
    }
    void **v = malloc((size_t)n * sizeof *v);
    if (!v) return 1;
    for (long i = 0; i < n; i++) {
        size_t sz = 16 + (size_t)(i % 48);
        v[i] = malloc(sz);
        if (!v[i]) return 1;
        memset(v[i], 0, sz);
    }
    long live = 0;
    for (long i = 0; i < n; i++) {
        if (i % 2 == 0) {
            free(v[i]);
            v[i] = NULL;
        } else {
            live++;
        }
    }
    printf("blocks %ld live %ld\n", n, live);
    return 0; /* the array and every other block stay allocated */
}
