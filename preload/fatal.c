/*
 * fatal.c — the trace up to a signal that kills the process.
 *
 * A process that dies of a signal (a crash: SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP (an int3
 * left in the code: chromium's CHECK), abort()'s SIGABRT, SIGSYS; a request to end: SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE; or any other
 * signal whose default action ends the process: SIGALRM, SIGUSR1, SIGUSR2, SIGXCPU, SIGXFSZ,
 * SIGVTALRM, SIGPROF) runs no
 * exit path: what its threads' rings held since the writer's last flush (up to 200 ms, all
 * of a short program) would go down with it. For each of those signals whose action is the
 * default when tracing starts, the shim installs a handler that records the signal (which
 * one, the faulting address, the thread's stack there: FATAL_SIGNAL), has the writer drain
 * every ring and flush (at most 2 s), then restores the default action and raises the signal
 * again, so the process dies exactly as it would have: same signal, same core dump, same
 * status for its parent.
 *
 * The program does not see the handler: sigaction() and signal() report the default action
 * where the shim's handler is installed, and a program that installs its own action (or
 * ignores the signal) replaces it, as it would have replaced the default. A program that asks
 * for the default action again (a clean-up handler restoring it to die of the signal it
 * caught, as git's does on SIGPIPE) gets the shim's handler back. A signal that
 * arrives while its thread is in an allocation hook is recorded too (a double free makes
 * glibc's free() abort there), unless the thread was writing a record or its stack at that
 * moment: then it is not recorded, but the flush still happens. A stack overflow is handled
 * on an alternate signal stack (below). Not covered: SIGKILL (cannot be caught), a crash in
 * the shim's writer thread, and a stack overflow on a thread left without an alternate stack
 * (the program disabled it, or none could be mapped).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mw_core.h"

static const int fatal_sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS,
                                  SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGALRM,
                                  SIGUSR1, SIGUSR2, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF };
#define NFATAL (sizeof fatal_sigs / sizeof fatal_sigs[0])

/* ours[s]: the shim's handler is the action of signal s (the program has not replaced it) */
static _Atomic unsigned char ours[NSIG];

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef void (*sighandler_fn)(int);
static sigaction_fn real_sigaction;
static sighandler_fn (*real_signal)(int, sighandler_fn);

static void resolve(void)
{
    if (real_sigaction && real_signal) return;
    int g = mw_guard_enter(); /* dlsym may allocate */
    if (!real_sigaction) real_sigaction = (sigaction_fn)mw_next_symbol("sigaction");
    if (!real_signal) real_signal = (sighandler_fn(*)(int, sighandler_fn))mw_next_symbol("signal");
    mw_guard_leave(g);
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    mw_fatal_default(sig, si, uc);
}

/* The signals a faulting instruction raises (and abort()'s): the ones a handler cannot put
 * off, since returning runs the instruction again. */
static bool is_fault(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP || sig == SIGSYS ||
           sig == SIGABRT;
}

__thread int mw_tls_deferred_sig, mw_tls_deferred_code;

__attribute__((noinline)) void mw_fatal_deferred(mw_thread *t, bool with_stack)
{
    int sig = mw_tls_deferred_sig, code = mw_tls_deferred_code;
    mw_tls_deferred_sig = 0;
    if (t && !t->nest && mw_tls_guard < MW_GUARD_VFORK && atomic_load(&mw_state) == MW_ST_ON && mw_own()) {
        int g = mw_guard_enter();
        /* the stack of the code that left the shim's (the exit path: the program's call of
         * exit()); none from inside a hook */
        uint64_t stack = with_stack ? mw_stack_capture(t, __builtin_frame_address(0), __builtin_return_address(0)) : 0;
        MW_EMIT(t, 64, mw_enc_fatal_signal, mw_now_ns(), (uint64_t)sig, (uint64_t)(uint32_t)code, 0, stack);
        mw_guard_leave(g);
    }
    if (mw_tls_guard < MW_GUARD_VFORK && mw_own()) mw_writer_sync_for(2000);
    raise(sig); /* its action is the default since the handler ran */
}

