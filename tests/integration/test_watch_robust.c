/*
 * test_watch_robust.c — the watch core when things get in its way: a writer with every
 * signal blocked (events without a stack, no hang), a watched page unmapped (an UNMAPPED
 * event ends the watch), fork (the child runs unwatched and unhindered, the parent keeps
 * its watch), the shim loaded by dlopen (watching without allocation tracing), a variable on
 * the writer's own stack (signal frames land in the watched page), a 3-page
 * buffer filled by pread/preadv (kernel writes), and an unprivileged user without
 * userfaultfd (one stderr line, the mprotect fallback, the program's results unchanged).
 */
#include <criterion/criterion.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leaksum.h"
#include "mw_format.h"
#include "watchsum.h"

static char dir[4096];

static void setup(void) { cr_assert_eq(mw_tempdir(dir, sizeof dir, "watchr"), 0); }
static void teardown(void) { mw_tempdir_remove(dir); }

static char *read_out(const char *tag, const char *ext)
{
    char p[8192];
    snprintf(p, sizeof p, "%s/%s.%s", dir, tag, ext);
    return mw_ws_slurp(p);
}

static void load(const char *tag, mw_ws_trace *t)
{
    char path[8192], err[512];
    cr_assert_eq(mw_ws_find_trace(dir, tag, path, sizeof path), 0, "no trace for %s", tag);
    cr_assert_eq(mw_ws_load(path, t, err, sizeof err), 0, "%s", err);
}

static void run_mode(const char *tag, const char *mode, int timeout)
{
    const char *args[] = { mode, NULL };
    int st = mw_ws_run(dir, tag, true, NULL, NULL, "watch_modes", args, timeout);
    char *out = read_out(tag, "out"), *err = read_out(tag, "err");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed (status %d):\n%s\n%s", mode, st,
              out, err);
    char ok[64];
    snprintf(ok, sizeof ok, "%s ok", mode);
    cr_assert_not_null(strstr(out, ok), "%s", out);
    free(out);
    free(err);
}

Test(watch_robust, signal_blocked_writer, .init = setup, .fini = teardown, .timeout = 60)
{
    run_mode("sb", "sigblock", 30);
    mw_ws_trace t;
    load("sb", &t);
    cr_assert_eq(t.nev, 3, "3 writes, got %zu events", t.nev);
    const uint8_t want[3][2] = { { 0, 11 }, { 11, 22 }, { 22, 33 } };
    for (size_t i = 0; i < 3; i++) {
        const mw_ws_event *e = &t.ev[i];
        cr_expect_str_eq(e->var, "blocked");
        cr_expect(e->flags & MW_WF_NO_STACK, "event %zu must say: no stack", i);
        cr_expect_eq(e->nframes, 0);
        cr_expect_eq(e->syscall, -1);
        cr_assert_eq(e->nbytes, 1);
        cr_expect_eq(e->old_b[0], want[i][0]);
        cr_expect_eq(e->new_b[0], want[i][1]);
    }
    mw_ws_free(&t);
}

Test(watch_robust, unmapped_page_ends_the_watch, .init = setup, .fini = teardown, .timeout = 60)
{
    run_mode("um", "unmap", 30);
    mw_ws_trace t;
    load("um", &t);
    cr_assert_eq(t.nw, 1);
    cr_expect(t.w[0].ended && t.w[0].end_reason == MW_UNWATCH_UNMAPPED);
    cr_assert_eq(t.nev, 2, "one write + the unmap event, got %zu", t.nev);
    cr_expect_eq(t.ev[0].new_b[0], 1);
    cr_expect_eq(t.ev[0].flags & MW_WF_UNMAPPED, 0);
    cr_expect(t.ev[1].flags & MW_WF_UNMAPPED);
    cr_expect_eq(t.ev[1].syscall, SYS_munmap);
    mw_ws_free(&t);
}

