/*
 * test_analyzer_ingest.c — streaming ingest of synthetic traces built with the real encoder
 * (formats/mw_tracefile.h): totals, temporary allocations, frees that arrive before their
 * allocation, realloc chains, reachability kinds, SQL attribution and leaked resources,
 * watch events, partial munmap, lost events, truncated/corrupt/newer-version traces, the
 * JSON contract keys, and the SQLite store (idempotent re-ingest, bound values).
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest.h"
#include "mw_tracefile.h"
#include "report.h"
#include "store.h"
#include "suppress.h"

static char err[512];

static void header(mw_tracebuf *b)
{
    static const char av[] = "prog\0arg one\0";
    MW_TB_ADD(b, mw_enc_header, 4242, 1, 4096, 1700000000000000000ull, 5, MW_HF_ALLOC_TRACING,
              "/usr/bin/prog", 13, av, sizeof av - 1);
    mw_tb_switch(b, 0);
    MW_TB_ADD(b, mw_enc_thread_start, 0, 4242, 0, "main", 4);
    MW_TB_ADD(b, mw_enc_stack_node, 1, 0, 0x401000);
    MW_TB_ADD(b, mw_enc_stack_node, 2, 1, 0x402000);
    MW_TB_ADD(b, mw_enc_stack_node, 3, 1, 0x403000);
}

static void end(mw_tracebuf *b, uint64_t lost)
{
    MW_TB_ADD(b, mw_enc_end, 1000000, lost, lost * 10, MW_END_EXIT, 0);
}

/* Ingests b (raw stream, or zstd with opts o). Returns the model; *rc the ingest status. */
static mw_proc *ingest(const mw_tracebuf *b, const mw_tb_opts *o, int *rc)
{
    uint8_t *data;
    size_t len;
    mw_tb_opts raw = MW_TB_OPTS_DEFAULT;
    raw.raw = 1;
    cr_assert_eq(mw_tb_encode(b, o ? o : &raw, &data, &len), 0);
    mw_proc *p = mw_proc_new("synthetic.trace.zst");
    char rerr[256];
    mw_reader *r = mw_reader_open_mem(data, len, rerr, sizeof rerr);
    if (!r) {
        snprintf(err, sizeof err, "%s", rerr);
        *rc = -1;
    } else {
        *rc = mw_ingest_reader(p, r, err, sizeof err);
        mw_reader_close(r);
    }
    free(data);
    if (*rc == 0) mw_supp_apply(NULL, p, NULL);
    return p;
}

static mw_proc *ingest_ok(const mw_tracebuf *b)
{
    int rc;
    mw_proc *p = ingest(b, NULL, &rc);
    cr_assert_eq(rc, 0, "ingest failed: %s", err);
    return p;
}

static const mw_site *site_of(const mw_proc *p, uint64_t stack)
{
    int64_t ix = mw_proc_site_index(p, stack);
    cr_assert_geq(ix, 0, "no site for stack %llu", (unsigned long long)stack);
    return &p->sites.v[ix];
}

Test(ingest, totals_temporary_and_peak)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    for (int i = 0; i < 10; i++) mw_tb_free_block(&b, mw_tb_alloc(&b, MW_AK_MALLOC, 100, 2, 0x1000));
    mw_block_ref a = mw_tb_alloc(&b, MW_AK_MALLOC, 1000, 3, 0x2000);
    mw_block_ref c = mw_tb_alloc(&b, MW_AK_CALLOC, 24, 2, 0x3000);
    mw_tb_free_block(&b, a); /* not temporary: c was allocated in between */
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_assert_eq(p->allocations, 12);
    cr_assert_eq(p->frees, 11);
    cr_assert_eq(p->bytes_allocated, 10 * 100 + 1000 + 24);
    cr_assert_eq(p->temporary, 10);
    cr_assert_eq(p->peak_heap, 1024);
    cr_assert_eq(p->heap_live, 24);
    cr_assert_eq(site_of(p, 2)->calls, 11);
    cr_assert_eq(site_of(p, 2)->temporary, 10);
    cr_assert_eq(site_of(p, 3)->peak_live, 1000);
    cr_assert_not(p->truncated);
    cr_assert_eq(p->unfreed.n, 1);
    cr_assert_eq(p->unfreed.v[0].seq, c.seq);
    cr_assert_eq(p->leak_bytes[MW_REACH_UNKNOWN], 24, "no REACH record: kind unknown");
    cr_assert_eq(p->argc, 2);
    cr_assert_str_eq(p->argv[1], "arg one");
    cr_assert_str_eq(p->exe, "/usr/bin/prog");
    mw_proc_free(p);
    mw_tb_release(&b);
}

/* Stack nodes: dense ids (the shim's) go through the direct index, ids far beyond the node
 * count (a damaged or hostile trace) through the hash map; both resolve, a node written again
 * replaces the first, and an unknown id stops the walk. */
Test(ingest, stack_nodes_dense_and_sparse_ids)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b); /* nodes 1, 2 (parent 1), 3 (parent 1) */
    const uint64_t far = 1000000000000ull;
    MW_TB_ADD(&b, mw_enc_stack_node, far, 2, 0x404000);       /* sparse, parent dense */
    MW_TB_ADD(&b, mw_enc_stack_node, 5, far, 0x405000);       /* dense, parent sparse */
    MW_TB_ADD(&b, mw_enc_stack_node, 3, 2, 0x403333);         /* written again */
    MW_TB_ADD(&b, mw_enc_stack_node, UINT64_MAX, 77, 0x406000); /* parent unknown */
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    uint64_t ips[8];
    cr_assert_eq(mw_proc_stack_ips(p, 5, ips, 8), 4);
    cr_assert_eq(ips[0], 0x405000);
    cr_assert_eq(ips[1], 0x404000);
    cr_assert_eq(ips[2], 0x402000);
    cr_assert_eq(ips[3], 0x401000);
    cr_assert_eq(mw_proc_stack_ips(p, 3, ips, 8), 3);
    cr_assert_eq(ips[0], 0x403333);
    cr_assert_eq(ips[1], 0x402000);
    cr_assert_eq(mw_proc_stack_ips(p, UINT64_MAX, ips, 8), 1);
    cr_assert_eq(mw_proc_stack_ips(p, 4, ips, 8), 0);
    cr_assert_eq(mw_proc_node_index(p, 4), -1);
    cr_assert_eq(mw_proc_node_index(p, far + 1), -1);
    cr_assert_eq(p->nodes.n, 6);
    mw_proc_free(p);
    mw_tb_release(&b);
}

/* Sites keyed by stack id the same way: one site per stack, also for a stack id first seen
 * while it was too far to be dense and seen again once the node count caught up. */
