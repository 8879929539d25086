/*
 * test_shim_proc.c — following the process tree and every way a process ends: fork, exec
 * (also a failing one), vfork, posix_spawn, system, popen, exit from a thread, _exit, abort,
 * SIGKILL. Each victim process leaks a block whose size names it; the test finds the trace
 * holding that block and checks it, and checks that stdout and the exit status are the same
 * as without the shim.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mwtest.h"

typedef struct run {
    char *dir;
    mwt_run native, traced;
    mwt_trace *ts;
    size_t n;
} run;

static void run_mode_env(run *R, const char *mode, unsigned kill_ms, const char *const *env)
{
    memset(R, 0, sizeof *R);
    R->dir = mwt_tmpdir();
    cr_assert(R->dir);
    const char *argv[] = { mwt_victim("shim_proc"), mode, NULL };
    if (!kill_ms) cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &R->native), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = R->dir,
                                        .signal_after_ms = kill_ms, .signal_no = SIGKILL },
                           &R->traced),
                 0);
    R->ts = mwt_trace_load_all(R->dir, &R->n);
    if (!kill_ms) {
        cr_expect_str_eq(R->traced.out, R->native.out, "stdout differs (mode %s)", mode);
        cr_expect_eq(R->traced.raw_status, R->native.raw_status, "status differs (mode %s)", mode);
        cr_expect_eq(mwt_count_lines(R->traced.err, "memwatch:"), 0, "%s", R->traced.err);
    }
}

static void run_mode(run *R, const char *mode, unsigned kill_ms) { run_mode_env(R, mode, kill_ms, NULL); }

static void run_free(run *R)
{
    mwt_traces_free(R->ts, R->n);
    mwt_run_free(&R->native);
    mwt_run_free(&R->traced);
    mwt_rmtree(R->dir);
    free(R->dir);
}

static const mwt_trace *with(run *R, uint64_t size)
{
    const mwt_trace *t = mwt_trace_with_live(R->ts, R->n, size);
    cr_assert(t, "no trace holds the %llu-byte leak (%zu traces)", (unsigned long long)size, R->n);
    return t;
}

Test(shim_proc, fork_child_gets_its_own_trace)
{
    run R;
    run_mode(&R, "fork", 0);
    const mwt_trace *c = with(&R, 30002), *p = NULL;
    for (size_t i = 0; i < R.n; i++)
        if (R.ts[i].pid == c->ppid) p = &R.ts[i];
    cr_assert(p, "no trace of the child's parent");
    cr_assert_neq(p, c);
    cr_expect_eq(mwt_live_of_size(p, 30001), 1);
    cr_expect_eq(p->nforks, 1);
    cr_expect_eq(p->forks[0], c->pid);
    cr_expect(p->has_end && c->has_end);
    cr_expect_eq(p->exit_status, 0);
    cr_expect_eq(c->exit_status, 0);
    /* the parent's trace has nothing of the child; the child's has the parent's 30001 only as
     * a block it inherited, not an allocation of its own (test_shim_inherit.c) */
    cr_expect_eq(mwt_live_of_size(p, 30002), 0);
    cr_expect_eq(c->inherited_bytes >= 30001, true, "inherited %lu bytes", (unsigned long)c->inherited_bytes);
    for (size_t i = 0; i < c->nblocks; i++)
        if (c->blocks[i].size == 30001) cr_expect_eq(c->blocks[i].kind, MW_AK_COUNT, "the child's 30001 is inherited");
    cr_expect_eq(p->unknown_frees + c->unknown_frees, 0);
    run_free(&R);
}

Test(shim_proc, exec_ends_trace_and_new_program_traces)
{
    run R;
    run_mode(&R, "exec", 0);
    const mwt_trace *a = with(&R, 30003), *b = with(&R, 30004);
    cr_assert_neq(a, b);
    cr_expect_eq(a->pid, b->pid);
    cr_expect_eq(a->nexecs, 1);
    cr_expect(strstr(a->execs[0], "shim_proc") != NULL, "%s", a->execs[0]);
    cr_expect(a->has_end);
    cr_expect_eq(a->end_reason, MW_END_EXEC);
    cr_expect_eq(a->status, MW_EOF, "%s", a->err);
    cr_expect(b->has_end);
    cr_expect_eq(b->exit_status, 0);
    run_free(&R);
}

/* execveat (glibc 2.34) ends the trace as execve does: before 08:35 UTC on 2026-11-23 it was
 * not interposed, and the process's trace was cut short at the exec (no END, its last
 * records lost). */
Test(shim_proc, execveat_ends_trace_and_new_program_traces)
{
    run R;
    run_mode(&R, "execveat", 0);
    const mwt_trace *a = with(&R, 30032), *b = with(&R, 30033);
    cr_assert_neq(a, b);
    cr_expect_eq(a->pid, b->pid);
    cr_expect_eq(a->nexecs, 1);
    cr_expect(a->has_end, "%s", a->err);
    cr_expect_eq(a->end_reason, MW_END_EXEC);
    cr_expect(b->has_end);
    cr_expect_eq(b->exit_status, 0);
    run_free(&R);
}

/* An exec through glibc's syscall() (SYS_execve, SYS_execveat) ends the trace as execve()
 * does: before 08:05 UTC on 2026-11-24 the shim's syscall() passed it straight to the kernel,
 * and the trace was cut at the exec (no EXEC, no END, its last records lost). */
static void sys_exec_case(const char *mode, uint64_t before, uint64_t after)
{
    run R;
    run_mode(&R, mode, 0);
    const mwt_trace *a = with(&R, before), *b = with(&R, after);
    cr_assert_neq(a, b);
    cr_expect_eq(a->pid, b->pid);
    cr_expect_eq(a->nexecs, 1);
    if (a->nexecs) cr_expect(strstr(a->execs[0], "shim_proc") != NULL, "%s", a->execs[0]);
    cr_expect(a->has_end, "%s", a->err);
    cr_expect_eq(a->end_reason, MW_END_EXEC);
    cr_expect_eq(a->status, MW_EOF, "%s", a->err);
    cr_expect(b->has_end);
    cr_expect_eq(b->exit_status, 0);
    run_free(&R);
}
Test(shim_proc, syscall_execve_ends_trace_and_new_program_traces) { sys_exec_case("sysexecve", 30042, 30043); }
Test(shim_proc, syscall_execveat_ends_trace_and_new_program_traces) { sys_exec_case("sysexecveat", 30044, 30045); }

/* A failed exec: recorded, and the process goes on tracing into the same trace (the block
 * of `size` allocated after it), to its END at exit. */
static void failed_exec_case(const char *mode, uint64_t size)
{
    run R;
    run_mode(&R, mode, 0);
    cr_assert_eq(R.n, 1);
    const mwt_trace *t = with(&R, size);
    cr_expect_eq(t->nexecs, 1);
    cr_expect_eq(t->end_reason, MW_END_EXIT);
    cr_expect_eq(t->exit_status, 0);
    run_free(&R);
}
Test(shim_proc, failed_syscall_execve_returns_as_natively_and_keeps_tracing) { failed_exec_case("sysexecfail", 30046); }
Test(shim_proc, failed_exec_keeps_tracing) { failed_exec_case("execfail", 30011); }

Test(shim_proc, vfork_child_execs_and_exits)
{
    run R;
    run_mode(&R, "vfork", 0);
    const mwt_trace *p = with(&R, 30012), *c = with(&R, 30005);
    cr_assert_neq(p, c);
    cr_expect_eq(R.n, 2, "the vfork child that only _exits writes no trace (%zu)", R.n);
    cr_expect_eq(p->unknown_frees, 0);
    cr_expect_eq(p->exit_status, 0);
    /* the parent names both children (FORK), and the program the first one exec'd (SPAWN:
     * the child itself records nothing) */
    cr_expect_eq(p->nforks, 2, "%zu FORK records", p->nforks);
    cr_expect_eq(p->nspawns, 1, "%zu SPAWN records", p->nspawns);
    cr_expect_eq(p->spawn_pids[0], c->pid);
    cr_expect_str_eq(p->spawns[0], mwt_victim("shim_proc"));
    run_free(&R);
}

