/*
 * shim_many_threads.c — victim: more threads alive at once than the shim's registry has slots
 * (8 192): 8 300 threads (64 KiB stacks) each allocate a block of 5555 bytes and map and unmap
 * 12 288 bytes, then wait until all are up, free their block and end. The threads past the
 * registry's slots are recorded in the shared stream of exited threads: every call is in the
 * trace, nothing is lost.
 *
 *     shim_many_threads      prints "threads 8300"; exit status 0
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define THREADS 8300

static sem_t g_up;
static pthread_barrier_t g_all;

static void *worker(void *arg)
{
    void *volatile kept = malloc(5555);
    void *m = mmap(NULL, 12288, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!kept || m == MAP_FAILED) abort();
    munmap(m, 12288);
    sem_post(&g_up);
    pthread_barrier_wait(&g_all);
    free(kept);
    return arg;
}

int main(void)
{
    static pthread_t t[THREADS];
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 * 1024);
    sem_init(&g_up, 0, 0);
    pthread_barrier_init(&g_all, NULL, THREADS + 1);
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], &at, worker, NULL) != 0) return 1;
    for (int i = 0; i < THREADS; i++) sem_wait(&g_up);
    pthread_barrier_wait(&g_all);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    pthread_attr_destroy(&at);
    printf("threads %d\n", THREADS);
    return 0;
}
