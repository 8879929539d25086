/*
 * test_analyzer_cli.c — memwatch-analyze end to end on real traces: the analyzer_leak victim
 * runs under the shim, then the ASan+UBSan build of the analyzer (build/asan/memwatch-analyze)
 * reads its trace. Covers the JSON contract keys, the symbolized file:line of the leak site,
 * suppressions, --fail-on exit codes, HTML escaping of a hostile program name and argv,
 * truncated / garbage / newer-version traces, multi-trace merge, idempotent re-ingest,
 * --db :memory:, usage errors. JSON is checked with python3's json module.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "mwtest.h"

static char *g_dir;

static void setup(void) { g_dir = mwt_tmpdir(); }
static void teardown(void)
{
    mwt_rmtree(g_dir);
    free(g_dir);
}
TestSuite(analyzer_cli, .init = setup, .fini = teardown, .timeout = 180);

static const char *analyzer(void)
{
    static char p[4200];
    snprintf(p, sizeof p, "%s/asan/memwatch-analyze", mwt_build_dir());
    return p;
}

static char *path_in(const char *name)
{
    static char ring[8][4200];
    static int k;
    char *p = ring[k++ % 8];
    snprintf(p, sizeof ring[0], "%s/%s", g_dir, name);
    return p;
}

/* Runs the victim (argv after the program) under the shim into sub-directory sub; returns
 * the trace path (static ring). */
static const char *trace_of(const char *program, const char *sub, const char *const *args)
{
    static char ring[4][4200];
    static int k;
    char *out = ring[k++ % 4];
    char *dir = path_in(sub);
    mkdir(dir, 0755);
    const char *argv[8] = {program};
    for (int i = 0; args && args[i] && i < 6; i++) argv[i + 1] = args[i];
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = argv, .preload = true, .trace_dir = dir}, &r), 0);
    cr_assert_eq(r.exit_code, 0, "victim failed: %s", r.err);
    mwt_run_free(&r);
    char **paths;
    size_t n = mwt_find_traces(dir, &paths);
    cr_assert_eq(n, 1, "expected one trace in %s", dir);
    snprintf(out, sizeof ring[0], "%s", paths[0]);
    mwt_free_list(paths, n);
    return out;
}

static const char *leak_trace(void) { return trace_of(mwt_victim("analyzer_leak"), "leaky", NULL); }
static const char *clean_trace(void)
{
    const char *a[] = {"clean", NULL};
    return trace_of(mwt_victim("analyzer_leak"), "clean", a);
}

/* Runs the analyzer with args (NULL-terminated). */
static void analyze(mwt_run *r, const char *const *args)
{
    const char *argv[32] = {analyzer()};
    size_t i = 0;
    for (; args[i] && i < 30; i++) argv[i + 1] = args[i];
    cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = argv, .env = (const char *const[]){
                                           "ASAN_OPTIONS=detect_leaks=1", NULL}}, r), 0);
    cr_assert_not(strstr(r->err, "AddressSanitizer") || strstr(r->err, "runtime error"),
                  "sanitizer report:\n%s", r->err);
}

/* python3 check: the script sees the parsed JSON of file as d. */
static void check_json(const char *file, const char *script)
{
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "python3 -c 'import json,sys\nd=json.load(open(sys.argv[1]))\n%s' '%s'",
                       script, file) > 0);
    int rc = system(cmd);
    free(cmd);
    cr_assert_eq(rc, 0, "JSON check failed on %s:\n%s", file, script);
}

/* The line of analyzer_leak.c that allocates the definite leak. */
/* The line of a victim's source (tests/victims/FILE) holding marker. */
static int victim_line(const char *file, const char *marker)
{
    char p[4200], line[512];
    snprintf(p, sizeof p, "%s/tests/victims/%s", mwt_src_dir(), file);
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f, "%s", p);
    int n = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        n++;
        if (strstr(line, marker)) found = n;
    }
    fclose(f);
    cr_assert_gt(found, 0, "%s not in %s", marker, file);
    return found;
}
static int leak_line(void) { return victim_line("analyzer_leak.c", "this line is the leak site"); }