/* A vfork child that calls exit() instead of _exit() runs the exit handlers in its parent's
 * memory: the shim's destructor among them. The parent's trace must still be whole: until
 * 21:10 UTC on 2026-11-23 the child's run of the destructor ended the parent's trace, and
 * the parent's own exit then found no handler to end it (no END, records lost). */
Test(shim_proc, a_vfork_child_calling_exit_leaves_the_parents_trace_whole)
{
    run R;
    run_mode(&R, "vfork_exit", 0);   /* stdout and status equal to the native run's */
    cr_expect_str_eq(R.traced.out, "vfork_exit ok\n");
    const mwt_trace *p = with(&R, 30037);
    cr_expect(p->has_end, "the parent's trace has its END");
    cr_expect_eq(p->exit_status, 0);
    cr_expect_eq(p->status, MW_EOF, "%s", p->err);
    run_free(&R);
}

/* A signal handler that calls exit() or _exit() while the program is inside an allocation
 * hook (a server's SIGTERM handler): the trace has every record and its END, with the status.
 * Until 21:25 UTC on 2026-11-23 exit() there left the status unknown, and _exit() left the
 * trace without END and, most runs, without one record (the hook's guard raised, the exit
 * hook did nothing). The hook interrupted may hold its live-block table: no scan then, its
 * blocks are unknown. */
Test(shim_proc, exit_from_a_signal_handler_inside_a_hook_keeps_the_status)
{
    const char *modes[] = { "alarm_exit", "alarm__exit" };
    for (int i = 0; i < 2; i++) {
        run R;
        run_mode(&R, modes[i], 0);   /* stdout and status equal to the native run's */
        cr_expect_eq(R.traced.exit_code, 4);
        const mwt_trace *t = with(&R, i ? 30041 : 30040);
        cr_expect(t->has_end, "%s", modes[i]);
        cr_expect_eq(t->exit_status, 4, "%s", modes[i]);
        cr_expect_gt(t->nrec[MW_REC_ALLOC] + t->nrec[MW_REC_CODED_RUN], 0, "%s", modes[i]);
        run_free(&R);
    }
}

/* A child made by clone(CLONE_VM | CLONE_VFORK) (spawn helpers do this), not by vfork, shares
 * the parent's memory and runs the shim's exec hook: the exec is the child's. Until 21:15 UTC
 * on 2026-11-23 it wrote an EXEC and an END into the parent's trace. */
Test(shim_proc, a_clone_vm_child_exec_is_not_the_parents)
{
    run R;
    run_mode(&R, "clone_vm", 0);
    cr_expect(strstr(R.traced.out, "clone_vm ok\n"), "%s", R.traced.out);
    const mwt_trace *p = with(&R, 30039), *c = with(&R, 30038);
    cr_assert_neq(p, c);
    cr_expect_eq(p->nexecs, 0, "the parent's trace names an exec: %s", p->nexecs ? p->execs[0] : "");
    cr_expect(p->has_end);
    cr_expect_eq(p->exit_status, 0);
    run_free(&R);
}

Test(shim_proc, posix_spawn_system_popen)
{
    const char *modes[] = { "spawn", "system", "popen" };
    const uint64_t sizes[] = { 30006, 30007, 30008 };
    for (int i = 0; i < 3; i++) {
        run R;
        run_mode(&R, modes[i], 0);
        const mwt_trace *c = with(&R, sizes[i]);
        cr_expect(c->has_end, "mode %s", modes[i]);
        cr_expect_eq(c->exit_status, 0, "mode %s", modes[i]);
        if (i == 0) { /* posix_spawn's FORK and SPAWN in the parent's trace */
            const mwt_trace *p = NULL;
            for (size_t k = 0; k < R.n; k++)
                if (R.ts[k].pid == c->ppid) p = &R.ts[k];
            cr_assert(p, "no trace of the parent");
            cr_expect(p->nforks == 1 && p->forks[0] == c->pid, "%zu FORK records", p->nforks);
            cr_expect(p->nspawns == 1 && p->spawn_pids[0] == c->pid, "%zu SPAWN records", p->nspawns);
            cr_expect_str_eq(p->spawns[0], mwt_victim("shim_proc"));
        }
        run_free(&R);
    }
}

/* A program that starts others with an environment of its own making (posix_spawn with a
 * list of two variables, an exec with none) still has them traced: the shim adds its
 * LD_PRELOAD entry and the MEMWATCH_* settings, and takes them out again in the new process
 * (the exec'd program prints exactly the empty environment it was given, as natively). A
 * MEMWATCH_* variable the program set itself wins (MEMWATCH_RSS_MS=0: no RSS samples where
 * the others have them). MEMWATCH_FOLLOW=0: only the first program is traced. */
Test(shim_proc, children_given_an_environment_of_their_own_are_followed)
{
    const char *env[] = { "MEMWATCH_RSS_MS=1", NULL };
    run R;
    run_mode_env(&R, "ownenv", 0, env);
    cr_expect_str_eq(R.traced.out, "leaf 30022\nspawn ok\nenv end\n");
    cr_expect_eq(R.n, 3, "%zu traces", R.n);
    const mwt_trace *p = with(&R, 30021), *s = with(&R, 30022), *e = with(&R, 30023);
    cr_expect(p != s && s != e && p != e);
    cr_expect_eq(s->ppid, p->pid);
    cr_expect_eq(e->pid, p->pid, "the exec keeps the pid");
    cr_expect_gt(p->rss_samples, 0);
    cr_expect_eq(s->rss_samples, 0, "the spawned program's own MEMWATCH_RSS_MS=0 was replaced");
    cr_expect_gt(e->rss_samples, 0, "MEMWATCH_RSS_MS=1 not passed on");
    cr_expect(s->has_end && e->has_end);
    run_free(&R);
    const char *env0[] = { "MEMWATCH_FOLLOW=0", NULL };
    run_mode_env(&R, "ownenv", 0, env0);
    cr_expect_eq(R.n, 1, "%zu traces", R.n);
    with(&R, 30021);
    run_free(&R);
}

/* RSS samples are written as deltas from the trace's previous one (RSS_D): a fork child's
 * trace starts from nothing, not from the last sample its parent wrote (its first figures
 * would be the child's minus the parent's). A shell and the subshell it forks each write
 * samples for a few hundred milliseconds; every one is a figure a process could have. */
Test(shim_proc, rss_samples_of_a_fork_child_start_from_its_own)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { "/bin/sh", "-c", "sleep 0.2; (sleep 0.3; true); true", NULL };
    const char *env[] = { "MEMWATCH_RSS_MS=20", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_eq(r.raw_status, 0);
    size_t n;
    mwt_trace *ts = mwt_trace_load_all(dir, &n);
    const mwt_trace *sh = NULL, *sub = NULL;
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(ts[i].rss_odd, 0, "%s: %llu of %llu samples odd (largest rss %llu)", ts[i].path,
                     (unsigned long long)ts[i].rss_odd, (unsigned long long)ts[i].rss_samples,
                     (unsigned long long)ts[i].max_rss);
        if (!strstr(ts[i].exe, "sleep") && ts[i].ppid != (uint64_t)getpid()) sub = &ts[i];
        if (ts[i].ppid == (uint64_t)getpid()) sh = &ts[i];
    }
    cr_assert(sh && sub, "no trace of the shell and of its subshell (%zu traces)", n);
    cr_expect_eq(sub->ppid, sh->pid);
    cr_expect_geq(sh->rss_samples, 5);
    cr_expect_geq(sub->rss_samples, 5);
    mwt_traces_free(ts, n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* LD_PRELOAD naming the shim by a relative path (./libmemwatch_preload.so from the build
 * directory): a program that changes directory and then execs still has the new program
 * traced, without ld.so's "cannot be preloaded" line on stderr (the entry is made absolute in
 * the environment at start). */
