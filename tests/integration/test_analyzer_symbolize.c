/*
 * test_analyzer_symbolize.c — offline symbolization on real traces: C++ names demangled
 * (template arguments included), inlined frames expanded with the caller's call-site line,
 * and an object without symbols or debug info degrading to module+0xoffset (no error).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mwtest.h"

static char *g_dir;
static void setup(void) { g_dir = mwt_tmpdir(); }
static void teardown(void)
{
    mwt_rmtree(g_dir);
    free(g_dir);
}
TestSuite(analyzer_symbolize, .init = setup, .fini = teardown, .timeout = 120);

/* Runs program under the shim in g_dir/sub; the path of its one trace (static). */
static const char *trace_of(const char *program, const char *sub)
{
    static char trace[4200];
    char dir[4100];
    snprintf(dir, sizeof dir, "%s/%s", g_dir, sub);
    mkdir(dir, 0755);
    const char *argv[] = {program, NULL};
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = argv, .preload = true, .trace_dir = dir}, &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_run_free(&r);
    char **paths;
    size_t n = mwt_find_traces(dir, &paths);
    cr_assert_eq(n, 1);
    snprintf(trace, sizeof trace, "%s", paths[0]);
    mwt_free_list(paths, n);
    return trace;
}

/* The ASan analyzer's report of trace in format (json, text, md, html) to g_dir/sub.FORMAT;
 * returns its path (static). */
static const char *report_of(const char *trace, const char *sub, const char *format)
{
    static char out[4300];
    char cmd[9000];
    snprintf(out, sizeof out, "%s/%s.%s", g_dir, sub, format);
    snprintf(cmd, sizeof cmd, "'%s/asan/memwatch-analyze' '%s' --db :memory: --format %s -o '%s'",
             mwt_build_dir(), trace, format, out);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    return out;
}

/* Runs program under the shim in g_dir/sub, analyzes its trace to g_dir/sub.json. */
static const char *json_of(const char *program, const char *sub)
{
    return report_of(trace_of(program, sub), sub, "json");
}

static int line_of(const char *file, const char *marker)
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

static void check_json(const char *file, const char *script)
{
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "python3 -c 'import json,sys\nd=json.load(open(sys.argv[1]))\n%s' '%s'",
                       script, file) > 0);
    int rc = system(cmd);
    free(cmd);
    cr_assert_eq(rc, 0, "JSON check failed on %s:\n%s", file, script);
}

Test(analyzer_symbolize, cxx_demangled_and_inlined_frames)
{
    const char *json = json_of(mwt_victim("analyzer_cxx"), "cxx");
    char script[4096];
    snprintf(script, sizeof script,
             "s={x[\"bytes\"]: x[\"stack\"] for x in d[\"leaks\"][\"sites\"]}\n"
             "a=s[4021]\n"
             "assert a[0][\"function\"]==\"shop::Cart::grab(unsigned long)\" and a[0][\"inlined\"] is True, a[0]\n"
             "assert a[0][\"file\"].endswith(\"analyzer_cxx.cc\") and a[0][\"line\"]==%d, a[0]\n"
             "assert a[1][\"function\"]==\"shop::Cart::make_leak(int)\" and a[1][\"line\"]==%d, a[1]\n"
             "assert a[1][\"ip\"]==a[0][\"ip\"] and a[1][\"inlined\"] is False\n"
             "b=s[2400]\n"
             "assert any(f[\"function\"]==\"double* shop::spawn<double>(unsigned long)\" and f[\"line\"]==%d for f in b), b\n"
             "c=s[5022]\n"
             "assert [f[\"function\"] for f in c[:3]]==[\"shop::Cart::grab(unsigned long)\", \"shop::Cart::grab_more(unsigned long)\", \"shop::Cart::make_deep_leak(int)\"], c[:3]\n"
             "assert [f[\"line\"] for f in c[:3]]==[%d, %d, %d], c[:3]\n"
             "assert [f[\"inlined\"] for f in c[:3]]==[True, True, False] and c[0][\"ip\"]==c[2][\"ip\"], c[:3]\n",
             line_of("analyzer_cxx.cc", "inlined leak site"),
             line_of("analyzer_cxx.cc", "call of the inlined grab"),
             line_of("analyzer_cxx.cc", "template leak site"),
             line_of("analyzer_cxx.cc", "inlined leak site"),
             line_of("analyzer_cxx.cc", "inlined call of the inlined grab"),
             line_of("analyzer_cxx.cc", "call of the twice-inlined grab"));
    check_json(json, script);
}