static size_t one_line(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

Test(analyzer_cli, json_contract_and_symbolized_leak_site)
{
    const char *t = leak_trace();
    char *json = path_in("r.json");
    mwt_run r;
    analyze(&r, (const char *const[]){t, "--format", "json", "-o", json, "--db", path_in("x.db"), NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_run_free(&r);
    char script[4096];
    snprintf(script, sizeof script,
             "assert d[\"format_version\"]==1\n"
             "p=d[\"process\"]; assert p[\"pid\"]>0 and p[\"exe\"].endswith(\"analyzer_leak\") and p[\"argv\"][0].endswith(\"analyzer_leak\")\n"
             "t=d[\"totals\"]\n"
             "assert t[\"allocations\"]>=1004 and t[\"frees\"]>=1000 and t[\"bytes_allocated\"]>=1000*64 and t[\"peak_heap_bytes\"]>=1234 and t[\"peak_rss_bytes\"]>0\n"
             "l=d[\"leaks\"]; assert l[\"bytes\"]>=1234+64+64+777, l; l[\"blocks\"]\n"
             "s=[x for x in l[\"sites\"] if x[\"bytes\"]==1234]; assert len(s)==1, l[\"sites\"]\n"
             "s=s[0]; assert s[\"kind\"] in (\"definite\",\"indirect\",\"reachable\") and s[\"blocks\"]==1\n"
             "f=s[\"stack\"][0]; assert set(f)>={\"function\",\"file\",\"line\",\"module\"}, f\n"
             "assert f[\"function\"]==\"leak_here\" and f[\"file\"].endswith(\"analyzer_leak.c\") and f[\"line\"]==%d, f\n"
             "assert f[\"module\"].endswith(\"analyzer_leak\"), f\n"
             "assert any(x[\"function\"]==\"main\" for x in s[\"stack\"])\n"
             "assert not any(\"libmemwatch_preload\" in (x[\"module\"] or \"\") for x in s[\"stack\"])\n"
             "assert any(x[\"kind\"]==\"reachable\" and x[\"bytes\"]==777 for x in l[\"sites\"])\n"
             "sq=d[\"sql\"]; sq[\"queries\"]; sq[\"leaked_resources\"]\n"
             "w=d[\"watch\"]; w[\"events\"]; w[\"variables\"]\n"
             "assert d[\"lost_events\"]==0 and d[\"truncated\"] is False\n"
             "assert d[\"mappings\"][\"mapped_at_exit_bytes\"]>=8192\n"
             "assert any(m[\"label\"]==\"phase:leaky\" for m in d[\"marks\"])\n",
             leak_line());
    check_json(json, script);
}

Test(analyzer_cli, text_report_ranks_the_leak_first)
{
    const char *t = leak_trace();
    mwt_run r;
    analyze(&r, (const char *const[]){t, "--db", ":memory:", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char want[64];
    snprintf(want, sizeof want, "analyzer_leak.c:%d", leak_line());
    cr_assert(strncmp(r.out, "memwatch: analyzer_leak (pid ", 29) == 0, "%s", r.out);
    cr_assert(strstr(r.out, "LEAKED"), "%s", r.out);
    cr_assert(strstr(r.out, want), "%s", r.out);
    cr_assert(strstr(r.out, "phase:leaky"), "per-mark leaks: %s", r.out);
    cr_assert_null(strchr(r.out, '\033'), "no colour when not a tty");
    for (const char *l = r.out; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        cr_expect_leq(len, 100, "line wider than 100 columns: %.*s", (int)len, l);
        if (!e) break;
        l = e + 1;
    }
    mwt_run_free(&r);
    cr_assert_eq(access(path_in("leaky/x"), F_OK), -1);
}

/* Text stacks: when the program's first frame lies past the frames shown (stdio's buffer,
 * allocated deep in libc below puts; pthread_create's calloc), the innermost frame, then
 * "... N frames in system libraries", the library function called and the program's frame;
 * nothing below main (libc's start-up frames), as valgrind shows it. */
Test(analyzer_cli, text_stacks_skip_system_frames_and_stop_at_main)
{
    const char *t = trace_of(mwt_victim("reach_leaky"), "stdio", NULL);
    mwt_run r;
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "--top", "50", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    size_t skips = 0;
    for (const char *p = r.out; (p = strstr(p, "frames in system libraries")); p++) {
        const char *l1 = strchr(p, '\n'), *l2 = l1 ? strchr(l1 + 1, '\n') : NULL;
        cr_assert_not_null(l2, "%s", r.out);
        const char *l3 = strchr(l2 + 1, '\n');
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)(l3 ? l3 - l2 - 1 : (long)strlen(l2 + 1)), l2 + 1);
        cr_expect(strstr(line, " main ") && strstr(line, "reach_leaky.c:"),
                  "the program's frame after the library function: %s\n%s", line, r.out);
        skips++;
    }
    cr_expect_geq(skips, 1, "%s", r.out);
    cr_expect_null(strstr(r.out, "__libc_start_call_main"), "%s", r.out);
    mwt_run_free(&r);
}

/* Top sites that one line would name alike (leaf() reached from many places in
 * shim_stacks.c) are told apart by the first callers where their stacks differ, with the
 * callers' lines: every row of the table reads differently. */
/* The site column of the "Top allocation sites" table, one entry per row (continuation lines
 * joined), into rows; the number of rows. */
static size_t top_site_rows(const char *out, char (*rows)[256], size_t max)
{
    const char *p = strstr(out, "Top allocation sites");
    cr_assert_not_null(p, "%s", out);
    p = strchr(p, '\n');
    p = p ? strchr(p + 1, '\n') : NULL; /* past the column titles */
    cr_assert_not_null(p);
    size_t n = 0;
    for (p++; *p && *p != '\n';) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        cr_assert_gt(len, 36, "%.*s", (int)len, p);
        bool cont = !strncmp(p, "                                    ", 36); /* under the column */
        if (!cont && n < max) snprintf(rows[n++], 256, "%.*s", (int)(len - 36), p + 36);
        else if (cont && n > 0) {
            size_t l = strlen(rows[n - 1]);
            snprintf(rows[n - 1] + l, 256 - l, "%.*s", (int)(len - 37), p + 37);
        }
        if (!e) break;
        p = e + 1;
    }
    return n;
}

Test(analyzer_cli, top_sites_told_apart_by_their_callers)
{
    const char *t = trace_of(mwt_victim("shim_stacks"), "paths", NULL);
    mwt_run r;
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "--top", "30", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char rows[32][256];
    size_t n = top_site_rows(r.out, rows, 32);
    cr_assert_geq(n, 10, "%s", r.out);
    size_t x = 0, y = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) cr_expect_str_neq(rows[i], rows[j], "rows %zu and %zu", i, j);
        if (strstr(rows[i], "leaf shim_stacks.c:") && strstr(rows[i], " <- x:")) x++;
        if (strstr(rows[i], "leaf shim_stacks.c:") && strstr(rows[i], " <- y:")) y++;
    }
    cr_expect_geq(x, 2, "%s", r.out);
    cr_expect_geq(y, 1, "%s", r.out);
    /* recursions entered from one line differ only in depth, which the row says */
    for (int d = 8; d <= 10; d++) {
        char depth[32];
        snprintf(depth, sizeof depth, " <- rec:%d (x%d)", victim_line("shim_stacks.c", "        leaf(n);"), d);
        bool seen = false;
        for (size_t i = 0; i < n; i++) seen |= strstr(rows[i], depth) != NULL;
        cr_expect(seen, "no row with '%s': %s", depth, r.out);
    }
    /* a recursion's repeated frame is one line in the text stacks: rec(3) from interp gives
     * rec's frame around leaf's call, then the same recursive call 3 times */
    cr_expect(strstr(r.out, "rec  shim_stacks.c:") && strstr(r.out, "... the same frame 2 more times"),
              "%s", r.out);
    mwt_run_free(&r);
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "--top", "20", "--format", "md", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char rec_line[64]; /* "shim\\_stacks.c" in Markdown */
    snprintf(rec_line, sizeof rec_line, "stacks.c:%d (the same frame 2 more times)",
             victim_line("shim_stacks.c", "rec(d - 1, n);"));
    cr_expect(strstr(r.out, rec_line), "%s", r.out);
    mwt_run_free(&r);
}

