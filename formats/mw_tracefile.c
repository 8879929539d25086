/*
 * mw_tracefile.c — in-memory trace builder and writer for tests and tools (see
 * mw_tracefile.h). Analyzer side only: it mallocs, aborts on out-of-memory, and compresses
 * with ZSTD_compressStream2 the way the shim's writer does (frames ended on a size bound,
 * ZSTD_e_flush inside a frame), so the reader is tested against the same framing.
 */
#include "mw_tracefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "mw_tracefile: out of memory (%zu bytes)\n", n);
        abort();
    }
    return q;
}

void mw_tb_init_empty(mw_tracebuf *b)
{
    memset(b, 0, sizeof *b);
}

void mw_tb_init(mw_tracebuf *b)
{
    mw_tb_init_empty(b);
    MW_TB_ADD(b, mw_enc_preamble);
}

void mw_tb_release(mw_tracebuf *b)
{
    free(b->data);
    free(b->prev_addr);
    free(b->seq);
    memset(b, 0, sizeof *b);
}

uint8_t *mw_tb_reserve(mw_tracebuf *b, size_t need, size_t *cap)
{
    if (b->cap - b->len < need) {
        size_t n = b->cap ? b->cap : 4096;
        while (n - b->len < need) n *= 2;
        b->data = xrealloc(b->data, n);
        b->cap = n;
    }
    *cap = b->cap - b->len;
    return b->data + b->len;
}

void mw_tb_commit(mw_tracebuf *b, size_t n)
{
    if (n == 0 || n > b->cap - b->len) {
        fprintf(stderr, "mw_tracefile: a record did not fit (encoder returned %zu)\n", n);
        abort();
    }
    b->len += n;
}

void mw_tb_append(mw_tracebuf *b, const void *p, size_t n)
{
    size_t cap;
    uint8_t *dst = mw_tb_reserve(b, n, &cap);
    if (n) memcpy(dst, p, n);
    b->len += n;
}

static void ensure_thread(mw_tracebuf *b, uint64_t tidx)
{
    if (tidx < b->nthreads) return;
    size_t n = b->nthreads ? b->nthreads : 8;
    while (n <= tidx) n *= 2;
    b->prev_addr = xrealloc(b->prev_addr, n * sizeof *b->prev_addr);
    b->seq = xrealloc(b->seq, n * sizeof *b->seq);
    memset(b->prev_addr + b->nthreads, 0, (n - b->nthreads) * sizeof *b->prev_addr);
    memset(b->seq + b->nthreads, 0, (n - b->nthreads) * sizeof *b->seq);
    b->nthreads = n;
}

void mw_tb_switch(mw_tracebuf *b, uint64_t tidx)
{
    ensure_thread(b, tidx);
    MW_TB_ADD(b, mw_enc_thread_switch, tidx);
    b->cur_tidx = tidx;
}

mw_block_ref mw_tb_alloc(mw_tracebuf *b, uint64_t kind, uint64_t size, uint64_t stack,
                         uint64_t addr)
{
    ensure_thread(b, b->cur_tidx);
    MW_TB_ADD(b, mw_enc_alloc, kind, size, stack, addr, &b->prev_addr[b->cur_tidx]);
    return (mw_block_ref){ b->cur_tidx, ++b->seq[b->cur_tidx] };
}

void mw_tb_free_block(mw_tracebuf *b, mw_block_ref ref)
{
    ensure_thread(b, b->cur_tidx);
    MW_TB_ADD(b, mw_enc_free, ref, b->cur_tidx, b->seq[b->cur_tidx]);
}

mw_block_ref mw_tb_realloc(mw_tracebuf *b, mw_block_ref old, uint64_t size, uint64_t stack,
                           uint64_t addr)
{
    ensure_thread(b, b->cur_tidx);
    uint64_t t = b->cur_tidx;
    MW_TB_ADD(b, mw_enc_realloc, old, t, b->seq[t], size, stack, addr, &b->prev_addr[t]);
    return (mw_block_ref){ t, ++b->seq[t] };
}

