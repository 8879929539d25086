/*
 * test_shim_config.c — MEMWATCH_* configuration and output-file safety: %p/%e/%% patterns,
 * unwritable output (one stderr line, program unchanged), bad values (one line each,
 * defaults kept), unknown MEMWATCH_* names (one line each), trace mode 0600, existing files and symlinks never followed or overwritten,
 * MEMWATCH_FOLLOW=0 removing only our own LD_PRELOAD entry, stacks/depth/RSS switches.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mwtest.h"

static char *dir;
static void setup(void) { dir = mwt_tmpdir(); }
static void teardown(void)
{
    mwt_rmtree(dir);
    free(dir);
}
TestSuite(shim_config, .init = setup, .fini = teardown);

/* Runs shim_proc leaf N natively and traced with extra env; checks output/status equality. */
static void leaf_run(const char *const *env, mwt_run *r)
{
    const char *argv[] = { mwt_victim("shim_proc"), "leaf", "4242", NULL };
    mwt_run n;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, r), 0);
    cr_expect_str_eq(r->out, n.out);
    cr_expect_eq(r->raw_status, n.raw_status);
    mwt_run_free(&n);
}

static char *fmt(const char *f, const char *a)
{
    char *s = malloc(strlen(f) + strlen(a) + 64);
    sprintf(s, f, a);
    return s;
}

Test(shim_config, out_pattern_expands_pid_exe_percent)
{
    char *out = fmt("MEMWATCH_OUT=%s/x-%%e-%%p-%%%%.trace.zst", dir);
    const char *env[] = { out, NULL };
    mwt_run r;
    leaf_run(env, &r);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    char want[1024];
    snprintf(want, sizeof want, "%s/x-shim_proc-%llu-%%.trace.zst", dir, (unsigned long long)t.pid);
    cr_expect_str_eq(t.path, want);
    struct stat st;
    cr_assert_eq(stat(t.path, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
    cr_expect_eq(mwt_live_of_size(&t, 4242), 1);
    mwt_trace_free(&t);
    mwt_run_free(&r);
    free(out);
}

/* %e of a program whose file name holds control characters: each becomes '_' in the trace's
 * name (a newline in a file name splits every listing of the directory); the program runs as
 * it does natively. */
Test(shim_config, out_pattern_exe_name_control_chars_become_underscores)
{
    char *exe = fmt("%s/a\nb\tc\x7f", dir);
    char *cmd = fmt("cp %s \"$0\"", mwt_victim("shim_proc"));
    const char *cp[] = { "/bin/sh", "-c", cmd, exe, NULL };
    mwt_run c;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = cp }, &c), 0);
    cr_assert_eq(c.raw_status, 0, "%s", c.err);
    mwt_run_free(&c);
    char *out = fmt("MEMWATCH_OUT=%s/%%e.%%p.trace.zst", dir);
    const char *env[] = { out, NULL };
    const char *argv[] = { exe, "leaf", "4242", NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_eq(r.raw_status, n.raw_status);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    char want[1024];
    snprintf(want, sizeof want, "%s/a_b_c_.%llu.trace.zst", dir, (unsigned long long)t.pid);
    cr_expect_str_eq(t.path, want);
    cr_expect_eq(mwt_live_of_size(&t, 4242), 1);
    mwt_trace_free(&t);
    mwt_run_free(&n);
    mwt_run_free(&r);
    free(out);
    free(cmd);
    free(exe);
}

/* A tight address space or data limit (`ulimit -v`, `ulimit -d`, which set the hard limit
 * too): the shim's mappings would come out of the program's room, and `cat /dev/null` failed
 * with "memory exhausted" under 11 MB of address space or 6 MB of data where natively it
 * runs (2026-11-24). With less than 64 MiB left the process is not traced: one line, the
 * program as natively, no trace of it. */
static void tight_limit_case(const char *ulimit, const char *name, const char *kib)
{
    char *cmd0 = fmt("ulimit %s && exec ", ulimit);
    char *cmd = fmt("%s%%s leaf 4242", cmd0);
    char *full = fmt(cmd, mwt_victim("shim_proc"));
    const char *argv[] = { "/bin/sh", "-c", full, NULL };
    char *out = fmt("MEMWATCH_OUT=%s/%%e.%%p.trace.zst", dir);
    const char *env[] = { out, NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_eq(r.raw_status, n.raw_status, "%s", r.err);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 1, "stderr: %s", r.err);
    char want[128];
    snprintf(want, sizeof want, "not tracing this process: its %s (%s KiB)", name, kib);
    cr_expect(strstr(r.err, want), "%s", r.err);
    size_t nt = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &nt);
    cr_expect_eq(mwt_trace_with_live(ts, nt, 4242), NULL, "the victim was traced");
    mwt_traces_free(ts, nt);
    mwt_run_free(&n);
    mwt_run_free(&r);
    free(out);
    free(full);
    free(cmd);
    free(cmd0);
}
Test(shim_config, a_tight_address_space_limit_leaves_the_program_untraced)
{
    tight_limit_case("-v 24000", "RLIMIT_AS", "24000");
}
Test(shim_config, a_tight_data_limit_leaves_the_program_untraced)
{
    tight_limit_case("-d 12000", "RLIMIT_DATA", "12000");
}

