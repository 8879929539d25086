/*
 * shim_stack_race.c — victim for stack interning under races: THREADS threads walk the same
 * sequence of call paths at the same time, so they keep creating the same new stack nodes
 * concurrently (the shim reserves ids for a new stack tail in a batch; a thread that finds
 * another one's node first must give up its reservation). Iteration i of every thread goes
 * through DEPTH + 1 calls of f0/f1/f2 chosen by choice(i, level) and leaks one block of
 * 100000 + i bytes at the bottom, so the test can recompute each block's path. Prints the
 * address of each function ("name 0xADDR").
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 4
#define ITERS 4000
#define DEPTH 14

static void *volatile sink;
static pthread_barrier_t start;

/* The function (0..2) at a level of iteration i's path: the same formula in the test. */
static unsigned choice(unsigned i, unsigned level)
{
    uint32_t h = (i + 1) * 2654435761u ^ (level + 1) * 40503u;
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    return h % 3;
}

void f0(unsigned i, unsigned level);
void f1(unsigned i, unsigned level);
void f2(unsigned i, unsigned level);

/* inlined: each level of a path is exactly one frame of f0, f1 or f2 */
static inline __attribute__((always_inline)) void next(unsigned i, unsigned level)
{
    switch (choice(i, level)) {
    case 0: f0(i, level); break;
    case 1: f1(i, level); break;
    default: f2(i, level); break;
    }
}

#define STEP(name)                                                                        \
    __attribute__((noinline)) void name(unsigned i, unsigned level)                       \
    {                                                                                     \
        if (level == DEPTH)                                                               \
            sink = malloc(100000 + i);                                                    \
        else                                                                              \
            next(i, level + 1);                                                           \
        __asm__ volatile("");                                                             \
    }
STEP(f0)
STEP(f1)
STEP(f2)

__attribute__((noinline)) static void *worker(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    for (unsigned i = 0; i < ITERS; i++) next(i, 0);
    __asm__ volatile("");
    return NULL;
}

int main(void)
{
    printf("f0 %p\nf1 %p\nf2 %p\nworker %p\nmain %p\n", (void *)f0, (void *)f1, (void *)f2,
           (void *)worker, (void *)main);
    fflush(stdout);
    pthread_t t[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    for (int k = 0; k < THREADS; k++)
        if (pthread_create(&t[k], NULL, worker, NULL) != 0) return 1;
    for (int k = 0; k < THREADS; k++) pthread_join(t[k], NULL);
    return 0;
}
