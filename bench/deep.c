/*
 * deep.c — bench workload: allocations at call depth ~50 reached through varied paths.
 *
 *     deep [ALLOCS]      default 2000000 malloc/free pairs
 *
 * A recursive descent through three mutually recursive functions picked by a fixed-seed
 * PRNG, so the stacks differ in their middle frames (many distinct stacks sharing prefixes,
 * as in real programs); at depth 50 it allocates, touches and frees a few blocks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define DEPTH 50
#define PER_LEAF 8

static uint64_t g_state = 0x2545F4914F6CDD1Dull;
static uint64_t g_sum;

static inline uint64_t rnd(void)
{
    uint64_t x = g_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return g_state = x;
}

static void walk_a(int depth);
static void walk_b(int depth);
static void walk_c(int depth);

static __attribute__((noinline)) void leaf(void)
{
    for (int i = 0; i < PER_LEAF; i++) {
        size_t n = 16 + rnd() % 512;
        char *p = malloc(n);
        if (!p) abort();
        p[0] = (char)n;
        __asm__ volatile("" : : "r"(p) : "memory");   /* p escapes: no elision */
        g_sum += (unsigned char)p[0];
        free(p);
    }
}

#define WALK(name)                                                        \
    static __attribute__((noinline)) void name(int depth)                 \
    {                                                                     \
        if (depth >= DEPTH) { leaf(); return; }                           \
        switch (rnd() % 3) {                                              \
        case 0: walk_a(depth + 1); break;                                 \
        case 1: walk_b(depth + 1); break;                                 \
        default: walk_c(depth + 1); break;                                \
        }                                                                 \
        __asm__ volatile("" ::: "memory"); /* no tail call: keep frames */ \
    }
WALK(walk_a)
WALK(walk_b)
WALK(walk_c)

int main(int argc, char **argv)
{
    long allocs = argc > 1 ? atol(argv[1]) : 2000000L;
    if (allocs <= 0) { fprintf(stderr, "usage: deep [ALLOCS]\n"); return 2; }
    for (long i = 0; i < allocs / PER_LEAF; i++) walk_a(0);
    printf("deep allocs=%ld sum=%llu\n", allocs, (unsigned long long)g_sum);
    return 0;
}
