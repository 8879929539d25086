/*
 * hmap.h — open-addressing hash maps keyed by 64-bit integers, used by the analyzer's
 * in-memory model (stack nodes, sites, SQL fingerprints, pending frees, resources).
 *
 * Linear probing with backward-shift deletion (no tombstones), so a map that sees millions
 * of insert/delete pairs (the live-block table under churn) never degrades. Key 0 is legal:
 * it is kept outside the table. Values are uint64_t (usually an index into an array).
 */
#ifndef MW_HMAP_H
#define MW_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mw_hmap_slot {
    uint64_t key; /* 0 = empty */
    uint64_t val;
} mw_hmap_slot;

typedef struct mw_hmap {
    mw_hmap_slot *slots;
    size_t mask;   /* capacity - 1 (capacity is a power of two), 0 when unallocated */
    size_t count;  /* entries, including the zero key */
    bool has_zero;
    uint64_t zero_val;
} mw_hmap;

static inline uint64_t mw_hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

void mw_hmap_init(mw_hmap *m);
void mw_hmap_free(mw_hmap *m);
/* Returns a pointer to the value of key, or NULL. Valid until the next insert/delete. */
uint64_t *mw_hmap_get(const mw_hmap *m, uint64_t key);
/* Inserts key (value 0) if absent. Returns its value slot; *added tells whether it was new.
 * Returns NULL only when memory ran out. */
uint64_t *mw_hmap_put(mw_hmap *m, uint64_t key, bool *added);
/* Removes key; returns true and its value in *val (if non-NULL) when it was present. */
bool mw_hmap_del(mw_hmap *m, uint64_t key, uint64_t *val);
/* Iteration: for (size_t i = 0; mw_hmap_next(m, &i, &k, &v);) ... (zero key first). */
bool mw_hmap_next(const mw_hmap *m, size_t *it, uint64_t *key, uint64_t *val);

#endif /* MW_HMAP_H */
