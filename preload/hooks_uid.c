/*
 * hooks_uid.c — a program that gives up root for another user: setuid(), seteuid(),
 * setreuid() and setresuid() with a new effective uid.
 *
 * Servers start as root and become an unprivileged user before they fork their workers
 * (nginx's master, PostgreSQL's postmaster, dnsmasq, sshd's privilege separation). The
 * workers' traces went to the output directory, which `memwatch run` makes 0700 for root:
 * every worker ran untraced with a "cannot create trace file" line (2026-11-23). Before such a
 * call the shim makes a directory for that user inside the output directory and names the
 * traces of what the process starts from then on there (writer.c,
 * mw_writer_before_uid_change); `memwatch run` finds them there. Only the effective uid
 * matters (files are created as it); a call that keeps it, or that a process not running as
 * root makes, changes nothing. The real call is made as given: the shim never changes what it
 * does or returns.
 */
#include <errno.h>
#include <unistd.h>

#include "mw_core.h"

typedef int (*id1_fn)(uid_t);
typedef int (*id2_fn)(uid_t, uid_t);
typedef int (*id3_fn)(uid_t, uid_t, uid_t);

static void before(uid_t euid)
{
    if (euid == (uid_t)-1 || mw_tls_guard || !mw_own()) return;
    int e = errno, g = mw_guard_enter();
    mw_writer_before_uid_change(euid);
    mw_guard_leave(g);
    errno = e;
}

/* Each hook: the directory first (before), then the call as the program made it. */
#define UID_HOOK(name, type, params, args, euid)                                              \
    MW_EXPORT int name params                                                                 \
    {                                                                                         \
        static type real;                                                                     \
        if (!real) real = (type)mw_next_symbol(#name);                                        \
        before(euid);                                                                         \
        if (!real) {                                                                          \
            errno = ENOSYS;                                                                   \
            return -1;                                                                        \
        }                                                                                     \
        return real args;                                                                     \
    }

UID_HOOK(setuid, id1_fn, (uid_t uid), (uid), uid)
UID_HOOK(seteuid, id1_fn, (uid_t euid), (euid), euid)
UID_HOOK(setreuid, id2_fn, (uid_t ruid, uid_t euid), (ruid, euid), euid)
UID_HOOK(setresuid, id3_fn, (uid_t ruid, uid_t euid, uid_t suid), (ruid, euid, suid), euid)