Test(shim_config, unwritable_output_one_line_program_unchanged)
{
    const char *env[] = { "MEMWATCH_OUT=/nonexistent-dir/sub/t.%p.trace.zst", NULL };
    mwt_run r;
    leaf_run(env, &r);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 1, "stderr: %s", r.err);
    cr_expect(strstr(r.err, "/nonexistent-dir/sub/t.") != NULL, "%s", r.err);
    mwt_run_free(&r);
}

/* A program whose first allocation is inside glibc's setenv (a library constructor's, before
 * the shim's) keeps the variable it set, and still sees none of the variables a traced
 * parent added (MEMWATCH_ADDED names them): the shim takes those out in its constructor, not
 * where tracing starts, in the middle of setenv (the variable was lost before 2026-11-23). */
Test(shim_config, a_setenv_in_a_constructor_keeps_its_variable)
{
    const char *argv[] = { mwt_victim("setenv_first"), NULL };
    const char *env[] = { "MEMWATCH_RSS_MS=100", "MEMWATCH_ADDED=MEMWATCH_RSS_MS", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_str_eq(r.out, "CTOR_VAR=set MEMWATCH_ADDED=(none) MEMWATCH_RSS_MS=(none)\n", "stderr: %s", r.err);
    cr_expect_eq(r.exit_code, 0);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect(t.has_end, "traced from the start");
    mwt_trace_free(&t);
    mwt_run_free(&r);
}

/* A program whose first allocation is inside pthread_atfork (a library constructor's 200
 * registrations, before the shim's constructor) runs as natively, and its fork child is
 * traced: the shim registers its own fork handlers in its constructor, not where tracing
 * starts, under glibc's handler lock (the program hung for ever before 2026-11-23; killed here
 * after 20 s). */
Test(shim_config, fork_handlers_registered_in_a_constructor, .timeout = 60)
{
    const char *argv[] = { mwt_victim("atfork_first"), NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_str_eq(n.out, "child: child handlers 200\nparent: prepare 200, parent 200\n", "natively: %s", n.err);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir, .timeout_ms = 20000 }, &r), 0);
    cr_expect_str_eq(r.out, n.out, "stderr: %s", r.err);
    cr_expect_eq(r.raw_status, n.raw_status);
    size_t nt = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &nt);
    cr_expect_eq(nt, 2, "the program's trace and its child's (%zu)", nt);
    cr_expect_not_null(mwt_trace_with_live(ts, nt, 321), "the child's block");
    for (size_t i = 0; i < nt; i++) cr_expect(ts[i].has_end, "%s: %s", ts[i].path, ts[i].err);
    mwt_traces_free(ts, nt);
    mwt_run_free(&n);
    mwt_run_free(&r);
}

/* The line about an unwritable output, made while the program holds glibc's message
 * catalogue lock (its first allocation is inside bindtextdomain, called by a library's
 * constructor: libgpg-error's in postgres), must not look the error's text up in that
 * catalogue: strerror() there broke the lock, and the program's own next bindtextdomain hung
 * for ever (`postgres -V` with an unwritable MEMWATCH_OUT, 2026-11-23; killed here after 20 s). */
Test(shim_config, unwritable_output_line_inside_the_catalogue_lock, .timeout = 60)
{
    const char *argv[] = { mwt_victim("locale_first"), NULL };
    const char *env[] = { "MEMWATCH_OUT=/nonexistent-dir/sub/t.%p.trace.zst", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .timeout_ms = 20000 }, &r), 0);
    cr_expect_str_eq(r.out, "/usr/share/locale\n", "stderr: %s", r.err);
    cr_expect_eq(r.exit_code, 0, "status %d: %s", r.raw_status, r.err);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 1, "stderr: %s", r.err);
    cr_expect(strstr(r.err, "No such file or directory") != NULL, "%s", r.err);
    mwt_run_free(&r);
}

/* A process whose writer thread cannot start (RLIMIT_NPROC reached: it needs a user other
 * than root, whom the kernel exempts) runs untraced with one line, and leaves no trace file:
 * an empty one was left behind before, for the analyzer to warn about. */
