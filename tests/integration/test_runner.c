/*
 * test_runner.c — `memwatch run` end to end: gating multi-process suites, naming the leaky
 * program and the leaky Criterion test, exit-status and signal passthrough, LD_PRELOAD
 * preservation, --ignore, --no-keep, --html and usage errors. Each test runs the real runner
 * binary on real victims (which run under the real shim) and inspects its exit status and
 * its report on stderr.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_build[1024], g_tmp[1024];

static void setup(void)
{
    const char *b = getenv("MEMWATCH_BUILD");
    if (!realpath(b ? b : "build", g_build)) cr_assert_fail("build dir not found");
    snprintf(g_tmp, sizeof g_tmp, "/tmp/mw-runner-XXXXXX");
    cr_assert_not_null(mkdtemp(g_tmp));
}

static void teardown(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    (void)!system(cmd);
}

typedef struct {
    int status;      /* raw wait status */
    char out[65536]; /* stdout */
    char err[65536]; /* stderr */
} run_result;

static void slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Starts argv (NULL-terminated) in g_tmp with its stdout and stderr into the files g_tmp/out
 * and g_tmp/err; extra_env "K=V" or NULL. Returns its pid. */
static pid_t start(const char *extra_env, char *const argv[], const char *out, const char *err)
{
    char outp[1100], errp[1100];
    snprintf(outp, sizeof outp, "%s/%s", g_tmp, out);
    snprintf(errp, sizeof errp, "%s/%s", g_tmp, err);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, 1);
        dup2(e, 2);
        if (chdir(g_tmp) != 0) _exit(125);
        unsetenv("LD_PRELOAD");
        unsetenv("BXFI_MAP"); /* we run inside a Criterion worker: victims must not think so */
        if (extra_env) putenv((char *)extra_env);
        execv(argv[0], argv);
        _exit(126);
    }
    return pid;
}

/* Runs argv (NULL-terminated) with stdout/stderr captured; extra_env "K=V" or NULL. */
static run_result *run(const char *extra_env, char *const argv[])
{
    static run_result r;
    char outp[1100], errp[1100];
    snprintf(outp, sizeof outp, "%s/stdout", g_tmp);
    snprintf(errp, sizeof errp, "%s/stderr", g_tmp);
    waitpid(start(extra_env, argv, "stdout", "stderr"), &r.status, 0);
    slurp(outp, r.out, sizeof r.out);
    slurp(errp, r.err, sizeof r.err);
    return &r;
}

static char *path_of(const char *rel)
{
    static char bufs[8][1200];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, 1200, "%s/%s", g_build, rel);
    return b;
}

static int exit_code(const run_result *r)
{
    cr_assert(WIFEXITED(r->status), "runner did not exit normally (status 0x%x); stderr:\n%s",
              r->status, r->err);
    return WEXITSTATUS(r->status);
}

TestSuite(runner, .init = setup, .fini = teardown, .timeout = 120);

Test(runner, clean_multi_process_suite_passes_the_gate)
{
    char script[4096];
    snprintf(script, sizeof script, "%s clean && %s clean && %s clean",
             path_of("tests/victims/runner_child"), path_of("tests/victims/runner_child"),
             path_of("tests/victims/runner_child"));
    char *argv[] = { path_of("memwatch"), "run", "--out", "run1", "--fail-on", "leaked>0", "--",
                     "/bin/sh", "-c", script, NULL };
    run_result *r = run(NULL, argv);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    cr_assert(strstr(r->out, "clean\nclean\nclean\n"), "CMD's stdout must pass through: %s", r->out);
    cr_assert(strstr(r->err, "runner_child"), "processes are listed: %s", r->err);
}

Test(runner, leaky_program_fails_the_gate_and_is_named)
{
    char script[4096];
    snprintf(script, sizeof script, "%s clean && %s leak 5000 && %s clean",
             path_of("tests/victims/runner_child"), path_of("tests/victims/runner_child"),
             path_of("tests/victims/runner_child"));
    char *argv[] = { path_of("memwatch"), "run", "--out", "run2", "--fail-on", "leaked>0", "--",
                     "/bin/sh", "-c", script, NULL };
    run_result *r = run(NULL, argv);
    cr_assert_eq(exit_code(r), 1, "stderr:\n%s", r->err);
    cr_assert(strstr(r->err, "runner_child"), "the leaky program is named: %s", r->err);
    cr_assert(strstr(r->err, "5000") || strstr(r->err, "4.9 KiB") || strstr(r->err, "5.0 KB"),
              "its leak is shown: %s", r->err);
    /* without a gate the same suite passes with the command's own status */
    char *argv2[] = { path_of("memwatch"), "run", "--out", "run2b", "--", "/bin/sh", "-c", script, NULL };
    r = run(NULL, argv2);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
}

/* A server that starts as root and forks its workers as another user: their traces are in
 * the directory the shim made for that user in the run directory (0700, root's), and the
 * run's report and gate see them; --no-keep removes that directory with them. Before
 * 2026-11-23 the worker ran untraced ("cannot create trace file ... Permission denied") and
 * its leak passed the gate. */
Test(runner, workers_that_dropped_root_are_gated)
{
    if (geteuid() != 0) cr_skip_test("becoming another user needs root");
    char *argv[] = { path_of("memwatch"), "run", "--out", "run18", "--fail-on", "definite>0", "--",
                     path_of("tests/victims/drop_root"), "setuid", NULL };
    run_result *r = run(NULL, argv);
    cr_expect_eq(exit_code(r), 1, "the worker's 300 bytes fail the gate: %s", r->err);
    cr_expect(strstr(r->out, "worker\ndone\n"), "%s", r->out);
    cr_expect(strstr(r->err, "memwatch: 2 processes"), "the server and its worker: %s", r->err);
    cr_expect_null(strstr(r->err, "cannot create trace file"), "%s", r->err);
    char *argv2[] = { path_of("memwatch"), "run", "--out", "run19", "--no-keep", "--",
                      path_of("tests/victims/drop_root"), "setuid", NULL };
    r = run(NULL, argv2);
    cr_expect_eq(exit_code(r), 0, "%s", r->err);
    char p[1200];
    struct stat st;
    snprintf(p, sizeof p, "%s/run19", g_tmp);
    cr_expect_neq(lstat(p, &st), 0, "--no-keep left %s (the user's directory in it?)", p);
}

/* A process that exec'd another program is listed with what was live at the exec, which the
 * new program replaced: not a leak, not gated, and no stacks in the run's report; the
 * analyzer's own report of that trace titles its stacks accordingly. */
