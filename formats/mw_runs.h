/*
 * mw_runs.h — coded runs (trace format versions 3 to 5, TRACE-FORMAT.md 2.4): the per-thread rank
 * window, the value symbols, and the CODED_RUN coder.
 *
 * A CODED_RUN record holds a run of one thread's small allocation events (own-thread FREEs,
 * ALLOC_SAMEs, TIMEs) as columns: one op byte per event, a symbol byte per coded value in
 * two columns (free ranks, sizes), the values' low bits packed in a bit column, and varints.
 * A free is coded as its RANK among the thread's live blocks (how many younger ones are
 * live) instead of its distance back in allocations, which is what a random free pattern
 * really costs; the symbols leave the entropy coding to zstd's Huffman stage, one column per
 * zstd block. The shim's writer builds runs off the program's threads (mw_runs_code); the
 * decoder expands them (mw_decode.c). Both keep the same window per thread index, updated by
 * every ALLOC/REALLOC/FREE of that thread's own stream, so the rank means the same on both
 * sides whatever other threads do. A free of a block older than the window is coded as its
 * distance back, or (version 4) as its step from the block the thread's previous such free
 * named, whichever is smaller: a program that frees a big structure in the order it built it
 * steps by the same few blocks each time, and (version 5) the same step again is counted, not
 * written: one op for any number of them. No allocation here: the shim links this file.
 */
#ifndef MW_RUNS_H
#define MW_RUNS_H

#include <stddef.h>
#include <stdint.h>

#include "mw_repeat.h"

/* ---- the rank window ------------------------------------------------------------------ */
#define MW_WIN_BITS 2048u
#define MW_WIN_WORDS (MW_WIN_BITS / 64u)

/* Blocks top - MW_WIN_BITS < s <= top of one thread index; bit s % MW_WIN_BITS set = block s
 * not freed in this thread's own stream yet (a block freed by another thread stays set). */
typedef struct mw_window {
    uint64_t top;                   /* this thread's ALLOC/REALLOC count (latest block's seq) */
    uint64_t far;                   /* the block the thread's last FREE_DIST / FREE_STEP op freed */
    uint64_t bits[MW_WIN_WORDS];
} mw_window;

/* A new block (seq top + 1). */
static inline void mw_win_new(mw_window *w)
{
    uint64_t s = ++w->top;
    w->bits[(s / 64u) % MW_WIN_WORDS] |= 1ull << (s % 64u);
}
/* Block s was freed in this thread's stream (no effect outside the window). */
static inline void mw_win_free(mw_window *w, uint64_t s)
{
    if (s == 0 || s > w->top || w->top - s >= MW_WIN_BITS) return;
    w->bits[(s / 64u) % MW_WIN_WORDS] &= ~(1ull << (s % 64u));
}
/* Rank of live block s: the number of live blocks after it. -1 when s is not in the window
 * or not live. */
int mw_win_rank(const mw_window *w, uint64_t s, uint64_t *rank);
/* The live block of the given rank. -1 when there is none in the window. */
int mw_win_select(const mw_window *w, uint64_t rank, uint64_t *s);

/* ---- value symbols -------------------------------------------------------------------- */
/* A value v is a symbol byte plus e extra bits: v < 16 is symbol v (e = 0); otherwise with
 * c = bit length of v (5..33), e = c - 4 and symbol 16 + 8 (c - 5) + the three bits after
 * the leading one. Larger values: MW_SYM_ESC, the value as a varint in the misc column.
 * Symbols 248..254 are invalid. */
#define MW_SYM_ESC 255u
#define MW_SYM_MAX 247u

/* Encoder side: v's symbol (MW_SYM_ESC past 33 bits) and, in *e / *extra, its extra bits.
 * Without a branch on v < 16 (ranks fall on both sides of it at random): with e = bit length
 * of (v | 15) - 4, the symbol is 8 e + (v >> e), which is v itself below 16. */
static inline unsigned mw_sym_of(uint64_t v, unsigned *e, uint64_t *extra)
{
    unsigned x = 60u - (unsigned)__builtin_clzll(v | 15u);
    if (__builtin_expect(x > 29u, 0)) {
        *e = 0;
        *extra = 0;
        return MW_SYM_ESC;
    }
    *e = x;
    *extra = v & ((1ull << x) - 1);
    return 8u * x + (unsigned)(v >> x);
}
/* Decoder side: how many extra bits symbol sym (not MW_SYM_ESC) has; -1 for 248..254. */
static inline int mw_sym_extra_bits(unsigned sym, unsigned *e)
{
    if (sym > MW_SYM_MAX) return -1;
    *e = sym < 16 ? 0 : 1 + (sym - 16) / 8;
    return 0;
}
/* The value of symbol sym with its e extra bits. */
static inline uint64_t mw_sym_value(unsigned sym, unsigned e, uint64_t extra)
{
    if (sym < 16) return sym;
    return ((uint64_t)(8u | (sym - 16) % 8) << e) | extra;
}

