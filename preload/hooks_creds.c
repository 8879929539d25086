/*
 * hooks_creds.c — keeps the shim's own threads' credentials in step with the program's.
 *
 * Linux credentials are per thread, and glibc makes set*id() process-wide by running the same
 * system call in every thread, aborting the process ("setxid_error") when one thread fails.
 * Programs that raise capabilities in one thread and then change ids (setpriv, su-like tools,
 * daemons dropping privileges: PR_SET_KEEPCAPS + setresuid + capset + setresgid) assume they
 * are single-threaded. The shim's internal threads (memwatch-writer, memwatch-watch) would
 * lack the capability the main thread just raised and make glibc abort the program.
 *
 * So every successful per-thread credential call the program makes — capset() and the
 * per-thread prctl()s (KEEPCAPS, SECUREBITS, CAPBSET_DROP, CAP_AMBIENT, NO_NEW_PRIVS) — is
 * repeated, with the same arguments, in each internal thread (found by name in
 * /proc/self/task), through MW_SIG_CREDSYNC, and the caller waits for every thread to have
 * done it. Internal threads block all signals except that one (mw_internal_block_signals).
 *
 * Internal threads are also created here, and they must not keep the process alive: glibc
 * counts live threads (__nptl_nthreads) and the last one to end, main after pthread_exit()
 * included, calls exit(0). An internal thread takes itself out of that count when it starts
 * and puts itself back before it returns, so a program whose threads all end exits as it
 * does without the shim instead of waiting for the writer forever.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mw_core.h"

#define MW_SIG_CREDSYNC (SIGRTMAX - 4)

enum { OP_CAPSET = 1, OP_PRCTL = 2 };

/* The operation being replicated (one at a time, under sync_lock). */
static struct {
    int op;
    uint32_t cap_hdr[2];        /* struct __user_cap_header_struct: version, pid (0 = self) */
    uint32_t cap_data[6];       /* up to 2 x struct __user_cap_data_struct (3 words each) */
    unsigned long prctl_args[5];
} sync_op;
static _Atomic int sync_acks;
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int handler_installed;

static void credsync_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    if (!si || si->si_code != SI_TKILL || si->si_pid != getpid()) return; /* not ours */
    int saved = errno;
    if (sync_op.op == OP_CAPSET) {
        uint32_t hdr[2] = { sync_op.cap_hdr[0], 0 };
        syscall(SYS_capset, hdr, sync_op.cap_data);
    } else if (sync_op.op == OP_PRCTL) {
        syscall(SYS_prctl, sync_op.prctl_args[0], sync_op.prctl_args[1], sync_op.prctl_args[2],
                sync_op.prctl_args[3], sync_op.prctl_args[4]);
    }
    atomic_fetch_add_explicit(&sync_acks, 1, memory_order_release);
    errno = saved;
}

static void set_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = credsync_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigaction(MW_SIG_CREDSYNC, &sa, NULL);
}

static void install_handler(void)
{
    if (atomic_exchange(&handler_installed, 1)) return;
    set_handler();
}

/* Whether MW_SIG_CREDSYNC may be sent: its action is the handler, or is again after the
 * program reset it to the default or to ignore (chromium's children reset every signal's
 * action, through the system call, before they exec: the default action of a real-time
 * signal ends the process). Not when the program put a handler of its own there: the shim
 * must not run it. */
static bool handler_in_place(void)
{
    struct sigaction cur;
    if (sigaction(MW_SIG_CREDSYNC, NULL, &cur) != 0) return false;
    if (cur.sa_flags & SA_SIGINFO) return cur.sa_sigaction == credsync_handler;
    if (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN) return false;
    set_handler();
    return true;
}

/* The handler goes in at the first replication, not when an internal thread starts: a
 * program that looks at its signals' actions at start (gdb: "Found custom handler for signal
 * 60 (Real-time signal 26) preinstalled", on every run under the shim until 08:15 UTC on
 * 2026-11-23) finds none of the shim's unless it has changed credentials per thread. */
void mw_internal_block_signals(void)
{
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, MW_SIG_CREDSYNC);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
}

/* Start record handed to an internal thread; lives on the creator's stack until `ready`. */
struct internal_start {
    const char *name;
    void *(*fn)(void *);
    void *arg;
    _Atomic int ready;
};

/* Bumped (and waited on) as an internal thread reports it has started: the creator sleeps on
 * it instead of polling every 50 us (a third of a millisecond per process start). */
static _Atomic uint32_t started_seq;

/* glibc's count of live threads (GLIBC_PRIVATE; NULL where it is not exported). */
static unsigned int *nptl_nthreads;

