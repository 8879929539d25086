/*
 * test_format_reader.c — the decoder and the zstd file reader on damaged input: truncation at
 * every byte boundary (raw stream and zstd file, multi-frame and flushed), corrupt lengths,
 * overlong varints, bad preambles and versions, random bytes, unknown record types (skipped),
 * unknown trailing fields (ignored), a trace file read from disk and while it grows.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mw_format.h"
#include "mw_tracefile.h"

/* A small trace touching most record kinds: the reference for the truncation tests. */
static void small_trace(mw_tracebuf *b)
{
    mw_tb_init(b);
    MW_TB_ADD(b, mw_enc_header, 42, 1, 4096, 1000, 2000, MW_HF_ALLOC_TRACING, "/bin/t", 6, "t\0", 2);
    MW_TB_ADD(b, mw_enc_module_load, 1, 0x400000, 0x400000, 0x1000, (const uint8_t *)"id", 2, "/bin/t", 6);
    MW_TB_ADD(b, mw_enc_stack_node, 1, 0, 0x401234);
    mw_tb_switch(b, 0);
    MW_TB_ADD(b, mw_enc_time, 5);
    mw_block_ref a = mw_tb_alloc(b, MW_AK_MALLOC, 100, 1, 0x10000);
    mw_block_ref c = mw_tb_alloc(b, MW_AK_CALLOC, 300, 1, 0x9000);
    mw_tb_switch(b, 1);
    mw_tb_free_block(b, a);
    MW_TB_ADD(b, mw_enc_sql_query, 77, MW_DB_SQLITE, "SELECT 1", 8);
    mw_tb_switch(b, 0);
    mw_tb_realloc(b, c, 600, 1, 0x20000);
    MW_TB_ADD(b, mw_enc_mark, "phase", 5);
    MW_TB_ADD(b, mw_enc_rss, 10, 1 << 20, 1 << 19, 1 << 18, 0, 1 << 22, 0);
    MW_TB_ADD(b, mw_enc_end, 11, 0, 0, MW_END_EXIT, 0);
}

typedef struct seen {
    uint8_t types[64];
    uint64_t addrs[64];
    size_t n;
} seen;

/* Reads everything the reader yields; returns the final status. */
static int read_all(mw_reader *r, seen *s)
{
    mw_record rec;
    uint64_t seq;
    int st;
    s->n = 0;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) {
        cr_assert_lt(s->n, 64);
        s->types[s->n] = rec.type;
        s->addrs[s->n] = rec.type == MW_REC_ALLOC ? rec.u.alloc.addr : rec.type == MW_REC_REALLOC ? rec.u.realloc.addr : 0;
        s->n++;
    }
    return st;
}

static void reference(const mw_tracebuf *b, seen *ref)
{
    mw_reader *r = mw_reader_open_mem(b->data, b->len, NULL, 0);
    cr_assert_not_null(r);
    cr_assert_eq(read_all(r, ref), MW_EOF, "%s", mw_reader_error(r));
    cr_assert_eq(mw_reader_version(r), MW_FORMAT_VERSION);
    cr_assert_eq(mw_reader_stream_offset(r), b->len);
    mw_reader_close(r);
    cr_assert_eq(ref->n, 15);
}