Test(ingest, sites_dense_and_sparse_stack_ids)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b); /* nodes 1..3 */
    const uint64_t far = 1ull << 40, late = 70000; /* late: beyond 2 x 3 + 65536, for now */
    MW_TB_ADD(&b, mw_enc_alloc, MW_AK_MALLOC, 10, far, 0x1000, NULL);
    MW_TB_ADD(&b, mw_enc_alloc, MW_AK_MALLOC, 20, 3, 0x2000, NULL);
    MW_TB_ADD(&b, mw_enc_alloc, MW_AK_MALLOC, 30, late, 0x3000, NULL);
    for (uint64_t id = 4; id < 3010; id++) MW_TB_ADD(&b, mw_enc_stack_node, id, id - 1, 0x500000 + id);
    MW_TB_ADD(&b, mw_enc_alloc, MW_AK_MALLOC, 40, late, 0x4000, NULL); /* now dense-eligible */
    MW_TB_ADD(&b, mw_enc_alloc, MW_AK_MALLOC, 50, far, 0x5000, NULL);
    MW_TB_ADD(&b, mw_enc_alloc, MW_AK_MALLOC, 60, 3, 0x6000, NULL);
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_assert_eq(p->sites.n, 3, "%zu sites", p->sites.n);
    for (size_t i = 0; i < p->sites.n; i++) {
        const mw_site *st = &p->sites.v[i];
        uint64_t want = st->stack == far ? 60 : st->stack == 3 ? 80 : st->stack == late ? 70 : 0;
        cr_assert_eq(st->calls, 2, "site of stack %llu", (unsigned long long)st->stack);
        cr_assert_eq(st->bytes, want, "site of stack %llu", (unsigned long long)st->stack);
    }
    mw_proc_free(p);
    mw_tb_release(&b);
}

Test(ingest, free_before_its_alloc_is_kept_pending)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    MW_TB_ADD(&b, mw_enc_thread_start, 1, 4243, 0, "worker", 6);
    /* Thread 1's chunk, flushed first, frees thread 0's blocks 1 and 2. */
    mw_tb_switch(&b, 1);
    mw_tb_free_block(&b, (mw_block_ref){0, 1});
    mw_tb_free_block(&b, (mw_block_ref){0, 2});
    mw_tb_switch(&b, 0);
    mw_tb_alloc(&b, MW_AK_MALLOC, 40, 2, 0x1000);
    mw_tb_alloc(&b, MW_AK_MALLOC, 50, 2, 0x2000);
    mw_tb_alloc(&b, MW_AK_MALLOC, 60, 2, 0x3000);
    mw_tb_free_block(&b, (mw_block_ref){5, 1}); /* a thread that never allocated: unmatched */
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_assert_eq(p->allocations, 3);
    cr_assert_eq(p->frees, 2);
    cr_assert_eq(p->heap_live, 60);
    cr_assert_eq(p->unfreed.n, 1);
    cr_assert_eq(p->unfreed.v[0].size, 60);
    cr_assert_eq(p->unmatched_frees, 1, "the free naming a never-allocated block");
    cr_assert_eq(p->pending_frees.count, 1);
    mw_proc_free(p);
    mw_tb_release(&b);
}

Test(ingest, realloc_chain)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    mw_block_ref a = mw_tb_alloc(&b, MW_AK_MALLOC, 10, 2, 0x1000);
    mw_block_ref r1 = mw_tb_realloc(&b, a, 20, 3, 0x1000);
    mw_block_ref r2 = mw_tb_realloc(&b, r1, 30, 3, 0x5000);
    mw_block_ref x = mw_tb_alloc(&b, MW_AK_MALLOC, 7, 2, 0x6000);
    mw_tb_realloc(&b, x, 8, 2, 0x6000);
    mw_tb_free_block(&b, r2);
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_assert_eq(p->allocations, 5);
    cr_assert_eq(p->reallocs, 3);
    cr_assert_eq(p->frees, 4);
    cr_assert_eq(p->bytes_allocated, 10 + 20 + 30 + 7 + 8);
    cr_assert_eq(p->heap_live, 8);
    cr_assert_eq(p->peak_heap, 38, "30 (chain) + 8 (second realloc)");
    cr_assert_eq(site_of(p, 3)->calls, 2);
    cr_assert_eq(site_of(p, 3)->live, 0);
    cr_assert_eq(p->unfreed.n, 1);
    cr_assert_eq(p->unfreed.v[0].size, 8);
    mw_proc_free(p);
    mw_tb_release(&b);
}

Test(ingest, reachability_kinds_and_leak_groups)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    mw_block_ref d = mw_tb_alloc(&b, MW_AK_MALLOC, 100, 2, 0x1000);
    mw_block_ref i = mw_tb_alloc(&b, MW_AK_MALLOC, 30, 3, 0x2000);
    mw_block_ref r = mw_tb_alloc(&b, MW_AK_MALLOC, 7, 3, 0x3000);
    mw_block_ref d2 = mw_tb_alloc(&b, MW_AK_MALLOC, 5, 2, 0x4000);
    mw_reach_entry e[4] = {{d, MW_REACH_DEFINITE, 0x1000}, {i, MW_REACH_INDIRECT, 0x2000},
                           {r, MW_REACH_REACHABLE, 0x3000}, {d2, MW_REACH_DEFINITE, 0x4000}};
    mw_tb_reach(&b, e, 4, 1); /* one entry per record */
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_assert_eq(p->leak_bytes[MW_REACH_DEFINITE], 105);
    cr_assert_eq(p->leak_blocks[MW_REACH_DEFINITE], 2);
    cr_assert_eq(p->leak_bytes[MW_REACH_INDIRECT], 30);
    cr_assert_eq(p->leak_bytes[MW_REACH_REACHABLE], 7);
    cr_assert_eq(mw_proc_leaked_bytes(p), 135);
    cr_assert_eq(mw_proc_unfreed_bytes(p), 142);
    cr_assert_eq(p->leaks.n, 3, "(site 2, definite), (site 3, indirect), (site 3, reachable)");
    cr_assert_eq(p->leaks.v[0].bytes, 105, "largest group first");
    cr_assert_eq(p->leaks.v[0].blocks, 2);
    mw_proc_free(p);
    mw_tb_release(&b);
}

/* MEMWATCH_ADDRESSES=0 traces: ALLOC/REALLOC without addresses; the unfreed blocks get theirs
 * from the REACH entries, freed blocks keep none. */
/* Leak groups rank what matters first: definite (the roots of lost structures), then
 * indirect, then no verdict, then still reachable; by bytes within a kind. */
