/*
 * test_format_roundtrip.c — every record type goes encoder -> decoder and comes back equal,
 * with edge values (0, UINT64_MAX, negative signed fields), strings truncated at MW_MAX_STR,
 * FREE/REALLOC references on the own thread and across threads, address deltas going down and
 * up, REACH entries split over several records, and an encoder that writes nothing when the
 * record does not fit in cap.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mw_format.h"
#include "mw_tracefile.h"

#define U64MAX UINT64_MAX

/* Decodes exactly one record from buf[0..n) and checks it used all n bytes. */
static mw_record dec1(mw_decoder *d, const uint8_t *buf, size_t n, uint64_t *seq)
{
    mw_record r;
    memset(&r, 0xA5, sizeof r);
    size_t used = 0;
    int st = mw_decode_record(d, buf, n, 1000, &r, &used, seq);
    cr_assert_eq(st, MW_OK, "status %d: %s", st, d->err);
    cr_assert_eq(used, n);
    cr_assert_eq(r.offset, 1000);
    return r;
}

/* A decoder that has read the preamble of a version v stream. */
static void decoder_at(mw_decoder *d, unsigned v)
{
    mw_decoder_init(d);
    uint8_t pre[MW_PREAMBLE_LEN];
    mw_enc_preamble(pre, sizeof pre);
    pre[8] = (uint8_t)v;
    cr_assert_eq(mw_decode_preamble(d, pre, sizeof pre, NULL), MW_OK);
}

static int bytes_eq(mw_bytes b, const void *p, size_t n)
{
    return b.len == n && (n == 0 || memcmp(b.ptr, p, n) == 0);
}

/* Each value set: zeros, maxima, and ordinary values. */
static const uint64_t vals[] = { 0, U64MAX, 1, 127, 128, 0x7fffffffffffffffull, 12345678901ull };
#define NV (sizeof vals / sizeof vals[0])

Test(format_roundtrip, header_end_time_thread)
{
    uint8_t buf[8192];
    for (size_t i = 0; i < NV; i++) {
        uint64_t v = vals[i];
        mw_decoder d;
        mw_decoder_init(&d);
        size_t n = mw_enc_header(buf, sizeof buf, v, v ^ 1, v, v, v, v, "/bin/ex e", 9, "a\0b\0", 4);
        mw_record r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_HEADER);
        cr_assert_eq(r.u.header.version, MW_FORMAT_VERSION);
        cr_assert_eq(r.u.header.pid, v);
        cr_assert_eq(r.u.header.ppid, v ^ 1);
        cr_assert_eq(r.u.header.ptr_size, sizeof(void *));
        cr_assert_eq(r.u.header.page_size, v);
        cr_assert_eq(r.u.header.endian, 1);
        cr_assert_eq(r.u.header.start_realtime_ns, v);
        cr_assert_eq(r.u.header.start_mono_ns, v);
        cr_assert_eq(r.u.header.flags, v);
        cr_assert(bytes_eq(r.u.header.exe, "/bin/ex e", 9));
        cr_assert(bytes_eq(r.u.header.argv, "a\0b\0", 4));

        int64_t st = i == 0 ? -1 : (int64_t)v;
        n = mw_enc_end(buf, sizeof buf, v, v, v, MW_END_EXEC, st);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_END);
        cr_assert_eq(r.u.end.t_ns, v);
        cr_assert_eq(r.u.end.lost_events, v);
        cr_assert_eq(r.u.end.lost_bytes, v);
        cr_assert_eq(r.u.end.reason, MW_END_EXEC);
        cr_assert_eq(r.u.end.exit_status, st);

        n = mw_enc_time(buf, sizeof buf, v);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_TIME);
        cr_assert_eq(r.u.time.t_ns, v);

        uint64_t t = v % 1000;
        n = mw_enc_thread_switch(buf, sizeof buf, t);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.u.thread_switch.tidx, t);
        cr_assert_eq(d.cur_tidx, t);

        n = mw_enc_thread_start(buf, sizeof buf, v, v, v, "worker-1", 8);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_THREAD_START);
        cr_assert_eq(r.u.thread_start.tidx, v);
        cr_assert_eq(r.u.thread_start.tid, v);
        cr_assert_eq(r.u.thread_start.parent_tidx, v);
        cr_assert(bytes_eq(r.u.thread_start.name, "worker-1", 8));

        n = mw_enc_thread_name(buf, sizeof buf, v, "", 0);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_THREAD_NAME);
        cr_assert_eq(r.u.thread_name.tidx, v);
        cr_assert_eq(r.u.thread_name.name.len, 0);

        n = mw_enc_thread_end(buf, sizeof buf, v);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_THREAD_END);
        cr_assert_eq(r.u.thread_end.tidx, v);
        mw_decoder_free(&d);
    }
}

Test(format_roundtrip, modules_stacks_maps_rss)
{
    uint8_t buf[16384];
    const uint8_t bid[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 0 };
    mw_decoder d;
    mw_decoder_init(&d);
    for (size_t i = 0; i < NV; i++) {
        uint64_t v = vals[i];
        size_t n = mw_enc_module_load(buf, sizeof buf, v, v, v, v, bid, 20, "/lib/libc.so.6", 14);
        mw_record r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_MODULE_LOAD);
        cr_assert_eq(r.u.module_load.id, v);
        cr_assert_eq(r.u.module_load.bias, v);
        cr_assert_eq(r.u.module_load.start, v);
        cr_assert_eq(r.u.module_load.size, v);
        cr_assert(bytes_eq(r.u.module_load.build_id, bid, 20));
        cr_assert(bytes_eq(r.u.module_load.path, "/lib/libc.so.6", 14));

        n = mw_enc_module_unload(buf, sizeof buf, v);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_MODULE_UNLOAD);
        cr_assert_eq(r.u.module_unload.id, v);

        n = mw_enc_stack_node(buf, sizeof buf, v, v / 2, v ^ 7);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_STACK_NODE);
        cr_assert_eq(r.u.stack_node.id, v);
        cr_assert_eq(r.u.stack_node.parent, v / 2);
        cr_assert_eq(r.u.stack_node.ip, v ^ 7);

        int64_t fd = i == 0 ? -1 : (int64_t)v;
        n = mw_enc_mmap(buf, sizeof buf, v, v, 3, v, fd, v, v, "/tmp/f", 6);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_MMAP);
        cr_assert_eq(r.u.mmap.addr, v);
        cr_assert_eq(r.u.mmap.len, v);
        cr_assert_eq(r.u.mmap.prot, 3);
        cr_assert_eq(r.u.mmap.flags, v);
        cr_assert_eq(r.u.mmap.fd, fd);
        cr_assert_eq(r.u.mmap.offset, v);
        cr_assert_eq(r.u.mmap.stack, v);
        cr_assert(bytes_eq(r.u.mmap.path, "/tmp/f", 6));

        n = mw_enc_munmap(buf, sizeof buf, v, v, v);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_MUNMAP);
        cr_assert_eq(r.u.munmap.addr, v);
        cr_assert_eq(r.u.munmap.len, v);
        cr_assert_eq(r.u.munmap.stack, v);

        n = mw_enc_mremap(buf, sizeof buf, v, v + 1, v + 2, v + 3, v + 4);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_MREMAP);
        cr_assert_eq(r.u.mremap.old_addr, v);
        cr_assert_eq(r.u.mremap.old_len, v + 1);
        cr_assert_eq(r.u.mremap.new_addr, v + 2);
        cr_assert_eq(r.u.mremap.new_len, v + 3);
        cr_assert_eq(r.u.mremap.stack, v + 4);

        n = mw_enc_rss(buf, sizeof buf, v, v + 1, v + 2, v + 3, v + 4, v + 5, v + 6);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_RSS);
        cr_assert_eq(r.u.rss.t_ns, v);
        cr_assert_eq(r.u.rss.rss, v + 1);
        cr_assert_eq(r.u.rss.anon, v + 2);
        cr_assert_eq(r.u.rss.file, v + 3);
        cr_assert_eq(r.u.rss.shmem, v + 4);
        cr_assert_eq(r.u.rss.vm_size, v + 5);
        cr_assert_eq(r.u.rss.own, v + 6);
        /* an RSS record of an older shim, without the appended own field: own is 0 */
        uint8_t payload[64], *q = payload;
        for (uint64_t k = 0; k < 6; k++) q = mw_put_uv(q, v + k);
        n = mw_enc_raw(buf, sizeof buf, MW_REC_RSS, payload, (size_t)(q - payload));
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_RSS);
        cr_assert_eq(r.u.rss.vm_size, v + 5);
        cr_assert_eq(r.u.rss.own, 0);

        n = mw_enc_fatal_signal(buf, sizeof buf, v, 11, (uint32_t)-1, v + 1, v + 2);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_FATAL_SIGNAL);
        cr_assert_eq(r.u.fatal.t_ns, v);
        cr_assert_eq(r.u.fatal.signo, 11);
        cr_assert_eq(r.u.fatal.code, 0xffffffffu);
        cr_assert_eq(r.u.fatal.addr, v + 1);
        cr_assert_eq(r.u.fatal.stack, v + 2);
    }
    mw_decoder_free(&d);
}