Test(format_reader, raw_stream_truncated_at_every_byte)
{
    mw_tracebuf b;
    small_trace(&b);
    seen ref;
    reference(&b, &ref);
    /* record end offsets of the whole stream */
    size_t ends[64], nends = 0;
    {
        mw_decoder d;
        mw_decoder_init(&d);
        size_t off = MW_PREAMBLE_LEN, used;
        mw_record rec;
        while (off < b.len && mw_decode_record(&d, b.data + off, b.len - off, off, &rec, &used, NULL) == MW_OK)
            ends[nends++] = off += used;
        cr_assert_eq(off, b.len);
        cr_assert_eq(nends, ref.n);
        mw_decoder_free(&d);
    }
    /* 1) mw_decode_record on every prefix: only whole records decode, the rest is NEED_MORE */
    for (size_t cut = MW_PREAMBLE_LEN; cut <= b.len; cut++) {
        mw_decoder d;
        mw_decoder_init(&d);
        size_t off = MW_PREAMBLE_LEN, k = 0;
        int st;
        for (;;) {
            mw_record rec;
            size_t used;
            st = mw_decode_record(&d, b.data + off, cut - off, off, &rec, &used, NULL);
            if (st != MW_OK) break;
            cr_assert_eq(rec.type, ref.types[k], "cut %zu record %zu", cut, k);
            off += used;
            k++;
        }
        cr_assert_eq(st, MW_NEED_MORE, "cut %zu: status %d (%s)", cut, st, d.err);
        size_t want = 0;
        while (want < nends && ends[want] <= cut) want++;
        cr_assert_eq(k, want, "cut %zu", cut);
        cr_assert_eq(off, want ? ends[want - 1] : MW_PREAMBLE_LEN);
        mw_decoder_free(&d);
    }
    /* 2) the reader over every raw prefix: all whole records, then TRUNCATED (EOF only when
     *    the cut is at a record boundary) */
    for (size_t cut = 0; cut <= b.len; cut++) {
        mw_reader *r = mw_reader_open_mem(b.data, cut, NULL, 0);
        seen s;
        int st = read_all(r, &s);
        for (size_t i = 0; i < s.n; i++) {
            cr_assert_eq(s.types[i], ref.types[i]);
            cr_assert_eq(s.addrs[i], ref.addrs[i]);
        }
        if (cut == b.len) cr_assert_eq(st, MW_EOF);
        else if (st == MW_EOF) cr_assert_eq(mw_reader_stream_offset(r), cut); /* boundary */
        else cr_assert_eq(st, MW_TRUNCATED, "cut %zu: %d %s", cut, st, mw_reader_error(r));
        cr_assert_neq(mw_reader_error(r)[0], '\0');
        /* sticky end: asking again gives the same answer */
        mw_record rec;
        cr_assert_eq(mw_reader_next(r, &rec, NULL), st);
        mw_reader_close(r);
    }
    mw_tb_release(&b);
}

static void zstd_truncations(const mw_tb_opts *o)
{
    mw_tracebuf b;
    small_trace(&b);
    seen ref;
    reference(&b, &ref);
    uint8_t *z;
    size_t zlen;
    cr_assert_eq(mw_tb_encode(&b, o, &z, &zlen), 0);
    size_t full_records = 0, eofs = 0;
    for (size_t cut = 0; cut <= zlen; cut++) {
        mw_reader *r = mw_reader_open_mem(z, cut, NULL, 0);
        seen s;
        int st = read_all(r, &s);
        for (size_t i = 0; i < s.n; i++) {
            cr_assert_eq(s.types[i], ref.types[i], "cut %zu rec %zu", cut, i);
            cr_assert_eq(s.addrs[i], ref.addrs[i]);
        }
        if (cut == zlen) {
            cr_assert_eq(st, MW_EOF, "%s", mw_reader_error(r));
            full_records = s.n;
        } else {
            cr_assert(st == MW_TRUNCATED || st == MW_EOF, "cut %zu: %d %s", cut, st, mw_reader_error(r));
            if (st == MW_TRUNCATED) cr_assert(strstr(mw_reader_error(r), "truncated"), "%s", mw_reader_error(r));
            if (st == MW_EOF) eofs++; /* only exactly at a frame end that is a record boundary */
        }
        mw_reader_close(r);
    }
    cr_assert_eq(full_records, ref.n);
    if (!o || o->frame_bytes == 0) cr_assert_eq(eofs, 0);
    free(z);
    mw_tb_release(&b);
}

Test(format_reader, zstd_one_frame_truncated_at_every_byte) { zstd_truncations(NULL); }

Test(format_reader, zstd_many_frames_and_flushes_truncated_at_every_byte)
{
    mw_tb_opts o = MW_TB_OPTS_DEFAULT;
    o.frame_bytes = 40;
    o.flush_bytes = 13;
    zstd_truncations(&o);
    o.frame_bytes = 1; /* a frame per byte */
    o.flush_bytes = 0;
    zstd_truncations(&o);
}

