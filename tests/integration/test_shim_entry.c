/*
 * test_shim_entry.c — every allocation entry point is recorded with the right kind and size,
 * the unfreed set at exit is exactly what the victim leaked, mappings are recorded, and the
 * program's output and exit status are the same as without the shim.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mwtest.h"

static const uint64_t leak_sizes[] = { 10001, 10003, 10007, 10011, 10013, 10048, 10019, 10021, 10030 };
#define NLEAKS (sizeof leak_sizes / sizeof leak_sizes[0])

static void run_entry(mwt_trace *t, mwt_run *native, mwt_run *traced, char **dir_out)
{
    char *dir = mwt_tmpdir();
    cr_assert(dir);
    char tmpf[512];
    snprintf(tmpf, sizeof tmpf, "%s/scratch.txt", dir);
    const char *argv[] = { mwt_victim("shim_entry"), tmpf, NULL };
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, native), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, traced), 0);
    cr_assert_eq(mwt_trace_load_one(dir, t), 0, "%s", t->err);
    *dir_out = dir;
}

Test(shim_entry, transparent_output_and_status)
{
    mwt_trace t;
    mwt_run n, r;
    char *dir;
    run_entry(&t, &n, &r, &dir);
    cr_assert_eq(n.exit_code, 3);
    cr_assert_eq(r.exit_code, 3);
    cr_assert_str_eq(r.out, n.out);
    cr_assert_str_eq(r.err, "", "stderr under the shim: %s", r.err);
    cr_assert(strstr(n.out, "FAILED") == NULL, "%s", n.out);
    cr_assert(t.has_end);
    cr_assert_eq(t.exit_status, 3);
    cr_assert_eq(t.lost_events, 0);
    cr_assert_eq(t.unknown_frees, 0);
    mwt_trace_free(&t);
    mwt_run_free(&n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

Test(shim_entry, kinds_sizes_and_exact_leaks)
{
    mwt_trace t;
    mwt_run n, r;
    char *dir;
    run_entry(&t, &n, &r, &dir);
    cr_assert(t.flags & MW_HF_ALLOC_TRACING);
    /* each kind seen with its size */
    struct { unsigned kind; uint64_t size; } want[] = {
        { MW_AK_MALLOC, 1001 },         { MW_AK_MALLOC, 10001 },     { MW_AK_CALLOC, 10003 },
        { MW_AK_REALLOC, 100 },         { MW_AK_REALLOCARRAY, 10011 }, { MW_AK_POSIX_MEMALIGN, 10013 },
        { MW_AK_ALIGNED_ALLOC, 10048 }, { MW_AK_MEMALIGN, 10019 },   { MW_AK_VALLOC, 10021 },
        { MW_AK_PVALLOC, 4096 },        { MW_AK_MALLOC, 10030 },    /* strdup */
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bool found = false;
        for (size_t j = 0; j < t.nblocks; j++)
            if (t.blocks[j].kind == want[i].kind && t.blocks[j].size == want[i].size) found = true;
        cr_expect(found, "no %s block of %llu bytes", mw_alloc_kind_name(want[i].kind),
                  (unsigned long long)want[i].size);
    }
    /* the realloc chain: 100 -> 200 -> 300000 -> 10007, three REALLOC records */
    cr_expect_eq(mwt_allocs_of_size(&t, 200), 1);
    cr_expect_eq(mwt_allocs_of_size(&t, 300000), 1);
    cr_expect_geq(t.reallocs, 3);
    /* the failed calls (reallocarray overflow, posix_memalign EINVAL) left no record */
    for (size_t j = 0; j < t.nblocks; j++)
        cr_expect(t.blocks[j].size < (1ull << 40), "a failed call was recorded");
    /* libc's own callers reach the hooks (sizes as glibc 2.36 allocates them): asprintf's
     * result "asprintf-12345" (15 bytes), fopen's FILE (472) and stdio buffer (4096), getline's
     * first buffer (120) — each allocated and freed */
    const uint64_t libc_sizes[] = { 15, 472, 120 };
    for (size_t i = 0; i < 3; i++) {
        cr_expect_geq(mwt_allocs_of_size(&t, libc_sizes[i]), 1, "no %llu-byte block",
                      (unsigned long long)libc_sizes[i]);
        cr_expect_eq(mwt_live_of_size(&t, libc_sizes[i]), 0);
    }
    /* the unfreed set is exactly the leaks */
    uint64_t want_bytes = 0;
    for (size_t i = 0; i < NLEAKS; i++) {
        want_bytes += leak_sizes[i];
        cr_expect_eq(mwt_live_of_size(&t, leak_sizes[i]), 1, "leak of %llu", (unsigned long long)leak_sizes[i]);
    }
    for (size_t j = 0; j < t.nblocks; j++)
        if (!t.blocks[j].freed)
            cr_log_info("live: kind %llu size %llu", (unsigned long long)t.blocks[j].kind,
                        (unsigned long long)t.blocks[j].size);
    cr_expect_eq(t.live_blocks, NLEAKS);
    cr_expect_eq(t.live_bytes, want_bytes);
    /* stacks: the leaked malloc(10001) was called from main in the victim's executable */
    for (size_t j = 0; j < t.nblocks; j++) {
        if (t.blocks[j].size != 10001) continue;
        uint64_t ips[64];
        size_t d = mwt_stack_ips(&t, t.blocks[j].stack, ips, 64);
        cr_expect_geq(d, 2, "stack depth %zu", d);
        const mwt_module *m = d ? mwt_module_of(&t, ips[0]) : NULL;
        cr_expect(m && strstr(m->path, "shim_entry"), "frame 0 not in the victim: %s", m ? m->path : "?");
    }
    mwt_trace_free(&t);
    mwt_run_free(&n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

Test(shim_entry, mappings_and_modules)
{
    mwt_trace t;
    mwt_run n, r;
    char *dir;
    run_entry(&t, &n, &r, &dir);
    size_t pg = 4096;
    bool anon = false, file = false;
    for (size_t i = 0; i < t.nmaps; i++) {
        if (t.maps[i].len == 3 * pg && (t.maps[i].flags & MAP_ANONYMOUS)) anon = true;
        if (t.maps[i].len == pg && strstr(t.maps[i].path, "scratch.txt") && t.maps[i].unmapped) file = true;
    }
    cr_expect(anon, "anonymous 3-page mmap not recorded");
    cr_expect(file, "file mapping (with its path) and its munmap not recorded");
    cr_expect_geq(t.munmaps, 2);
    cr_expect_eq(t.mremaps, 1);
    bool exe = false, libc = false;
    for (size_t i = 0; i < t.nmodules; i++) {
        if (strstr(t.modules[i].path, "shim_entry")) exe = t.modules[i].build_id_len > 0;
        if (strstr(t.modules[i].path, "libc.so")) libc = true;
    }
    cr_expect(exe, "victim module with build id missing");
    cr_expect(libc, "libc module missing");
    cr_expect_geq(t.nrec[MW_REC_LIMITS], 1);
    mwt_trace_free(&t);
    mwt_run_free(&n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* A program's own sbrk/brk: each growth of the data segment is an anonymous mapping named
 * "[brk]" with its stack, each shrink a munmap of the part given back; what the program
 * added is a root of the reachability scan (glibc's heap, which shares [heap] with it, is
 * not), so a block whose only pointer is kept there is still reachable, and one whose
 * pointer was in the part given back is lost. */
Test(shim_entry, sbrk_and_brk_of_the_program)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("shim_brk"), NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_null(strstr(n.out, "FAILED"), "%s", n.out);
    cr_expect_eq(r.raw_status, n.raw_status);
    cr_expect_eq(mwt_count_lines(r.err, "memwatch:"), 0, "%s", r.err);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    size_t grown = 0, grown64 = 0, grown8 = 0;
    for (size_t i = 0; i < t.nmaps; i++) {
        if (strcmp(t.maps[i].path, "[brk]")) continue;
        grown++;
        cr_expect(t.maps[i].flags & MAP_ANONYMOUS);
        grown64 += t.maps[i].len == 65536;
        grown8 += t.maps[i].len == 8192;
    }
    cr_expect_eq(grown, 2, "%zu [brk] mappings", grown);
    cr_expect(grown64 == 1 && grown8 == 1);
    cr_expect_eq(t.munmaps, 2, "the two shrinks");
    size_t kept = 0, lost = 0;
    for (size_t i = 0; i < t.nblocks; i++) {
        if (t.blocks[i].freed) continue;
        if (t.blocks[i].size == 10061) kept = t.blocks[i].reach;
        if (t.blocks[i].size == 10063) lost = t.blocks[i].reach;
    }
    cr_expect_eq(kept, MW_REACH_REACHABLE, "the block kept in sbrk'd memory: verdict %zu", kept);
    cr_expect_eq(lost, MW_REACH_DEFINITE, "the block whose pointer was given back: verdict %zu", lost);
    mwt_trace_free(&t);
    mwt_run_free(&n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}