Test(format_roundtrip, sql_watch_misc)
{
    uint8_t buf[32768];
    mw_decoder d;
    mw_decoder_init(&d);
    for (size_t i = 0; i < NV; i++) {
        uint64_t v = vals[i];
        size_t n = mw_enc_sql_query(buf, sizeof buf, v, MW_DB_SQLITE, "SELECT ?", 8);
        mw_record r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_SQL_QUERY);
        cr_assert_eq(r.u.sql_query.fp, v);
        cr_assert_eq(r.u.sql_query.db, MW_DB_SQLITE);
        cr_assert(bytes_eq(r.u.sql_query.text, "SELECT ?", 8));

        n = mw_enc_sql_begin(buf, sizeof buf, v, v ^ 3);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_SQL_BEGIN);
        cr_assert_eq(r.u.sql_begin.ctx, v);
        cr_assert_eq(r.u.sql_begin.fp, v ^ 3);

        n = mw_enc_sql_end(buf, sizeof buf, v);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_SQL_END);
        cr_assert_eq(r.u.sql_end.ctx, v);

        n = mw_enc_sql_res_open(buf, sizeof buf, MW_RES_STATEMENT, v, v + 1, v + 2, MW_DB_POSTGRES);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_SQL_RES_OPEN);
        cr_assert_eq(r.u.sql_res_open.type, MW_RES_STATEMENT);
        cr_assert_eq(r.u.sql_res_open.handle, v);
        cr_assert_eq(r.u.sql_res_open.fp, v + 1);
        cr_assert_eq(r.u.sql_res_open.stack, v + 2);
        cr_assert_eq(r.u.sql_res_open.db, MW_DB_POSTGRES);

        n = mw_enc_sql_res_close(buf, sizeof buf, MW_RES_RESULT, v);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_SQL_RES_CLOSE);
        cr_assert_eq(r.u.sql_res_close.type, MW_RES_RESULT);
        cr_assert_eq(r.u.sql_res_close.handle, v);

        n = mw_enc_watch_reg(buf, sizeof buf, v, v, v, v, "g_balance", 9);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_WATCH_REG);
        cr_assert_eq(r.u.watch_reg.id, v);
        cr_assert_eq(r.u.watch_reg.addr, v);
        cr_assert_eq(r.u.watch_reg.len, v);
        cr_assert_eq(r.u.watch_reg.flags, v);
        cr_assert(bytes_eq(r.u.watch_reg.name, "g_balance", 9));

        n = mw_enc_watch_unreg(buf, sizeof buf, v, MW_UNWATCH_UNMAPPED);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_WATCH_UNREG);
        cr_assert_eq(r.u.watch_unreg.id, v);
        cr_assert_eq(r.u.watch_unreg.reason, MW_UNWATCH_UNMAPPED);

        n = mw_enc_watch_meta(buf, sizeof buf, v, "k", 1, "value", 5);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_WATCH_META);
        cr_assert_eq(r.u.watch_meta.id, v);
        cr_assert(bytes_eq(r.u.watch_meta.key, "k", 1));
        cr_assert(bytes_eq(r.u.watch_meta.value, "value", 5));

        n = mw_enc_mark(buf, sizeof buf, "phase 2", 7);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_MARK);
        cr_assert(bytes_eq(r.u.mark.label, "phase 2", 7));

        n = mw_enc_lost(buf, sizeof buf, v, v ^ 9);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_LOST);
        cr_assert_eq(r.u.lost.events, v);
        cr_assert_eq(r.u.lost.bytes, v ^ 9);

        n = mw_enc_fork(buf, sizeof buf, v);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_FORK);
        cr_assert_eq(r.u.fork.child_pid, v);

        n = mw_enc_exec(buf, sizeof buf, "/usr/bin/env", 12);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_EXEC);
        cr_assert(bytes_eq(r.u.exec.path, "/usr/bin/env", 12));

        n = mw_enc_spawn(buf, sizeof buf, v, "/sbin/ldconfig", 14);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_SPAWN);
        cr_assert_eq(r.u.spawn.child_pid, v);
        cr_assert(bytes_eq(r.u.spawn.path, "/sbin/ldconfig", 14));

        n = mw_enc_limits(buf, sizeof buf, v, v + 1, v + 2);
        r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_LIMITS);
        cr_assert_eq(r.u.limits.cgroup_max, v);
        cr_assert_eq(r.u.limits.rlimit_as, v + 1);
        cr_assert_eq(r.u.limits.phys_mem, v + 2);
    }
    mw_decoder_free(&d);
}

Test(format_roundtrip, watch_write_full_and_truncated)
{
    static uint8_t buf[32768];
    static uint8_t oldb[MW_MAX_WATCH_BYTES + 100], newb[MW_MAX_WATCH_BYTES + 100];
    for (size_t i = 0; i < sizeof oldb; i++) {
        oldb[i] = (uint8_t)i;
        newb[i] = (uint8_t)(i * 7);
    }
    mw_decoder d;
    mw_decoder_init(&d);
    for (size_t i = 0; i < NV; i++) {
        uint64_t v = vals[i];
        size_t blen = i == 0 ? 8 : i == 1 ? sizeof oldb : 0;
        mw_watch_write_args a = {
            .id = v, .offset = v, .len = v, .tid = v, .pc = v, .stack = v, .sql_fp = v,
            .flags = (blen ? MW_WF_HAS_BYTES : 0) | MW_WF_KERNEL, .t_ns = v,
            .syscall = i == 0 ? -1 : (int64_t)i, .old_bytes = oldb, .new_bytes = newb,
            .bytes_len = blen, .loc_file = "app.py", .loc_file_len = 6, .loc_line = v,
            .loc_func = "main", .loc_func_len = 4,
        };
        size_t n = mw_enc_watch_write(buf, sizeof buf, &a);
        mw_record r = dec1(&d, buf, n, NULL);
        cr_assert_eq(r.type, MW_REC_WATCH_WRITE);
        cr_assert_eq(r.u.watch_write.id, v);
        cr_assert_eq(r.u.watch_write.offset, v);
        cr_assert_eq(r.u.watch_write.len, v);
        cr_assert_eq(r.u.watch_write.tid, v);
        cr_assert_eq(r.u.watch_write.pc, v);
        cr_assert_eq(r.u.watch_write.stack, v);
        cr_assert_eq(r.u.watch_write.sql_fp, v);
        cr_assert_eq(r.u.watch_write.t_ns, v);
        cr_assert_eq(r.u.watch_write.loc_line, v);
        cr_assert_eq(r.u.watch_write.syscall, a.syscall);
        size_t want = blen > MW_MAX_WATCH_BYTES ? MW_MAX_WATCH_BYTES : blen;
        cr_assert(bytes_eq(r.u.watch_write.old_bytes, oldb, want));
        cr_assert(bytes_eq(r.u.watch_write.new_bytes, newb, want));
        uint64_t wf = a.flags | (blen > MW_MAX_WATCH_BYTES ? MW_WF_TRUNCATED : 0);
        cr_assert_eq(r.u.watch_write.flags, wf);
        cr_assert(bytes_eq(r.u.watch_write.loc_file, "app.py", 6));
        cr_assert(bytes_eq(r.u.watch_write.loc_func, "main", 4));
    }
    mw_decoder_free(&d);
}

Test(format_roundtrip, long_strings_truncated_at_max_str)
{
    size_t big = MW_MAX_STR * 3;
    char *s = malloc(big);
    for (size_t i = 0; i < big; i++) s[i] = (char)('a' + i % 26);
    uint8_t *buf = malloc(65536);
    mw_decoder d;
    mw_decoder_init(&d);
    size_t n = mw_enc_mark(buf, 65536, s, big);
    mw_record r = dec1(&d, buf, n, NULL);
    cr_assert(bytes_eq(r.u.mark.label, s, MW_MAX_STR));
    n = mw_enc_header(buf, 65536, 1, 2, 4096, 3, 4, 0, s, big, s, big);
    r = dec1(&d, buf, n, NULL);
    cr_assert(bytes_eq(r.u.header.exe, s, MW_MAX_STR));
    cr_assert(bytes_eq(r.u.header.argv, s, MW_MAX_STR));
    n = mw_enc_sql_query(buf, 65536, 1, 1, s, big);
    r = dec1(&d, buf, n, NULL);
    cr_assert(bytes_eq(r.u.sql_query.text, s, MW_MAX_STR));
    n = mw_enc_watch_meta(buf, 65536, 1, s, big, s, MW_MAX_STR + 1);
    r = dec1(&d, buf, n, NULL);
    cr_assert(bytes_eq(r.u.watch_meta.key, s, MW_MAX_STR));
    cr_assert(bytes_eq(r.u.watch_meta.value, s, MW_MAX_STR));
    n = mw_enc_mmap(buf, 65536, 1, 2, 3, 4, 5, 6, 7, s, MW_MAX_STR);
    r = dec1(&d, buf, n, NULL);
    cr_assert(bytes_eq(r.u.mmap.path, s, MW_MAX_STR));
    mw_decoder_free(&d);
    free(buf);
    free(s);
}

/* ALLOC/FREE/REALLOC across two threads: implicit seq, back-distance and absolute refs,
 * addresses going down and up (and wrapping), per-thread address bases. */