Test(watch_robust, fork_child_runs_unwatched, .init = setup, .fini = teardown, .timeout = 60)
{
    run_mode("fk", "fork", 30);
    char *out = read_out("fk", "out");
    cr_expect_not_null(strstr(out, "fork child exit 105 value 2"), "%s", out);
    free(out);
    /* Two traces: the parent's (its two writes) and the child's (no watches). */
    char p1[8192];
    cr_assert_eq(mw_ws_find_trace(dir, "fk", p1, sizeof p1), 0);
    size_t with_watch = 0, traces = 0;
    char cmd[8192 + 64];
    snprintf(cmd, sizeof cmd, "ls %s/fk.*.zst", dir);
    FILE *ls = popen(cmd, "r");
    char line[8192];
    while (ls && fgets(line, sizeof line, ls)) {
        line[strcspn(line, "\n")] = 0;
        mw_ws_trace t;
        char err[512];
        cr_assert_eq(mw_ws_load(line, &t, err, sizeof err), 0, "%s", err);
        traces++;
        if (t.nw) {
            with_watch++;
            cr_expect_eq(t.nev, 2, "parent: its 2 writes, not the child's 1000");
            cr_expect_eq(t.ev[0].new_b[0], 1);
            cr_expect_eq(t.ev[1].new_b[0], 2);
        } else {
            cr_expect_eq(t.nev, 0);
        }
        mw_ws_free(&t);
    }
    if (ls) pclose(ls);
    cr_expect_eq(traces, 2);
    cr_expect_eq(with_watch, 1);
}

Test(watch_robust, dlopen_watch_only, .init = setup, .fini = teardown, .timeout = 60)
{
    char so[8192];
    snprintf(so, sizeof so, "%s/libmemwatch_preload.so", mw_ws_build());
    const char *args[] = { so, NULL };
    int st = mw_ws_run(dir, "dl", false, NULL, NULL, "watch_dlopen", args, 30);
    char *out = read_out("dl", "out");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
    cr_expect_not_null(strstr(out, "dlopen ok"));
    mw_ws_trace t;
    load("dl", &t);
    cr_assert_eq(t.nev, 2);
    cr_expect_str_eq(t.ev[0].var, "dl_value");
    cr_expect_eq(t.ev[0].new_b[0], 17);
    cr_expect_eq(t.ev[1].new_b[0], 18);
    cr_expect(t.ev[1].nframes >= 2);
    mw_ws_free(&t);
    free(out);
}

Test(watch_robust, kernel_writes_multi_page, .init = setup, .fini = teardown, .timeout = 60)
{
    run_mode("br", "bigread", 30);
    mw_ws_trace t;
    load("br", &t);
    cr_assert_eq(t.nev, 2, "pread and preadv: one event each, got %zu", t.nev);
    cr_expect_eq(t.ev[0].syscall, SYS_pread64);
    cr_expect_eq(t.ev[0].offset, 0);
    cr_expect_eq(t.ev[0].len, 3 * 4096);
    cr_expect(t.ev[0].flags & MW_WF_KERNEL);
    cr_expect(t.ev[0].flags & MW_WF_TRUNCATED, "12 KiB of bytes exceed the per-event cap");
    cr_expect_eq(t.ev[0].new_b[0], 1);
    cr_expect_eq(t.ev[0].new_b[1], 8);
    cr_expect_eq(t.ev[1].syscall, SYS_preadv);
    cr_expect_eq(t.ev[1].offset, 100);
    cr_expect_eq(t.ev[1].len, 9900, "from the first byte of iov[0] to the last of iov[1]");
    mw_ws_free(&t);
}

Test(watch_robust, variable_on_the_writers_stack, .init = setup, .fini = teardown, .timeout = 60)
{
    run_mode("sv", "stackvar", 30);
    char *out = read_out("sv", "out");
    cr_expect_not_null(strstr(out, "stackvar 5"), "%s", out);
    free(out);
    mw_ws_trace t;
    load("sv", &t);
    cr_assert_eq(t.nev, 5, "5 increments of a watched local, got %zu events", t.nev);
    for (size_t i = 0; i < t.nev; i++) {
        cr_expect_str_eq(t.ev[i].var, "local");
        cr_expect_eq(t.ev[i].new_b[0], i + 1);
        cr_expect(t.ev[i].nframes >= 2);
    }
    cr_expect(t.w[0].ended && t.w[0].end_reason == MW_UNWATCH_EXPLICIT);
    mw_ws_free(&t);
}

