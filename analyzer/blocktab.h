/*
 * blocktab.h — the live heap blocks of one thread (blocktab.c), keyed by the block's
 * per-thread sequence number. The hottest structure of ingest: one insert per allocation,
 * one delete per free. Open addressing with Fibonacci hashing (one multiply; sequential
 * sequence numbers spread evenly), blocks stored inline, backward-shift deletion.
 */
#ifndef MW_BLOCKTAB_H
#define MW_BLOCKTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A live (later: unfreed) heap block. */
typedef struct mw_block {
    uint64_t tidx, seq;      /* implicit id (seq >= 1; 0 marks an empty table slot) */
    uint64_t size, addr;
    uint32_t site;           /* index into mw_proc.sites */
    uint32_t sql;            /* 1 + index into mw_proc.sql, 0 = no SQL context */
    uint32_t mark;           /* 1 + index of the last mark before the allocation, 0 none */
    uint8_t kind;            /* enum mw_reach_kind */
} mw_block;

typedef struct mw_btab {
    mw_block *slots;     /* seq == 0: empty */
    unsigned bits;       /* capacity = 1 << bits (0: unallocated) */
    size_t count;
} mw_btab;

/* The slot for seq (seq >= 1): existing (*added false) or new and zeroed except seq.
 * NULL when out of memory. Valid until the next put/del. */
mw_block *mw_btab_put(mw_btab *t, uint64_t seq, bool *added);
mw_block *mw_btab_get(const mw_btab *t, uint64_t seq);
/* Removes seq, copying the block to *out (if non-NULL). Returns false when absent. */
bool mw_btab_del(mw_btab *t, uint64_t seq, mw_block *out);
void mw_btab_free(mw_btab *t);
/* Iteration over slots: for (size_t i = 0; i < mw_btab_cap(t); i++) if (t->slots[i].seq) ... */
static inline size_t mw_btab_cap(const mw_btab *t) { return t->slots ? (size_t)1 << t->bits : 0; }

#endif /* MW_BLOCKTAB_H */