Test(format_roundtrip, alloc_free_realloc_refs_and_deltas)
{
    mw_tracebuf b;
    mw_tb_init_empty(&b);
    const uint64_t addrs[] = { 0x7f0000001000ull, 0x1000, U64MAX - 15, 16, 0x7f0000000000ull, 0 };
    mw_block_ref r0[6], r1[3];
    mw_tb_switch(&b, 0);
    for (int i = 0; i < 6; i++) r0[i] = mw_tb_alloc(&b, (uint64_t)i % MW_AK_COUNT, (uint64_t)i * 100, (uint64_t)i, addrs[i]);
    mw_tb_switch(&b, 5);
    for (int i = 0; i < 3; i++) r1[i] = mw_tb_alloc(&b, MW_AK_CALLOC, U64MAX, U64MAX, addrs[5 - i]);
    mw_tb_free_block(&b, r0[2]);                                  /* cross-thread */
    mw_tb_free_block(&b, r1[2]);                                  /* own, distance 0 */
    mw_block_ref nr = mw_tb_realloc(&b, r1[0], 77, 8, 0x5000);    /* own, distance 2 */
    mw_block_ref nr2 = mw_tb_realloc(&b, r0[5], 78, 9, 0x4000);   /* cross-thread */
    mw_tb_switch(&b, 0);
    mw_tb_free_block(&b, r0[0]);                                  /* own, distance 5 */
    mw_tb_free_block(&b, nr);                                     /* cross */
    mw_block_ref nr3 = mw_tb_alloc(&b, MW_AK_MALLOC, 1, 1, addrs[4] - 64); /* base persisted */
    mw_tb_free_block(&b, (mw_block_ref){ 0, 0 });                 /* seq 0: edge */

    mw_decoder d;
    mw_decoder_init(&d);
    size_t off = 0;
    mw_record r;
    uint64_t seq;
    size_t used;
#define NEXT()                                                                                \
    do {                                                                                      \
        seq = 0;                                                                              \
        cr_assert_eq(mw_decode_record(&d, b.data + off, b.len - off, off, &r, &used, &seq), MW_OK, "%s", d.err); \
        off += used;                                                                          \
    } while (0)
    NEXT();
    cr_assert_eq(r.type, MW_REC_THREAD_SWITCH);
    for (int i = 0; i < 6; i++) {
        NEXT();
        cr_assert_eq(r.type, MW_REC_ALLOC);
        cr_assert_eq(r.u.alloc.addr, addrs[i]);
        cr_assert_eq(r.u.alloc.size, (uint64_t)i * 100);
        cr_assert_eq(r.u.alloc.kind, (uint64_t)i % MW_AK_COUNT);
        cr_assert_eq(r.u.alloc.stack, (uint64_t)i);
        cr_assert_eq(seq, r0[i].seq);
        cr_assert_eq(seq, (uint64_t)i + 1);
    }
    NEXT();
    cr_assert_eq(r.u.thread_switch.tidx, 5);
    for (int i = 0; i < 3; i++) {
        NEXT();
        cr_assert_eq(r.u.alloc.addr, addrs[5 - i]);
        cr_assert_eq(r.u.alloc.size, U64MAX);
        cr_assert_eq(seq, (uint64_t)i + 1);
    }
    NEXT();
    cr_assert_eq(r.type, MW_REC_FREE);
    cr_assert_eq(r.u.free.ref.tidx, 0);
    cr_assert_eq(r.u.free.ref.seq, 3);
    NEXT();
    cr_assert_eq(r.u.free.ref.tidx, 5);
    cr_assert_eq(r.u.free.ref.seq, 3);
    NEXT();
    cr_assert_eq(r.type, MW_REC_REALLOC);
    cr_assert_eq(r.u.realloc.old.tidx, 5);
    cr_assert_eq(r.u.realloc.old.seq, 1);
    cr_assert_eq(r.u.realloc.size, 77);
    cr_assert_eq(r.u.realloc.stack, 8);
    cr_assert_eq(r.u.realloc.addr, 0x5000);
    cr_assert_eq(seq, nr.seq);
    cr_assert_eq(seq, 4);
    NEXT();
    cr_assert_eq(r.u.realloc.old.tidx, 0);
    cr_assert_eq(r.u.realloc.old.seq, 6);
    cr_assert_eq(r.u.realloc.addr, 0x4000);
    cr_assert_eq(seq, nr2.seq);
    NEXT();
    NEXT();
    cr_assert_eq(r.u.free.ref.tidx, 0);
    cr_assert_eq(r.u.free.ref.seq, 1);
    NEXT();
    cr_assert_eq(r.u.free.ref.tidx, 5);
    cr_assert_eq(r.u.free.ref.seq, 4);
    NEXT();
    cr_assert_eq(r.u.alloc.addr, addrs[4] - 64);
    cr_assert_eq(seq, nr3.seq);
    cr_assert_eq(seq, 7);
    NEXT();
    cr_assert_eq(r.u.free.ref.tidx, 0);
    cr_assert_eq(r.u.free.ref.seq, 0);
    cr_assert_eq(off, b.len);
    mw_decoder_free(&d);
    mw_tb_release(&b);
}

/* Own-thread FREE is the short form: one varint. */
Test(format_roundtrip, own_thread_free_is_short)
{
    uint8_t buf[64];
    size_t near = mw_enc_free(buf, sizeof buf, (mw_block_ref){ 3, 1000 }, 3, 1001);
    size_t own = mw_enc_free(buf, sizeof buf, (mw_block_ref){ 3, 1000 }, 3, 2001);
    size_t cross = mw_enc_free(buf, sizeof buf, (mw_block_ref){ 3, 1000 }, 4, 1001);
    cr_assert_eq(near, 1);  /* FREE_NEAR */
    cr_assert_eq(own, 4);   /* type, len, uv(2000) */
    cr_assert_gt(cross, own);
    /* a ref "from the future" of the own thread falls back to the absolute form */
    size_t fut = mw_enc_free(buf, sizeof buf, (mw_block_ref){ 3, 2000 }, 3, 1001);
    mw_decoder d;
    mw_decoder_init(&d);
    mw_record r = dec1(&d, buf, fut, NULL);
    cr_assert_eq(r.u.free.ref.tidx, 3);
    cr_assert_eq(r.u.free.ref.seq, 2000);
    mw_decoder_free(&d);
}

/* Own-thread FREEs at every distance form: FREE_NEAR up to 127 back, the four-byte FREE that
 * the hooks write inline up to 8191 back (mw_enc_free_own), the generic varint beyond; each
 * decodes to the block it names (after that many ALLOCs of the thread), and the inline form
 * is exactly the checked encoder's. */
Test(format_roundtrip, own_free_forms_by_distance)
{
    static const uint64_t dist[] = { 0, 1, 63, 64, 127, 128, 129, 255, 256, 4095, 8190, 8191, 8192, 8193, 20000 };
    const uint64_t self_seq = 20001;
    size_t cap = 256 + (size_t)self_seq * 4;
    uint8_t *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < sizeof dist / sizeof dist[0]; i++) {
        mw_block_ref ref = { 5, self_seq - dist[i] };
        uint8_t a[64], b[64];
        size_t n = mw_enc_free(a, sizeof a, ref, 5, self_seq);
        size_t want = dist[i] <= MW_FREE_NEAR_MAX ? 1 : dist[i] < 8192 ? 4 : 5;
        cr_assert_eq(n, want, "distance %llu: %zu bytes", (unsigned long long)dist[i], n);
        size_t m = mw_enc_free_own(b, ref, 5, self_seq);
        cr_assert_eq(m, dist[i] < 8192 ? n : 0);
        if (m) cr_assert_eq(memcmp(a, b, m), 0);
        for (size_t c = 0; c < n; c++) cr_assert_eq(mw_enc_free(b, c, ref, 5, self_seq), 0);
        /* thread 5 allocates self_seq blocks, then frees one */
        size_t len = mw_enc_header(buf, cap, 1, 1, 4096, 0, 0, MW_HF_NO_ADDRESSES, "x", 1, "x", 1);
        len += mw_enc_thread_switch(buf + len, cap - len, 5);
        mw_alloc_last last = { 0, 0, 0 };
        for (uint64_t k = 0; k < self_seq; k++) len += mw_enc_alloc_noaddr_hot(buf + len, MW_AK_MALLOC, 8, 1, &last);
        memcpy(buf + len, a, n);
        len += n;
        mw_decoder d;
        mw_decoder_init(&d);
        mw_record r;
        size_t off = 0, used = 0;
        while (off < len) {
            int st = mw_decode_record(&d, buf + off, len - off, off, &r, &used, NULL);
            cr_assert_eq(st, MW_OK, "status %d at %zu: %s", st, off, d.err);
            off += used;
        }
        cr_assert_eq(r.type, MW_REC_FREE);
        cr_assert_eq(r.u.free.ref.tidx, 5);
        cr_assert_eq(r.u.free.ref.seq, self_seq - dist[i], "distance %llu", (unsigned long long)dist[i]);
        mw_decoder_free(&d);
    }
    free(buf);
}

/* Decodes every record of buf[0..n) (a stream of version v, no preamble) and checks the REACH
 * entries they hold are e[0..count), in order. Returns the number of records. */