/* A flushed-but-unfinished frame (a killed writer) yields the flushed records, then TRUNCATED. */
Test(format_reader, killed_writer_prefix_is_readable)
{
    mw_tracebuf b;
    small_trace(&b);
    mw_tb_opts o = MW_TB_OPTS_DEFAULT;
    o.flush_bytes = 50;
    uint8_t *z;
    size_t zlen;
    cr_assert_eq(mw_tb_encode(&b, &o, &z, &zlen), 0);
    /* drop the frame's last block: cut 3 bytes before the end */
    mw_reader *r = mw_reader_open_mem(z, zlen - 3, NULL, 0);
    seen s;
    cr_assert_eq(read_all(r, &s), MW_TRUNCATED);
    cr_assert_geq(s.n, 5, "flushed records must be readable, got %zu", s.n);
    cr_assert(strstr(mw_reader_error(r), "zstd frame"), "%s", mw_reader_error(r));
    mw_reader_close(r);
    free(z);
    mw_tb_release(&b);
}

static int decode_one(const uint8_t *p, size_t n, mw_decoder *d, mw_record *rec)
{
    size_t used;
    return mw_decode_record(d, p, n, 500, rec, &used, NULL);
}

Test(format_reader, corrupt_records_name_type_and_offset)
{
    mw_decoder d;
    mw_decoder_init(&d);
    mw_record rec;
    /* payload length over the limit */
    const uint8_t big[] = { MW_REC_ALLOC, 0x80, 0x80, 0x80, 0x01, 0, 0, 0 };
    cr_assert_eq(decode_one(big, sizeof big, &d, &rec), MW_CORRUPT);
    cr_assert(strstr(d.err, "ALLOC") && strstr(d.err, "offset 500"), "%s", d.err);
    /* overlong length varint (11 bytes) */
    uint8_t ol[16] = { MW_REC_TIME };
    memset(ol + 1, 0x80, 12);
    cr_assert_eq(decode_one(ol, sizeof ol, &d, &rec), MW_CORRUPT);
    cr_assert(strstr(d.err, "TIME"), "%s", d.err);
    /* 10th byte with more than bit 63 */
    const uint8_t ten[] = { MW_REC_TIME, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0 };
    cr_assert_eq(decode_one(ten, sizeof ten, &d, &rec), MW_CORRUPT);
    /* fields overrun the payload: ALLOC with 2 of its 4 fields */
    const uint8_t shortalloc[] = { MW_REC_ALLOC, 2, 0, 5 };
    cr_assert_eq(decode_one(shortalloc, sizeof shortalloc, &d, &rec), MW_CORRUPT);
    cr_assert(strstr(d.err, "ALLOC") && strstr(d.err, "500"), "%s", d.err);
    /* string length past the payload */
    const uint8_t badstr[] = { MW_REC_MARK, 3, 10, 'a', 'b' };
    cr_assert_eq(decode_one(badstr, sizeof badstr, &d, &rec), MW_CORRUPT);
    cr_assert(strstr(d.err, "MARK"), "%s", d.err);
    /* overlong varint inside a payload */
    uint8_t ov[14] = { MW_REC_TIME, 12 };
    memset(ov + 2, 0x80, 12);
    cr_assert_eq(decode_one(ov, sizeof ov, &d, &rec), MW_CORRUPT);
    /* thread index beyond the cap */
    uint8_t sw[16];
    size_t n = mw_enc_thread_switch(sw, sizeof sw, 1u << 20);
    cr_assert_eq(decode_one(sw, n, &d, &rec), MW_CORRUPT);
    cr_assert(strstr(d.err, "THREAD_SWITCH"), "%s", d.err);
    /* FREE back-distance before the thread's first allocation */
    n = mw_enc_free(sw, sizeof sw, (mw_block_ref){ 0, 0 }, 0, 3);
    cr_assert_eq(decode_one(sw, n, &d, &rec), MW_CORRUPT);
    cr_assert(strstr(d.err, "FREE"), "%s", d.err);
    /* cross-thread reference to a thread index over the limit */
    n = mw_enc_free(sw, sizeof sw, (mw_block_ref){ MW_MAX_TIDX + 1, 1 }, 0, 3);
    cr_assert_eq(decode_one(sw, n, &d, &rec), MW_CORRUPT);
    cr_assert(strstr(d.err, "FREE") && strstr(d.err, "offset 500"), "%s", d.err);
    /* REACH with a count larger than its entries */
    const uint8_t reach[] = { MW_REC_REACH, 4, 2, 1, 1, 1 };
    cr_assert_eq(decode_one(reach, sizeof reach, &d, &rec), MW_CORRUPT);
    /* a decoder that saw corruption did not change its thread state */
    cr_assert_eq(d.cur_tidx, 0);
    mw_decoder_free(&d);
}

