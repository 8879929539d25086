/*
 * mmap_churn.c — bench workload: anonymous mmap/munmap churn.
 *
 *     mmap_churn [PAIRS]      default 200000 mmap/munmap pairs
 *
 * Keeps a window of 32 live mappings of 1..64 pages (fixed-seed PRNG), touches the first
 * page of each, and replaces one per step; also an mremap every 16 steps.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define SLOTS 32

int main(int argc, char **argv)
{
    long pairs = argc > 1 ? atol(argv[1]) : 200000L;
    if (pairs <= 0) { fprintf(stderr, "usage: mmap_churn [PAIRS]\n"); return 2; }
    void *slot[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    uint64_t s = 0xD1B54A32D192ED03ull, sum = 0;
    for (long i = 0; i < pairs; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        unsigned k = (unsigned)(s % SLOTS);
        if (slot[k]) munmap(slot[k], len[k]);
        len[k] = (size_t)(1 + (s >> 8) % 64) * 4096;
        char *p = mmap(NULL, len[k], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        p[0] = (char)i;
        sum += (unsigned char)p[0];
        if (i % 16 == 0) {
            size_t nl = len[k] + 4096;
            char *q = mremap(p, len[k], nl, MREMAP_MAYMOVE);
            if (q != MAP_FAILED) { p = q; len[k] = nl; }
        }
        slot[k] = p;
    }
    for (unsigned k = 0; k < SLOTS; k++) if (slot[k]) munmap(slot[k], len[k]);
    printf("mmap_churn pairs=%ld sum=%llu\n", pairs, (unsigned long long)sum);
    return 0;
}