static size_t reach_records_match(const uint8_t *buf, size_t n, unsigned v, const mw_reach_entry *e, size_t count)
{
    mw_decoder d;
    decoder_at(&d, v);
    size_t off = 0, k = 0, recs = 0;
    while (off < n) {
        mw_record r;
        size_t used;
        cr_assert_eq(mw_decode_record(&d, buf + off, n - off, off, &r, &used, NULL), MW_OK, "%s", d.err);
        cr_assert_eq(r.type, MW_REC_REACH);
        off += used;
        recs++;
        mw_reach_iter it;
        mw_reach_entry x;
        mw_reach_iter_init(&it, &r);
        int st;
        while ((st = mw_reach_next(&it, &x)) == 1) {
            cr_assert_lt(k, count);
            cr_assert_eq(x.ref.tidx, e[k].ref.tidx, "entry %zu", k);
            cr_assert_eq(x.ref.seq, e[k].ref.seq, "entry %zu", k);
            cr_assert_eq(x.kind, e[k].kind, "entry %zu", k);
            cr_assert_eq(x.addr, e[k].addr, "entry %zu", k);
            k++;
        }
        cr_assert_eq(st, 0);
    }
    cr_assert_eq(k, count);
    mw_decoder_free(&d);
    return recs;
}

Test(format_roundtrip, reach_split_across_records)
{
    size_t n = 5000;
    mw_reach_entry *e = malloc(n * sizeof *e);
    for (size_t i = 0; i < n; i++) {
        e[i].ref.tidx = i % 7;
        e[i].ref.seq = i == 0 ? U64MAX : i * 1000003u;
        e[i].kind = i % 4;
        e[i].addr = i % 3 == 0 ? 0x7f0000000000u + i * 48 : i % 3 == 1 ? U64MAX - i : i;
    }
    /* the encoder fills what fits in cap; small cap forces many records */
    mw_tracebuf b;
    mw_tb_init_empty(&b);
    size_t at = 0, records = 0;
    while (at < n) {
        size_t cap, done = 0;
        uint8_t *p = mw_tb_reserve(&b, 300, &cap);
        size_t w = mw_enc_reach(p, 300, e + at, n - at, &done);
        cr_assert_gt(w, 0);
        cr_assert_gt(done, 0);
        cr_assert_leq(w, 300);
        mw_tb_commit(&b, w);
        at += done;
        records++;
    }
    cr_assert_gt(records, 10);
    mw_tb_reach(&b, e, n, 123); /* and the helper: 41 records */
    mw_reach_entry *twice = malloc(2 * n * sizeof *twice);
    memcpy(twice, e, n * sizeof *e);
    memcpy(twice + n, e, n * sizeof *e);
    cr_assert_eq(reach_records_match(b.data, b.len, MW_FORMAT_VERSION, twice, 2 * n), records + (n + 122) / 123);
    free(twice);
    mw_tb_release(&b);
    free(e);
}

/* MW_HF_NO_ADDRESSES: ALLOC/REALLOC without the address field decode with addr 0 (and their
 * sequence numbers and block refs as usual); a REACH record without the address section (an
 * older trace) decodes with addr 0. */
Test(format_roundtrip, no_addresses_layout)
{
    uint8_t buf[256];
    size_t len = 0;
    len += mw_enc_header(buf + len, sizeof buf - len, 1, 1, 4096, 0, 0,
                         MW_HF_ALLOC_TRACING | MW_HF_NO_ADDRESSES, "x", 1, "x", 1);
    len += mw_enc_alloc_noaddr(buf + len, sizeof buf - len, MW_AK_CALLOC, 24, 3);
    len += mw_enc_realloc_noaddr(buf + len, sizeof buf - len, (mw_block_ref){ 0, 1 }, 0, 1, 99, 4);
    size_t a3 = mw_enc_alloc_noaddr(buf + len, sizeof buf - len, MW_AK_MALLOC, 1, 0);
    cr_assert_eq(a3, 5); /* type, length, three one-byte fields */
    len += a3;
    static const uint8_t old_reach[] = { 1, 0, 4, MW_REACH_DEFINITE }; /* seq 2 (an sv delta from 0) */
    len += mw_enc_raw(buf + len, sizeof buf - len, MW_REC_REACH, old_reach, sizeof old_reach);
    mw_reach_entry re = { { 0, 3 }, MW_REACH_REACHABLE, 0x55550000u };
    len += mw_enc_reach(buf + len, sizeof buf - len, &re, 1, NULL);

    mw_decoder d;
    mw_decoder_init(&d);
    mw_record r;
    size_t off = 0, used;
    uint64_t seq = 0;
    cr_assert_eq(mw_decode_record(&d, buf, len, 0, &r, &used, NULL), MW_OK, "%s", d.err);
    off += used;
    cr_assert_eq(mw_decode_record(&d, buf + off, len - off, off, &r, &used, &seq), MW_OK, "%s", d.err);
    off += used;
    cr_assert_eq(r.type, MW_REC_ALLOC);
    cr_assert_eq(r.u.alloc.kind, MW_AK_CALLOC);
    cr_assert_eq(r.u.alloc.size, 24);
    cr_assert_eq(r.u.alloc.stack, 3);
    cr_assert_eq(r.u.alloc.addr, 0);
    cr_assert_eq(seq, 1);
    cr_assert_eq(mw_decode_record(&d, buf + off, len - off, off, &r, &used, &seq), MW_OK, "%s", d.err);
    off += used;
    cr_assert_eq(r.type, MW_REC_REALLOC);
    cr_assert_eq(r.u.realloc.old.seq, 1);
    cr_assert_eq(r.u.realloc.size, 99);
    cr_assert_eq(r.u.realloc.stack, 4);
    cr_assert_eq(r.u.realloc.addr, 0);
    cr_assert_eq(seq, 2);
    cr_assert_eq(mw_decode_record(&d, buf + off, len - off, off, &r, &used, &seq), MW_OK, "%s", d.err);
    off += used;
    cr_assert_eq(seq, 3);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(mw_decode_record(&d, buf + off, len - off, off, &r, &used, NULL), MW_OK, "%s", d.err);
        off += used;
        cr_assert_eq(r.type, MW_REC_REACH);
        mw_reach_iter it;
        mw_reach_entry x;
        mw_reach_iter_init(&it, &r);
        cr_assert_eq(mw_reach_next(&it, &x), 1);
        cr_assert_eq(x.ref.seq, k == 0 ? 2 : 3);
        cr_assert_eq(x.addr, k == 0 ? 0 : 0x55550000u);
        cr_assert_eq(mw_reach_next(&it, &x), 0);
    }
    cr_assert_eq(off, len);
    mw_decoder_free(&d);
}

/* REACH seqs: version 4 writes each as a delta against the previous entry's (blocks listed by
 * address are mostly in allocation order: small, repeating deltas); a version 3 stream holds
 * them whole. */
Test(format_roundtrip, reach_seq_deltas_from_version_4)
{
    mw_reach_entry in[5] = { { { 0, 7 }, MW_REACH_DEFINITE, 0x1000 }, { { 0, 9 }, MW_REACH_REACHABLE, 0x1040 },
                             { { 2, 3 }, MW_REACH_INDIRECT, 0x1080 }, { { 0, 11 }, MW_REACH_DEFINITE, 0x10c0 },
                             { { 0, 1000000 }, MW_REACH_DEFINITE, 0x2000 } };
    uint8_t buf[256];
    size_t done, n = mw_enc_reach(buf, sizeof buf, in, 5, &done);
    cr_assert_eq(done, 5);
    cr_assert_eq(buf[3], 0);    /* tidx 0, then seq 7 as sv: 14 */
    cr_assert_eq(buf[4], 14);
    cr_assert_eq(buf[7], 4);    /* +2 */
    for (unsigned v = 3; v <= 4; v++) {
        mw_decoder d;
        decoder_at(&d, v);
        mw_record r;
        size_t used;
        cr_assert_eq(mw_decode_record(&d, buf, n, 0, &r, &used, NULL), MW_OK, "%s", d.err);
        mw_reach_iter it;
        mw_reach_entry x;
        mw_reach_iter_init(&it, &r);
        for (int i = 0; i < 5; i++) {
            cr_assert_eq(mw_reach_next(&it, &x), 1);
            cr_assert_eq(x.ref.tidx, in[i].ref.tidx);
            cr_assert_eq(x.kind, in[i].kind);
            cr_assert_eq(x.addr, in[i].addr);
            /* version 3 reads the same bytes as whole seqs: the sv of 7 is 14 */
            if (v == 4) cr_assert_eq(x.ref.seq, in[i].ref.seq, "entry %d", i);
            else if (i == 0) cr_assert_eq(x.ref.seq, 14);
        }
        cr_assert_eq(mw_reach_next(&it, &x), 0);
        mw_decoder_free(&d);
    }
}

/* REACH_C (version 5) gives back exactly the entries it was given, whatever they are (threads,
 * kinds, seqs and addresses at the extremes, unaligned and zero addresses), split over
 * records as the room allows, and is read back as REACH records. */
