/*
 * test_patterns_proc.c — the per-process growth analysis (analyzer/patterns_proc.c) on a trace
 * synthesized with the real encoder (formats/mw_tracefile.h) and ingested by the real
 * ingest.c: the external series is exactly RSS - heap - anonymous mappings (file mappings are
 * not subtracted), the limit comes from the LIMITS record, the leaking site is the one growing
 * site, alerts respect the cooldown, and every report format renders the section.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "mw_tracefile.h"
#include "patterns_report.h"

#define MiB 1048576.0
#define STEPS 60
#define DT_NS 50000000ull /* 50 ms */

/* Ends the trace built in b at step steps + 1, encodes it (releasing b) and ingests it. */
static mw_proc *ingest_built(mw_tracebuf *b, uint64_t steps, const char *name)
{
    MW_TB_ADD(b, mw_enc_end, (steps + 1) * DT_NS, 0, 0, MW_END_EXIT, 0);
    uint8_t *data;
    size_t len;
    cr_assert_eq(mw_tb_encode(b, NULL, &data, &len), 0);
    mw_tb_release(b);
    char err[256];
    mw_reader *r = mw_reader_open_mem(data, len, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    mw_proc *p = mw_proc_new(name);
    cr_assert_eq(mw_ingest_reader(p, r, err, sizeof err), 0, "%s", err);
    mw_reader_close(r);
    free(data);
    return p;
}

/* 3 s of a process leaking 64 KiB per 50 ms from stack 1, churning from stack 2, mapping
 * 1 MiB anonymous at step 10 and a 2 MiB file at step 20; RSS = 4 MiB + heap + anon + a slow
 * external drift of 8 KiB per step. */
static mw_proc *make_proc_steps(uint64_t steps)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, 42, 1, 4096, 0, 0, MW_HF_ALLOC_TRACING | MW_HF_STACKS,
              "/bin/leaky", 10, "leaky\0", 6);
    MW_TB_ADD(&b, mw_enc_limits, (uint64_t)(256 * MiB), 0, (uint64_t)(8192 * MiB));
    MW_TB_ADD(&b, mw_enc_stack_node, 1, 0, 0x401000);
    MW_TB_ADD(&b, mw_enc_stack_node, 2, 0, 0x402000);
    mw_tb_switch(&b, 0);
    uint64_t heap = 0;
    for (uint64_t i = 0; i < steps; i++) {
        uint64_t t = (i + 1) * DT_NS;
        MW_TB_ADD(&b, mw_enc_time, t);
        mw_tb_alloc(&b, MW_AK_MALLOC, 65536, 1, 0x10000000 + i * 65536);
        heap += 65536;
        mw_block_ref tmp = mw_tb_alloc(&b, MW_AK_MALLOC, 1000, 2, 0x20000000);
        mw_tb_free_block(&b, tmp);
        uint64_t anon = i >= 10 ? (uint64_t)MiB : 0;
        if (i == 10)
            MW_TB_ADD(&b, mw_enc_mmap, 0x7f0000000000, (uint64_t)MiB, 3, 0x22, -1, 0, 1, "", 0);
        if (i == 20)
            MW_TB_ADD(&b, mw_enc_mmap, 0x7f1000000000, (uint64_t)(2 * MiB), 1, 0x02, 3, 0, 2,
                      "/data", 5);
        uint64_t rss = (uint64_t)(4 * MiB) + heap + anon + i * 8192;
        MW_TB_ADD(&b, mw_enc_rss, t, rss, rss, 0, 0, rss * 2, 0);
    }
    return ingest_built(&b, steps, "synthetic");
}
static mw_proc *make_proc(void) { return make_proc_steps(STEPS); }

/* A process whose memory stays flat for steps samples: one block kept, RSS constant but for
 * memwatch's own memory, which grows by own_step per sample and is said in the RSS records'
 * own field when say_own (else left out, as older traces do). */
static mw_proc *make_flat_proc_own(uint64_t steps, uint64_t own_step, bool say_own)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, 43, 1, 4096, 0, 0, MW_HF_ALLOC_TRACING | MW_HF_STACKS,
              "/bin/flat", 9, "flat\0", 5);
    MW_TB_ADD(&b, mw_enc_stack_node, 1, 0, 0x401000);
    mw_tb_switch(&b, 0);
    mw_tb_alloc(&b, MW_AK_MALLOC, 65536, 1, 0x10000000);
    for (uint64_t i = 0; i < steps; i++) {
        uint64_t t = (i + 1) * DT_NS;
        MW_TB_ADD(&b, mw_enc_time, t);
        uint64_t own = (uint64_t)MiB + i * own_step;
        uint64_t rss = (uint64_t)(8 * MiB) + own;
        MW_TB_ADD(&b, mw_enc_rss, t, rss, rss, 0, 0, rss * 2, say_own ? own : 0);
    }
    return ingest_built(&b, steps, "synthetic-flat");
}