Test(analyzer_symbolize, no_debug_info_gives_module_offset)
{
    char prog[4200], cmd[9000];
    snprintf(prog, sizeof prog, "%s/stripped_leak", g_dir);
    snprintf(cmd, sizeof cmd, "strip --strip-all -o '%s' '%s'", prog, mwt_victim("analyzer_leak"));
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    const char *json = json_of(prog, "stripped");
    check_json(json,
               "s=[x for x in d[\"leaks\"][\"sites\"] if x[\"bytes\"]==1234][0][\"stack\"]\n"
               "f=s[0]\n"
               "assert f[\"function\"].startswith(\"stripped_leak+0x\") and f[\"file\"] is None and f[\"line\"] is None, f\n"
               "assert f[\"module\"].endswith(\"stripped_leak\"), f\n"
               "assert any(x[\"function\"].startswith(\"__libc_start\") for x in s), s\n");
}

/* An object that cannot be read at analysis time (the program deleted, or rebuilt, since the
 * run) leaves its frames as module+0xoffset, and the report says which object and why
 * (unreadable_objects[]; in text a "symbols:" note) instead of leaving the user to guess. A
 * stripped object is readable: not listed. */
Test(analyzer_symbolize, unreadable_objects_are_named_with_the_reason)
{
    char prog[4200], cmd[9000], trace[4200];
    snprintf(prog, sizeof prog, "%s/moved_leak", g_dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", mwt_victim("analyzer_leak"), prog);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    snprintf(trace, sizeof trace, "%s", trace_of(prog, "moved"));
    /* deleted since the run */
    snprintf(cmd, sizeof cmd, "rm '%s'", prog);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    check_json(report_of(trace, "deleted", "json"),
               "u=d[\"unreadable_objects\"]\n"
               "assert len(u)==1 and u[0][\"path\"].endswith(\"/moved_leak\") and u[0][\"reason\"]==\"no such file here\", u\n"
               "s=[x for x in d[\"leaks\"][\"sites\"] if x[\"bytes\"]==1234][0][\"stack\"]\n"
               "assert s[0][\"function\"].startswith(\"moved_leak+0x\"), s[0]\n");
    /* rebuilt since the run: another build id */
    snprintf(cmd, sizeof cmd, "cp /usr/bin/true '%s'", prog);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    check_json(report_of(trace, "rebuilt", "json"),
               "u=d[\"unreadable_objects\"]\n"
               "assert len(u)==1 and u[0][\"reason\"]==\"changed since the run (another build id)\", u\n");
    /* the note in the other formats (Markdown escapes the path's underscore) */
    static const char *const notes[][2] = {
        { "text", "moved_leak: changed since the run" },
        { "md", "^- .*moved\\\\_leak: changed since the run" },
        { "html", "moved_leak</span>: changed since the run" },
    };
    for (size_t i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "grep -q '%s' '%s'", notes[i][1], report_of(trace, "rebuilt", notes[i][0]));
        cr_expect_eq(system(cmd), 0, "no note in the %s report", notes[i][0]);
    }
    /* a stripped object is readable */
    snprintf(prog, sizeof prog, "%s/stripped_leak2", g_dir);
    snprintf(cmd, sizeof cmd, "strip --strip-all -o '%s' '%s'", prog, mwt_victim("analyzer_leak"));
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    check_json(json_of(prog, "stripped2"), "assert d[\"unreadable_objects\"]==[], d[\"unreadable_objects\"]\n");
}