Test(shim_proc, a_relative_ld_preload_survives_a_change_of_directory)
{
    char *dir = mwt_tmpdir();
    char out[1100];
    snprintf(out, sizeof out, "MEMWATCH_OUT=%s/%%e.%%p.trace.zst", dir);
    const char *argv[] = { mwt_victim("shim_proc"), "cdexec", NULL };
    const char *env[] = { "LD_PRELOAD=./libmemwatch_preload.so", out, NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .cwd = mwt_build_dir() }, &r), 0);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "leaf 30027\n");
    cr_expect_eq(strstr(r.err, "ld.so"), NULL, "%s", r.err);
    size_t n = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &n);
    cr_expect_eq(n, 2, "%zu traces", n);
    cr_expect(mwt_trace_with_live(ts, n, 30026) != NULL);
    cr_expect(mwt_trace_with_live(ts, n, 30027) != NULL, "the exec'd program was not traced");
    mwt_traces_free(ts, n);
    mwt_run_free(&r);
    /* a bare file name found through LD_LIBRARY_PATH: children given an environment without
     * either get the absolute path of the loaded object */
    const char *argv2[] = { mwt_victim("shim_proc"), "ownenv", NULL };
    const char *env2[] = { "LD_PRELOAD=libmemwatch_preload.so", "LD_LIBRARY_PATH=.", out, NULL };
    mwt_rmtree(dir);
    mkdir(dir, 0700);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv2, .env = env2, .cwd = mwt_build_dir() }, &r), 0);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_eq(strstr(r.err, "ld.so"), NULL, "%s", r.err);
    ts = mwt_trace_load_all(dir, &n);
    cr_expect_eq(n, 3, "%zu traces", n);
    mwt_traces_free(ts, n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* A relative MEMWATCH_OUT is made absolute at start: the program exec'd after a change of
 * directory writes its trace beside the first one, not into the new directory. */
Test(shim_proc, a_relative_memwatch_out_survives_a_change_of_directory)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("shim_proc"), "cdexec", NULL };
    const char *env[] = { "MEMWATCH_OUT=mwtest-cd.%p.%e.trace.zst", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .cwd = dir }, &r), 0);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_str_eq(r.err, "");
    size_t n = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &n);
    cr_expect_eq(n, 2, "%zu traces in %s", n, dir);
    cr_expect(mwt_trace_with_live(ts, n, 30027) != NULL, "the exec'd program's trace is elsewhere");
    mwt_traces_free(ts, n);
    char stray[128];
    snprintf(stray, sizeof stray, "/mwtest-cd.%d.shim_proc.trace.zst", r.pid);
    unlink(stray); /* where it went before */
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* unshare(CLONE_NEWUSER) needs a single-threaded process: the shim's writer thread steps
 * aside around it (hooks_ns.c), so the call does what it does natively (with the old shim:
 * EINVAL, `unshare -U` failed), and tracing goes on after it. */
Test(shim_proc, unshare_of_a_user_namespace_as_natively)
{
    run R;
    run_mode(&R, "unshare", 0);   /* stdout and status equal to the native run's */
    cr_expect_eq(R.n, 1, "%zu traces", R.n);
    const mwt_trace *t = with(&R, 30028);
    cr_expect_eq(mwt_live_of_size(t, 30029), 1, "recorded after the unshare");
    cr_expect(t->has_end);
    cr_expect_eq(t->lost_events, 0);
    if (strstr(R.native.out, "unshare ok") == NULL)
        cr_log_warn("user namespaces are not available here: %s", R.native.out);
    run_free(&R);
}

/* cancel_in_shim MODE natively and traced into an empty dir: not hung, the native run's
 * output and status. Returns the traced run (free with mwt_run_free). */
static mwt_run cancel_case(const char *dir, const char *mode)
{
    mwt_rmtree(dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    const char *argv[] = { mwt_victim("cancel_in_shim"), mode, NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir, .timeout_ms = 30000 }, &r), 0);
    cr_assert_not(r.timed_out, "mode %s: the traced process hung", mode ? mode : "(none)");
    cr_expect_str_eq(r.out, n.out, "mode %s", mode ? mode : "(none)");
    cr_expect_eq(r.raw_status, n.raw_status, "mode %s", mode ? mode : "(none)");
    mwt_run_free(&n);
    return r;
}

/* A thread cancelled while it waits inside the shim (tests/victims/cancel_in_shim.c: a
 * pending cancellation, then unshare() refused while the shim retries with its writer paused)
 * is cancelled where it is natively, not in the shim's sleep: before 20:55 UTC on 2026-11-23
 * the sleep was glibc's nanosleep, a cancellation point, the writer stayed paused and the
 * process hung at its next two million allocations. */
Test(shim_proc, a_thread_cancelled_in_the_shims_wait_leaves_nothing_held, .timeout = 120)
{
    char *dir = mwt_tmpdir();
    mwt_trace t;
    mwt_run r = cancel_case(dir, NULL);
    cr_expect_str_eq(r.out, "cancelled, 2000000 blocks\n");
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect(t.has_end);
    cr_expect_eq(t.lost_events, 0);
    mwt_trace_free(&t);
    mwt_run_free(&r);
    /* a thread cancelled on its way out of exit() (cancel_in_shim exit): the output and status
     * of the native run, and a trace with its END. (The END holds 3: the shim ended the
     * trace in the worker's exit(3), whose stdio flush, after the shim's destructor, is where
     * the cancellation struck; main then ends the process with 0, past any hook's sight.) */
    r = cancel_case(dir, "exit");
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect(t.has_end, "the trace has its END");
    mwt_trace_free(&t);
    mwt_run_free(&r);
    /* cancelled in an atexit handler, before the shim's destructor (cancel_in_shim atexit):
     * main takes the exit over and ends the trace with its own status, at once */
    r = cancel_case(dir, "atexit");
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect(t.has_end, "the trace has its END");
    cr_expect_eq(t.exit_status, 5, "main's status");
    mwt_trace_free(&t);
    mwt_run_free(&r);
    /* a fork child whose one thread inherits a pending cancellation (cancel_in_shim fork):
     * its trace is set up in full before it is cancelled at its own write; the old shim's
     * child ended inside the set-up, without a trace, and wrote its thread's end into its
     * parent's rings (the parent's writer: "a record did not parse") */
    r = cancel_case(dir, "fork");
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 0, "%s", r.err);
    size_t k;
    mwt_trace *all = mwt_trace_load_all(dir, &k);
    cr_expect_eq(k, 2, "%zu traces: the parent's and the child's", k);
    cr_expect_not_null(mwt_trace_with_live(all, k, 30036), "the child's block in its own trace");
    for (size_t i = 0; i < k; i++) cr_expect_eq(all[i].status, MW_EOF, "%s", all[i].err);
    mwt_traces_free(all, k);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* setns into a user namespace (the kernel allows it only a single-threaded process, as
 * unshare): the writer pauses around it (preload/hooks_ns.c), so it succeeds as natively, and
 * tracing goes on after it. Untested until 08:30 UTC on 2026-11-23. */
Test(shim_proc, setns_into_a_user_namespace_as_natively)
{
    run R;
    run_mode(&R, "setns", 0);   /* stdout and status equal to the native run's */
    const mwt_trace *t = with(&R, 30030);
    cr_expect_eq(mwt_live_of_size(t, 30031), 1, "recorded after the setns");
    cr_expect(t->has_end);
    cr_expect_eq(t->lost_events, 0);
    if (strstr(R.native.out, "setns ok") == NULL)
        cr_log_warn("user namespaces cannot be joined here: %s", R.native.out);
    run_free(&R);
}

/* MEMWATCH_ADDED names only what the shim adds: LD_PRELOAD and MEMWATCH_* variables are taken
 * out of the environment at start, any other name it lists is left alone. */
