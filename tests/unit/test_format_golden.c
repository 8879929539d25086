/*
 * test_format_golden.c — committed traces (tests/fuzz/seeds/, written by an earlier build of the
 * encoder via scripts/fuzz-seed) must keep decoding: every record type of format version 1 is
 * present in every-record.{raw,zst}, the raw and zstd files yield identical records, and the
 * cut-short ones end in MW_TRUNCATED after a readable prefix; shim-default.raw (a later build)
 * holds the shim's default layout, shim-compact.raw (format version 2) its compact ALLOC_SAME
 * and FREE_NEAR forms, shim-runs.raw (version 3) coded runs, shim-v5.raw (version 5) op 5
 * repeats, RSS_D and REACH_C, shim-v6.raw (version 6) REPEATs. Guards against silent layout
 * changes that would make old traces unreadable.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_format.h"

static void seed_path(char *buf, size_t n, const char *name)
{
    const char *src = getenv("MEMWATCH_SRC");
    snprintf(buf, n, "%s/tests/fuzz/seeds/%s", src && *src ? src : ".", name);
}

typedef struct summary {
    unsigned count[256];
    size_t n;
    uint64_t sum; /* order-sensitive digest of the decoded fields we compare */
    int status;
} summary;

static summary read_seed(const char *name)
{
    char path[4096], err[256];
    seed_path(path, sizeof path, name);
    mw_reader *r = mw_reader_open(path, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    summary s;
    memset(&s, 0, sizeof s);
    mw_record rec;
    uint64_t seq = 0;
    while ((s.status = mw_reader_next(r, &rec, &seq)) == MW_OK) {
        s.count[rec.type]++;
        s.n++;
        uint64_t v = rec.type;
        if (rec.type == MW_REC_ALLOC) v += rec.u.alloc.addr + seq * 31 + rec.u.alloc.size;
        if (rec.type == MW_REC_REALLOC) v += rec.u.realloc.addr + rec.u.realloc.old.seq * 7 + seq;
        if (rec.type == MW_REC_FREE) v += rec.u.free.ref.tidx * 1000 + rec.u.free.ref.seq;
        if (rec.type == MW_REC_HEADER) v += rec.u.header.pid + rec.u.header.exe.len;
        s.sum = s.sum * 1000003u + v;
    }
    cr_assert_neq(s.status, MW_CORRUPT, "%s: %s", name, mw_reader_error(r));
    mw_reader_close(r);
    return s;
}

Test(format_golden, every_record_type_decodes)
{
    summary raw = read_seed("every-record.raw");
    summary z = read_seed("every-record.zst");
    summary zf = read_seed("every-record-frames.zst");
    cr_assert_eq(raw.status, MW_EOF);
    cr_assert_eq(z.status, MW_EOF);
    cr_assert_eq(zf.status, MW_EOF);
    static const uint8_t all[] = {
        MW_REC_HEADER, MW_REC_END, MW_REC_TIME, MW_REC_THREAD_SWITCH, MW_REC_THREAD_START,
        MW_REC_THREAD_NAME, MW_REC_THREAD_END, MW_REC_MODULE_LOAD, MW_REC_MODULE_UNLOAD,
        MW_REC_STACK_NODE, MW_REC_ALLOC, MW_REC_FREE, MW_REC_REALLOC, MW_REC_MMAP,
        MW_REC_MUNMAP, MW_REC_MREMAP, MW_REC_RSS, MW_REC_SQL_QUERY, MW_REC_SQL_BEGIN,
        MW_REC_SQL_END, MW_REC_SQL_RES_OPEN, MW_REC_SQL_RES_CLOSE, MW_REC_WATCH_REG,
        MW_REC_WATCH_UNREG, MW_REC_WATCH_META, MW_REC_WATCH_WRITE, MW_REC_MARK, MW_REC_REACH,
        MW_REC_LOST, MW_REC_FORK, MW_REC_EXEC, MW_REC_LIMITS,
    };
    for (size_t i = 0; i < sizeof all; i++)
        cr_assert_gt(raw.count[all[i]], 0, "no %s record in the golden trace", mw_record_type_name(all[i]));
    cr_assert_eq(raw.count[0xEE], 1, "the unknown record is returned (and skipped by consumers)");
    cr_assert_eq(raw.n, z.n);
    cr_assert_eq(raw.sum, z.sum);
    cr_assert_eq(raw.sum, zf.sum);
}

Test(format_golden, cut_short_traces_keep_their_prefix)
{
    summary full = read_seed("every-record.raw");
    summary half = read_seed("every-record-truncated.raw");
    summary killed = read_seed("every-record-killed.zst");
    cr_assert_eq(half.status, MW_TRUNCATED);
    cr_assert_eq(killed.status, MW_TRUNCATED);
    cr_assert_gt(half.n, 5);
    cr_assert_lt(half.n, full.n);
    cr_assert_lt(killed.n, full.n);
    summary allocs = read_seed("allocs.raw");
    cr_assert_eq(allocs.status, MW_EOF);
    cr_assert_eq(allocs.count[MW_REC_ALLOC], 64);
    cr_assert_eq(allocs.count[MW_REC_FREE], 20);
}

/* The shim's default layout (HEADER flags MW_HF_NO_ADDRESSES | MW_HF_SQL_CTX_DELTA), written by
 * make_seeds.c: allocations without addresses, SQL context ids back to absolute values, and the
 * live blocks' addresses in the REACH record. */
Test(format_golden, shim_default_layout)
{
    char path[4096], err[256];
    seed_path(path, sizeof path, "shim-default.raw");
    mw_reader *r = mw_reader_open(path, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    mw_record rec;
    uint64_t seq = 0, allocs = 0, begins = 0, resumes = 0, reach_addr = 0;
    int st;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) {
        if (rec.type == MW_REC_ALLOC) {
            cr_assert_eq(rec.u.alloc.addr, 0);
            allocs++;
        }
        if (rec.type == MW_REC_SQL_BEGIN) cr_assert_eq(rec.u.sql_begin.ctx, ++begins);
        if (rec.type == MW_REC_SQL_END) {
            cr_assert_eq(rec.u.sql_end.ctx & ~MW_SQL_CTX_RESUME, begins);
            resumes += rec.u.sql_end.ctx >> 63;
        }
        if (rec.type == MW_REC_REACH) {
            mw_reach_iter it;
            mw_reach_entry e;
            mw_reach_iter_init(&it, &rec);
            cr_assert_eq(mw_reach_next(&it, &e), 1);
            reach_addr = e.addr;
        }
    }
    cr_assert_eq(st, MW_EOF, "%s", mw_reader_error(r));
    mw_reader_close(r);
    cr_assert_eq(allocs, 40);
    cr_assert_eq(begins, 40);
    cr_assert_eq(resumes, 20);
    cr_assert_eq(reach_addr, 0x7f0000001000ull);
}

/* A committed version 2 trace with the compact forms (make_seeds.c, "shim-compact.raw"): every
 * ALLOC comes back with its kind and stack, every FREE with its block, near and far. */
Test(format_golden, shim_compact_layout)
{
    char path[4096], err[256];
    seed_path(path, sizeof path, "shim-compact.raw");
    mw_reader *r = mw_reader_open(path, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    mw_record rec;
    uint64_t seq = 0, i = 0, frees = 0, cur = 0, cseq[2] = { 0, 0 }, nodes = 0;
    static const uint64_t want_node[4][3] = { { 1, 0, 0x555500001234ull }, { 2, 1, 0x555500005678ull },
                                              { 3, 2, 0x7f1234567890ull }, { 4, 1, 0x555500000010ull } };
    int st;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) {
        if (rec.type == MW_REC_STACK_NODE) {
            cr_assert_lt(nodes, 4);
            cr_assert_eq(rec.u.stack_node.id, want_node[nodes][0]);
            cr_assert_eq(rec.u.stack_node.parent, want_node[nodes][1]);
            cr_assert_eq(rec.u.stack_node.ip, want_node[nodes][2]);
            nodes++;
        }
        if (rec.type == MW_REC_THREAD_SWITCH) cur = rec.u.thread_switch.tidx;
        if (rec.type == MW_REC_ALLOC) {
            cr_assert_eq(rec.u.alloc.kind, i % 7 == 0 ? MW_AK_CALLOC : MW_AK_MALLOC, "alloc %llu", (unsigned long long)i);
            cr_assert_eq(rec.u.alloc.stack, i / 3 % 4 + 1, "alloc %llu", (unsigned long long)i);
            cr_assert_eq(rec.u.alloc.size, 16 + i);
            cr_assert_eq(cur, i / 50 % 2);
            cr_assert_eq(seq, ++cseq[cur]);
            i++;
        }
        if (rec.type == MW_REC_FREE) {
            cr_assert_eq(rec.u.free.ref.tidx, cur);
            /* near frees name the block just allocated; the last (far) one thread 0's block 2 */
            cr_assert_eq(rec.u.free.ref.seq, frees < 150 ? cseq[cur] - 1 : 2);
            frees++;
        }
    }
    cr_assert_eq(st, MW_EOF, "%s", mw_reader_error(r));
    cr_assert_eq(mw_reader_version(r), 2);
    mw_reader_close(r);
    cr_assert_eq(i, 300);
    cr_assert_eq(frees, 151);
    cr_assert_eq(nodes, 4);
}

/* shim-runs.raw (format version 3): two threads' churn records coded into CODED_RUN records by
 * the writer's coder. The same PRNG as tests/fuzz/make_seeds.c gives the expected events: each
 * step frees the block in a random one of 64 slots (if any) and allocates a new one. */
typedef struct gev { uint8_t type; uint64_t v; } gev;

static size_t expected_churn(uint64_t tidx, gev *e)
{
    uint64_t live[64] = { 0 }, sq = 0, x = 0x9E3779B97F4A7C15ull + tidx;
    size_t n = 0;
    for (unsigned i = 0; i < 600; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        unsigned k = (unsigned)(x % 64);
        if (live[k]) e[n++] = (gev){ MW_REC_FREE, live[k] };
        e[n++] = (gev){ MW_REC_ALLOC, i % 50 == 7 ? x >> (x % 64) : 16 + (x >> 16) % 1009 };
        live[k] = ++sq;
        if (i % 100 == 99) e[n++] = (gev){ MW_REC_TIME, 1000 * i };
    }
    return n;
}

Test(format_golden, shim_runs_layout)
{
    char path[4096], err[256];
    seed_path(path, sizeof path, "shim-runs.raw");
    mw_reader *r = mw_reader_open(path, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    static gev want[2000];
    size_t nwant = 0, at = 0, runs = 0, seen = 0;
    uint64_t tidx = 0, seq = 0;
    mw_record rec;
    int st;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) {
        if (rec.type == MW_REC_THREAD_SWITCH) {
            cr_assert_eq(at, nwant, "thread %llu: %zu of %zu events", (unsigned long long)tidx, at, nwant);
            tidx = rec.u.thread_switch.tidx;
            nwant = expected_churn(tidx, want);
            at = 0;
            continue;
        }
        runs += rec.type == MW_REC_CODED_RUN;
        if (rec.type != MW_REC_ALLOC && rec.type != MW_REC_FREE && rec.type != MW_REC_TIME) continue;
        cr_assert_lt(at, nwant);
        cr_assert_eq(rec.type, want[at].type, "thread %llu event %zu", (unsigned long long)tidx, at);
        uint64_t v = rec.type == MW_REC_ALLOC ? rec.u.alloc.size
                   : rec.type == MW_REC_FREE ? rec.u.free.ref.seq : rec.u.time.t_ns;
        cr_assert_eq(v, want[at].v, "thread %llu event %zu", (unsigned long long)tidx, at);
        if (rec.type == MW_REC_FREE) cr_assert_eq(rec.u.free.ref.tidx, tidx);
        at++;
        seen++;
    }
    cr_assert_eq(st, MW_EOF, "%s", mw_reader_error(r));
    cr_assert_eq(at, nwant);
    cr_assert_eq(tidx, 1);
    cr_assert_eq(mw_reader_version(r), 3);
    cr_assert_geq(runs, 2);
    cr_assert_gt(seen, 2000);
    mw_reader_close(r);
}

/* shim-v5.raw (format version 5, tests/fuzz/make_seeds.c): a structure of 3 000 blocks torn
 * down in building order, coded as op 4 steps and op 5 repeats (the frees come back as blocks
 * 1, 3, 5, ... with the times in force), three RSS_D samples (whole figures), and REACH_C
 * verdicts for the 1 500 blocks left (seqs, kinds, addresses). */
Test(format_golden, shim_v5_layout)
{
    char path[4096], err[256];
    seed_path(path, sizeof path, "shim-v5.raw");
    mw_reader *r = mw_reader_open(path, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    mw_record rec;
    uint64_t seq = 0, allocs = 0, frees = 0, runs = 0, rss = 0, reach = 0, now = 0;
    int st;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) {
        if (rec.type == MW_REC_ALLOC) cr_assert_eq(rec.u.alloc.size, 16 + allocs++ % 48);
        if (rec.type == MW_REC_TIME) now = rec.u.time.t_ns;
        if (rec.type == MW_REC_CODED_RUN) runs++;
        if (rec.type == MW_REC_FREE) {
            cr_assert_eq(rec.u.free.ref.seq, 2 * frees + 1);
            cr_assert_eq(now, (2 * frees / 500 + 1) * 8388608ull, "free %llu", (unsigned long long)frees);
            frees++;
        }
        if (rec.type == MW_REC_RSS) {
            rss++;
            cr_assert_eq(rec.u.rss.t_ns, 100000000 * rss);
            cr_assert_eq(rec.u.rss.rss, 4096 * (100 + rss));
            cr_assert_eq(rec.u.rss.anon, 4096 * (60 + rss));
            cr_assert_eq(rec.u.rss.file, 4096 * 40);
            cr_assert_eq(rec.u.rss.vm_size, 4096 * 1000);
            cr_assert_eq(rec.u.rss.own, 65536 * rss);
        }
        if (rec.type == MW_REC_REACH) {
            mw_reach_iter it;
            mw_reach_entry e;
            mw_reach_iter_init(&it, &rec);
            while ((st = mw_reach_next(&it, &e)) == 1) {
                cr_assert_eq(e.ref.tidx, 0);
                cr_assert_eq(e.ref.seq, 2 * reach + 2);
                cr_assert_eq(e.kind, reach < 1000 ? MW_REACH_REACHABLE : MW_REACH_DEFINITE);
                cr_assert_eq(e.addr, 0x560000010000ull + 96 * reach);
                reach++;
            }
            cr_assert_eq(st, 0);
        }
    }
    cr_assert_eq(st, MW_EOF, "%s", mw_reader_error(r));
    cr_assert_eq(mw_reader_version(r), 5);
    cr_assert_eq(allocs, 3000);
    cr_assert_eq(frees, 1500);
    cr_assert_eq(runs, 1);
    cr_assert_eq(rss, 3);
    cr_assert_eq(reach, 1500);
    mw_reader_close(r);
}

/* shim-v6.raw (format version 6, tests/fuzz/make_seeds.c): a loop of 24 000 allocations with
 * sizes going round 48 values and a free of the latest block but one after every second,
 * with a TIME after the first 12 000, written by the coder with the repeat finder on: the
 * records come back from REPEATs in order, each block with its seq, the time in force. */
Test(format_golden, shim_v6_layout)
{
    char path[4096], err[256];
    seed_path(path, sizeof path, "shim-v6.raw");
    mw_reader *r = mw_reader_open(path, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    mw_record rec;
    uint64_t seq = 0, allocs = 0, frees = 0, reps = 0, now = 0;
    int st;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) {
        if (rec.type == MW_REC_REPEAT) reps++;
        if (rec.type == MW_REC_TIME) now = rec.u.time.t_ns;
        if (rec.type == MW_REC_ALLOC) {
            cr_assert_eq(rec.u.alloc.size, 16 + allocs % 48);
            cr_assert_eq(seq, allocs + 1);
            cr_assert_eq(now, allocs < 12000 ? 0 : 8388608u, "alloc %llu", (unsigned long long)allocs);
            allocs++;
        }
        if (rec.type == MW_REC_FREE) {
            cr_assert_eq(rec.u.free.ref.tidx, 0);
            cr_assert_eq(rec.u.free.ref.seq, 2 * frees + 1, "free %llu", (unsigned long long)frees);
            frees++;
        }
    }
    cr_assert_eq(st, MW_EOF, "%s", mw_reader_error(r));
    cr_assert_eq(mw_reader_version(r), 6);
    cr_assert_eq(allocs, 24000);
    cr_assert_eq(frees, 12000);
    cr_assert_geq(reps, 2);
    mw_reader_close(r);
}
