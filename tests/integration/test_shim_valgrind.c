/*
 * test_shim_valgrind.c — the shim under valgrind's memcheck. The shim cannot run under ASan
 * (it is the allocator's interposer), so its own memory accesses are checked here: valgrind
 * runs the victim with the shim preloaded and --soname-synonyms=somalloc=nouserintercepts, so
 * memcheck intercepts only libc's malloc and the shim's hooks run in front of it. Any memcheck
 * error fails the test (--error-exitcode), except the two the shim causes on purpose
 * (tests/valgrind/shim.supp: libunwind's address probe, the stack-slot scan). The victims
 * exercise threads, frees by other threads and the per-thread live-block tables, realloc,
 * thread exit, state recycling and takeover, signal handlers that allocate, C++, the writer,
 * and the reachability scan at exit; the trace the victim wrote under valgrind must hold
 * exactly what it did.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mwtest.h"

#define VG_ERROR_EXIT 97

/* Runs victim (with one optional argument) natively and under valgrind + shim; returns the
 * victim's own trace (the valgrind launcher script and valgrind.bin write theirs too). */
static mwt_trace *run_under_valgrind(const char *victim, const char *arg, mwt_trace **all, size_t *n,
                                     char **dir)
{
    *dir = mwt_tmpdir();
    cr_assert(*dir);
    const char *nargv[] = { mwt_victim(victim), arg, NULL };
    mwt_run native, vg;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = nargv }, &native), 0);
    char supp[1100], code[32];
    snprintf(supp, sizeof supp, "--suppressions=%s/tests/valgrind/shim.supp", mwt_src_dir());
    snprintf(code, sizeof code, "--error-exitcode=%d", VG_ERROR_EXIT);
    const char *vargv[] = { "valgrind", "-q", "--soname-synonyms=somalloc=nouserintercepts", code, supp,
                            mwt_victim(victim), arg, NULL };
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = vargv, .preload = true, .trace_dir = *dir,
                                        .timeout_ms = 300000 }, &vg), 0);
    cr_expect_eq(vg.exit_code, native.exit_code, "exit %d under valgrind (%d: memcheck errors):\n%s",
                 vg.exit_code, VG_ERROR_EXIT, vg.err);
    cr_expect_str_eq(vg.out, native.out, "stdout differs under valgrind");
    cr_expect_eq(mwt_count_lines(vg.err, "memwatch:"), 0, "%s", vg.err);
    *all = mwt_trace_load_all(*dir, n);
    mwt_trace *mine = NULL;
    for (size_t i = 0; i < *n; i++) {
        const char *base = strrchr((*all)[i].exe, '/');
        if (base && strcmp(base + 1, victim) == 0) mine = &(*all)[i];
    }
    cr_assert(mine, "no trace of %s among %zu", victim, *n);
    cr_expect(mine->has_end);
    cr_expect_eq(mine->status, MW_EOF, "%s", mine->err);
    cr_expect_eq(mine->lost_events, 0);
    cr_expect_eq(mine->unknown_frees, 0);
    mwt_run_free(&native);
    mwt_run_free(&vg);
    return mine;
}

static void done(mwt_trace *all, size_t n, char *dir)
{
    mwt_traces_free(all, n);
    mwt_rmtree(dir);
    free(dir);
}

Test(shim_valgrind, threads_and_key_destructors, .timeout = 400)
{
    mwt_trace *all;
    size_t n;
    char *dir;
    mwt_trace *t = run_under_valgrind("shim_threads", NULL, &all, &n, &dir);
    for (int w = 0; w < 4; w++)
        cr_expect_eq(mwt_live_of_size(t, 40000 + (uint64_t)w), (size_t)w + 1, "worker %d leaks", w);
    cr_expect_eq(mwt_live_of_size(t, 777), 0, "freed by another thread");
    cr_expect_eq(mwt_live_of_size(t, 55555), 0, "freed by key destructors");
    done(all, n, dir);
}

Test(shim_valgrind, signal_handlers_and_cxx, .timeout = 400)
{
    /* a handler that allocates (the hook re-entered from a signal), longjmp out of it, C++
     * new/delete and exceptions: nothing memcheck objects to */
    const char *victims[] = { "shim_signal", "shim_cxx" };
    for (size_t v = 0; v < sizeof victims / sizeof *victims; v++) {
        mwt_trace *all;
        size_t n;
        char *dir;
        mwt_trace *t = run_under_valgrind(victims[v], NULL, &all, &n, &dir);
        cr_expect_gt(t->allocs, 0, "%s", victims[v]);
        done(all, n, dir);
    }
}

