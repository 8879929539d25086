/*
 * shim_bigheap.c — victim: a heap far bigger than a thread's own live-block table, so that
 * most blocks live in the shim's shared table, kept by 64 KiB address chunk (preload/live.c):
 * chunk tables that grow to their largest, chunks emptied and reused, chunk maps that grow,
 * pool pieces given back and handed out again, a thread's blocks moved there when it exits.
 *
 *   1. main allocates 200 000 blocks of 21..581 bytes (21 + 16 k: no size libc's own blocks
 *      have), with 64 blocks of 200 000 bytes (their own mappings, a chunk each) among them,
 *      then frees 150 000 of the small ones and 32 of the big ones in a shuffled order (fixed
 *      seed): 50 000 small and 32 big stay;
 *   2. main allocates 50 000 blocks of 700..799 bytes and frees them in allocation order,
 *      all but every tenth: 5 000 stay;
 *   3. a thread allocates 5 000 blocks of 3000..3099 bytes and exits; main frees every other
 *      one of them: 2 500 stay;
 *   4. main reallocates 1 000 of the small blocks that stay to 1 500 bytes: 49 000 small and
 *      1 000 of 1 500 bytes stay;
 *   5. main allocates 40 blocks of 600 000 bytes (over what the shared table's compact 8-byte
 *      entries hold: they take its 16-byte ones) each followed by one of 45 bytes, and frees
 *      every other big one: 20 of 600 000 and 40 of 45 bytes stay.
 * Prints a checksum line; exit status 0.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL 200000
#define BIG 64
#define SECOND 50000
#define THREAD_BLOCKS 5000

static void *small[SMALL];
static void *big[BIG];
static void *second[SECOND];
static void *from_thread[THREAD_BLOCKS];
static void *huge[40], *tiny[40];
static unsigned idx[SMALL];
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void *touch(void *p, size_t n)
{
    if (!p) abort();
    memset(p, (int)(n & 0x7f), n < 64 ? n : 64);
    return p;
}

static void *thread_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < THREAD_BLOCKS; i++) from_thread[i] = touch(malloc(3000 + (size_t)(i % 100)), 3000);
    return NULL;
}

int main(void)
{
    unsigned long sum = 0;
    for (int i = 0, b = 0; i < SMALL; i++) {
        size_t n = 21 + 16 * (size_t)(next() % 36);
        small[i] = touch(malloc(n), n);
        if (i % (SMALL / BIG) == 0 && b < BIG) big[b++] = touch(malloc(200000), 200000);
    }
    for (unsigned i = 0; i < SMALL; i++) idx[i] = i;
    for (unsigned i = SMALL - 1; i > 0; i--) { /* Fisher-Yates */
        unsigned j = (unsigned)(next() % (i + 1));
        unsigned x = idx[i];
        idx[i] = idx[j];
        idx[j] = x;
    }
    for (unsigned i = 0; i < SMALL * 3 / 4; i++) {
        free(small[idx[i]]);
        small[idx[i]] = NULL;
        if (i % (SMALL * 3 / 4 / (BIG / 2)) == 0 && i / (SMALL * 3 / 4 / (BIG / 2)) < BIG / 2) {
            unsigned k = i / (SMALL * 3 / 4 / (BIG / 2)) * 2;
            free(big[k]);
            big[k] = NULL;
        }
    }
    for (int i = 0; i < SECOND; i++) second[i] = touch(malloc(700 + (size_t)(i % 100)), 700);
    for (int i = 0; i < SECOND; i++)
        if (i % 10) free(second[i]);
    pthread_t th;
    if (pthread_create(&th, NULL, thread_main, NULL) != 0 || pthread_join(th, NULL) != 0) return 1;
    for (int i = 0; i < THREAD_BLOCKS; i += 2) free(from_thread[i]);
    int moved = 0;
    for (int i = 0; i < SMALL && moved < 1000; i++) {
        if (!small[i]) continue;
        void *q = realloc(small[i], 1500);
        if (!q) abort();
        small[i] = touch(q, 1500);
        moved++;
    }
    for (int i = 0; i < 40; i++) {
        huge[i] = touch(malloc(600000), 600000);
        tiny[i] = touch(malloc(45), 45);
    }
    for (int i = 0; i < 40; i += 2) free(huge[i]);
    for (int i = 0; i < 40; i++) sum += (huge[i] != NULL) + (tiny[i] != NULL);
    for (int i = 0; i < SMALL; i++) sum += small[i] != NULL;
    for (int i = 0; i < BIG; i++) sum += big[i] != NULL;
    printf("bigheap sum=%lu\n", sum);
    return 0;
}