Test(shim_config, no_writer_thread_one_line_no_file, .timeout = 60)
{
    if (geteuid() != 0) cr_skip_test("needs root to run the program as another user");
    if (access("/usr/bin/setpriv", X_OK) != 0 || access("/usr/bin/prlimit", X_OK) != 0)
        cr_skip_test("setpriv or prlimit not installed");
    cr_assert_eq(chmod(dir, 0777), 0);
    char *pre = fmt("LD_PRELOAD=%s/libmemwatch_preload.so", mwt_build_dir());
    char *out = fmt("MEMWATCH_OUT=%s/t.%%p.trace.zst", dir);
    const char *plain[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "/usr/bin/prlimit", "--nproc=1", mwt_victim("shim_proc"), "leaf", "4242", NULL };
    const char *traced[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             "/usr/bin/prlimit", "--nproc=1", "/usr/bin/env", pre, out,
                             mwt_victim("shim_proc"), "leaf", "4242", NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = plain }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = traced }, &r), 0);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_eq(r.raw_status, n.raw_status, "stderr: %s", r.err);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 1, "stderr: %s", r.err);
    cr_expect(strstr(r.err, "memwatch: cannot start the writer thread") != NULL, "stderr: %s", r.err);
    size_t nt = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &nt);
    cr_expect_eq(nt, 0, "%zu trace files left", nt);
    mwt_traces_free(ts, nt);
    mwt_run_free(&n);
    mwt_run_free(&r);
    free(pre);
    free(out);
}

Test(shim_config, bad_values_one_line_each_defaults_kept)
{
    const char *env[] = { "MEMWATCH_RSS_MS=abc",   "MEMWATCH_FLUSH_MS=500", "MEMWATCH_STACK_DEPTH=0",
                          "MEMWATCH_FOLLOW=maybe", "MEMWATCH_ZSTD_LEVEL=99", "MEMWATCH_STACKS=",
                          "MEMWATCH_REACH=2",      "MEMWATCH_SQL=x",        "MEMWATCH_QUIET=perhaps",
                          "MEMWATCH_ADDRESSES=all", "MEMWATCH_CODED_RUNS=often",
                          "MEMWATCH_REACH_TIMEOUT_MS=-1", "MEMWATCH_DIR_FD=dir", NULL };
    mwt_run r;
    leaf_run(env, &r);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 13, "stderr: %s", r.err);
    cr_expect(strstr(r.err, "MEMWATCH_DIR_FD=dir: expected a descriptor number") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "MEMWATCH_REACH_TIMEOUT_MS=-1: expected an integer") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "MEMWATCH_FLUSH_MS=500") != NULL, "%s", r.err);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect(t.flags & MW_HF_STACKS, "defaults kept");
    cr_expect(t.flags & MW_HF_FOLLOW);
    cr_expect(t.flags & MW_HF_NO_ADDRESSES);
    cr_expect_eq(mwt_live_of_size(&t, 4242), 1);
    mwt_trace_free(&t);
    mwt_run_free(&r);
    /* a number that is no open directory (stdin here): one line, the trace where
     * MEMWATCH_OUT says */
    const char *env2[] = { "MEMWATCH_DIR_FD=0", NULL };
    leaf_run(env2, &r);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 1, "stderr: %s", r.err);
    cr_expect(strstr(r.err, "MEMWATCH_DIR_FD=0: not an open directory") != NULL, "%s", r.err);
    size_t nt = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &nt);
    cr_expect_eq(nt, 2, "the trace made where MEMWATCH_OUT says (%zu)", nt);
    mwt_traces_free(ts, nt);
    mwt_run_free(&r);
}

/* A MEMWATCH_* name memwatch does not read (a misspelt setting would silently not apply): one
 * line each, naming it and the known name within two edits; the names of the runner and the
 * test suite (MEMWATCH_PRELOAD, MEMWATCH_BUILD) are known and say nothing. */
Test(shim_config, unknown_names_one_line_each_with_the_near_name)
{
    const char *env[] = { "MEMWATCH_RSS_MSS=10", "MEMWATCH_COLOUR=1", "MEMWATCH_PRELOAD=/x",
                          "MEMWATCH_BUILD=build", "MEMWATCH_\033[31m=1", NULL };
    mwt_run r;
    leaf_run(env, &r);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 3, "stderr: %s", r.err);
    cr_expect(strstr(r.err, "memwatch: MEMWATCH_RSS_MSS: not a memwatch variable (did you mean MEMWATCH_RSS_MS?); "
                            "ignored\n") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "memwatch: MEMWATCH_COLOUR: not a memwatch variable; ignored\n") != NULL, "%s", r.err);
    cr_expect_eq(strchr(r.err, '\033'), NULL, "an escape reached stderr: %s", r.err);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect_eq(mwt_live_of_size(&t, 4242), 1, "traced as usual");
    mwt_trace_free(&t);
    mwt_run_free(&r);
}

/* A value that would break the one line (a newline, a terminal escape) or bury its reason (4 000
 * bytes) is shown shortened, its control characters as '?': still one line, with what is wrong. */