static void *internal_trampoline(void *p)
{
    struct internal_start *st = p;
    void *(*fn)(void *) = st->fn;
    void *arg = st->arg;
    syscall(SYS_prctl, PR_SET_NAME, (unsigned long)st->name, 0UL, 0UL, 0UL);
    mw_internal_block_signals();
    if (nptl_nthreads) __atomic_fetch_sub(nptl_nthreads, 1, __ATOMIC_ACQ_REL);
    atomic_store_explicit(&st->ready, 1, memory_order_release); /* st is gone after this */
    atomic_fetch_add(&started_seq, 1);
    syscall(SYS_futex, &started_seq, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    void *r = fn(arg);   /* the writer never returns (writer.c) */
    if (nptl_nthreads) __atomic_fetch_add(nptl_nthreads, 1, __ATOMIC_ACQ_REL); /* glibc takes it off */
    return r;
}

int mw_internal_thread_create(pthread_t *th, const pthread_attr_t *attr, const char *name,
                              void *(*fn)(void *), void *arg)
{
    static _Atomic int resolved;
    if (!atomic_load(&resolved)) {
        int g = mw_guard_enter();
        nptl_nthreads = (unsigned int *)dlvsym(RTLD_DEFAULT, "__nptl_nthreads", "GLIBC_PRIVATE");
        mw_guard_leave(g);
        atomic_store(&resolved, 1);
    }
    struct internal_start st = { name, fn, arg, 0 };
    int rc = pthread_create(th, attr, internal_trampoline, &st);
    if (rc != 0) return rc;
    /* Synchronous start: once this returns, the thread carries its memwatch-* name and its
     * signal mask, so a credential change made right after is replicated to it. */
    for (;;) {
        uint32_t seen = atomic_load(&started_seq);
        if (atomic_load_explicit(&st.ready, memory_order_acquire)) break;
        struct timespec ts = { 0, 1000 * 1000 };
        syscall(SYS_futex, &started_seq, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
    }
    return 0;
}

/* Tids of the shim's internal threads (named memwatch-*), other than the caller. */
static size_t internal_tids(pid_t *out, size_t max)
{
    size_t n = 0;
    pid_t self = (pid_t)syscall(SYS_gettid);
    int dfd = mw_proc_open("/proc/self/task", O_RDONLY | O_DIRECTORY);
    if (dfd < 0) return 0;
    char buf[4096];
    for (;;) {
        long got = syscall(SYS_getdents64, dfd, buf, sizeof buf);
        if (got <= 0) break;
        for (long off = 0; off < got;) {
            struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d =
                (void *)(buf + off);
            off += d->reclen;
            if (d->name[0] < '0' || d->name[0] > '9') continue;
            pid_t tid = (pid_t)atoi(d->name);
            if (tid == self) continue;
            char path[64], comm[32];
            int len = 0;
            memcpy(path, "/proc/self/task/", 16);
            len = 16;
            for (const char *s = d->name; *s && len < 40; s++) path[len++] = *s;
            memcpy(path + len, "/comm", 6);
            int cfd = mw_proc_open(path, O_RDONLY);
            if (cfd < 0) continue;
            ssize_t r = read(cfd, comm, sizeof comm - 1);
            close(cfd);
            if (r >= 9 && !memcmp(comm, "memwatch-", 9) && n < max) out[n++] = tid;
        }
    }
    close(dfd);
    return n;
}

/* Runs sync_op in every internal thread and waits (at most ~2 s) until all have done it. */
static void replicate(void)
{
    pid_t tids[16];
    size_t n = internal_tids(tids, 16);
    if (n == 0) return;
    install_handler();
    if (!handler_in_place()) return;
    atomic_store(&sync_acks, 0);
    size_t sent = 0;
    for (size_t i = 0; i < n; i++)
        if (syscall(SYS_tgkill, getpid(), tids[i], MW_SIG_CREDSYNC) == 0) sent++;
    for (int k = 0; k < 10000 && (size_t)atomic_load_explicit(&sync_acks, memory_order_acquire) < sent; k++)
        mw_sleep_ns(200 * 1000);
}

MW_EXPORT int capset(void *hdrp, const void *datap)
{
    static int (*real)(void *, const void *);
    if (!real) real = (int (*)(void *, const void *))mw_next_symbol("capset");
    int rc = real ? real(hdrp, datap) : (int)syscall(SYS_capset, hdrp, datap);
    if (rc != 0 || !hdrp || !datap) return rc;
    const uint32_t *hdr = hdrp;
    if (hdr[1] != 0 && (pid_t)hdr[1] != (pid_t)syscall(SYS_gettid)) return rc; /* not us */
    int saved = errno;
    pthread_mutex_lock(&sync_lock);
    sync_op.op = OP_CAPSET;
    sync_op.cap_hdr[0] = hdr[0];
    /* v1 carries one 3-word data struct, v2/v3 two */
    size_t words = hdr[0] == 0x19980330u ? 3 : 6;
    memset(sync_op.cap_data, 0, sizeof sync_op.cap_data);
    memcpy(sync_op.cap_data, datap, words * sizeof(uint32_t));
    replicate();
    pthread_mutex_unlock(&sync_lock);
    errno = saved;
    return rc;
}

static bool per_thread_option(int option)
{
    switch (option) {
    case PR_SET_KEEPCAPS:
    case PR_SET_SECUREBITS:
    case PR_CAPBSET_DROP:
    case PR_CAP_AMBIENT:
    case PR_SET_NO_NEW_PRIVS:
        return true;
    default:
        return false;
    }
}

void mw_creds_after_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4,
                          unsigned long a5, int rc)
{
    if (rc < 0 || !per_thread_option(option)) return;
    if (option == PR_CAP_AMBIENT && a2 == PR_CAP_AMBIENT_IS_SET) return;
    int saved = errno;
    pthread_mutex_lock(&sync_lock);
    sync_op.op = OP_PRCTL;
    unsigned long args[5] = { (unsigned long)option, a2, a3, a4, a5 };
    memcpy(sync_op.prctl_args, args, sizeof args);
    replicate();
    pthread_mutex_unlock(&sync_lock);
    errno = saved;
}
