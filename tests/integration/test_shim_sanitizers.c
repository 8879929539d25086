/*
 * test_shim_sanitizers.c — programs built with gcc's -fsanitize=address, thread and leak
 * (victims san_asan, san_tsan, san_lsan: two threads, a child through system(), a leak)
 * run under the shim exactly as they run alone: the same stdout, the same exit status, the
 * same stderr (the sanitizer's own reports, process ids and addresses aside) but for the
 * shim's one line saying the process is not traced; their child (sh) is traced.
 *
 * Before 00:50 UTC on 2026-11-24: the ASan program died at start ("ASan runtime does not come
 * first in initial library list", status 1), the TSan one reported the shim's writer thread
 * as a data race (status 66), and with ASan's malloc behind the shim its exit scan tripped
 * ASan (a heap-buffer-overflow in the shim's code).
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mwtest.h"

/* stderr without the shim's lines, "==PID==" and "pid=N" without their numbers, hex numbers
 * without their digits. */
static char *normalize(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n + 1), *w = o;
    cr_assert_not_null(o);
    const char *p = s;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);
        if (strncmp(p, "memwatch:", 9) != 0) {
            for (size_t i = 0; i < len; i++) {
                if (p[i] == '0' && p[i + 1] == 'x') {
                    *w++ = '0';
                    *w++ = 'x';
                    i += 2;
                    while (i < len && isxdigit((unsigned char)p[i])) i++;
                    i--;
                } else if (isdigit((unsigned char)p[i]) && i > 0 && (p[i - 1] == '=' )) {
                    while (i < len && isdigit((unsigned char)p[i])) i++;
                    i--;
                } else {
                    *w++ = p[i];
                }
            }
        }
        p += len;
    }
    *w = '\0';
    return o;
}

static void same_as_alone(const char *victim, const char *sanitizer, int status, const char *leak)
{
    const char *argv[] = { mwt_victim(victim), NULL };
    char *dir = mwt_tmpdir();
    mwt_run plain, traced;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &plain), 0);
    cr_assert_eq(plain.exit_code, status, "%s alone: status %d: %s", victim, plain.exit_code, plain.err);
    cr_assert(strstr(plain.out, " sum 3 child 3\n"), "%s alone: %s", victim, plain.out);
    if (leak) cr_assert(strstr(plain.err, leak), "%s alone reports its leak: %s", victim, plain.err);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &traced), 0);
    cr_expect_eq(traced.exit_code, plain.exit_code, "%s: status %d under the shim, %d alone: %s", victim,
                 traced.exit_code, plain.exit_code, traced.err);
    cr_expect_str_eq(traced.out, plain.out);
    char *a = normalize(plain.err), *b = normalize(traced.err);
    cr_expect_str_eq(b, a, "%s: stderr under the shim differs", victim);
    free(a);
    free(b);
    cr_expect_eq(mwt_count_lines(traced.err, "memwatch: not tracing"), 1, "%s: %s", victim, traced.err);
    cr_expect(strstr(traced.err, sanitizer), "%s: the line names %s: %s", victim, sanitizer, traced.err);
    cr_expect_eq(mwt_count_lines(traced.err, "memwatch:"), 1, "%s: one line only: %s", victim, traced.err);
    size_t n = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &n);
    /* its children's only: sh, and for clang's ASan the llvm-symbolizer its report runs */
    size_t shells = 0;
    for (size_t i = 0; i < n; i++) {
        cr_expect_null(strstr(ts[i].exe, victim), "%s: a trace of its own: %s", victim, ts[i].path);
        shells += strstr(ts[i].exe, "sh") != NULL;
        cr_expect(ts[i].has_end, "%s: %s", ts[i].path, ts[i].err);
    }
    cr_expect_eq(shells, 1, "%s: the child sh is traced (%zu traces)", victim, n);
    mwt_traces_free(ts, n);
    mwt_run_free(&plain);
    mwt_run_free(&traced);
    mwt_rmtree(dir);
    free(dir);
}

Test(shim_sanitizers, address_sanitizer_program_runs_as_alone, .timeout = 120)
{
    same_as_alone("san_asan", "AddressSanitizer", 1, "Direct leak of 77 byte(s)");
}

Test(shim_sanitizers, thread_sanitizer_program_runs_as_alone, .timeout = 120)
{
    same_as_alone("san_tsan", "ThreadSanitizer", 0, NULL);
}

/* clang's: the runtime in the executable, whose malloc comes before the shim's. Until 00:47
 * UTC on 2026-11-24 the TSan one was "a malloc of its own", traced, and reported the shim's
 * thread as a data race (status 66); until 00:57 the ASan one was traced without its heap and
 * without its exit status (main, unwrapped since 00:47, gave it). */
Test(shim_sanitizers, thread_sanitizer_linked_in_runs_as_alone, .timeout = 120)
{
    same_as_alone("san_tsan_clang", "ThreadSanitizer", 0, NULL);
}

Test(shim_sanitizers, address_sanitizer_linked_in_runs_as_alone, .timeout = 120)
{
    same_as_alone("san_asan_clang", "AddressSanitizer", 1, "Direct leak of 77 byte(s)");
}

Test(shim_sanitizers, leak_sanitizer_program_runs_as_alone, .timeout = 120)
{
    same_as_alone("san_lsan", "LeakSanitizer", 23, "Direct leak of 77 byte(s)");
}

/* `memwatch run` of a shell that starts such a program: the program's output, and the report
 * says why it has no trace. */
Test(shim_sanitizers, memwatch_run_says_why_there_is_no_trace, .timeout = 120)
{
    char runner[4096], script[4200];
    snprintf(runner, sizeof runner, "%s/memwatch", mwt_build_dir());
    snprintf(script, sizeof script, "%s; true", mwt_victim("san_tsan"));
    char *dir = mwt_tmpdir();
    const char *argv[] = { runner, "run", "--out", dir, "--", "/bin/sh", "-c", script, NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &r), 0);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "tsan sum 3 child 3\n"), "%s", r.out);
    cr_expect(strstr(r.out, "it is built with ThreadSanitizer, which the shim stays out of") ||
                  strstr(r.err, "it is built with ThreadSanitizer, which the shim stays out of"),
              "%s%s", r.out, r.err);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}