Test(format_reader, preamble_checks)
{
    mw_decoder d;
    mw_decoder_init(&d);
    uint8_t p[MW_PREAMBLE_LEN];
    uint32_t v = 0;
    mw_enc_preamble(p, sizeof p);
    cr_assert_eq(mw_decode_preamble(&d, p, sizeof p, &v), MW_OK);
    cr_assert_eq(v, MW_FORMAT_VERSION);
    for (size_t k = 0; k < sizeof p; k++) cr_assert_eq(mw_decode_preamble(&d, p, k, &v), MW_NEED_MORE);
    p[3] = 'X';
    cr_assert_eq(mw_decode_preamble(&d, p, sizeof p, &v), MW_CORRUPT);
    cr_assert_eq(mw_decode_preamble(&d, p, 5, &v), MW_CORRUPT);
    mw_enc_preamble(p, sizeof p);
    p[8] = 7;
    cr_assert_eq(mw_decode_preamble(&d, p, sizeof p, &v), MW_BAD_VERSION);
    char want[96];
    snprintf(want, sizeof want, "trace format version 7 is newer than this analyzer (%u)", MW_FORMAT_VERSION);
    cr_assert_str_eq(d.err, want);
    p[8] = 0;
    cr_assert_eq(mw_decode_preamble(&d, p, sizeof p, &v), MW_CORRUPT);
    mw_decoder_free(&d);
}

Test(format_reader, reader_bad_version_and_bad_magic)
{
    mw_tracebuf b;
    small_trace(&b);
    b.data[8] = 7;
    mw_tb_opts o = MW_TB_OPTS_DEFAULT;
    for (int raw = 0; raw < 2; raw++) {
        o.raw = raw;
        uint8_t *z;
        size_t zlen;
        cr_assert_eq(mw_tb_encode(&b, &o, &z, &zlen), 0);
        mw_reader *r = mw_reader_open_mem(z, zlen, NULL, 0);
        mw_record rec;
        cr_assert_eq(mw_reader_next(r, &rec, NULL), MW_BAD_VERSION);
        char want[96];
        snprintf(want, sizeof want, "trace format version 7 is newer than this analyzer (%u)", MW_FORMAT_VERSION);
        cr_assert_str_eq(mw_reader_error(r), want);
        mw_reader_close(r);
        free(z);
    }
    static const uint8_t junk[] = "hello, this is not a trace";
    mw_reader *r = mw_reader_open_mem(junk, sizeof junk, NULL, 0);
    mw_record rec;
    cr_assert_eq(mw_reader_next(r, &rec, NULL), MW_CORRUPT);
    cr_assert(strstr(mw_reader_error(r), "not a memwatch trace"), "%s", mw_reader_error(r));
    cr_assert_eq(mw_reader_next(r, &rec, NULL), MW_CORRUPT); /* sticky */
    mw_reader_close(r);
    /* zstd of something that is not a memwatch stream */
    mw_tracebuf j;
    mw_tb_init_empty(&j);
    mw_tb_append(&j, junk, sizeof junk);
    uint8_t *z;
    size_t zlen;
    cr_assert_eq(mw_tb_encode(&j, NULL, &z, &zlen), 0);
    r = mw_reader_open_mem(z, zlen, NULL, 0);
    cr_assert_eq(mw_reader_next(r, &rec, NULL), MW_CORRUPT);
    cr_assert(strstr(mw_reader_error(r), "bad magic"), "%s", mw_reader_error(r));
    mw_reader_close(r);
    free(z);
    mw_tb_release(&j);
    mw_tb_release(&b);
}

/* Damaged compressed bytes: an error with the compressed offset, or (if zstd cannot tell)
 * records followed by a clean stop — never a crash. */