/* The same victim without its debug information (objcopy --strip-debug: function names from
 * the symbol table, no lines): calls of one function from several places in another are told
 * apart by their offsets in it ("<- main+0x1f3"), where the lines used to. */
Test(analyzer_cli, top_sites_told_apart_without_line_information)
{
    char *bin = path_in("shim_stacks_nodebug");
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "objcopy --strip-debug '%s' '%s'", mwt_victim("shim_stacks"), bin);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    const char *t = trace_of(bin, "nodebug", NULL);
    mwt_run r;
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "--top", "30", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char rows[32][256];
    size_t n = top_site_rows(r.out, rows, 32), offsets = 0, in_two = 0;
    cr_assert_geq(n, 10, "%s", r.out);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) cr_expect_str_neq(rows[i], rows[j], "rows %zu and %zu", i, j);
        cr_expect_null(strstr(rows[i], "shim_stacks.c:"), "no line information: %s", rows[i]);
        if (strstr(rows[i], "<- main+0x")) offsets++;
        if (!strncmp(rows[i], "two @+0x", 8)) in_two++;
    }
    cr_expect_geq(offsets, 3, "%s", r.out);
    cr_expect_eq(in_two, 2, "two calls of malloc in two(), by offset: %s", r.out);
    mwt_run_free(&r);
    /* stripped of its symbols too, main has no name: the text stacks still end above libc's
     * start-up code */
    char *bare = path_in("shim_stacks_stripped");
    snprintf(cmd, sizeof cmd, "strip --strip-all -o '%s' '%s'", bare, mwt_victim("shim_stacks"));
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    t = trace_of(bare, "stripped", NULL);
    analyze(&r, (const char *const[]){t, "--db", ":memory:", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "      #1  shim_stacks_stripped+0x"), "%s", r.out);
    cr_expect_null(strstr(r.out, "__libc_start_call_main"), "%s", r.out);
    cr_expect_null(strstr(r.out, "__libc_start_main"), "%s", r.out);
    mwt_run_free(&r);
}

/* The demo program (examples/leaky_server.c) allocates through one sqlite3_step call line and
 * one sqlite3_prepare_v2 line in several places inside SQLite: its rows are told apart by the
 * first function inside the library where their stacks differ. */