Test(format_roundtrip, reach_c_round_trip_and_splits)
{
    size_t n = 5000;
    mw_reach_entry *e = malloc(n * sizeof *e);
    for (size_t i = 0; i < n; i++) {
        e[i].ref.tidx = i % 700 < 300 ? 0 : i % 7 == 0 ? MW_MAX_TIDX : i % 3;
        e[i].ref.seq = i == 0 ? U64MAX : i % 11 == 0 ? i * 1000003u : 2 * i;
        e[i].kind = i % 500 < 200 ? MW_REACH_REACHABLE : i % 4;
        e[i].addr = i % 3 == 0 ? 0x7f0000000000u + i * 48 : i % 3 == 1 ? U64MAX - 16 * i : (i % 5 ? 16 * i : i);
    }
    static uint8_t big[1 << 20];
    for (size_t cap = 64; cap <= sizeof big; cap *= 16) {
        size_t len = 0, at = 0, records = 0;
        while (at < n) {
            size_t done = 0, w = mw_enc_reach_c(big + len, cap < sizeof big - len ? cap : sizeof big - len, e + at,
                                                n - at, &done);
            cr_assert_gt(w, 0);
            cr_assert_gt(done, 0);
            cr_assert_leq(w, cap);
            len += w;
            at += done;
            records++;
        }
        cr_assert_eq(reach_records_match(big, len, 5, e, n), records);
        if (cap == 64) cr_assert_gt(records, 100);
    }
    /* aligned addresses only: their shift is taken, and still every entry comes back */
    for (size_t i = 0; i < n; i++) e[i].addr = 0x560000000000u + 64 * (i * 7 % 1000);
    size_t done = 0, len = mw_enc_reach_c(big, sizeof big, e, n, &done);
    cr_assert_eq(done, n);
    reach_records_match(big, len, 5, e, n);
    free(e);
}

/* A heap freed every other block and left at exit (bigheap): the blocks listed by address
 * are one thread's, one verdict, seqs two apart, addresses a few sizes apart in a cycle. In
 * REACH they take about five bytes each; in REACH_C about one (the seqs one run, the
 * addresses in units of 16 bytes, runs of equal steps). */
Test(format_roundtrip, reach_c_of_a_heap_in_allocation_order_is_small)
{
    enum { N = 100000 };
    static mw_reach_entry e[N];
    uint64_t a = 0x55d0c0de0000u;
    for (size_t i = 0; i < N; i++) {
        e[i] = (mw_reach_entry){ { 0, 2 + 2 * i }, MW_REACH_INDIRECT, a };
        a += 32u + 16u * ((i / 4) % 4) + 48u; /* its chunk and the freed one after it */
    }
    static uint8_t plain[8 * N], compact[8 * N];
    size_t done = 0, np = 0, nc = 0;
    while (done < N) {
        size_t k = 0;
        np += mw_enc_reach(plain + np, sizeof plain - np, e + done, N - done, &k);
        cr_assert_gt(k, 0);
        done += k;
    }
    nc = mw_enc_reach_c(compact, sizeof compact, e, N, &done);
    cr_assert_eq(done, N);
    cr_assert_lt(nc * 4, np, "REACH_C %zu bytes, REACH %zu", nc, np);
    cr_assert_lt(nc, N, "%zu bytes for %d entries", nc, N);
    reach_records_match(compact, nc, 5, e, N);
}

/* A REACH_C record whose sections disagree with its count is corruption, named; in a stream
 * older than version 5 its type is unassigned: skipped as an unknown record. */
