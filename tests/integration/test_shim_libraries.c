/*
 * test_shim_libraries.c — the libraries the shim brings stay out of the program's way: the
 * functions a program resolves are the ones it resolves without the shim, and a program that
 * brings its own copy of a library the shim uses starts and runs with it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mwtest.h"

/* The C++ exception ABI's functions a program resolves are libgcc_s's, as without the shim:
 * libunwind.so.8, the shim's library, exports them too (unversioned), and before 08:30 UTC on
 * 2026-11-24 it came first for a program that does not link libgcc_s itself, whose C++
 * exceptions then went through libunwind's implementation (the shim now needs libgcc_s ahead
 * of libunwind). */
Test(shim_libraries, cxx_exceptions_keep_libgcc_s_unwinder)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("unwinder_binding"), NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_str_eq(n.out, "libgcc_s\n");
    cr_expect_str_eq(r.out, n.out);
    mwt_run_free(&n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* A program with its own libzstd.so.1 (found through its RPATH; tests/victims/lib/own_zstd.c
 * is not zstd at all) starts and runs under the shim as without it, and is traced: the shim
 * has zstd linked in (Makefile, SHIM_LIBS). Until 09:25 UTC on 2026-11-24 the program's
 * library served the name libzstd.so.1 to the shim too, which then lacked its compressor's
 * functions: "symbol lookup error", exit 127. */
Test(shim_libraries, a_program_with_its_own_libzstd_runs_with_it)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("own_zstd_app"), NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_str_eq(n.out, "bundled zstd says 42\n");
    cr_expect_str_eq(r.out, n.out, "%s", r.err);
    cr_expect_eq(r.raw_status, n.raw_status);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect_eq(mwt_live_of_size(&t, 4343), 1);
    cr_expect(t.has_end);
    mwt_trace_free(&t);
    mwt_run_free(&n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}
