/*
 * hooks_fd.c — keeps the shim's own file descriptors (the trace file) alive and private.
 *
 * Programs close descriptors they do not know about: test runners (Criterion's BoxFort),
 * daemons and shells close everything before exec, and some dup2() onto arbitrary numbers.
 * Either would cut the trace or, worse, send trace bytes into the program's own file. So a
 * protected descriptor is moved to a high number at open, close()/close_range()/closefrom()
 * skip it (reporting success, as if it had been closed), and a dup2()/dup3() onto it first
 * moves it out of the way under mw_fd_lock (which the writer holds around its writes).
 *
 * Protected descriptors go above the soft RLIMIT_NOFILE when the hard one leaves room (the
 * program's numbers, and how many it can open, stay as natively), else high below it. The
 * shim's own files open through mw_open_own, which finds room above the limit when the
 * program has used every number below it (the exit scan's /proc files: its verdicts).
 *
 * The same goes for pipes made inside the shim's own code: libunwind (Debian's 1.6) opens one
 * the first time it unwinds, to test addresses by writing them into it, and keeps it. Left
 * where pipe() puts it, it would take the program's lowest numbers (its first open() would
 * return 5 instead of 3), and a program that closes what it does not know and opens files
 * again would have libunwind read from and write into them.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mw_shim.h"

#define MAX_PROTECTED 8

static _Atomic int prot_fd[MAX_PROTECTED] = { -1, -1, -1, -1, -1, -1, -1, -1 };
static int *prot_owner[MAX_PROTECTED];     /* the owner's variable, updated when moved */
static pthread_mutex_t fd_mutex = PTHREAD_MUTEX_INITIALIZER;

void mw_fd_lock(void) { pthread_mutex_lock(&fd_mutex); }
void mw_fd_unlock(void) { pthread_mutex_unlock(&fd_mutex); }

static int slot_of(int fd)
{
    if (fd < 0) return -1;
    for (int i = 0; i < MAX_PROTECTED; i++)
        if (atomic_load_explicit(&prot_fd[i], memory_order_acquire) == fd) return i;
    return -1;
}

/* The soft RLIMIT_NOFILE raised by n for a moment, within the hard limit (the old limits in
 * *old, the raised ones in *raised); false when it cannot be. Descriptors opened meanwhile may
 * lie above the soft limit once it is back, where they keep working: the limit bounds only the
 * numbers new ones get. */
static bool raise_soft_limit(struct rlimit *old, struct rlimit *raised, rlim_t n)
{
    if (getrlimit(RLIMIT_NOFILE, old) != 0 || old->rlim_cur >= old->rlim_max || old->rlim_cur > (1u << 30))
        return false;
    *raised = *old;
    raised->rlim_cur = old->rlim_max - old->rlim_cur > n ? old->rlim_cur + n : old->rlim_max;
    return prlimit(0, RLIMIT_NOFILE, raised, NULL) == 0;
}

/* The limits as before raise_soft_limit, unless the program set its own meanwhile (another
 * thread's setrlimit between the two): then its limits stay. */
static void restore_soft_limit(const struct rlimit *old, const struct rlimit *raised)
{
    struct rlimit was;
    if (prlimit(0, RLIMIT_NOFILE, old, &was) != 0) return;
    if (was.rlim_cur != raised->rlim_cur || was.rlim_max != raised->rlim_max) prlimit(0, RLIMIT_NOFILE, &was, NULL);
}

/* fd duplicated to the first free number at or above the soft limit, where the program's
 * own descriptors never go: it can open as many files as natively, with the same numbers
 * (before, the shim's five took five of them: a program counting how many files it can open
 * counted five fewer, 2026-11-23). -1 when the hard limit leaves no room above. */
static int dup_above_limit(int fd)
{
    struct rlimit old, raised;
    if (!raise_soft_limit(&old, &raised, 64)) return -1;
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, (int)old.rlim_cur);
    restore_soft_limit(&old, &raised);
    return hi;
}

/* path opened: a /proc one where the shim keeps /proc (procfs.c) */
static int open_path(const char *path, int flags, unsigned mode)
{
    if (strncmp(path, "/proc/", 6) == 0) return mw_proc_open(path, flags);
    return open(path, flags | O_CLOEXEC, mode);
}

int mw_open_own(const char *path, int flags, unsigned mode)
{
    int fd = open_path(path, flags, mode);
    if (fd >= 0 || errno != EMFILE) return fd;
    struct rlimit old, raised;
    if (!raise_soft_limit(&old, &raised, 16)) {
        errno = EMFILE;
        return -1;
    }
    fd = open_path(path, flags, mode);
    int e = errno;
    restore_soft_limit(&old, &raised);
    errno = e;
    return fd;
}

/* A free descriptor number well above what programs use, below the soft limit: where the
 * shim's descriptors go when the hard limit leaves no room above the soft one. */
static int high_floor(void)
{
    struct rlimit rl;
    long lim = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long)rl.rlim_cur : 1024;
    if (lim > 4096) lim = 4096;
    long floor = lim - 64;
    return floor < 10 ? 10 : (int)floor;
}

int mw_fd_protect(int *owner)
{
    int fd = *owner;
    int hi = dup_above_limit(fd);
    if (hi < 0) hi = fcntl(fd, F_DUPFD_CLOEXEC, high_floor());
    if (hi >= 0) {
        syscall(SYS_close, fd);
        fd = hi;
    }
    mw_fd_lock();
    for (int i = 0; i < MAX_PROTECTED; i++) {
        if (atomic_load(&prot_fd[i]) < 0) {
            prot_owner[i] = owner;
            atomic_store_explicit(&prot_fd[i], fd, memory_order_release);
            break;
        }
    }
    *owner = fd;
    mw_fd_unlock();
    return fd;
}

