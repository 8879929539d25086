/*
 * fuzz_decode.c — libFuzzer target for the trace decoder and the zstd file reader.
 *
 * Each input is treated three ways: as a trace file (mw_reader_open_mem + mw_reader_next until
 * anything but MW_OK), as a raw record stream fed to mw_decode_record from offset 0, and the
 * same after the 12-byte preamble. Every returned byte string and REACH entry list is read
 * through, so ASan sees any pointer that escapes the input. Built and run by `make fuzz`.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mw_format.h"

static volatile uint8_t sink;

static void touch(mw_bytes b)
{
    uint8_t x = 0;
    for (size_t i = 0; i < b.len; i++) x ^= b.ptr[i];
    sink ^= x;
}

static void check(const mw_record *r)
{
    switch (r->type) {
    case MW_REC_HEADER: touch(r->u.header.exe); touch(r->u.header.argv); break;
    case MW_REC_THREAD_START: touch(r->u.thread_start.name); break;
    case MW_REC_THREAD_NAME: touch(r->u.thread_name.name); break;
    case MW_REC_MODULE_LOAD: touch(r->u.module_load.build_id); touch(r->u.module_load.path); break;
    case MW_REC_MMAP: touch(r->u.mmap.path); break;
    case MW_REC_SQL_QUERY: touch(r->u.sql_query.text); break;
    case MW_REC_WATCH_REG: touch(r->u.watch_reg.name); break;
    case MW_REC_WATCH_META: touch(r->u.watch_meta.key); touch(r->u.watch_meta.value); break;
    case MW_REC_WATCH_WRITE:
        touch(r->u.watch_write.old_bytes);
        touch(r->u.watch_write.new_bytes);
        touch(r->u.watch_write.loc_file);
        touch(r->u.watch_write.loc_func);
        break;
    case MW_REC_MARK: touch(r->u.mark.label); break;
    case MW_REC_EXEC: touch(r->u.exec.path); break;
    case MW_REC_SPAWN: touch(r->u.spawn.path); break;
    case MW_REC_REACH: {
        mw_reach_iter it;
        mw_reach_entry e;
        mw_reach_iter_init(&it, r);
        int st;
        while ((st = mw_reach_next(&it, &e)) == 1) sink ^= (uint8_t)e.kind;
        if (st != 0) __builtin_trap(); /* the decoder validated the entries */
        break;
    }
    default: break;
    }
    (void)mw_record_type_name(r->type);
}

static void raw_stream(const uint8_t *p, size_t n)
{
    mw_decoder d;
    mw_decoder_init(&d);
    size_t off = 0;
    for (;;) {
        mw_record rec;
        size_t used = 0;
        uint64_t seq;
        int st = mw_decode_record(&d, p + off, n - off, off, &rec, &used, &seq);
        if (st != MW_OK) {
            if (st == MW_CORRUPT && !d.err[0]) __builtin_trap();
            break;
        }
        /* used 0: an event of a CODED_RUN already consumed (its offset is behind us) */
        if (used == 0 ? rec.offset >= off : used > n - off) __builtin_trap();
        check(&rec);
        off += used;
    }
    mw_decoder_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mw_reader *r = mw_reader_open_mem(data, size, NULL, 0);
    if (r) {
        mw_record rec;
        uint64_t seq;
        int st;
        while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) check(&rec);
        if (st == MW_NEED_MORE || !mw_reader_error(r)[0]) __builtin_trap();
        mw_reader_close(r);
    }
    raw_stream(data, size);
    if (size > MW_PREAMBLE_LEN) raw_stream(data + MW_PREAMBLE_LEN, size - MW_PREAMBLE_LEN);
    return 0;
}