Test(ingest, leak_groups_rank_definite_first)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    mw_block_ref big_reach = mw_tb_alloc(&b, MW_AK_MALLOC, 9000, 2, 0x1000);
    mw_block_ref big_ind = mw_tb_alloc(&b, MW_AK_MALLOC, 5000, 3, 0x4000);
    mw_block_ref small_def = mw_tb_alloc(&b, MW_AK_MALLOC, 16, 4, 0x8000);
    mw_block_ref mid_def = mw_tb_alloc(&b, MW_AK_MALLOC, 64, 5, 0x9000);
    mw_block_ref unknown = mw_tb_alloc(&b, MW_AK_MALLOC, 7000, 6, 0xa000);
    (void)unknown;
    mw_reach_entry e[4] = {{big_reach, MW_REACH_REACHABLE, 0x1000}, {big_ind, MW_REACH_INDIRECT, 0x4000},
                           {small_def, MW_REACH_DEFINITE, 0x8000}, {mid_def, MW_REACH_DEFINITE, 0x9000}};
    mw_tb_reach(&b, e, 4, 4);
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_assert_eq(p->leaks.n, 5);
    const unsigned want_kind[5] = {MW_REACH_DEFINITE, MW_REACH_DEFINITE, MW_REACH_INDIRECT,
                                   MW_REACH_UNKNOWN, MW_REACH_REACHABLE};
    const uint64_t want_bytes[5] = {64, 16, 5000, 7000, 9000};
    for (size_t i = 0; i < 5; i++) {
        cr_expect_eq(p->leaks.v[i].kind, want_kind[i], "group %zu kind", i);
        cr_expect_eq(p->leaks.v[i].bytes, want_bytes[i], "group %zu bytes", i);
    }
    mw_proc_free(p);
    mw_tb_release(&b);
}

Test(ingest, block_addresses_from_reach)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, 1, 1, 4096, 0, 0, MW_HF_ALLOC_TRACING | MW_HF_NO_ADDRESSES,
              "/p", 2, "p", 1);
    mw_tb_switch(&b, 0);
    MW_TB_ADD(&b, mw_enc_thread_start, 0, 1, 0, "main", 4);
    MW_TB_ADD(&b, mw_enc_alloc_noaddr, MW_AK_MALLOC, 10, 0);                         /* seq 1 */
    MW_TB_ADD(&b, mw_enc_alloc_noaddr, MW_AK_MALLOC, 20, 0);                         /* seq 2 */
    MW_TB_ADD(&b, mw_enc_realloc_noaddr, (mw_block_ref){0, 2}, 0, 2, 30, 0);         /* seq 3 */
    mw_reach_entry e[2] = {{{0, 1}, MW_REACH_DEFINITE, 0x7f0000001000u},
                           {{0, 3}, MW_REACH_REACHABLE, 0x7f0000002000u}};
    mw_tb_reach(&b, e, 2, 0);
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    /* at the end the live tables are emptied into the unfreed blocks, in id order */
    cr_assert_eq(mw_thread_at(p, 0)->live.count, 0);
    cr_assert_eq(p->unfreed.n, 2);
    mw_block *b1 = &p->unfreed.v[0], *b3 = &p->unfreed.v[1];
    cr_assert_eq(b1->seq, 1);
    cr_assert_eq(b3->seq, 3);
    cr_assert_eq(b1->addr, 0x7f0000001000u);
    cr_assert_eq(b3->addr, 0x7f0000002000u);
    cr_assert_eq(b3->size, 30);
    cr_assert_eq(p->leak_bytes[MW_REACH_DEFINITE], 10);
    mw_proc_free(p);
    mw_tb_release(&b);
}

Test(ingest, sql_attribution_and_leaked_resources)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    const char *q = "SELECT * FROM t WHERE id = ?";
    MW_TB_ADD(&b, mw_enc_sql_query, 0xabcdefull, MW_DB_SQLITE, q, strlen(q));
    MW_TB_ADD(&b, mw_enc_sql_begin, 1, 0xabcdefull);
    mw_tb_alloc(&b, MW_AK_MALLOC, 100, 2, 0x1000);
    mw_tb_free_block(&b, mw_tb_alloc(&b, MW_AK_MALLOC, 50, 2, 0x2000));
    MW_TB_ADD(&b, mw_enc_sql_res_open, MW_RES_STATEMENT, 0x77, 0xabcdefull, 3, MW_DB_SQLITE);
    MW_TB_ADD(&b, mw_enc_sql_res_open, MW_RES_STATEMENT, 0x78, 0xabcdefull, 3, MW_DB_SQLITE);
    MW_TB_ADD(&b, mw_enc_sql_res_open, MW_RES_CONNECTION, 0x10, 0, 2, MW_DB_SQLITE);
    MW_TB_ADD(&b, mw_enc_sql_end, 1);
    mw_tb_alloc(&b, MW_AK_MALLOC, 10, 2, 0x3000);
    MW_TB_ADD(&b, mw_enc_sql_begin, 2, 0xabcdefull);
    MW_TB_ADD(&b, mw_enc_sql_res_close, MW_RES_STATEMENT, 0x77);
    MW_TB_ADD(&b, mw_enc_sql_end, 2);
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_assert_eq(p->sql.n, 1);
    cr_assert_str_eq(p->sql.v[0].text, q);
    cr_assert_eq(p->sql.v[0].calls, 2);
    cr_assert_eq(p->sql.v[0].bytes_allocated, 150);
    cr_assert_eq(p->sql.v[0].bytes_leaked, 100);
    cr_assert_eq(p->sql_leaked.n, 2, "one statement group, one connection group");
    uint64_t stmts = 0, conns = 0;
    for (size_t i = 0; i < p->sql_leaked.n; i++) {
        if (p->sql_leaked.v[i].type == MW_RES_STATEMENT) stmts += p->sql_leaked.v[i].count;
        if (p->sql_leaked.v[i].type == MW_RES_CONNECTION) conns += p->sql_leaked.v[i].count;
    }
    cr_assert_eq(stmts, 1);
    cr_assert_eq(conns, 1);
    mw_proc_free(p);
    mw_tb_release(&b);
}

