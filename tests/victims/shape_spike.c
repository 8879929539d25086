/*
 * shape_spike.c — victim with a known "spike" shape: holds a 4 MiB working set, and from
 * t = 1.0 s holds 16 MiB more (a batch) for 0.25 s after the batch is filled, then frees it
 * and idles to 2.5 s. Small temporary blocks churn throughout. Paced by CLOCK_MONOTONIC; the
 * hold is timed from the end of the fill, so a slow fill on a loaded machine still gives a
 * spike that comes back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MiB 1048576
#define BATCH 16
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
    char *base[4], *batch[BATCH];
    for (int i = 0; i < 4; i++) base[i] = block(MiB, 1);
    double t0 = now(), t, filled = 0;
    int in_batch = 0, done = 0;
    struct timespec nap = {0, 2000000};
    while ((t = now() - t0) < RUN_S) {
        if (!in_batch && !done && t >= 1.0) {
            for (int i = 0; i < BATCH; i++) batch[i] = block(MiB, 2);
            in_batch = 1;
            filled = now() - t0;
        } else if (in_batch && t >= filled + 0.25) {
            for (int i = 0; i < BATCH; i++) free(batch[i]);
            in_batch = 0;
            done = 1;
        }
        free(block(2048, 3));
        nanosleep(&nap, NULL);
    }
    if (in_batch)
        for (int i = 0; i < BATCH; i++) free(batch[i]);
    for (int i = 0; i < 4; i++) free(base[i]);
    printf("spike of %d MiB held from 1.0 s to %.2f s\n", BATCH, filled + 0.25);
    return 0;
}