Test(shim_valgrind, reachability_scan, .timeout = 400)
{
    /* the scan at exit reads roots, stacks and the live heap (process_vm_readv into memory
     * of its own): every unfreed block of these victims gets a verdict. Which verdict is
     * test_reach_victims.c's business, natively: under memcheck, valgrind's own anonymous
     * mappings (which hold every block's address in memcheck's malloc bookkeeping) look like
     * the program's mappings, so blocks lost natively may be reachable here. */
    const char *victims[] = { "reach_leaky", "reach_threads" };
    for (size_t v = 0; v < sizeof victims / sizeof *victims; v++) {
        mwt_trace *all;
        size_t n;
        char *dir;
        mwt_trace *t = run_under_valgrind(victims[v], NULL, &all, &n, &dir);
        size_t unfreed = 0, verdicts = 0;
        for (size_t i = 0; i < t->nblocks; i++) {
            if (t->blocks[i].freed) continue;
            unfreed++;
            if (t->blocks[i].reach != MW_REACH_UNKNOWN) verdicts++;
        }
        cr_expect_gt(unfreed, 0, "%s", victims[v]);
        cr_expect_eq(verdicts, unfreed, "%s: %zu of %zu unfreed blocks have a verdict", victims[v], verdicts,
                     unfreed);
        done(all, n, dir);
    }
}

Test(shim_valgrind, cross_thread_tables, .timeout = 400)
{
    mwt_trace *all;
    size_t n;
    char *dir;
    mwt_trace *t = run_under_valgrind("shim_cross", "2000", &all, &n, &dir);
    cr_expect_eq(mwt_allocs_of_size(t, 1111), 2000);
    cr_expect_eq(mwt_live_of_size(t, 1111), 0);
    cr_expect_eq(mwt_live_of_size(t, 1313), 150);
    cr_expect_eq(mwt_live_of_size(t, 2222), 120);
    cr_expect_eq(mwt_live_of_size(t, 6666), 500);
    size_t left, swapped = mwt_allocs_in_sizes(t, 5000, 5100, &left);
    cr_expect_eq(swapped, 8000);
    cr_expect_eq(left, 0);
    done(all, n, dir);
}

Test(shim_valgrind, threads_taking_over_states, .timeout = 400)
{
    /* each thread takes over the state, ring and live blocks of the one before (thread.c's
     * take_over_exited, shim_takeover.c): memcheck sees the handover, and the blocks are
     * still exactly the ones left */
    mwt_trace *all;
    size_t n;
    char *dir;
    mwt_trace *t = run_under_valgrind("shim_takeover", NULL, &all, &n, &dir);
    size_t left = 0;
    for (uint64_t k = 1; k <= 10; k++)
        left += mwt_live_of_size(t, 1400 + k) + mwt_live_of_size(t, 1500 + k) + mwt_live_of_size(t, 1600 + k);
    cr_expect_eq(left, 9 * 18 + 20 + 10 * 2 + 9 * 2, "%zu", left);
    done(all, n, dir);
}

Test(shim_valgrind, shared_table_by_chunk, .timeout = 400)
{
    /* the shared table's chunk tables, their pool and the exit scan over them (shim_bigheap.c:
     * 200 000 blocks, shuffled frees, an exited thread's blocks moved over): memcheck sees
     * every access, and the trace still holds exactly what the victim left */
    mwt_trace *all;
    size_t n;
    char *dir;
    mwt_trace *t = run_under_valgrind("shim_bigheap", NULL, &all, &n, &dir);
    size_t left = 0;
    for (uint64_t size = 21; size <= 581; size += 16) left += mwt_live_of_size(t, size);
    cr_expect_eq(left, 49000, "%zu", left);
    cr_expect_eq(mwt_live_of_size(t, 200000), 32);
    cr_expect_eq(mwt_live_of_size(t, 1500), 1000);
    size_t from_thread = mwt_allocs_in_sizes(t, 3000, 3100, &left);
    cr_expect_eq(from_thread, 5000);
    cr_expect_eq(left, 2500);
    done(all, n, dir);
}