static mw_proc *make_flat_proc(uint64_t steps) { return make_flat_proc_own(steps, 0, true); }

/* The program's RSS and external memory leave memwatch's own out: its tables growing with the
 * program's live blocks are not the program growing (they made a Python run's external memory
 * read "leak"). A trace without the own field is read as before. */
Test(patterns_proc, memwatchs_own_memory_is_not_the_programs)
{
    mw_proc *p = make_flat_proc_own(20, 2 * MiB, true);
    cr_assert_eq(p->own_at_peak_rss, (uint64_t)MiB + 19 * 2 * MiB);
    cr_assert_eq(p->peak_prog_rss, (uint64_t)(8 * MiB), "--fail-on's peak_rss is the program's");
    mw_patterns *pt = mw_patterns_analyze(p, NULL);
    cr_assert_not_null(pt);
    cr_expect_eq(pt->verdict[MW_SER_RSS].type, MW_PAT_STABLE, "%s", mw_pattern_type_name(pt->verdict[MW_SER_RSS].type));
    cr_expect_eq(pt->verdict[MW_SER_EXTERNAL].type, MW_PAT_STABLE, "%s",
                 mw_pattern_type_name(pt->verdict[MW_SER_EXTERNAL].type));
    mw_patterns_free(pt);
    mw_proc_free(p);
    p = make_flat_proc_own(20, 2 * MiB, false);
    pt = mw_patterns_analyze(p, NULL);
    cr_assert_not_null(pt);
    cr_expect_neq(pt->verdict[MW_SER_RSS].type, MW_PAT_STABLE, "unsaid, it is growth");
    cr_expect_neq(pt->verdict[MW_SER_EXTERNAL].type, MW_PAT_STABLE);
    mw_patterns_free(pt);
    mw_proc_free(p);
}

/* External memory counts the heap and the tracked anonymous mappings only as far as resident
 * anonymous memory can hold them: a 512 MiB reservation never touched (node's V8) and a 1 GiB
 * calloc never written made it hundreds of MiB below zero. */
Test(patterns_proc, external_memory_is_never_below_the_file_backed_rss)
{
    for (int big_heap = 0; big_heap < 2; big_heap++) {
        mw_tracebuf b;
        mw_tb_init(&b);
        MW_TB_ADD(&b, mw_enc_header, 44, 1, 4096, 0, 0, MW_HF_ALLOC_TRACING | MW_HF_STACKS,
                  "/bin/resv", 9, "resv\0", 5);
        MW_TB_ADD(&b, mw_enc_stack_node, 1, 0, 0x401000);
        mw_tb_switch(&b, 0);
        mw_tb_alloc(&b, MW_AK_MALLOC, big_heap ? 1024 * MiB : MiB, 1, 0x10000000);
        MW_TB_ADD(&b, mw_enc_mmap, 0x7f0000000000ull, 512 * MiB, 0 /* PROT_NONE */, 0x22, -1, 0, 1, "", 0);
        for (uint64_t i = 0; i < 20; i++) {
            uint64_t t = (i + 1) * DT_NS;
            MW_TB_ADD(&b, mw_enc_time, t);
            /* RSS 10 MiB: 6 MiB anonymous (1 MiB of heap written, the rest untraced), 4 MiB of files */
            MW_TB_ADD(&b, mw_enc_rss, t, 10 * MiB, 6 * MiB, 4 * MiB, 0, 600 * MiB, 0);
        }
        mw_proc *p = ingest_built(&b, 20, "synthetic-reservation");
        mw_patterns *pt = mw_patterns_analyze(p, NULL);
        cr_assert_not_null(pt);
        /* rss - heap - mappings, each bounded by the 6 MiB of resident anonymous memory */
        double want = big_heap ? 4.0 * MiB : 10.0 * MiB - 1.0 * MiB - 5.0 * MiB;
        for (size_t i = pt->first[MW_SER_EXTERNAL]; i < pt->n; i++)
            cr_expect_eq(pt->v[MW_SER_EXTERNAL][i], want, "heap %s: sample %zu: %.0f", big_heap ? "1 GiB" : "1 MiB", i,
                         pt->v[MW_SER_EXTERNAL][i]);
        cr_expect_eq(pt->verdict[MW_SER_EXTERNAL].type, MW_PAT_STABLE);
        mw_patterns_free(pt);
        mw_proc_free(p);
    }
}