Test(analyzer_cli, top_sites_told_apart_inside_a_library)
{
    char prog[4200];
    snprintf(prog, sizeof prog, "%s/examples/leaky_server", mwt_build_dir());
    const char *t = trace_of(prog, "demo", NULL);
    mwt_run r;
    analyze(&r, (const char *const[]){t, "--db", ":memory:", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char rows[32][256];
    size_t n = top_site_rows(r.out, rows, 32), inside = 0;
    cr_assert_geq(n, 5, "%s", r.out);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) cr_expect_str_neq(rows[i], rows[j], "rows %zu and %zu", i, j);
        if (strstr(rows[i], " via sqlite3_") && strstr(rows[i], " -> ")) inside++;
    }
    cr_expect_geq(inside, 2, "%s", r.out);
    mwt_run_free(&r);
}

Test(analyzer_cli, suppressions_and_fail_on)
{
    const char *t = leak_trace();
    char *supp = path_in("supp.txt");
    FILE *f = fopen(supp, "w");
    fputs("# the known leak\nleak:^leak_here$\nleak:lose_list\n", f);
    fclose(f);
    char *json = path_in("s.json");
    mwt_run r;
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "--format", "json", "-o", json,
                                       "--suppressions", supp, "--fail-on", "leaked>0", NULL});
    cr_assert_eq(r.exit_code, 0, "everything leaked is suppressed: %s", r.err);
    mwt_run_free(&r);
    check_json(json, "l=d[\"leaks\"]\n"
                     "assert l[\"suppressed\"][\"bytes\"]==1234+64+64, l[\"suppressed\"]\n"
                     "assert l[\"bytes\"]==777 and all(s[\"bytes\"]!=1234 for s in l[\"sites\"]), l\n");
    /* fail-on: 1 when it holds (report still written, condition named on stderr) */
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "--fail-on", "peak_heap>1M,leaked>100", NULL});
    cr_assert_eq(r.exit_code, 1, "%s", r.err);
    cr_assert(strstr(r.out, "LEAKED"), "the report is still written");
    cr_assert(strstr(r.err, "leaked=") && strstr(r.err, "> 100") && strstr(r.err, "analyzer_leak"), "%s", r.err);
    cr_assert_null(strstr(r.err, "peak_heap="), "only holding conditions are named: %s", r.err);
    mwt_run_free(&r);
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "--fail-on", "leaked>1M,reachable>1K", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_run_free(&r);
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "--fail-on", "leaked>>1", NULL});
    cr_assert_eq(r.exit_code, 2);
    cr_assert_eq(one_line(r.err), 1, "%s", r.err);
    mwt_run_free(&r);
    f = fopen(supp, "w");
    fputs("leak:ok\nbogus line\n", f);
    fclose(f);
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "--suppressions", supp, NULL});
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "supp.txt:2:"), "names the line: %s", r.err);
    cr_assert_eq(one_line(r.err), 1, "%s", r.err);
    mwt_run_free(&r);
    /* a clean run passes the gate; --ignore takes a process out of it */
    const char *c = clean_trace();
    analyze(&r, (const char *const[]){c, "--db", ":memory:", "--fail-on", "leaked>0", NULL});
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    mwt_run_free(&r);
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "--fail-on", "leaked>0", "--ignore",
                                       "*/analyzer_leak", NULL});
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_assert(strstr(r.out, "not gated: matches --ignore */analyzer_leak"), "%s", r.out);
    mwt_run_free(&r);
}

Test(analyzer_cli, html_escapes_a_hostile_name_and_argv)
{
    /* The program's path ends in "<script>alert(1)</script>" (a directory "<script>alert(1)<"
     * holding a file "script>"), its argv holds quotes, ampersand, angle brackets. */
    char *d = path_in("<script>alert(1)<");
    cr_assert_eq(mkdir(d, 0755), 0);
    char *prog = path_in("<script>alert(1)</script>");
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", mwt_victim("analyzer_leak"), prog);
    cr_assert_eq(system(cmd), 0);
    const char *args[] = {"\"&<>'", "<img src=x onerror=alert(2)>", NULL};
    const char *t = trace_of(prog, "hostile", args);
    char *html = path_in("r.html");
    mwt_run r;
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "--format", "html", "-o", html, NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_run_free(&r);
    FILE *f = fopen(html, "r");
    cr_assert_not_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    cr_assert_null(strstr(buf, "<script"), "no script element may appear");
    cr_assert_null(strstr(buf, "<img"), "no injected element");
    cr_assert(strstr(buf, "&lt;script&gt;alert(1)&lt;/script&gt;"), "the name is shown escaped");
    cr_assert(strstr(buf, "&quot;&amp;&lt;&gt;&#39;"), "argv is shown escaped");
    cr_assert(strstr(buf, "&lt;img src=x onerror=alert(2)&gt;"));
    cr_assert(strstr(buf, "<svg"), "the chart is inline");
    cr_assert(strstr(buf, "<details>"), "stacks are expandable");
    cr_assert_null(strstr(buf, "src=\""), "nothing is loaded from outside");
    cr_assert_null(strstr(buf, "href="), "no links");
    cr_assert_null(strstr(buf, "<link"));
    cr_assert_null(strstr(buf, "@import"));
    /* Markdown escapes too */
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "--format", "md", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strncmp(r.out, "## memwatch:", 12) == 0, "%s", r.out);
    cr_assert_null(strstr(r.out, "<img"), "%s", r.out);
    cr_assert_null(strstr(r.out, "<script"), "%s", r.out);
    mwt_run_free(&r);
}