Test(shim_config, bad_values_stay_one_readable_line)
{
    char *longv = malloc(4100);
    memcpy(longv, "MEMWATCH_FLUSH_MS=", 18);
    memset(longv + 18, '7', 4000);
    longv[4018] = 0;
    const char *env[] = { "MEMWATCH_RSS_MS=12\n\033[31mred", longv, NULL };
    mwt_run r;
    leaf_run(env, &r);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 2, "stderr: %s", r.err);
    cr_expect_eq(strchr(r.err, '\033'), NULL, "an escape reached stderr: %s", r.err);
    cr_expect(strstr(r.err, "MEMWATCH_RSS_MS=12??[31mred: expected an integer") != NULL, "%s", r.err);
    const char *f = strstr(r.err, "MEMWATCH_FLUSH_MS=");
    cr_assert(f != NULL, "%s", r.err);
    const char *nl = strchr(f, '\n');
    cr_assert(nl != NULL);
    cr_expect_lt((size_t)(nl - f), 300, "the line is %zu bytes", (size_t)(nl - f));
    cr_expect(strstr(f, "...7777") != NULL && strstr(f, ": expected an integer in 1..200") < nl, "%s", f);
    mwt_run_free(&r);
    free(longv);
}

/* The lines about the settings are said once per process tree: every program a traced shell
 * starts inherits the same variables, and each said them again (a pipeline, `make`: a line per
 * program). A program started through an exec, system(), popen() or posix_spawn, or given an
 * environment of its own (env -i), with the same settings says nothing; one whose settings
 * differ (a bad MEMWATCH_RSS_MS of its own) says its lines. A MEMWATCH_WATCH item's bad
 * length is one of these lines (before, each program said it, and "-1" was taken as a length
 * of 2^64 - 1). A MEMWATCH_DIR_FD that names no open directory, inherited by every program,
 * is said by the first. The mark passed along is not in any program's environment. */
Test(shim_config, lines_about_the_settings_are_said_once_per_process_tree)
{
    const char *v = mwt_victim("shim_proc");
    char script[4096];
    snprintf(script, sizeof script,
             "%s system; %s popen; %s spawn; env -i %s leaf 30040; MEMWATCH_RSS_MS=x %s leaf 30041; "
             "env | grep -c '^MEMWATCH_WARNED='; env -i env",
             v, v, v, v, v);
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    const char *env[] = { "MEMWATCH_FOLLOW=999", "MEMWATCH_COLOUR=1", "MEMWATCH_WATCH=g_nowhere:-1",
                          "MEMWATCH_DIR_FD=07", NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_eq(r.raw_status, n.raw_status);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch: MEMWATCH_FOLLOW=999: expected 0/1"), 2, "stderr: %s", r.err);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch: MEMWATCH_COLOUR: not a memwatch variable"), 2, "stderr: %s", r.err);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch: MEMWATCH_RSS_MS=x: expected an integer"), 1, "stderr: %s", r.err);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch: MEMWATCH_WATCH: bad length '-1' for 'g_nowhere'; skipped"), 2,
                 "stderr: %s", r.err);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch: MEMWATCH_DIR_FD=7: not an open directory"), 1, "stderr: %s", r.err);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 8, "stderr: %s", r.err);
    size_t nt = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &nt);
    size_t leaves = 0;
    for (size_t i = 0; i < nt; i++)
        leaves += mwt_live_of_size(&ts[i], 30007) + mwt_live_of_size(&ts[i], 30008) +
                  mwt_live_of_size(&ts[i], 30006) + mwt_live_of_size(&ts[i], 30040) +
                  mwt_live_of_size(&ts[i], 30041);
    cr_expect_eq(leaves, 5, "every program traced (%zu traces)", nt);
    mwt_traces_free(ts, nt);
    mwt_run_free(&n);
    mwt_run_free(&r);
}

/* A MEMWATCH_OUT where no trace can be made (a missing directory, a device) is said by the
 * first program of the tree only: every program of a shell pipeline or `make` inherits it and
 * fails the same way, and each said a line until 2026-11-24. Also through system() and
 * popen() (glibc's own spawn) and an `env -i`. A program that can make its trace (another
 * MEMWATCH_OUT) traces; one of its children failing again says so. */