Test(format_reader, corrupt_zstd_reports_compressed_offset)
{
    mw_tracebuf b;
    small_trace(&b);
    uint8_t *z;
    size_t zlen;
    cr_assert_eq(mw_tb_encode(&b, NULL, &z, &zlen), 0);
    int corrupt_seen = 0;
    for (size_t i = 4; i < zlen; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            z[i] ^= (uint8_t)(1u << bit);
            mw_reader *r = mw_reader_open_mem(z, zlen, NULL, 0);
            seen s;
            int st = read_all(r, &s);
            cr_assert(st == MW_EOF || st == MW_TRUNCATED || st == MW_CORRUPT || st == MW_BAD_VERSION, "%d", st);
            if (st == MW_CORRUPT) {
                corrupt_seen++;
                cr_assert(strstr(mw_reader_error(r), "offset"), "%s", mw_reader_error(r));
            }
            mw_reader_close(r);
            z[i] ^= (uint8_t)(1u << bit);
        }
    }
    cr_assert_gt(corrupt_seen, 0);
    free(z);
    mw_tb_release(&b);
}

Test(format_reader, random_bytes_never_crash)
{
    uint8_t buf[512];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(x % sizeof buf);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        if (round % 2) { /* give half of them a valid preamble so records get parsed */
            size_t k = mw_enc_preamble(buf, n);
            (void)k;
        }
        mw_reader *r = mw_reader_open_mem(buf, n, NULL, 0);
        seen s;
        int st;
        mw_record rec;
        size_t cnt = 0;
        while ((st = mw_reader_next(r, &rec, NULL)) == MW_OK) cnt++;
        cr_assert(st != MW_OK && st != MW_NEED_MORE && st != MW_IO_ERROR);
        cr_assert_neq(mw_reader_error(r)[0], '\0');
        if (st == MW_CORRUPT) cr_assert(strstr(mw_reader_error(r), "offset"), "%s", mw_reader_error(r));
        (void)s;
        mw_reader_close(r);
        mw_decoder d;
        mw_decoder_init(&d);
        size_t off = 0, used;
        while (off < n && mw_decode_record(&d, buf + off, n - off, off, &rec, &used, NULL) == MW_OK) {
            cr_assert_gt(used, 0);
            cr_assert_leq(used, n - off);
            off += used;
        }
        mw_decoder_free(&d);
    }
}

Test(format_reader, unknown_types_and_extra_fields_are_skipped)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_time, 1);
    const uint8_t blob[300] = { 1, 2, 3 };
    /* (type bytes 0x80 and up are version 2's one-byte FREE_NEAR records) */
    MW_TB_ADD(&b, mw_enc_raw, 0x6E, blob, sizeof blob); /* unknown, 2-byte length */
    MW_TB_ADD(&b, mw_enc_raw, 0x7F, NULL, 0);           /* unknown, empty */
    /* a TIME with an extra trailing field a newer writer might add */
    const uint8_t time_plus[] = { 0x05, 0x99, 0x01, 'z' };
    MW_TB_ADD(&b, mw_enc_raw, MW_REC_TIME, time_plus, sizeof time_plus);
    /* an unknown record far larger than the reader's initial window */
    uint8_t *huge = calloc(1, MW_MAX_RECORD_PAYLOAD);
    huge[MW_MAX_RECORD_PAYLOAD - 1] = 9;
    MW_TB_ADD(&b, mw_enc_raw, 0x6F, huge, MW_MAX_RECORD_PAYLOAD);
    free(huge);
    MW_TB_ADD(&b, mw_enc_mark, "after", 5);
    uint8_t *z;
    size_t zlen;
    mw_tb_opts o = MW_TB_OPTS_DEFAULT;
    o.flush_bytes = 4096;
    cr_assert_eq(mw_tb_encode(&b, &o, &z, &zlen), 0);
    for (int pass = 0; pass < 2; pass++) {
        mw_reader *r = pass ? mw_reader_open_mem(z, zlen, NULL, 0) : mw_reader_open_mem(b.data, b.len, NULL, 0);
        mw_record rec;
        cr_assert_eq(mw_reader_next(r, &rec, NULL), MW_OK);
        cr_assert_eq(rec.type, MW_REC_TIME);
        cr_assert_eq(mw_reader_next(r, &rec, NULL), MW_OK);
        cr_assert_eq(rec.type, 0x6E);
        cr_assert_eq(rec.length, 300);
        cr_assert_eq(mw_reader_next(r, &rec, NULL), MW_OK);
        cr_assert_eq(rec.type, 0x7F);
        cr_assert_eq(rec.length, 0);
        cr_assert_eq(mw_reader_next(r, &rec, NULL), MW_OK);
        cr_assert_eq(rec.type, MW_REC_TIME);
        cr_assert_eq(rec.u.time.t_ns, 5);
        cr_assert_eq(mw_reader_next(r, &rec, NULL), MW_OK);
        cr_assert_eq(rec.type, 0x6F);
        cr_assert_eq(rec.length, MW_MAX_RECORD_PAYLOAD);
        cr_assert_eq(mw_reader_next(r, &rec, NULL), MW_OK);
        cr_assert_eq(rec.type, MW_REC_MARK);
        cr_assert_eq(rec.u.mark.label.len, 5);
        cr_assert_eq(mw_reader_next(r, &rec, NULL), MW_EOF);
        mw_reader_close(r);
    }
    free(z);
    /* one byte more than the limit is corruption */
    mw_tracebuf c;
    mw_tb_init(&c);
    uint8_t *over = calloc(1, MW_MAX_RECORD_PAYLOAD + 1);
    MW_TB_ADD(&c, mw_enc_raw, 0x6F, over, MW_MAX_RECORD_PAYLOAD + 1);
    free(over);
    mw_reader *r = mw_reader_open_mem(c.data, c.len, NULL, 0);
    mw_record rec;
    cr_assert_eq(mw_reader_next(r, &rec, NULL), MW_CORRUPT);
    cr_assert(strstr(mw_reader_error(r), "offset 12"), "%s", mw_reader_error(r));
    mw_reader_close(r);
    mw_tb_release(&c);
    mw_tb_release(&b);
}

