/*
 * shape_oscillate.c — victim with a known "oscillating" shape: a 2 MiB working set, plus
 * 8 MiB held during the first half of every 0.5 s period and freed in the second half
 * (a cache filled and flushed), for 2.5 s (5 cycles). Paced by CLOCK_MONOTONIC; the fill is
 * kept small so that it stays quick against the period even on a loaded machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MiB 1048576
#define PERIOD 0.5
#define RUN_S 2.5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static char *block(size_t n, int c)
{
    char *p = malloc(n);
    if (!p) abort();
    memset(p, c, n);
    return p;
}

int main(void)
{
    char *base[2], *cache[8];
    for (int i = 0; i < 2; i++) base[i] = block(MiB, 1);
    double t0 = now(), t;
    int full = 0, cycles = 0;
    struct timespec nap = {0, 2000000};
    while ((t = now() - t0) < RUN_S) {
        double phase = t - PERIOD * (long)(t / PERIOD);
        if (!full && phase < PERIOD / 2) {
            for (int i = 0; i < 8; i++) cache[i] = block(MiB, 2);
            full = 1;
            cycles++;
        } else if (full && phase >= PERIOD / 2) {
            for (int i = 0; i < 8; i++) free(cache[i]);
            full = 0;
        }
        nanosleep(&nap, NULL);
    }
    if (full)
        for (int i = 0; i < 8; i++) free(cache[i]);
    for (int i = 0; i < 2; i++) free(base[i]);
    printf("%d cycles of 8 MiB\n", cycles);
    return 0;
}
