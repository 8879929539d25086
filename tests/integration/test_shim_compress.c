/*
 * test_shim_compress.c — the writer's per-frame compression choice (preload/writer_level.c),
 * seen from outside: the trace's zstd frames carry their window size, which tells the
 * settings apart (first frame 128 KiB; plain level 1 512 KiB; level 1 with long-distance
 * matching and the strong setting 2 MiB). Repetitive records get a 2 MiB window and a trace far
 * smaller than level 1 gives; random churn never leaves plain level 1; fast churn after
 * repetitive records ends the strong setting and ends at plain level 1; an explicit
 * MEMWATCH_ZSTD_LEVEL is used for every frame. In every case the program's output is
 * unchanged and the trace decodes to the same records.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader */
#include <zstd.h>

#include "mwtest.h"

static char *dir;
static void setup(void) { dir = mwt_tmpdir(); }
static void teardown(void)
{
    mwt_rmtree(dir);
    free(dir);
}
TestSuite(shim_compress, .init = setup, .fini = teardown);

typedef struct frames {
    size_t n;
    unsigned long long window[4096];
    size_t file_size;
} frames;

/* Walks the trace's zstd frames (it must end with a complete frame: a clean exit). */
static void read_frames(const char *path, frames *f)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "%s", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *d = malloc((size_t)n);
    cr_assert_eq(fread(d, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    f->n = 0;
    f->file_size = (size_t)n;
    size_t pos = 0;
    while (pos < (size_t)n) {
        ZSTD_frameHeader h;
        cr_assert_eq(ZSTD_getFrameHeader(&h, d + pos, (size_t)n - pos), 0, "frame header at %zu", pos);
        size_t len = ZSTD_findFrameCompressedSize(d + pos, (size_t)n - pos);
        cr_assert(!ZSTD_isError(len), "frame at %zu: %s", pos, ZSTD_getErrorName(len));
        cr_assert_lt(f->n, 4096);
        f->window[f->n++] = h.windowSize;
        pos += len;
    }
    free(d);
}

/* Runs compress_mix MODE N natively and traced (extra env), compares the output, returns the
 * decoded trace and its frames. */
static void run(const char *mode, const char *count, const char *const *env, mwt_trace *t, frames *f)
{
    const char *argv[] = { mwt_victim("compress_mix"), mode, count, NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_eq(r.raw_status, n.raw_status);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 0, "stderr: %s", r.err);
    cr_assert_eq(mwt_trace_load_one(dir, t), 0, "%s", t->err);
    cr_assert(t->has_end);
    read_frames(t->path, f);
    unlink(t->path);
    mwt_run_free(&n);
    mwt_run_free(&r);
}

static size_t frames_with(const frames *f, unsigned long long window)
{
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) k += f->window[i] == window;
    return k;
}

Test(shim_compress, repetitive_records_get_the_long_window_and_a_small_trace)
{
    mwt_trace a, l;
    frames fa, fl;
    const char *lvl1[] = { "MEMWATCH_ZSTD_LEVEL=1", NULL };
    run("repeat", "100000", NULL, &a, &fa);
    run("repeat", "100000", lvl1, &l, &fl);
    /* the same records */
    cr_expect(a.allocs >= 1200000 && a.allocs < 1200100, "%llu allocs", (unsigned long long)a.allocs); /* + libc's */
    cr_expect_eq(a.allocs, l.allocs);
    cr_expect_eq(a.frees, l.frees);
    cr_expect_eq(a.bytes_allocated, l.bytes_allocated);
    cr_expect_eq(a.nnodes, l.nnodes);
    /* auto: a small first frame, then 2 MiB windows (strong, or level 1 with long matching) */
    cr_expect_eq(fa.window[0], 128u << 10, "first frame window %llu", fa.window[0]);
    cr_expect_gt(frames_with(&fa, 2u << 20), 0, "no frame with the 2 MiB window of %zu", fa.n);
    cr_expect_lt(fa.file_size * 2, fl.file_size, "auto %zu bytes, level 1 %zu", fa.file_size, fl.file_size);
    /* coded runs only before the writer has seen the records repeat (the first frames): 2.4 M
     * events in runs of at most 32768 would otherwise make at least 73 CODED_RUN records */
    cr_expect_leq(a.nrec[MW_REC_CODED_RUN], 8, "%llu runs", (unsigned long long)a.nrec[MW_REC_CODED_RUN]);
    cr_expect_leq(l.nrec[MW_REC_CODED_RUN], 8, "%llu runs", (unsigned long long)l.nrec[MW_REC_CODED_RUN]);
    /* explicit level: every frame the same setting */
    cr_expect_eq(frames_with(&fl, 2u << 20), fl.n, "level 1: %zu of %zu frames at 2 MiB", frames_with(&fl, 2u << 20), fl.n);
    mwt_trace_free(&a);
    mwt_trace_free(&l);
}