/* A real file on disk, larger than the reader's window, with records crossing buffer edges;
 * then the same file growing: the reader reports TRUNCATED, then continues when bytes arrive. */
Test(format_reader, file_large_and_growing, .timeout = 60)
{
    char dir[] = "/tmp/mw-fmt-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/t.trace.zst", dir);
    mw_tracebuf b;
    mw_tb_init(&b);
    static char big[MW_MAX_STR];
    memset(big, 'q', sizeof big);
    uint64_t addr = 0x100000;
    const size_t N = 300000;
    for (size_t i = 0; i < N; i++) {
        if (i % 1000 == 0) mw_tb_switch(&b, i / 1000 % 3);
        if (i % 5000 == 7) MW_TB_ADD(&b, mw_enc_sql_query, i, 1, big, sizeof big);
        mw_tb_alloc(&b, MW_AK_MALLOC, i, i % 50, addr);
        addr += (i % 3 == 0) ? 48 : (uint64_t)-16;
    }
    mw_tb_opts o = MW_TB_OPTS_DEFAULT;
    o.frame_bytes = 1 << 20;
    o.flush_bytes = 100000;
    cr_assert_eq(mw_tb_write_file(&b, &o, path), 0);
    char err[256];
    mw_reader *r = mw_reader_open(path, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    mw_record rec;
    uint64_t seq, allocs = 0, lastaddr = 0;
    int st;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK)
        if (rec.type == MW_REC_ALLOC) {
            cr_assert_eq(rec.u.alloc.size, allocs);
            allocs++;
            lastaddr = rec.u.alloc.addr;
        }
    cr_assert_eq(st, MW_EOF, "%s", mw_reader_error(r));
    cr_assert_eq(allocs, N);
    cr_assert_eq(lastaddr, addr - ((N - 1) % 3 == 0 ? 48 : (uint64_t)-16));
    cr_assert_eq(mw_reader_stream_offset(r), b.len);
    mw_reader_close(r);

    /* growing: write the first half of the compressed bytes, then the rest */
    uint8_t *z;
    size_t zlen;
    cr_assert_eq(mw_tb_encode(&b, &o, &z, &zlen), 0);
    FILE *f = fopen(path, "wb");
    fwrite(z, 1, zlen / 2, f);
    fflush(f);
    r = mw_reader_open(path, err, sizeof err);
    allocs = 0;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) allocs += rec.type == MW_REC_ALLOC;
    cr_assert_eq(st, MW_TRUNCATED, "%s", mw_reader_error(r));
    cr_assert_gt(allocs, 0);
    cr_assert_lt(allocs, N);
    fwrite(z + zlen / 2, 1, zlen - zlen / 2, f);
    fclose(f);
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) allocs += rec.type == MW_REC_ALLOC;
    cr_assert_eq(st, MW_EOF, "%s", mw_reader_error(r));
    cr_assert_eq(allocs, N);
    mw_reader_close(r);
    free(z);

    cr_assert_null(mw_reader_open("/no/such/trace", err, sizeof err));
    cr_assert(strstr(err, "/no/such/trace"), "%s", err);
    unlink(path);
    rmdir(dir);
    mw_tb_release(&b);
}