Test(ingest, watch_events_and_mappings)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    MW_TB_ADD(&b, mw_enc_watch_reg, 1, 0x5000, 8, 0x10, "g_balance", 9);
    MW_TB_ADD(&b, mw_enc_watch_meta, 1, "unit", 4, "cents", 5);
    uint8_t o[4] = {1, 0, 0, 0}, n[4] = {0xff, 0, 0, 0};
    mw_watch_write_args w = {.id = 1, .offset = 0, .len = 4, .tid = 4242, .pc = 0x401000,
                             .stack = 2, .sql_fp = 0, .flags = MW_WF_HAS_BYTES, .t_ns = 5,
                             .syscall = -1, .old_bytes = o, .new_bytes = n, .bytes_len = 4};
    MW_TB_ADD(&b, mw_enc_watch_write, &w);
    w.flags = MW_WF_KERNEL;
    w.syscall = 0;
    MW_TB_ADD(&b, mw_enc_watch_write, &w);
    MW_TB_ADD(&b, mw_enc_mmap, 0x10000, 3 * 4096, 3, 0x22, -1, 0, 2, "", 0);
    MW_TB_ADD(&b, mw_enc_munmap, 0x11000, 4096, 2);
    MW_TB_ADD(&b, mw_enc_mmap, 0x40000, 4096, 1, 0x2, 5, 0, 3, "/etc/passwd", 11);
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_assert_eq(p->watch_vars.n, 1);
    cr_assert_str_eq(p->watch_vars.v[0].name, "g_balance");
    cr_assert_eq(p->watch_vars.v[0].writes, 2);
    cr_assert_eq(p->watch_vars.v[0].nmeta, 1);
    cr_assert_eq(p->watch_events.n, 2);
    cr_assert_eq(p->watch_events.v[0].nbytes, 4);
    cr_assert_eq(p->watch_events.v[0].new_bytes[0], 0xff);
    cr_assert_eq(p->watch_events.v[1].syscall, 0);
    cr_assert_eq(p->mappings.n, 3, "the middle page was unmapped: two pieces plus the file");
    /* left at exit, largest first then by address: the reports list the first ones */
    for (size_t i = 1; i < p->mappings.n; i++) {
        const mw_mapping *a = &p->mappings.v[i - 1], *z = &p->mappings.v[i];
        cr_assert(a->len > z->len || (a->len == z->len && a->addr < z->addr), "mapping %zu out of order", i);
    }
    cr_assert_eq(p->mmap_live, 3 * 4096);
    cr_assert_eq(p->peak_mmap, 3 * 4096);
    mw_proc_free(p);
    mw_tb_release(&b);
}

/* Mappings made, cut, split, moved and replaced at random over 512 pages, against a
 * reference of the pages: what is mapped at the end, page by page and anonymous or not, the
 * live and peak totals, and mappings that never overlap. Five seeds of 20 000 records. */
Test(ingest, mappings_match_a_page_by_page_reference, .timeout = 60)
{
    enum { PAGES = 512, PG = 4096 };
    const uint64_t base = 0x7f0000000000ull;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        uint64_t x = seed * 0x9e3779b97f4a7c15ull;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
        static bool mapped[PAGES], anon[PAGES];
        memset(mapped, 0, sizeof mapped);
        memset(anon, 0, sizeof anon);
        uint64_t live = 0, peak = 0;
        mw_tracebuf b;
        mw_tb_init(&b);
        header(&b);
        for (int step = 0; step < 20000; step++) {
            uint64_t op = RND() % 10, pg = RND() % PAGES, np = 1 + RND() % 24;
            if (pg + np > PAGES) np = PAGES - pg;
            if (op < 5) { /* mmap, anonymous or of a file, over whatever was there */
                bool an = RND() % 2;
                if (an) MW_TB_ADD(&b, mw_enc_mmap, base + pg * PG, np * PG, 3, 0x22, -1, 0, 2, "", 0);
                else MW_TB_ADD(&b, mw_enc_mmap, base + pg * PG, np * PG, 1, 0x2, 5, 0, 2, "/lib/f", 6);
                for (uint64_t i = pg; i < pg + np; i++) {
                    live += !mapped[i];
                    mapped[i] = true;
                    anon[i] = an;
                }
            } else if (op < 8) {
                MW_TB_ADD(&b, mw_enc_munmap, base + pg * PG, np * PG, 2);
                for (uint64_t i = pg; i < pg + np; i++) {
                    live -= mapped[i];
                    mapped[i] = false;
                }
            } else { /* mremap: the new range is of the kind of the mapping holding the old
                      * address (anonymous when there is none) */
                uint64_t to = RND() % PAGES, tn = 1 + RND() % 24;
                if (to + tn > PAGES) tn = PAGES - to;
                bool an = mapped[pg] ? anon[pg] : true;
                MW_TB_ADD(&b, mw_enc_mremap, base + pg * PG, np * PG, base + to * PG, tn * PG, 2);
                for (uint64_t i = pg; i < pg + np; i++) {
                    live -= mapped[i];
                    mapped[i] = false;
                }
                for (uint64_t i = to; i < to + tn; i++) {
                    live += !mapped[i];
                    mapped[i] = true;
                    anon[i] = an;
                }
            }
            if (live > peak) peak = live;
        }
#undef RND
        end(&b, 0);
        mw_proc *p = ingest_ok(&b);
        uint64_t anon_live = 0;
        for (int i = 0; i < PAGES; i++) anon_live += mapped[i] && anon[i];
        cr_assert_eq(p->mmap_live, live * PG, "seed %llu", (unsigned long long)seed);
        cr_assert_eq(p->mmap_anon_live, anon_live * PG, "seed %llu", (unsigned long long)seed);
        cr_assert_eq(p->peak_mmap, peak * PG, "seed %llu", (unsigned long long)seed);
        static int owner[PAGES];
        for (int i = 0; i < PAGES; i++) owner[i] = -1;
        for (size_t k = 0; k < p->mappings.n; k++) {
            const mw_mapping *m = &p->mappings.v[k];
            cr_assert(m->len > 0 && m->addr % PG == 0 && m->len % PG == 0);
            bool an = (m->flags & 0x20) || (!m->path && m->fd < 0);
            for (uint64_t a = m->addr; a < m->addr + m->len; a += PG) {
                uint64_t i = (a - base) / PG;
                cr_assert(a >= base && i < PAGES, "seed %llu: a mapping outside the pages", (unsigned long long)seed);
                cr_assert_eq(owner[i], -1, "seed %llu: page %llu in two mappings", (unsigned long long)seed,
                             (unsigned long long)i);
                owner[i] = (int)k;
                cr_assert(mapped[i] && anon[i] == an, "seed %llu: page %llu", (unsigned long long)seed,
                          (unsigned long long)i);
            }
        }
        for (int i = 0; i < PAGES; i++) cr_assert_eq(owner[i] >= 0, mapped[i], "seed %llu: page %d", (unsigned long long)seed, i);
        for (size_t k = 1; k < p->mappings.n; k++)
            cr_assert(p->mappings.v[k - 1].len >= p->mappings.v[k].len, "seed %llu: not largest first", (unsigned long long)seed);
        mw_proc_free(p);
        mw_tb_release(&b);
    }
}

