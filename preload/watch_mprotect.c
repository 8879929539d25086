/*
 * watch_mprotect.c — the fallback when userfaultfd is unavailable (an unprivileged user with
 * vm.unprivileged_userfaultfd=0, a seccomp filter) or cannot protect a mapping (file-backed
 * private pages such as a program's .data): watched pages are made read-only with mprotect,
 * and a write arrives as SIGSEGV (SEGV_ACCERR) in the writer itself. The handler runs the same
 * single-step protocol as the userfaultfd path (watch_step.c) with the step slot as a lock:
 * one step at a time, other faulting writers wait in their handler until it is free.
 *
 * Limits (README section "watch"): a system call writing into a watched page fails with
 * EFAULT; a writer that blocks SIGSEGV is killed by the kernel; an unmap is not seen.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "mw_shim.h"
#include "watch_core.h"

static struct sigaction old_segv;
static _Atomic int installed;

int mw_mprot_protect(uintptr_t lo, uintptr_t hi)
{
    if (syscall(SYS_mprotect, lo, hi - lo, PROT_READ) < 0) return -errno;
    return 0;
}

void mw_mprot_unprotect(uintptr_t lo, uintptr_t hi)
{
    int saved = errno;
    syscall(SYS_mprotect, lo, hi - lo, PROT_READ | PROT_WRITE);
    errno = saved;
}

static void chain_segv(int sig, siginfo_t *si, void *uc)
{
    if (old_segv.sa_flags & SA_SIGINFO) {
        if (old_segv.sa_sigaction) old_segv.sa_sigaction(sig, si, uc);
        return;
    }
    if (old_segv.sa_handler == SIG_DFL || old_segv.sa_handler == SIG_IGN) {
        /* Not ours: the default action (core dump), after the trace is flushed (fatal.c) */
        mw_fatal_default(sig, si, uc);
        return;
    }
    old_segv.sa_handler(sig);
}

static size_t collect(uintptr_t page, mw_watch *out, size_t max)
{
    bool locked = mw_wtab_lock_for(mw_w_gettid());
    size_t n = mw_wtab_collect(page, page + MW_WATCH_PAGE, out, max);
    if (locked) mw_wtab_unlock();
    return n;
}

bool mw_mprot_on_segv(siginfo_t *si, void *ucv)
{
    if (si->si_code != SEGV_ACCERR) return false;
    ucontext_t *uc = ucv;
    mw_step_slot *s = &mw_step;
    uintptr_t addr = (uintptr_t)si->si_addr;
    uintptr_t page = addr & ~(uintptr_t)(MW_WATCH_PAGE - 1);
    pid_t me = mw_w_gettid();
    static mw_watch found[MW_WATCH_SLOT_WATCHES];
    if (atomic_load(&s->state) == MW_SS_STEPPING && s->tid == me &&
        s->backend == MW_WB_MPROTECT) {
        /* The instruction being stepped needs a further watched page. */
        size_t n = collect(page, found, MW_WATCH_SLOT_WATCHES);
        if (n == 0) return false;
        for (size_t i = 0; i < n && s->nwatches < MW_WATCH_SLOT_WATCHES; i++) {
            bool dup = false;
            for (unsigned j = 0; j < s->nwatches; j++) dup |= s->watches[j].id == found[i].id;
            if (!dup) s->watches[s->nwatches++] = found[i];
        }
        mw_step_add_range(s, page, page + MW_WATCH_PAGE);
        syscall(SYS_mprotect, page, MW_WATCH_PAGE, PROT_READ | PROT_WRITE);
        return true;
    }
    bool locked = mw_wtab_lock_for(me);
    bool ours = mw_wtab_page_used(page, NULL);
    if (locked) mw_wtab_unlock();
    if (!ours) return false;
    /* Take the step slot (other writers wait here while one steps). */
    for (;;) {
        int expect = MW_SS_IDLE;
        if (atomic_compare_exchange_weak(&s->state, &expect, MW_SS_BUSY)) break;
        sched_yield();
    }
    size_t n = collect(page, s->watches, MW_WATCH_SLOT_WATCHES);
    if (n == 0) { /* unwatched meanwhile: the page is writable again, just retry */
        atomic_store(&s->state, MW_SS_IDLE);
        return true;
    }
    s->nwatches = (unsigned)n;
    s->tid = me;
    s->fault_addr = addr;
    s->pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    s->syscall = -1;
    s->backend = MW_WB_MPROTECT;
    s->nranges = 0;
    s->nextra = 0;
    s->stack = 0;
    s->sql_fp = 0;
    s->wflags = 0;
    s->has_loc = false;
    s->gen++;
    mw_step_add_range(s, page, page + MW_WATCH_PAGE);
    atomic_store(&s->state, MW_SS_STEPPING);
    mw_step_begin_in_handler(s, uc);
    return true;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    uintptr_t a = (uintptr_t)si->si_addr;
    if (si->si_code == SEGV_ACCERR && a >= atomic_load(&mw_anon_lo) && a < atomic_load(&mw_anon_hi)) {
        /* The page is being replaced by an anonymous copy (watch_anon.c): wait, retry. */
        while (a >= atomic_load(&mw_anon_lo) && a < atomic_load(&mw_anon_hi)) sched_yield();
        errno = saved;
        return;
    }
    bool mine = mw_mprot_on_segv(si, uc);
    errno = saved;
    if (!mine) chain_segv(sig, si, uc);
}

bool mw_mprot_init(void)
{
    if (atomic_load(&installed)) return true;
    if (!mw_step_install_handlers()) return false;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTRAP);
    if (sigaction(SIGSEGV, &sa, &old_segv) < 0) return false;
    atomic_store(&installed, 1);
    return true;
}
