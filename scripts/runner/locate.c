/*
 * locate.c — finds the shim and memwatch-analyze for the runner: beside the runner binary
 * (the build tree: build/), or in the installed layout ($prefix/bin + $prefix/lib/memwatch).
 * MEMWATCH_PRELOAD names the shim explicitly. A shim whose path LD_PRELOAD cannot carry is
 * given through a link of our own (mw_runner_shim_link).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"
#include "say.h"

static int exists(const char *p) { return access(p, R_OK) == 0; }

int mw_runner_locate(char *shim, size_t shim_len, char *analyzer, size_t analyzer_len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        mw_say("memwatch: cannot find my own executable: %s\n", strerror(errno));
        return -1;
    }
    self[n] = '\0';
    char *dir = dirname(self);

    const char *env = getenv("MEMWATCH_PRELOAD");
    if (env && *env) {
        if (env[0] != '/' || !exists(env)) {
            mw_say("memwatch: MEMWATCH_PRELOAD=%s: not an absolute path to a readable file\n", env);
            return -1;
        }
        snprintf(shim, shim_len, "%s", env);
    } else {
        snprintf(shim, shim_len, "%s/libmemwatch_preload.so", dir);
        if (!exists(shim)) snprintf(shim, shim_len, "%s/../lib/memwatch/libmemwatch_preload.so", dir);
        if (!exists(shim)) {
            mw_say("memwatch: libmemwatch_preload.so not found beside %s or in ../lib/memwatch (set MEMWATCH_PRELOAD)\n", dir);
            return -1;
        }
        char real[PATH_MAX];
        if (realpath(shim, real)) snprintf(shim, shim_len, "%s", real);
    }
    snprintf(analyzer, analyzer_len, "%s/memwatch-analyze", dir);
    if (access(analyzer, X_OK) != 0) {
        mw_say("memwatch: memwatch-analyze not found beside %s\n", dir);
        return -1;
    }
    return 0;
}

/* LD_PRELOAD separates its entries with spaces and colons and cannot quote one: a shim in
 * "/home/u/My Projects/memwatch/build" was two entries the loader could not open, one error
 * line each in the program's stderr, and no trace (until 02:02 UTC on 2026-11-24). Such a shim
 * is passed on as a symbolic link to it in a directory made for the run (/tmp, else
 * /dev/shm: mode 0755, so a program that becomes another user still reaches it), which
 * mw_runner_shim_unlink removes once the traces are analyzed (a program started after that,
 * by a daemon the run left behind, gets no entry: the shim checks that it can open its file
 * before each exec). */
int mw_runner_shim_link(char *shim, size_t shim_len, char *dir, size_t dir_len)
{
    dir[0] = '\0';
    if (!strpbrk(shim, " :")) return 0;
    static const char *const bases[] = { "/tmp", "/dev/shm" };
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        snprintf(dir, dir_len, "%s/memwatch-shim-XXXXXX", bases[i]);
        if (!mkdtemp(dir)) continue;
        char link[PATH_MAX];
        snprintf(link, sizeof link, "%s/libmemwatch_preload.so", dir);
        if (chmod(dir, 0755) == 0 && symlink(shim, link) == 0) {
            snprintf(shim, shim_len, "%s", link);
            return 0;
        }
        rmdir(dir);
    }
    mw_say("memwatch: %s: LD_PRELOAD cannot carry a path with a space or a colon, and no link to it "
           "could be made in /tmp or /dev/shm: %s\n", shim, strerror(errno));
    dir[0] = '\0';
    return -1;
}

void mw_runner_shim_unlink(const char *dir)
{
    if (!dir[0]) return;
    char link[PATH_MAX];
    snprintf(link, sizeof link, "%s/libmemwatch_preload.so", dir);
    unlink(link);
    rmdir(dir);
}
