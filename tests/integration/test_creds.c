/*
 * test_creds.c — programs that manage per-thread credentials run under the shim exactly as
 * without it: a victim doing setpriv's PR_SET_KEEPCAPS + setresuid + capset + setresgid
 * sequence (glibc aborts the process when set*id fails in any thread, and the shim has
 * threads of its own), and the real setpriv(1), which need root (skipped otherwise); and a
 * program that resets every signal's action before such a call, which does not.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "mwtest.h"

static void same_with_and_without_shim(const char *const *argv, const char *want_out)
{
    char *dir = mwt_tmpdir();
    mwt_run plain, traced;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &plain), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &traced), 0);
    cr_assert_eq(plain.exit_code, 0, "natively: %s", plain.err);
    cr_assert_str_eq(plain.out, want_out);
    cr_assert_eq(traced.term_signal, 0, "killed by signal %d under the shim; stderr: %s",
                 traced.term_signal, traced.err);
    cr_assert_eq(traced.exit_code, plain.exit_code, "stderr: %s", traced.err);
    cr_assert_str_eq(traced.out, plain.out);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_assert(t.has_end, "the trace is complete");
    mwt_trace_free(&t);
    mwt_run_free(&plain);
    mwt_run_free(&traced);
    mwt_rmtree(dir);
    free(dir);
}

Test(creds, keepcaps_capset_setresgid_sequence, .timeout = 60)
{
    if (geteuid() != 0) cr_skip_test("needs root");
    const char *argv[] = { mwt_victim("creds_drop"), NULL };
    same_with_and_without_shim(argv, "uid=65534 gid=65534\n");
}

Test(creds, real_setpriv, .timeout = 60)
{
    if (geteuid() != 0) cr_skip_test("needs root");
    if (access("/usr/bin/setpriv", X_OK) != 0) cr_skip_test("setpriv not installed");
    const char *argv[] = { "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           "/usr/bin/id", "-u", NULL };
    same_with_and_without_shim(argv, "65534\n");
}

/* chromium's children reset every signal's action (through the system call) before they
 * exec, and set PR_SET_NO_NEW_PRIVS: the shim's signal for repeating that in its threads then
 * had its default action and ended the child (chromium: "GPU process isn't usable. Goodbye").
 * A handler of the program's own on that signal must not be run by the shim either. */
Test(creds, options_after_every_signal_action_was_reset, .timeout = 60)
{
    const char *argv[] = { mwt_victim("creds_reset_signals"), NULL };
    same_with_and_without_shim(argv, "nnp=1 own=0\n");
}
