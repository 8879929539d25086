/*
 * make_seeds.c — writes a few valid (and a few deliberately damaged) traces into a directory,
 * as the starting corpus of the decoder fuzzer. Built and run by scripts/fuzz-seed; every
 * trace goes through the real encoder (mw_tracefile.h).
 *
 * usage: make_seeds DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_format.h"
#include "mw_tracefile.h"

static void tb_emit(void *ctx, const uint8_t *p, size_t n, int block_end)
{
    (void)block_end;
    mw_tb_append(ctx, p, n);
}

/* One of every record type, two threads, refs both ways. */
static void every_record(mw_tracebuf *b)
{
    static const uint8_t oldb[8] = { 1, 2, 3, 4 }, newb[8] = { 5, 6, 7, 8 };
    mw_tb_init(b);
    MW_TB_ADD(b, mw_enc_header, 100, 1, 4096, 1700000000000000000ull, 5000, 0xf, "/usr/bin/app", 12, "app\0-v\0", 7);
    MW_TB_ADD(b, mw_enc_limits, 1ull << 30, 0, 8ull << 30);
    MW_TB_ADD(b, mw_enc_module_load, 1, 0x555500000000ull, 0x555500000000ull, 0x20000, (const uint8_t *)"0123456789abcdefghij", 20, "/usr/bin/app", 12);
    MW_TB_ADD(b, mw_enc_stack_node, 1, 0, 0x555500001234ull);
    MW_TB_ADD(b, mw_enc_stack_node, 2, 1, 0x555500005678ull);
    mw_tb_switch(b, 0);
    MW_TB_ADD(b, mw_enc_thread_start, 0, 100, 0, "main", 4);
    MW_TB_ADD(b, mw_enc_time, 1000);
    mw_block_ref a = mw_tb_alloc(b, MW_AK_MALLOC, 64, 2, 0x5555aaaa0010ull);
    mw_block_ref c = mw_tb_alloc(b, MW_AK_CALLOC, 4096, 1, 0x5555aaaa1000ull);
    MW_TB_ADD(b, mw_enc_sql_query, 0xabcdef, MW_DB_SQLITE, "SELECT * FROM t WHERE id = ?", 28);
    MW_TB_ADD(b, mw_enc_sql_begin, 1, 0xabcdef);
    MW_TB_ADD(b, mw_enc_sql_res_open, MW_RES_STATEMENT, 0x5555bbbb0000ull, 0xabcdef, 2, MW_DB_SQLITE);
    MW_TB_ADD(b, mw_enc_sql_end, 1);
    MW_TB_ADD(b, mw_enc_mmap, 0x7f0000000000ull, 1 << 20, 3, 0x22, -1, 0, 2, "", 0);
    MW_TB_ADD(b, mw_enc_mremap, 0x7f0000000000ull, 1 << 20, 0x7f1000000000ull, 2 << 20, 2);
    MW_TB_ADD(b, mw_enc_munmap, 0x7f1000000000ull, 2 << 20, 2);
    mw_tb_switch(b, 1);
    MW_TB_ADD(b, mw_enc_thread_start, 1, 101, 0, "worker", 6);
    MW_TB_ADD(b, mw_enc_thread_name, 1, "worker-1", 8);
    mw_tb_free_block(b, a);
    mw_block_ref w = mw_tb_alloc(b, MW_AK_POSIX_MEMALIGN, 128, 2, 0x5555cccc0000ull);
    mw_tb_realloc(b, w, 256, 2, 0x5555cccc1000ull);
    MW_TB_ADD(b, mw_enc_watch_reg, 1, 0x5555dddd0000ull, 8, 0x13, "g_balance", 9);
    MW_TB_ADD(b, mw_enc_watch_meta, 1, "type", 4, "int64", 5);
    mw_watch_write_args ww = { .id = 1, .offset = 0, .len = 8, .tid = 101, .pc = 0x555500001234ull,
                               .stack = 2, .sql_fp = 0xabcdef, .flags = MW_WF_HAS_BYTES, .t_ns = 2000,
                               .syscall = -1, .old_bytes = oldb, .new_bytes = newb, .bytes_len = 8,
                               .loc_file = "app.c", .loc_file_len = 5, .loc_line = 42,
                               .loc_func = "deposit", .loc_func_len = 7 };
    MW_TB_ADD(b, mw_enc_watch_write, &ww);
    MW_TB_ADD(b, mw_enc_watch_unreg, 1, MW_UNWATCH_EXPLICIT);
    MW_TB_ADD(b, mw_enc_thread_end, 1);
    mw_tb_switch(b, 0);
    mw_tb_realloc(b, c, 8192, 1, 0x5555aaab0000ull);
    MW_TB_ADD(b, mw_enc_sql_res_close, MW_RES_STATEMENT, 0x5555bbbb0000ull);
    MW_TB_ADD(b, mw_enc_mark, "phase 2", 7);
    MW_TB_ADD(b, mw_enc_rss, 3000, 8 << 20, 6 << 20, 2 << 20, 0, 64 << 20, 3 << 20);
    /* a fork child's inherited blocks: a stream of their own, freed from thread 0 */
    mw_tb_switch(b, 2);
    MW_TB_ADD(b, mw_enc_thread_start, 2, 0, 0, "(inherited from pid 1)", 22);
    mw_inherit_last il = { 0, 0 };
    MW_TB_ADD(b, mw_enc_inherit, 48, ((mw_block_ref){ 0, 7 }), 0x5555eeee0000ull, &il);
    MW_TB_ADD(b, mw_enc_inherit, 16, ((mw_block_ref){ 3, 2 }), 0x5555eeee0040ull, &il);
    mw_tb_switch(b, 0);
    mw_tb_free_block(b, (mw_block_ref){ 2, 1 });
    MW_TB_ADD(b, mw_enc_fatal_signal, 3100, 11, 1, 0, 1);
    MW_TB_ADD(b, mw_enc_fork, 102);
    MW_TB_ADD(b, mw_enc_exec, "/bin/true", 9);
    MW_TB_ADD(b, mw_enc_spawn, 103, "/sbin/ldconfig", 14);
    MW_TB_ADD(b, mw_enc_lost, 0, 0);
    MW_TB_ADD(b, mw_enc_module_unload, 1);
    const mw_reach_entry re[3] = { { { 0, 2 }, MW_REACH_DEFINITE, 0x5555aaaa1000ull }, { { 1, 2 }, MW_REACH_REACHABLE, 0x5555aaab0000ull }, { { 0, 3 }, MW_REACH_INDIRECT, 0x5555aaaa0400ull } };
    mw_tb_reach(b, re, 3, 2);
    MW_TB_ADD(b, mw_enc_raw, 0xEE, (const uint8_t *)"future", 6);
    MW_TB_ADD(b, mw_enc_end, 4000, 0, 0, MW_END_EXIT, 0);
}