Test(runner, exec_is_not_a_leak)
{
    char *argv[] = { path_of("memwatch"), "run", "--out", "run_exec", "--fail-on", "leaked>0", "--",
                     path_of("tests/victims/runner_child"), "exec", "777",
                     path_of("tests/victims/runner_child"), "clean", NULL };
    run_result *r = run(NULL, argv);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    cr_assert(strstr(r->out, "clean\n"), "%s", r->out);
    cr_assert(strstr(r->err, "exec'd ") && strstr(r->err, "runner_child with 777 bytes live in 1 block"),
              "%s", r->err);
    cr_assert(strstr(r->err, "(the new program replaced them: not leaks)"), "%s", r->err);
    cr_assert_null(strstr(r->err, "Leaks at exit"), "%s", r->err);
    cr_assert_null(strstr(r->err, "Live when it exec'd"), "no stacks in a run's report: %s", r->err);
    cr_assert(strstr(r->err, "  skip runner_child (pid ") && strstr(r->err, "leaked 0 B; exec'd "), "%s", r->err);
    char cmd[3000];
    snprintf(cmd, sizeof cmd,
             "for t in '%s'/run_exec/memwatch.runner_child.*.trace.zst*; do '%s' --db :memory: \"$t\"; done",
             g_tmp, path_of("memwatch-analyze"));
    char *argv2[] = { "/bin/sh", "-c", cmd, NULL };
    r = run(NULL, argv2);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    cr_assert(strstr(r->out, "Live when it exec'd (replaced by the new program, by allocation stack)\n"
                             "  777 bytes in 1 block, unknown"), "%s", r->out);
    cr_assert_null(strstr(r->out, "Leaks at exit"), "%s", r->out);
}

/* Blocks no scan judged (MEMWATCH_REACH=0 here, a killed process likewise) are neither
 * "leaked" nor "no leaks": the run's summary counts them apart, and each process's line says
 * how much it left unscanned. */
Test(runner, unscanned_blocks_are_counted_apart)
{
    char script[4096];
    snprintf(script, sizeof script, "%s leak 5000; %s clean", path_of("tests/victims/runner_child"),
             path_of("tests/victims/runner_child"));
    char *argv[] = { path_of("memwatch"), "run", "--out", "run_noscan", "--", "/bin/sh", "-c", script, NULL };
    run_result *r = run("MEMWATCH_REACH=0", argv);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    cr_assert(strstr(r->err, " processes: 0 B leaked, ") && strstr(r->err, " unfreed and not scanned in "),
              "%s", r->err);
    const char *line = strstr(r->err, "  ok runner_child (pid ");
    cr_assert_not_null(line, "%s", r->err);
    bool seen = false;
    for (; line; line = strstr(line + 1, "  ok runner_child (pid ")) {
        const char *e = strchr(line, '\n');
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", e ? (int)(e - line) : 200, line);
        seen |= strstr(buf, "leaked 0 B; ") && strstr(buf, " unfreed, not scanned");
    }
    cr_assert(seen, "%s", r->err);
}

Test(runner, exit_status_passes_through)
{
    char *argv[] = { path_of("memwatch"), "run", "--out", "run3", "--", path_of("tests/victims/runner_child"),
                     "exit", "3", NULL };
    run_result *r = run(NULL, argv);
    cr_assert_eq(exit_code(r), 3, "stderr:\n%s", r->err);
}

Test(runner, killed_command_is_reported_and_its_signal_passed_on)
{
    char *argv[] = { path_of("memwatch"), "run", "--out", "run4", "--", path_of("tests/victims/runner_child"),
                     "kill", NULL };
    run_result *r = run(NULL, argv);
    cr_assert(WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGTERM,
              "runner must die of SIGTERM like its command (status 0x%x), stderr:\n%s", r->status, r->err);
    cr_assert(strstr(r->err, "killed by signal 15"), "stderr:\n%s", r->err);
}

Test(runner, existing_ld_preload_entry_is_kept)
{
    char *argv[] = { path_of("memwatch"), "run", "--out", "run5", "--", path_of("tests/victims/runner_child"),
                     "preload", NULL };
    run_result *r = run("LD_PRELOAD=libm.so.6", argv);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    /* CMD sees what it was given: the runner's entry, put first, is taken out again by CMD's
     * shim (until 02:04 UTC on 2026-11-24 CMD saw "LD_PRELOAD=<shim>:libm.so.6") */
    cr_assert_str_eq(r->out, "LD_PRELOAD=libm.so.6\n");
    cr_expect(strstr(r->err, "runner_child (pid "), "CMD is traced: %s", r->err);
}

Test(runner, criterion_suite_names_the_leaking_test)
{
    char *argv[] = { path_of("memwatch"), "run", "--out", "run6", "--fail-on", "leaked>0", "--",
                     path_of("tests/victims/runner_crit_suite"), NULL };
    run_result *r = run(NULL, argv);
    cr_assert_eq(exit_code(r), 1, "stderr:\n%s", r->err);
    cr_assert(strstr(r->err, "leaky_test"), "the leaking test is named: %s", r->err);
    cr_assert(strstr(r->err, "4321") || strstr(r->err, "4.2 KiB"), "its leak is shown: %s", r->err);
}

Test(runner, ignored_program_is_listed_but_not_gated)
{
    char *argv[] = { path_of("memwatch"), "run", "--out", "run7", "--ignore", "*/runner_child",
                     "--fail-on", "leaked>0", "--", path_of("tests/victims/runner_child"), "leak", "5000", NULL };
    run_result *r = run(NULL, argv);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    cr_assert(strstr(r->err, "runner_child"), "still listed: %s", r->err);
    char *argv2[] = { path_of("memwatch"), "run", "--out", "run7b", "--ignore", "*/other",
                      "--fail-on", "leaked>0", "--", path_of("tests/victims/runner_child"), "leak", "5000", NULL };
    r = run(NULL, argv2);
    cr_assert_eq(exit_code(r), 1, "a pattern that does not match gates as usual; stderr:\n%s", r->err);
}

/* Starts `memwatch run --out OUT -- runner_child sleep MS` with its stdout in FILE (under
 * g_tmp), in a process group of its own when own_group (a shell's job: stop signals are
 * discarded in an orphaned group); waits for CMD's "ready PID" line. Returns the runner's pid,
 * CMD's in *cmd. */
