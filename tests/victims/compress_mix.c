/*
 * compress_mix.c — victim for the writer's per-frame compression choice (test_shim_compress.c).
 *
 *     compress_mix repeat N    N "requests", each a few microseconds of work and the same
 *                              sequence of 12 allocations from the same call sites, with sizes
 *                              that vary a little with the request number (like rows or
 *                              queries in a real program)
 *     compress_mix random N    N malloc/free pairs with random sizes over 64 random slots
 *                              (a fixed-seed PRNG: incompressible beyond entropy coding)
 *     compress_mix mixed N     N requests, then 60 N random pairs as fast as it can
 *     compress_mix rings N     8 threads, N random pairs each, all alive until all are done
 *                              and 50 ms more (each fills its ring under the shim)
 *     compress_mix loop N      a list of N blocks of 16 to 63 bytes (sizes going round 48
 *                              values), built in a loop and freed, every third one left
 *                              allocated: the same records over and over
 *
 * Prints a checksum of what it wrote, so the traced run's output can be compared.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t sum;

__attribute__((noinline)) static char *make(size_t n, int tag)
{
    char *p = malloc(n);
    if (!p) abort();
    memset(p, tag, n);
    sum += (unsigned char)p[n - 1] + n;
    return p;
}

__attribute__((noinline)) static void request(unsigned long i)
{
    /* some work per request, as a real program does: records arrive at a pace the strong
     * setting keeps up with even on a loaded machine */
    for (volatile int w = 0; w < 3000; w++)
        ;
    char *keep[12];
    for (int k = 0; k < 12; k++) keep[k] = make(16 + (size_t)k * 24 + i % 7 + (k == 5 ? i % 200 : 0), k);
    for (int k = 11; k >= 0; k--) free(keep[k]);
}

static void random_pairs(unsigned long n)
{
    void *slot[64] = { 0 };
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (unsigned long i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        unsigned k = (unsigned)(s % 64);
        free(slot[k]);
        slot[k] = make(16 + (s >> 16) % 4000, (int)(s >> 8));
    }
    for (unsigned k = 0; k < 64; k++) free(slot[k]);
}

/* A structure built in a loop: the shim's writer sees its records repeat a stretch exactly. */
static void loop(unsigned long n)
{
    void **v = malloc(n * sizeof *v);
    if (!v) abort();
    for (unsigned long i = 0; i < n; i++) v[i] = make(16 + i % 48, (int)i);
    for (unsigned long i = 0; i < n; i++)
        if (i % 3) free(v[i]);
    free(v);
}

#define RING_THREADS 8
static pthread_barrier_t rings_done;
static unsigned long rings_n;

static void *ring_thread(void *arg)
{
    void *slot[64] = { 0 };
    uint64_t s = 0x9E3779B97F4A7C15ull * ((uintptr_t)arg + 1), local = 0;
    for (unsigned long i = 0; i < rings_n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        unsigned k = (unsigned)(s % 64);
        free(slot[k]);
        size_t n = 16 + (s >> 16) % 400;
        char *p = malloc(n);
        if (!p) abort();
        p[0] = (char)s;
        local += (unsigned char)p[0] + n;
        slot[k] = p;
    }
    for (unsigned k = 0; k < 64; k++) free(slot[k]);
    pthread_barrier_wait(&rings_done);
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    return (void *)(uintptr_t)local;
}

static void rings(unsigned long n)
{
    pthread_t t[RING_THREADS];
    rings_n = n;
    pthread_barrier_init(&rings_done, NULL, RING_THREADS);
    for (uintptr_t i = 0; i < RING_THREADS; i++)
        if (pthread_create(&t[i], NULL, ring_thread, (void *)i) != 0) abort();
    for (int i = 0; i < RING_THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (uintptr_t)r;
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: compress_mix repeat|random|mixed|rings|loop N\n"); return 2; }
    unsigned long n = strtoul(argv[2], NULL, 10);
    if (!strcmp(argv[1], "repeat")) {
        for (unsigned long i = 0; i < n; i++) request(i);
    } else if (!strcmp(argv[1], "random")) {
        random_pairs(n);
    } else if (!strcmp(argv[1], "rings")) {
        rings(n);
    } else if (!strcmp(argv[1], "loop")) {
        loop(n);
    } else if (!strcmp(argv[1], "mixed")) {
        for (unsigned long i = 0; i < n; i++) request(i);
        random_pairs(60 * n);
    } else {
        return 2;
    }
    printf("compress_mix %s %lu sum=%llu\n", argv[1], n, (unsigned long long)sum);
    return 0;
}
