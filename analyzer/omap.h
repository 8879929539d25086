/*
 * omap.h — an ordered map of uint64 keys to uint64 values: a treap whose nodes live in one
 * array. The analyzer keeps a process's mappings in it by start address, so the mappings a
 * range overlaps are found in O(log n): an unordered scan per mmap or munmap took a trace of
 * 65 000 live mappings (Linux's default vm.max_map_count) 4.8 s, and a hostile trace as long
 * as it liked. Priorities come from getrandom(), so no trace can choose keys that unbalance
 * the tree.
 */
#ifndef MW_OMAP_H
#define MW_OMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mw_omap_node {
    uint64_t key, val;
    uint32_t prio, left, right; /* children: node indexes, 0 = none */
} mw_omap_node;

typedef struct mw_omap {
    mw_omap_node *nodes;        /* nodes[0] is unused: index 0 means "no node" */
    uint32_t cap, used, free_list, root;
    uint64_t rng;               /* priorities (xorshift, seeded at the first insertion) */
    size_t count;
} mw_omap;

/* An empty map needs no set-up: a zeroed mw_omap is one. */
void mw_omap_free(mw_omap *m);
/* Inserts key, or replaces its value. Returns 0, or -1 when out of memory (nothing changed). */
int mw_omap_put(mw_omap *m, uint64_t key, uint64_t val);
/* Removes key; false when it was not there. */
bool mw_omap_del(mw_omap *m, uint64_t key);
/* The value of key; false when it is not there. */
bool mw_omap_get(const mw_omap *m, uint64_t key, uint64_t *val);
/* The entry with the greatest key <= key (le) or the smallest key >= key (ge); false when
 * there is none. */
bool mw_omap_le(const mw_omap *m, uint64_t key, uint64_t *k, uint64_t *v);
bool mw_omap_ge(const mw_omap *m, uint64_t key, uint64_t *k, uint64_t *v);

#endif /* MW_OMAP_H */