/* The analyzer's own lines on stderr name things a traced program or a user chose: a
 * program's name with a newline and a terminal escape, a trace path with a newline. Each
 * stays one line, with '?' for every control character. */
Test(analyzer_cli, error_lines_name_hostile_names_on_one_line)
{
    char *prog = path_in("le\nak\x1b[31m");
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", mwt_victim("analyzer_leak"), prog);
    cr_assert_eq(system(cmd), 0);
    const char *t = trace_of(prog, "escapes", NULL);
    mwt_run r;
    analyze(&r, (const char *const[]){t, "--db", ":memory:", "-o", "/dev/null", "--fail-on", "leaked>0", NULL});
    cr_assert_eq(r.exit_code, 1, "%s", r.err);
    cr_assert_eq(one_line(r.err), 1, "one line: %s", r.err);
    cr_assert(strstr(r.err, "holds for le?ak?[31m (pid "), "%s", r.err);
    cr_assert_null(strchr(r.err, '\x1b'), "a raw escape reached the terminal: %s", r.err);
    mwt_run_free(&r);
    analyze(&r, (const char *const[]){path_in("no\nsuch\rtrace"), "--db", ":memory:", NULL});
    cr_assert_eq(r.exit_code, 3, "%s", r.err);
    cr_assert_eq(one_line(r.err), 1, "one line: %s", r.err);
    cr_assert(strstr(r.err, "no?such?trace"), "%s", r.err);
    mwt_run_free(&r);
}

Test(analyzer_cli, truncated_garbage_and_newer_traces)
{
    const char *t = leak_trace();
    char *raw = path_in("raw.trace");
    size_t len = mwt_unzstd(t, raw);
    cr_assert_neq(len, (size_t)-1, "cannot decompress %s", t);
    cr_assert_gt(len, 1000);
    cr_assert_eq(truncate(raw, (off_t)(len * 6 / 10)), 0);
    char *json = path_in("t.json");
    mwt_run r;
    analyze(&r, (const char *const[]){raw, "--db", ":memory:", "--format", "json", "-o", json, NULL});
    cr_assert_eq(r.exit_code, 0, "a truncated trace is reported: %s", r.err);
    cr_assert_eq(r.err_len, 0, "%s", r.err);
    mwt_run_free(&r);
    check_json(json, "assert d[\"truncated\"] is True and d[\"totals\"][\"allocations\"]>0\n");
    analyze(&r, (const char *const[]){raw, "--db", ":memory:", "--fail-on", "leaked>1G", NULL});
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "truncated"), "%s", r.out);
    mwt_run_free(&r);
    /* the compressed file cut short */
    char cmd[9000];
    char *cut = path_in("cut.trace.zst");
    struct stat st;
    cr_assert_eq(stat(t, &st), 0);
    snprintf(cmd, sizeof cmd, "head -c %lld '%s' > '%s'", (long long)st.st_size * 9 / 10, t, cut);
    cr_assert_eq(system(cmd), 0);
    analyze(&r, (const char *const[]){cut, "--db", ":memory:", NULL});
    cr_assert(r.exit_code == 0 || (r.exit_code == 3 && one_line(r.err) == 1), "%d %s", r.exit_code, r.err);
    mwt_run_free(&r);
    /* random bytes */
    char *junk = path_in("junk.trace.zst");
    FILE *f = fopen(junk, "w");
    srand(42);
    for (int i = 0; i < 8192; i++) fputc(rand() & 0xff, f);
    fclose(f);
    analyze(&r, (const char *const[]){junk, "--db", ":memory:", NULL});
    cr_assert_eq(r.exit_code, 3);
    cr_assert_eq(one_line(r.err), 1, "%s", r.err);
    cr_assert(strstr(r.err, "offset"), "names the byte offset: %s", r.err);
    mwt_run_free(&r);
    /* garbage after the magic */
    f = fopen(junk, "w");
    fwrite("MEMWATCH\x01\x00\x00\x00", 1, 12, f);
    for (int i = 0; i < 4096; i++) fputc(rand() & 0xff, f);
    fclose(f);
    analyze(&r, (const char *const[]){junk, "--db", ":memory:", NULL});
    cr_assert(r.exit_code == 3 || r.exit_code == 0, "%s", r.err);
    if (r.exit_code == 3) cr_assert_eq(one_line(r.err), 1, "%s", r.err);
    mwt_run_free(&r);
    /* a newer format version */
    cr_assert_neq(mwt_unzstd(t, raw), (size_t)-1, "cannot decompress %s", t);
    f = fopen(raw, "r+");
    fseek(f, 8, SEEK_SET);
    fputc(7, f);
    fclose(f);
    analyze(&r, (const char *const[]){raw, "--db", ":memory:", NULL});
    cr_assert_eq(r.exit_code, 3);
    cr_assert(strstr(r.err, "version"), "%s", r.err);
    cr_assert_eq(one_line(r.err), 1, "%s", r.err);
    mwt_run_free(&r);
    /* a missing file */
    analyze(&r, (const char *const[]){"/nonexistent/x.trace.zst", NULL});
    cr_assert_eq(r.exit_code, 3);
    cr_assert(strstr(r.err, "/nonexistent/x.trace.zst"), "%s", r.err);
    cr_assert_eq(one_line(r.err), 1, "%s", r.err);
    mwt_run_free(&r);
}