static pid_t start_sleeping_runner(const char *out, const char *file, const char *ms, bool own_group, pid_t *cmd)
{
    char outp[1100];
    snprintf(outp, sizeof outp, "%s/%s", g_tmp, file);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (own_group) setpgid(0, 0);
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, 1);
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 2);
        if (chdir(g_tmp) != 0) _exit(125);
        unsetenv("LD_PRELOAD");
        execl(path_of("memwatch"), "memwatch", "run", "--out", out, "--", path_of("tests/victims/runner_child"),
              "sleep", ms, (char *)NULL);
        _exit(126);
    }
    if (own_group) setpgid(pid, pid);
    char buf[64] = "";
    for (int i = 0; i < 300 && !strstr(buf, "ready "); i++) {
        usleep(50 * 1000);
        slurp(outp, buf, sizeof buf);
    }
    char *ready = strstr(buf, "ready ");
    cr_assert(ready, "the command started");
    *cmd = (pid_t)atoi(ready + 6);
    cr_assert_gt(*cmd, 1);
    return pid;
}

Test(runner, signal_to_the_runner_reaches_the_command)
{
    pid_t cmd;
    pid_t pid = start_sleeping_runner("run8", "sig.out", "60000", false, &cmd);
    kill(pid, SIGTERM);
    int st;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    waitpid(pid, &st, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status 0x%x", st);
    cr_assert_lt(t1.tv_sec - t0.tv_sec, 50, "the command must have been stopped by the signal");
}

/* Ctrl-Z at a terminal: CMD stops, and the runner must stop too, by the same signal, or the
 * shell waits for a job that neither stops nor ends and the terminal hangs (the runner caught
 * SIGTSTP and stayed in waitpid until 02:50 UTC on 2026-11-24). A SIGCONT to the group (the
 * shell's `fg`) continues both, and the run ends as usual. The runner gets a process group of
 * its own, as a shell's job has: stop signals are discarded in an orphaned one. */
Test(runner, a_stopped_command_stops_the_runner_too, .timeout = 120)
{
    pid_t cmd;
    pid_t pid = start_sleeping_runner("run8t", "tstp.out", "3000", true, &cmd);
    kill(cmd, SIGTSTP);
    int st = 0;
    pid_t w = 0;
    for (int i = 0; i < 200 && w == 0; i++) {
        w = waitpid(pid, &st, WUNTRACED | WNOHANG);
        if (w == 0) usleep(50 * 1000);
    }
    bool stopped = w == pid && WIFSTOPPED(st);
    killpg(pid, SIGCONT);
    if (!stopped) killpg(pid, SIGKILL);
    cr_assert(stopped && WSTOPSIG(st) == SIGTSTP, "the runner did not stop with its command (0x%x)", st);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "continued, the run ends as usual (0x%x)", st);
}

/* A background read's SIGTTIN goes to the whole process group: CMD stops, and so does the
 * runner, which may have had CMD's stop from waitpid just before. When `fg` has continued
 * both, that stop is over; the runner must not stop again alone (it did, about every other
 * time, and took the terminal back from CMD). The group gets SIGTTIN here as from the
 * terminal, ten times: both stop, are continued, and the runner must stay running. */
Test(runner, a_stop_that_is_over_does_not_stop_the_runner, .timeout = 120)
{
    pid_t cmd;
    pid_t pid = start_sleeping_runner("run8u", "tstp2.out", "60000", true, &cmd);
    (void)cmd;
    int st = 0, again = 0;
    for (int round = 0; round < 10; round++) {
        killpg(pid, SIGTTIN);
        cr_assert_eq(waitpid(pid, &st, WUNTRACED), pid);
        cr_assert(WIFSTOPPED(st), "the runner stops with the group (0x%x)", st);
        usleep(50 * 1000);
        killpg(pid, SIGCONT);
        for (int i = 0; i < 10; i++) {
            usleep(30 * 1000);
            if (waitpid(pid, &st, WUNTRACED | WNOHANG) == pid && WIFSTOPPED(st)) {
                again++;
                killpg(pid, SIGCONT);
            }
        }
    }
    kill(pid, SIGTERM);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert_eq(again, 0, "the runner stopped again %d times after the group was continued", again);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "ended as its command (0x%x)", st);
}

/* The runner's standard error is a pipe whose reader has gone (`memwatch run ... 2>&1 | head
 * -1`): the report is dropped, and the status is still CMD's, or the gate's. The runner died
 * of SIGPIPE (status 141, a failed pipeline under `set -o pipefail`) until 02:58 UTC on
 * 2026-11-24. */
static int run_with_closed_stderr(char *const argv[])
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    close(p[0]);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 1);
        dup2(p[1], 2);
        if (chdir(g_tmp) != 0) _exit(125);
        unsetenv("LD_PRELOAD");
        execv(argv[0], argv);
        _exit(126);
    }
    close(p[1]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

Test(runner, a_closed_standard_error_keeps_the_status)
{
    char *leak[] = { path_of("memwatch"), "run", "--out", "run8p", "--",
                     path_of("tests/victims/runner_child"), "leak", "100", NULL };
    int st = run_with_closed_stderr(leak);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "CMD's status 0 (0x%x)", st);
    char *gate[] = { path_of("memwatch"), "run", "--out", "run8q", "--fail-on", "leaked>0", "--",
                     path_of("tests/victims/runner_child"), "leak", "100", NULL };
    st = run_with_closed_stderr(gate);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "the gate fails as usual (0x%x)", st);
    char *quiet[] = { path_of("memwatch"), "run", "--out", "run8r", "-q", "--fail-on", "leaked>0", "--",
                      path_of("tests/victims/runner_child"), "leak", "100", NULL };
    st = run_with_closed_stderr(quiet);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "held back, then dropped (0x%x)", st);
}

/* --out DIR of the user's: a run.db there that is no memwatch store is refused before CMD
 * runs (the analysis failed at the end, and --no-keep then deleted the file); --no-keep
 * deletes only what the run made: a store that was there, and the directory itself when it
 * was there, stay. Until 03:08 UTC on 2026-11-24 both went. */
