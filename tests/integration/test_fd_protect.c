/*
 * test_fd_protect.c — the trace survives a program that closes or dup2()s over every
 * descriptor (tests/victims/fd_closer.c), even with the raw close_range system call the hooks
 * cannot see (the writer opens the file again by its path), and the program's own file never
 * receives a trace byte: its output file holds exactly what it wrote, the trace is complete
 * (END record, not truncated) and holds every leak.
 */
#include <criterion/criterion.h>
#include <stdio.h>
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
