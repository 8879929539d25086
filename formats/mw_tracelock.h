/*
 * mw_tracelock.h — the lock a running process holds on its trace file (mw_tracelock.c).
 *
 * The shim's writer takes it when it creates the trace and holds it while its descriptor is
 * open; the process's exit, an exec or the writer's close after the END record drops it. So a
 * reader can tell a trace still being written (its process runs) from one that ended without
 * an END record (its process was killed): `memwatch run` waits for the programs CMD started
 * that outlive it, and the analyzer's "no end record" says which of the two it is.
 */
#ifndef MW_TRACELOCK_H
#define MW_TRACELOCK_H

#include <stdbool.h>

/* The writer's side: an advisory write lock on the whole file, by the open file description
 * (F_OFD_SETLK), so moving the descriptor to another number (dup, then close of the old one)
 * keeps it and a forked child closing its copy does not drop it. A file system without locks
 * leaves the trace unmarked: false. */
bool mw_tracelock_hold(int fd);
/* The reader's side: does some process hold the lock on the file open at fd? false also when
 * the file system cannot say. */
bool mw_tracelock_held(int fd);
/* The same by path: a regular file only (opened read-only, for a moment). */
bool mw_tracelock_held_path(const char *path);

#endif /* MW_TRACELOCK_H */
