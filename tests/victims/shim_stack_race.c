/*
 * shim_stack_race.c — victim for stack interning under races: RACE_THREADS threads walk the same
 * sequence of call paths at the same time, so they keep creating the same new stack nodes
 * concurrently (the shim reserves ids for a new stack tail in a batch; a thread that finds
 * another one's node first must give up its reservation). Iteration i of every thread goes
 * through RACE_DEPTH + 1 calls of f0/f1/f2 chosen by race_choice(i, level) and leaks one
 * block of RACE_SIZE0 + i bytes at the bottom (shim_stack_race.h, shared with the test, which
 * recomputes each block's path). Prints the address of each function ("name 0xADDR").
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "shim_stack_race.h"

static void *volatile sink;
static pthread_barrier_t start;

void f0(unsigned i, unsigned level);
void f1(unsigned i, unsigned level);
void f2(unsigned i, unsigned level);

/* inlined: each level of a path is exactly one frame of f0, f1 or f2 */
static inline __attribute__((always_inline)) void next(unsigned i, unsigned level)
{
    switch (race_choice(i, level)) {
    case 0: f0(i, level); break;
    case 1: f1(i, level); break;
    default: f2(i, level); break;
    }
}

#define STEP(name)                                                                        \
    __attribute__((noinline)) void name(unsigned i, unsigned level)                       \
    {                                                                                     \
        if (level == RACE_DEPTH)                                                          \
            sink = malloc(RACE_SIZE0 + i);                                                \
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
    for (unsigned i = 0; i < RACE_ITERS; i++) next(i, 0);
    __asm__ volatile("");
    return NULL;
}

int main(void)
{
    printf("f0 %p\nf1 %p\nf2 %p\nworker %p\nmain %p\n", (void *)f0, (void *)f1, (void *)f2,
           (void *)worker, (void *)main);
    fflush(stdout);
    pthread_t t[RACE_THREADS];
    pthread_barrier_init(&start, NULL, RACE_THREADS);
    for (int k = 0; k < RACE_THREADS; k++)
        if (pthread_create(&t[k], NULL, worker, NULL) != 0) return 1;
    for (int k = 0; k < RACE_THREADS; k++) pthread_join(t[k], NULL);
    return 0;
}