/* Repetitive records, then fast random churn: the strong setting the first part earned is
 * left as soon as the records stop compressing 2:1 or the writer falls behind, and the churn
 * ends at plain level 1. */
Test(shim_compress, strong_setting_is_left_when_the_records_stop_repeating)
{
    mwt_trace t;
    frames f;
    run("mixed", "100000", NULL, &t, &f);
    cr_expect(t.allocs >= 7200000 && t.allocs < 7200100, "%llu allocs", (unsigned long long)t.allocs); /* 12 per request, then 60 N pairs */
    size_t first_long = f.n, last = f.n - 1;
    for (size_t i = 1; i < f.n && first_long == f.n; i++)
        if (f.window[i] == 2u << 20) first_long = i;
    cr_expect_lt(first_long, f.n, "the repetitive part never got the 2 MiB window (%zu frames)", f.n);
    cr_expect_eq(f.window[last], 512u << 10, "last of %zu frames has window %llu", f.n, f.window[last]);
    mwt_trace_free(&t);
}

Test(shim_compress, random_churn_stays_at_plain_level_1)
{
    mwt_trace t;
    frames f;
    const char *env[] = { "MEMWATCH_ZSTD_LEVEL=auto", NULL };
    run("random", "400000", env, &t, &f);
    cr_expect(t.allocs >= 400000 && t.allocs < 400100, "%llu allocs", (unsigned long long)t.allocs);
    cr_expect(t.frees >= 400000 && t.frees < 400100, "%llu frees", (unsigned long long)t.frees);
    cr_expect_gt(f.n, 1);
    cr_expect_eq(f.window[0], 128u << 10);
    for (size_t i = 1; i < f.n; i++)
        cr_expect_lt(f.window[i], 2u << 20, "frame %zu of %zu has window %llu", i, f.n, f.window[i]);
    mwt_trace_free(&t);
}

/* Coded runs (format version 3) on random churn: the same events as with MEMWATCH_CODED_RUNS=0,
 * every thread's unfreed blocks included, in CODED_RUN records, and a third less file. */
Test(shim_compress, coded_runs_hold_the_same_events_in_less)
{
    mwt_trace c, p;
    frames fc, fp;
    const char *off[] = { "MEMWATCH_CODED_RUNS=0", NULL };
    run("random", "400000", NULL, &c, &fc);
    run("random", "400000", off, &p, &fp);
    cr_expect_gt(c.nrec[MW_REC_CODED_RUN], 5, "%llu runs", (unsigned long long)c.nrec[MW_REC_CODED_RUN]);
    cr_expect_eq(p.nrec[MW_REC_CODED_RUN], 0);
    cr_expect_eq(c.allocs, p.allocs);
    cr_expect_eq(c.frees, p.frees);
    cr_expect_eq(c.bytes_allocated, p.bytes_allocated);
    cr_expect_eq(c.live_blocks, p.live_blocks);
    cr_expect_eq(c.live_bytes, p.live_bytes);
    cr_expect_eq(c.unknown_frees, 0);
    cr_expect_eq(p.unknown_frees, 0);
    cr_expect_lt(fc.file_size * 10, fp.file_size * 8, "coded %zu bytes, plain %zu", fc.file_size, fp.file_size);
    mwt_trace_free(&c);
    mwt_trace_free(&p);
}