Test(runner, no_keep_deletes_only_what_the_run_made)
{
    char d[1200], db[1300], txt[64] = "";
    snprintf(d, sizeof d, "%s/mine", g_tmp);
    snprintf(db, sizeof db, "%s/run.db", d);
    cr_assert_eq(mkdir(d, 0700), 0);
    FILE *f = fopen(db, "w");
    cr_assert_not_null(f);
    fputs("important\n", f);
    fclose(f);
    char *foreign[] = { path_of("memwatch"), "run", "--out", "mine", "--no-keep", "--",
                        path_of("tests/victims/runner_child"), "leak", "100", NULL };
    run_result *r = run(NULL, foreign);
    cr_assert_eq(exit_code(r), 2, "stderr:\n%s", r->err);
    cr_assert(strstr(r->err, "run.db: file is not a database"), "%s", r->err);
    cr_assert_null(strstr(r->out, "leaked"), "CMD must not have run: %s", r->out);
    slurp(db, txt, sizeof txt);
    cr_assert_str_eq(txt, "important\n");
    cr_assert_eq(unlink(db), 0);
    /* an empty directory of the user's stays */
    char *empty[] = { path_of("memwatch"), "run", "--out", "mine", "--no-keep", "--",
                      path_of("tests/victims/runner_child"), "leak", "100", NULL };
    r = run(NULL, empty);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    struct stat st;
    cr_assert_eq(stat(d, &st), 0, "the user's directory was removed");
    /* a store kept by an earlier run (its traces since deleted) stays */
    char *keep[] = { path_of("memwatch"), "run", "--out", "mine", "--", path_of("tests/victims/runner_child"),
                     "leak", "100", NULL };
    r = run(NULL, keep);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -f '%s'/*.trace.zst", d);
    cr_assert_eq(system(cmd), 0);
    r = run(NULL, empty);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    cr_assert_eq(stat(db, &st), 0, "the store an earlier run kept was deleted");
    /* a directory the runner made goes */
    char *made[] = { path_of("memwatch"), "run", "--out", "made", "--no-keep", "--",
                     path_of("tests/victims/runner_child"), "leak", "100", NULL };
    r = run(NULL, made);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    snprintf(d, sizeof d, "%s/made", g_tmp);
    cr_assert_neq(stat(d, &st), 0, "the run's own directory stayed");
}

/* More traces than a command line holds: a test suite that starts tens of thousands of
 * programs. The runner passes them to the analyzer through a pipe (--trace-list -); on the
 * command line execv failed with E2BIG and the analysis with it (until 03:27 UTC on
 * 2026-11-24). Here the limit is made small (a small stack limit: 128 KiB of arguments) and
 * the paths long, so 700 traces are enough. */
Test(runner, more_traces_than_a_command_line_holds, .timeout = 300)
{
    char name[300];
    memset(name, 'd', 200);
    name[200] = '\0';
    char outp[1100], errp[1100];
    snprintf(outp, sizeof outp, "%s/many.out", g_tmp);
    snprintf(errp, sizeof errp, "%s/many.err", g_tmp);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct rlimit small = { 200 * 1024, 200 * 1024 };
        setrlimit(RLIMIT_STACK, &small);
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, 1);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(e, 2);
        if (chdir(g_tmp) != 0) _exit(125);
        unsetenv("LD_PRELOAD");
        execl(path_of("memwatch"), "memwatch", "run", "--out", name, "--fail-on", "leaked>0", "--", "/bin/sh",
              "-c", "i=0; while [ $i -lt 700 ]; do /bin/true; i=$((i+1)); done", (char *)NULL);
        _exit(126);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    static char err[4 << 20];
    slurp(errp, err, sizeof err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x, stderr:\n%.2000s", st, err);
    cr_assert_null(strstr(err, "analysis failed"), "%.2000s", err);
    cr_assert_null(strstr(err, "Argument list too long"), "%.2000s", err);
    size_t verdicts = 0;
    for (const char *p = err; (p = strstr(p, "memwatch: true (pid ")); p++) verdicts++;
    cr_assert_eq(verdicts, 700, "every program's verdict (%zu)", verdicts);
}

Test(runner, no_keep_removes_traces_and_html_is_written)
{
    char *argv[] = { path_of("memwatch"), "run", "--out", "run9", "--no-keep", "--html", "report.html",
                     "--", path_of("tests/victims/runner_child"), "leak", "100", NULL };
    run_result *r = run(NULL, argv);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    char p[1200];
    struct stat st;
    snprintf(p, sizeof p, "%s/run9", g_tmp);
    cr_assert_neq(stat(p, &st), 0, "the run directory is gone");
    snprintf(p, sizeof p, "%s/report.html", g_tmp);
    cr_assert_eq(stat(p, &st), 0, "the HTML report exists");
    cr_assert_gt(st.st_size, 200);
}

/* --out naming a directory an earlier run used: the traces already there are not this run's
 * (its report and gate leave out the earlier run's leak), and --no-keep deletes only this
 * run's traces. Before, the earlier leak failed the second run's gate and --no-keep deleted
 * every trace in the directory. */
Test(runner, a_reused_out_directory_holds_earlier_runs_apart)
{
    char *a1[] = { path_of("memwatch"), "run", "--out", "runR", "--", path_of("tests/victims/runner_child"),
                   "leak", "5000", NULL };
    run_result *r = run(NULL, a1);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    char *a2[] = { path_of("memwatch"), "run", "--out", "runR", "--fail-on", "leaked>0", "--",
                   path_of("tests/victims/runner_child"), "clean", NULL };
    r = run(NULL, a2);
    cr_assert_eq(exit_code(r), 0, "the earlier run's leak was gated again:\n%s", r->err);
    cr_assert_eq(strstr(r->err, "5000"), NULL, "the earlier run is in this report:\n%s", r->err);
    char *a3[] = { path_of("memwatch"), "run", "--out", "runR", "--no-keep", "--",
                   path_of("tests/victims/runner_child"), "clean", NULL };
    r = run(NULL, a3);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "ls '%s/runR' | grep -c 'trace.zst$' > '%s/count'", g_tmp, g_tmp);
    cr_assert_eq(system(cmd), 0);
    char count[32], cp[1200];
    snprintf(cp, sizeof cp, "%s/count", g_tmp);
    slurp(cp, count, sizeof count);
    cr_expect_eq(atoi(count), 2, "the two kept runs' traces stay (%s)", count);
}

/* How many times needle occurs in s (overlapping ones too). */
static size_t occurrences(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *q = s; (q = strstr(q, needle)); q++) n++;
    return n;
}

