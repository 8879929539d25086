/*
 * test_shim_fatal.c — a process killed by a signal keeps what it recorded (preload/fatal.c):
 * a crash right after 1 000 allocations (a NULL write, abort(), SIGFPE, SIGTERM, SIGPIPE, an int3,
 * a ud2)
 * leaves all 1 000 in the trace and a FATAL_SIGNAL record with the signal, the faulting
 * address and the crashing function in its stack; the process dies exactly as natively (same
 * output, same signal); the program does not see the shim's handlers, and its own replace
 * them. The analyzer names the signal and where it arrived. A signal that comes while the
 * process exits (the shim's exit scan; python3's multiprocessing workers) keeps the trace.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mwtest.h"

static char *dir;
static void setup(void) { dir = mwt_tmpdir(); }
static void teardown(void)
{
    mwt_rmtree(dir);
    free(dir);
}
TestSuite(shim_fatal, .init = setup, .fini = teardown, .timeout = 120);

static void check_trace(const char *how, int sig, const mwt_run *r)
{
    uint64_t crash_fn = 0;
    const char *a = strstr(r->out, "crash_here 0x");
    cr_assert_not_null(a, "%s: %s", how, r->out);
    crash_fn = strtoull(a + 11, NULL, 16);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect_eq(mwt_allocs_of_size(&t, 321), 1000, "%s: every allocation made before the signal", how);
    cr_expect_eq(t.nrec[MW_REC_FATAL_SIGNAL], 1, "%s", how);
    cr_expect_eq(t.fatal_signo, (uint64_t)sig, "%s: %llu", how, (unsigned long long)t.fatal_signo);
    cr_expect_not(t.has_end, "%s: no END after a fatal signal", how);
    /* dead within the first RSS period (100 ms): the sample taken as it died */
    cr_expect_geq(t.nrec[MW_REC_RSS], 1, "%s: no RSS sample", how);
    /* the signal arrived in crash_here (its frame among the stack's innermost) */
    uint64_t ips[64];
    size_t n = mwt_stack_ips(&t, t.fatal_stack, ips, 64), in_fn = 0;
    for (size_t i = 0; i < n && i < 64; i++) in_fn += ips[i] >= crash_fn && ips[i] < crash_fn + 512;
    cr_expect_geq(in_fn, 1, "%s: crash_here not in the %zu-frame stack", how, n);
    if (sig == SIGSEGV) cr_expect_eq(t.fatal_addr, 0, "the NULL write's address");
    mwt_trace_free(&t);
}

Test(shim_fatal, crashes_keep_the_trace)
{
    static const struct { const char *how; int sig; } cases[] = {
        { "segv", SIGSEGV }, { "abort", SIGABRT }, { "fpe", SIGFPE }, { "term", SIGTERM }, { "pipe", SIGPIPE },
        { "alarm", SIGALRM }, { "usr1", SIGUSR1 }, { "trap", SIGTRAP }, { "ill", SIGILL },
        { "doublefree", SIGABRT }, /* glibc's free() aborts inside the shim's free() */
        { "reraise", SIGTERM },    /* the program's handler restores SIG_DFL and raises again */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mwt_run r;
        const char *argv[] = { mwt_victim("shim_fatal"), cases[i].how, NULL };
        mwt_run native;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &native), 0);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
        cr_assert(WIFSIGNALED(native.raw_status) && WTERMSIG(native.raw_status) == cases[i].sig,
                  "%s: native status 0x%x", cases[i].how, native.raw_status);
        cr_expect_eq(r.raw_status, native.raw_status, "%s: status 0x%x natively, 0x%x traced", cases[i].how,
                     native.raw_status, r.raw_status);
        /* the same output but for the function's address (ASLR) */
        cr_expect_eq(strncmp(r.out, "crash_here 0x", 13), 0, "%s", r.out);
        const char *rn = strchr(native.out, '\n'), *rt = strchr(r.out, '\n');
        cr_expect(rn && rt && !strcmp(rn, rt), "%s: native %s, traced %s", cases[i].how, native.out, r.out);
        cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 0, "%s", r.err);
        check_trace(cases[i].how, cases[i].sig, &r);
        mwt_run_free(&native);
        mwt_run_free(&r);
        mwt_rmtree(dir);
        mkdir(dir, 0700);
    }
}