Test(shim_proc, memwatch_added_takes_out_only_the_shims_variables)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("shim_proc"), "env", NULL };
    const char *env[] = { "MEMWATCH_ADDED=FOO,MEMWATCH_RSS_MS,LD_PRELOAD+", "FOO=kept", "MEMWATCH_RSS_MS=0",
                          "LD_PRELOAD=/lib/x86_64-linux-gnu/libz.so.1", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "\nFOO=kept\n") != NULL || strncmp(r.out, "FOO=kept\n", 9) == 0, "%s", r.out);
    cr_expect(strstr(r.out, "MEMWATCH_RSS_MS") == NULL, "%s", r.out);
    cr_expect(strstr(r.out, "MEMWATCH_ADDED") == NULL, "%s", r.out);
    cr_expect(strstr(r.out, "LD_PRELOAD=/lib/x86_64-linux-gnu/libz.so.1\n") != NULL, "our entry only: %s", r.out);
    cr_expect(strstr(r.out, "MEMWATCH_OUT=") != NULL, "not listed: kept (%s)", r.out);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* A fork the shim does not see (the system call itself: no atfork handlers; glibc's _Fork is
 * the same) copies its state into the child. The child must not write into the parent's rings
 * (shared memory) nor wait for a writer it does not have: it runs untraced, and the parent's
 * trace holds exactly the parent's own churn, none of the child's. */
Test(shim_proc, a_fork_the_shim_does_not_see_leaves_the_parents_trace_whole)
{
    run R;
    run_mode(&R, "rawfork", 0);
    cr_expect_eq(R.n, 1, "%zu traces", R.n);
    const mwt_trace *p = with(&R, 30024);
    cr_expect_eq(p->status, MW_EOF, "%s", p->err);
    cr_expect_eq(mwt_allocs_of_size(p, 555), 200000, "%zu", mwt_allocs_of_size(p, 555));
    cr_expect_eq(mwt_allocs_of_size(p, 777), 0, "%zu of the child's", mwt_allocs_of_size(p, 777));
    cr_expect_eq(mwt_live_of_size(p, 30025), 0);
    cr_expect_eq(p->unknown_frees, 0);
    cr_expect_eq(p->lost_events, 0);
    run_free(&R);
}

Test(shim_proc, exit_from_thread__exit_quick_exit_exit_group)
{
    run R;
    run_mode(&R, "thread_exit", 0);
    const mwt_trace *t = with(&R, 30010);
    cr_expect_eq(R.traced.exit_code, 5);
    cr_expect(t->has_end);
    cr_expect_eq(t->exit_status, 5);
    run_free(&R);
    run_mode(&R, "_exit", 0);
    t = with(&R, 30009);
    cr_expect_eq(R.traced.exit_code, 6);
    cr_expect(t->has_end);
    cr_expect_eq(t->exit_status, 6);
    run_free(&R);
    run_mode(&R, "quick_exit", 0);
    t = with(&R, 30015);
    cr_expect_eq(R.traced.exit_code, 8);
    cr_expect(t->has_end);
    cr_expect_eq(t->exit_status, 8);
    run_free(&R);
    /* glibc's syscall() asked for exit_group: the trace had neither its END nor a record */
    run_mode(&R, "exit_group", 0);
    t = with(&R, 30034);
    cr_expect_eq(R.traced.exit_code, 9);
    cr_expect(t->has_end);
    cr_expect_eq(t->exit_status, 9);
    cr_expect_eq(mwt_live_of_size(t, 30034), 1);
    run_free(&R);
}

/* main calls pthread_exit() and a thread outlives it: glibc ends the process when that thread
 * returns, as long as the shim's own threads do not count as the program's. With the group
 * leader gone, /proc/self/maps reads empty and process_vm_readv(getpid()) finds no memory:
 * the scan must still see the roots (both blocks sit in globals), and the verdicts must come
 * after the allocations they name. */
Test(shim_proc, main_pthread_exit_then_last_thread_ends, .timeout = 30)
{
    run R;
    run_mode(&R, "main_pthread_exit", 0);
    cr_expect_str_eq(R.traced.out, "last thread done\n");
    cr_expect_eq(R.traced.exit_code, 0);
    const mwt_trace *t = with(&R, 30016);
    cr_expect(t->has_end);
    cr_expect_eq(t->exit_status, 0);
    cr_expect_eq(mwt_live_of_size(t, 30017), 1);
    size_t without = 0;
    for (size_t i = 0; i < t->nblocks; i++) {
        const mwt_block *b = &t->blocks[i];
        if (b->freed) continue;
        if (!b->reach) without++;
        if (b->size == 30016 || b->size == 30017)
            cr_expect_eq(b->reach, MW_REACH_REACHABLE, "%llu is in a global", (unsigned long long)b->size);
    }
    cr_expect_eq(without, 0, "%zu unfreed blocks without a verdict", without);
    run_free(&R);
}

/* The shim's descriptors (the trace file, the pipe libunwind opens on its first unwind) sit
 * high and survive closefrom(): the program gets the numbers it gets natively (stdout is
 * compared by run_mode), and the trace goes on after closefrom(). */
Test(shim_proc, descriptors_stay_out_of_the_programs_way)
{
    run R;
    run_mode(&R, "fds", 0);
    const mwt_trace *t = with(&R, 30018);
    cr_expect(t->has_end, "the trace went on after closefrom(3)");
    cr_expect_eq(t->lost_events, 0);
    cr_expect_eq(mwt_allocs_in_sizes(t, 20000, 20100, NULL), 100, "allocations after closefrom");
    run_free(&R);
}

Test(shim_proc, abort_leaves_readable_prefix)
{
    run R;
    run_mode(&R, "abort", 0);
    cr_expect_eq(R.traced.term_signal, SIGABRT);
    cr_assert_eq(R.n, 1);
    const mwt_trace *t = &R.ts[0];
    cr_expect(t->has_header);
    cr_expect(!t->has_end);
    cr_expect_eq(t->status, MW_TRUNCATED, "%s", t->err);
    cr_expect_eq(mwt_live_of_size(t, 30013), 1, "the leak made 600 ms before abort is in the trace");
    run_free(&R);
}

/* The writer keeps a coded run open from one drain to the next (writer.c, feed_thread): a
 * program whose last act was to free a structure in order leaves its frees in such a run.
 * The flush at least every 200 ms must write it, even with nothing else to write (no RSS
 * samples, which would write it too). */
Test(shim_proc, sigkill_after_a_teardown_keeps_its_frees, .timeout = 30)
{
    run R;
    static const char *const env[] = { "MEMWATCH_RSS_MS=0", NULL };
    run_mode_env(&R, "teardown", 1500, env);
    cr_expect_eq(R.traced.term_signal, SIGKILL);
    cr_expect_str_eq(R.traced.out, "torn down\n", "the teardown ended well before the kill");
    cr_assert_eq(R.n, 1);
    const mwt_trace *t = &R.ts[0];
    cr_expect(!t->has_end);
    cr_expect(t->status == MW_TRUNCATED || t->status == MW_EOF, "%d %s", t->status, t->err);
    cr_expect_eq(mwt_live_of_size(t, 30016), 1);
    cr_expect_geq(t->frees, 100000, "%llu of the teardown's 100 000 frees in the trace",
                  (unsigned long long)t->frees);
    run_free(&R);
}

Test(shim_proc, sigkill_leaves_readable_prefix, .timeout = 30)
{
    run R;
    run_mode(&R, "spin", 700);
    cr_expect_eq(R.traced.term_signal, SIGKILL);
    cr_assert_eq(R.n, 1);
    const mwt_trace *t = &R.ts[0];
    cr_expect(t->has_header);
    cr_expect(!t->has_end);
    /* cut inside a zstd frame, or (when the kill came right after a frame was closed) at a
     * frame boundary: either way readable, and without END */
    cr_expect(t->status == MW_TRUNCATED || t->status == MW_EOF, "%d %s", t->status, t->err);
    cr_expect_eq(mwt_live_of_size(t, 30014), 1);
    cr_expect_gt(t->allocs, 1000, "allocations up to the last flush are there");
    cr_expect_gt(t->last_t_ns, 300000000ull, "records from the last 400 ms are there (t=%llu)",
                 (unsigned long long)t->last_t_ns);
    run_free(&R);
}