void mw_fatal_default(int sig, void *siginfo, void *uc)
{
    siginfo_t *si = siginfo;
    int saved = errno;
    if (sig > 0 && sig < NSIG) atomic_store(&ours[sig], 0);
    if (real_sigaction) { /* ours had SA_RESETHAND; a handler chaining to us (the watch core's) did not */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        real_sigaction(sig, &dfl, NULL);
    }
    /* A request to end (not a fault: the faulting instruction would run again) that comes
     * while the thread runs the shim's own code (the reachability scan at exit, a first stack
     * capture, a new thread's set-up): it waits until that code is left (mw_guard_leave; the
     * scan stops at its next check, mw_finish acts on it before the END), then is recorded
     * and kills (mw_fatal_deferred). Dying here took the records since the writer's last flush
     * along: most of a short-lived worker's trace (python3's multiprocessing pools get SIGTERM
     * as they exit: 11 of 16 workers' traces without an allocation, 2026-11-23). */
    if (mw_tls_internal && !is_fault(sig)) {
        mw_tls_deferred_code = si ? si->si_code : 0;
        mw_tls_deferred_sig = sig;
        errno = saved;
        return;
    }
    mw_thread *t = mw_tls_self;
    /* Also from inside a hook (mw_tls_guard set, not the shim's internal code), where the
     * heap's own crashes happen: glibc's free() aborting on a double free, malloc() faulting
     * on a corrupted chunk. Safe there unless a record is half written (t->nest: the hooks
     * hold no reservation while they call the real allocator); the stack is 0 when the
     * interrupted code was unwinding or interning (mw_stack_from_ucontext). */
    if (!mw_own()) mw_not_own(); /* a child of a fork we did not see: no writer to wait for */
    if (t && mw_tls_guard < MW_GUARD_VFORK && !mw_tls_internal && !t->nest &&
        atomic_load(&mw_state) == MW_ST_ON) {
        uint64_t stack = mw_stack_from_ucontext(t, uc);
        int g = mw_guard_enter();
        uint64_t addr = si && (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL)
                            ? (uint64_t)(uintptr_t)si->si_addr : 0;
        MW_EMIT(t, 64, mw_enc_fatal_signal, mw_now_ns(), (uint64_t)sig,
                si ? (uint64_t)(uint32_t)si->si_code : 0, addr, stack);
        mw_guard_leave(g);
    }
    /* not from the shim's own threads, nor from a vfork child (the writer it would wait for
     * is the parent's) */
    if (!mw_tls_internal && mw_tls_guard < MW_GUARD_VFORK && mw_own()) mw_writer_sync_for(2000);
    /* The signal is blocked while this handler runs: raised now, it is delivered with the
     * default action as the handler returns, before a faulting instruction could run again
     * (and also when it came from kill(), which no instruction would repeat). */
    raise(sig);
    errno = saved;
}

static bool is_fatal_sig(int sig)
{
    for (size_t i = 0; i < NFATAL; i++)
        if (fatal_sigs[i] == sig) return true;
    return false;
}

static bool is_default(const struct sigaction *a)
{
    return !(a->sa_flags & SA_SIGINFO) && a->sa_handler == SIG_DFL;
}

/* Makes the shim's handler signal s's action; the action it replaced in *prev (may be NULL). */
static int install_ours(int s, struct sigaction *prev)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_ONSTACK | SA_RESTART;
    int r = real_sigaction(s, &sa, prev);
    if (r == 0) atomic_store(&ours[s], 1);
    return r;
}

void mw_fatal_install(void)
{
    resolve();
    if (!real_sigaction) return;
    for (size_t i = 0; i < NFATAL; i++) {
        int s = fatal_sigs[i];
        struct sigaction cur;
        if (real_sigaction(s, NULL, &cur) != 0) continue;
        if (!is_default(&cur)) continue; /* the program's */
        install_ours(s, NULL);
    }
}

/* The action the program would have found where the shim's handler is: the default. */
static void as_default(struct sigaction *a)
{
    memset(a, 0, sizeof *a);
    a->sa_handler = SIG_DFL;
    sigemptyset(&a->sa_mask);
}

/* ---- the alternate signal stack ------------------------------------------------------------ */
/* A stack overflow's SIGSEGV can only be handled on another stack: without one the kernel
 * kills the process at once, and everything since the writer's last flush is lost. Each
 * traced thread that has no alternate signal stack of the program's gets the shim's
 * (ALT_STACK bytes, mapped once and kept with the thread's state; a capture from a handler
 * running on it unwinds there, stack.c), which the fatal handler (SA_ONSTACK) runs on. The
 * program does not see it: sigaltstack() reports none where it is, and the program's own
 * replaces it. It is disabled as the thread ends, before its state can go to another thread.
 * A program's handler with SA_ONSTACK, which had no alternate stack to run on, now runs on
 * this one. */