/* Records bounded by the file's size (MW_READER_RECORDS_PER_BYTE): REPEATs that compress to
 * a few bytes apiece cannot make a small file stand for billions of records. The bound is set
 * low here (64 per byte) so that the test reads few records: a trace under it reads whole,
 * the same records over it are refused as corrupt, with one message, once the count passes
 * the bound for the bytes read so far. */
static size_t repeat_trace(uint8_t **out, uint64_t repeats, uint64_t count)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, 42, 1, 4096, 1000, 2000, MW_HF_ALLOC_TRACING | MW_HF_NO_ADDRESSES, "/bin/t", 6,
              "t\0", 2);
    mw_tb_switch(&b, 0);
    uint8_t pat[16];
    size_t pl = mw_enc_time(pat, sizeof pat, 5);
    for (uint64_t i = 0; i < repeats; i++) MW_TB_ADD(&b, mw_enc_repeat, count, pat, pl);
    MW_TB_ADD(&b, mw_enc_end, 11, 0, 0, MW_END_EXIT, 0);
    mw_tb_opts o = MW_TB_OPTS_DEFAULT;
    o.level = 19;
    size_t n = 0;
    cr_assert_eq(mw_tb_encode(&b, &o, out, &n), 0);
    mw_tb_release(&b);
    return n;
}

static int read_bounded(const uint8_t *data, size_t n, uint64_t per_byte, uint64_t *records, char *err, size_t errlen)
{
    mw_reader *r = mw_reader_open_mem(data, n, err, errlen);
    cr_assert(r);
    if (per_byte) mw_reader_set_record_bound(r, per_byte);
    mw_record rec;
    uint64_t seq;
    int st;
    *records = 0;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) ++*records;
    snprintf(err, errlen, "%s", mw_reader_error(r));
    /* the status sticks */
    if (st == MW_CORRUPT) cr_expect_eq(mw_reader_next(r, &rec, &seq), MW_CORRUPT);
    mw_reader_close(r);
    return st;
}

Test(format_reader, records_bounded_by_file_size)
{
    uint8_t *data;
    char err[512];
    uint64_t records;
    /* 40 REPEATs of 1 000 TIMEs: 40 043 records in a file of under 100 bytes */
    size_t n = repeat_trace(&data, 40, 1000);
    cr_assert_lt(n, 100u);
    cr_assert_eq(read_bounded(data, n, 0, &records, err, sizeof err), MW_EOF, "%s", err);
    cr_expect_eq(records, 2 + 40 * 1001 + 1);
    /* at 1 000 per byte they are under the bound */
    cr_assert_eq(read_bounded(data, n, 1000, &records, err, sizeof err), MW_EOF, "%s", err);
    /* over 64 per byte: refused where the count passes (n + slack) * 64 at most */
    cr_assert_eq(read_bounded(data, n, 64, &records, err, sizeof err), MW_CORRUPT);
    cr_expect_leq(records, (n + MW_READER_SLACK_BYTES) * 64);
    cr_expect(strstr(err, "more than 64 per byte"), "%s", err);
    free(data);
    /* the default bound: 1 000 REPEATs of 16 MiB of TIMEs (about 1.2 x 10^10 records) fit in
     * under 100 bytes; reading stops within the bound's records of it */
    uint8_t pat[16];
    size_t pl = mw_enc_time(pat, sizeof pat, 5);
    n = repeat_trace(&data, 1000, MW_REPEAT_MAX_BYTES / pl);
    cr_assert_lt(n, 120u);
    mw_reader *r = mw_reader_open_mem(data, n, err, sizeof err);
    cr_assert(r);
    mw_record rec;
    uint64_t seq, k = 0;
    int st;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) k++;
    cr_expect_eq(st, MW_CORRUPT);
    cr_expect_leq(k, (n + MW_READER_SLACK_BYTES) * MW_READER_RECORDS_PER_BYTE);
    mw_reader_close(r);
    free(data);
}
