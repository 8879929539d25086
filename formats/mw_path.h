/*
 * mw_path.h — the PATH search of execvp and posix_spawnp, once for the shim (its EXEC and SPAWN
 * records name the file a name without a slash ran) and the runner (`memwatch run` says why a
 * program it started left no trace).
 */
#ifndef MW_PATH_H
#define MW_PATH_H

#include <stddef.h>

/* The program execvp(file) runs: file itself when it is empty or has a slash; else the first
 * entry of PATH ("/bin:/usr/bin" when unset, as glibc's) holding an executable regular file of
 * that name, written into buf (an empty entry is the working directory). NULL when none does.
 * System calls only, no allocation, errno kept: usable in a vfork child. */
const char *mw_path_search(const char *file, char *buf, size_t cap);

#endif /* MW_PATH_H */
