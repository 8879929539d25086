/*
 * shape_linear.c — victim with a known "linear" shape: a leak of 2 MiB/s from one site
 * (leak_chunk) plus a pool site (pool_chunk) that fills to 1.5 MiB over every 0.25 s and is
 * then freed at once: a straight-line trend that gives memory back along the way (a sawtooth
 * on a ramp). 2.5 s, paced by CLOCK_MONOTONIC. Prints "leaked BYTES bytes in SECONDS s".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE (2.0 * 1048576)
#define CHUNK 16384
#define POOL_MAX (1.5 * 1048576)
#define POOL_PERIOD 0.25
#define RUN_S 2.5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void **kept, *pool[256];
static size_t nkept, npool;

__attribute__((noinline)) static void leak_chunk(void)
{
    char *p = malloc(CHUNK);
    if (!p) abort();
    memset(p, 0x5a, CHUNK);
    kept[nkept++] = p;
}

__attribute__((noinline)) static void pool_chunk(void)
{
    char *p = malloc(CHUNK);
    if (!p) abort();
    memset(p, 0x33, CHUNK);
    pool[npool++] = p;
}

static void pool_drain(void)
{
    while (npool) free(pool[--npool]);
}

int main(void)
{
    kept = calloc((size_t)(RATE * RUN_S / CHUNK) + 64, sizeof *kept);
    if (!kept) return 1;
    double t0 = now(), t;
    size_t leaked = 0;
    long period = 0;
    struct timespec nap = {0, 2000000};
    while ((t = now() - t0) < RUN_S) {
        while (leaked < RATE * t) {
            leak_chunk();
            leaked += CHUNK;
        }
        long k = (long)(t / POOL_PERIOD);
        if (k != period) {
            pool_drain();
            period = k;
        }
        double phase = (t - k * POOL_PERIOD) / POOL_PERIOD;
        while (npool < 256 && npool * CHUNK < POOL_MAX * phase) pool_chunk();
        nanosleep(&nap, NULL);
    }
    pool_drain();
    printf("leaked %zu bytes in %.3f s\n", leaked, now() - t0);
    return 0;
}
