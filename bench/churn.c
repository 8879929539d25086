/*
 * churn.c — bench workload: malloc/free churn with random sizes from a fixed-seed PRNG.
 *
 *     churn [THREADS [PAIRS]]      defaults: 1 thread, 20000000 pairs (split over threads)
 *
 * Each thread keeps a small window of live blocks (64 slots): every step frees one slot and
 * refills it with a block of a random size (16..1024 bytes, sometimes up to 8 KiB) and
 * touches it, so the allocator works like a program's does and the compiler cannot elide
 * the pair. Prints a checksum so the work is observable.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "churn_step.h"

typedef struct job { uint64_t pairs, seed, sum; } job;

static void *run(void *arg)
{
    job *j = arg;
    void *slot[CHURN_SLOTS] = {0};
    uint64_t s = j->seed, sum = 0;
    for (uint64_t i = 0; i < j->pairs; i++) sum += churn_pair(slot, churn_rand(&s), i);
    for (unsigned k = 0; k < CHURN_SLOTS; k++) free(slot[k]);
    j->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    uint64_t pairs = argc > 2 ? strtoull(argv[2], NULL, 10) : 20000000ull;
    if (threads < 1 || threads > 64 || pairs == 0) {
        fprintf(stderr, "usage: churn [THREADS(1..64) [PAIRS]]\n");
        return 2;
    }
    pthread_t t[64];
    job jobs[64];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job){pairs / (uint64_t)threads, churn_seed((unsigned)i), 0};
        if (threads == 1) run(&jobs[0]);
        else if (pthread_create(&t[i], NULL, run, &jobs[i]) != 0) return 1;
    }
    uint64_t sum = 0;
    for (int i = 0; i < threads; i++) {
        if (threads > 1) pthread_join(t[i], NULL);
        sum += jobs[i].sum;
    }
    printf("churn threads=%d pairs=%llu sum=%llu\n", threads, (unsigned long long)pairs,
           (unsigned long long)sum);
    return 0;
}