/* ---- CODED_RUN ops -------------------------------------------------------------------- */
enum mw_run_op {
    MW_OP_FREE_RANK = 0,  /* FREE of the own block of rank sym(rank column) */
    MW_OP_ALLOC = 1,      /* ALLOC_SAME of size sym(size column) */
    MW_OP_TIME = 2,       /* TIME, t_ns as a varint in the misc column */
    MW_OP_FREE_DIST = 3,  /* FREE of the own block at distance uv(misc) (outside the window) */
    MW_OP_FREE_STEP = 4,  /* version 4: FREE of the own block far + unzigzag(sym(rank column)) */
    MW_OP_STEP_AGAIN = 5, /* version 5: uv(misc) more FREEs, each the run's last op 4 step again */
};
#define MW_RUN_OPS_V3 4u  /* ops 0..3 exist in version 3 streams, 0..4 from version 4, 0..5 from 5 */

/* Column buffers of one run (writer side). */
#define MW_RUN_MAX_OPS 32768u
#define MW_RUN_MIN_OPS 32u      /* shorter runs stay as plain records */
#define MW_RUN_REC_MAX (4096u + 64u)  /* a THREAD_START with a name of MW_MAX_STR bytes */
/* The column fill levels and the bit accumulator while a run is built (mw_runs.c). */
typedef struct mw_run_pos {
    size_t ops, rsym, ssym, raw, misc;
    uint64_t acc;       /* bits not yet in raw[] */
    unsigned nacc;
    unsigned has_step;  /* an op 4 is in the run: step_v is its value */
    uint64_t step_v;    /* the value (zigzagged step) of the run's last op 4 */
    uint64_t again;     /* frees of that step again, not yet written (an op 5 to come) */
    uint64_t rep;       /* frees the run's op 5s stand for (a run is worth coding by events) */
} mw_run_pos;

typedef struct mw_run_cols {
    uint8_t ops[MW_RUN_MAX_OPS];
    uint8_t rsym[MW_RUN_MAX_OPS];
    uint8_t ssym[MW_RUN_MAX_OPS];
    uint8_t raw[MW_RUN_MAX_OPS * 4u + 8u];   /* extra bits: at most 29 per op */
    uint8_t misc[MW_RUN_MAX_OPS * 10u];
    size_t n_ops, n_rsym, n_ssym, n_raw, n_misc;   /* fill levels of the run being emitted */
    /* Set by the caller: TIME records that repeat the stream's current time are dropped (a
     * TIME sets the time of whatever follows, from any thread: TRACE-FORMAT.md 3.4). now is
     * that time as of the bytes emitted so far, MW_RUN_TIME_UNKNOWN when the caller wrote
     * bytes it did not pass through mw_runs_code (or at the start of a stream). */
    int drop_same_time;
    uint64_t now;
    /* Set by the caller: THREAD_STARTs are written as THREAD_START_D, their tid against the
     * stream's previous THREAD_START (last_tid, when tid_known; an absolute one is written
     * when it is not, e.g. after bytes that did not go through mw_runs_code). */
    int delta_tids, tid_known;
    uint64_t last_tid;
    /* Set by the caller: a run still open at the end of the bytes passed is kept open (only
     * its columns, which hold everything the run needs), to go on in the next call for the
     * same window; the caller must call mw_runs_flush before it emits anything else. Runs cut
     * where the writer's drains happen to end differ from each other, so a teardown's runs of
     * identical steps did not repeat (bigheap: 113 runs of 3 000 to 32 768 frees, each with a
     * header and a few plain frees of its own). */
    int keep_open;
    int pend;                        /* a run is open (keep_open) */
    const mw_window *pend_w;         /* whose */
    mw_run_pos pend_pos;             /* its fill levels and pending bits */
    uint8_t rec[MW_RUN_REC_MAX];    /* a rewritten record */
    /* Set by the caller (version 6): while records repeat (code = 0), the plain ones go
     * through the repeat finder, and stretches repeated over and over become REPEATs. Its
     * state goes on across calls like an open run's; mw_runs_flush empties it too. */
    int repeats;
    mw_repeat rep;
} mw_run_cols;
#define MW_RUN_TIME_UNKNOWN UINT64_MAX

/* Output of mw_runs_code: bytes for the stream; block_end asks the caller to end a compressed
 * block after them (a column of a coded run). */
typedef mw_emit_fn mw_run_emit;

/* Copies one thread's records p[0..n) (whole records, as the shim encodes them) to emit, with
 * the runs of own-thread FREE / ALLOC_SAME / TIME records replaced by CODED_RUN records,
 * updating the thread's window. If a record does not parse, *ok is cleared and the rest is
 * copied unchanged: the window can no longer be trusted, and the caller must copy this
 * thread's records unchanged from then on (with *ok clear, this function does only that).
 * code = 0: only runs of frees older than the window are coded, the other records only keep
 * the window (a writer codes runs only while they pay: not while the records repeat, where
 * the plain records give zstd's match finder longer matches; a teardown that frees blocks in
 * the order they were made does not repeat as plain records, whose distances all differ,
 * and its steps code in next to nothing). With cols->drop_same_time, TIME records
 * equal to cols->now are left out; with cols->delta_tids, THREAD_STARTs become
 * THREAD_START_Ds. */
void mw_runs_code(mw_window *w, mw_run_cols *cols, const uint8_t *p, size_t n, int *ok,
                  int code, mw_run_emit emit, void *ctx);

/* Emits the records the repeat finder holds and the run kept open by mw_runs_code
 * (cols->keep_open), if any: the caller must before it emits anything else. */
void mw_runs_flush(mw_run_cols *cols, mw_run_emit emit, void *ctx);
static inline int mw_runs_pending(const mw_run_cols *cols) { return cols->pend || mw_repeat_pending(&cols->rep); }

#endif /* MW_RUNS_H */
