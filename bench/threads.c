/*
 * threads.c — bench workload: a thread per request. THREADS short threads, four at a time,
 * each making a few allocations of its own and freeing them: what a server that starts a
 * thread per connection does, and the case where a tracer's per-thread set-up (its state, its
 * unwinder's caches) costs more than the thread's own work.
 *
 *     threads [THREADS [IDLE]]   default 12000 and 0; prints a checksum
 *
 * With IDLE > 0, that many more threads (64 KiB stacks) each make an allocation and then
 * wait, alive, until the requests are done, and the program also prints the microseconds
 * per request thread (bench section `idle`): a tracer that looks at every live thread when
 * one starts makes a program with many threads pay for each one it starts.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t idle_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cv = PTHREAD_COND_INITIALIZER;
static int idle_go;

static void *idle(void *arg)
{
    free(malloc(24));
    pthread_mutex_lock(&idle_mu);
    while (!idle_go) pthread_cond_wait(&idle_cv, &idle_mu);
    pthread_mutex_unlock(&idle_mu);
    return arg;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *request(void *arg)
{
    uintptr_t i = (uintptr_t)arg, sum = 0;
    for (int k = 0; k < 8; k++) {
        char *p = malloc(32 + (i * 7 + (uintptr_t)k * 13) % 400);
        if (!p) abort();
        p[0] = (char)k;
        __asm__ volatile("" : : "r"(p) : "memory");
        sum += (unsigned char)p[0];
        free(p);
    }
    return (void *)sum;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 12000;
    long nidle = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
    if (n < 1 || n > 10000000 || nidle < 0 || nidle > 6000) {
        fprintf(stderr, "usage: threads [THREADS(1..10000000) [IDLE(0..6000)]]\n");
        return 2;
    }
    pthread_t *idlers = nidle ? malloc((size_t)nidle * sizeof *idlers) : NULL;
    pthread_attr_t small;
    pthread_attr_init(&small);
    pthread_attr_setstacksize(&small, 64 * 1024);
    for (long i = 0; i < nidle; i++)
        if (!idlers || pthread_create(&idlers[i], &small, idle, NULL) != 0) return 1;
    double t0 = now_s();
    uintptr_t sum = 0;
    for (long i = 0; i < n; i += 4) {
        pthread_t t[4];
        int made = 0;
        for (int k = 0; k < 4 && i + k < n; k++, made++)
            if (pthread_create(&t[k], NULL, request, (void *)(uintptr_t)(i + k)) != 0) return 1;
        for (int k = 0; k < made; k++) {
            void *r;
            pthread_join(t[k], &r);
            sum += (uintptr_t)r;
        }
    }
    double dt = now_s() - t0;
    if (nidle) {
        pthread_mutex_lock(&idle_mu);
        idle_go = 1;
        pthread_cond_broadcast(&idle_cv);
        pthread_mutex_unlock(&idle_mu);
        for (long i = 0; i < nidle; i++) pthread_join(idlers[i], NULL);
        free(idlers);
        printf("threads %ld idle %ld sum %lu us_per_thread %.1f\n", n, nidle, (unsigned long)sum,
               dt / (double)n * 1e6);
    } else {
        printf("threads %ld sum %lu\n", n, (unsigned long)sum);
    }
    pthread_attr_destroy(&small);
    return 0;
}