void mw_tb_reach(mw_tracebuf *b, const mw_reach_entry *e, size_t n, size_t max_per_record)
{
    do {
        size_t take = max_per_record && n > max_per_record ? max_per_record : n, done = 0;
        MW_TB_ADD(b, mw_enc_reach, e, take, &done);
        e += done;
        n -= done;
    } while (n > 0);
}

/* ---- output ----------------------------------------------------------------------------- */
typedef struct obuf {
    uint8_t *p;
    size_t len, cap;
} obuf;

static void ob_room(obuf *o, size_t need)
{
    if (o->cap - o->len >= need) return;
    size_t n = o->cap ? o->cap : 4096;
    while (n - o->len < need) n *= 2;
    o->p = xrealloc(o->p, n);
    o->cap = n;
}

/* Feeds src[0..n) with directive dir until consumed (and, for flush/end, fully flushed). */
static int compress_piece(ZSTD_CCtx *cc, obuf *o, const uint8_t *src, size_t n,
                          ZSTD_EndDirective dir)
{
    ZSTD_inBuffer in = { src, n, 0 };
    for (;;) {
        ob_room(o, ZSTD_CStreamOutSize());
        ZSTD_outBuffer out = { o->p, o->cap, o->len };
        size_t rem = ZSTD_compressStream2(cc, &out, &in, dir);
        if (ZSTD_isError(rem)) return -1;
        o->len = out.pos;
        if (dir == ZSTD_e_continue ? in.pos == in.size : rem == 0) return 0;
    }
}

int mw_tb_encode(const mw_tracebuf *b, const mw_tb_opts *opts, uint8_t **out, size_t *out_len)
{
    mw_tb_opts o = opts ? *opts : MW_TB_OPTS_DEFAULT;
    obuf ob = { NULL, 0, 0 };
    if (o.raw) {
        ob_room(&ob, b->len);
        if (b->len) memcpy(ob.p, b->data, b->len);
        ob.len = b->len;
    } else {
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        if (!cc) return -1;
        ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, o.level ? o.level : 1);
        size_t pos = 0, frame_start = 0, flush_start = 0;
        int rc = 0;
        while (rc == 0 && pos < b->len) {
            size_t next = b->len;
            if (o.frame_bytes && frame_start + o.frame_bytes < next)
                next = frame_start + o.frame_bytes;
            if (o.flush_bytes && flush_start + o.flush_bytes < next)
                next = flush_start + o.flush_bytes;
            ZSTD_EndDirective dir = ZSTD_e_continue;
            if (next == b->len || (o.frame_bytes && next == frame_start + o.frame_bytes))
                dir = ZSTD_e_end;
            else if (o.flush_bytes && next == flush_start + o.flush_bytes)
                dir = ZSTD_e_flush;
            rc = compress_piece(cc, &ob, b->data + pos, next - pos, dir);
            pos = next;
            if (dir == ZSTD_e_end) frame_start = pos;
            if (dir != ZSTD_e_continue) flush_start = pos;
        }
        ZSTD_freeCCtx(cc);
        if (rc) {
            free(ob.p);
            return -1;
        }
    }
    if (o.truncate_at > 0 && (uint64_t)o.truncate_at < ob.len) ob.len = (size_t)o.truncate_at;
    *out = ob.p ? ob.p : xrealloc(NULL, 1);
    *out_len = ob.len;
    return 0;
}

int mw_tb_write_file(const mw_tracebuf *b, const mw_tb_opts *o, const char *path)
{
    uint8_t *data;
    size_t len;
    if (mw_tb_encode(b, o, &data, &len)) {
        errno = EINVAL;
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(data);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(fd, data + off, len - off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            free(data);
            errno = e;
            return -1;
        }
        off += (size_t)k;
    }
    free(data);
    return close(fd);
}