/* "PATH=" with before, prog's directory and the test's own PATH, into out (for run()). */
static void path_to(const char *prog, const char *before, char *out, size_t cap)
{
    char vdir[1200];
    snprintf(vdir, sizeof vdir, "%s", prog);
    *strrchr(vdir, '/') = '\0';
    snprintf(out, cap, "PATH=%s%s:%s", before, vdir, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
}

/* A program LD_PRELOAD cannot reach (tests/victims/static_prog, statically linked) has no trace
 * of its own: the report names it and says why, where it started (a vfork and exec of the
 * shell's, or a pipeline's fork and exec), instead of leaving the user to look for a trace
 * that was never written. */
Test(runner, an_exec_without_a_trace_says_why)
{
    char cmd[3000];
    const char *sp = path_of("tests/victims/static_prog");
    snprintf(cmd, sizeof cmd, "%s; %s | cat; echo done", sp, sp);
    char *av[] = { path_of("memwatch"), "run", "--out", "run12", "--format", "text", "--", "/bin/sh", "-c", cmd, NULL };
    run_result *r = run(NULL, av);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    cr_expect(strstr(r->out, "static program ran\nstatic program ran\ndone\n"), "%s", r->out);
    char want[1400];
    snprintf(want, sizeof want, "  untraced %s (pid ", sp);
    size_t lines = occurrences(r->err, want);
    cr_expect_eq(lines, 2, "%s", r->err);
    cr_expect(strstr(r->err, "): it is statically linked: LD_PRELOAD never reaches it\n"), "%s", r->err);
    cr_expect(strstr(r->err, ", started by dash pid "), "the vfork'd one names its parent: %s", r->err);
    /* and in JSON: process.untraced[] {pid, path, reason} */
    char json[1400], check[4400];
    snprintf(json, sizeof json, "%s/run12.json", g_tmp);
    char *av3[] = { path_of("memwatch"), "run", "--out", "run14", "--format", "json", "-o", json, "--",
                    "/bin/sh", "-c", cmd, NULL };
    r = run(NULL, av3);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    snprintf(check, sizeof check,
             "python3 -c 'import json,sys\nd=json.load(open(sys.argv[1]))\n"
             "u=[x for p in d[\"processes\"] for x in p[\"process\"][\"untraced\"]]\n"
             "assert len(u)==2 and all(x[\"path\"]==sys.argv[2] and x[\"pid\"]>0 and "
             "\"statically linked\" in x[\"reason\"] for x in u), u\n"
             "assert all(p[\"process\"][\"untraced_more\"]==0 for p in d[\"processes\"])' '%s' '%s'", json, sp);
    cr_expect_eq(system(check), 0, "JSON untraced[] check failed on %s", json);
    /* CMD itself static: no trace at all, and the runner says why */
    char *av4[] = { path_of("memwatch"), "run", "--out", "run15", "--", (char *)sp, NULL };
    r = run(NULL, av4);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    cr_expect(strstr(r->err, "memwatch: no traces were written in "), "%s", r->err);
    cr_expect(strstr(r->err, "static_prog: it is statically linked: LD_PRELOAD never reaches it\n"), "%s", r->err);
    /* found in PATH by posix_spawnp() and execlp(): the records name the file found (before
     * 2026-11-23 they held the bare name, which the report could not look at: no line) */
    char dirs[2400];
    path_to(sp, "/nonexistent:", dirs, sizeof dirs);
    char *av5[] = { path_of("memwatch"), "run", "--out", "run16", "--format", "text", "--",
                    path_of("tests/victims/spawn_by_name"), "static_prog", NULL };
    r = run(dirs, av5);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    cr_expect_str_eq(r->out, "static program ran\nstatic program ran\nstatic program ran\n");
    snprintf(want, sizeof want, "not traced: %s (pid ", sp); /* one process: its own report */
    lines = occurrences(r->err, want);
    cr_expect_eq(lines, 3, "the spawned one, the vfork child's and the exec'd one: %s", r->err);
    /* an empty PATH entry is the working directory (the runner's CMD runs in g_tmp) */
    char link[1200];
    snprintf(link, sizeof link, "%s/static_prog", g_tmp);
    unlink(link);
    cr_assert_eq(symlink(sp, link), 0);
    char *av6[] = { path_of("memwatch"), "run", "--out", "run17", "--format", "text", "--",
                    path_of("tests/victims/spawn_by_name"), "static_prog", NULL };
    r = run("PATH=/nonexistent::/usr/bin:/bin", av6);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    snprintf(want, sizeof want, "not traced: %s (pid ", link);
    lines = occurrences(r->err, want);
    cr_expect_eq(lines, 3, "found in the working directory: %s", r->err);
    unlink(link);
    /* a program traced after its exec gets no such line */
    char *av2[] = { path_of("memwatch"), "run", "--out", "run13", "--", "/bin/sh", "-c", "/bin/true; echo x | cat", NULL };
    r = run(NULL, av2);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    cr_expect_not(strstr(r->err, "untraced") || strstr(r->err, "not traced"), "%s", r->err);
}

/* A 32-bit program (tests/victims/hello32): the 64-bit shim cannot be loaded into it, and its
 * dynamic loader printed "ERROR: ld.so: object ... cannot be preloaded (wrong ELF class:
 * ELFCLASS64): ignored." into its stderr, as CMD itself and as anything a traced process
 * started, until 01:59 UTC on 2026-11-24. Now it gets no LD_PRELOAD entry of ours: its output
 * and status are its own, and the report and the runner say why it has no trace. Started by a
 * shell (vfork and exec, a pipeline's fork and exec), found in PATH (posix_spawnp, a vfork
 * child's execvp, execlp: spawn_by_name), through a "#!" script it interprets, and as CMD. */
Test(runner, a_32_bit_program_runs_as_without_memwatch_and_says_why)
{
    const char *h32 = path_of("tests/victims/hello32");
    char cmd[3000], script[1200];
    snprintf(script, sizeof script, "%s/by32.sh", g_tmp);
    FILE *f = fopen(script, "w");
    cr_assert_not_null(f);
    fprintf(f, "#!%s\n", h32);
    fclose(f);
    cr_assert_eq(chmod(script, 0755), 0);
    snprintf(cmd, sizeof cmd, "%s 5; echo $?; %s | cat; %s; echo $?", h32, h32, script);
    char *av[] = { path_of("memwatch"), "run", "--out", "run32", "--format", "text", "--", "/bin/sh", "-c", cmd, NULL };
    run_result *r = run(NULL, av);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    /* the script's run gets its path as its argument: status atoi(path) = 0 */
    cr_expect_str_eq(r->out, "from i386\n5\nfrom i386\nfrom i386\n0\n");
    cr_expect_null(strstr(r->err, "ld.so"), "the loader's line is back: %s", r->err);
    size_t lines = occurrences(r->err, "stderr of hello32\n");
    cr_expect_eq(lines, 3, "%s", r->err);
    char want[1400];
    snprintf(want, sizeof want, "%s (pid ", h32);
    lines = occurrences(r->err, want);
    cr_expect_geq(lines, 2, "both runs of it are named: %s", r->err);
    cr_expect(strstr(r->err, "): it is a 32-bit x86 program: the 64-bit x86-64 shim cannot be loaded into it\n"),
              "%s", r->err);
    snprintf(want, sizeof want, "%s (pid ", script);
    cr_expect(strstr(r->err, want), "the script is named: %s", r->err);
    snprintf(want, sizeof want, "): it is a script run by %s, a 32-bit x86 program", h32);
    cr_expect(strstr(r->err, want), "%s", r->err);
    /* found in PATH */
    char dirs[2400];
    path_to(h32, "", dirs, sizeof dirs);
    char *av2[] = { path_of("memwatch"), "run", "--out", "run33", "--format", "text", "--",
                    path_of("tests/victims/spawn_by_name"), "hello32", NULL };
    r = run(dirs, av2);
    cr_expect_eq(exit_code(r), 3, "%s", r->err);
    cr_expect_str_eq(r->out, "from i386\nfrom i386\nfrom i386\n");
    cr_expect_null(strstr(r->err, "ld.so"), "%s", r->err);
    snprintf(want, sizeof want, "not traced: %s (pid ", h32);
    lines = occurrences(r->err, want);
    cr_expect_eq(lines, 3, "the spawned one, the vfork child's and the exec'd one: %s", r->err);
    /* CMD itself */
    char *av3[] = { path_of("memwatch"), "run", "--out", "run34", "--", (char *)h32, "4", NULL };
    r = run(NULL, av3);
    cr_expect_eq(exit_code(r), 4, "%s", r->err);
    cr_expect_str_eq(r->out, "from i386\n");
    cr_expect_null(strstr(r->err, "ld.so"), "%s", r->err);
    cr_expect(strstr(r->err, "memwatch: no traces were written in "), "%s", r->err);
    cr_expect(strstr(r->err, "hello32: it is a 32-bit x86 program: the 64-bit x86-64 shim cannot be loaded into it\n"),
              "%s", r->err);
}

/* memwatch in a directory whose path has a space and a colon (LD_PRELOAD's separators, which
 * it cannot quote): the shim's path was two entries the loader could not open, one error line
 * each in the program's stderr, and no trace (until 02:02 UTC on 2026-11-24). Now the shim is
 * passed on through a link in a directory made for the run, removed at its end. */
Test(runner, a_memwatch_path_with_a_space_and_a_colon_traces)
{
    char d[1200], cmd[4000];
    snprintf(d, sizeof d, "%s/my build: here", g_tmp);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s' '%s' '%s/'", d, path_of("memwatch"),
             path_of("memwatch-analyze"), path_of("libmemwatch_preload.so"), d);
    cr_assert_eq(system(cmd), 0);
    char runner[1300];
    snprintf(runner, sizeof runner, "%s/memwatch", d);
    char *av[] = { runner, "run", "--out", "runSP", "--format", "text", "--", "/bin/sh", "-c",
                   "echo a; /bin/true", NULL };
    run_result *r = run(NULL, av);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    cr_expect_str_eq(r->out, "a\n");
    cr_expect_null(strstr(r->err, "ld.so"), "%s", r->err);
    cr_expect_null(strstr(r->err, "no traces were written"), "%s", r->err);
    cr_expect(strstr(r->err, "memwatch: 2 processes"), "the shell and true traced: %s", r->err);
    cr_expect_null(strstr(r->err, "no such file"), "the shim's link is there for the analysis: %s", r->err);
    /* the link's directory is gone with the run: the traces name it among their modules */
    snprintf(cmd, sizeof cmd,
             "for f in '%s'/runSP/*.trace.zst; do '%s' --format json --db :memory: \"$f\"; done | "
             "grep -o '/[a-z/]*/memwatch-shim-[A-Za-z0-9]*' | sort -u > '%s/linkdirs'",
             g_tmp, path_of("memwatch-analyze"), g_tmp);
    cr_assert_eq(system(cmd), 0);
    char lp[1200], dirs[4096] = "";
    snprintf(lp, sizeof lp, "%s/linkdirs", g_tmp);
    slurp(lp, dirs, sizeof dirs);
    cr_expect(strstr(dirs, "/memwatch-shim-"), "the traces' shim is the link: %s", dirs);
    char *nl = strchr(dirs, '\n');
    if (nl) *nl = '\0';
    struct stat st;
    cr_expect(dirs[0] && stat(dirs, &st) != 0, "%s: removed", dirs);
}

