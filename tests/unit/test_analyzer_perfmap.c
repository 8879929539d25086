/*
 * test_analyzer_perfmap.c — reading a runtime's perf map (analyzer/perfmap.c): V8's and
 * CPython's names split into function, script and line; lookups inside entries, the entry
 * written last winning where code was written over older code; malformed and overlong lines
 * skipped; a map of another owner, one last written outside the process's lifetime or one
 * reached through a symlink not used at all.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "perfmap.h"

static char g_path[256];

static void write_map(const char *text)
{
    snprintf(g_path, sizeof g_path, "/tmp/mw-perfmap-test-%d.map", (int)getpid());
    FILE *f = fopen(g_path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static mw_perfmap *load(void)
{
    char why[512];
    int64_t now = (int64_t)time(NULL);
    mw_perfmap *m = mw_perfmap_load(g_path, getuid(), now - 60, now + 60, why, sizeof why);
    cr_assert_not_null(m, "%s", why);
    return m;
}

Test(perfmap, names_split_and_looked_up)
{
    char big[9000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char text[12000];
    snprintf(text, sizeof text,
             "18c4000 300 Builtin:DeoptimizationEntry_Eager\n"
             "7f0000001000 80 JS:~makeThing /srv/app/x.js:12:19\n"
             "7f0000002000 40 JS:*hot /srv/app/x.js:40:3\n"
             "7f0000003000 40 JS:~ /srv/app/x.js:1:1\n"
             "7f0000004000 100 py::Parser.feed:/usr/lib/python3.12/html/parser.py\n"
             "not a line\n"
             "7f0000005000 zz JS:~bad size\n"
             "7f0000006000 10 %s\n"
             "7f0000001040 20 JS:^makeThing /srv/app/x.js:12:19\n",
             big);
    write_map(text);
    mw_perfmap *m = load();
    cr_assert_eq(mw_perfmap_count(m), 6);
    mw_perfmap_sym s;
    cr_assert(mw_perfmap_lookup(m, 0x7f0000001010, &s));
    cr_expect_str_eq(s.function, "makeThing");
    cr_expect_str_eq(s.file, "/srv/app/x.js");
    cr_expect_eq(s.line, 12);
    cr_expect_eq(s.offset, 0x10);
    /* the baseline code written later over part of the interpreted one wins there */
    cr_assert(mw_perfmap_lookup(m, 0x7f0000001048, &s));
    cr_expect_str_eq(s.function, "makeThing");
    cr_expect_eq(s.offset, 8);
    cr_assert(mw_perfmap_lookup(m, 0x7f0000002000, &s));
    cr_expect_str_eq(s.function, "hot");
    cr_expect_eq(s.line, 40);
    cr_assert(mw_perfmap_lookup(m, 0x7f0000003004, &s));
    cr_expect_str_eq(s.function, "(anonymous)");
    cr_assert(mw_perfmap_lookup(m, 0x7f00000040ff, &s));
    cr_expect_str_eq(s.function, "Parser.feed");
    cr_expect_str_eq(s.file, "/usr/lib/python3.12/html/parser.py");
    cr_expect_eq(s.line, 0);
    cr_assert(mw_perfmap_lookup(m, 0x18c4001, &s));
    cr_expect_str_eq(s.function, "Builtin:DeoptimizationEntry_Eager");
    cr_expect_null(s.file);
    /* between entries, past the last, before the first, on the skipped long line's code */
    cr_expect_not(mw_perfmap_lookup(m, 0x7f0000001080 + 0x800, &s));
    cr_expect_not(mw_perfmap_lookup(m, 0x7f0000004100, &s));
    cr_expect_not(mw_perfmap_lookup(m, 0x1000, &s));
    cr_expect_not(mw_perfmap_lookup(m, 0x7f0000006004, &s));
    mw_perfmap_free(m);
    unlink(g_path);
}

Test(perfmap, only_the_traced_process_map_is_used)
{
    write_map("7f0000001000 80 JS:~f /a.js:1:1\n");
    char why[512];
    int64_t now = (int64_t)time(NULL);
    /* another owner */
    cr_expect_null(mw_perfmap_load(g_path, getuid() + 1, now - 60, now + 60, why, sizeof why));
    cr_expect(strstr(why, "owned by uid"), "%s", why);
    /* written after the process ended (a later process with the same pid) */
    cr_expect_null(mw_perfmap_load(g_path, getuid(), now - 600, now - 300, why, sizeof why));
    cr_expect(strstr(why, "lifetime"), "%s", why);
    /* reached through a symlink */
    char link[300];
    snprintf(link, sizeof link, "%s.link", g_path);
    unlink(link);
    cr_assert_eq(symlink(g_path, link), 0);
    cr_expect_null(mw_perfmap_load(link, getuid(), now - 60, now + 60, why, sizeof why));
    unlink(link);
    /* absent */
    cr_expect_null(mw_perfmap_load("/nonexistent/perf-1.map", getuid(), 0, now, why, sizeof why));
    /* an empty map loads and finds nothing */
    write_map("");
    mw_perfmap *m = mw_perfmap_load(g_path, getuid(), now - 60, now + 60, why, sizeof why);
    cr_assert_not_null(m, "%s", why);
    mw_perfmap_sym s;
    cr_expect_not(mw_perfmap_lookup(m, 0x7f0000001000, &s));
    mw_perfmap_free(m);
    cr_expect_not(mw_perfmap_lookup(NULL, 1, &s));
    unlink(g_path);
}
