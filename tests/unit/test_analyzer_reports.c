/*
 * test_analyzer_reports.c — every report format on a synthetic trace whose every string is
 * hostile (program path, argv, thread name, module path, SQL text, watch name and metadata,
 * mark label, mapped file, adapter source location): HTML and Markdown contain no live
 * markup, the text report no control characters, and JSON round-trips the strings exactly.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest.h"
#include "mw_tracefile.h"
#include "report.h"
#include "suppress.h"

#define EVIL "<script>alert(1)</script>\"'&\x1b[31m|`*"

/* The model of the trace built in b (released here), as if read from path. */
static mw_proc *ingest_buf(mw_tracebuf *b, const char *path)
{
    uint8_t *data;
    size_t len;
    mw_tb_opts raw = MW_TB_OPTS_DEFAULT;
    raw.raw = 1;
    cr_assert_eq(mw_tb_encode(b, &raw, &data, &len), 0);
    mw_tb_release(b);
    char err[256];
    mw_reader *r = mw_reader_open_mem(data, len, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    mw_proc *p = mw_proc_new(path);
    cr_assert_eq(mw_ingest_reader(p, r, err, sizeof err), 0, "%s", err);
    mw_reader_close(r);
    free(data);
    return p;
}

static mw_proc *evil_proc(void)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    static const char av[] = "/x/" EVIL "\0--name=" EVIL "\0";
    MW_TB_ADD(&b, mw_enc_header, 7, 1, 4096, 1, 0, MW_HF_ALLOC_TRACING, "/x/" EVIL,
              strlen("/x/" EVIL), av, sizeof av - 1);
    mw_tb_switch(&b, 0);
    MW_TB_ADD(&b, mw_enc_thread_start, 0, 7, 0, EVIL, strlen(EVIL));
    MW_TB_ADD(&b, mw_enc_module_load, 1, 0, 0x400000, 0x10000, NULL, 0, "/lib/" EVIL,
              strlen("/lib/" EVIL));
    MW_TB_ADD(&b, mw_enc_stack_node, 1, 0, 0x401000);
    MW_TB_ADD(&b, mw_enc_sql_query, 9, MW_DB_SQLITE, "SELECT '" EVIL "'", strlen("SELECT '" EVIL "'"));
    MW_TB_ADD(&b, mw_enc_sql_begin, 1, 9);
    mw_tb_alloc(&b, MW_AK_MALLOC, 100, 1, 0x1000);
    MW_TB_ADD(&b, mw_enc_sql_res_open, MW_RES_STATEMENT, 0x5, 9, 1, MW_DB_SQLITE);
    MW_TB_ADD(&b, mw_enc_sql_end, 1);
    MW_TB_ADD(&b, mw_enc_mark, EVIL, strlen(EVIL));
    mw_tb_alloc(&b, MW_AK_MALLOC, 50, 1, 0x2000);
    MW_TB_ADD(&b, mw_enc_mmap, 0x70000, 4096, 1, 2, 3, 0, 1, "/tmp/" EVIL, strlen("/tmp/" EVIL));
    MW_TB_ADD(&b, mw_enc_watch_reg, 1, 0x5000, 8, 0x10, EVIL, strlen(EVIL));
    MW_TB_ADD(&b, mw_enc_watch_meta, 1, EVIL, strlen(EVIL), EVIL, strlen(EVIL));
    uint8_t o[1] = {1}, n[1] = {2};
    mw_watch_write_args w = {.id = 1, .len = 1, .tid = 7, .stack = 1, .flags = MW_WF_HAS_BYTES,
                             .syscall = -1, .old_bytes = o, .new_bytes = n, .bytes_len = 1,
                             .loc_file = EVIL, .loc_file_len = strlen(EVIL), .loc_line = 1,
                             .loc_func = EVIL, .loc_func_len = strlen(EVIL)};
    MW_TB_ADD(&b, mw_enc_watch_write, &w);
    MW_TB_ADD(&b, mw_enc_rss, 10, 1 << 20, 0, 0, 0, 0, 0);
    MW_TB_ADD(&b, mw_enc_rss, 20, 2 << 20, 0, 0, 0, 0, 0);
    MW_TB_ADD(&b, mw_enc_end, 30, 0, 0, MW_END_EXIT, 0);
    mw_proc *p = ingest_buf(&b, "/tmp/" EVIL ".trace.zst");
    return p;
}

/* Renders p in fmt into a malloc'd string. */
static char *render(mw_proc *p, int (*fn)(mw_report *), const char *path)
{
    mw_symbolizer *sym = mw_sym_new(p);
    mw_supp_apply(NULL, p, sym);
    FILE *f = path ? fopen(path, "w") : NULL;
    char *buf = NULL;
    size_t len = 0;
    if (!f) f = open_memstream(&buf, &len);
    mw_report_proc rp = {.p = p, .sym = sym};
    mw_report r = {.out = f, .procs = &rp, .n = 1, .top = 10};
    mw_report_verdict(&r);
    cr_assert_eq(fn(&r), 0);
    fclose(f);
    mw_sym_free(sym);
    return buf;
}

