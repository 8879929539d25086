/*
 * shape_leak.c — victim with a known "leak" shape: leaks 2 MiB/s from one site (leak_chunk)
 * for 2.5 s, paced by CLOCK_MONOTONIC so the rate holds on a busy machine, while a second site
 * churns small temporary blocks. Used by tests/integration/test_patterns_shapes.c.
 * Prints "leaked BYTES bytes in SECONDS s".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE (2.0 * 1048576) /* bytes per second */
#define CHUNK 16384
#define RUN_S 2.5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void **kept;
static size_t nkept;

__attribute__((noinline)) static void leak_chunk(void)
{
    char *p = malloc(CHUNK);
    if (!p) abort();
    memset(p, 0x5a, CHUNK);
    kept[nkept++] = p; /* still referenced, never freed: live bytes only grow */
}

__attribute__((noinline)) static void churn(void)
{
    char *p = malloc(4096);
    if (!p) abort();
    memset(p, 1, 4096);
    free(p);
}

int main(void)
{
    kept = calloc((size_t)(RATE * RUN_S / CHUNK) + 64, sizeof *kept);
    if (!kept) return 1;
    double t0 = now(), t;
    size_t leaked = 0;
    struct timespec nap = {0, 2000000};
    while ((t = now() - t0) < RUN_S) {
        while (leaked < RATE * t) {
            leak_chunk();
            leaked += CHUNK;
        }
        churn();
        nanosleep(&nap, NULL);
    }
    printf("leaked %zu bytes in %.3f s\n", leaked, now() - t0);
    return 0;
}