/* One format's growth-pattern section into a new buffer (k: 0 JSON, 1 text, 2 Markdown,
 * 3 HTML); the caller frees it. */
static char *render(mw_report *r, mw_report_proc *rp, int k)
{
    char *buf = NULL;
    size_t len = 0;
    r->out = open_memstream(&buf, &len);
    cr_assert_not_null(r->out);
    if (k == 0) {
        mw_json j;
        mw_json_init(&j, r->out);
        mw_json_obj(&j);
        mw_patterns_json_sec(r, rp, &j);
        mw_json_obj_end(&j);
    } else if (k == 1) mw_patterns_text_sec(r, rp);
    else if (k == 2) mw_patterns_md_sec(r, rp);
    else mw_patterns_html_sec(r, rp);
    fclose(r->out);
    return buf;
}

Test(patterns_proc, series_verdicts_sites_alerts)
{
    mw_proc *p = make_proc();
    mw_alert_config c;
    mw_alert_config_default(&c);
    char err[300];
    cr_assert_eq(mw_alert_config_set_kv(&c, "heap_bytes=1M", err, sizeof err), 0);
    cr_assert_eq(mw_alert_config_set_kv(&c, "cooldown_s=1", err, sizeof err), 0);
    mw_patterns *pt = mw_patterns_analyze(p, &c);
    cr_assert_not_null(pt);

    cr_assert_str_eq(pt->limit.source, "cgroup memory.max");
    cr_assert_eq(pt->limit.bytes, 256 * MiB);
    size_t f = pt->first[MW_SER_RSS];
    cr_assert(f < pt->n && pt->n - f >= STEPS);
    for (size_t i = f; i < pt->n; i++) {
        double heap = pt->v[MW_SER_HEAP][i], rss = pt->v[MW_SER_RSS][i];
        double anon = pt->t[i] >= 11 * DT_NS / 1e9 - 1e-9 ? MiB : 0;
        cr_assert_float_eq(pt->v[MW_SER_EXTERNAL][i], rss - heap - anon, 0.5,
                           "sample %zu (t %.2f): external %.0f, rss %.0f heap %.0f", i,
                           pt->t[i], pt->v[MW_SER_EXTERNAL][i], rss, heap);
        if (pt->t[i] <= STEPS * DT_NS / 1e9 + 1e-9) /* after that: the end, no new RSS */
            cr_assert_float_eq(pt->v[MW_SER_EXTERNAL][i],
                               4 * MiB + round(pt->t[i] / 0.05 - 1) * 8192, 0.5, "sample %zu", i);
    }
    const mw_pattern *h = &pt->verdict[MW_SER_HEAP];
    cr_assert_eq(h->type, MW_PAT_LEAK, "%s", h->sentence);
    cr_assert(fabs(h->growth_bytes_per_s - 65536 / 0.05) < 0.02 * 65536 / 0.05, "%f",
              h->growth_bytes_per_s);
    cr_assert(h->has_eta);
    double last_rss = pt->v[MW_SER_RSS][pt->n - 1];
    double eta = (256 * MiB - last_rss) / h->growth_bytes_per_s;
    cr_assert(fabs(h->seconds_to_limit - eta) < 0.05 * eta, "%f vs %f", h->seconds_to_limit, eta);
    cr_assert_eq(pt->verdict[MW_SER_MAPPED].type, MW_PAT_LINEAR,
                 "two steps up in 3 s: %s", pt->verdict[MW_SER_MAPPED].sentence);

    cr_assert_eq(pt->nsites, 1);
    cr_assert_eq(p->sites.v[pt->sites[0].site].stack, 1);
    cr_assert(pt->sites[0].n >= 10);

    size_t heap_alerts = 0;
    double last = -10;
    for (size_t i = 0; i < pt->alerts.n; i++) {
        const mw_alert *a = &pt->alerts.v[i];
        if (a->rule != MW_AR_HEAP) continue;
        cr_assert(a->t - last >= 1.0);
        cr_assert(a->value > 1 * MiB);
        last = a->t;
        heap_alerts++;
    }
    /* above 1 MiB from t = 0.8 s (16 x 64 KiB) to 3 s: at 0.85, 1.85, 2.85 */
    cr_assert_eq(heap_alerts, 3);

    /* every format renders the section (no symbolizer: stacks show as "(no stack)") */
    mw_report_proc rp = {.p = p, .patterns = pt};
    mw_report r = {.procs = &rp, .n = 1, .top = 10};
    static const char *const needle[] = {"\"patterns\": {", "Growth patterns", "## Growth patterns",
                                         "<svg"};
    for (int k = 0; k < 4; k++) {
        char *buf = render(&r, &rp, k);
        cr_assert(strstr(buf, needle[k]) || (k == 0 && strstr(buf, "\"patterns\":{")),
                  "format %d lacks %s:\n%.400s", k, needle[k], buf);
        cr_assert(strstr(buf, "leak"), "format %d has no verdict", k);
        if (k == 1) cr_assert(strstr(buf, "value 1."), "alerts listed with value: %s", buf);
        free(buf);
    }
    mw_patterns_free(pt);
    mw_proc_free(p);
}

