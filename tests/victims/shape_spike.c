/*
 * shape_spike.c — victim with a known "spike" shape: holds an 8 MiB working set, and from
 * t = 1.0 s to 1.3 s also holds 64 MiB (a batch), then frees it and idles to 2.5 s. Small
 * temporary blocks churn throughout. Paced by CLOCK_MONOTONIC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MiB 1048576
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
    char *base[8], *batch[64];
    for (int i = 0; i < 8; i++) base[i] = block(MiB, 1);
    double t0 = now(), t;
    int in_batch = 0, done = 0;
    struct timespec nap = {0, 2000000};
    while ((t = now() - t0) < RUN_S) {
        if (!in_batch && !done && t >= 1.0) {
            for (int i = 0; i < 64; i++) batch[i] = block(MiB, 2);
            in_batch = 1;
        } else if (in_batch && t >= 1.3) {
            for (int i = 0; i < 64; i++) free(batch[i]);
            in_batch = 0;
            done = 1;
        }
        free(block(2048, 3));
        nanosleep(&nap, NULL);
    }
    for (int i = 0; i < 8; i++) free(base[i]);
    printf("spike of 64 MiB held from 1.0 s to 1.3 s\n");
    return 0;
}
