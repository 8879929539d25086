/*
 * blocktab.h — the live heap blocks of one thread (blocktab.c), keyed by the block's
 * per-thread sequence number. The hottest structure of ingest: one insert per allocation,
 * one delete per free, one lookup per exit verdict.
 *
 * A thread numbers its blocks 1, 2, 3... in allocation order, so the table is an array of
 * pages of consecutive seqs, indexed directly: no hashing, no probing, blocks of a page in
 * seq order. A page is allocated when the first seq in it arrives (from the second page on:
 * a thread's first blocks go to the spill) and freed when its last block is. A page left
 * sparse behind the newest one (a few long-lived blocks) hands its blocks to a hash table
 * (the "spill") and is freed, so memory stays near the live blocks'.
 */
#ifndef MW_BLOCKTAB_H
#define MW_BLOCKTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A live (later: unfreed) heap block. */
typedef struct mw_block {
    uint64_t tidx, seq;      /* implicit id (seq >= 1; 0 marks an empty slot) */
    uint64_t size, addr;
    uint32_t site;           /* index into mw_proc.sites */
    uint32_t sql;            /* 1 + index into mw_proc.sql, 0 = no SQL context */
    uint32_t mark;           /* 1 + index of the last mark before the allocation, 0 none */
    uint8_t kind;            /* enum mw_reach_kind */
} mw_block;

#define MW_BPAGE_BITS 10u                       /* seqs per page: 1024 (48 KiB) */
#define MW_BPAGE_SLOTS (1u << MW_BPAGE_BITS)

typedef struct mw_bpage {
    uint32_t live;                              /* used slots */
    mw_block s[MW_BPAGE_SLOTS];                 /* slot seq & (SLOTS - 1); seq 0 = empty */
} mw_bpage;

typedef struct mw_btab {
    mw_bpage **dir;      /* dir[(seq >> MW_BPAGE_BITS) - base], NULL = no page */
    size_t ndir;         /* entries of dir */
    uint64_t base;       /* page index of dir[0] */
    uint64_t front;      /* 1 + the highest page index ever allocated (0: none yet) */
    mw_block *spill;     /* open-addressing hash of blocks whose page is gone (seq 0 = empty) */
    unsigned spill_bits; /* capacity = 1 << spill_bits (0: unallocated) */
    size_t spill_count;
    size_t count;        /* blocks in the table */
} mw_btab;

/* The slot for seq (seq >= 1): existing (*added false) or new and zeroed except seq.
 * NULL when out of memory. Valid until the next put/del. */
mw_block *mw_btab_put(mw_btab *t, uint64_t seq, bool *added);
mw_block *mw_btab_get(const mw_btab *t, uint64_t seq);
/* Removes seq, copying the block to *out (if non-NULL). Returns false when absent. */
bool mw_btab_del(mw_btab *t, uint64_t seq, mw_block *out);
void mw_btab_free(mw_btab *t);
/* Calls fn on every block in ascending seq order; stops at the first false fn returns.
 * False when fn did, or when memory for ordering the spilled blocks ran out. */
bool mw_btab_each(const mw_btab *t, bool (*fn)(const mw_block *b, void *arg), void *arg);
/* The same, emptying the table as it goes (each page freed once its blocks were passed on,
 * the table freed at the end, also when fn failed): the copy the caller makes never sits
 * next to the whole table. */
bool mw_btab_drain(mw_btab *t, bool (*fn)(const mw_block *b, void *arg), void *arg);

#endif /* MW_BLOCKTAB_H */