/* CMD, and what it starts, see the environment they were given: the runner's LD_PRELOAD entry
 * and MEMWATCH_OUT are taken out again by CMD's shim (MEMWATCH_ADDED), as the shim does for the
 * programs it follows. Until 02:04 UTC on 2026-11-24 `memwatch run -- env` printed both; and a
 * program started with LD_PRELOAD set but empty lost the variable under the shim. With no
 * LD_PRELOAD, an empty one and one naming a library; a shell and the programs it runs. */
Test(runner, cmd_sees_the_environment_it_was_given)
{
    static const char *const preloads[] = { NULL, "LD_PRELOAD=", "LD_PRELOAD=libzstd.so.1" };
    for (int i = 0; i < 3; i++) {
        char *sh[] = { "/bin/sh", "-c", "env | sort; echo ---; sh -c 'env | sort'", NULL };
        run_result *r = run(preloads[i], sh);
        cr_assert_eq(exit_code(r), 0, "%s", r->err);
        static char native[65536];
        snprintf(native, sizeof native, "%s", r->out);
        cr_assert(strstr(native, "---\n"), "%s", native);
        char *av[] = { path_of("memwatch"), "run", "--out", "runENV", "--no-keep", "-q", "--", "/bin/sh", "-c",
                       "env | sort; echo ---; sh -c 'env | sort'", NULL };
        r = run(preloads[i], av);
        cr_assert_eq(exit_code(r), 0, "%s", r->err);
        cr_expect_str_eq(r->out, native, "LD_PRELOAD %s", preloads[i] ? preloads[i] : "unset");
    }
}

/* Through a static program: it sees the variables that carry the shim (no shim runs in it to
 * take them out: README "A program that LD_PRELOAD cannot reach"), and a dynamic program it
 * execs is traced and sees the environment CMD was given, as natively. */
