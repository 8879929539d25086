/*
 * test_shim_own_malloc.c — a program whose executable defines malloc itself (chromium's
 * PartitionAlloc, jemalloc or tcmalloc linked statically): the shim's hooks never see its heap,
 * and says so (one stderr line, a HEADER flag the reports show); and its fork children, whose
 * allocator frees its locks in a child handler that runs after the shim's, trace and end as
 * natively (they waited for ever: chromium's crashpad handler stayed behind every run).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mwtest.h"

Test(shim_own_malloc, forks_end_and_the_trace_says_the_heap_is_not_seen, .timeout = 90)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("own_malloc"), NULL };
    mwt_run plain, traced;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &plain), 0);
    cr_assert_eq(plain.exit_code, 0, "natively: %s", plain.err);
    cr_assert_str_eq(plain.out, "child ok\nparent ok 0\n");
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir,
                                        .timeout_ms = 30000 }, &traced), 0);
    cr_assert(!traced.timed_out, "the program did not end (its fork child waits for a lock)");
    cr_assert_eq(traced.exit_code, 0, "stderr: %s", traced.err);
    cr_assert_str_eq(traced.out, plain.out);
    cr_expect_eq(mwt_count_lines(traced.err, "memwatch:"), 1, "stderr: %s", traced.err);
    cr_expect(strstr(traced.err, "own_malloc has a malloc of its own, found before the shim's") != NULL,
              "stderr: %s", traced.err);

    size_t n = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &n);
    cr_assert_eq(n, 2, "a trace for the parent and one for its child (%zu)", n);
    for (size_t i = 0; i < n; i++) {
        cr_expect(ts[i].has_end, "%s: no END (%s)", ts[i].path, ts[i].err);
        cr_expect(ts[i].flags & MW_HF_MALLOC_SHADOWED, "%s: flags %#lx", ts[i].path,
                  (unsigned long)ts[i].flags);
        cr_expect_eq(ts[i].allocs, 0, "the program's own malloc is not the shim's");
    }
    cr_expect(ts[0].nmaps + ts[1].nmaps >= 1, "mappings are traced");

    /* every report format says so */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/memwatch-analyze", mwt_build_dir());
    const char *fmts[] = { "text", "json", "md", "html" };
    const char *want[] = { "malloc is the program's own", "\"malloc_shadowed\": true",
                           "**malloc is the program's own**", "<th>heap</th><td class=\"warn\">malloc is the program's own" };
    for (size_t f = 0; f < 4; f++) {
        const char *av[] = { cmd, "--db", ":memory:", "--format", fmts[f], ts[0].path, NULL };
        mwt_run a;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = av }, &a), 0);
        cr_expect(strstr(a.out, want[f]) != NULL, "%s report lacks %s", fmts[f], want[f]);
        mwt_run_free(&a);
    }
    mwt_traces_free(ts, n);
    mwt_run_free(&plain);
    mwt_run_free(&traced);
    mwt_rmtree(dir);
    free(dir);
}

Test(shim_own_malloc, quiet_leaves_the_line_out, .timeout = 60)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("own_malloc"), NULL };
    const char *env[] = { "MEMWATCH_QUIET=1", NULL };
    mwt_run traced;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir,
                                        .timeout_ms = 30000 }, &traced), 0);
    cr_assert_eq(traced.exit_code, 0, "stderr: %s", traced.err);
    cr_expect_str_eq(traced.err, "");
    mwt_run_free(&traced);
    mwt_rmtree(dir);
    free(dir);
}

Test(shim_own_malloc, an_allocator_after_the_shim_is_traced_and_its_fork_children_end, .timeout = 90)
{
    char *dir = mwt_tmpdir();
    char lib[4096];
    snprintf(lib, sizeof lib, "LD_PRELOAD=%s/tests/victims/libbump_alloc.so", mwt_build_dir());
    const char *env[] = { lib, NULL };
    const char *argv[] = { mwt_victim("fork_alloc"), NULL };
    mwt_run plain, traced;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env }, &plain), 0);
    cr_assert_str_eq(plain.out, "child ok\nparent ok 0\n", "natively: %s", plain.err);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir,
                                        .timeout_ms = 30000 }, &traced), 0);
    cr_assert(!traced.timed_out, "the program did not end (its fork child waits for a lock)");
    cr_assert_eq(traced.exit_code, 0, "stderr: %s", traced.err);
    cr_assert_str_eq(traced.out, plain.out);
    cr_expect_eq(mwt_count_lines(traced.err, "memwatch:"), 0, "stderr: %s", traced.err);
    size_t n = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &n);
    cr_assert_eq(n, 2, "a trace for the parent and one for its child (%zu)", n);
    for (size_t i = 0; i < n; i++) {
        cr_expect(ts[i].has_end, "%s: no END (%s)", ts[i].path, ts[i].err);
        cr_expect_not(ts[i].flags & MW_HF_MALLOC_SHADOWED, "%s", ts[i].path);
    }
    cr_expect_not_null(mwt_trace_with_live(ts, n, 100), "the child's 100-byte block, through the shim");
    mwt_traces_free(ts, n);
    mwt_run_free(&plain);
    mwt_run_free(&traced);
    mwt_rmtree(dir);
    free(dir);
}

/* A program linked without PIE that takes malloc's address (tests/victims/nopie_malloc_addr.c,
 * as node is built): dlsym finds its PLT entry, an undefined symbol, not a malloc of its own.
 * Nothing on stderr, no flag in the trace, and its heap is traced (it said "has a malloc of
 * its own" on every run of node before 05:24 UTC on 2026-11-23). */
