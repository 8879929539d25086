/*
 * threads.c — bench workload: a thread per request. THREADS short threads, four at a time,
 * each making a few allocations of its own and freeing them: what a server that starts a
 * thread per connection does, and the case where a tracer's per-thread set-up (its state, its
 * unwinder's caches) costs more than the thread's own work.
 *
 *     threads [THREADS]      default 12000; prints a checksum
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (n < 1 || n > 10000000) {
        fprintf(stderr, "usage: threads [THREADS(1..10000000)]\n");
        return 2;
    }
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
    printf("threads %ld sum %lu\n", n, (unsigned long)sum);
    return 0;
}