void mw_fd_unprotect(int fd)
{
    mw_fd_lock();
    int i = slot_of(fd);
    if (i >= 0) {
        atomic_store_explicit(&prot_fd[i], -1, memory_order_release);
        prot_owner[i] = NULL;
    }
    mw_fd_unlock();
}

void mw_fd_forget_all(void)
{
    for (int i = 0; i < MAX_PROTECTED; i++) {
        atomic_store(&prot_fd[i], -1);
        prot_owner[i] = NULL;
    }
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    fd_mutex = fresh; /* after fork: the parent's holder does not exist in the child */
}

MW_EXPORT int close(int fd)
{
    static int (*real)(int);
    if (MW_UNLIKELY(slot_of(fd) >= 0)) return 0;
    if (!real) real = (int (*)(int))mw_next_symbol("close");
    return real ? real(fd) : (int)syscall(SYS_close, fd);
}

typedef int (*pipe2_fn)(int *, int);

static void protect_pair(int fds[2])
{
    mw_fd_protect(&fds[0]);   /* the caller's array: libunwind's static one */
    mw_fd_protect(&fds[1]);
}

MW_EXPORT int pipe2(int fds[2], int flags)
{
    static pipe2_fn real;
    if (!real) real = (pipe2_fn)mw_next_symbol("pipe2");
    int rc = real ? real(fds, flags) : (int)syscall(SYS_pipe2, fds, flags);
    if (rc == 0 && MW_UNLIKELY(mw_in_shim_code())) protect_pair(fds);
    return rc;
}

MW_EXPORT int pipe(int fds[2])
{
    static int (*real)(int *);
    if (!real) real = (int (*)(int *))mw_next_symbol("pipe");
    int rc = real ? real(fds) : (int)syscall(SYS_pipe2, fds, 0);
    if (rc == 0 && MW_UNLIKELY(mw_in_shim_code())) protect_pair(fds);
    return rc;
}

/* close_range() over [first, last], skipping protected descriptors. */
MW_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    static int (*real)(unsigned, unsigned, int);
    if (!real) real = (int (*)(unsigned, unsigned, int))mw_next_symbol("close_range");
    int prot[MAX_PROTECTED], n = 0;
    for (int i = 0; i < MAX_PROTECTED; i++) {
        int fd = atomic_load(&prot_fd[i]);
        if (fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last) prot[n++] = fd;
    }
    if (n == 0) return real ? real(first, last, flags) : (int)syscall(SYS_close_range, first, last, flags);
    /* sort the few protected numbers, then close the gaps between them */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && prot[j] < prot[j - 1]; j--) {
            int t = prot[j]; prot[j] = prot[j - 1]; prot[j - 1] = t;
        }
    unsigned lo = first;
    int rc = 0;
    for (int i = 0; i <= n; i++) {
        unsigned hi = i < n ? (unsigned)prot[i] : last + 1u;
        if (hi > lo) {
            int r = real ? real(lo, hi - 1, flags) : (int)syscall(SYS_close_range, lo, hi - 1, flags);
            if (r != 0) rc = r;
        }
        if (i < n) lo = (unsigned)prot[i] + 1u;
        if (i < n && (unsigned)prot[i] == ~0u) break;
    }
    return rc;
}

MW_EXPORT void closefrom(int lowfd)
{
    if (lowfd < 0) lowfd = 0;
    if (close_range((unsigned)lowfd, ~0u, 0) == 0) return;
    /* old kernels without close_range: close one by one (what glibc falls back to) */
    struct rlimit rl;
    long lim = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long)rl.rlim_cur : 1024;
    for (long fd = lowfd; fd < lim; fd++) close((int)fd);
}

/* Before newfd is replaced: move a protected descriptor living at newfd elsewhere. */
static void evacuate(int newfd)
{
    if (MW_LIKELY(slot_of(newfd) < 0)) return;
    mw_fd_lock();
    int i = slot_of(newfd);
    if (i >= 0) {
        int moved = dup_above_limit(newfd);
        if (moved < 0) moved = fcntl(newfd, F_DUPFD_CLOEXEC, high_floor());
        if (moved == newfd || moved < 0) moved = fcntl(newfd, F_DUPFD_CLOEXEC, 3);
        if (moved >= 0) {
            if (prot_owner[i]) *prot_owner[i] = moved;
            atomic_store_explicit(&prot_fd[i], moved, memory_order_release);
        } else {
            atomic_store_explicit(&prot_fd[i], -1, memory_order_release);
            if (prot_owner[i]) *prot_owner[i] = -1;
        }
    }
    mw_fd_unlock();
}

MW_EXPORT int dup2(int oldfd, int newfd)
{
    static int (*real)(int, int);
    if (!real) real = (int (*)(int, int))mw_next_symbol("dup2");
    if (oldfd != newfd) evacuate(newfd);
    return real ? real(oldfd, newfd) : (int)syscall(SYS_dup2, oldfd, newfd);
}

MW_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    static int (*real)(int, int, int);
    if (!real) real = (int (*)(int, int, int))mw_next_symbol("dup3");
    if (oldfd != newfd) evacuate(newfd);
    return real ? real(oldfd, newfd, flags) : (int)syscall(SYS_dup3, oldfd, newfd, flags);
}
