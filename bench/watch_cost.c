/*
 * watch_cost.c — `make bench` section for the watch core (issue 6): run under the shim, it
 * prints the cost of one recorded write (user-mode store, single-stepped, event with and
 * without the writer's stack: the second figure comes from a re-run of itself with
 * MEMWATCH_STACKS=0), of a store from a deep call stack, of a read(2) into watched memory
 * (kernel write), and the event throughput of a 4-thread write storm over 256 watched pages
 * and of 4 threads writing one page (the other threads paused during each step).
 * Every figure is measured against the same operation on unwatched memory in the same run.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "memwatch.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint8_t *page(size_t n)
{
    return mmap(NULL, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* us per store of n stores to v */
static double stores(volatile int64_t *v, long n)
{
    double t0 = now_s();
    for (long i = 1; i <= n; i++) *v = i;
    return (now_s() - t0) * 1e6 / n;
}

__attribute__((noinline)) static double deep(volatile int64_t *v, long n, int depth)
{
    if (depth > 0) {
        double r = deep(v, n, depth - 1);
        __asm__ volatile("" ::: "memory");
        return r;
    }
    return stores(v, n);
}

static double reads(int fd[2], uint8_t *buf, long n)
{
    static const char msg[64] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (write(fd[1], msg, 64) != 64 || read(fd[0], buf, 64) != 64) return -1;
        buf[0] ^= 1; /* keep the bytes changing: msg is constant */
    }
    return (now_s() - t0) * 1e6 / n;
}

static volatile int64_t *shared;
static void *shared_thread(void *arg)
{
    long t = (long)arg;
    for (long r = 1; r <= 200; r++) shared[t * 8] = r;
    return NULL;
}

static uint8_t *storm_base;
static long storm_rounds;
static void *storm_thread(void *arg)
{
    long t = (long)arg;
    for (long r = 1; r <= storm_rounds; r++)
        for (long k = t; k < 256; k += 4) *(volatile int64_t *)(storm_base + k * 4096) = r;
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    bool child = getenv("MW_WATCH_BENCH_CHILD") != NULL;
    if (!memwatch_watch) {
        printf("watch_cost: run it under the shim (LD_PRELOAD=libmemwatch_preload.so)\n");
        return 0;
    }
    long n = 20000;
    uint8_t *p = page(2);
    volatile int64_t *plain = (volatile int64_t *)(p + 4096), *w = (volatile int64_t *)p;
    double base = stores(plain, n);
    int64_t id = memwatch_watch((void *)w, 8, "bench", MEMWATCH_TRACK_THREADS | MEMWATCH_MUTATION_FULL);
    if (id < 0) { printf("watch_cost: memwatch_watch failed: %lld\n", (long long)id); return 1; }
    double us = stores(w, n);
    double us_deep = deep(w, n / 4, 40);
    if (child) {
        printf("write, no stack (MEMWATCH_STACKS=0): %7.2f us/event (unwatched store %.3f us)\n", us, base);
        return 0;
    }
    printf("write, full stack:                   %7.2f us/event (unwatched store %.3f us)\n", us, base);
    printf("write, full stack, 40 frames deeper: %7.2f us/event\n", us_deep);
    fflush(stdout);
    /* the no-stack figure: the same program again with MEMWATCH_STACKS=0 */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "MW_WATCH_BENCH_CHILD=1 MEMWATCH_STACKS=0 %s", argv[0]);
    if (system(cmd) != 0) printf("write, no stack: (re-run failed)\n");

    int fd[2];
    if (pipe(fd) != 0) return 1;
    uint8_t *rb = page(2);
    double r_plain = reads(fd, rb + 4096, 2000);
    memwatch_watch(rb, 64, "rbuf", MEMWATCH_TRACK_THREADS | MEMWATCH_MUTATION_FULL);
    double r_w = reads(fd, rb, 2000);
    printf("read(2) into watched bytes:          %7.2f us/call incl. 2 events (unwatched %.2f us)\n", r_w, r_plain);

    storm_base = page(256);
    storm_rounds = 20;
    for (long k = 0; k < 256; k++) memwatch_watch(storm_base + k * 4096, 8, "s", 0);
    double t0 = now_s();
    pthread_t th[4];
    for (long t = 0; t < 4; t++) pthread_create(&th[t], NULL, storm_thread, (void *)t);
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    double dt = now_s() - t0;
    printf("storm, 4 threads x 256 pages:         %7.0f events/s (%ld events in %.2f s)\n",
           256.0 * storm_rounds / dt, 256 * storm_rounds, dt);

    /* one page written by 4 threads: every step pauses the other running threads */
    shared = (volatile int64_t *)page(1);
    for (long t = 0; t < 4; t++) memwatch_watch((void *)&shared[t * 8], 8, "sh", 0);
    t0 = now_s();
    for (long t = 0; t < 4; t++) pthread_create(&th[t], NULL, shared_thread, (void *)t);
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    dt = now_s() - t0;
    printf("4 threads on one shared page:         %7.0f events/s (%d events in %.2f s)\n",
           800 / dt, 800, dt);
    return 0;
}