Test(format_roundtrip, reach_c_malformed_and_before_version_5)
{
    static const struct { uint8_t p[16]; size_t n; const char *err; } bad[] = {
        /* count 2, flags 0, 1 group of 1: the groups cover 1 of 2 */
        { { 2, 0, 1, 1, 0, 3, 2, 2, 0, 0 }, 10, "group lengths" },
        /* a group of length 0 */
        { { 1, 0, 2, 0, 0, 3, 1, 0, 3, 2, 0 }, 11, "group lengths" },
        /* groups over the count */
        { { 1, 0, 1, 2, 0, 3, 2, 0 }, 8, "group lengths" },
        /* seqs as runs: a run of 3 for a count of 2 */
        { { 2, 1, 1, 2, 0, 3, 2, 2, 0, 0 }, 10, "seq runs" },
        /* addresses as runs (flags bit 7, a two-byte varint): a run of 3 for a count of 2 */
        { { 2, 0x80, 0x01, 1, 2, 0, 3, 2, 2, 2, 0 }, 11, "address runs" },
        /* an unknown flag bit (bit 8) */
        { { 1, 0x80, 2, 1, 1, 0, 3, 2, 0 }, 9, "unknown flags" },
        /* a thread index over the limit */
        { { 1, 0, 1, 1, 0x80, 0x80, 0x40, 3, 2, 0 }, 10, "thread index" },
        /* the address section cut short */
        { { 2, 0, 1, 2, 0, 3, 2, 2, 0 }, 9, "overrun" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t buf[64];
        size_t n = mw_enc_raw(buf, sizeof buf, MW_REC_REACH_C, bad[i].p, bad[i].n);
        mw_decoder d;
        mw_decoder_init(&d);
        mw_record r;
        size_t used;
        cr_assert_eq(mw_decode_record(&d, buf, n, 0, &r, &used, NULL), MW_CORRUPT, "case %zu", i);
        cr_assert(strstr(d.err, bad[i].err) && strstr(d.err, "REACH_C"), "case %zu: %s", i, d.err);
        mw_decoder_free(&d);
    }
    mw_reach_entry e = { { 1, 5 }, MW_REACH_DEFINITE, 0x1000 };
    uint8_t buf[64];
    size_t n = mw_enc_reach_c(buf, sizeof buf, &e, 1, NULL);
    cr_assert_eq(reach_records_match(buf, n, 5, &e, 1), 1);
    mw_decoder d;
    decoder_at(&d, 4);
    mw_record r;
    size_t used;
    cr_assert_eq(mw_decode_record(&d, buf, n, 0, &r, &used, NULL), MW_OK);
    cr_assert_eq(r.type, MW_REC_REACH_C);
    cr_assert_eq(used, n);
    mw_decoder_free(&d);
}

/* RSS_D (version 5): each sample as deltas from the stream's last RSS or RSS_D, read back
 * whole, up and down, at the extremes, after a whole RSS record (its base), and about half
 * the bytes of a whole record when memory moves by pages. Before version 5: an unknown record. */
Test(format_roundtrip, rss_d_round_trip)
{
    static const uint64_t samples[][7] = {
        { 100000000, 4096 * 900, 4096 * 300, 4096 * 600, 0, 4096 * 5000, 1 << 20 },
        { 200500000, 4096 * 950, 4096 * 350, 4096 * 600, 0, 4096 * 5100, 1 << 20 },
        { 300400000, 4096 * 10, 4096 * 2, 4096 * 8, 4096, 4096 * 5100, (1 << 20) + 4096 },
        { 250000000, U64MAX, U64MAX - 1, 1, 3, U64MAX, 7 },  /* time back, odd values */
        { U64MAX, 0, 0, 0, 0, 0, 0 },
        { 5, 1024, 2048, 3072, 0, 1 << 30, 12345 },
    };
    const size_t ns = sizeof samples / sizeof samples[0];
    mw_decoder d;
    mw_decoder_init(&d);
    mw_rss_last last = { 0 };
    for (int whole_first = 0; whole_first < 2; whole_first++) {
        last = (mw_rss_last){ 0 };
        mw_decoder_free(&d);
        mw_decoder_init(&d);
        for (size_t i = 0; i < ns; i++) {
            const uint64_t *s = samples[i];
            uint8_t buf[128], whole[128];
            size_t n, nw = mw_enc_rss(whole, sizeof whole, s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
            if (whole_first && i == 2) {
                n = nw;   /* a whole record in between: the next delta is against it */
                memcpy(buf, whole, n);
                last.t_ns = s[0];
                memcpy(last.v, s + 1, sizeof last.v);
            } else {
                n = mw_enc_rss_d(buf, sizeof buf, s[0], s + 1, &last);
                cr_assert_gt(n, 0);
                if (i == 1) cr_assert_lt(n * 2, nw + 4, "RSS_D %zu bytes, RSS %zu", n, nw);
            }
            mw_record r = dec1(&d, buf, n, NULL);
            cr_assert_eq(r.type, MW_REC_RSS);
            cr_assert_eq(r.u.rss.t_ns, s[0], "sample %zu", i);
            cr_assert_eq(r.u.rss.rss, s[1], "sample %zu", i);
            cr_assert_eq(r.u.rss.anon, s[2], "sample %zu", i);
            cr_assert_eq(r.u.rss.file, s[3], "sample %zu", i);
            cr_assert_eq(r.u.rss.shmem, s[4], "sample %zu", i);
            cr_assert_eq(r.u.rss.vm_size, s[5], "sample %zu", i);
            cr_assert_eq(r.u.rss.own, s[6], "sample %zu", i);
        }
    }
    mw_decoder_free(&d);
    /* version 4: type 0x48 unassigned */
    decoder_at(&d, 4);
    uint8_t buf[128];
    last = (mw_rss_last){ 0 };
    size_t n = mw_enc_rss_d(buf, sizeof buf, 1, samples[0] + 1, &last);
    mw_record r = dec1(&d, buf, n, NULL);
    cr_assert_eq(r.type, MW_REC_RSS_D);
    mw_decoder_free(&d);
}

/* MW_HF_SQL_CTX_DELTA: SQL_BEGIN/SQL_END ctx fields are per-thread deltas; the decoder gives
 * back the absolute ctx with the resume bit, across thread switches, nesting, out-of-order
 * ENDs and extreme values; the common BEGIN n+1 / END is one byte each. */
Test(format_roundtrip, sql_ctx_delta_layout)
{
    static const struct { uint64_t tidx, ctx; int begin; } ev[] = {
        { 0, 1, 1 }, { 0, 1, 0 }, { 0, 2, 1 }, { 0, 2 | MW_SQL_CTX_RESUME, 1 },
        { 0, 2 | MW_SQL_CTX_RESUME, 0 }, { 0, 2, 0 }, { 3, 7, 1 }, { 3, 9, 1 }, { 0, 10, 1 },
        { 3, 7, 0 }, { 3, 9, 0 }, { 0, 10, 0 }, { 3, MW_SQL_CTX_MASK, 1 },
        { 3, 5 | MW_SQL_CTX_RESUME, 1 }, { 3, MW_SQL_CTX_MASK | MW_SQL_CTX_RESUME, 0 },
        { 3, 5 | MW_SQL_CTX_RESUME, 0 }, { 0, 0, 1 }, { 0, 0, 0 },
    };
    const size_t nev = sizeof ev / sizeof ev[0];
    uint8_t buf[1024];
    size_t len = mw_enc_header(buf, sizeof buf, 1, 1, 4096, 0, 0, MW_HF_SQL_CTX_DELTA, "x", 1, "x", 1);
    uint64_t base[4] = { 0 }, cur = 0;
    for (size_t i = 0; i < nev; i++) {
        if (i == 0 || ev[i].tidx != cur) {
            cur = ev[i].tidx;
            len += mw_enc_thread_switch(buf + len, sizeof buf - len, cur);
        }
        size_t n = ev[i].begin ? mw_enc_sql_begin_d(buf + len, sizeof buf - len, ev[i].ctx, 0xfeed, &base[cur])
                               : mw_enc_sql_end_d(buf + len, sizeof buf - len, ev[i].ctx, base[cur]);
        cr_assert_gt(n, 0);
        if (i == 1 || i == 2) cr_assert_eq(n, ev[i].begin ? 6 : 3, "record %zu: %zu bytes", i, n);
        len += n;
    }
    mw_decoder d;
    mw_decoder_init(&d);
    mw_record r;
    size_t off = 0, used, k = 0;
    while (off < len) {
        cr_assert_eq(mw_decode_record(&d, buf + off, len - off, off, &r, &used, NULL), MW_OK, "%s", d.err);
        off += used;
        if (r.type != MW_REC_SQL_BEGIN && r.type != MW_REC_SQL_END) continue;
        cr_assert_lt(k, nev);
        cr_assert_eq(r.type, ev[k].begin ? MW_REC_SQL_BEGIN : MW_REC_SQL_END);
        cr_assert_eq(d.cur_tidx, ev[k].tidx);
        uint64_t got = ev[k].begin ? r.u.sql_begin.ctx : r.u.sql_end.ctx;
        cr_assert_eq(got, ev[k].ctx, "event %zu: %llx", k, (unsigned long long)got);
        if (ev[k].begin) cr_assert_eq(r.u.sql_begin.fp, 0xfeed);
        k++;
    }
    cr_assert_eq(k, nev);
    mw_decoder_free(&d);
}

/* The shim's inline hot-path encoder writes exactly what the checked encoder writes. */
Test(format_roundtrip, hot_encoders_match)
{
    static const uint64_t vals[] = { 0, 1, 127, 128, 16383, 16384, 1ull << 35, U64MAX >> 1, U64MAX };
    const size_t nv = sizeof vals / sizeof vals[0];
    uint8_t a[64], b[64];
    for (size_t i = 0; i < nv; i++)
        for (size_t j = 0; j < nv; j++) {
            mw_alloc_last last = { 0, 0, 0 };
            size_t n1 = mw_enc_alloc_noaddr(a, sizeof a, vals[i] % MW_AK_COUNT, vals[i], vals[j]);
            size_t n2 = mw_enc_alloc_noaddr_hot(b, vals[i] % MW_AK_COUNT, vals[i], vals[j], &last);
            cr_assert_eq(n1, n2);
            cr_assert_leq(n2, MW_ENC_HOT_CAP);
            cr_assert_eq(memcmp(a, b, n1), 0);
            /* the same kind and stack again: the compact ALLOC_SAME form */
            n1 = mw_enc_alloc_same(a, sizeof a, vals[j]);
            n2 = mw_enc_alloc_noaddr_hot(b, vals[i] % MW_AK_COUNT, vals[j], vals[j], &last);
            cr_assert_eq(n1, n2);
            cr_assert_eq(b[0], MW_REC_ALLOC_SAME);
            cr_assert_leq(n2, MW_ENC_HOT_CAP);
            cr_assert_eq(memcmp(a, b, n1), 0);
            /* another stack: in full again */
            n2 = mw_enc_alloc_noaddr_hot(b, vals[i] % MW_AK_COUNT, 5, vals[j] + 1, &last);
            cr_assert_eq(b[0], MW_REC_ALLOC);
        }
}

/* Version 2's compact forms decode into ordinary ALLOC and FREE records, with the kind and
 * stack of the thread's last full ALLOC, per thread, and the FREE_NEAR distance limit. */
Test(format_roundtrip, compact_forms)
{
    uint8_t buf[512];
    size_t len = 0;
    len += mw_enc_header(buf + len, sizeof buf - len, 1, 1, 4096, 0, 0, MW_HF_NO_ADDRESSES, "x", 1, "x", 1);
    mw_alloc_last last0 = { 0, 0, 0 }, last1 = { 0, 0, 0 };
    len += mw_enc_thread_switch(buf + len, sizeof buf - len, 0);
    len += mw_enc_alloc_noaddr_hot(buf + len, MW_AK_CALLOC, 24, 7, &last0);  /* t0 seq 1, full */
    len += mw_enc_alloc_noaddr_hot(buf + len, MW_AK_CALLOC, 300, 7, &last0); /* t0 seq 2, same */
    len += mw_enc_thread_switch(buf + len, sizeof buf - len, 1);
    len += mw_enc_alloc_noaddr_hot(buf + len, MW_AK_MALLOC, 8, 9, &last1);   /* t1 seq 1, full */
    len += mw_enc_thread_switch(buf + len, sizeof buf - len, 0);
    len += mw_enc_alloc_noaddr_hot(buf + len, MW_AK_CALLOC, 5, 7, &last0);   /* t0 seq 3, same */
    size_t near = mw_enc_free(buf + len, sizeof buf - len, (mw_block_ref){ 0, 1 }, 0, 3);
    cr_assert_eq(near, 1);
    cr_assert_eq(buf[len], MW_REC_FREE_NEAR | 2);
    len += near;
    len += mw_enc_free(buf + len, sizeof buf - len, (mw_block_ref){ 1, 1 }, 0, 3); /* other thread */
    /* the distance limit: 127 back is near, 128 back is the full form */
    uint8_t b2[32];
    cr_assert_eq(mw_enc_free(b2, sizeof b2, (mw_block_ref){ 0, 1 }, 0, 128), 1);
    cr_assert_eq(b2[0], 0xFF);
    size_t far = mw_enc_free(b2, sizeof b2, (mw_block_ref){ 0, 1 }, 0, 129);
    cr_assert_gt(far, 1);
    cr_assert_eq(b2[0], MW_REC_FREE);
    cr_assert_eq(mw_enc_free(b2, 0, (mw_block_ref){ 0, 1 }, 0, 3), 0, "no room: nothing written");

    mw_decoder d;
    mw_decoder_init(&d);
    mw_record r;
    size_t off = 0, used;
    uint64_t seq;
    struct { unsigned type; uint64_t kind, size, stack, seq, rtidx, rseq; } want[] = {
        { MW_REC_HEADER, 0, 0, 0, 0, 0, 0 },
        { MW_REC_THREAD_SWITCH, 0, 0, 0, 0, 0, 0 },
        { MW_REC_ALLOC, MW_AK_CALLOC, 24, 7, 1, 0, 0 },
        { MW_REC_ALLOC, MW_AK_CALLOC, 300, 7, 2, 0, 0 },
        { MW_REC_THREAD_SWITCH, 0, 0, 0, 0, 0, 0 },
        { MW_REC_ALLOC, MW_AK_MALLOC, 8, 9, 1, 0, 0 },
        { MW_REC_THREAD_SWITCH, 0, 0, 0, 0, 0, 0 },
        { MW_REC_ALLOC, MW_AK_CALLOC, 5, 7, 3, 0, 0 },
        { MW_REC_FREE, 0, 0, 0, 0, 0, 1 },
        { MW_REC_FREE, 0, 0, 0, 0, 1, 1 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        seq = 0;
        cr_assert_eq(mw_decode_record(&d, buf + off, len - off, off, &r, &used, &seq), MW_OK, "record %zu: %s", i, d.err);
        cr_assert_eq(r.type, want[i].type, "record %zu", i);
        if (r.type == MW_REC_ALLOC) {
            cr_assert_eq(r.u.alloc.kind, want[i].kind, "record %zu", i);
            cr_assert_eq(r.u.alloc.size, want[i].size, "record %zu", i);
            cr_assert_eq(r.u.alloc.stack, want[i].stack, "record %zu", i);
            cr_assert_eq(seq, want[i].seq, "record %zu", i);
        }
        if (r.type == MW_REC_FREE) {
            cr_assert_eq(r.u.free.ref.tidx, want[i].rtidx, "record %zu", i);
            cr_assert_eq(r.u.free.ref.seq, want[i].rseq, "record %zu", i);
        }
        off += used;
    }
    cr_assert_eq(off, len);
    mw_decoder_free(&d);

    /* damaged compact records: cut, before any ALLOC, too far back, in a trace with addresses */
    mw_decoder_init(&d);
    d.hflags = MW_HF_NO_ADDRESSES;
    uint8_t cut[] = { MW_REC_ALLOC_SAME, 0x80 };
    cr_assert_eq(mw_decode_record(&d, cut, 1, 0, &r, &used, NULL), MW_NEED_MORE);
    cr_assert_eq(mw_decode_record(&d, cut, 2, 0, &r, &used, NULL), MW_NEED_MORE);
    uint8_t same[] = { MW_REC_ALLOC_SAME, 0x05 };
    cr_assert_eq(mw_decode_record(&d, same, 2, 0, &r, &used, NULL), MW_CORRUPT);
    cr_assert(strstr(d.err, "ALLOC_SAME"), "%s", d.err);
    uint8_t fnear[] = { MW_REC_FREE_NEAR | 3 };
    cr_assert_eq(mw_decode_record(&d, fnear, 1, 0, &r, &used, NULL), MW_CORRUPT);
    cr_assert(strstr(d.err, "FREE_NEAR record (type 0x83)"), "%s", d.err);
    d.hflags = 0;
    uint8_t full[16];
    size_t fl = mw_enc_alloc(full, sizeof full, MW_AK_MALLOC, 1, 1, 0x1000, NULL);
    cr_assert_eq(mw_decode_record(&d, full, fl, 0, &r, &used, NULL), MW_OK);
    cr_assert_eq(mw_decode_record(&d, same, 2, 0, &r, &used, NULL), MW_CORRUPT);
    cr_assert(strstr(d.err, "with addresses"), "%s", d.err);
    mw_decoder_free(&d);

    /* in a version 1 stream the same bytes are ordinary (unknown) records with a length */
    mw_decoder_init(&d);
    uint8_t pre[MW_PREAMBLE_LEN] = { 'M', 'E', 'M', 'W', 'A', 'T', 'C', 'H', 1, 0, 0, 0 };
    uint32_t v;
    cr_assert_eq(mw_decode_preamble(&d, pre, sizeof pre, &v), MW_OK);
    cr_assert_eq(v, 1);
    uint8_t old[] = { 0x90, 0x01, 0x00 };
    cr_assert_eq(mw_decode_record(&d, old, sizeof old, 0, &r, &used, NULL), MW_OK);
    cr_assert_eq(used, 3);
    cr_assert_eq(r.type, 0x90);
    /* and STACK_NODE_D's type, unassigned in version 1, is an unknown record there */
    uint8_t sn[] = { MW_REC_STACK_NODE_D, 3, 0x00, 0x05, 0x00 };
    cr_assert_eq(mw_decode_record(&d, sn, sizeof sn, 0, &r, &used, NULL), MW_OK);
    cr_assert_eq(r.type, MW_REC_STACK_NODE_D);
    cr_assert_eq(used, 5);
    mw_decoder_free(&d);
}

/* For every encoder: every cap below the record size returns 0 and writes nothing. */
static void check_caps(size_t (*enc)(uint8_t *, size_t, const void *), const void *arg)
{
    static uint8_t buf[20000], ref[20000];
    size_t full = enc(buf, sizeof buf, arg);
    cr_assert_gt(full, 1);
    memcpy(ref, buf, full);
    for (size_t cap = 0; cap < full; cap++) {
        memset(buf, 0xEE, sizeof buf);
        cr_assert_eq(enc(buf, cap, arg), 0, "cap %zu of %zu", cap, full);
        for (size_t i = 0; i < full; i++) cr_assert_eq(buf[i], 0xEE, "byte %zu written at cap %zu", i, cap);
    }
    cr_assert_eq(enc(buf, full, arg), full);
    cr_assert_eq(memcmp(buf, ref, full), 0);
}

#define U 0xFFFFFFFFFFFFFFull
static size_t e_pre(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_preamble(d, c); }
static size_t e_hdr(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_header(d, c, U, U, U, U, U, U, "exe", 3, "a\0", 2); }
static size_t e_end(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_end(d, c, U, U, U, 1, -5); }
static size_t e_time(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_time(d, c, U); }
static size_t e_sw(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_thread_switch(d, c, 300); }
static size_t e_ts(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_thread_start(d, c, 1, U, 0, "n", 1); }
static size_t e_tn(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_thread_name(d, c, 1, "nm", 2); }
static size_t e_te(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_thread_end(d, c, U); }
static size_t e_ml(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_module_load(d, c, 1, U, U, U, (const uint8_t *)"bid", 3, "p", 1); }
static size_t e_mu(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_module_unload(d, c, U); }
static size_t e_sn(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_stack_node(d, c, U, U, U); }
static size_t e_al(uint8_t *d, size_t c, const void *a) { (void)a; uint64_t p = 5; size_t n = mw_enc_alloc(d, c, 1, U, U, U, &p); cr_assert_eq(p, n ? U : 5); return n; }
static size_t e_fr(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_free(d, c, (mw_block_ref){ 2, U }, 1, 9); }
static size_t e_rl(uint8_t *d, size_t c, const void *a) { (void)a; uint64_t p = 5; size_t n = mw_enc_realloc(d, c, (mw_block_ref){ 1, 3 }, 1, 9, U, U, 0, &p); cr_assert_eq(p, n ? 0 : 5); return n; }
static size_t e_mm(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_mmap(d, c, U, U, 3, 34, -1, U, U, "f", 1); }
static size_t e_mu2(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_munmap(d, c, U, U, U); }
static size_t e_mr(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_mremap(d, c, U, U, U, U, U); }
static size_t e_rss(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_rss(d, c, U, U, U, U, U, U, U); }
static size_t e_sq(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_sql_query(d, c, U, 1, "select", 6); }
static size_t e_sb(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_sql_begin(d, c, U, U); }
static size_t e_se(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_sql_end(d, c, U); }
static size_t e_so(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_sql_res_open(d, c, 1, U, U, U, 2); }
static size_t e_sc(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_sql_res_close(d, c, 1, U); }
static size_t e_wr(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_watch_reg(d, c, U, U, U, U, "x", 1); }
static size_t e_wu(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_watch_unreg(d, c, U, 1); }
static size_t e_wm(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_watch_meta(d, c, U, "k", 1, "v", 1); }
static size_t e_ww(uint8_t *d, size_t c, const void *a)
{
    (void)a;
    static const uint8_t o[16] = { 1 }, n2[16] = { 2 };
    mw_watch_write_args w = { .id = U, .offset = U, .len = 16, .tid = U, .pc = U, .stack = U,
                              .sql_fp = U, .flags = MW_WF_HAS_BYTES, .t_ns = U, .syscall = -1,
                              .old_bytes = o, .new_bytes = n2, .bytes_len = 16,
                              .loc_file = "f", .loc_file_len = 1, .loc_line = U,
                              .loc_func = "g", .loc_func_len = 1 };
    return mw_enc_watch_write(d, c, &w);
}
static size_t e_mk(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_mark(d, c, "label", 5); }
/* One entry by a REACH encoder: *done says whether it went in. */
static size_t reach1(size_t (*enc)(uint8_t *, size_t, const mw_reach_entry *, size_t, size_t *), uint8_t *d, size_t c)
{
    static const mw_reach_entry e[1] = { { { 1, U }, 1, U } };
    size_t done = 7;
    size_t n = enc(d, c, e, 1, &done);
    cr_assert_eq(done, n ? 1u : 0u);
    return n;
}
static size_t e_rc(uint8_t *d, size_t c, const void *a) { (void)a; return reach1(mw_enc_reach, d, c); }
static size_t e_lo(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_lost(d, c, U, U); }
static size_t e_fk(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_fork(d, c, U); }
static size_t e_ex(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_exec(d, c, "/bin/sh", 7); }
static size_t e_sp(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_spawn(d, c, U, "/bin/sh", 7); }
static size_t e_li(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_limits(d, c, U, U, U); }
static size_t e_raw(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_raw(d, c, 0x7f, (const uint8_t *)"abc", 3); }
static size_t e_fs(uint8_t *d, size_t c, const void *a) { (void)a; return mw_enc_fatal_signal(d, c, U, 11, 1, U, U); }
static size_t e_rcc(uint8_t *d, size_t c, const void *a) { (void)a; return reach1(mw_enc_reach_c, d, c); }
static size_t e_rssd(uint8_t *d, size_t c, const void *a)
{
    (void)a;
    static const uint64_t v[6] = { U, 4096, U, 0, 1, U };
    mw_rss_last last = { 3, { 1, 2, 3, 4, 5, 6 } };
    size_t n = mw_enc_rss_d(d, c, U, v, &last);
    cr_assert_eq(last.t_ns, n ? U : 3);
    return n;
}

Test(format_roundtrip, encoders_return_zero_when_cap_too_small)
{
    size_t (*const encs[])(uint8_t *, size_t, const void *) = {
        e_pre, e_hdr, e_end, e_time, e_sw, e_ts, e_tn, e_te, e_ml, e_mu, e_sn, e_al, e_fr,
        e_rl, e_mm, e_mu2, e_mr, e_rss, e_sq, e_sb, e_se, e_so, e_sc, e_wr, e_wu, e_wm,
        e_ww, e_mk, e_rc, e_lo, e_fk, e_ex, e_sp, e_li, e_raw, e_fs, e_rcc, e_rssd,
    };
    for (size_t i = 0; i < sizeof encs / sizeof encs[0]; i++) check_caps(encs[i], NULL);
}

/* Payloads of 127/128 bytes and more: the length varint grows to 2 and 3 bytes. */
Test(format_roundtrip, payload_length_varint_sizes)
{
    static char s[MW_MAX_STR];
    memset(s, 'x', sizeof s);
    uint8_t buf[8192];
    mw_decoder d;
    mw_decoder_init(&d);
    for (size_t len = 120; len < 140; len++) {
        size_t n = mw_enc_mark(buf, sizeof buf, s, len);
        mw_record r = dec1(&d, buf, n, NULL);
        cr_assert(bytes_eq(r.u.mark.label, s, len));
    }
    size_t n = mw_enc_mark(buf, sizeof buf, s, MW_MAX_STR);
    mw_record r = dec1(&d, buf, n, NULL);
    cr_assert_eq(r.length, MW_MAX_STR + 2);
    mw_decoder_free(&d);
}

Test(format_roundtrip, names)
{
    cr_assert_str_eq(mw_record_type_name(MW_REC_ALLOC), "ALLOC");
    cr_assert_str_eq(mw_record_type_name(MW_REC_LIMITS), "LIMITS");
    cr_assert_str_eq(mw_record_type_name(MW_REC_FATAL_SIGNAL), "FATAL_SIGNAL");
    cr_assert_str_eq(mw_record_type_name(0x6E), "unknown");
    cr_assert_str_eq(mw_record_type_name(0xEE), "FREE_NEAR");
    cr_assert_str_eq(mw_record_type_name(MW_REC_ALLOC_SAME), "ALLOC_SAME");
    cr_assert_str_eq(mw_alloc_kind_name(MW_AK_POSIX_MEMALIGN), "posix_memalign");
    cr_assert_str_eq(mw_alloc_kind_name(MW_AK_COUNT), "unknown");
}

/* STACK_NODE_D: per-thread deltas of id and ip, parent as a back distance; decoded into
 * ordinary STACK_NODE records with absolute fields, across thread switches. */
Test(format_roundtrip, stack_node_deltas)
{
    static const struct { uint64_t tidx, id, parent, ip; } nodes[] = {
        { 0, 1, 0, 0x7f0000401000ull }, { 0, 2, 1, 0x7f0000401234ull }, { 1, 3, 0, 0x555500001000ull },
        { 0, 4, 2, 0x7f0000300000ull }, { 1, 9, 3, 0x7f0000401000ull }, { 0, 5, 0, U64MAX },
        { 0, 6, 5, 0 }, { 1, U64MAX, 9, 1 },
    };
    const size_t nn = sizeof nodes / sizeof nodes[0];
    uint8_t buf[1024];
    size_t len = 0;
    mw_node_last last[2] = { { 0, 0 }, { 0, 0 } };
    uint64_t cur = UINT64_MAX;
    for (size_t i = 0; i < nn; i++) {
        if (nodes[i].tidx != cur) len += mw_enc_thread_switch(buf + len, sizeof buf - len, cur = nodes[i].tidx);
        size_t n = mw_enc_stack_node_d(buf + len, sizeof buf - len, nodes[i].id, nodes[i].parent, nodes[i].ip, &last[cur]);
        cr_assert_gt(n, 0);
        cr_assert_eq(buf[len], MW_REC_STACK_NODE_D);
        len += n;
    }
    /* consecutive nodes of one thread in one module take a few bytes, not 10+ */
    mw_node_last l = { 1, 0x7f0000401000ull };
    cr_assert_eq(mw_enc_stack_node_d(buf + len, sizeof buf - len, 2, 1, 0x7f0000401234ull, &l), 6); /* type, len, 0, 1, 2-byte ip delta */
    mw_decoder d;
    mw_decoder_init(&d);
    size_t off = 0, used, k = 0;
    mw_record r;
    while (off < len && k < nn) {
        cr_assert_eq(mw_decode_record(&d, buf + off, len - off, off, &r, &used, NULL), MW_OK, "%s", d.err);
        off += used;
        if (r.type == MW_REC_THREAD_SWITCH) continue;
        cr_assert_eq(r.type, MW_REC_STACK_NODE);
        cr_assert_eq(r.u.stack_node.id, nodes[k].id, "node %zu", k);
        cr_assert_eq(r.u.stack_node.parent, nodes[k].parent, "node %zu", k);
        cr_assert_eq(r.u.stack_node.ip, nodes[k].ip, "node %zu", k);
        k++;
    }
    cr_assert_eq(k, nn);
    mw_decoder_free(&d);
    /* a parent after its node is corruption */
    mw_decoder_init(&d);
    const uint8_t bad[] = { MW_REC_STACK_NODE_D, 3, 0x00, 0x05, 0x00 }; /* id 1, back 5 */
    cr_assert_eq(mw_decode_record(&d, bad, sizeof bad, 0, &r, &used, NULL), MW_CORRUPT);
    cr_assert(strstr(d.err, "STACK_NODE_D"), "%s", d.err);
    mw_decoder_free(&d);
}

/* INHERIT: a fork child's copies of its parent's blocks. Each creates the next block of the
 * current thread stream, like an ALLOC; the parent's seq and the address are deltas against
 * the previous INHERIT (going down as well as up); a FREE names the block by its new id; a
 * parent thread index over the limit is corruption. */
Test(format_roundtrip, inherit_blocks)
{
    mw_tracebuf b;
    mw_tb_init_empty(&b);
    mw_tb_switch(&b, 3);
    const uint64_t sizes[] = { 48, 0, U64MAX, 4096 };
    const mw_block_ref parents[] = { { 0, 7 }, { 5, 2 }, { MW_MAX_TIDX, U64MAX }, { 1, 1 } };
    const uint64_t addrs[] = { 0x5555eeee0000ull, 0x5555eeee0040ull, 16, 0 };
    mw_inherit_last last = { 0, 0 };
    for (int i = 0; i < 4; i++) MW_TB_ADD(&b, mw_enc_inherit, sizes[i], parents[i], addrs[i], &last);
    cr_assert_eq(last.seq, 1);
    cr_assert_eq(last.addr, 0);
    mw_block_ref a = mw_tb_alloc(&b, MW_AK_MALLOC, 8, 1, 0x1000);
    mw_tb_switch(&b, 0);
    mw_tb_free_block(&b, (mw_block_ref){ 3, 2 });

    mw_decoder d;
    mw_decoder_init(&d);
    size_t off = 0, used;
    mw_record r;
    uint64_t seq;
    cr_assert_eq(mw_decode_record(&d, b.data, b.len, 0, &r, &used, &seq), MW_OK, "%s", d.err);
    off += used;
    for (int i = 0; i < 4; i++) {
        seq = 0;
        cr_assert_eq(mw_decode_record(&d, b.data + off, b.len - off, off, &r, &used, &seq), MW_OK, "%s", d.err);
        off += used;
        cr_assert_eq(r.type, MW_REC_INHERIT);
        cr_assert_str_eq(mw_record_type_name(r.type), "INHERIT");
        cr_assert_eq(r.u.inherit.size, sizes[i]);
        cr_assert_eq(r.u.inherit.parent.tidx, parents[i].tidx);
        cr_assert_eq(r.u.inherit.parent.seq, parents[i].seq);
        cr_assert_eq(r.u.inherit.addr, addrs[i]);
        cr_assert_eq(seq, (uint64_t)i + 1, "INHERIT %d is block %lu of its stream", i, (unsigned long)seq);
    }
    cr_assert_eq(mw_decode_record(&d, b.data + off, b.len - off, off, &r, &used, &seq), MW_OK, "%s", d.err);
    off += used;
    cr_assert_eq(r.type, MW_REC_ALLOC);
    cr_assert_eq(seq, 5, "the ALLOC after four INHERITs");
    cr_assert_eq(seq, a.seq + 4, "(the test buffer counts ALLOCs only)");
    cr_assert_eq(mw_decode_record(&d, b.data + off, b.len - off, off, &r, &used, &seq), MW_OK, "%s", d.err);
    off += used;
    cr_assert_eq(mw_decode_record(&d, b.data + off, b.len - off, off, &r, &used, &seq), MW_OK, "%s", d.err);
    off += used;
    cr_assert_eq(r.type, MW_REC_FREE);
    cr_assert_eq(r.u.free.ref.tidx, 3);
    cr_assert_eq(r.u.free.ref.seq, 2);
    cr_assert_eq(off, b.len);

    /* a parent thread index over the limit */
    uint8_t buf[64];
    mw_inherit_last l2 = { 0, 0 };
    size_t n = mw_enc_inherit(buf, sizeof buf, 1, (mw_block_ref){ MW_MAX_TIDX + 1, 1 }, 0, &l2);
    cr_assert_eq(mw_decode_record(&d, buf, n, 77, &r, &used, &seq), MW_CORRUPT);
    cr_assert(strstr(d.err, "INHERIT") && strstr(d.err, "offset 77"), "%s", d.err);
    /* fields missing */
    const uint8_t cut[] = { MW_REC_INHERIT, 2, 1, 0 };
    cr_assert_eq(mw_decode_record(&d, cut, sizeof cut, 78, &r, &used, &seq), MW_CORRUPT);
    cr_assert(strstr(d.err, "INHERIT"), "%s", d.err);
    /* an encoder without room writes nothing and leaves its state */
    mw_inherit_last before = l2;
    cr_assert_eq(mw_enc_inherit(buf, 3, 1, (mw_block_ref){ 1, 9 }, 0x9000, &l2), 0);
    cr_assert(l2.seq == before.seq && l2.addr == before.addr);
    mw_decoder_free(&d);
    mw_tb_release(&b);
}
