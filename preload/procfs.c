/*
 * procfs.c — the shim's way into /proc, kept when the program changes its root.
 *
 * The shim reads /proc throughout a run: the memory map and the threads' stacks for the exit
 * scan, statm and status for the RSS samples, the executable's and mapped files' names, a
 * writer's stack for the watch core. A program that chroot()s or pivot_root()s into a tree
 * without /proc (sshd's privilege separation, build sandboxes, small daemons) took all of it
 * away: its unfreed blocks got no verdict, its forked children no RSS sample (2026-11-23).
 * So before the root changes (process.c's chroot, syscall(SYS_chroot / SYS_pivot_root)) the
 * shim opens /proc as an O_PATH directory, protected like the trace file (hooks_fd.c) and
 * close-on-exec, and from then on opens "/proc/..." relative to it. "self" and
 * "thread-self" in it name the caller whatever its root. Before each use the descriptor is
 * checked to be that directory still (a raw close_range the hooks cannot see may have freed
 * the number for the program's own files); if not, the path is opened as given.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mw_shim.h"
#include "procfs.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

static int proc_fd = -1;          /* the kept /proc, or -1 */
static dev_t proc_dev;
static ino_t proc_ino;
static pthread_mutex_t keep_lock = PTHREAD_MUTEX_INITIALIZER;

/* The kept /proc's descriptor if it is still that directory, else -1. */
static int kept(void)
{
    int fd = __atomic_load_n(&proc_fd, __ATOMIC_ACQUIRE);
    if (fd < 0) return -1;
    struct stat st;
    if (syscall(SYS_fstat, fd, &st) != 0 || st.st_dev != proc_dev || st.st_ino != proc_ino) return -1;
    return fd;
}

/* The directory and name to reach path by. */
static int at_of(const char *path, const char **name)
{
    *name = path;
    if (strncmp(path, "/proc/", 6) != 0) return AT_FDCWD;
    int fd = kept();
    if (fd < 0) return AT_FDCWD;
    *name = path + 6;
    return fd;
}

int mw_proc_open(const char *path, int flags)
{
    const char *name;
    int d = at_of(path, &name);
    return (int)syscall(SYS_openat, d, name, flags | O_CLOEXEC, 0);
}

ssize_t mw_proc_readlink(const char *path, char *buf, size_t cap)
{
    const char *name;
    int d = at_of(path, &name);
    return syscall(SYS_readlinkat, d, name, buf, cap);
}

void mw_proc_keep(void)
{
    pthread_mutex_lock(&keep_lock);
    if (proc_fd < 0) {
        int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        struct statfs sf;
        struct stat st;
        /* O_PATH descriptors answer fstatfs and fstat */
        if (fd >= 0 && (syscall(SYS_fstatfs, fd, &sf) != 0 || sf.f_type != PROC_SUPER_MAGIC ||
                        syscall(SYS_fstat, fd, &st) != 0)) {
            syscall(SYS_close, fd);
            fd = -1;
        }
        if (fd >= 0) {
            proc_dev = st.st_dev;
            proc_ino = st.st_ino;
            /* a thread opening through it meanwhile sees the number before the move or
             * after; kept() turns the one closed by the move into the path as given */
            __atomic_store_n(&proc_fd, fd, __ATOMIC_RELEASE);
            mw_fd_protect(&proc_fd); /* moved to a high number, safe from close() and dup2() */
        }
    }
    pthread_mutex_unlock(&keep_lock);
}

void mw_proc_child_keeps(bool keep)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    keep_lock = fresh; /* the parent's holder does not exist in the child */
    if (proc_fd < 0) return;
    if (keep) {
        mw_fd_protect(&proc_fd);
    } else {
        mw_fd_unprotect(proc_fd); /* registered again by the fork child's writer reset */
        syscall(SYS_close, proc_fd);
        proc_fd = -1;
    }
}
