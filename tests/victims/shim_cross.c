/*
 * shim_cross.c — victim: blocks freed or reallocated by a thread other than the one that
 * allocated them, while the owner runs and after it exited (the shim keeps each thread's
 * blocks in that thread's table; see preload/live.c).
 *
 *   1. a producer thread allocates 2000 x 1111 bytes, handed over a queue: main frees them
 *      while the producer still runs; it also allocates 300 x 1212 that main reallocs to
 *      1313 bytes and frees half of: 150 x 1313 stay;
 *   2. 64 threads allocate 10 x 2222 each and exit; main frees 8 of each thread's 10, then 8
 *      new threads (recycled thread states) churn 3333-byte blocks and free one of the
 *      remaining 2222s each: 120 x 2222 stay;
 *   3. 4 threads swap 50 000 blocks each (5000..5099 bytes) through 256 shared slots and free
 *      whatever they take out, whoever allocated it; main frees what is left: none stays;
 *   4. main holds 5000 x 6666 at once (more than a thread's own table takes: the rest go to
 *      the shared table), a thread frees the first 2500, main 2000 more: 500 stay.
 * argv[1], if given, is the number of swaps per thread in 3 (default 50 000: fewer under
 * valgrind). Prints a checksum line; exit status 0.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRODUCED 2000
static void *queue[PRODUCED];
static _Atomic int produced;
static void *to_realloc[300];
static void *exited_blocks[64][10];
static _Atomic(void *) slots[256];
static _Atomic int go;
static void *volatile sink;   /* keeps the compiler from eliding malloc/free pairs */

static void *producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 300; i++) to_realloc[i] = malloc(1212);
    for (int i = 0; i < PRODUCED; i++) {
        queue[i] = malloc(1111);
        memset(queue[i], i & 0xff, 16);
        atomic_store_explicit(&produced, i + 1, memory_order_release);
    }
    while (!atomic_load(&go)) {}  /* still alive while main frees its blocks */
    return NULL;
}

static void *short_lived(void *arg)
{
    long k = (long)arg;
    for (int i = 0; i < 10; i++) exited_blocks[k][i] = malloc(2222);
    return NULL;
}

static void *recycled(void *arg)
{
    long k = (long)arg;
    for (int i = 0; i < 100; i++) {
        void *p = malloc(3333);
        sink = p;
        free(p);
    }
    free(exited_blocks[k][9]);   /* a block of a thread that exited */
    exited_blocks[k][9] = NULL;
    return NULL;
}

#define MANY 5000
static void *many[MANY];

static void *free_first_half(void *arg)
{
    (void)arg;
    for (int i = 0; i < MANY / 2; i++) free(many[i]);
    return NULL;
}

static long swaps = 50000;

static void *swapper(void *arg)
{
    uint64_t s = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    for (long i = 0; i < swaps; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        void *p = malloc(5000 + (size_t)(s % 100));
        void *old = atomic_exchange(&slots[(s >> 8) % 256], p);
        free(old);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) swaps = strtol(argv[1], NULL, 10);
    unsigned long sum = 0;
    pthread_t pt;
    pthread_create(&pt, NULL, producer, NULL);
    for (int i = 0; i < PRODUCED; i++) {
        while (atomic_load_explicit(&produced, memory_order_acquire) <= i) {}
        sum += ((unsigned char *)queue[i])[0];
        free(queue[i]);
    }
    for (int i = 0; i < 300; i++) {
        to_realloc[i] = realloc(to_realloc[i], 1313);
        if (i % 2) { free(to_realloc[i]); to_realloc[i] = NULL; }
    }
    atomic_store(&go, 1);
    pthread_join(pt, NULL);

    pthread_t t[64];
    for (long k = 0; k < 64; k++) pthread_create(&t[k], NULL, short_lived, (void *)k);
    for (int k = 0; k < 64; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 64; k++)
        for (int i = 0; i < 8; i++) { free(exited_blocks[k][i]); exited_blocks[k][i] = NULL; }
    for (long k = 0; k < 8; k++) pthread_create(&t[k], NULL, recycled, (void *)k);
    for (int k = 0; k < 8; k++) pthread_join(t[k], NULL);

    for (long k = 0; k < 4; k++) pthread_create(&t[k], NULL, swapper, (void *)(k + 1));
    for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
    for (int i = 0; i < 256; i++) free(atomic_exchange(&slots[i], NULL));

    for (int i = 0; i < MANY; i++) many[i] = malloc(6666);
    pthread_create(&t[0], NULL, free_first_half, NULL);
    pthread_join(t[0], NULL);
    for (int i = MANY / 2; i < MANY - 500; i++) free(many[i]);
    printf("cross done %lu\n", sum);
    return 0;
}