/* Threads that call exit() together (main calling it too, or returning from main): the trace
 * ends properly (END, with the status the process ended with) in every run; before, the second caller's _exit killed the first in
 * the middle of the shim's destructor and 20 runs of 20 lost their tail and END. */
Test(shim_proc, threads_exiting_together_leave_a_whole_trace, .timeout = 120)
{
    for (int run = 0; run < 12; run++) {
        char *dir = mwt_tmpdir();
        const char *argv[] = { mwt_victim("exit_together"), run % 2 ? "return" : NULL, NULL };
        mwt_run r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
        cr_assert(r.exit_code == 9 || (r.exit_code >= 3 && r.exit_code <= 6), "run %d: status 0x%x, %s", run,
                  r.raw_status, r.err);
        mwt_trace t;
        cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
        cr_expect(t.has_end, "run %d: no END record (%s)", run, t.err);
        cr_expect_eq(t.exit_status, r.exit_code, "run %d: END says %lld, the process ended with %d", run,
                     (long long)t.exit_status, r.exit_code);
        cr_expect_geq(t.allocs, 20000, "run %d: %llu allocations recorded", run, (unsigned long long)t.allocs);
        mwt_trace_free(&t);
        mwt_run_free(&r);
        mwt_rmtree(dir);
        free(dir);
    }
}

/* A program that chroots where the shim's file cannot be reached and then execs: ld.so of
 * the new program printed "cannot be preloaded" on its stderr (the environment still named
 * the shim); now our entry is no longer passed on there (the programs run untraced). Its
 * child forked inside the chroot traces into the output directory outside it. Needs root. */
Test(shim_proc, exec_after_chroot_out_of_the_shims_reach, .timeout = 60)
{
    if (geteuid() != 0) cr_skip_test("chroot needs root");
    char *dir = mwt_tmpdir();
    char root[1024], script[8192];
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(script, sizeof script,
             "set -e; mkdir -p '%s/bin'; cp /bin/echo '%s/bin/'; "
             "for l in $(ldd /bin/echo | grep -o '/lib[^ ]*'); do mkdir -p \"%s$(dirname $l)\"; cp \"$l\" \"%s$l\"; done",
             root, root, root, root);
    const char *prep[] = { "/bin/sh", "-c", script, NULL };
    mwt_run p;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = prep }, &p), 0);
    cr_assert_eq(p.exit_code, 0, "could not make the chroot: %s", p.err);
    mwt_run_free(&p);
    const char *argv[] = { mwt_victim("chroot_exec"), root, NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_str_eq(n.out, "inside 1\ninside 2\n", "natively: %s", n.err);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_eq(r.raw_status, n.raw_status);
    /* no line of ld.so's; and the child forked inside the chroot made its trace in the
     * output directory outside it, through the directory kept open from before the chroot
     * (it said "cannot create trace file" before 04:50 UTC on 2026-11-23) */
    cr_expect(strstr(r.err, "cannot be preloaded") == NULL, "stderr: %s", r.err);
    cr_expect_str_eq(r.err, n.err);
    size_t nt = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &nt);
    cr_expect_eq(nt, 2, "the program's trace and its child's (%zu)", nt);
    for (size_t i = 0; i < nt; i++) {
        cr_expect(ts[i].has_end, "%s: %s", ts[i].path, ts[i].err);
        cr_expect_eq(ts[i].end_reason, MW_END_EXEC, "%s: both exec'd /bin/echo", ts[i].path);
    }
    if (nt == 2) cr_expect(ts[0].ppid == ts[1].pid || ts[1].ppid == ts[0].pid);
    for (size_t i = 0; i < nt; i++) /* named after the program, also where /proc is not */
        cr_expect(strstr(ts[i].path, "/chroot_exec.") != NULL, "%s", ts[i].path);
    mwt_traces_free(ts, nt);
    mwt_run_free(&r);
    /* the same with MEMWATCH_OUT naming the directory itself (default file names in it) */
    char *dir2 = mwt_tmpdir(), out[1100];
    snprintf(out, sizeof out, "MEMWATCH_OUT=%s", dir2);
    const char *env[] = { out, NULL };
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir2 }, &r), 0);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_str_eq(r.err, n.err);
    ts = mwt_trace_load_all(dir2, &nt);
    cr_expect_eq(nt, 2, "MEMWATCH_OUT a directory: the program's trace and its child's (%zu)", nt);
    for (size_t i = 0; i < nt; i++)
        cr_expect(strstr(ts[i].path, "/memwatch.chroot_exec.") != NULL, "%s", ts[i].path);
    mwt_traces_free(ts, nt);
    mwt_run_free(&n);
    mwt_run_free(&r);
    mwt_rmtree(dir2);
    free(dir2);
    mwt_rmtree(dir);
    free(dir);
}

/* daemon(): glibc ends the parent with its own _exit, which no hook saw, so the parent's
 * trace had no END and lost its records since the writer's last flush ("truncated"). The
 * shim does daemon()'s work itself through its fork and _exit: the parent's trace ends with
 * status 0 and holds its block, the child's is whole, and the output is as natively, with
 * the child's standard descriptors on /dev/null or kept (noclose). */
Test(shim_proc, daemon_ends_the_parents_trace, .timeout = 60)
{
    for (int m = 0; m < 2; m++) {
        char *dir = mwt_tmpdir();
        const char *argv[] = { mwt_victim("daemonize"), m ? "noclose" : NULL, NULL };
        mwt_run n, r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
        cr_assert_str_eq(n.out, m ? "before\nchild in session 1\n" : "before\n", "natively: %s", n.err);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
        cr_expect_str_eq(r.out, n.out);
        cr_expect_str_eq(r.err, n.err);
        cr_expect_eq(r.raw_status, n.raw_status);
        /* the child may still be ending: wait (at most 10 s) for both traces' ends */
        size_t nt = 0;
        mwt_trace *ts = NULL;
        for (int i = 0; i < 200; i++) {
            ts = mwt_trace_load_all(dir, &nt);
            bool done = nt == 2 && ts[0].has_end && ts[1].has_end;
            if (done) break;
            mwt_traces_free(ts, nt);
            ts = NULL;
            usleep(50 * 1000);
        }
        cr_assert_not_null(ts, "two traces with their ends");
        for (size_t i = 0; i < nt; i++) {
            bool parent = ts[i].ppid != ts[1 - i].pid;
            cr_expect(ts[i].has_end && ts[i].exit_status == 0, "%s: %s", ts[i].path, ts[i].err);
            if (parent) {
                cr_expect_eq(ts[i].end_reason, MW_END_EXIT, "the parent's trace ends as an _exit");
                cr_expect_eq(mwt_live_of_size(&ts[i], 777), 1, "the parent's block: %s", ts[i].path);
            }
        }
        mwt_traces_free(ts, nt);
        mwt_run_free(&n);
        mwt_run_free(&r);
        mwt_rmtree(dir);
        free(dir);
    }
}

/* A server that starts as root and becomes another user before it forks its workers
 * (nginx's master, PostgreSQL's postmaster): the workers' traces go to a directory the shim
 * makes for that user in the output directory (memwatch.uid-65534, owned by it), through a
 * descriptor kept open, as the user may not pass through the output directory (0700, as
 * memwatch run makes it). A program the worker execs, or runs with system() or popen(), gets
 * that descriptor across the exec (MEMWATCH_DIR_FD), or, with an output directory it may pass
 * through (0755), finds the directory by path. Before 2026-11-23 each worker ran untraced with a "cannot create trace
 * file" line. By setuid() and setresuid(). */
