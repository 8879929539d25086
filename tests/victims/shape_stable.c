/*
 * shape_stable.c — victim with a known "stable" shape: a pool of 256 blocks of random sizes
 * (1..64 KiB, ~8 MiB in all) in which 16 random blocks are replaced every 2 ms for 2.5 s:
 * constant churn around a steady level. Deterministic (fixed seed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 256
#define RUN_S 2.5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long long rng = 0x2545F4914F6CDD1Dull;
static unsigned rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

__attribute__((noinline)) static char *churn_block(void)
{
    size_t n = 1024 + rnd() % (63 * 1024);
    char *p = malloc(n);
    if (!p) abort();
    memset(p, 7, n);
    return p;
}

int main(void)
{
    char *slot[SLOTS];
    for (int i = 0; i < SLOTS; i++) slot[i] = churn_block();
    double t0 = now();
    long rounds = 0;
    struct timespec nap = {0, 2000000};
    while (now() - t0 < RUN_S) {
        for (int k = 0; k < 16; k++) {
            unsigned i = rnd() % SLOTS;
            free(slot[i]);
            slot[i] = churn_block();
        }
        rounds++;
        nanosleep(&nap, NULL);
    }
    for (int i = 0; i < SLOTS; i++) free(slot[i]);
    printf("%ld churn rounds\n", rounds);
    return 0;
}