Test(runner, a_static_program_passes_the_shim_on)
{
    const char *sp = path_of("tests/victims/static_prog");
    char *sh[] = { (char *)sp, "exec", "/bin/sh", "-c", "env | sort", NULL };
    run_result *r = run(NULL, sh);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    static char native[65536];
    const char *nat = r->out; /* past the lines of the variables the test itself was given */
    while (!strncmp(nat, "static sees ", 12) && strchr(nat, '\n')) nat = strchr(nat, '\n') + 1;
    snprintf(native, sizeof native, "%s", nat);
    cr_assert(!strstr(r->out, "static sees LD_PRELOAD\n") && !strstr(r->out, "static sees MEMWATCH_ADDED\n"), "%s", r->out);
    char *av[] = { path_of("memwatch"), "run", "--out", "runSTATIC", "--format", "json", "-o", "/dev/null", "--",
                   (char *)sp, "exec", "/bin/sh", "-c", "env | sort", NULL };
    r = run(NULL, av);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    cr_expect(strstr(r->out, "static sees LD_PRELOAD\n"), "%s", r->out);
    cr_expect(strstr(r->out, "static sees MEMWATCH_ADDED\n"), "%s", r->out);
    const char *env_part = r->out;
    while (!strncmp(env_part, "static sees ", 12) && strchr(env_part, '\n')) env_part = strchr(env_part, '\n') + 1;
    cr_expect_str_eq(env_part, native);
    char dir[1200], check[3000];
    snprintf(dir, sizeof dir, "%s/runSTATIC", g_tmp);
    snprintf(check, sizeof check, "ls '%s' | grep -q '^memwatch\\.dash\\..*\\.trace\\.zst$'", dir);
    cr_expect_eq(system(check), 0, "no trace of the shell in %s", dir);
}

Test(runner, usage_errors_are_one_line_and_exit_2)
{
    char *a1[] = { path_of("memwatch"), "run", "--bogus", "--", "/bin/true", NULL };
    run_result *r = run(NULL, a1);
    cr_assert_eq(exit_code(r), 2);
    cr_assert(strstr(r->err, "unknown option --bogus"), "%s", r->err);
    cr_assert_eq(strchr(r->err, '\n'), r->err + strlen(r->err) - 1, "one line: %s", r->err);
    char *a2[] = { path_of("memwatch"), "run", "--", NULL };
    r = run(NULL, a2);
    cr_assert_eq(exit_code(r), 2);
    char *a3[] = { path_of("memwatch"), "walk", NULL };
    r = run(NULL, a3);
    cr_assert_eq(exit_code(r), 2);
    char *a4[] = { path_of("memwatch"), "run", "--out", "run10", "--", "/no/such/program", NULL };
    r = run(NULL, a4);
    cr_assert_eq(exit_code(r), 127);
    cr_assert(strstr(r->err, "cannot run /no/such/program"), "%s", r->err);
    /* found but not runnable: 126, as a shell says it (a file without x, a directory) */
    char *a5[] = { path_of("memwatch"), "run", "--out", "run10", "--", path_of("memwatch.pc"), NULL };
    r = run(NULL, a5);
    cr_assert_eq(exit_code(r), 126, "%s", r->err);
    char *a6[] = { path_of("memwatch"), "run", "--out", "run10", "--", "/tmp", NULL };
    r = run(NULL, a6);
    cr_assert_eq(exit_code(r), 126, "%s", r->err);
    /* Values the analyzer reads after CMD are checked before CMD starts, and the report
     * files' directories: the command (which would create the marker file) must not run. */
    const char *bad[][2] = { { "--fail-on", "leaked>" }, { "--format", "xml" },
                             { "--suppressions", "/no/such/file" }, { "--alerts", "/no/such/file" },
                             { "-o", "/no/such/dir/report.txt" }, { "--html", "/no/such/dir/r.html" },
                             { "-o", "/" }, { "--grace", "-1" }, { "--grace", "1.2345" },
                             { "--grace", "3601" }, { "--grace", "two" },
                             /* a newline and an escape in what the line names: shown as '?' */
                             { "-o", "/no/such/dir\n\x1b[31m/report.txt" } };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *av[] = { path_of("memwatch"), "run", "--out", "run11", (char *)bad[i][0],
                       (char *)bad[i][1], "--", "/bin/sh", "-c", "touch ran", NULL };
        r = run(NULL, av);
        cr_expect_eq(exit_code(r), 2, "%s %s", bad[i][0], bad[i][1]);
        cr_expect_eq(strchr(r->err, '\n'), r->err + strlen(r->err) - 1, "one line: %s", r->err);
        cr_expect_null(strchr(r->err, '\x1b'), "a raw escape: %s", r->err);
        char marker[1100];
        snprintf(marker, sizeof marker, "%s/ran", g_tmp);
        cr_expect_neq(access(marker, F_OK), 0, "%s %s: the command ran", bad[i][0], bad[i][1]);
    }
    /* a report file that is the run's store (the analyzer refused it only after CMD) */
    char sdir[1100];
    snprintf(sdir, sizeof sdir, "%s/run11s", g_tmp);
    cr_assert_eq(mkdir(sdir, 0700), 0);
    char *store[] = { path_of("memwatch"), "run", "--out", "run11s", "--html", "run11s/run.db", "--",
                      "/bin/sh", "-c", "touch ran", NULL };
    r = run(NULL, store);
    cr_expect_eq(exit_code(r), 2, "%s", r->err);
    cr_expect(strstr(r->err, "is the run's store"), "%s", r->err);
    /* -o and --html naming one file (the HTML report was written over the other) */
    char *same[] = { path_of("memwatch"), "run", "--out", "run11", "-o", "r.html", "--html", "./r.html", "--",
                     "/bin/sh", "-c", "touch ran", NULL };
    r = run(NULL, same);
    cr_expect_eq(exit_code(r), 2, "%s", r->err);
    cr_expect(strstr(r->err, "are the same file"), "%s", r->err);
    cr_expect_eq(strchr(r->err, '\n'), r->err + strlen(r->err) - 1, "one line: %s", r->err);
}

/* A program CMD started that outlives it (Python's multiprocessing resource tracker ends once
 * its parent has): the runner waits for it (--grace) and its exit scan counts. Until
 * 2026-11-24 the report was made at once: its trace had no end record, its leak was never
 * scanned and the gate passed. */
Test(runner, a_program_that_outlives_the_command_is_waited_for)
{
    char *argv[] = { path_of("memwatch"), "run", "--out", "run_outlive", "--grace", "60", "--fail-on", "leaked>0",
                     "--", path_of("tests/victims/runner_child"), "outlive", "300", "7777", NULL };
    run_result *r = run(NULL, argv);
    cr_assert_eq(exit_code(r), 1, "the outliving child's leak fails the gate; stderr:\n%s", r->err);
    cr_assert(strstr(r->out, "ends, child"), "%s", r->out);
    cr_assert(strstr(r->err, "7777 bytes") || strstr(r->err, "7.6 KiB"), "its leak is shown: %s", r->err);
    cr_assert_null(strstr(r->err, "no end record"), "%s", r->err);
    cr_assert_null(strstr(r->err, "still running"), "%s", r->err);
}