/* 65 000 live mappings at once (Linux's default vm.max_map_count), placed top down as the
 * kernel places them, then every other one unmapped: the totals. (Each record used to scan
 * every live mapping: such a trace took memwatch-analyze 4.8 s, by hand, 0.1 s with the
 * ordered map; tests time nothing.) */
Test(ingest, many_live_mappings)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    const uint64_t n = 65000, top = 0x7ff000000000ull;
    for (uint64_t i = 0; i < n; i++) /* top down, as the kernel places them */
        MW_TB_ADD(&b, mw_enc_mmap, top - i * 8192, 4096, 3, 0x22, -1, 0, 2, "", 0);
    for (uint64_t i = 0; i < n; i += 2) MW_TB_ADD(&b, mw_enc_munmap, top - i * 8192, 4096, 2);
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_assert_eq(p->mappings.n, n / 2);
    cr_assert_eq(p->mmap_live, n / 2 * 4096);
    cr_assert_eq(p->peak_mmap, n * 4096);
    mw_proc_free(p);
    mw_tb_release(&b);
}

Test(ingest, lost_events_are_counted)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    MW_TB_ADD(&b, mw_enc_lost, 3, 30);
    MW_TB_ADD(&b, mw_enc_lost, 4, 40);
    end(&b, 7);
    mw_proc *p = ingest_ok(&b);
    cr_assert_eq(p->lost_events, 7, "END carries the process total; LOST records sum to it");
    cr_assert_eq(p->lost_bytes, 70);
    mw_proc_free(p);
    mw_tb_release(&b);
    mw_tb_init(&b);
    header(&b);
    MW_TB_ADD(&b, mw_enc_lost, 5, 50);
    mw_proc *q = ingest_ok(&b);
    cr_assert_eq(q->lost_events, 5, "no END record: the LOST records alone");
    cr_assert(q->truncated);
    mw_proc_free(q);
    mw_tb_release(&b);
}

Test(ingest, truncated_traces_report_what_is_there)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    for (int i = 0; i < 2000; i++) mw_tb_alloc(&b, MW_AK_MALLOC, 16, 2, 0x1000 + 16 * (uint64_t)i);
    end(&b, 0);
    size_t full = b.len;
    /* raw stream cut inside the allocations, and a zstd stream cut in its middle */
    mw_tb_opts o = MW_TB_OPTS_DEFAULT;
    o.raw = 1;
    o.truncate_at = (int64_t)(full / 2);
    int rc;
    mw_proc *p = ingest(&b, &o, &rc);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(p->truncated);
    cr_assert_gt(p->allocations, 100);
    cr_assert_lt(p->allocations, 2000);
    mw_proc_free(p);
    o = MW_TB_OPTS_DEFAULT;
    o.frame_bytes = 1024;
    uint8_t *data;
    size_t len;
    cr_assert_eq(mw_tb_encode(&b, &o, &data, &len), 0);
    free(data);
    o.truncate_at = (int64_t)(len / 2);
    p = ingest(&b, &o, &rc);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(p->truncated);
    cr_assert_gt(p->allocations, 0);
    mw_proc_free(p);
    /* without the END record */
    b.len -= 0; /* (the END record is the last one: rebuild without it) */
    mw_tb_release(&b);
    mw_tb_init(&b);
    header(&b);
    mw_tb_alloc(&b, MW_AK_MALLOC, 16, 2, 0x1000);
    p = ingest_ok(&b);
    cr_assert(p->truncated, "no END record means truncated");
    mw_proc_free(p);
    mw_tb_release(&b);
}

/* SPAWN records (a vfork or posix_spawn child's program) are kept, with their child's pid,
 * only for a program LD_PRELOAD cannot reach (here a setuid file), and of those the first
 * MW_SPAWNS_KEPT, the rest counted: a server spawning a child per request must not grow the
 * analyzer's memory with its trace, nor make the report drop the later ones unsaid (before
 * 2026-11-23 the first 4 096 of all were kept, and the rest went without a word). A device
 * (/dev/null) is not a program to list. */
Test(ingest, spawns_kept_bounded)
{
    char dir[] = "/tmp/mw-spawns-XXXXXX", suid[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(suid, sizeof suid, "%s/suid_prog", dir);
    FILE *f = fopen(suid, "w");
    cr_assert_not_null(f);
    fputs("#!/bin/sh\n", f);
    fclose(f);
    cr_assert_eq(chmod(suid, 04755), 0);
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    for (unsigned i = 0; i < 3 * MW_SPAWNS_KEPT; i++) MW_TB_ADD(&b, mw_enc_spawn, 100000 + i, "/bin/true", 9);
    for (unsigned i = 0; i < 10; i++) MW_TB_ADD(&b, mw_enc_spawn, 200000 + i, "/dev/null", 9);
    for (unsigned i = 0; i < MW_SPAWNS_KEPT + 10; i++) MW_TB_ADD(&b, mw_enc_spawn, 1000 + i, suid, strlen(suid));
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_assert_eq(p->spawns.n, MW_SPAWNS_KEPT, "only the setuid program's, %zu", p->spawns.n);
    cr_expect_eq(p->spawns.v[0].pid, 1000);
    cr_expect_str_eq(p->spawns.v[0].path, suid);
    cr_expect_eq(p->spawns.v[MW_SPAWNS_KEPT - 1].pid, 1000 + MW_SPAWNS_KEPT - 1);
    cr_expect_eq(p->spawns_unkept, 10);
    mw_proc_free(p);
    mw_tb_release(&b);
    unlink(suid);
    rmdir(dir);
}

/* A failed exec: the shim ends the trace before the exec (EXEC, END with reason exec) and,
 * when the exec fails, goes on tracing into the same stream up to a final END. What follows
 * the first END counts; without the final END the trace is cut short. */
Test(ingest, records_after_a_failed_exec_count)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    mw_block_ref a = mw_tb_alloc(&b, MW_AK_MALLOC, 111, 2, 0x1000);
    MW_TB_ADD(&b, mw_enc_exec, "/nonexistent/prog", 17);
    MW_TB_ADD(&b, mw_enc_end, 500000, 0, 0, MW_END_EXEC, -1);
    mw_tb_alloc(&b, MW_AK_MALLOC, 222, 3, 0x2000);
    mw_tb_free_block(&b, a);
    size_t cut = b.len;
    MW_TB_ADD(&b, mw_enc_end, 1000000, 0, 0, MW_END_EXIT, 3);
    mw_proc *p = ingest_ok(&b);
    cr_expect_eq(p->allocations, 2);
    cr_expect_eq(p->frees, 1);
    cr_expect_eq(p->heap_live, 222);
    cr_expect_eq(p->execs.n, 1, "the exec was attempted");
    cr_expect(p->have_end);
    cr_expect_not(p->truncated);
    cr_expect_eq(p->end_reason, MW_END_EXIT);
    cr_expect_eq(p->exit_status, 3);
    mw_proc_free(p);
    b.len = cut; /* no final END: cut short after the failed exec */
    p = ingest_ok(&b);
    cr_expect_eq(p->allocations, 2);
    cr_expect_not(p->have_end);
    cr_expect(p->truncated);
    mw_proc_free(p);
    /* an END for an exit stays the last word */
    mw_tb_release(&b);
    mw_tb_init(&b);
    header(&b);
    end(&b, 0);
    mw_tb_alloc(&b, MW_AK_MALLOC, 333, 2, 0x3000);
    p = ingest_ok(&b);
    cr_expect_eq(p->allocations, 0);
    cr_expect_eq(p->end_reason, MW_END_EXIT);
    mw_proc_free(p);
    mw_tb_release(&b);
}