Test(analyzer_cli, usage_errors)
{
    mwt_run r;
    const char *const bad[][4] = {{"--bogus", NULL}, {"x", "--format", "pdf", NULL},
                                  {"x", "--db", NULL}, {NULL}, {"x", "--top", "0", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        analyze(&r, bad[i]);
        cr_expect_eq(r.exit_code, 2, "case %zu: %s", i, r.err);
        cr_expect_eq(one_line(r.err), 1, "case %zu: %s", i, r.err);
        cr_expect(strstr(r.err, "--help"), "usage hint: %s", r.err);
        mwt_run_free(&r);
    }
    analyze(&r, (const char *const[]){"--help", NULL});
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "--fail-on"));
    mwt_run_free(&r);
    analyze(&r, (const char *const[]){"--version", NULL});
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "memwatch-analyze"));
    mwt_run_free(&r);
}

/* What the analyzer writes is never what it reads: -o naming a trace (or a link to it) wrote
 * the report over the trace, and -o naming the store (spelt another way, not made yet)
 * truncated it. A trace named twice is read once. Until 03:06 UTC on 2026-11-24. */
static bool file_equals(const char *a, const char *b)
{
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "cmp -s '%s' '%s'", a, b) > 0);
    int rc = system(cmd);
    free(cmd);
    return rc == 0;
}

Test(analyzer_cli, what_is_written_is_never_what_is_read)
{
    const char *t = leak_trace();
    char copy[4300], link_path[4300], dot_store[4300];
    snprintf(copy, sizeof copy, "%s.copy", t);
    snprintf(link_path, sizeof link_path, "%s/link.zst", g_dir);
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "cp '%s' '%s'", t, copy) > 0);
    cr_assert_eq(system(cmd), 0);
    free(cmd);
    cr_assert_eq(symlink(t, link_path), 0);
    mwt_run r;
    const char *const *cases[] = {
        (const char *const[]){t, "-o", t, NULL},
        (const char *const[]){t, "-o", link_path, NULL},
        (const char *const[]){t, "--db", t, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        analyze(&r, cases[i]);
        cr_expect_eq(r.exit_code, 2, "case %zu: %s", i, r.err);
        cr_expect(strstr(r.err, "refusing to write over what is read"), "case %zu: %s", i, r.err);
        cr_expect_eq(one_line(r.err), 1, "case %zu: %s", i, r.err);
        cr_assert(file_equals(t, copy), "case %zu: the trace was changed", i);
        mwt_run_free(&r);
    }
    /* the default store (TRACE.db), not made yet, named another way */
    const char *slash = strrchr(t, '/');
    snprintf(dot_store, sizeof dot_store, "%.*s/./%s.db", (int)(slash - t), t, slash + 1);
    analyze(&r, (const char *const[]){t, "-o", dot_store, NULL});
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "is the store"), "%s", r.err);
    mwt_run_free(&r);
    analyze(&r, (const char *const[]){t, link_path, t, "--db", ":memory:", NULL});
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    size_t verdicts = 0;
    for (const char *p = r.out; (p = strstr(p, "memwatch: analyzer_leak")); p++) verdicts++;
    cr_expect_eq(verdicts, 1, "one report for the one trace:\n%s", r.out);
    mwt_run_free(&r);
}

/* The store beside the trace cannot be made (a directory the user may not write; here, as
 * root may write anywhere, a directory in the way of TRACE.db): the report and the --fail-on
 * verdict stand, the store is kept in memory with one line. It was exit 3 with the gate never
 * checked until 03:13 UTC on 2026-11-24; a store named by --db still fails. */
Test(analyzer_cli, a_store_that_cannot_be_made_beside_the_trace_keeps_the_verdict)
{
    const char *t = leak_trace();
    char in_the_way[4300];
    snprintf(in_the_way, sizeof in_the_way, "%s.db", t);
    cr_assert_eq(mkdir(in_the_way, 0700), 0);
    mwt_run r;
    analyze(&r, (const char *const[]){t, "--fail-on", "leaked>0", NULL});
    cr_expect_eq(r.exit_code, 1, "the gate: %s", r.err);
    cr_expect(strstr(r.out, "LEAKED"), "the report: %s", r.out);
    cr_expect(strstr(r.err, "the store is kept in memory only"), "%s", r.err);
    cr_expect(strstr(r.err, "--fail-on 'leaked>0' holds"), "%s", r.err);
    mwt_run_free(&r);
    analyze(&r, (const char *const[]){t, "--db", in_the_way, NULL});
    cr_expect_eq(r.exit_code, 3, "a store asked for by name: %s", r.err);
    mwt_run_free(&r);
}