Test(shim_config, a_trace_file_that_cannot_be_made_is_said_once_per_process_tree)
{
    const char *v = mwt_victim("shim_proc");
    char script[4096], good[1100];
    snprintf(good, sizeof good, "%s/good", dir);
    cr_assert_eq(mkdir(good, 0700), 0);
    snprintf(script, sizeof script,
             "%s system; %s popen; %s spawn; env -i %s leaf 30040; cat /dev/null | %s leaf 30041; "
             "MEMWATCH_OUT=%s/ sh -c '%s leaf 30042; MEMWATCH_OUT=/dev/null %s leaf 30043; true'",
             v, v, v, v, v, good, v, v);
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    const char *outs[] = { "MEMWATCH_OUT=/nonexistent/memwatch-dir/t.%p.trace.zst", "MEMWATCH_OUT=/dev/null" };
    const char *lines[] = { "memwatch: cannot create trace file /nonexistent/memwatch-dir/t.",
                            "memwatch: cannot create trace file /dev/null: it exists and is not" };
    for (int k = 0; k < 2; k++) {
        const char *env[] = { outs[k], NULL };
        mwt_run n, r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env }, &n), 0);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true }, &r), 0);
        cr_expect_str_eq(r.out, n.out);
        cr_expect_eq(r.raw_status, n.raw_status);
        /* the first program, then the one started by the traced sh in good/ (for /dev/null:
         * the same line; for the missing directory: a line of its own) */
        cr_expect_eq(mwt_count_lines(r.err, lines[k]), k == 1 ? 2 : 1, "stderr: %s", r.err);
        cr_expect_eq(mwt_count_lines(r.err, "memwatch: cannot create trace file /dev/null"), k == 1 ? 2 : 1,
                     "stderr: %s", r.err);
        cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 2, "stderr: %s", r.err);
        size_t nt = 0;
        mwt_trace *ts = mwt_trace_load_all(good, &nt);
        size_t leaves = 0;
        for (size_t i = 0; i < nt; i++) leaves += mwt_live_of_size(&ts[i], 30042) + mwt_live_of_size(&ts[i], 30043);
        cr_expect_eq(leaves, 1, "the program in good/ traced, the one after it not (%zu traces)", nt);
        mwt_traces_free(ts, nt);
        mwt_run_free(&n);
        mwt_run_free(&r);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -f %s/*", good);
        cr_assert_eq(system(cmd), 0);
    }
}

/* MEMWATCH_OUT naming a directory (an existing one, or any path ending in '/') puts the default
 * name in it; an existing path that is neither a file nor a directory (a device) is refused with
 * one line, never numbered beside it (/dev/null.1). A symlink counts as what it names. */
Test(shim_config, out_directory_gets_the_default_name_a_device_is_refused)
{
    char sub[1024], slash[1024];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(slash, sizeof slash, "%s/slash", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    cr_assert_eq(mkdir(slash, 0700), 0);
    char *o1 = fmt("MEMWATCH_OUT=%s", sub), *o2 = fmt("MEMWATCH_OUT=%s/", slash);
    const char *env1[] = { o1, NULL }, *env2[] = { o2, NULL };
    const char *in[] = { sub, slash };
    for (int k = 0; k < 2; k++) {
        mwt_run r;
        leaf_run(k ? env2 : env1, &r);
        cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 0, "stderr: %s", r.err);
        mwt_trace t;
        cr_assert_eq(mwt_trace_load_one(in[k], &t), 0, "%s", t.err);
        char want[1100];
        snprintf(want, sizeof want, "%s/memwatch.shim_proc.%llu.trace.zst", in[k], (unsigned long long)t.pid);
        cr_expect_str_eq(t.path, want);
        cr_expect_eq(mwt_live_of_size(&t, 4242), 1);
        mwt_trace_free(&t);
        mwt_run_free(&r);
    }
    struct stat st;
    bool had = lstat("/dev/null.1", &st) == 0;
    const char *env3[] = { "MEMWATCH_OUT=/dev/null", NULL };
    mwt_run r;
    leaf_run(env3, &r);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 1, "stderr: %s", r.err);
    cr_expect(strstr(r.err, "/dev/null: it exists and is not a regular file or a directory") != NULL, "%s", r.err);
    if (!had) {
        cr_expect_neq(lstat("/dev/null.1", &st), 0, "a trace was put beside /dev/null");
        unlink("/dev/null.1");
    }
    mwt_run_free(&r);
    /* a symlink is judged by what it names: to a directory, the trace goes inside it; to a
     * device, none is made (before 23:15 UTC on 2026-11-23 both put LINK.1 beside the link) */
    char dlink[1100], devlink[1100], beside[1200];
    snprintf(dlink, sizeof dlink, "%s/dlink", dir);
    snprintf(devlink, sizeof devlink, "%s/devlink", dir);
    cr_assert_eq(symlink(slash, dlink), 0);
    cr_assert_eq(symlink("/dev/null", devlink), 0);
    char *o4 = fmt("MEMWATCH_OUT=%s", dlink), *o5 = fmt("MEMWATCH_OUT=%s", devlink);
    const char *env4[] = { o4, NULL }, *env5[] = { o5, NULL };
    leaf_run(env4, &r);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 0, "stderr: %s", r.err);
    snprintf(beside, sizeof beside, "%s.1", dlink);
    cr_expect_neq(lstat(beside, &st), 0, "a trace beside the link to a directory");
    size_t nt = 0;
    mwt_trace *ts = mwt_trace_load_all(slash, &nt);
    cr_expect_eq(nt, 2, "the one made through the link, in the directory (%zu)", nt);
    mwt_traces_free(ts, nt);
    mwt_run_free(&r);
    leaf_run(env5, &r);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 1, "stderr: %s", r.err);
    cr_expect(strstr(r.err, "/devlink: it exists and is not a regular file or a directory") != NULL, "%s", r.err);
    snprintf(beside, sizeof beside, "%s.1", devlink);
    cr_expect_neq(lstat(beside, &st), 0, "a trace beside the link to a device");
    mwt_run_free(&r);
    free(o4);
    free(o5);
    free(o1);
    free(o2);
}

