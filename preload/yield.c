/*
 * yield.c — the shim gives way when the program needs the task its writer thread holds.
 *
 * A limit on tasks counts the shim's writer thread with the program's: RLIMIT_NPROC
 * (`ulimit -u`: every thread and process of the user), a pids cgroup's pids.max (a
 * container's), the system's threads-max. A program at such a limit found pthread_create,
 * fork, posix_spawn, system or popen failing where natively they succeed (a user limited to
 * 2 tasks, a program that starts one thread: 2026-11-24). So when one of them fails for want
 * of a task (their callers, thread.c and process.c, know how each says so), tracing ends
 * (the trace gets its END, reason shutdown, as before a seccomp filter) and the writer thread
 * ends and is joined, giving back its task and its memory (EAGAIN is also glibc's answer
 * when a thread's stack cannot be mapped); the caller then tries its call again for up to
 * 50 ms (the kernel counts a task as gone a moment after it ends). The program goes on
 * untraced; what it starts is traced as ever. One line on stderr says so. A program whose
 * call fails natively too gets its EAGAIN all the same, 50 ms later, untraced from then on.
 * Not given up: the watch core's thread of a program that watches memory.
 */
#include <errno.h>

#include "mw_core.h"

bool mw_yield_task(const char *what)
{
    if (mw_tls_guard || atomic_load(&mw_state) != MW_ST_ON || !mw_own()) return false;
    if (!atomic_load(&mw_writer_alive)) return false;
    int e = errno;
    static _Atomic int said;
    if (!atomic_exchange(&said, 1))
        mw_diag("the program's %s failed for want of a task or memory, and the shim's writer "
                "thread holds one: tracing ends here, and the call is made again (what the program "
                "holds now is not judged a leak)",
                what);
    bool gone = mw_stop_tracing(true);
    errno = e;
    return gone;
}

/* between tries: the kernel lets go of the ended thread's task within a few milliseconds */
void mw_yield_wait(void) { mw_sleep_ns(1000 * 1000); }
