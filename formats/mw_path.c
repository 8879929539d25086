/*
 * mw_path.c — execvp's PATH search (mw_path.h), linked into the shim and the runner.
 */
#include "mw_path.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *mw_path_search(const char *file, char *buf, size_t cap)
{
    if (!file[0] || strchr(file, '/')) return file;
    const char *dirs = getenv("PATH");
    if (!dirs) dirs = "/bin:/usr/bin";
    size_t fl = strlen(file);
    int e = errno;
    for (const char *d = dirs;; d = strchrnul(d, ':') + 1) {
        const char *end = strchrnul(d, ':');
        size_t dl = (size_t)(end - d);
        bool ok = dl + 1 + fl < cap;
        if (dl == 0) { /* the working directory, into buf (getcwd(2): no allocation) */
            long n = syscall(SYS_getcwd, buf, cap);
            ok = n > 1 && buf[0] == '/' && (size_t)n + fl < cap; /* not "(unreachable)..." */
            dl = ok && n > 2 ? (size_t)n - 1 : 0;                /* "/" needs no second slash */
        } else if (ok) {
            memcpy(buf, d, dl);
        }
        if (ok) {
            buf[dl] = '/';
            memcpy(buf + dl + 1, file, fl + 1);
            struct stat st;
            if (access(buf, X_OK) == 0 && stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
                errno = e;
                return buf;
            }
        }
        if (!*end) break;
    }
    errno = e;
    return NULL;
}