Test(reports, html_has_no_live_markup)
{
    mw_proc *p = evil_proc();
    char *h = render(p, mw_report_html, NULL);
    cr_assert_null(strstr(h, "<script"), "a script element leaked into the HTML");
    cr_assert_null(strstr(h, "\x1b"), "raw control character");
    cr_assert(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
    cr_assert(strstr(h, "SELECT &#39;&lt;script&gt;"), "SQL text escaped");
    cr_assert(strstr(h, "</html>"));
    free(h);
    mw_proc_free(p);
}

/* The memory chart's top label is the largest sample, exactly: an RSS sample at UINT64_MAX
 * was converted back from a double out of range (found by tests/fuzz/fuzz_analyze.c). */
Test(reports, html_chart_of_the_largest_samples)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, 7, 1, 4096, 1, 0, MW_HF_ALLOC_TRACING, "/x", 2, "x\0", 2);
    mw_tb_switch(&b, 0);
    MW_TB_ADD(&b, mw_enc_rss, 10, 1 << 20, 0, 0, 0, 0, 0);
    MW_TB_ADD(&b, mw_enc_rss, 20, UINT64_MAX, 0, 0, 0, 0, 0);
    MW_TB_ADD(&b, mw_enc_end, 30, 0, 0, MW_END_EXIT, 0);
    mw_proc *p = ingest_buf(&b, "/tmp/x.trace.zst");
    char *h = render(p, mw_report_html, NULL);
    char top[32], want[64];
    snprintf(want, sizeof want, ">%s</text>", mw_fmt_bytes(UINT64_MAX, top));
    cr_assert(strstr(h, "<h3>Memory over time</h3>"), "no chart");
    cr_assert(strstr(h, want), "the chart's top label is not %s", want);
    free(h);
    mw_proc_free(p);
}

Test(reports, markdown_has_no_live_markup)
{
    mw_proc *p = evil_proc();
    char *m = render(p, mw_report_md, NULL);
    cr_assert_null(strstr(m, "<script"), "%s", m);
    cr_assert_null(strstr(m, "\x1b"), "%s", m);
    cr_assert(strstr(m, "&lt;script&gt;"), "%s", m);
    free(m);
    mw_proc_free(p);
}

Test(reports, text_has_no_control_characters)
{
    mw_proc *p = evil_proc();
    char *t = render(p, mw_report_text, NULL);
    for (const char *c = t; *c; c++)
        cr_assert((unsigned char)*c >= 0x20 || *c == '\n', "control byte 0x%02x in text", *c);
    cr_assert(strstr(t, "<script>alert(1)</script>"), "text shows names as they are");
    free(t);
    mw_proc_free(p);
}

Test(reports, json_round_trips_hostile_strings, .timeout = 30)
{
    mw_proc *p = evil_proc();
    char path[] = "/tmp/mw-an-evil-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    render(p, mw_report_json, path);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys\n"
             "d=json.load(open(sys.argv[1]))\n"
             "E=\"<script>alert(1)</script>\\\"\\x27&\\x1b[31m|`*\"\n"
             "assert d[\"process\"][\"exe\"]==\"/x/\"+E, d[\"process\"][\"exe\"]\n"
             "assert d[\"process\"][\"argv\"]==[\"/x/\"+E, \"--name=\"+E]\n"
             "assert d[\"sql\"][\"queries\"][0][\"text\"]==\"SELECT \\x27\"+E+\"\\x27\"\n"
             "assert d[\"watch\"][\"variables\"][0][\"name\"]==E\n"
             "assert d[\"watch\"][\"variables\"][0][\"metadata\"]=={E: E}\n"
             "assert d[\"watch\"][\"events\"][0][\"thread\"]==E\n"
             "assert d[\"watch\"][\"events\"][0][\"location\"]=={\"file\": E, \"line\": 1, \"function\": E}\n"
             "assert d[\"marks\"][0][\"label\"]==E and d[\"marks\"][0][\"leaked_bytes\"]==50\n"
             "assert d[\"mappings\"][\"at_exit\"][0][\"path\"]==\"/tmp/\"+E\n"
             "assert d[\"leaks\"][\"sites\"][0][\"stack\"][0][\"module\"]==\"/lib/\"+E\n"
             "assert d[\"leaks\"][\"bytes\"]==150 and d[\"sql\"][\"queries\"][0][\"bytes_leaked\"]==100\n"
             "' %s",
             path);
    cr_assert_eq(system(cmd), 0);
    unlink(path);
    mw_proc_free(p);
}