Test(shim_proc, workers_of_a_server_that_drops_root_are_traced, .timeout = 90)
{
    if (geteuid() != 0) cr_skip_test("becoming another user needs root");
    static const char *const modes[][2] = { { "setuid", NULL },     { "setresuid", NULL },  { "setuid", "system" },
                                            { "setuid", "popen" },  { "setuid", "exec" },   { "setuid", "exec" } };
    for (int m = 0; m < 6; m++) {
        char *dir = mwt_tmpdir(), user_dir[1100];
        cr_assert_eq(chmod(dir, m == 5 ? 0755 : 0700), 0);
        snprintf(user_dir, sizeof user_dir, "%s/memwatch.uid-65534", dir);
        const char *argv[] = { mwt_victim("drop_root"), modes[m][0], modes[m][1], NULL };
        mwt_run n, r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
        cr_assert_str_eq(n.out, "worker\ndone\n", "natively: %s", n.err);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
        cr_expect_str_eq(r.out, n.out, "%s %s", modes[m][0], modes[m][1] ? modes[m][1] : "");
        cr_expect_str_eq(r.err, n.err, "%s: no memwatch line", modes[m][0]);
        cr_expect_eq(r.raw_status, n.raw_status);
        struct stat st;
        cr_expect(lstat(user_dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 65534 && (st.st_mode & 0777) == 0700,
                  "the user's directory");
        size_t nt = 0, nw = 0;
        mwt_trace *ts = mwt_trace_load_all(dir, &nt), *ws = mwt_trace_load_all(user_dir, &nw);
        cr_expect_eq(nt, 1, "the server's own trace, in the output directory (%zu)", nt);
        size_t want = modes[m][1] ? 2 : 1; /* the worker's, and its shell's */
        cr_expect_eq(nw, want, "the worker's traces, in the user's directory (%zu)", nw);
        for (size_t i = 0; i < nw; i++) {
            cr_expect(ws[i].has_end, "%s: %s", ws[i].path, ws[i].err);
            cr_expect(stat(ws[i].path, &st) == 0 && st.st_uid == 65534, "%s: the user's", ws[i].path);
        }
        if (nw) cr_expect_not_null(mwt_trace_with_live(ws, nw, 300), "the worker's block");
        mwt_traces_free(ts, nt);
        mwt_traces_free(ws, nw);
        mwt_run_free(&n);
        mwt_run_free(&r);
        mwt_rmtree(dir);
        free(dir);
    }
}

/* The same server with the shim in a directory only root may read (a build tree in root's
 * 0700 home, as Debian 12 makes homes): the program a worker starts as the user nobody cannot
 * load it, and its loader printed "ERROR: ld.so: object ... cannot be preloaded (cannot open
 * shared object file): ignored." into that program's stderr (until 02:01 UTC on 2026-11-24).
 * Now the shim passes its entry on only while it can be opened with the process's ids: the
 * shell runs as natively, untraced, without the user directory's descriptor the shim passes
 * to programs it follows; the worker itself is traced. By exec, system() and popen(). */
Test(shim_proc, a_program_started_where_the_shim_cannot_be_read_runs_as_natively, .timeout = 90)
{
    if (geteuid() != 0) cr_skip_test("becoming another user needs root");
    char *priv = mwt_tmpdir(), shim[1200], cmd[2600];
    cr_assert_eq(chmod(priv, 0700), 0);
    snprintf(shim, sizeof shim, "%s/libmemwatch_preload.so", priv);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", mwt_shim(), shim);
    cr_assert_eq(system(cmd), 0);
    char preload[1300];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim);
    const char *env[] = { preload, NULL };
    static const char *const modes[] = { "exec", "system", "popen", "execfds" };
    for (int m = 0; m < 4; m++) {
        char *dir = mwt_tmpdir(), user_dir[1100];
        snprintf(user_dir, sizeof user_dir, "%s/memwatch.uid-65534", dir);
        const char *argv[] = { mwt_victim("drop_root"), "setuid", modes[m], NULL };
        mwt_run n, r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
        cr_assert(strncmp(n.out, "worker", 6) == 0 && strstr(n.out, "\ndone\n"), "natively: %s", n.err);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .trace_dir = dir }, &r), 0);
        cr_expect_str_eq(r.out, n.out, "%s (execfds: the same descriptors)", modes[m]);
        cr_expect_str_eq(r.err, n.err, "%s: the loader's line", modes[m]);
        cr_expect_eq(r.raw_status, n.raw_status);
        size_t nt = 0, nw = 0;
        mwt_trace *ts = mwt_trace_load_all(dir, &nt), *ws = mwt_trace_load_all(user_dir, &nw);
        cr_expect_eq(nt, 1, "the server's own trace (%zu)", nt);
        cr_expect_eq(nw, 1, "%s: the worker's trace, not its shell's (%zu)", modes[m], nw);
        if (nw) cr_expect_not_null(mwt_trace_with_live(ws, nw, 300), "the worker's block");
        mwt_traces_free(ts, nt);
        mwt_traces_free(ws, nw);
        mwt_run_free(&n);
        mwt_run_free(&r);
        mwt_rmtree(dir);
        free(dir);
    }
    mwt_rmtree(priv);
    free(priv);
}

/* A program that gives a new program arguments and an environment of its own making that fill
 * the kernel's bound to the byte starts it as natively: the variables the shim adds (its
 * LD_PRELOAD entry, MEMWATCH_*) had made the exec fail with E2BIG (133 bytes less room,
 * 2026-11-23); now it is tried again without them, untraced, with one line when the
 * program's own would fit. By execve and by posix_spawn. */
Test(shim_proc, an_exec_at_the_kernels_argument_limit_runs, .timeout = 120)
{
    static const char *const modes[] = { "exec", "spawn" };
    for (int m = 0; m < 2; m++) {
        char *dir = mwt_tmpdir();
        const char *argv[] = { mwt_victim("exec_at_limit"), modes[m], NULL };
        mwt_run n, r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
        cr_assert(strncmp(n.out, "max ", 4) == 0, "natively: %s %s", n.out, n.err);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
        cr_expect_str_eq(r.out, n.out, "%s: as much room as natively", modes[m]);
        cr_expect_eq(r.raw_status, n.raw_status);
        const char *line = "memwatch: a program's arguments and environment are past the kernel's limit (E2BIG) "
                           "with memwatch's variables added: it is started without them (untraced)\n";
        cr_expect(strstr(r.err, line) != NULL, "%s: the line: %s", modes[m], r.err);
        for (const char *q = r.err; *q; q += strlen(line)) /* nothing else */
            if (strncmp(q, line, strlen(line)) != 0) {
                cr_expect_fail("%s: stderr: %s", modes[m], r.err);
                break;
            }
        mwt_run_free(&n);
        mwt_run_free(&r);
        mwt_rmtree(dir);
        free(dir);
    }
}

/* The reach kind of the unfreed block of `size` bytes in t (0: none such, or no verdict). */
static uint64_t reach_of_size(const mwt_trace *t, uint64_t size)
{
    for (size_t i = 0; i < t->nblocks; i++)
        if (!t->blocks[i].freed && t->blocks[i].size == size) return t->blocks[i].reach;
    return 0;
}

/* A program that moves into a root without /proc (sshd's privilege separation, a sandbox)
 * keeps its verdicts and RSS samples, and so do the children it forks there: the shim opens
 * /proc before the root changes and reads it through that descriptor (procfs.c). Before, the
 * exit scan printed "could not read the memory map" and every block was "unknown", and a
 * child forked inside had no RSS sample (2026-11-23). By chroot(), syscall(SYS_chroot),
 * syscall(SYS_pivot_root) in a mount namespace of its own, and setns() into such a
 * namespace that a helper made. */
