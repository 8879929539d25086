/*
 * test_build.c — promises of the Makefile itself that the rest of the suite, which runs on an
 * existing build directory, cannot see: a build into a directory that does not exist yet, as
 * on a fresh clone, with parallel jobs. Dry runs (make -n): nothing is built twice.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "mwtest.h"

/* `make -j2 all` on a fresh clone stopped at once ("open: build/.sources: No such file or
 * directory", 2026-11-23): the source list's rule wrote the file with $(file), which make
 * runs as it expands the recipe, before the recipe's mkdir. Plain `make` ordered the rules
 * so the directory was there first. */
Test(build, a_fresh_build_directory_with_parallel_jobs)
{
    char *dir = mwt_tmpdir();
    static const char *const goals[] = { "all", "tests-build", "demo" };
    for (int i = 0; i < 3; i++) {
        char cmd[4096], errp[1200];
        snprintf(errp, sizeof errp, "%s/err", dir);
        snprintf(cmd, sizeof cmd, "make -s -n -j2 -C '%s' B='%s/build%d' %s > /dev/null 2> '%s'",
                 mwt_src_dir(), dir, i, goals[i], errp);
        int rc = system(cmd);
        char err[2048] = "";
        FILE *f = fopen(errp, "r");
        if (f) {
            size_t n = fread(err, 1, sizeof err - 1, f);
            err[n] = 0;
            fclose(f);
        }
        cr_expect_eq(rc, 0, "make -n -j2 %s into a new directory: %s", goals[i], err);
    }
    mwt_rmtree(dir);
    free(dir);
}
