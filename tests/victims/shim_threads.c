/*
 * shim_threads.c — victim: 4 named threads churning malloc/free, each leaking i+1 blocks of
 * 40000+i bytes; the main thread hands 100 blocks of 777 bytes to worker 0, which frees them
 * (cross-thread frees). Names: workers 0,1 via pthread_setname_np, 2,3 via prctl.
 * Each worker also leaves a 55555-byte block in a pthread key whose destructor frees it at
 * thread exit (after the shim's own per-thread state is gone: the late-free path).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define N 20000
static void *volatile sink;
static void *handed[100];
static pthread_key_t key;

static void *worker(void *arg)
{
    long i = (long)arg;
    char name[16];
    snprintf(name, sizeof name, "worker-%ld", i);
    if (i < 2)
        pthread_setname_np(pthread_self(), name);
    else
        prctl(PR_SET_NAME, name, 0, 0, 0);
    for (long k = 0; k < N; k++) {
        void *p = malloc(16 + (size_t)(k % 200));
        sink = p;
        free(p);
    }
    for (long k = 0; k <= i; k++) sink = malloc(40000 + (size_t)i);
    if (i == 0)
        for (int k = 0; k < 100; k++) free(handed[k]);
    pthread_setspecific(key, malloc(55555));
    return NULL;
}

int main(void)
{
    for (int k = 0; k < 100; k++) handed[k] = malloc(777);
    pthread_key_create(&key, free);
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    (void)!write(1, "threads done\n", 13);
    return 0;
}