/* A thread index passes to a new thread once its thread ended (TRACE-FORMAT.md 3.1): block
 * numbers continue, and a watch event keeps the name of the thread that wrote, not of the
 * index's last thread, also when it is read after the index passed on. */
Test(ingest, reused_thread_index_continues_its_stream)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    MW_TB_ADD(&b, mw_enc_watch_reg, 1, 0x5000, 8, 0x10, "g_balance", 9);
    mw_tb_switch(&b, 1);
    MW_TB_ADD(&b, mw_enc_thread_start, 1, 5001, 0, "writer-a", 8);
    mw_block_ref a = mw_tb_alloc(&b, MW_AK_MALLOC, 100, 2, 0x1000);
    mw_watch_write_args w = {.id = 1, .offset = 0, .len = 4, .tid = 5001, .pc = 0x401000,
                             .stack = 2, .flags = 0, .t_ns = 5, .syscall = -1};
    MW_TB_ADD(&b, mw_enc_watch_write, &w);
    MW_TB_ADD(&b, mw_enc_thread_end, 1);
    MW_TB_ADD(&b, mw_enc_thread_start, 1, 5002, 0, "writer-b", 8);
    mw_block_ref c = mw_tb_alloc(&b, MW_AK_MALLOC, 200, 2, 0x2000);
    w.tid = 5002;
    MW_TB_ADD(&b, mw_enc_watch_write, &w);
    mw_tb_free_block(&b, a);   /* the block of the index's first thread, freed by the second */
    /* the fault thread's event about writer-a, read after writer-b took the index over (the
     * shim hands an ended thread's index, and ring, to the next new thread at once) */
    mw_tb_switch(&b, 2);
    MW_TB_ADD(&b, mw_enc_thread_start, 2, 5003, 0, "memwatch-watch", 14);
    w.tid = 5001;
    MW_TB_ADD(&b, mw_enc_watch_write, &w);
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_expect_eq(c.seq, a.seq + 1, "the second thread's blocks continue the index's numbering");
    cr_expect_eq(p->allocations, 2);
    cr_expect_eq(p->frees, 1);
    cr_expect_eq(p->heap_live, 200);
    cr_expect_eq(p->unmatched_frees, 0);
    cr_assert_eq(p->watch_events.n, 3);
    cr_expect_str_eq(p->watch_events.v[0].thread_name, "writer-a");
    cr_expect_str_eq(p->watch_events.v[1].thread_name, "writer-b");
    cr_assert_not_null(p->watch_events.v[2].thread_name, "a taken-over index's earlier thread is unnamed");
    cr_expect_str_eq(p->watch_events.v[2].thread_name, "writer-a");
    cr_expect_str_eq(mw_thread_at(p, 1)->name, "writer-b");
    cr_expect_not(mw_thread_at(p, 1)->ended);
    mw_proc_free(p);
    mw_tb_release(&b);
}

/* The thread a fatal signal arrived in is named as it was then: another thread may take its
 * index over before the trace ends (a thread started while the process was dying). */
Test(ingest, the_fatal_signals_thread_keeps_its_name)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    mw_tb_switch(&b, 1);
    MW_TB_ADD(&b, mw_enc_thread_start, 1, 7001, 0, "crasher", 7);
    mw_tb_alloc(&b, MW_AK_MALLOC, 100, 2, 0x1000);
    MW_TB_ADD(&b, mw_enc_fatal_signal, 50, 11, 1, 0, 2);
    MW_TB_ADD(&b, mw_enc_thread_end, 1);
    MW_TB_ADD(&b, mw_enc_thread_start, 1, 7002, 0, "latecomer", 9);
    mw_proc *p = ingest_ok(&b);
    char line[256];
    cr_assert(mw_fatal_line(p, line, sizeof line));
    cr_expect(strstr(line, "in thread crasher") != NULL, "%s", line);
    cr_expect_str_eq(mw_fatal_thread_name(p), "crasher");
    mw_proc_free(p);
    mw_tb_release(&b);
}

/* Thread indexes far apart cost a page of the thread table each, not every index below the
 * highest (a trace whose one record named index 65 535 held 18 MB until the report); blocks,
 * frees from another thread and names work the same in every page. */
Test(ingest, a_far_thread_index_costs_one_page)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    mw_tb_switch(&b, 65535);
    MW_TB_ADD(&b, mw_enc_thread_start, 65535, 9001, 0, "far", 3);
    mw_block_ref far1 = mw_tb_alloc(&b, MW_AK_MALLOC, 100, 2, 0x1000);
    mw_tb_alloc(&b, MW_AK_MALLOC, 50, 2, 0x2000);
    mw_tb_switch(&b, 300);
    mw_tb_free_block(&b, far1); /* another thread frees the far one's first block */
    mw_tb_alloc(&b, MW_AK_MALLOC, 7, 3, 0x3000);
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_assert_eq(p->threads.n, 65536);
    size_t pages = 0;
    for (size_t i = 0; i < p->threads.npages; i++) pages += p->threads.page[i] != NULL;
    cr_assert_eq(pages, 3, "pages of indexes 0, 300 and 65 535: %zu", pages);
    cr_assert_null(mw_thread_at(p, 1000));
    cr_assert_str_eq(mw_proc_thread_name(p, 65535), "far");
    cr_assert_str_eq(mw_proc_thread_name(p, 1000), "");
    cr_assert_eq(mw_thread_at(p, 65535)->tidx, 65535);
    cr_assert_eq(p->heap_live, 57);
    cr_assert_eq(p->unfreed.n, 2);
    mw_proc_free(p);
    mw_tb_release(&b);
}