/* A signal while the process exits (tests/victims/exit_signal.c: 1 000 000 live blocks, so
 * the shim's exit path and its reachability scan take a while): SIGTERM on the exiting
 * thread stops the scan, and the process dies of it with every allocation and the signal in
 * the trace; SIGKILL leaves every allocation made before exit in it (they are flushed before
 * the scan starts). Until 20:40 UTC on 2026-11-23 both traces held not one allocation, and a
 * python3 multiprocessing pool lost most of its workers' traces so. The helper's signal comes
 * 20 ms after the exit begins; a run whose exit was over by then (a very loaded machine) is
 * run again. */
static void exit_signal_run(const char *how, int sig)
{
    for (int attempt = 0;; attempt++) {
        mwt_rmtree(dir);
        cr_assert_eq(mkdir(dir, 0700), 0);
        const char *argv[] = { mwt_victim("exit_signal"), "1000000", "20", sig == SIGKILL ? "kill" : "term", NULL };
        mwt_run r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
        cr_assert(strstr(r.out, "allocated 1000000 blocks"), "%s: %s", how, r.err);
        if (r.term_signal == 0 && r.exit_code == 0 && attempt < 4) { /* exited before the signal */
            mwt_run_free(&r);
            continue;
        }
        cr_assert_eq(r.term_signal, sig, "%s: exit %d, signal %d\n%s", how, r.exit_code, r.term_signal, r.err);
        mwt_run_free(&r);
        break;
    }
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect_eq(mwt_allocs_of_size(&t, 32), 1000000, "%s: every allocation made before exit", how);
    cr_expect_eq(mwt_allocs_of_size(&t, 4242), 1, "%s: the last one too", how);
    if (sig == SIGTERM) {
        cr_expect_eq(t.nrec[MW_REC_FATAL_SIGNAL], 1, "%s", how);
        cr_expect_eq(t.fatal_signo, (uint64_t)SIGTERM, "%s", how);
        cr_expect_not(t.has_end, "%s: no END: the process did not end by its exit", how);
    }
    mwt_trace_free(&t);
}

Test(shim_fatal, a_signal_during_the_exit_keeps_the_trace, .timeout = 240)
{
    exit_signal_run("SIGTERM", SIGTERM);
    exit_signal_run("SIGKILL", SIGKILL);
}


/* The case that showed it: a python3 multiprocessing pool SIGTERMs its workers as they exit
 * (Pool.__exit__ calls terminate()). Every worker's trace is whole and says how it ended (the
 * SIGTERM, or its END when it was done first); at 20:10 UTC on 2026-11-23, 11 of 16 workers'
 * traces (8 runs) held not one allocation and not how they ended. */
Test(shim_fatal, python_pool_workers_killed_as_they_exit_keep_their_traces, .timeout = 120)
{
    const char *py = mwt_python();
    cr_assert(py, "python3 not found");
    const char *argv[] = { py, "-S", "-c",
                           "import multiprocessing as mp\n"
                           "def f(x): return sum(range(x))\n"
                           "if __name__ == '__main__':\n"
                           "    with mp.get_context('fork').Pool(2) as p: print(sum(p.map(f, range(200))))\n",
                           NULL };
    for (int run = 0; run < 3; run++) {
        mwt_rmtree(dir);
        cr_assert_eq(mkdir(dir, 0700), 0);
        mwt_run r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert_str_eq(r.out, "1313400\n");
        int pool_pid = r.pid;
        mwt_run_free(&r);
        size_t n;
        mwt_trace *ts = mwt_trace_load_all(dir, &n);
        cr_assert_eq(n, 3, "run %d: %zu traces (the pool and its 2 workers)", run, n);
        for (size_t i = 0; i < n; i++) {
            /* a worker the pool started just as it ended may have done nothing before the
             * SIGTERM: its trace then holds that alone, which is right */
            cr_expect(ts[i].has_end || ts[i].fatal_signo == SIGTERM,
                      "run %d: pid %llu's trace (%llu allocations) says neither how it ended nor that "
                      "SIGTERM came", run, (unsigned long long)ts[i].pid, (unsigned long long)ts[i].allocs);
            cr_expect(ts[i].status == MW_EOF || (ts[i].fatal_signo && ts[i].status == MW_TRUNCATED),
                      "run %d: pid %llu: %s", run, (unsigned long long)ts[i].pid, ts[i].err);
            if (ts[i].pid == (uint64_t)pool_pid)
                cr_expect(ts[i].has_end && ts[i].allocs > 0, "run %d: the pool's own trace", run);
        }
        mwt_traces_free(ts, n);
    }
}
Test(shim_fatal, the_program_sees_no_handler_and_its_own_wins)
{
    const char *argv[] = { mwt_victim("shim_fatal"), "own", NULL };
    mwt_run native, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &native), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_str_eq(native.out, "SIGSEGV default\nSIGINT default\nhandled\n");
    cr_expect_str_eq(r.out, native.out);
    cr_expect_eq(r.raw_status, native.raw_status);
    cr_expect_eq(r.exit_code, 3);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect_eq(t.nrec[MW_REC_FATAL_SIGNAL], 0, "the program handled its SIGTERM itself");
    mwt_trace_free(&t);
    mwt_run_free(&native);
    mwt_run_free(&r);
}