Test(shim_own_malloc, a_canonical_plt_entry_is_no_malloc_of_its_own, .timeout = 60)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("nopie_malloc_addr"), NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "ok\n");
    cr_expect_str_eq(r.err, "");
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_expect_eq(t.flags & MW_HF_MALLOC_SHADOWED, 0, "flags %#lx", (unsigned long)t.flags);
    cr_expect_eq(mwt_live_of_size(&t, 4321), 1, "the leaked block is traced");
    mwt_trace_free(&t);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* An allocator before the shim that defines every malloc function but reallocarray (glibc's
 * own malloc-debug library, with MALLOC_CHECK_=3): reallocarray reaches the shim, which must
 * hand it to that allocator's realloc. Until 21:45 UTC on 2026-11-23 it went to the C
 * library's, whose block malloc-debug's free() refused: "free(): invalid pointer", abort
 * (ls /etc died so). The shim also missed that allocator (it defines only the versioned
 * malloc@GLIBC_2.2.5, which an unversioned lookup does not find) and did not say its heap
 * is not seen. */
Test(shim_own_malloc, a_malloc_debug_library_before_the_shim_keeps_reallocarray_its_own, .timeout = 60)
{
    const char *dbg = "/lib/x86_64-linux-gnu/libc_malloc_debug.so.0";
    cr_assert_eq(access(dbg, R_OK), 0, "%s is part of libc6", dbg);
    char *dir = mwt_tmpdir();
    char pre_native[600], pre_traced[5000], out[4200];
    snprintf(pre_native, sizeof pre_native, "LD_PRELOAD=%s", dbg);
    snprintf(pre_traced, sizeof pre_traced, "LD_PRELOAD=%s %s/libmemwatch_preload.so", dbg, mwt_build_dir());
    snprintf(out, sizeof out, "MEMWATCH_OUT=%s/%%e.%%p.trace.zst", dir);
    const char *progs[][3] = { { mwt_victim("reallocarray_free"), NULL, NULL }, { "/bin/ls", "/etc", NULL } };
    for (int k = 0; k < 2; k++) {
        mwt_run n, r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = progs[k],
                                            .env = (const char *const[]){ pre_native, "MALLOC_CHECK_=3", NULL } },
                               &n), 0);
        cr_assert_eq(n.exit_code, 0, "natively: %s", n.err);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = progs[k],
                                            .env = (const char *const[]){ pre_traced, "MALLOC_CHECK_=3", out, NULL } },
                               &r), 0);
        cr_expect_eq(r.exit_code, 0, "%s under the shim: status %d, %s", progs[k][0], r.raw_status, r.err);
        cr_expect_str_eq(r.out, n.out, "%s", progs[k][0]);
        cr_expect(strstr(r.err, "libc_malloc_debug.so.0 has a malloc of its own, found before the shim's"),
                  "%s", r.err);
        mwt_run_free(&n);
        mwt_run_free(&r);
    }
    mwt_rmtree(dir);
    free(dir);
}

/* operator new's failure paths through the shim's operators, with each malloc behind it whose
 * operators it routes (hooks_cxx.c): bad_alloc thrown through the shim's frames, the nothrow
 * form, a new_handler's loop, an over-aligned new[]: the same output as without the shim. */
Test(shim_own_malloc, cxx_new_failure_paths_behave_as_without_the_shim, .timeout = 60)
{
    static const char *const libs[] = { NULL, "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
                                        "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
                                        "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2" };
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        char pre[256];
        snprintf(pre, sizeof pre, "LD_PRELOAD=%s", libs[i] ? libs[i] : "");
        const char *env[] = { pre, NULL };
        const char *argv[] = { mwt_victim("cxx_new_fail"), NULL };
        char *dir = mwt_tmpdir();
        mwt_run plain, traced;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env }, &plain), 0);
        /* Debian's mimalloc, a C library, cannot throw: its new aborts where the others throw */
        bool completes = !strstr(pre, "mimalloc");
        if (completes)
            cr_assert_str_eq(plain.out, "bad_alloc\nnothrow null\nnew_handler ran 3 times\naligned new[]: 0\nnew int 7\n",
                             "%s alone: %s", pre, plain.err);
        else
            cr_assert_eq(plain.term_signal, SIGABRT, "%s alone: %s", pre, plain.err);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &traced), 0);
        cr_expect_eq(traced.exit_code, plain.exit_code, "%s: %s", pre, traced.err);
        cr_expect_eq(traced.term_signal, plain.term_signal, "%s: %s", pre, traced.err);
        cr_expect_str_eq(traced.out, plain.out, "%s", pre);
        size_t n = 0;
        mwt_trace *ts = mwt_trace_load_all(dir, &n);
        cr_expect_eq(n, 1, "%s", pre);
        if (n == 1) {
            if (completes)
                cr_expect(ts[0].has_end, "%s: %s", ts[0].path, ts[0].err);
            else /* a death by a signal: no END, the signal recorded */
                cr_expect_eq(ts[0].fatal_signo, (uint64_t)SIGABRT, "%s: %s", ts[0].path, ts[0].err);
            if (completes)
                cr_expect_geq(mwt_allocs_of_size(&ts[0], 768), 1, "%s: the aligned new[] of 3 x 256 bytes is traced", pre);
        }
        mwt_traces_free(ts, n);
        mwt_run_free(&plain);
        mwt_run_free(&traced);
        mwt_rmtree(dir);
        free(dir);
    }
}