/* One that runs on past the grace is named, and its trace reported as far as it goes, as
 * still running (not "killed"). */
Test(runner, a_program_still_running_after_the_grace_is_named)
{
    char *argv[] = { path_of("memwatch"), "run", "--out", "run_grace", "--grace", "0.2", "--fail-on", "leaked>0",
                     "--", path_of("tests/victims/runner_child"), "outlive", "4000", "7777", NULL };
    run_result *r = run(NULL, argv);
    cr_assert_eq(exit_code(r), 0, "stderr:\n%s", r->err);
    cr_assert(strstr(r->err, "1 program CMD started is still running 0.2 s after it ended (--grace)"), "%s",
              r->err);
    cr_assert(strstr(r->err, "(its trace has no end record: still running when read)"), "%s", r->err);
    /* the same trace read again by the analyzer: while its program runs, JSON still_running;
     * once it has been killed, "killed" */
    int child = 0;
    const char *c = strstr(r->out, "child ");
    cr_assert(c && sscanf(c, "child %d", &child) == 1, "%s", r->out);
    char trace[1300];
    snprintf(trace, sizeof trace, "run_grace/memwatch.runner_child.%d.trace.zst", child);
    char *js[] = { path_of("memwatch-analyze"), "--db", ":memory:", "--format", "json", trace, NULL };
    r = run(NULL, js);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    cr_assert(strstr(r->out, "\"still_running\": true"), "%s", r->out);
    cr_assert_eq(kill(child, SIGKILL), 0);
    char path[1200];
    snprintf(path, sizeof path, "/proc/%d", child);
    for (int i = 0; i < 1000 && access(path, F_OK) == 0; i++) usleep(10000); /* reaped by init */
    char *an[] = { path_of("memwatch-analyze"), "--db", ":memory:", trace, NULL };
    r = run(NULL, an);
    cr_assert_eq(exit_code(r), 0, "%s", r->err);
    cr_assert(strstr(r->out, "the program was killed"), "%s", r->out);
}

/* Ctrl-C (or a SIGTERM) while the runner waits for such a program ends the wait: the report
 * is made at once, naming it, not after the whole --grace. */
Test(runner, a_signal_ends_the_wait_for_programs_still_running, .timeout = 120)
{
    char outp[1100], errp[1100];
    snprintf(outp, sizeof outp, "%s/wait.out", g_tmp);
    snprintf(errp, sizeof errp, "%s/wait.err", g_tmp);
    char *argv[] = { path_of("memwatch"), "run", "--out", "run_wait", "--grace", "3600", "--",
                     path_of("tests/victims/runner_child"), "outlive", "100000", "7777", NULL };
    pid_t pid = start(NULL, argv, "wait.out", "wait.err");
    char buf[256] = "";
    int parent = 0, child = 0;
    for (int i = 0; i < 600 && sscanf(buf, "parent %d ends, child %d", &parent, &child) != 2; i++) {
        usleep(50 * 1000);
        slurp(outp, buf, sizeof buf);
    }
    cr_assert(parent > 0 && child > 0, "the command ran: %s", buf);
    /* once CMD has been reaped the runner waits for the child: signal it until it ends (not
     * before: a signal to the runner while CMD runs goes on to CMD, which would die of it) */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/%d", parent);
    for (int i = 0; i < 600 && access(proc, F_OK) == 0; i++) usleep(50 * 1000);
    cr_assert_neq(access(proc, F_OK), 0, "CMD was not reaped");
    int st = 0;
    pid_t w = 0;
    for (int i = 0; i < 600 && (w = waitpid(pid, &st, WNOHANG)) == 0; i++) {
        kill(pid, SIGINT);
        usleep(100 * 1000);
    }
    bool child_alive = kill(child, 0) == 0;
    kill(child, SIGKILL);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    cr_assert_eq(w, pid, "the runner went on waiting");
    cr_assert(child_alive, "the runner ended only when the program it waited for had");
    char err[65536];
    slurp(errp, err, sizeof err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x: %s", st, err);
    cr_assert(strstr(err, "1 program CMD started is still running when a signal ended the wait"), "%s", err);
    cr_assert(strstr(err, "still running when read"), "%s", err);
}

/* --help and --version before `run` and among its options (as the usage lists them): exit 0,
 * the version on stdout, no command run. */
Test(runner, help_and_version_anywhere_they_are_listed)
{
    char *v1[] = { path_of("memwatch"), "--version", NULL };
    char *v2[] = { path_of("memwatch"), "run", "-q", "--version", "--", "/bin/sh", "-c", "touch ran", NULL };
    char *h1[] = { path_of("memwatch"), "run", "--help", NULL };
    char *const *cases[] = { v1, v2, h1 };
    for (size_t i = 0; i < 3; i++) {
        run_result *r = run(NULL, (char **)cases[i]);
        cr_expect_eq(exit_code(r), 0, "case %zu: %s", i, r->err);
        if (i < 2) cr_expect(strncmp(r->out, "memwatch ", 9) == 0 && strchr(r->out, '\n') == r->out + strlen(r->out) - 1,
                             "case %zu: %s", i, r->out);
        else cr_expect(strstr(r->out, "--version") != NULL, "%s", r->out);
    }
    char marker[1100];
    snprintf(marker, sizeof marker, "%s/ran", g_tmp);
    cr_expect_neq(access(marker, F_OK), 0, "the command ran");
}

/* A bad alerts file is refused before CMD runs (usage_errors_are_one_line_and_exit_2); a good
 * one reaches the analyzer: a 1-byte heap threshold fires where the default does not. */
Test(runner, alerts_file_reaches_the_analyzer)
{
    char conf[1200];
    snprintf(conf, sizeof conf, "%s/alerts.conf", g_tmp);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fputs("cooldown_s = 10\nheap_bytes = 1\n", f);
    fclose(f);
    char *argv[] = { path_of("memwatch"), "run", "--out", "run11", "--alerts", conf, "--",
                     path_of("tests/victims/runner_child"), "clean", NULL };
    run_result *r = run(NULL, argv);
    cr_assert_eq(exit_code(r), 0, "no gate requested: CMD's status; stderr:\n%s", r->err);
    cr_assert(strstr(r->err, "Alerts: ") && !strstr(r->err, "Alerts: 0 fired"),
              "the analyzer used our 1-byte heap threshold: %s", r->err);
    char *argv2[] = { path_of("memwatch"), "run", "--out", "run12", "--",
                      path_of("tests/victims/runner_child"), "clean", NULL };
    r = run(NULL, argv2);
    cr_assert(strstr(r->err, "Alerts: 0 fired"), "default thresholds: %s", r->err);
}