/* JavaScript frames: node run with --perf-basic-prof writes /tmp/perf-<pid>.map, which names
 * its generated code; the analyzer reads it for addresses no object holds, so the stack shows
 * the script's functions with their lines, and the script's function names the site. */
Test(analyzer_symbolize, javascript_frames_from_nodes_perf_map, .timeout = 180)
{
    char dir[4100], js[4200], cmd[9000];
    snprintf(dir, sizeof dir, "%s/js", g_dir);
    mkdir(dir, 0755);
    snprintf(js, sizeof js, "%s/app.js", g_dir);
    FILE *f = fopen(js, "w");
    cr_assert_not_null(f);
    fputs("function makeThing(i) { return Buffer.alloc(5000 + (i % 7)); }\n"
          "function keepThings() { const a = []; for (let i = 0; i < 2000; i++) a.push(makeThing(i)); return a; }\n"
          "globalThis.kept = keepThings();\n"
          "console.log(globalThis.kept.length);\n", f);
    fclose(f);
    const char *argv[] = {"/usr/bin/node", "--perf-basic-prof", "--interpreted-frames-native-stack", js, NULL};
    mwt_run r;
    /* in the test's directory: V8 writes an isolate-*-v8.log into its working directory */
    cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = argv, .preload = true, .trace_dir = dir, .cwd = g_dir}, &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "2000"), "%s", r.out);
    mwt_run_free(&r);
    char **paths;
    size_t n = mwt_find_traces(dir, &paths);
    cr_assert_eq(n, 1);
    char json[4200];
    snprintf(json, sizeof json, "%s.json", dir);
    snprintf(cmd, sizeof cmd, "'%s/asan/memwatch-analyze' '%s' --db :memory: --format json -o '%s'",
             mwt_build_dir(), paths[0], json);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    char text[4200];
    snprintf(text, sizeof text, "%s.txt", dir);
    snprintf(cmd, sizeof cmd, "'%s/asan/memwatch-analyze' '%s' --db :memory: -o '%s'", mwt_build_dir(),
             paths[0], text);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    mwt_free_list(paths, n);
    /* the top site is the script's allocating function; its stack goes on through the
     * script's other functions, each with its line */
    check_json(json, "import os\n"
                     "s=d[\"top_sites\"][0][\"stack\"]\n"
                     "fr=[(f[\"function\"],os.path.basename(f[\"file\"] or \"\"),f[\"line\"]) for f in s]\n"
                     "assert (\"makeThing\",\"app.js\",1) in fr, fr\n"
                     "assert (\"keepThings\",\"app.js\",2) in fr, fr\n"
                     "i=fr.index((\"makeThing\",\"app.js\",1))\n"
                     "assert fr.index((\"keepThings\",\"app.js\",2))>i, fr\n"
                     "os.unlink(\"/tmp/perf-%d.map\" % d[\"process\"][\"pid\"])\n");
    f = fopen(text, "r");
    cr_assert_not_null(f);
    char line[512];
    bool site = false;
    while (fgets(line, sizeof line, f)) site |= strstr(line, "  makeThing app.js:1 via ") != NULL;
    fclose(f);
    cr_assert(site, "the script's function names the top site (%s)", text);
    /* without the flags node writes no map: the report says how to get the names */
    char dir2[4200];
    snprintf(dir2, sizeof dir2, "%s/js-plain", g_dir);
    mkdir(dir2, 0755);
    const char *argv2[] = {"/usr/bin/node", js, NULL};
    cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = argv2, .preload = true, .trace_dir = dir2}, &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_run_free(&r);
    n = mwt_find_traces(dir2, &paths);
    cr_assert_eq(n, 1);
    snprintf(cmd, sizeof cmd, "'%s/asan/memwatch-analyze' '%s' --db :memory: -o '%s'", mwt_build_dir(),
             paths[0], text);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    mwt_free_list(paths, n);
    f = fopen(text, "r");
    cr_assert_not_null(f);
    bool hint = false;
    while (fgets(line, sizeof line, f)) hint |= strstr(line, "  hint: ") && strstr(line, "JavaScript frame");
    fclose(f);
    cr_assert(hint, "no hint in %s", text);
}