#define ALT_STACK MW_ALT_STACK
static __thread bool alt_ours;  /* this thread's alternate stack is the shim's */
static __thread void *alt_lo;

static int raw_sigaltstack(const stack_t *ss, stack_t *old) { return (int)syscall(SYS_sigaltstack, ss, old); }

void mw_fatal_thread_start(mw_thread *t)
{
    stack_t cur;
    if (raw_sigaltstack(NULL, &cur) != 0 || (cur.ss_flags & SS_ONSTACK)) return;
    if (!(cur.ss_flags & SS_DISABLE) && !alt_ours) return; /* the program's own */
    if (!t->alt_stack) {
        void *p = mw_real.mmap ? mw_real.mmap(NULL, ALT_STACK, PROT_READ | PROT_WRITE,
                                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0)
                               : MAP_FAILED;
        if (p == MAP_FAILED) return;
        mw_own_range_add(p, ALT_STACK); /* never a root */
        t->alt_stack = p;
    }
    /* alt_ours already set: a fork child's thread, whose stack was the parent's state's */
    stack_t ss = { .ss_sp = t->alt_stack, .ss_flags = 0, .ss_size = ALT_STACK };
    if (raw_sigaltstack(&ss, NULL) == 0) {
        alt_ours = true;
        alt_lo = t->alt_stack;
    }
}

void mw_fatal_thread_exit(void)
{
    if (!alt_ours) return;
    stack_t ss = { .ss_sp = NULL, .ss_flags = SS_DISABLE, .ss_size = 0 };
    if (raw_sigaltstack(&ss, NULL) == 0) alt_ours = false;
}

/* ---- what the program sees --------------------------------------------------------------- */
MW_EXPORT int sigaltstack(const stack_t *ss, stack_t *old)
{
    stack_t prev;
    if (raw_sigaltstack(ss, &prev) != 0) return -1;
    if (old) {
        if (alt_ours && prev.ss_sp == alt_lo && !(prev.ss_flags & SS_ONSTACK)) {
            old->ss_sp = NULL; /* none, as far as the program knows */
            old->ss_flags = SS_DISABLE;
            old->ss_size = 0;
        } else {
            *old = prev;
        }
    }
    if (ss) alt_ours = false; /* the program's choice from now on */
    return 0;
}

/* glibc's sigaction, past the shim's own below (the exit scan swaps a handler in and out
 * around its direct copies: reach_roots.c). */
int mw_sigaction_real(int sig, const struct sigaction *act, struct sigaction *old)
{
    resolve();
    if (!real_sigaction) {
        errno = ENOSYS;
        return -1;
    }
    return real_sigaction(sig, act, old);
}

MW_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    resolve();
    if (!real_sigaction) {
        errno = ENOSYS;
        return -1;
    }
    bool hide = sig > 0 && sig < NSIG && atomic_load(&ours[sig]);
    if (act && is_default(act) && is_fatal_sig(sig)) {
        /* the program asks for the default action (often to die of the signal it just
         * handled, as git's and many clean-up handlers do: restore, then raise): the shim's
         * handler, which records the signal and then does exactly that */
        struct sigaction prev;
        int r = install_ours(sig, &prev);
        if (r == 0 && old) {
            if (hide) as_default(old);
            else *old = prev;
        }
        return r;
    }
    int r = real_sigaction(sig, act, old);
    if (r == 0 && hide) {
        if (old) as_default(old);
        if (act) atomic_store(&ours[sig], 0); /* the program's own action from now on */
    }
    return r;
}

MW_EXPORT sighandler_fn signal(int sig, sighandler_fn handler)
{
    resolve();
    if (!real_signal) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    bool hide = sig > 0 && sig < NSIG && atomic_load(&ours[sig]);
    if (handler == SIG_DFL && is_fatal_sig(sig)) { /* as in sigaction() above */
        struct sigaction prev;
        if (install_ours(sig, &prev) != 0) return SIG_ERR;
        if (hide || !(prev.sa_flags & SA_SIGINFO)) return hide ? SIG_DFL : prev.sa_handler;
        return (sighandler_fn)(void *)prev.sa_sigaction;
    }
    sighandler_fn old = real_signal(sig, handler);
    if (old != SIG_ERR && hide) {
        atomic_store(&ours[sig], 0);
        return SIG_DFL;
    }
    return old;
}