/* A FATAL_SIGNAL of signal 0 (a corrupt trace) does not count as the first: the next one
 * replaces it, and the thread name the first kept is not leaked (found by fuzz_analyze). */
Test(ingest, a_fatal_signal_numbered_0_is_replaced_by_the_next)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    mw_tb_switch(&b, 1);
    MW_TB_ADD(&b, mw_enc_thread_start, 1, 7001, 0, "first", 5);
    MW_TB_ADD(&b, mw_enc_fatal_signal, 50, 0, 0, 0, 2);
    MW_TB_ADD(&b, mw_enc_thread_name, 1, "second", 6);
    MW_TB_ADD(&b, mw_enc_fatal_signal, 60, 11, 1, 0, 2);
    mw_proc *p = ingest_ok(&b);
    cr_expect_eq(p->fatal_signo, 11);
    cr_expect_str_eq(mw_fatal_thread_name(p), "second");
    mw_proc_free(p);
    mw_tb_release(&b);
}

Test(ingest, corrupt_and_newer_version_fail_with_a_message)
{
    mw_tracebuf b;
    mw_tb_init_empty(&b);
    uint8_t junk[4096];
    srand(7);
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rand();
    mw_tb_append(&b, junk, sizeof junk);
    int rc;
    mw_proc *p = ingest(&b, NULL, &rc);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err, "offset"), "names the offset: %s", err);
    mw_proc_free(p);
    mw_tb_release(&b);

    mw_tb_init(&b);
    header(&b);
    mw_tb_alloc(&b, MW_AK_MALLOC, 16, 2, 0x1000);
    b.data[8] = 9; /* version 9 */
    p = ingest(&b, NULL, &rc);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err, "version"), "%s", err);
    mw_proc_free(p);
    /* a corrupt record after good ones */
    b.data[8] = 1;
    uint8_t bad[] = {MW_REC_ALLOC, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    mw_tb_append(&b, bad, sizeof bad);
    p = ingest(&b, NULL, &rc);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err, "offset"), "%s", err);
    mw_proc_free(p);
    mw_tb_release(&b);
}

/* A block, or live blocks together, larger than any address space: corruption, said once,
 * not a signed overflow in the live sums (found by tests/fuzz/fuzz_analyze.c). */
Test(ingest, a_heap_larger_than_an_address_space_is_corrupt)
{
    static const struct { uint64_t size, count; bool ok; } cases[] = {
        {INT64_MAX, 1, false},  /* one block past any address space (2^57 bytes) */
        {1ull << 57, 8, true},  /* 2^60 bytes live: the most the analyzer takes */
        {1ull << 57, 9, false}, /* one block more */
    };
    for (size_t k = 0; k < 3; k++) {
        mw_tracebuf b;
        mw_tb_init(&b);
        header(&b);
        for (uint64_t i = 0; i < cases[k].count; i++) mw_tb_alloc(&b, MW_AK_MALLOC, cases[k].size, 2, 0x1000);
        end(&b, 0);
        int rc;
        mw_proc *p = ingest(&b, NULL, &rc);
        if (cases[k].ok) {
            cr_assert_eq(rc, 0, "%s", err);
            cr_assert_eq(p->heap_live, (int64_t)(1ull << 60));
        } else {
            cr_assert_eq(rc, -1, "case %zu", k);
            cr_assert(strstr(err, "larger than an address space at byte offset"), "%s", err);
        }
        mw_proc_free(p);
        mw_tb_release(&b);
    }
}

/* ---- JSON contract on a synthetic trace ----------------------------------------------- */
Test(ingest, json_report_has_every_contract_key, .timeout = 30)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    MW_TB_ADD(&b, mw_enc_sql_query, 0x1234ull, MW_DB_POSTGRES, "SELECT 1", 8);
    MW_TB_ADD(&b, mw_enc_sql_begin, 1, 0x1234ull);
    mw_block_ref a = mw_tb_alloc(&b, MW_AK_MALLOC, 100, 2, 0x1000);
    MW_TB_ADD(&b, mw_enc_sql_res_open, MW_RES_RESULT, 0x99, 0x1234ull, 3, MW_DB_POSTGRES);
    MW_TB_ADD(&b, mw_enc_sql_end, 1);
    MW_TB_ADD(&b, mw_enc_watch_reg, 1, 0x5000, 8, 0x10, "x", 1);
    uint8_t o[2] = {1, 2}, n[2] = {3, 4};
    mw_watch_write_args w = {.id = 1, .len = 2, .tid = 4242, .stack = 2, .sql_fp = 0x1234,
                             .flags = MW_WF_HAS_BYTES, .syscall = -1, .old_bytes = o,
                             .new_bytes = n, .bytes_len = 2, .loc_file = "a.py",
                             .loc_file_len = 4, .loc_line = 3, .loc_func = "f", .loc_func_len = 1};
    MW_TB_ADD(&b, mw_enc_watch_write, &w);
    MW_TB_ADD(&b, mw_enc_rss, 10, 1 << 20, 1 << 19, 1 << 19, 0, 1 << 24, 0);
    mw_reach_entry e = {a, MW_REACH_DEFINITE, 0};
    mw_tb_reach(&b, &e, 1, 0);
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    mw_symbolizer *sym = mw_sym_new(p);
    char dir[] = "/tmp/mw-an-json-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128], cmd[4096];
    snprintf(path, sizeof path, "%s/r.json", dir);
    FILE *f = fopen(path, "w");
    mw_report_proc rp = {.p = p, .sym = sym};
    mw_report r = {.out = f, .procs = &rp, .n = 1, .top = 10};
    mw_report_verdict(&r);
    cr_assert_eq(mw_report_json(&r), 0);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));"
             "assert d[\"format_version\"]==1;"
             "pr=d[\"process\"]; [pr[k] for k in (\"pid\",\"exe\",\"argv\")];"
             "t=d[\"totals\"]; [t[k] for k in (\"allocations\",\"frees\",\"bytes_allocated\",\"peak_heap_bytes\",\"peak_rss_bytes\")];"
             "l=d[\"leaks\"]; assert l[\"bytes\"]==100 and l[\"blocks\"]==1;"
             "s=l[\"sites\"][0]; assert s[\"kind\"]==\"definite\" and s[\"bytes\"]==100 and s[\"blocks\"]==1;"
             "[fr[k] for fr in s[\"stack\"] for k in (\"function\",\"file\",\"line\",\"module\")];"
             "assert len(s[\"stack\"])==2;"
             "q=d[\"sql\"][\"queries\"][0]; assert q[\"text\"]==\"SELECT 1\" and q[\"db\"]==\"postgres\" and q[\"calls\"]==1 and q[\"bytes_allocated\"]==100 and q[\"bytes_leaked\"]==100; q[\"fingerprint\"];"
             "lr=d[\"sql\"][\"leaked_resources\"][0]; assert lr[\"type\"]==\"result\" and lr[\"count\"]==1; lr[\"stack\"];"
             "ev=d[\"watch\"][\"events\"][0]; assert ev[\"variable\"]==\"x\" and ev[\"old\"]==\"0102\" and ev[\"new\"]==\"0304\";"
             "assert ev[\"tid\"]==4242 and ev[\"thread\"]==\"main\" and ev[\"sql\"]==\"0000000000001234\" and ev[\"syscall\"] is None;"
             "assert ev[\"location\"]=={\"file\":\"a.py\",\"line\":3,\"function\":\"f\"}; ev[\"offset\"]; ev[\"stack\"];"
             "assert d[\"lost_events\"]==0 and d[\"truncated\"] is False;"
             "assert t[\"peak_rss_bytes\"]==1048576' %s",
             path);
    cr_assert_eq(system(cmd), 0, "JSON contract check failed on %s", path);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    mw_sym_free(sym);
    mw_proc_free(p);
    mw_tb_release(&b);
}

