/*
 * shim_stack_race.h — what tests/victims/shim_stack_race.c does, shared with the test that
 * checks its trace (tests/integration/test_shim_stacks.c): the shape of the run and the
 * function (f0, f1 or f2) at each level of iteration i's call path.
 */
#ifndef SHIM_STACK_RACE_H
#define SHIM_STACK_RACE_H

#include <stdint.h>

#define RACE_THREADS 4
#define RACE_ITERS 4000
#define RACE_DEPTH 14      /* levels 0..RACE_DEPTH: RACE_DEPTH + 1 frames of f0/f1/f2 */
#define RACE_SIZE0 100000  /* iteration i leaks one block of RACE_SIZE0 + i bytes per thread */

static inline unsigned race_choice(unsigned i, unsigned level)
{
    uint32_t h = (i + 1) * 2654435761u ^ (level + 1) * 40503u;
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    return h % 3;
}

#endif /* SHIM_STACK_RACE_H */
