/*
 * hooks_seccomp.c — a program that installs a seccomp filter: tracing stops first.
 *
 * A filter decides which system calls the process may make from then on, and the shim makes
 * its own: the writer thread's (the trace file, RSS samples, its wake-ups), the exit scan's
 * (/proc/self/maps, process_vm_readv). A sandbox's allow-list does not have them, and its
 * usual action on the others kills the process with SIGSYS: a program that ran natively died
 * under the shim (tests/victims/seccomp_sandbox.c, 2026-11-23). What a filter allows cannot be
 * known from here, so the shim ends the trace before the filter goes in (END, reason
 * shutdown: what the program held then is not judged a leak), says so in one line, stops
 * passing itself on (a filter stays across exec: a program the sandbox execs would start
 * the shim inside it), and the program goes on untraced.
 *
 * Seen here: prctl(PR_SET_SECCOMP) (thread.c's prctl hook) and seccomp(2) through glibc's
 * syscall(), which libseccomp uses; interposing syscall() means doing its work: the system
 * call itself, inline (x86-64), errno from a result in [-4095, -1]. A filter installed with
 * an inline system call instruction of the program's own (Chromium's sandbox) is not seen.
 * Only calls that can install one count: libseccomp probes what the kernel supports with
 * calls that cannot (strict mode with flags, a filter mode without a filter), and man-db's
 * tools (man, whatis, apropos, mandb) make those probes at every start.
 *
 * Interposing syscall() for seccomp(2), the hook also sees syscall(SYS_exit_group, status),
 * an exit that, like _exit(), runs nothing of the process's: the trace ends there first
 * (init.c), where the process had left without its END and its records since the writer's
 * last flush (all of them in a short program). And syscall(SYS_chroot) and
 * syscall(SYS_pivot_root) (glibc has no pivot_root()), which change the root as chroot()
 * does: the same preparations are made around them (process.c, mw_root_change_before). And
 * syscall(SYS_execve) and syscall(SYS_execveat), which go to the shim's execve and execveat
 * (process.c): until 08:05 UTC on 2026-11-24 the trace was cut at such an exec, without its
 * EXEC and END records and those since the writer's last flush.
 */
#include <errno.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mw_core.h"

_Atomic int mw_sandboxed;

/* Whether the call can put a filter in place (or strict mode): the kernel refuses strict mode
 * with flags or an argument (EINVAL) and a filter mode without a program (EFAULT). */
bool mw_seccomp_installs(long op, unsigned long flags, const void *arg, bool via_prctl)
{
    if (via_prctl) /* prctl(PR_SET_SECCOMP, mode, filter) */
        return op == SECCOMP_MODE_STRICT || (op == SECCOMP_MODE_FILTER && arg != NULL);
    if (op == SECCOMP_SET_MODE_STRICT) return flags == 0 && arg == NULL;
    return op == SECCOMP_SET_MODE_FILTER && arg != NULL;
}

void mw_seccomp_before(const char *how)
{
    if (mw_tls_guard) return; /* the shim's own call (it makes none) */
    atomic_store(&mw_sandboxed, 1);
    static _Atomic int said;
    if (!mw_cfg.quiet && !atomic_exchange(&said, 1)) /* informational: the reports say it too */
        mw_diag("the program installs a seccomp filter (%s): tracing ends before it (the filter "
                "could refuse the shim's system calls, or kill the process for them); the "
                "program and what it execs go on untraced", how);
    mw_watch_quiesce();      /* every watch ends (in the trace), no fault can reach the shim */
    mw_stop_tracing(false);
    mw_writer_wait_parked(); /* the filter may refuse (and kill for) any system call after it */
    /* a fork child whose tracing was to start again at its next allocation (init.c): not
     * any more */
    atomic_store(&mw_fork_restart_pending, 0);
    if (atomic_load(&mw_state) != MW_ST_ON) atomic_store(&mw_state, MW_ST_OFF);
    mw_env_drop_self();
}

MW_EXPORT long syscall(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    /* an exec: the shim's own execve/execveat, which end the trace first (EXEC, END) and pass
     * the shim on as for any exec; they return as syscall() does, -1 and errno */
    if (n == SYS_execve) return execve((const char *)a1, (char *const *)a2, (char *const *)a3);
    if (n == SYS_execveat)
        return execveat((int)a1, (const char *)a2, (char *const *)a3, (char *const *)a4, (int)a5);
    if (n == SYS_exit_group) /* as _exit(): the trace ends first (it held nothing of the last 200 ms) */
        mw_finish_before_exit((int)a1);
    else if (n == SYS_seccomp && mw_seccomp_installs(a1, (unsigned long)a2, (const void *)a3, false))
        mw_seccomp_before("seccomp(2)");
    else if (n == SYS_prctl && a1 == PR_SET_SECCOMP && mw_seccomp_installs(a2, 0, (const void *)a3, true))
        mw_seccomp_before("prctl(PR_SET_SECCOMP)");
    bool root_change = n == SYS_chroot || n == SYS_pivot_root; /* glibc has no pivot_root() */
    if (root_change) mw_root_change_before();
    long r = mw_raw_syscall6(n, a1, a2, a3, a4, a5, a6);
    if ((unsigned long)r > -4096ul) {
        errno = (int)-r;
        return -1;
    }
    if (root_change) mw_root_change_after();
    return r;
}
