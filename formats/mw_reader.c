/*
 * mw_reader.c — trace file reader: zstd frames (or a raw stream) -> decoded records.
 *
 * Streams with bounded memory: compressed input is read in chunks, decompressed with
 * ZSTD_decompressStream into a sliding window (64 KiB, grown only when one record is larger,
 * at most to hold MW_MAX_RECORD_PAYLOAD), and records are decoded in place by
 * mw_decode_record; a record cut by the window edge is moved to the front and completed by
 * the next chunk. The whole file is
 * never loaded. A trace is a sequence of independent zstd frames (the shim ends frames on a
 * size bound and flushes on a time bound), so a killed or still-running writer leaves a
 * readable prefix: everything up to the cut is returned, then MW_TRUNCATED. Reading a file
 * again after MW_EOF/MW_TRUNCATED picks up bytes appended since (a growing trace).
 *
 * Input that starts with "MEMWATCH" instead of the zstd magic is read uncompressed.
 */
#include "mw_format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define IN_CHUNK (128u * 1024u)
#define OUT_MIN (64u * 1024u)                          /* initial window */
#define OUT_MAX (MW_MAX_RECORD_PAYLOAD + 16u + 64u * 1024u) /* holds any record */

enum { MODE_UNKNOWN, MODE_ZSTD, MODE_RAW };

struct mw_reader {
    int fd;                 /* -1 for memory input */
    const uint8_t *mem;     /* memory input */
    size_t mem_len;
    uint8_t *inbuf;         /* file input chunk */
    ZSTD_inBuffer in;       /* current input window (inbuf or mem) */
    uint64_t in_base;       /* file offset of in.src[0] */
    int mode;
    ZSTD_DCtx *dctx;
    int frame_open;         /* zstd: input of an unfinished frame was consumed */
    int zstd_pending;       /* zstd: the last call filled the output, more may be buffered */
    uint8_t *buf;           /* decompressed window [pos, fill) of cap bytes */
    size_t pos, fill, cap;
    uint64_t buf_base;      /* stream offset of buf[0] */
    int preamble_done;
    uint32_t version;
    mw_decoder dec;
    uint64_t records;       /* records returned so far */
    uint64_t per_byte;      /* the bound on them per byte of file read (mw_format.h) */
    int sticky;             /* final error status (CORRUPT, IO_ERROR, BAD_VERSION), or 0 */
    char err[256];
};

static int fail(mw_reader *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(mw_reader *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    if (status != MW_TRUNCATED && status != MW_EOF) r->sticky = status;
    return status;
}

static mw_reader *reader_new(char *err, size_t errlen)
{
    mw_reader *r = calloc(1, sizeof *r);
    if (r) r->buf = malloc(OUT_MIN);
    if (!r || !r->buf) {
        if (r) free(r);
        if (err && errlen) snprintf(err, errlen, "out of memory opening a trace");
        return NULL;
    }
    r->cap = OUT_MIN;
    r->fd = -1;
    r->per_byte = MW_READER_RECORDS_PER_BYTE;
    mw_decoder_init(&r->dec);
    return r;
}

mw_reader *mw_reader_open(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (err && errlen) snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    mw_reader *r = reader_new(err, errlen);
    if (!r) {
        close(fd);
        return NULL;
    }
    r->inbuf = malloc(IN_CHUNK);
    if (!r->inbuf) {
        mw_reader_close(r);
        close(fd);
        if (err && errlen) snprintf(err, errlen, "out of memory opening a trace");
        return NULL;
    }
    r->fd = fd;
    return r;
}

mw_reader *mw_reader_open_mem(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    mw_reader *r = reader_new(err, errlen);
    if (!r) return NULL;
    r->mem = data;
    r->mem_len = len;
    r->in.src = data;
    r->in.size = len;
    return r;
}

/* Makes more compressed input available: 1 read something, 0 none now, -1 I/O error. */
static int read_input(mw_reader *r)
{
    if (r->fd < 0) return 0; /* memory input is all there from the start */
    if (r->in.pos < r->in.size) return 1;
    r->in_base += r->in.size;
    r->in.src = r->inbuf;
    r->in.size = r->in.pos = 0;
    for (;;) {
        ssize_t k = read(r->fd, r->inbuf, IN_CHUNK);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            fail(r, MW_IO_ERROR, "read error at compressed offset %llu: %s",
                 (unsigned long long)r->in_base, strerror(errno));
            return -1;
        }
        r->in.size = (size_t)k;
        return k > 0;
    }
}

