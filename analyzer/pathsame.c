/*
 * pathsame.c — whether two paths name the same file (see pathsame.h).
 */
#include "pathsame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* path as it will be once made: its directory's real path and its file name; "" when the
 * directory cannot be resolved. */
static void new_path(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    char *real = realpath(dir, NULL);
    if (real) snprintf(out, len, "%s/%s", real, slash ? slash + 1 : path);
    else out[0] = '\0';
    free(real);
}

bool mw_path_same(const char *a, const char *b)
{
    struct stat sa, sb;
    bool ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea || eb) return ea && eb && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char ca[8192], cb[8192];
    new_path(a, ca, sizeof ca);
    new_path(b, cb, sizeof cb);
    return ca[0] ? strcmp(ca, cb) == 0 : strcmp(a, b) == 0;
}
