/*
 * locate.c — finds the shim and memwatch-analyze for the runner: beside the runner binary
 * (the build tree: build/), or in the installed layout ($prefix/bin + $prefix/lib/memwatch).
 * MEMWATCH_PRELOAD names the shim explicitly.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"

static int exists(const char *p) { return access(p, R_OK) == 0; }

int mw_runner_locate(char *shim, size_t shim_len, char *analyzer, size_t analyzer_len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "memwatch: cannot find my own executable: %s\n", strerror(errno));
        return -1;
    }
    self[n] = '\0';
    char *dir = dirname(self);

    const char *env = getenv("MEMWATCH_PRELOAD");
    if (env && *env) {
        if (env[0] != '/' || !exists(env)) {
            fprintf(stderr, "memwatch: MEMWATCH_PRELOAD=%s: not an absolute path to a readable file\n", env);
            return -1;
        }
        snprintf(shim, shim_len, "%s", env);
    } else {
        snprintf(shim, shim_len, "%s/libmemwatch_preload.so", dir);
        if (!exists(shim)) snprintf(shim, shim_len, "%s/../lib/memwatch/libmemwatch_preload.so", dir);
        if (!exists(shim)) {
            fprintf(stderr, "memwatch: libmemwatch_preload.so not found beside %s or in ../lib/memwatch (set MEMWATCH_PRELOAD)\n", dir);
            return -1;
        }
        char real[PATH_MAX];
        if (realpath(shim, real)) snprintf(shim, shim_len, "%s", real);
    }
    snprintf(analyzer, analyzer_len, "%s/memwatch-analyze", dir);
    if (access(analyzer, X_OK) != 0) {
        fprintf(stderr, "memwatch: memwatch-analyze not found beside %s\n", dir);
        return -1;
    }
    return 0;
}