/* Decides zstd vs raw from the first input bytes: 1 decided, 0 need more input, -1 error. */
static int detect_mode(mw_reader *r)
{
    static const uint8_t zmagic[4] = { 0x28, 0xB5, 0x2F, 0xFD };
    const uint8_t *s = (const uint8_t *)r->in.src + r->in.pos;
    size_t n = r->in.size - r->in.pos;
    if (n < 4) {
        if (memcmp(s, zmagic, n) == 0 || memcmp(s, MW_MAGIC, n) == 0) return 0;
    } else {
        uint32_t m = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
                     (uint32_t)s[3] << 24;
        if (m == 0xFD2FB528u || (m & 0xFFFFFFF0u) == 0x184D2A50u) {
            r->dctx = ZSTD_createDCtx();
            if (!r->dctx)
                return fail(r, MW_IO_ERROR, "out of memory creating a zstd context"), -1;
            r->mode = MODE_ZSTD;
            return 1;
        }
        if (memcmp(s, MW_MAGIC, 4) == 0) {
            r->mode = MODE_RAW;
            return 1;
        }
    }
    fail(r, MW_CORRUPT,
         "not a memwatch trace: neither zstd nor \"MEMWATCH\" at compressed offset 0");
    return -1;
}

/* Adds decompressed bytes to buf: 1 added, 0 nothing more available now, -1 error (sticky). */
static int fill_more(mw_reader *r)
{
    if (r->pos > 0) { /* slide the unconsumed tail (at most one partial record) to the front */
        memmove(r->buf, r->buf + r->pos, r->fill - r->pos);
        r->buf_base += r->pos;
        r->fill -= r->pos;
        r->pos = 0;
    }
    for (;;) {
        if (r->fill == r->cap) {
            /* one record larger than the window: grow it (never past OUT_MAX, which holds the
             * largest legal record, so the decoder reports corruption before that) */
            if (r->cap >= OUT_MAX) return 0;
            size_t ncap = r->cap * 2 < OUT_MAX ? r->cap * 2 : OUT_MAX;
            uint8_t *nb = realloc(r->buf, ncap);
            if (!nb) return fail(r, MW_IO_ERROR, "out of memory growing the read window"), -1;
            r->buf = nb;
            r->cap = ncap;
        }
        if (r->in.pos == r->in.size && !r->zstd_pending) {
            int k = read_input(r);
            if (k <= 0) return k;
        }
        if (r->mode == MODE_UNKNOWN) {
            int k = detect_mode(r);
            if (k < 0) return -1;
            if (k == 0) {
                /* 1-3 bytes so far (file input, first chunk): append, never replace */
                size_t have = r->in.size;
                ssize_t m = r->fd >= 0 ? read(r->fd, r->inbuf + have, IN_CHUNK - have) : 0;
                if (m <= 0) return 0;
                r->in.size += (size_t)m;
                continue;
            }
        }
        if (r->mode == MODE_RAW) {
            size_t k = r->in.size - r->in.pos, room = r->cap - r->fill;
            if (k > room) k = room;
            memcpy(r->buf + r->fill, (const uint8_t *)r->in.src + r->in.pos, k);
            r->in.pos += k;
            r->fill += k;
            return 1;
        }
        ZSTD_outBuffer out = { r->buf, r->cap, r->fill };
        size_t before_in = r->in.pos;
        size_t ret = ZSTD_decompressStream(r->dctx, &out, &r->in);
        if (ZSTD_isError(ret)) {
            fail(r, MW_CORRUPT, "corrupt trace: zstd error \"%s\" at compressed offset %llu",
                 ZSTD_getErrorName(ret), (unsigned long long)(r->in_base + r->in.pos));
            return -1;
        }
        size_t added = out.pos - r->fill;
        if (ret == 0)
            r->frame_open = 0;
        else if (added || r->in.pos > before_in)
            r->frame_open = 1;
        r->zstd_pending = out.pos == out.size;
        r->fill = out.pos;
        if (added) return 1;
        if (r->in.pos == before_in && r->in.pos < r->in.size) {
            /* no progress with input and room available: zstd should never do this */
            fail(r, MW_CORRUPT, "corrupt trace: zstd made no progress at compressed offset %llu",
                 (unsigned long long)(r->in_base + r->in.pos));
            return -1;
        }
    }
}