/* --trace-list: paths one per line or NUL-separated, from a file or standard input, after
 * those on the command line (how memwatch run passes more traces than a command line holds) */
Test(analyzer_cli, trace_list_from_a_file_and_standard_input)
{
    const char *leak = leak_trace(), *clean = clean_trace();
    char nul_list[4300], nl_list[4300];
    snprintf(nul_list, sizeof nul_list, "%s/list0", g_dir);
    snprintf(nl_list, sizeof nl_list, "%s/list", g_dir);
    FILE *f = fopen(nul_list, "w");
    cr_assert_not_null(f);
    fwrite(leak, 1, strlen(leak) + 1, f);
    fwrite(clean, 1, strlen(clean) + 1, f);
    fclose(f);
    f = fopen(nl_list, "w");
    cr_assert_not_null(f);
    fprintf(f, "%s\n\n%s\n", leak, clean);
    fclose(f);
    mwt_run r;
    const char *const *ok[] = {
        (const char *const[]){"--trace-list", nul_list, "--db", ":memory:", "--format", "json", NULL},
        (const char *const[]){"--trace-list", nl_list, "--db", ":memory:", "--format", "json", NULL},
        (const char *const[]){leak, "--trace-list", nl_list, "--db", ":memory:", "--format", "json", NULL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        analyze(&r, ok[i]);
        cr_expect_eq(r.exit_code, 0, "case %zu: %s", i, r.err);
        size_t procs = 0;
        for (const char *p = r.out; (p = strstr(p, "\"process\": {")); p++) procs++;
        cr_expect_eq(procs, 2, "case %zu: both traces, once each:\n%.500s", i, r.out);
        mwt_run_free(&r);
    }
    char stdin_list[9000];
    snprintf(stdin_list, sizeof stdin_list, "%s\n%s\n", leak, clean);
    const char *argv[] = {analyzer(), "--trace-list", "-", "--db", ":memory:", "--fail-on", "leaked>0", NULL};
    cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = argv, .stdin_data = stdin_list}, &r), 0);
    cr_expect_eq(r.exit_code, 1, "the leaky one of the two fails the gate: %s", r.err);
    mwt_run_free(&r);
    analyze(&r, (const char *const[]){"--trace-list", "/no/such/list", NULL});
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "--trace-list /no/such/list: No such file"), "%s", r.err);
    mwt_run_free(&r);
    analyze(&r, (const char *const[]){"--trace-list", nl_list, "--trace-list", nl_list, NULL});
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    mwt_run_free(&r);
}

static long long db_count(const char *db, const char *sql)
{
    sqlite3 *h;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    long long v = -1;
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return v;
}

