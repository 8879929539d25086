/*
 * test_analyzer_robust.c — the analyzer never crashes on a damaged trace: a real trace's raw
 * stream is cut, overwritten and spliced at seeded-random places, and every variant is fed
 * to the ASan+UBSan build. Each run must exit 0 (reported, possibly truncated) or 3 (one
 * error line), with no sanitizer report, in every report format.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "mwtest.h"


Test(analyzer_robust, damaged_traces_never_crash, .timeout = 300)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = {mwt_victim("analyzer_leak"), NULL};
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = argv, .preload = true, .trace_dir = dir}, &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    mwt_run_free(&r);
    char **paths;
    size_t n = mwt_find_traces(dir, &paths);
    cr_assert_eq(n, 1);
    char raw[4200], mut[4200];
    snprintf(raw, sizeof raw, "%s/raw", dir);
    snprintf(mut, sizeof mut, "%s/mut", dir);
    cr_assert_neq(mwt_unzstd(paths[0], raw), (size_t)-1, "cannot decompress %s", paths[0]);
    mwt_free_list(paths, n);
    FILE *f = fopen(raw, "rb");
    static unsigned char data[1 << 20], buf[(1 << 20) + 64];
    size_t len = fread(data, 1, sizeof data, f);
    fclose(f);
    cr_assert_gt(len, 100);
    static const char *const formats[] = {"json", "text", "html", "md"};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 48; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        size_t m = len;
        memcpy(buf, data, len);
        size_t at = 12 + (size_t)(seed % (len - 12));
        switch (i % 3) {
        case 0: m = at; break;                                    /* cut */
        case 1:                                                   /* overwrite bytes */
            for (int k = 0; k < 1 + (int)(seed >> 60); k++)
                buf[12 + (seed >> (k * 3)) % (len - 12)] = (unsigned char)(seed >> (k * 5));
            break;
        default:                                                  /* splice junk in */
            memmove(buf + at + 16, buf + at, len - at);
            for (int k = 0; k < 16; k++) buf[at + k] = (unsigned char)(seed >> (k * 4));
            m = len + 16;
        }
        f = fopen(mut, "wb");
        fwrite(buf, 1, m, f);
        fclose(f);
        const char *args[] = {NULL, mut, "--db", ":memory:", "--format", formats[i % 4], "-o",
                              "/dev/null", NULL};
        char an[4200];
        snprintf(an, sizeof an, "%s/asan/memwatch-analyze", mwt_build_dir());
        args[0] = an;
        cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = args}, &r), 0);
        cr_expect(r.exit_code == 0 || r.exit_code == 3, "case %d: exit %d: %s", i, r.exit_code, r.err);
        cr_expect_null(strstr(r.err, "Sanitizer"), "case %d: %s", i, r.err);
        cr_expect_null(strstr(r.err, "runtime error"), "case %d: %s", i, r.err);
        if (r.exit_code == 3) cr_expect_eq(mwt_count_lines(r.err, "memwatch-analyze:"), 1, "case %d: %s", i, r.err);
        mwt_run_free(&r);
    }
    mwt_rmtree(dir);
    free(dir);
}