static int put(const char *dir, const char *name, const mw_tracebuf *b, mw_tb_opts o)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (mw_tb_write_file(b, &o, path) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    mw_tracebuf b;
    every_record(&b);
    int bad = 0;
    mw_tb_opts o = MW_TB_OPTS_DEFAULT;
    o.raw = 1;
    bad |= put(argv[1], "every-record.raw", &b, o);
    o.truncate_at = (int64_t)b.len / 2;
    bad |= put(argv[1], "every-record-truncated.raw", &b, o);
    o = MW_TB_OPTS_DEFAULT;
    bad |= put(argv[1], "every-record.zst", &b, o);
    o.frame_bytes = 200;
    o.flush_bytes = 64;
    bad |= put(argv[1], "every-record-frames.zst", &b, o);
    o.frame_bytes = 0;
    o.truncate_at = 150;
    bad |= put(argv[1], "every-record-killed.zst", &b, o);
    mw_tb_release(&b);

    /* many small allocations on three threads: the common shape of a real trace */
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, 7, 1, 4096, 0, 0, MW_HF_ALLOC_TRACING, "x", 1, "x", 1);
    mw_block_ref refs[64];
    for (int i = 0; i < 64; i++) {
        if (i % 8 == 0) mw_tb_switch(&b, (uint64_t)(i / 8 % 3));
        refs[i] = mw_tb_alloc(&b, (uint64_t)(i % MW_AK_COUNT), (uint64_t)i * 24, (uint64_t)(i % 5), 0x10000 + (uint64_t)((i * 7919) % 4096) * 16);
        if (i > 3 && i % 3 == 0) mw_tb_free_block(&b, refs[i - 3]);
    }
    o = MW_TB_OPTS_DEFAULT;
    o.raw = 1;
    bad |= put(argv[1], "allocs.raw", &b, o);
    mw_tb_release(&b);

    /* the shim's default layout: no block addresses, SQL context ids as per-thread deltas */
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, 8, 1, 4096, 0, 0, MW_HF_ALLOC_TRACING | MW_HF_NO_ADDRESSES | MW_HF_SQL_CTX_DELTA, "x", 1, "x", 1);
    uint64_t sql_base[2] = { 0, 0 }, seq[2] = { 0, 0 };
    for (uint64_t i = 0; i < 40; i++) {
        uint64_t tidx = i / 10 % 2;
        if (i % 10 == 0) mw_tb_switch(&b, tidx);
        MW_TB_ADD(&b, mw_enc_sql_begin_d, i + 1, 0xabcdef, &sql_base[tidx]);
        MW_TB_ADD(&b, mw_enc_alloc_noaddr, MW_AK_MALLOC, 16 + i, i % 3);
        seq[tidx]++;
        if (i % 4 == 3) /* frees the block allocated two steps ago: a back-distance */
            MW_TB_ADD(&b, mw_enc_free, (mw_block_ref){ tidx, seq[tidx] - 1 }, tidx, seq[tidx]);
        if (i % 5 == 4) { /* reallocs the block just allocated */
            MW_TB_ADD(&b, mw_enc_realloc_noaddr, (mw_block_ref){ tidx, seq[tidx] }, tidx, seq[tidx], 99, 0);
            seq[tidx]++;
        }
        MW_TB_ADD(&b, mw_enc_sql_end_d, (i + 1) | (i % 2 ? MW_SQL_CTX_RESUME : 0), sql_base[tidx]);
    }
    const mw_reach_entry lr[2] = { { { 0, 1 }, MW_REACH_DEFINITE, 0x7f0000001000ull }, { { 1, 1 }, MW_REACH_REACHABLE, 0x7f0000000040ull } };
    mw_tb_reach(&b, lr, 2, 0);
    MW_TB_ADD(&b, mw_enc_end, 5000, 0, 0, MW_END_EXIT, 0);
    o = MW_TB_OPTS_DEFAULT;
    o.raw = 1;
    bad |= put(argv[1], "shim-default.raw", &b, o);
    mw_tb_release(&b);

    /* version 2's compact forms, as the shim writes them: STACK_NODE_D, ALLOC_SAME for an
     * allocation with the kind and stack of the thread's previous one, FREE_NEAR up to 127
     * blocks back */
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, 9, 1, 4096, 0, 0, MW_HF_ALLOC_TRACING | MW_HF_NO_ADDRESSES | MW_HF_SQL_CTX_DELTA, "x", 1, "x", 1);
    mw_alloc_last last[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
    uint64_t cseq[2] = { 0, 0 };
    mw_node_last nl = { 0, 0 }; /* stacks 1..4: a chain 1 <- 2 <- 3, and 4 under 1 */
    mw_tb_switch(&b, 0);
    MW_TB_ADD(&b, mw_enc_stack_node_d, 1, 0, 0x555500001234ull, &nl);
    MW_TB_ADD(&b, mw_enc_stack_node_d, 2, 1, 0x555500005678ull, &nl);
    MW_TB_ADD(&b, mw_enc_stack_node_d, 3, 2, 0x7f1234567890ull, &nl);
    MW_TB_ADD(&b, mw_enc_stack_node_d, 4, 1, 0x555500000010ull, &nl);
    for (uint64_t i = 0; i < 300; i++) {
        uint64_t tidx = i / 50 % 2, kind = i % 7 == 0 ? MW_AK_CALLOC : MW_AK_MALLOC, stack = i / 3 % 4 + 1;
        if (i % 50 == 0) mw_tb_switch(&b, tidx);
        mw_alloc_last *l = &last[tidx];
        if (l->valid && l->kind == kind && l->stack == stack) {
            MW_TB_ADD(&b, mw_enc_alloc_same, 16 + i);
        } else {
            MW_TB_ADD(&b, mw_enc_alloc_noaddr, kind, 16 + i, stack);
            *l = (mw_alloc_last){ kind, stack, 1 };
        }
        cseq[tidx]++;
        if (i % 2 == 1) /* near: the block allocated just before */
            MW_TB_ADD(&b, mw_enc_free, (mw_block_ref){ tidx, cseq[tidx] - 1 }, tidx, cseq[tidx]);
    }
    /* far: thread 0's first block, 150 blocks back */
    mw_tb_switch(&b, 0);
    MW_TB_ADD(&b, mw_enc_free, (mw_block_ref){ 0, 2 }, 0, cseq[0]);
    MW_TB_ADD(&b, mw_enc_end, 5000, 0, 0, MW_END_EXIT, 0);
    o = MW_TB_OPTS_DEFAULT;
    o.raw = 1;
    bad |= put(argv[1], "shim-compact.raw", &b, o);
    mw_tb_release(&b);

    /* version 3's coded runs, made by the writer's coder from churn records of two threads:
     * random frees among 64 live blocks, sizes of every magnitude, TIME records among them */
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, 9, 1, 4096, 0, 0, MW_HF_ALLOC_TRACING | MW_HF_NO_ADDRESSES, "x", 1, "x", 1);
    static mw_run_cols cols;
    static uint8_t seg[1 << 16];
    for (uint64_t tidx = 0; tidx < 2; tidx++) {
        mw_window w = { 0 };
        mw_alloc_last l = { 0, 0, 0 };
        uint64_t live[64] = { 0 }, sq = 0, x = 0x9E3779B97F4A7C15ull + tidx;
        size_t n = 0;
        for (unsigned i = 0; i < 600; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            unsigned k = (unsigned)(x % 64);
            if (live[k]) n += mw_enc_free(seg + n, sizeof seg - n, (mw_block_ref){ tidx, live[k] }, tidx, sq);
            uint64_t size = i % 50 == 7 ? x >> (x % 64) : 16 + (x >> 16) % 1009;
            n += mw_enc_alloc_noaddr_hot(seg + n, MW_AK_MALLOC, size, 1, &l);
            live[k] = ++sq;
            if (i % 100 == 99) n += mw_enc_time(seg + n, sizeof seg - n, 1000 * i);
        }
        mw_tb_switch(&b, tidx);
        int ok = 1;
        mw_runs_code(&w, &cols, seg, n, &ok, 1, tb_emit, &b);
        if (!ok) bad = 1;
    }
    MW_TB_ADD(&b, mw_enc_end, 5000, 0, 0, MW_END_EXIT, 0);
    bad |= put(argv[1], "shim-runs.raw", &b, o);
    mw_tb_release(&b);

    /* version 5: a structure of 3 000 blocks torn down in building order (every other block,
     * oldest first, the clock moving now and then), coded with the coder off as the writer
     * does for records that repeat: op 4 steps and op 5 repeats; three RSS_D samples; the
     * REACH_C verdicts of the 1 500 blocks left */
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, 10, 1, 4096, 0, 0, MW_HF_ALLOC_TRACING | MW_HF_NO_ADDRESSES, "x", 1, "x", 1);
    {
        mw_window w = { 0 };
        mw_alloc_last l = { 0, 0, 0 };
        static mw_run_cols c5;
        c5.now = MW_RUN_TIME_UNKNOWN;
        c5.drop_same_time = 1;
        size_t n = 0;
        for (uint64_t i = 0; i < 3000; i++) n += mw_enc_alloc_noaddr_hot(seg + n, MW_AK_MALLOC, 16 + i % 48, 1, &l);
        for (uint64_t s = 1; s <= 3000; s += 2) {
            if (s % 500 == 1) n += mw_enc_time(seg + n, sizeof seg - n, (s / 500 + 1) * 8388608ull);
            n += mw_enc_free(seg + n, sizeof seg - n, (mw_block_ref){ 0, s }, 0, 3000);
        }
        mw_tb_switch(&b, 0);
        int ok = 1;
        mw_runs_code(&w, &c5, seg, n, &ok, 0, tb_emit, &b);
        if (!ok) bad = 1;
        mw_rss_last rl = { 0 };
        for (uint64_t k = 1; k <= 3; k++) {
            const uint64_t v[6] = { 4096 * (100 + k), 4096 * (60 + k), 4096 * 40, 0, 4096 * 1000, 65536 * k };
            MW_TB_ADD(&b, mw_enc_rss_d, 100000000 * k, v, &rl);
        }
        static mw_reach_entry re[1500];
        for (uint64_t k = 0; k < 1500; k++)
            re[k] = (mw_reach_entry){ { 0, 2 * k + 2 }, k < 1000 ? MW_REACH_REACHABLE : MW_REACH_DEFINITE,
                                      0x560000010000ull + 96 * k };
        for (size_t at = 0; at < 1500;) {
            size_t done = 0, cap;
            uint8_t *p = mw_tb_reserve(&b, 4096, &cap);
            size_t used = mw_enc_reach_c(p, cap, re + at, 1500 - at, &done);
            if (!used) { bad = 1; break; }
            mw_tb_commit(&b, used);
            at += done;
        }
    }
    MW_TB_ADD(&b, mw_enc_end, 900000000, 0, 0, MW_END_EXIT, 0);
    bad |= put(argv[1], "shim-v5.raw", &b, o);
    mw_tb_release(&b);

    /* version 6: a loop of 24 000 allocations (sizes going round 48 values) and 12 000 frees
     * of the latest block but one, with a TIME in the middle, through the writer's coder with
     * the repeat finder on, as the shim's writer does while records repeat: REPEATs */
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, 11, 1, 4096, 0, 0, MW_HF_ALLOC_TRACING | MW_HF_NO_ADDRESSES, "x", 1, "x", 1);
    {
        mw_window w = { 0 };
        mw_alloc_last l = { 0, 0, 0 };
        static mw_run_cols c6;
        c6.now = MW_RUN_TIME_UNKNOWN;
        c6.drop_same_time = 1;
        c6.repeats = 1;
        mw_repeat_init(&c6.rep);
        size_t n = 0;
        uint64_t sq = 0;
        for (uint64_t i = 0; i < 24000; i++) {
            if (i == 12000) n += mw_enc_time(seg + n, sizeof seg - n, 8388608);
            n += mw_enc_alloc_noaddr_hot(seg + n, MW_AK_MALLOC, 16 + i % 48, 1, &l);
            sq++;
            if (i % 2) n += mw_enc_free(seg + n, sizeof seg - n, (mw_block_ref){ 0, sq - 1 }, 0, sq);
        }
        mw_tb_switch(&b, 0);
        int ok = 1;
        mw_runs_code(&w, &c6, seg, n, &ok, 0, tb_emit, &b);
        mw_runs_flush(&c6, tb_emit, &b);
        if (!ok || c6.rep.written < 2) bad = 1;
    }
    MW_TB_ADD(&b, mw_enc_end, 900000000, 0, 0, MW_END_EXIT, 0);
    bad |= put(argv[1], "shim-v6.raw", &b, o);
    mw_tb_release(&b);
    return bad;
}