Test(analyzer_cli, store_default_path_reingest_and_memory)
{
    const char *t = leak_trace();
    mwt_run r;
    analyze(&r, (const char *const[]){t, NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_run_free(&r);
    char db[4300];
    snprintf(db, sizeof db, "%s.db", t);
    cr_assert_eq(access(db, F_OK), 0, "default store beside the trace");
    long long sites = db_count(db, "SELECT count(*) FROM sites");
    long long frames = db_count(db, "SELECT count(*) FROM frames");
    cr_assert_gt(sites, 3);
    cr_assert_gt(frames, 3);
    analyze(&r, (const char *const[]){t, "--format", "json", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_run_free(&r);
    cr_assert_eq(db_count(db, "SELECT count(*) FROM runs"), 1, "re-ingest replaces the run");
    cr_assert_eq(db_count(db, "SELECT count(*) FROM sites"), sites);
    cr_assert_eq(db_count(db, "SELECT count(*) FROM leaks WHERE bytes=1234"), 1);
    cr_assert_eq(db_count(db, "SELECT count(*) FROM frames WHERE function='leak_here' AND line>0"), 1);
    /* :memory: leaves nothing behind */
    const char *c = clean_trace();
    analyze(&r, (const char *const[]){c, "--db", ":memory:", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_run_free(&r);
    snprintf(db, sizeof db, "%s.db", c);
    cr_assert_eq(access(db, F_OK), -1, ":memory: wrote %s", db);
    analyze(&r, (const char *const[]){c, "--db", "/nonexistent/dir/x.db", NULL});
    cr_assert_eq(r.exit_code, 3);
    cr_assert(strstr(r.err, "/nonexistent/dir/x.db"), "%s", r.err);
    mwt_run_free(&r);
}

/* A trace read through /dev/stdin: from a pipe its store is kept in memory (before, the
 * analyzer made /dev/stdin.db on /dev, or failed on /dev/fd/63.db for <(...)), from a
 * redirected file it goes beside that file. A store path longer than the analyzer's buffer is
 * one error line, not a store written under a cut-short name. */
Test(analyzer_cli, store_of_a_trace_from_stdin_and_a_path_too_long)
{
    const char *t = leak_trace();
    char cmd[9000], db[4300];
    snprintf(cmd, sizeof cmd, "cat '%s' | '%s' /dev/stdin --format json -o '%s'", t, analyzer(),
             path_in("piped.json"));
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = (const char *const[]){"/bin/sh", "-c", cmd, NULL},
                                       .env = (const char *const[]){"ASAN_OPTIONS=detect_leaks=1", NULL}},
                           &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert_not(strstr(r.err, "AddressSanitizer") || strstr(r.err, "runtime error"), "%s", r.err);
    mwt_run_free(&r);
    cr_assert_eq(access("/dev/stdin.db", F_OK), -1, "a store was made in /dev");
    check_json(path_in("piped.json"), "assert d[\"leaks\"][\"by_kind\"][\"definite\"][\"bytes\"] >= 1234, d[\"leaks\"]");
    snprintf(db, sizeof db, "%s.db", t);
    cr_assert_eq(access(db, F_OK), -1, "a piped trace's store went to %s", db);

    snprintf(cmd, sizeof cmd, "'%s' /dev/stdin < '%s'", analyzer(), t);
    cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = (const char *const[]){"/bin/sh", "-c", cmd, NULL}}, &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_run_free(&r);
    cr_assert_eq(access(db, F_OK), 0, "a redirected trace's store is beside the file");

    char longdb[4200];
    memset(longdb, 'a', sizeof longdb - 1);
    longdb[0] = '/';
    longdb[sizeof longdb - 1] = 0;
    analyze(&r, (const char *const[]){t, "--db", longdb, NULL});
    cr_assert_eq(r.exit_code, 3, "%s", r.err);
    cr_assert(strstr(r.err, "longer than 4095 bytes"), "%s", r.err);
    cr_assert_eq(one_line(r.err), 1, "%s", r.err);
    mwt_run_free(&r);
}

/* A thread per request, 70 000 threads: the trace stays readable (the shim reuses the index
 * of a thread that ended; the reader accepts 65 536 indexes) and every block is accounted for.
 * A new thread takes over the state of one that ended without waiting for the writer, so the
 * indexes are the few of the threads alive at once (6 here, loaded or not; 83 to 190 when the
 * writer had to drain a state first), and the blocks an ended thread left stay with its
 * index's next thread. */
Test(analyzer_cli, seventy_thousand_threads)
{
    const char *trace = trace_of(mwt_victim("shim_thread_churn"), "churn", NULL);
    mwt_run r;
    const char *json = path_in("churn.json");
    analyze(&r, (const char *const[]){trace, "--db", ":memory:", "--format", "json", "-o", json, NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_run_free(&r);
    check_json(json, "t = d[\"totals\"]\n"
                     "assert t[\"allocations\"] >= 70000 + 17500, t\n"
                     "assert t[\"frees\"] >= 70000, t\n"
                     "assert t[\"unmatched_frees\"] == 0, t\n"
                     "assert d[\"lost_events\"] == 0\n"
                     "assert not d[\"truncated\"]\n"
                     "assert d[\"process\"][\"exit_status\"] == 0\n"
                     "assert len(d[\"process\"][\"threads\"]) <= 16, len(d[\"process\"][\"threads\"])\n"
                     "k = d[\"leaks\"][\"by_kind\"]\n"
                     "assert k[\"reachable\"][\"bytes\"] >= 17500 * 48, k\n"
                     "assert k[\"definite\"][\"bytes\"] == 0 and k[\"unknown\"][\"bytes\"] == 0, k");
}

Test(analyzer_cli, several_traces_one_merged_verdict)
{
    const char *t = leak_trace();
    const char *c = clean_trace();
    char *json = path_in("m.json");
    char *db = path_in("m.db");
    mwt_run r;
    analyze(&r, (const char *const[]){c, t, "--db", db, "--format", "json", "-o", json,
                                       "--fail-on", "leaked>0", NULL});
    cr_assert_eq(r.exit_code, 1, "%s", r.err);
    cr_assert_eq(one_line(r.err), 1, "only the leaky process is named: %s", r.err);
    cr_assert(strstr(r.err, "analyzer_leak"), "%s", r.err);
    mwt_run_free(&r);
    check_json(json, "ps=d[\"processes\"]; assert d[\"format_version\"]==1 and len(ps)==2\n"
                     "assert ps[0][\"leaks\"][\"bytes\"]==0 and ps[1][\"leaks\"][\"bytes\"]>=1234\n"
                     "assert ps[0][\"verdict\"][\"failed\"] is False and ps[1][\"verdict\"][\"failed\"] is True\n"
                     "v=d[\"verdict\"]; assert v[\"failed\"] is True and v[\"failing_processes\"]==1\n"
                     "assert v[\"leaked_bytes\"]==ps[1][\"verdict\"][\"leaked_bytes\"]\n"
                     "for p in ps: p[\"process\"][\"pid\"]; p[\"totals\"][\"allocations\"]; p[\"truncated\"]\n");
    cr_assert_eq(db_count(db, "SELECT count(*) FROM runs"), 2);
    analyze(&r, (const char *const[]){c, t, "--db", ":memory:", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "memwatch: 2 processes"), "%s", r.out);
    mwt_run_free(&r);
}