/* MEMWATCH_ADDRESSES: off by default (no block address in ALLOC/REALLOC; the blocks live at
 * exit get theirs from REACH), 1 records every address, and REACH agrees with it. */
Test(shim_config, addresses_default_off_reach_has_live_ones)
{
    for (int on = 0; on < 2; on++) {
        const char *env[] = { on ? "MEMWATCH_ADDRESSES=1" : "MEMWATCH_ADDRESSES=0", NULL };
        mwt_run r;
        leaf_run(on ? env : NULL, &r);
        mwt_trace t;
        cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
        cr_expect_eq(!(t.flags & MW_HF_NO_ADDRESSES), on);
        size_t live = 0, leaf = 0;
        for (size_t i = 0; i < t.nblocks; i++) {
            const mwt_block *b = &t.blocks[i];
            if (on)
                cr_expect_neq(b->addr, 0, "block %zu", i);
            else
                cr_expect_eq(b->addr, 0, "block %zu", i);
            if (b->freed) continue;
            live++;
            cr_expect_neq(b->reach, 0, "every live block has a REACH entry");
            cr_expect_neq(b->reach_addr, 0);
            cr_expect_eq(b->reach_addr % 8, 0);
            if (on) cr_expect_eq(b->reach_addr, b->addr, "REACH names the ALLOC's address");
            if (b->size == 4242) leaf++;
        }
        cr_expect_gt(live, 0);
        cr_expect_eq(leaf, 1);
        mwt_trace_free(&t);
        mwt_run_free(&r);
        mwt_rmtree(dir);
        mkdir(dir, 0700);
    }
}

Test(shim_config, bad_out_pattern_uses_default)
{
    const char *env[] = { "MEMWATCH_OUT=bad%x", NULL };
    const char *argv[] = { mwt_victim("shim_proc"), "leaf", "4242", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .cwd = dir }, &r), 0);
    cr_expect_eq(r.exit_code, 0);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 1, "%s", r.err);
    char **p;
    size_t n = mwt_find_traces(dir, &p);
    cr_expect_eq(n, 1);
    if (n) cr_expect(strstr(p[0], "/memwatch.shim_proc.") != NULL, "%s", p[0]);
    mwt_free_list(p, n);
    mwt_run_free(&r);
}

Test(shim_config, existing_file_and_symlink_untouched)
{
    char path[1024], link[1024], target[1024];
    snprintf(path, sizeof path, "%s/fixed.trace.zst", dir);
    snprintf(link, sizeof link, "%s/link.trace.zst", dir);
    snprintf(target, sizeof target, "%s/target", dir);
    FILE *f = fopen(path, "w");
    fputs("keep", f);
    fclose(f);
    cr_assert_eq(symlink(target, link), 0);
    char *o1 = fmt("MEMWATCH_OUT=%s/fixed.trace.zst", dir), *o2 = fmt("MEMWATCH_OUT=%s/link.trace.zst", dir);
    const char *env1[] = { o1, NULL }, *env2[] = { o2, NULL };
    mwt_run r;
    leaf_run(env1, &r);
    mwt_run_free(&r);
    leaf_run(env2, &r);
    mwt_run_free(&r);
    char buf[16] = "";
    f = fopen(path, "r");
    cr_assert(fgets(buf, sizeof buf, f));
    fclose(f);
    cr_expect_str_eq(buf, "keep", "existing file overwritten");
    struct stat st;
    cr_expect_neq(lstat(target, &st), 0, "symlink was followed");
    cr_expect_eq(lstat(link, &st), 0);
    cr_expect(S_ISLNK(st.st_mode));
    /* the traces went to fresh numbered names */
    mwt_trace t;
    char alt[1100];
    snprintf(alt, sizeof alt, "%s/fixed.1.trace.zst", dir);
    cr_expect_eq(mwt_trace_load(alt, &t), 0, "%s", t.err);
    mwt_trace_free(&t);
    snprintf(alt, sizeof alt, "%s/link.1.trace.zst", dir);
    cr_expect_eq(mwt_trace_load(alt, &t), 0, "%s", t.err);
    mwt_trace_free(&t);
    free(o1);
    free(o2);
}

/* A program that keeps its pid and name through many execs (a daemon re-executing itself on
 * every reload) finds its numbered names taken up to .150: the trace is .151 (the numbering
 * once gave up at .99, and the program ran untraced with a line on stderr). */