/* ---- store ------------------------------------------------------------------------------ */
static long long count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    long long v = -1;
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

Test(store, reingest_is_idempotent_and_values_are_bound)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    const char *q = "SELECT 'x'); DROP TABLE runs; --";
    MW_TB_ADD(&b, mw_enc_sql_query, 7, MW_DB_SQLITE, q, strlen(q));
    mw_tb_alloc(&b, MW_AK_MALLOC, 100, 2, 0x1000);
    mw_tb_free_block(&b, mw_tb_alloc(&b, MW_AK_MALLOC, 10, 3, 0x2000));
    MW_TB_ADD(&b, mw_enc_mark, "phase 'one'", 11);
    MW_TB_ADD(&b, mw_enc_rss, 10, 1 << 20, 1 << 19, 1 << 19, 0, 1 << 24, 0);
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    mw_store *st = mw_store_open(":memory:", err, sizeof err);
    cr_assert_not_null(st, "%s", err);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(mw_store_write(st, p, NULL, err, sizeof err), 0, "%s", err);
    sqlite3 *db = mw_store_db(st);
    cr_assert_eq(count(db, "SELECT count(*) FROM runs"), 1);
    cr_assert_eq(count(db, "SELECT count(*) FROM sites"), 2);
    cr_assert_eq(count(db, "SELECT count(*) FROM unfreed_blocks"), 1);
    cr_assert_eq(count(db, "SELECT count(*) FROM run_args"), 2);
    cr_assert_eq(count(db, "SELECT count(*) FROM sql_queries WHERE text = 'SELECT ''x''); DROP TABLE runs; --'"), 1);
    cr_assert_eq(count(db, "SELECT count(*) FROM marks WHERE label = 'phase ''one'''"), 1);
    cr_assert_eq(count(db, "SELECT allocations FROM runs"), 2);
    cr_assert_eq(count(db, "SELECT bytes FROM leaks WHERE kind = 'unknown'"), 100);
    cr_assert_gt(count(db, "SELECT count(*) FROM series"), 0);
    mw_store_close(st);
    mw_proc_free(p);
    mw_tb_release(&b);
}

/* Stack nodes go to the store 256 rows per statement and the rest one by one: 600 nodes
 * (two batches and 88 single rows) come back exactly, also when written twice. */
Test(store, stack_nodes_in_batches)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b); /* nodes 1..3 */
    for (uint64_t id = 4; id <= 600; id++) MW_TB_ADD(&b, mw_enc_stack_node, id, id / 2, 0x400000 + id * 3);
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    mw_store *st = mw_store_open(":memory:", err, sizeof err);
    cr_assert_not_null(st, "%s", err);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(mw_store_write(st, p, NULL, err, sizeof err), 0, "%s", err);
    sqlite3 *db = mw_store_db(st);
    cr_assert_eq(count(db, "SELECT count(*) FROM stack_nodes"), 600);
    cr_assert_eq(count(db, "SELECT count(*) FROM stack_nodes WHERE node_id > 3 AND "
                           "(parent_id != node_id / 2 OR ip != 4194304 + node_id * 3)"), 0);
    cr_assert_eq(count(db, "SELECT sum(node_id) FROM stack_nodes"), 600 * 601 / 2);
    mw_store_close(st);
    mw_proc_free(p);
    mw_tb_release(&b);
}

Test(store, refuses_a_foreign_database)
{
    char dir[] = "/tmp/mw-an-db-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128], cmd[256];
    snprintf(path, sizeof path, "%s/other.db", dir);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_exec(db, "CREATE TABLE precious(x)", NULL, NULL, NULL);
    sqlite3_close(db);
    mw_store *st = mw_store_open(path, err, sizeof err);
    cr_assert_null(st);
    cr_assert(strstr(err, "not a memwatch store"), "%s", err);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
}

Test(ingest, long_runs_keep_a_bounded_evenly_spread_series)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    header(&b);
    /* 20000 RSS samples 10 ms apart (200 s), heap growing */
    for (uint64_t i = 1; i <= 20000; i++) {
        MW_TB_ADD(&b, mw_enc_time, i * 10000000ull);
        mw_tb_alloc(&b, MW_AK_MALLOC, 100, 2, 0x1000 + 128 * i);
        MW_TB_ADD(&b, mw_enc_rss, i * 10000000ull, (1 << 20) + i * 4096, 0, 0, 0, 0, 0);
    }
    end(&b, 0);
    mw_proc *p = ingest_ok(&b);
    cr_assert_leq(p->series.n, MW_SERIES_CAP);
    cr_assert_geq(p->series.n, MW_SERIES_CAP / 4);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 1; i + 1 < p->series.n; i++) {
        uint64_t gap = p->series.v[i].t_ns - p->series.v[i - 1].t_ns;
        if (gap < lo) lo = gap;
        if (gap > hi) hi = gap;
    }
    cr_assert_leq(hi, lo * 4, "gaps between %llu and %llu ns", (unsigned long long)lo,
                  (unsigned long long)hi);
    cr_assert_lt(p->series.v[0].t_ns, 1000000000ull, "the start of the run is kept");
    cr_assert_eq(p->peak_rss, (1 << 20) + 20000ull * 4096);
    const mw_site *s = site_of(p, 2);
    cr_assert_leq(s->nseries, MW_SITE_SERIES_CAP);
    cr_assert_gt(s->nseries, 16);
    cr_assert_eq(s->series[s->nseries - 1].v, 20000 * 100, "the last point is the end value");
    mw_proc_free(p);
    mw_tb_release(&b);
}