uint64_t mw_reader_compressed_offset(const mw_reader *r) { return r->in_base + r->in.pos; }
void mw_reader_set_record_bound(mw_reader *r, uint64_t per_byte) { r->per_byte = per_byte ? per_byte : 1; }
uint64_t mw_reader_stream_offset(const mw_reader *r) { return r->buf_base + r->pos; }
uint32_t mw_reader_version(const mw_reader *r) { return r->version; }
const char *mw_reader_error(const mw_reader *r) { return r->err; }

/* End of the available input with nothing decodable left: EOF or TRUNCATED. */
static int at_end(mw_reader *r, const char *what)
{
    uint64_t so = mw_reader_stream_offset(r), co = mw_reader_compressed_offset(r);
    if (r->frame_open)
        return fail(r, MW_TRUNCATED,
                    "trace truncated inside a zstd frame at compressed offset %llu "
                    "(stream offset %llu%s)", (unsigned long long)co,
                    (unsigned long long)so, r->pos < r->fill ? ", inside a record" : "");
    if (r->pos < r->fill)
        return fail(r, MW_TRUNCATED, "trace truncated inside %s at stream offset %llu "
                    "(%zu bytes of it present)", what, (unsigned long long)so, r->fill - r->pos);
    if (!r->preamble_done)
        return fail(r, MW_TRUNCATED, "trace truncated: no data (empty file or nothing flushed yet)");
    snprintf(r->err, sizeof r->err, "end of trace at stream offset %llu", (unsigned long long)so);
    return MW_EOF;
}

int mw_reader_next(mw_reader *r, mw_record *rec, uint64_t *seq_out)
{
    if (r->sticky) return r->sticky;
    while (!r->preamble_done) {
        int st = r->fill - r->pos > 0
                     ? mw_decode_preamble(&r->dec, r->buf + r->pos, r->fill - r->pos, &r->version)
                     : MW_NEED_MORE;
        if (st == MW_OK) {
            r->pos += MW_PREAMBLE_LEN;
            r->preamble_done = 1;
            break;
        }
        if (st != MW_NEED_MORE) return fail(r, st, "%s", r->dec.err);
        int k = fill_more(r);
        if (k < 0) return r->sticky;
        if (k == 0) return at_end(r, "the preamble");
    }
    for (;;) {
        size_t used = 0;
        int st = mw_decode_record(&r->dec, r->buf + r->pos, r->fill - r->pos,
                                  r->buf_base + r->pos, rec, &used, seq_out);
        if (st == MW_OK) {
            r->pos += used;
            uint64_t bytes = mw_reader_compressed_offset(r) + MW_READER_SLACK_BYTES;
            r->records++;
            if (__builtin_expect(bytes <= UINT64_MAX / r->per_byte && r->records > bytes * r->per_byte, 0))
                return fail(r, MW_CORRUPT,
                            "corrupt trace: %llu records from the first %llu bytes of the file, more than "
                            "%llu per byte (repeats a writer never makes), at stream offset %llu",
                            (unsigned long long)r->records, (unsigned long long)mw_reader_compressed_offset(r),
                            (unsigned long long)r->per_byte, (unsigned long long)mw_reader_stream_offset(r));
            return MW_OK;
        }
        if (st != MW_NEED_MORE) return fail(r, st, "%s", r->dec.err);
        int k = fill_more(r);
        if (k < 0) return r->sticky;
        if (k == 0) return at_end(r, "a record");
    }
}

int mw_reader_fd(const mw_reader *r) { return r->fd; }

void mw_reader_close(mw_reader *r)
{
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    ZSTD_freeDCtx(r->dctx);
    mw_decoder_free(&r->dec);
    free(r->inbuf);
    free(r->buf);
    free(r);
}
