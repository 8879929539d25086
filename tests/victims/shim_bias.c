/*
 * shim_bias.c — victim: other threads' frees of a thread's blocks while that thread works its
 * own table without the lock (preload/live_impl.h: a table biased to its owner after 65 536
 * operations with no other thread; another thread revokes it with membarrier(2)).
 *
 * Four workers churn 64 slots each (PAIRS malloc/free pairs of 16..1015 bytes); every
 * 50 000 pairs (100 000 operations on its table: biased again since the last) a worker
 * allocates a block of 9000 + w bytes and hands it to main, which
 * frees it (or reallocs it to 9500 + w bytes and frees that) while the worker goes on: each
 * such free finds a biased table. At the end each worker frees its slots but for three
 * blocks of 7000 + w bytes it leaves, and exits; main prints a checksum line.
 *
 *     shim_bias [PAIRS]     default 2000000; prints: handed H freed F
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS 4
#define QCAP 64

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static void *queue[QCAP];
static unsigned qn;
static int done_workers;
static long pairs = 2000000;
static atomic_long handed;

static void hand(void *p)
{
    pthread_mutex_lock(&qlock);
    while (qn == QCAP) {
        pthread_mutex_unlock(&qlock);
        sched_yield();
        pthread_mutex_lock(&qlock);
    }
    queue[qn++] = p;
    pthread_cond_signal(&qcond);
    pthread_mutex_unlock(&qlock);
    atomic_fetch_add(&handed, 1);
}

static void *worker(void *arg)
{
    unsigned w = (unsigned)(uintptr_t)arg, r = 12345u + w;
    void *slot[64] = { 0 };
    for (long i = 0; i < pairs; i++) {
        r = r * 1103515245u + 12345u;
        unsigned k = (r >> 8) % 64;
        free(slot[k]);
        slot[k] = malloc(16 + (r >> 16) % 1000);
        if (slot[k]) memset(slot[k], 1, 8);
        if (i % 50000 == 49999) {
            char *b = malloc(9000 + w);
            if (b) {
                b[0] = (char)w;
                hand(b);
            }
        }
    }
    for (unsigned k = 0; k < 64; k++) free(slot[k]);
    for (int j = 0; j < 3; j++) {
        volatile char *leak = malloc(7000 + w); /* left for the exit scan */
        if (leak) leak[0] = 1;
    }
    pthread_mutex_lock(&qlock);
    done_workers++;
    pthread_cond_signal(&qcond);
    pthread_mutex_unlock(&qlock);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) pairs = strtol(argv[1], NULL, 10);
    if (pairs < 100000 || pairs > 100000000) {
        fprintf(stderr, "usage: shim_bias [PAIRS(100000..100000000)]\n");
        return 2;
    }
    pthread_t t[WORKERS];
    for (unsigned w = 0; w < WORKERS; w++) pthread_create(&t[w], NULL, worker, (void *)(uintptr_t)w);
    long freed = 0;
    pthread_mutex_lock(&qlock);
    for (;;) {
        while (qn == 0 && done_workers < WORKERS) pthread_cond_wait(&qcond, &qlock);
        if (qn == 0 && done_workers == WORKERS) break;
        char *b = queue[--qn];
        pthread_mutex_unlock(&qlock);
        if (freed % 2) {
            char *c = realloc(b, 9500 + (unsigned char)b[0]);
            free(c ? c : b);
        } else {
            free(b);
        }
        freed++;
        pthread_mutex_lock(&qlock);
    }
    pthread_mutex_unlock(&qlock);
    for (unsigned w = 0; w < WORKERS; w++) pthread_join(t[w], NULL);
    printf("handed %ld freed %ld\n", atomic_load(&handed), freed);
    return 0;
}