/* The ASan analyzer's report (fmt NULL: text) of the traces in dir, which must hold n. */
static void analyze(size_t n, const char *fmt, mwt_run *a)
{
    char **paths;
    cr_assert_eq(mwt_find_traces(dir, &paths), n);
    char analyzer[4200];
    snprintf(analyzer, sizeof analyzer, "%s/asan/memwatch-analyze", mwt_build_dir());
    const char *argv[8] = { analyzer, paths[0] };
    size_t k = 2;
    if (n > 1) argv[k++] = paths[1];
    argv[k++] = "--db";
    argv[k++] = ":memory:";
    if (fmt) {
        argv[k++] = "--format";
        argv[k++] = fmt;
    }
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, a), 0);
    mwt_free_list(paths, n);
    cr_assert_eq(a->exit_code, 0, "%s", a->err);
}

/* The analyzer's report of a crashed process: the signal, where it arrived, what it held. */
Test(shim_fatal, the_report_names_the_signal_and_where)
{
    const char *argv[] = { mwt_victim("shim_fatal"), "segv", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    mwt_run_free(&r);
    mwt_run a;
    analyze(1, NULL, &a);
    cr_expect(strstr(a.out, "it died of SIGSEGV (address 0x0) at +"), "%s", a.out);
    cr_expect(strstr(a.out, "the signal arrived here:\n      #0  crash_here  shim_fatal.c:"), "%s", a.out);
    cr_expect(strstr(a.out, "321000 bytes in 1000 blocks, unknown"), "%s", a.out);
    cr_expect(strstr(a.out, "Unfreed when it died"), "%s", a.out);
    mwt_run_free(&a);
    /* JSON: process.fatal_signal */
    analyze(1, "json", &a);
    const char *fs = strstr(a.out, "\"fatal_signal\": {");
    cr_assert_not_null(fs, "%s", a.out);
    const char *fe = strstr(fs, "\"forks\"");
    cr_assert_not_null(fe, "%s", fs);
    char obj[8192];
    snprintf(obj, sizeof obj, "%.*s", (int)(fe - fs), fs);
    cr_expect(strstr(obj, "\"signal\": 11,") && strstr(obj, "\"name\": \"SIGSEGV\""), "%s", obj);
    cr_expect(strstr(obj, "\"function\": \"crash_here\""), "%s", obj);
    cr_expect(strstr(obj, "\"heap_error_site\": null"), "a NULL write is not the allocator's: %s", obj);
    mwt_run_free(&a);
    /* with a second process (SIGTERM) the run's summary names each one's signal */
    const char *argv2[] = { mwt_victim("shim_fatal"), "term", NULL };
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv2, .preload = true, .trace_dir = dir }, &r), 0);
    mwt_run_free(&r);
    analyze(2, NULL, &a);
    cr_expect(strstr(a.out, " not scanned (died of SIGSEGV)\n") && strstr(a.out, " not scanned (died of SIGTERM)\n"),
              "%s", a.out);
    /* the report of several processes: where each died, not the stacks of what it held */
    cr_expect(strstr(a.out, "it died of SIGSEGV") && strstr(a.out, "it died of SIGTERM"), "%s", a.out);
    cr_expect_null(strstr(a.out, "Unfreed when it died"), "%s", a.out);
    mwt_run_free(&a);
}

/* A double free: glibc's free() aborts inside the shim's, and the report says the allocator
 * found its heap corrupt, and where the program called it (text and JSON). */
