/*
 * test_fd_protect.c — the trace survives a program that closes or dup2()s over every
 * descriptor (tests/victims/fd_closer.c), even with the raw close_range system call the hooks
 * cannot see (the writer opens the file again by its path), and the program's own file never
 * receives a trace byte: its output file holds exactly what it wrote, the trace is complete
 * (END record, not truncated) and holds every leak. A program that opens every descriptor
 * its limit allows gets as many as natively (tests/victims/fd_exhaust.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mwtest.h"

Test(fd_protect, trace_survives_close_all_and_dup2_over_it, .timeout = 60)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("fd_closer"), dir, NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "done\n");
    cr_assert_eq(mwt_count_lines(r.err, "memwatch:"), 0, "no complaint from the shim: %s", r.err);

    char path[4096], buf[64] = "";
    snprintf(path, sizeof path, "%s/out.txt", dir);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    cr_assert_eq(n, 6, "out.txt must hold only the program's 6 bytes, got %zu", n);
    cr_assert_str_eq(buf, "hello\n");

    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    cr_assert(t.has_end, "the trace ends with its END record (status %d: %s)", t.status, t.err);
    cr_assert_eq(t.status, MW_EOF, "%s", t.err);
    bool saw777 = false, saw666 = false, saw555 = false;
    for (size_t i = 0; i < t.nblocks; i++) {
        if (t.blocks[i].size == 777 && !t.blocks[i].freed) saw777 = true;
        if (t.blocks[i].size == 666 && !t.blocks[i].freed) saw666 = true;
        if (t.blocks[i].size == 555 && !t.blocks[i].freed) saw555 = true;
    }
    cr_assert(saw777 && saw666 && saw555, "every leak is in the trace");
    cr_assert_eq(t.lost_events, 0);
    mwt_trace_free(&t);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* A program that opens files until EMFILE (tests/victims/fd_exhaust.c, soft limit 64, the hard
 * one higher) opens as many, with the same numbers, as natively: the shim's descriptors lie
 * above the soft limit (before, its five took five of the program's). Its exit scan, with
 * every number below the limit taken, opens its /proc files above it: verdicts, no line. */
Test(fd_protect, a_program_opening_every_descriptor_gets_as_many_as_natively, .timeout = 60)
{
    char *dir = mwt_tmpdir();
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ulimit -Sn 64 && exec %s", mwt_victim("fd_exhaust"));
    const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_eq(n.exit_code, 0, "%s", n.err);
    cr_assert(strstr(n.out, "opened "), "%s", n.out);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 0, "%s", r.err);
    char **paths;
    size_t k = mwt_find_traces(dir, &paths);
    const mwt_trace *v = NULL;
    mwt_trace ts[4];
    for (size_t i = 0; i < k && i < 4; i++) {
        cr_assert_eq(mwt_trace_load(paths[i], &ts[i]), 0, "%s", ts[i].err);
        if (mwt_live_of_size(&ts[i], 30035)) v = &ts[i];
    }
    cr_assert_not_null(v, "no trace with the victim's block among %zu", k);
    cr_expect(v->has_end);
    cr_expect_gt(v->nrec[MW_REC_REACH], 0, "the exit scan gave verdicts");
    for (size_t i = 0; i < k && i < 4; i++) mwt_trace_free(&ts[i]);
    mwt_free_list(paths, k);
    mwt_rmtree(dir);
    free(dir);
    mwt_run_free(&n);
    mwt_run_free(&r);
}