Test(shim_proc, a_chroot_without_proc_keeps_verdicts_and_rss, .timeout = 90)
{
    if (geteuid() != 0) cr_skip_test("chroot needs root");
    static const char *const modes[] = { "call", "syscall", "pivot", "setns" };
    for (int m = 0; m < 4; m++) {
        char *dir = mwt_tmpdir(), root[1024];
        snprintf(root, sizeof root, "%s/root", dir);
        cr_assert_eq(mkdir(root, 0755), 0);
        const char *argv[] = { mwt_victim("chroot_leak"), root, modes[m], NULL };
        const char *env[] = { "MEMWATCH_RSS_MS=20", NULL };
        mwt_run n, r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
        if (m >= 2 && n.exit_code == 77) { /* no mount namespace for us here (a container) */
            cr_log_warn("%s not tried: mount namespaces are not allowed here", modes[m]);
            mwt_run_free(&n);
            mwt_rmtree(dir);
            free(dir);
            continue;
        }
        cr_assert_str_eq(n.out, "ok\n", "%s natively: %s", modes[m], n.err);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
        cr_expect_str_eq(r.out, n.out, "%s", modes[m]);
        cr_expect_str_eq(r.err, n.err, "%s: no memwatch line", modes[m]);
        cr_expect_eq(r.raw_status, n.raw_status);
        size_t nt = 0;
        mwt_trace *ts = mwt_trace_load_all(dir, &nt);
        /* the program's and its child's; with setns also the helper's (forked before) */
        cr_expect_eq(nt, m == 3 ? 3u : 2u, "%s: traces (%zu)", modes[m], nt);
        unsigned leakers = 0;
        for (size_t i = 0; i < nt; i++) {
            const mwt_trace *t = &ts[i];
            cr_expect(t->has_end && t->end_reason == MW_END_EXIT, "%s %s: %s", modes[m], t->path, t->err);
            cr_expect_eq(reach_of_size(t, 111), MW_REACH_DEFINITE, "%s %s: the block forgotten before", modes[m], t->path);
            cr_expect_eq(reach_of_size(t, 333), MW_REACH_REACHABLE, "%s %s: the block kept", modes[m], t->path);
            for (size_t b = 0; b < t->nblocks; b++)
                cr_expect(t->blocks[b].freed || t->blocks[b].reach != MW_REACH_UNKNOWN,
                          "%s %s: a block of %" PRIu64 " bytes without a verdict", modes[m], t->path, t->blocks[b].size);
            if (reach_of_size(t, 222) == 0) continue;
            leakers++; /* the child forked inside: it stayed 250 ms with a sample every 20 */
            cr_expect_eq(reach_of_size(t, 222), MW_REACH_DEFINITE, "%s %s: the child's", modes[m], t->path);
            cr_expect_gt(t->rss_samples, 1, "%s %s: RSS samples in the child (%" PRIu64 ")", modes[m], t->path, t->rss_samples);
        }
        cr_expect_eq(leakers, 1, "%s: the child forked inside", modes[m]);
        mwt_traces_free(ts, nt);
        mwt_run_free(&n);
        mwt_run_free(&r);
        mwt_rmtree(dir);
        free(dir);
    }
}

/* A program that watches a global (MEMWATCH_WATCH) and then sandboxes itself with an
 * allow-list that has neither getpid nor gettid, writes the global again and leaves with
 * _exit(): as natively. Before the filter the shim ends every watch (so no write faults into
 * it), waits until its threads sit in their last system calls, and its _exit hook makes none
 * of its own once the program is sandboxed. Until 17:20 UTC on 2026-11-23 the first write
 * after the filter, and then the _exit hook's gettid(), got the process killed (SIGSYS). */
Test(shim_proc, a_sandbox_after_a_watch_runs_as_natively, .timeout = 60)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("seccomp_sandbox"), "watch", NULL };
    const char *env[] = { "MEMWATCH_WATCH=sandbox_watched", NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env }, &n), 0);
    cr_assert_eq(n.raw_status, 0, "natively: %s", n.err);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_eq(r.raw_status, n.raw_status, "status %#x under the shim, %#x natively: %s", (unsigned)r.raw_status,
                 (unsigned)n.raw_status, r.err);
    cr_expect_str_eq(r.out, n.out);
    size_t nt = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &nt);
    cr_assert_eq(nt, 1, "one trace: %zu", nt);
    cr_expect(ts[0].has_end, "%s", ts[0].err);
    cr_expect_eq(ts[0].end_reason, MW_END_SHUTDOWN);
    cr_expect_eq(ts[0].nrec[MW_REC_WATCH_REG], 1, "the watch was made");
    cr_expect_eq(ts[0].nrec[MW_REC_WATCH_UNREG], 1, "and ended before the filter");
    cr_expect_eq(ts[0].nrec[MW_REC_WATCH_WRITE], 1, "the write before the filter, none after it");
    mwt_traces_free(ts, nt);
    mwt_run_free(&n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
}

/* A program that sandboxes itself with a seccomp filter (tests/victims/seccomp_sandbox.c: an
 * allow-list, SIGSYS for the rest) runs as natively: the shim ends its trace before the filter
 * goes in (END reason shutdown, one line on stderr) and passes itself on to no program the
 * sandbox execs. Before 07:53 UTC on 2026-11-23 the shim's own system calls (its writer's,
 * the exit scan's) got the process killed with SIGSYS. */
Test(shim_proc, a_seccomp_sandbox_ends_the_trace_before_it, .timeout = 60)
{
    static const char *const modes[] = { "seccomp", "prctl", "errno", "exec" };
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        char *dir = mwt_tmpdir();
        const char *argv[] = { mwt_victim("seccomp_sandbox"), modes[m], NULL };
        mwt_run n, r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
        cr_assert_eq(n.raw_status, 0, "%s natively: %s", modes[m], n.err);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
        cr_expect_eq(r.raw_status, n.raw_status, "%s: status %#x under the shim, %#x natively", modes[m],
                     (unsigned)r.raw_status, (unsigned)n.raw_status);
        cr_expect_str_eq(r.out, n.out, "%s", modes[m]);
        cr_expect(strstr(r.err, "memwatch: the program installs a seccomp filter") != NULL, "%s: %s", modes[m], r.err);
        size_t nt = 0;
        mwt_trace *ts = mwt_trace_load_all(dir, &nt);
        cr_expect_eq(nt, 1, "%s: one trace (none for /bin/true): %zu", modes[m], nt);
        if (nt >= 1) {
            cr_expect(ts[0].has_end, "%s: %s", modes[m], ts[0].err);
            cr_expect_eq(ts[0].end_reason, MW_END_SHUTDOWN, "%s", modes[m]);
            cr_expect_eq(mwt_live_of_size(&ts[0], 1001), 1, "%s: kept before the filter", modes[m]);
            cr_expect_eq(mwt_live_of_size(&ts[0], 1003), 1, "%s", modes[m]);
            cr_expect_lt(ts[0].allocs, 1000, "%s: nothing after the filter (%lu allocations)", modes[m],
                         (unsigned long)ts[0].allocs);
        }
        mwt_traces_free(ts, nt);
        mwt_run_free(&n);
        mwt_run_free(&r);
        mwt_rmtree(dir);
    }
}

/* The calls libseccomp probes the kernel with install nothing, and tracing goes on through
 * them (man-db's tools make them at every start; they stopped it before 08:15 UTC on
 * 2026-11-23). */
Test(shim_proc, seccomp_probes_that_install_nothing_leave_tracing_on, .timeout = 60)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("seccomp_sandbox"), "probe", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_eq(r.raw_status, 0, "status %#x: %s", (unsigned)r.raw_status, r.err);
    cr_expect_str_eq(r.out, "probed ok\n");
    cr_expect(strstr(r.err, "seccomp") == NULL, "stderr: %s", r.err);
    size_t nt = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &nt);
    cr_assert_eq(nt, 1);
    cr_expect(ts[0].has_end);
    cr_expect_eq(ts[0].end_reason, MW_END_EXIT);
    cr_expect_geq(ts[0].allocs, 3000, "the allocations after the probes: %lu", (unsigned long)ts[0].allocs);
    mwt_traces_free(ts, nt);
    mwt_run_free(&r);
    mwt_rmtree(dir);
}