Test(shim_config, numbered_names_go_past_a_hundred)
{
    char p[1200];
    for (int k = 0; k <= 150; k++) {
        if (k) snprintf(p, sizeof p, "%s/fixed.%d.trace.zst", dir, k);
        else snprintf(p, sizeof p, "%s/fixed.trace.zst", dir);
        FILE *f = fopen(p, "w");
        cr_assert(f);
        fclose(f);
    }
    char *o = fmt("MEMWATCH_OUT=%s/fixed.trace.zst", dir);
    const char *env[] = { o, NULL };
    mwt_run r;
    leaf_run(env, &r);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 0, "%s", r.err);
    snprintf(p, sizeof p, "%s/fixed.151.trace.zst", dir);
    mwt_trace t;
    cr_expect_eq(mwt_trace_load(p, &t), 0, "%s", t.err);
    cr_expect_eq(mwt_live_of_size(&t, 4242), 1);
    mwt_trace_free(&t);
    mwt_run_free(&r);
    free(o);
}

Test(shim_config, follow0_keeps_other_preloads)
{
    const char *other = "/lib/x86_64-linux-gnu/libz.so.1";
    char *lp = fmt("LD_PRELOAD=%s", other);
    const char *env[] = { lp, "MEMWATCH_FOLLOW=0", NULL };
    const char *argv[] = { mwt_victim("shim_env"), "exec", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    char want[512];
    snprintf(want, sizeof want, "print LD_PRELOAD=%s\n", other);
    cr_expect(strstr(r.out, want) != NULL, "child env: %s", r.out);
    cr_expect(strstr(r.out, "libmemwatch_preload") == NULL, "%s", r.out);
    char **p;
    size_t n = mwt_find_traces(dir, &p);
    cr_expect_eq(n, 1, "only the first program is traced");
    mwt_free_list(p, n);
    mwt_run_free(&r);
    free(lp);
}

Test(shim_config, follow_default_traces_exec_and_system)
{
    const char *argv[] = { mwt_victim("shim_env"), "spawn", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_eq(mwt_count_lines(r.out, "print LD_PRELOAD="), 1);
    cr_expect(strstr(r.out, "print LD_PRELOAD=") && strstr(strstr(r.out, "print LD_PRELOAD="), "libmemwatch_preload"),
              "%s", r.out);
    char **p;
    size_t n = mwt_find_traces(dir, &p);
    cr_expect_geq(n, 3, "parent, sh and the child each have a trace (%zu)", n);
    mwt_free_list(p, n);
    mwt_run_free(&r);
}

/* Runs argv under the shim with an RSS sample every millisecond and checks that every
 * sample says how much of the RSS is memwatch's own: more than nothing, never more than the
 * RSS, and at least `min_own` bytes at its largest; and that every sample is a figure a
 * process could have. */
static void own_share_case(const char *const *argv, uint64_t min_own)
{
    const char *env[] = { "MEMWATCH_RSS_MS=1", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_assert_geq(t.rss_samples, 2);
    cr_expect_eq(t.own_odd, 0, "%llu of %llu samples", (unsigned long long)t.own_odd,
                 (unsigned long long)t.rss_samples);
    cr_expect_eq(t.rss_odd, 0, "%llu of %llu samples odd", (unsigned long long)t.rss_odd,
                 (unsigned long long)t.rss_samples);   /* whole figures back from RSS_D */
    cr_expect_geq(t.max_own, min_own, "own at most %llu bytes", (unsigned long long)t.max_own);
    cr_expect_lt(t.max_own, t.max_rss);
    mwt_trace_free(&t);
    mwt_run_free(&r);
}

/* The own share grows with the live-block tables: 200 000 live blocks (shim_bigheap) take the
 * shared table's megabytes. */
Test(shim_config, rss_samples_carry_memwatchs_own_share)
{
    const char *argv[] = { mwt_victim("shim_bigheap"), NULL };
    own_share_case(argv, 2u << 20);
}

/* The rings are counted in memwatch's own share as far as each was ever written (by the
 * writer, not looked up page by page): eight threads that each write more than their 512 KiB
 * ring make 4 MiB of it while they are alive, on top of the rest (7.9 MB in all at 22:04 UTC
 * on 2026-11-22; 4.0 MB with the rings left out). */
Test(shim_config, rss_samples_count_the_rings_written)
{
    const char *argv[] = { mwt_victim("compress_mix"), "rings", "300000", NULL };
    own_share_case(argv, 8u * (512u << 10) + (2u << 20));
}

/* A process that only waits: its RSS less memwatch's own stays where it was from the first
 * sample to the last (the first came before the shim's start-up work and read a megabyte
 * low, so every program seemed to grow at its start). */
Test(shim_config, a_waiting_process_has_a_flat_rss)
{
    const char *env[] = { "MEMWATCH_RSS_MS=50", NULL };
    const char *argv[] = { mwt_victim("runner_child"), "sleep", "600", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_assert_geq(t.rss_samples, 5);
    int64_t d = (int64_t)t.last_prog_rss - (int64_t)t.first_prog_rss;
    cr_expect(d < 256 * 1024 && d > -256 * 1024, "first %llu, last %llu bytes", (unsigned long long)t.first_prog_rss,
              (unsigned long long)t.last_prog_rss);
    mwt_trace_free(&t);
    mwt_run_free(&r);
}

Test(shim_config, stacks_off_depth_and_rss)
{
    const char *env[] = { "MEMWATCH_STACKS=0", "MEMWATCH_RSS_MS=0", NULL };
    mwt_run r;
    leaf_run(env, &r);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect_eq(t.flags & MW_HF_STACKS, 0);
    for (size_t i = 0; i < t.nblocks; i++) cr_expect_eq(t.blocks[i].stack, 0);
    cr_expect_eq(t.rss_samples, 0);
    cr_expect_eq(t.nrec[MW_REC_STACK_NODE], 0);
    mwt_trace_free(&t);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    mkdir(dir, 0700);
    const char *env2[] = { "MEMWATCH_STACK_DEPTH=2", NULL };
    leaf_run(env2, &r);
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect_geq(t.rss_samples, 1);
    size_t deep = 0;
    for (size_t i = 0; i < t.nblocks; i++) {
        uint64_t ips[8];
        size_t d = mwt_stack_ips(&t, t.blocks[i].stack, ips, 8);
        cr_expect_leq(d, 2, "depth %zu", d);
        if (d == 2) deep++;
    }
    cr_expect_gt(deep, 0);
    mwt_trace_free(&t);
    mwt_run_free(&r);
}

Test(shim_config, write_errors_counted_program_unchanged)
{
    /* RLIMIT_FSIZE of 2 blocks: the trace write fails with EFBIG (the writer thread blocks
     * SIGXFSZ), the program must run on unchanged with one line on stderr */
    char shim[1200], out[1200];
    snprintf(shim, sizeof shim, "MW_TEST_SHIM=%s", mwt_shim());
    snprintf(out, sizeof out, "MEMWATCH_OUT=%s/%%e.%%p.trace.zst", dir);
    const char *env[] = { shim, out, NULL };
    const char *argv[] = { "/bin/sh", "-c", "ulimit -f 2; LD_PRELOAD=$MW_TEST_SHIM exec \"$@\"", "sh",
                           mwt_victim("shim_threads"), NULL };
    const char *nargv[] = { mwt_victim("shim_threads"), NULL };
    mwt_run r, n;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = nargv }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env }, &r), 0);
    cr_expect_eq(r.exit_code, 0, "status %d signal %d: %s", r.exit_code, r.term_signal, r.err);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 1, "%s", r.err);
    cr_expect(strstr(r.err, "failed") != NULL, "%s", r.err);
    mwt_trace t;
    if (mwt_trace_load_one(dir, &t) == 0) cr_expect(!t.has_end, "the trace cannot be complete");
    mwt_trace_free(&t);
    mwt_run_free(&r);
    mwt_run_free(&n);
}