Test(shim_fatal, a_double_free_is_named_in_the_report)
{
    const char *argv[] = { mwt_victim("shim_fatal"), "doublefree", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect(WIFSIGNALED(r.raw_status) && WTERMSIG(r.raw_status) == SIGABRT, "status 0x%x", r.raw_status);
    mwt_run_free(&r);
    mwt_run a, j;
    analyze(1, NULL, &a);
    analyze(1, "json", &j);
    cr_expect(strstr(a.out, "it died of SIGABRT at +"), "%s", a.out);
    cr_expect(strstr(a.out, "glibc's allocator found its heap corrupt in crash_here shim_fatal.c:"), "%s", a.out);
    cr_expect(strstr(a.out, " via free\n  and stopped the process: a double free"), "%s", a.out);
    const char *site = strstr(j.out, "\"heap_error_site\": \"crash_here shim_fatal.c:");
    cr_expect(site && !strncmp(strchr(site + 40, ' '), " via free\"", 10), "%s", j.out);
    mwt_run_free(&a);
    mwt_run_free(&j);
}

/* A stack overflow (on the main thread, on a second thread, and with an alternate stack the
 * program set itself): the fatal handler runs on the alternate signal stack, the shim's or
 * the program's, so the trace keeps every allocation and says where it died; the program
 * sees no alternate stack but its own, and dies of SIGSEGV as natively. */
Test(shim_fatal, a_stack_overflow_keeps_the_trace)
{
    const char *modes[] = { "overflow", "overflow_thread", "overflow_ownalt" };
    for (size_t m = 0; m < 3; m++) {
        const char *argv[] = { mwt_victim("shim_fatal"), modes[m], NULL };
        mwt_run native, r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &native), 0);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
        cr_assert(WIFSIGNALED(native.raw_status) && WTERMSIG(native.raw_status) == SIGSEGV, "%s: native 0x%x",
                  modes[m], native.raw_status);
        cr_expect_eq(r.raw_status, native.raw_status, "%s: 0x%x natively, 0x%x traced", modes[m], native.raw_status,
                     r.raw_status);
        const char *ln = strchr(native.out, '\n'), *lt = strchr(r.out, '\n');
        cr_expect(ln && lt && !strcmp(ln, lt), "%s: native %s, traced %s", modes[m], native.out, r.out);
        cr_expect(strstr(r.out, "altstack none\n"), "%s", r.out);
        const char *a = strstr(r.out, "recurse 0x");
        cr_assert_not_null(a, "%s", r.out);
        uint64_t fn = strtoull(a + 8, NULL, 16);
        mwt_trace t;
        cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
        cr_expect_eq(mwt_allocs_of_size(&t, 321), 1000, "%s", modes[m]);
        cr_expect_eq(t.nrec[MW_REC_FATAL_SIGNAL], 1, "%s", modes[m]);
        cr_expect_eq(t.fatal_signo, (uint64_t)SIGSEGV, "%s", modes[m]);
        uint64_t ips[64];
        size_t n = mwt_stack_ips(&t, t.fatal_stack, ips, 64), in_fn = 0;
        for (size_t i = 0; i < n && i < 64; i++) in_fn += ips[i] >= fn && ips[i] < fn + 256;
        cr_expect_geq(in_fn, 10, "%s: recurse %zu times in the %zu-frame stack", modes[m], in_fn, n);
        mwt_trace_free(&t);
        mwt_run_free(&native);
        mwt_run_free(&r);
        mwt_rmtree(dir);
        mkdir(dir, 0700);
    }
}

/* Under the watch core's mprotect fallback (as nobody: no userfaultfd) its SIGSEGV handler
 * takes the shim's place; a fault that is not a watched write still records the signal and
 * flushes before the default action (the handler hands it to fatal.c). */
Test(shim_fatal, crash_under_the_watch_fallback)
{
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0 || !getpwnam("nobody"))
        cr_skip_test("needs root, setpriv and user nobody");
    chmod(dir, 0777);
    char pre[4200], out[4300];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s/libmemwatch_preload.so", mwt_build_dir());
    snprintf(out, sizeof out, "MEMWATCH_OUT=%s/t.%%p.trace.zst", dir);
    const char *argv[] = { "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           "/usr/bin/env", pre, out, "MEMWATCH_WATCH=zero", mwt_victim("shim_fatal"), "segv",
                           NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &r), 0);
    cr_assert(WIFSIGNALED(r.raw_status) && WTERMSIG(r.raw_status) == SIGSEGV, "status 0x%x: %s", r.raw_status,
              r.err);
    cr_expect(strstr(r.err, "userfaultfd unavailable"), "the fallback is in use: %s", r.err);
    check_trace("segv under the watch fallback", SIGSEGV, &r);
    mwt_run_free(&r);
}
