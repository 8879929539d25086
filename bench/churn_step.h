/*
 * churn_step.h — the churn workload's random step, shared by bench/churn.c, bench/steady.c and
 * bench/coder.c so that all three run the very same sequence: a fixed-seed xorshift PRNG picks
 * which of CHURN_SLOTS live blocks to replace and the new block's size (16..1024 bytes, one
 * time in 16 up to 8 KiB), and churn_pair does the step. Plus the monotonic clock in ns for the
 * sections that time windows.
 */
#ifndef CHURN_STEP_H
#define CHURN_STEP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define CHURN_SLOTS 64

/* The PRNG seed of churn's thread i (0 for the single-thread run). */
static inline uint64_t churn_seed(unsigned i) { return 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1); }

static inline uint64_t churn_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return *s = x;
}

/* The slot a step replaces and the size of its new block, from one churn_rand value. */
static inline unsigned churn_slot(uint64_t r) { return (unsigned)(r % CHURN_SLOTS); }
static inline size_t churn_size(uint64_t r)
{
    return (r >> 8) % 16 == 0 ? 16 + (r >> 16) % 8192 : 16 + (r >> 16) % 1009;
}

/* Step i with random value r: frees the block in r's slot and allocates one of r's size in its
 * place, touching both ends (p escapes, so the compiler cannot elide the pair). Returns a byte
 * of the new block for the caller's checksum. */
static inline unsigned churn_pair(void **slot, uint64_t r, uint64_t i)
{
    unsigned k = churn_slot(r);
    size_t size = churn_size(r);
    free(slot[k]);
    char *p = malloc(size);
    if (!p) abort();
    p[0] = (char)i;
    p[size - 1] = (char)r;
    __asm__ volatile("" : : "r"(p) : "memory");
    slot[k] = p;
    return (unsigned char)p[0];
}

static inline double churn_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

#endif /* CHURN_STEP_H */
