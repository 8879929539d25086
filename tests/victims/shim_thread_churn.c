/*
 * shim_thread_churn.c — victim: a thread per request, 70 000 of them (four at a time), each
 * allocating and freeing one block, the last of each batch leaving one (70 000 / 4 blocks of
 * 48 bytes, kept in a global array). Past 65 536 threads a trace whose thread indexes are
 * never reused is refused by the reader; the shim reuses the index of a thread that ended.
 *
 *     shim_thread_churn      prints "threads 70000, blocks held 17500"; exit status 0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 70000
#define AT_ONCE 4

static void *kept[THREADS / AT_ONCE];

static void *request(void *arg)
{
    long i = (long)arg;
    void *volatile p = malloc(64 + (size_t)(i % 100));
    free(p);
    if (i % AT_ONCE == AT_ONCE - 1) kept[i / AT_ONCE] = malloc(48);
    return NULL;
}

int main(void)
{
    long done = 0;
    for (long i = 0; i < THREADS; i += AT_ONCE) {
        pthread_t t[AT_ONCE];
        for (int k = 0; k < AT_ONCE; k++)
            if (pthread_create(&t[k], NULL, request, (void *)(i + k)) != 0) return 2;
        for (int k = 0; k < AT_ONCE; k++) pthread_join(t[k], NULL);
        done += AT_ONCE;
    }
    long held = 0;
    for (long i = 0; i < THREADS / AT_ONCE; i++) held += kept[i] != NULL;
    printf("threads %ld, blocks held %ld\n", done, held);
    return 0;
}
