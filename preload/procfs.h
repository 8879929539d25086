/*
 * procfs.h — the shim's way into /proc, kept when the program changes its root (procfs.c).
 * Shared by the tracing core and the watch core, which include it alone.
 */
#ifndef MW_PROCFS_H
#define MW_PROCFS_H

#include <stdbool.h>
#include <sys/types.h>

/* open(2) of a "/proc/..." path (O_CLOEXEC added; any other path opened as given), by raw
 * system calls: no cancellation point, no errno but the call's own. After the program moved
 * its root it is opened in the /proc kept from before (mw_proc_keep). */
int mw_proc_open(const char *path, int flags);
/* readlink(2) of a "/proc/..." path, the same way; the length read or -1. */
ssize_t mw_proc_readlink(const char *path, char *buf, size_t cap);
/* Before a chroot() or pivot_root(): /proc opened and kept (once; protected like the trace
 * file, close-on-exec) when it is a proc file system. */
void mw_proc_keep(void);
/* fork child: keeps the parent's descriptor (registered again) when it goes on tracing, else
 * closes it. */
void mw_proc_child_keeps(bool keep);

#endif
