/*
 * yield.c — the shim gives way when the program needs the task its writer thread holds.
 *
 * Under RLIMIT_NPROC (`ulimit -u`: every thread and process of the user counts) the shim's
 * writer thread is one task more than the program has natively: a program at its limit
 * found pthread_create or fork failing with EAGAIN where natively they succeed (a user
 * limited to 2 tasks, a program that starts one thread: 2026-11-24). When one of them fails
 * so, with a finite limit and no root (which the limit does not hold), tracing ends (the
 * trace gets its END, reason shutdown, as before a seccomp filter) and the writer thread ends
 * and is joined; the caller then tries its call again for up to 50 ms (the kernel counts a
 * task as gone a moment after it ends). The program goes on untraced; what it starts is
 * traced as ever. One line on stderr says so. Not given up: the watch core's thread of a
 * program that watches memory.
 */
#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mw_core.h"

bool mw_yield_task(const char *what)
{
    if (mw_tls_guard || atomic_load(&mw_state) != MW_ST_ON || !mw_own()) return false;
    if (!atomic_load(&mw_writer_alive)) return false;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NPROC, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || geteuid() == 0) return false;
    int e = errno;
    static _Atomic int said;
    if (!atomic_exchange(&said, 1))
        mw_diag("the program's %s found no task left under its RLIMIT_NPROC (%llu), one of them the "
                "shim's writer thread: tracing ends here so that the program gets it (what the program "
                "holds now is not judged a leak)",
                what, (unsigned long long)rl.rlim_cur);
    bool gone = mw_stop_tracing(true);
    errno = e;
    return gone;
}

/* between tries: the kernel lets go of the ended thread's task within a few milliseconds */
void mw_yield_wait(void) { mw_sleep_ns(1000 * 1000); }
