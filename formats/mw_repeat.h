/*
 * mw_repeat.h — the writer's repeat finder (trace format version 6, TRACE-FORMAT.md 2.5).
 *
 * A program that builds a structure in a loop writes the same few records over and over
 * (bigheap: 48 ALLOC_SAMEs of 16 to 63 bytes, 4 million times). zstd matches them all, but a
 * compressed block holds at most 128 KiB of input, so each 128 KiB of repeats still costs a
 * block and a sequence (bigheap: 8.6 MB of such records were 0.85 KB of its 2.6 KB trace),
 * and every byte goes through the compressor. The finder sees the thread's plain records as
 * the run coder passes them on (mw_runs_code, while the records repeat), notices when the
 * records coming in are the ones of a recent stretch again, holds them back while they go on
 * doing so, and writes the stretch once in a REPEAT record with a count instead. The REPEAT
 * carries its records (zstd matches them against the stretch itself): a reader needs no
 * history to replay it.
 *
 * Output order is the input order: everything the caller emits other than through
 * mw_repeat_feed must be preceded by mw_repeat_flush. No allocation here: the shim links it.
 */
#ifndef MW_REPEAT_H
#define MW_REPEAT_H

#include <stddef.h>
#include <stdint.h>

/* Output: bytes for the stream; block_end asks the caller to end a compressed block after
 * them (mw_runs_code's columns; the finder never asks). */
typedef void (*mw_emit_fn)(void *ctx, const uint8_t *p, size_t n, int block_end);

#define MW_REP_HIST 8192u         /* bytes of history kept (a power of two) */
#define MW_REP_TAB 4096u          /* record hash table entries (a power of two) */
#define MW_REP_PATTERN 4096u      /* = MW_REPEAT_MAX_PATTERN (mw_format.h checks) */
/* A repeat is written as a REPEAT when it covers at least this many bytes and two stretches:
 * shorter ones zstd matches as cheaply (the sqlite3 CLI's trace came out 2% bigger at 1 KiB,
 * the same at 4 KiB; bigheap's 24% smaller at either). */
#define MW_REP_MIN_BYTES 4096u

typedef struct mw_repeat {
    uint8_t hist[MW_REP_HIST];     /* the last bytes fed, at their stream offset % MW_REP_HIST */
    uint64_t pos;                  /* bytes fed so far (plus a gap at each change of owner) */
    uint64_t tab[MW_REP_TAB];      /* a record's hash -> 1 + offset of its latest occurrence */
    uint8_t pat[MW_REP_PATTERN];   /* a copy of the stretch, made when the repeat ends */
    size_t per;                    /* the stretch's length (0: no repeat under way) */
    uint64_t start;                /* stream offset of the repeat's first byte (the stretch
                                      is the per bytes before it) */
    uint64_t held;                 /* bytes fed since the repeat began: the stretch over and over */
    uint64_t held_before;          /* of those, fed by earlier calls (gone from their buffers) */
    const void *owner;             /* whose records (a thread's window) */
    uint64_t saved;                /* bytes REPEATs stood for beyond their own copy (the
                                      writer counts them as compressor input) */
    uint64_t written;              /* REPEAT records written */
    uint8_t out[MW_REP_MIN_BYTES + 2u * MW_REP_PATTERN + 32u]; /* a REPEAT, or held bytes expanded */
} mw_repeat;

/* Empties the finder (no owner, nothing held). */
void mw_repeat_init(mw_repeat *r);
/* Passes the whole records p[0..n) of owner's stream on to emit, holding back repeats. */
void mw_repeat_feed(mw_repeat *r, const void *owner, const uint8_t *p, size_t n, mw_emit_fn emit, void *ctx);
/* Emits whatever is held back (as a REPEAT when it is worth one). */
void mw_repeat_flush(mw_repeat *r, mw_emit_fn emit, void *ctx);
static inline int mw_repeat_pending(const mw_repeat *r) { return r->per != 0; }

#endif /* MW_REPEAT_H */