Test(watch_robust, unprivileged_fallback, .init = setup, .fini = teardown, .timeout = 90)
{
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0 || !getpwnam("nobody")) {
        cr_skip_test("needs root, setpriv and user nobody");
    }
    chmod(dir, 0777);
    const char *prefix[] = { "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
                             "--clear-groups", NULL };
    int st = mw_ws_run(dir, "plain", false, NULL, prefix, "watch_struct", NULL, 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "victim as nobody without the shim");
    char *plain = read_out("plain", "out");
    /* The shim goes into the victim only (env after setpriv), not into setpriv itself. */
    char pre[8192];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s/libmemwatch_preload.so", mw_ws_build());
    const char *prefix_shim[] = { "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
                                  "--clear-groups", "/usr/bin/env", pre, NULL };
    st = mw_ws_run(dir, "nb", false, NULL, prefix_shim, "watch_struct", NULL, 60);
    char *out = read_out("nb", "out"), *err = read_out("nb", "err");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "as nobody (status %d):\n%s\n%s", st, out,
              err);
    cr_expect_not_null(strstr(err, "memwatch: watch: userfaultfd unavailable"), "%s", err);
    cr_expect_str_eq(strstr(out, "checksum"), strstr(plain, "checksum"));
    mw_ws_trace t;
    load("nb", &t);
    /* Same events as with userfaultfd (the kernel write through the read(2) hook). */
    cr_assert_eq(t.nev, 4, "got %zu events", t.nev);
    cr_expect_str_eq(t.ev[0].thread, "writer-a");
    cr_expect_eq(t.ev[0].new_b[0], 0x88);
    cr_expect(t.ev[0].nframes >= 2);
    cr_expect_str_eq(t.ev[1].thread, "writer-b");
    cr_expect_eq(t.ev[2].syscall, SYS_read);
    cr_expect_eq(t.ev[2].len, 12);
    cr_expect_str_eq(t.ev[3].thread, "writer-c");
    cr_expect_str_eq(t.ev[3].loc_file, "app.py");
    mw_ws_free(&t);
    free(out);
    free(err);
    free(plain);
}

/* The same unmap under the mprotect fallback (as nobody: no userfaultfd), where no kernel event
 * reports the unmap and the shim's munmap hook must end the watch. */
Test(watch_robust, unmapped_page_ends_the_watch_in_fallback, .init = setup, .fini = teardown, .timeout = 90)
{
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0 || !getpwnam("nobody")) {
        cr_skip_test("needs root, setpriv and user nobody");
    }
    chmod(dir, 0777);
    char pre[8192];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s/libmemwatch_preload.so", mw_ws_build());
    const char *prefix_shim[] = { "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
                                  "--clear-groups", "/usr/bin/env", pre, NULL };
    const char *args[] = { "unmap", NULL };
    int st = mw_ws_run(dir, "fu", false, NULL, prefix_shim, "watch_modes", args, 60);
    char *out = read_out("fu", "out"), *err = read_out("fu", "err");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "as nobody (status %d):\n%s\n%s", st, out, err);
    cr_expect_not_null(strstr(err, "userfaultfd unavailable"), "fallback in use: %s", err);
    free(out);
    free(err);
    mw_ws_trace t;
    load("fu", &t);
    cr_assert_eq(t.nw, 1);
    cr_expect(t.w[0].ended && t.w[0].end_reason == MW_UNWATCH_UNMAPPED);
    cr_assert_eq(t.nev, 2, "one write + the unmap event, got %zu", t.nev);
    cr_expect(t.ev[1].flags & MW_WF_UNMAPPED);
    mw_ws_free(&t);
}