Test(shim_config, diagnostics_never_into_a_reused_stderr)
{
    /* the program closes stderr and opens a file as descriptor 2; the trace write then fails
     * (RLIMIT_FSIZE): the shim's line must not land in the program's file */
    char shim[1200], out[1200], file[1200];
    snprintf(shim, sizeof shim, "MW_TEST_SHIM=%s", mwt_shim());
    snprintf(out, sizeof out, "MEMWATCH_OUT=%s/%%e.%%p.trace.zst", dir);
    snprintf(file, sizeof file, "%s/program.out", dir);
    const char *env[] = { shim, out, NULL };
    const char *argv[] = { "/bin/sh", "-c", "ulimit -f 2; LD_PRELOAD=$MW_TEST_SHIM exec \"$@\"", "sh",
                           mwt_victim("shim_stderr_reused"), file, NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env }, &r), 0);
    cr_expect_eq(r.exit_code, 0, "status %d signal %d: %s", r.exit_code, r.term_signal, r.err);
    cr_expect_str_eq(r.out, "done 0\n");
    FILE *f = fopen(file, "r");
    cr_assert(f != NULL);
    char got[4096] = { 0 };
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    cr_expect_str_eq(got, "program data\n", "%zu bytes: %s", n, got);
    mwt_trace t;
    if (mwt_trace_load_one(dir, &t) == 0) cr_expect(!t.has_end, "the write must have failed");
    mwt_trace_free(&t);
    mwt_run_free(&r);
}

Test(shim_config, follow0_forked_child_untraced)
{
    const char *env[] = { "MEMWATCH_FOLLOW=0", NULL };
    const char *argv[] = { mwt_victim("shim_proc"), "fork", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "child\nfork ok\n");
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect_eq(mwt_live_of_size(&t, 30001), 1, "the parent is traced");
    cr_expect_eq(t.nforks, 1);
    cr_expect(t.has_end);
    mwt_trace_free(&t);
    mwt_run_free(&r);
}