Test(patterns_proc, empty_process)
{
    mw_proc *p = mw_proc_new("empty");
    mw_patterns *pt = mw_patterns_analyze(p, NULL);
    cr_assert_not_null(pt);
    cr_assert_eq(pt->n, 0);
    cr_assert_eq(pt->nsites, 0);
    cr_assert_eq(pt->alerts.n, 0);
    cr_assert_str_eq(pt->limit.source, "none");
    for (int k = 0; k < MW_SER_COUNT; k++) {
        cr_assert_eq(pt->verdict[k].type, MW_PAT_STABLE);
        cr_assert_eq(pt->verdict[k].confidence, 0);
    }
    mw_patterns_free(pt);
    mw_proc_free(p);
}

/* A run too short for a pattern (a process that lived 100 ms): the text and Markdown reports
 * say so in one line instead of verdicts, rates and times to the limit drawn from two points;
 * JSON keeps the verdicts. */
Test(patterns_proc, short_run_says_too_short)
{
    mw_proc *p = make_proc_steps(1);
    mw_patterns *pt = mw_patterns_analyze(p, NULL);
    cr_assert_not_null(pt);
    cr_assert(pt->n >= 1 && pt->n < 3, "%zu samples", pt->n);
    mw_report_proc rp = {.p = p, .patterns = pt};
    mw_report r = {.procs = &rp, .n = 1, .top = 10};
    for (int k = 0; k < 3; k++) {
        char *buf = render(&r, &rp, k);
        if (k == 0) {
            cr_assert(strstr(buf, "\"type\""), "JSON keeps the verdicts: %s", buf);
        } else {
            cr_assert(strstr(buf, "too short a run to tell"), "format %d: %s", k, buf);
            cr_assert_null(strstr(buf, "limit in"), "format %d: %s", k, buf);
            cr_assert_null(strstr(buf, "confidence"), "format %d: %s", k, buf);
        }
        free(buf);
    }
    /* in a report of several processes it says nothing at all: nothing grew, no alert fired */
    r.compact = true;
    char *buf = render(&r, &rp, 1);
    cr_assert_str_eq(buf, "", "compact text: %s", buf);
    free(buf);
    mw_patterns_free(pt);
    mw_proc_free(p);
}

/* Every series stable, nothing growing, no alert: the report of one process gives the four
 * verdicts; a report of several processes (memwatch run) leaves the section out. */
Test(patterns_proc, all_stable_is_left_out_of_a_compact_report)
{
    mw_proc *p = make_flat_proc(20);
    mw_patterns *pt = mw_patterns_analyze(p, NULL);
    cr_assert_not_null(pt);
    for (int k = 0; k < MW_SER_COUNT; k++)
        cr_assert_eq(pt->verdict[k].type, MW_PAT_STABLE, "series %d: %s", k,
                     mw_pattern_type_name(pt->verdict[k].type));
    mw_report_proc rp = {.p = p, .patterns = pt};
    mw_report r = {.procs = &rp, .n = 1, .top = 10};
    char *buf = render(&r, &rp, 1);
    cr_assert(strstr(buf, "Growth patterns (") && strstr(buf, "  heap      stable"), "%s", buf);
    free(buf);
    r.compact = true;
    buf = render(&r, &rp, 1);
    cr_assert_str_eq(buf, "", "compact text: %s", buf);
    free(buf);
    mw_patterns_free(pt);
    mw_proc_free(p);
}
