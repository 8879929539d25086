/*
 * textfile.c — a small user-supplied file read whole, bounded (see textfile.h). Shared by the
 * suppressions (suppress.c) and alert-rule (alerts.c) loaders and the analyzer's --trace-list
 * (cli.c).
 */
#include "textfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *mw_file_read(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    const char *why = buf ? NULL : "out of memory";
    while (!why) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (got == 0) break;
        n += got;
        if (n > max) {
            why = "too large";
            break;
        }
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) why = "out of memory";
            else {
                buf = nb;
                cap *= 2;
            }
        }
    }
    if (!why && ferror(f)) why = strerror(errno ? errno : EIO);
    fclose(f);
    if (why) {
        if (strcmp(why, "too large") == 0) snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
        else snprintf(err, errlen, "%s: %s", path, why);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

char *mw_text_file_read(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    size_t n;
    char *buf = mw_file_read(path, max, &n, err, errlen);
    if (buf && memchr(buf, '\0', n)) {
        snprintf(err, errlen, "%s: not a text file (contains NUL bytes)", path);
        free(buf);
        return NULL;
    }
    if (buf) *len = n;
    return buf;
}
