/*
 * shape_exp.c — victim with a known "exponential" shape: live heap follows
 * 128 KiB * e^(2 t) for 2.5 s (to ~19 MiB), paced by CLOCK_MONOTONIC: each step allocates the
 * difference to the target, so blocks grow with the total. Prints "final BYTES bytes".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BASE (128.0 * 1024)
#define K 2.0
#define RUN_S 2.5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *kept[100000];
static size_t nkept;

__attribute__((noinline)) static void grow(size_t n)
{
    char *p = malloc(n);
    if (!p) abort();
    memset(p, 0x42, n);
    if (nkept < sizeof kept / sizeof kept[0]) kept[nkept++] = p;
}

int main(void)
{
    double t0 = now(), t;
    size_t total = 0;
    struct timespec nap = {0, 2000000};
    while ((t = now() - t0) < RUN_S) {
        double target = BASE * exp(K * t);
        if (total < target) {
            size_t n = (size_t)(target - total);
            if (n < 256) n = 256;
            grow(n);
            total += n;
        }
        nanosleep(&nap, NULL);
    }
    printf("final %zu bytes\n", total);
    for (size_t i = 0; i < nkept; i++) free(kept[i]);
    return 0;
}