/* The shim's lines on stderr never raise SIGPIPE: with stderr a pipe whose reader has gone
 * (`2>&1 | head -c 1`), the line about a seccomp filter met EPIPE, and the program, which
 * natively wrote nothing more there, died of SIGPIPE (status 141) before 08:10 UTC on
 * 2026-11-23. */
Test(shim_proc, a_line_of_the_shims_into_a_closed_pipe_raises_no_sigpipe, .timeout = 60)
{
    char *dir = mwt_tmpdir();
    char script[2048];
    snprintf(script, sizeof script, "'%s' closedpipe 2>&1 | head -c 1 >/dev/null; exit ${PIPESTATUS[0]}",
             mwt_victim("seccomp_sandbox"));
    const char *argv[] = { "/bin/bash", "-c", script, NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_eq(n.exit_code, 0, "natively: status %#x: %s", (unsigned)n.raw_status, n.err);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_eq(r.exit_code, 0, "under the shim: the victim's status %d (141: SIGPIPE)", r.exit_code);
    mwt_run_free(&n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
}

/* exec and posix_spawn given a path, an environment array or an environment string the kernel
 * cannot read (tests/victims/exec_badptr.c): EFAULT as natively. The shim's hooks read the
 * path (the EXEC record) and the environment (what it passes on) first: the program died of
 * SIGSEGV there before 08:05 UTC on 2026-11-23. */
Test(shim_proc, exec_of_unreadable_pointers_fails_as_natively, .timeout = 60)
{
    static const char *const modes[] = { "path", "envp", "envstr", "spawn" };
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        char *dir = mwt_tmpdir();
        const char *argv[] = { mwt_victim("exec_badptr"), modes[m], NULL };
        mwt_run n, r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
        cr_assert_eq(n.raw_status, 0, "%s natively: %s", modes[m], n.err);
        cr_expect(strstr(n.out, "EFAULT") != NULL, "%s natively: %s", modes[m], n.out);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
        cr_expect_eq(r.raw_status, n.raw_status, "%s: status %#x under the shim", modes[m], (unsigned)r.raw_status);
        cr_expect_str_eq(r.out, n.out, "%s", modes[m]);
        size_t nt = 0;
        mwt_trace *ts = mwt_trace_load_all(dir, &nt);
        cr_expect_eq(nt, 1, "%s: %zu traces", modes[m], nt);
        if (nt == 1) cr_expect(ts[0].has_end, "%s: %s", modes[m], ts[0].err);
        mwt_traces_free(ts, nt);
        mwt_run_free(&n);
        mwt_run_free(&r);
        mwt_rmtree(dir);
    }
}

/* A program that looks at its signals' actions finds what it would natively
 * (tests/victims/sig_dispositions.c): no handler of the shim's. gdb warned about the shim's
 * credential-sync handler ("Found custom handler for signal 60 ... preinstalled") on every
 * start until 08:15 UTC on 2026-11-23. */
Test(shim_proc, a_program_sees_no_signal_handler_of_the_shims, .timeout = 60)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("sig_dispositions"), NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_eq(r.raw_status, n.raw_status);
    mwt_run_free(&n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
}

/* The list of libraries ldd prints, with each load address taken out. */
static void ldd_list(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = s; *p && o + 1 < cap; p++) {
        if (p[0] == '0' && p[1] == 'x') {
            p += 2;
            while (*p && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) p++;
            p--;
            continue;
        }
        out[o++] = *p;
    }
    out[o] = '\0';
}

/* ldd runs the dynamic loader with LD_TRACE_LOADED_OBJECTS=1, which lists the libraries it
 * would load and runs nothing: until 00:58 UTC on 2026-11-24 the shim and the libraries it
 * needs were in that list (a build's check of what a program links failed under `memwatch
 * run`). The same list as without the shim; ldd's shell itself is traced. */
Test(shim_proc, ldd_lists_what_it_lists_without_the_shim, .timeout = 60)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { "ldd", mwt_victim("reach_leaky"), NULL };
    mwt_run plain, traced;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &plain), 0);
    cr_assert_eq(plain.exit_code, 0, "%s", plain.err);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &traced), 0);
    cr_expect_eq(traced.exit_code, 0, "%s", traced.err);
    static char a[65536], b[65536];
    ldd_list(plain.out, a, sizeof a);
    ldd_list(traced.out, b, sizeof b);
    cr_expect_str_eq(b, a, "ldd's list under the shim");
    cr_expect_null(strstr(traced.out, "libmemwatch_preload"), "%s", traced.out);
    cr_expect_str_eq(traced.err, plain.err);
    size_t n = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &n);
    cr_expect_geq(n, 1, "ldd's shell is traced");
    mwt_traces_free(ts, n);
    mwt_run_free(&plain);
    mwt_run_free(&traced);
    mwt_rmtree(dir);
    free(dir);
}

/* A user limited to 2 tasks (RLIMIT_NPROC) whose program starts one thread, or forks one
 * child: natively it fits; under the shim the writer thread was the third task, and
 * pthread_create and fork failed with EAGAIN (until 09:19 UTC on 2026-11-24). Now tracing
 * ends to give the program the writer's task (preload/yield.c): one line, the program's
 * output and status as natively, its trace ended with reason shutdown. Run as a uid of each
 * case's own (the limit counts the user's tasks, and tests run side by side), with prlimit
 * and setpriv from util-linux. */
static void nproc_case(const char *mode, const char *call, unsigned uid)
{
    char *dir = mwt_tmpdir();
    cr_assert_eq(chmod(dir, 0777), 0);
    char ru[32], rg[32];
    snprintf(ru, sizeof ru, "--reuid=%u", uid);
    snprintf(rg, sizeof rg, "--regid=%u", uid);
    const char *argv[] = { "/usr/bin/prlimit", "--nproc=2:2", "/usr/bin/setpriv", ru, rg, "--clear-groups",
                           mwt_victim("nproc_limit"), mode, NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect(strstr(n.out, ": ok"), "natively: %s%s", n.out, n.err);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_eq(r.raw_status, n.raw_status);
    char want[128];
    snprintf(want, sizeof want, "the program's %s failed for want of a task or memory, and", call);
    cr_expect(strstr(r.err, want), "%s", r.err);
    /* and nothing else, but for a child the program started at the limit, which could not
     * start a writer thread of its own */
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"),
                 1 + mwt_count_lines(r.err, "memwatch: cannot start the writer thread (Resource temporarily "
                                            "unavailable); not tracing this process"),
                 "%s", r.err);
    size_t nt = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &nt);
    const mwt_trace *t = NULL;
    for (size_t i = 0; i < nt; i++)
        if (strstr(ts[i].path, "nproc_limit")) t = &ts[i];
    cr_assert(t, "no trace of the program");
    cr_expect(t->has_end, "%s", t->err);
    cr_expect_eq(t->end_reason, MW_END_SHUTDOWN);
    mwt_traces_free(ts, nt);
    mwt_run_free(&n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}
Test(shim_proc, a_thread_the_task_limit_allows_natively_is_started) { nproc_case("thread", "pthread_create", 61234); }
Test(shim_proc, a_fork_the_task_limit_allows_natively_is_made) { nproc_case("fork", "fork", 61235); }
Test(shim_proc, a_spawn_the_task_limit_allows_natively_is_made) { nproc_case("spawn", "posix_spawn", 61236); }
Test(shim_proc, a_system_the_task_limit_allows_natively_runs) { nproc_case("system", "system", 61237); }
Test(shim_proc, a_popen_the_task_limit_allows_natively_runs) { nproc_case("popen", "popen", 61238); }
