/*
 * mw_tracefile.h — build a trace in memory and write it out, for tests and tools.
 *
 * Analyzer side only (mw_tracefile.c mallocs and links zstd; the shim never uses it). Tests
 * synthesize traces with it instead of hand-writing bytes, so every synthetic trace goes
 * through the one real encoder:
 *
 *     mw_tracebuf b;
 *     mw_tb_init(&b);                                  // appends the preamble
 *     MW_TB_ADD(&b, mw_enc_header, pid, ppid, 4096, 0, 0, MW_HF_ALLOC_TRACING,
 *               "/bin/x", 6, "x\0", 2);
 *     mw_tb_switch(&b, 0);                             // records below belong to thread 0
 *     mw_block_ref a = mw_tb_alloc(&b, MW_AK_MALLOC, 100, stack_id, 0x1000);
 *     mw_tb_free_block(&b, a);
 *     MW_TB_ADD(&b, mw_enc_end, t_ns, 0, 0, MW_END_EXIT, 0);
 *     mw_tb_write_file(&b, NULL, "/tmp/x/t.trace.zst");   // NULL: one zstd frame, level 1
 *     mw_tb_release(&b);
 *
 * The buffer tracks the thread-stream state the encoder needs (current thread, per-thread
 * address base and allocation count), so ALLOC/FREE/REALLOC helpers return and take
 * absolute block references exactly as the analyzer will see them. Any other record is
 * appended with MW_TB_ADD(b, mw_enc_xxx, args after cap...). Allocation failure aborts the
 * process with a message (this is test tooling).
 */
#ifndef MW_TRACEFILE_H
#define MW_TRACEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "mw_format.h"

typedef struct mw_tracebuf {
    uint8_t *data;          /* the decompressed stream built so far */
    size_t len, cap;
    uint64_t cur_tidx;      /* thread of the records being appended (0 until mw_tb_switch) */
    uint64_t *prev_addr;    /* per tidx, as mw_enc_alloc wants */
    uint64_t *seq;          /* per tidx: ALLOC/REALLOC records appended */
    size_t nthreads;
} mw_tracebuf;

/* Starts a buffer holding the preamble (mw_tb_init_empty: holding nothing). */
void mw_tb_init(mw_tracebuf *b);
void mw_tb_init_empty(mw_tracebuf *b);
void mw_tb_release(mw_tracebuf *b);

/* Room for at least need bytes at the end; returns the write pointer and *cap. */
uint8_t *mw_tb_reserve(mw_tracebuf *b, size_t need, size_t *cap);
/* Appends n encoded bytes (an encoder's return value; 0 aborts: the record did not fit). */
void mw_tb_commit(mw_tracebuf *b, size_t n);
/* Appends raw bytes (forged or corrupt streams). */
void mw_tb_append(mw_tracebuf *b, const void *p, size_t n);

/* Appends one record from any encoder: MW_TB_ADD(&b, mw_enc_time, 123). */
#define MW_TB_ADD(b, fn, ...)                                                             \
    do {                                                                                  \
        size_t mw_tb_cap_;                                                                \
        uint8_t *mw_tb_p_ = mw_tb_reserve((b), MW_MAX_RECORD_PAYLOAD + 16, &mw_tb_cap_);   \
        mw_tb_commit((b), fn(mw_tb_p_, mw_tb_cap_, ##__VA_ARGS__));                        \
    } while (0)

/* Thread-stream helpers: THREAD_SWITCH, and ALLOC/FREE/REALLOC on the current thread with
 * the encoder state kept here. Returned refs are absolute (tidx, seq). */
void mw_tb_switch(mw_tracebuf *b, uint64_t tidx);
mw_block_ref mw_tb_alloc(mw_tracebuf *b, uint64_t kind, uint64_t size, uint64_t stack,
                         uint64_t addr);
void mw_tb_free_block(mw_tracebuf *b, mw_block_ref ref);
mw_block_ref mw_tb_realloc(mw_tracebuf *b, mw_block_ref old, uint64_t size, uint64_t stack,
                           uint64_t addr);
/* REACH records for n entries (split over as many records as needed, max_per_record > 0
 * limits the entries per record to force splitting). */
void mw_tb_reach(mw_tracebuf *b, const mw_reach_entry *e, size_t n, size_t max_per_record);

/* How the stream is written out. */
typedef struct mw_tb_opts {
    int raw;                /* 1: uncompressed stream ("MEMWATCH" first) */
    int level;              /* zstd level (0: 1) */
    size_t frame_bytes;     /* end the zstd frame after every this many stream bytes (0: one frame) */
    size_t flush_bytes;     /* ZSTD_e_flush after every this many bytes inside a frame (0: never) */
    int64_t truncate_at;    /* > 0: cut the output at this byte (a killed writer); <= 0: whole */
} mw_tb_opts;               /* a zero-initialized struct means: zstd level 1, one frame, whole */
#define MW_TB_OPTS_DEFAULT ((mw_tb_opts){ .raw = 0, .level = 1, .frame_bytes = 0, \
                                          .flush_bytes = 0, .truncate_at = 0 })

/* The file bytes (compressed unless o->raw) in a malloc'd buffer the caller frees.
 * o == NULL means MW_TB_OPTS_DEFAULT. Returns 0, or -1 on a zstd error. */
int mw_tb_encode(const mw_tracebuf *b, const mw_tb_opts *o, uint8_t **out, size_t *out_len);
/* Same, written to path. Returns 0, or -1 (errno set by the failing call). */
int mw_tb_write_file(const mw_tracebuf *b, const mw_tb_opts *o, const char *path);

#endif /* MW_TRACEFILE_H */
