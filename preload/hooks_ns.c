/*
 * hooks_ns.c — unshare and setns: the calls into namespaces that the kernel allows only a
 * single-threaded process (unshare(CLONE_NEWUSER), joining a user or mount namespace with
 * setns). The shim's writer thread would make every traced program multithreaded, so
 * `unshare -U`, bwrap, podman's and browsers' sandboxes failed under it with EINVAL. Around
 * such a call the writer flushes and ends its thread (mw_writer_pause) and starts again
 * after it (mw_writer_resume), in the new namespace, on the trace file it already has open.
 *
 * A thread's end is seen by the kernel a moment after pthread_join returns (the thread still
 * holds the memory map while it leaves): a call refused with EINVAL is tried again for up to
 * 20 ms. A program with threads of its own gets EINVAL as without the shim, 20 ms later.
 * Not paused: the watch core's thread (a program that watches memory stays multithreaded).
 * Joining a mount namespace also changes the root, as chroot() does: the same preparations
 * (process.c, mw_root_change_before) are made first.
 */
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "mw_core.h"

typedef int (*ns_fn)(int, int);

/* real(a, b) with the writer paused around it. */
static int call_single(ns_fn real, int a, int b)
{
    /* not from a vfork child (the writer is its parent's) nor from the child of a fork the
     * shim did not see (it has no writer: mw_own) */
    bool paused = mw_tls_guard < MW_GUARD_VFORK && mw_own() && mw_writer_pause();
    int rc = real(a, b);
    for (int i = 0; paused && rc != 0 && errno == EINVAL && i < 20; i++) {
        mw_sleep_ns(1000 * 1000); /* not a cancellation point: the writer is paused */
        rc = real(a, b);
    }
    if (paused) {
        int e = errno;
        mw_writer_resume();
        errno = e;
    }
    return rc;
}

/* unshare in ns_fn's shape (the second argument unused) */
static int real_unshare(int flags, int unused)
{
    (void)unused;
    static int (*real)(int);
    if (!real) real = (int (*)(int))mw_next_symbol("unshare");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real(flags);
}

MW_EXPORT int unshare(int flags)
{
    if (flags & (CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM))
        return call_single(real_unshare, flags, 0);
    return real_unshare(flags, 0);
}

static int real_setns(int fd, int nstype)
{
    static int (*real)(int, int);
    if (!real) real = (int (*)(int, int))mw_next_symbol("setns");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real(fd, nstype);
}

MW_EXPORT int setns(int fd, int nstype)
{
    /* a user or mount namespace needs one thread; 0 may be either (the fd decides) */
    if (nstype == 0 || (nstype & (CLONE_NEWUSER | CLONE_NEWNS))) {
        /* a mount namespace brings its own root, maybe without /proc (process.c) */
        bool mnt = nstype == 0 || (nstype & CLONE_NEWNS);
        if (mnt) mw_root_change_before();
        int rc = call_single(real_setns, fd, nstype);
        if (mnt && rc == 0) mw_root_change_after();
        return rc;
    }
    return real_setns(fd, nstype);
}
