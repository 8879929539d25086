/*
 * watch_step.c — the single-step protocol that turns one write fault into one exact event.
 *
 * A writer stopped on a write-protected page is sent MW_WATCH_SIG_CAPTURE (userfaultfd) or
 * arrives in SIGSEGV (mprotect fallback). Its handler saves the register state of the faulting
 * instruction (for the stack), un-protects the page(s) in the slot and sets the x86 trap flag
 * in the returned context. The instruction runs once; the CPU then raises a debug trap
 * (SIGTRAP, TRAP_TRACE) whose handler clears the flag, re-protects the page(s) FIRST (so no
 * later write can slip through unobserved), and, when watched bytes changed, captures the
 * writer's stack from the saved state, its SQL context and source location. The diff against
 * the snapshot taken before the un-protect is the event (mw_step_emit_events).
 *
 * A rep-prefixed string instruction traps after every iteration with the pc unchanged; the
 * trap handler keeps stepping until the pc moves, so one such instruction is one event.
 * Handlers are async-signal-safe: no locks, no allocation, errno preserved.
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "memwatch.h"
#include "mw_shim.h"
#include "watch_core.h"

#define TF_FLAG 0x100ull
#define REP_STEP_CAP (1ul << 22)

mw_step_slot mw_step;
static int efd = -1;
static inline long raw_syscall3(long n, long a, long b, long c);
static struct sigaction old_trap;

int mw_step_efd(void) { return efd; }

static void notify(void)
{
    static const uint64_t one = 1;
    if (efd >= 0) raw_syscall3(SYS_write, efd, (long)&one, sizeof one);
}

void mw_step_snapshot(mw_step_slot *s, unsigned i)
{
    memcpy(s->snap[i], (const void *)s->ranges[i].lo, MW_WATCH_PAGE);
}

void mw_step_capture_now(mw_step_slot *s)
{
    for (unsigned i = 0; i < s->nranges; i++)
        memcpy(s->now[i], (const void *)s->ranges[i].lo, MW_WATCH_PAGE);
}

bool mw_step_add_range(mw_step_slot *s, uintptr_t lo, uintptr_t hi)
{
    (void)hi;
    for (unsigned i = 0; i < s->nranges; i++)
        if (s->ranges[i].lo == lo) return true;
    if (s->nranges == MW_WATCH_STEP_PAGES) return false;
    unsigned i = s->nranges;
    s->ranges[i].lo = lo;
    s->ranges[i].hi = lo + MW_WATCH_PAGE;
    mw_step_snapshot(s, i);
    s->nranges = i + 1;
    return true;
}

/* Byte at addr as it was at the snapshot (memory itself when addr is in no range). */
static uint8_t old_byte(const mw_step_slot *s, uintptr_t a)
{
    for (unsigned i = 0; i < s->nranges; i++)
        if (a >= s->ranges[i].lo && a < s->ranges[i].hi) return s->snap[i][a - s->ranges[i].lo];
    return *(const volatile uint8_t *)a;
}

/* Byte at addr as the write left it. */
static uint8_t new_byte(const mw_step_slot *s, uintptr_t a)
{
    for (unsigned i = 0; i < s->nranges; i++)
        if (a >= s->ranges[i].lo && a < s->ranges[i].hi) return s->now[i][a - s->ranges[i].lo];
    return *(const volatile uint8_t *)a;
}

/* First and last changed byte of watch w inside the slot's ranges; false when none. */
static bool diff_span(const mw_step_slot *s, const mw_watch *w, uintptr_t *first, uintptr_t *last)
{
    bool any = false;
    for (unsigned i = 0; i < s->nranges; i++) {
        uintptr_t lo = s->ranges[i].lo > w->addr ? s->ranges[i].lo : w->addr;
        uintptr_t hi = s->ranges[i].hi < w->addr + w->len ? s->ranges[i].hi : w->addr + w->len;
        if (lo >= hi) continue;
        const uint8_t *snap = s->snap[i] + (lo - s->ranges[i].lo);
        const uint8_t *mem = s->now[i] + (lo - s->ranges[i].lo);
        for (uintptr_t k = 0; k < hi - lo; k++) {
            if (snap[k] != mem[k]) {
                uintptr_t a = lo + k;
                if (!any || a < *first) *first = a;
                if (!any || a > *last) *last = a;
                any = true;
            }
        }
    }
    return any;
}

static bool fault_in(const mw_step_slot *s, const mw_watch *w)
{
    return s->fault_addr >= w->addr && s->fault_addr < w->addr + w->len;
}

/* True when the step produced at least one event. */
static bool has_event(const mw_step_slot *s)
{
    for (unsigned j = 0; j < s->nwatches; j++) {
        uintptr_t f, l;
        if (fault_in(s, &s->watches[j]) || diff_span(s, &s->watches[j], &f, &l)) return true;
    }
    return false;
}

void mw_step_emit_events(mw_step_slot *s)
{
    static uint8_t oldb[MW_MAX_WATCH_BYTES], newb[MW_MAX_WATCH_BYTES];
    for (unsigned j = 0; j < s->nwatches; j++) {
        const mw_watch *w = &s->watches[j];
        uintptr_t first = 0, last = 0;
        mw_watch_event e = {
            .w = w, .tid = s->tid, .pc = s->pc, .stack = s->stack,
            .sql_fp = (w->flags & MEMWATCH_TRACK_SQL) ? s->sql_fp : 0,
            .t_ns = s->t_ns, .flags = s->wflags | (s->nextra ? MW_WF_TRUNCATED : 0),
            .syscall = s->syscall,
            .loc_file = s->has_loc ? s->loc_file : NULL,
            .loc_func = s->has_loc ? s->loc_func : NULL,
            .loc_line = s->has_loc ? s->loc_line : 0,
        };
        if (diff_span(s, w, &first, &last)) {
            e.offset = first - w->addr;
            e.len = last - first + 1;
        } else if (fault_in(s, w)) {
            e.offset = s->fault_addr - w->addr; /* the store wrote the bytes already there */
            e.len = 0;
        } else {
            continue;
        }
        if (w->flags & MEMWATCH_MUTATION_FULL) {
            size_t n = e.len;
            if (n > MW_MAX_WATCH_BYTES) { n = MW_MAX_WATCH_BYTES; e.flags |= MW_WF_TRUNCATED; }
            for (size_t k = 0; k < n; k++) {
                oldb[k] = old_byte(s, first + k);
                newb[k] = new_byte(s, first + k);
            }
            e.old_bytes = oldb;
            e.new_bytes = newb;
            e.flags |= MW_WF_HAS_BYTES;
        }
        mw_watch_emit_write(&e);
        s->has_loc = false; /* the location applies to the thread's next event only */
    }
}

void mw_step_fill_context(mw_step_slot *s, void *uc, bool want_stack)
{
    s->t_ns = mw_now_ns();
    mw_thread *t = mw_self();
    if (!t) { s->wflags |= MW_WF_NO_STACK; return; }
    if (want_stack && mw_cfg.stacks) { /* MEMWATCH_STACKS=0: no stacks for watch events either */
        s->stack = mw_stack_from_ucontext(t, uc);
        if (!s->stack) s->wflags |= MW_WF_NO_STACK;
    } else {
        s->wflags |= MW_WF_NO_STACK;
    }
    s->sql_fp = mw_thread_sql_fp(t);
    s->has_loc = mw_thread_take_location(t, s->loc_file, sizeof s->loc_file, &s->loc_line,
                                         s->loc_func, sizeof s->loc_func);
}

static void unprotect_ranges(mw_step_slot *s)
{
    for (unsigned i = 0; i < s->nranges; i++) {
        if (s->backend == MW_WB_UFFD)
            mw_uffd_wp(s->ranges[i].lo, MW_WATCH_PAGE, false);
        else
            syscall(SYS_mprotect, s->ranges[i].lo, MW_WATCH_PAGE, PROT_READ | PROT_WRITE);
    }
}

/* A system call without libc: no errno, no stack beyond this frame. After a handler has
 * re-protected the pages it must not write memory of the thread (errno and other TLS may
 * share a page with a watched variable near the top of a thread's stack). */
static inline long raw_syscall3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

static void raw_wp(uintptr_t lo)
{
    struct uffdio_writeprotect wp = {
        .range = { .start = lo, .len = MW_WATCH_PAGE }, .mode = UFFDIO_WRITEPROTECT_MODE_WP,
    };
    raw_syscall3(SYS_ioctl, mw_uffd, (long)UFFDIO_WRITEPROTECT, (long)&wp);
}

static void reprotect_ranges(mw_step_slot *s)
{
    for (unsigned i = 0; i < s->nranges; i++) {
        if (s->backend == MW_WB_UFFD)
            raw_wp(s->ranges[i].lo);
        else if (!mw_khooks_page_open(s->ranges[i].lo))
            raw_syscall3(SYS_mprotect, (long)s->ranges[i].lo, MW_WATCH_PAGE, PROT_READ);
    }
    for (unsigned i = 0; i < s->nextra; i++) raw_wp(s->extra[i]);
}

/* Starts the step from a handler running at the faulting instruction (both backends). */
void mw_step_begin_in_handler(mw_step_slot *s, ucontext_t *uc)
{
    size_t n = sizeof(ucontext_t) < sizeof s->saved_uc ? sizeof(ucontext_t) : sizeof s->saved_uc;
    memcpy(s->saved_uc, uc, n);
    ucontext_t *copy = (ucontext_t *)s->saved_uc;
    copy->uc_mcontext.fpregs = &copy->__fpregs_mem;
    s->iterations = 0;
    atomic_store(&s->reprotected, 0);
    unprotect_ranges(s);
    uc->uc_mcontext.gregs[REG_EFL] |= TF_FLAG;
}

/* The handlers run on an alternate signal stack (SA_ONSTACK): on the thread's own stack their
 * frames would land in a watched page when the watched variable lives on that stack, and
 * the trap handler's work after re-protecting would fault. A thread without one gets a 64 KiB
 * stack here (kept for the thread's life); one the program installed is used as it is. */
static __thread bool have_altstack;

static void ensure_altstack(void)
{
    if (have_altstack) return;
    stack_t cur;
    if (syscall(SYS_sigaltstack, NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) {
        have_altstack = true;
        return;
    }
    size_t sz = 64 * 1024;
    void *p = (void *)syscall(SYS_mmap, NULL, sz, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    mw_own_range_add(p, sz); /* signal frames hold stale register values: never a root */
    stack_t ss = { .ss_sp = p, .ss_size = sz, .ss_flags = 0 };
    if (syscall(SYS_sigaltstack, &ss, NULL) == 0) have_altstack = true;
    else syscall(SYS_munmap, p, sz);
}

static void on_capture(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    int saved = errno;
    ucontext_t *uc = ucv;
    mw_step_slot *s = &mw_step;
    ensure_altstack(); /* for the SIGTRAP of this step and every later signal */
    if (si->si_code != SI_TKILL || s->tid != mw_w_gettid() || s->backend != MW_WB_UFFD) {
        errno = saved;
        return;
    }
    if (atomic_load(&s->state) == MW_SS_KWAIT) {
        /* A kernel write's system call returned: close the pages before the program runs on,
         * and keep the stack of the code that made the call. */
        mw_step_fill_context(s, uc, true);
        errno = saved;
        reprotect_ranges(s); /* from here on: no writes to the thread's memory */
        mw_step_capture_now(s);
        int kw = MW_SS_KWAIT;
        if (atomic_compare_exchange_strong(&s->state, &kw, MW_SS_DONE)) notify();
        return;
    }
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    int expect = MW_SS_SIGNALED;
    if (!s->pc || pc != s->pc) {
        /* Not stopped at the fault any more: nothing to step; it will fault again. */
        if (atomic_compare_exchange_strong(&s->state, &expect, MW_SS_STALE)) notify();
        errno = saved;
        return;
    }
    if (!atomic_compare_exchange_strong(&s->state, &expect, MW_SS_STEPPING)) {
        errno = saved; /* cancelled: the fault thread handled it without us */
        return;
    }
    mw_step_begin_in_handler(s, uc);
    errno = saved;
}

static void chain_trap(int sig, siginfo_t *si, void *uc)
{
    if (old_trap.sa_flags & SA_SIGINFO) {
        if (old_trap.sa_sigaction) old_trap.sa_sigaction(sig, si, uc);
        return;
    }
    if (old_trap.sa_handler == SIG_IGN) return;
    if (old_trap.sa_handler == SIG_DFL) {
        signal(SIGTRAP, SIG_DFL);
        raise(SIGTRAP);
        return;
    }
    old_trap.sa_handler(sig);
}

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
    int saved = errno;
    ucontext_t *uc = ucv;
    mw_step_slot *s = &mw_step;
    if (si->si_code != TRAP_TRACE || atomic_load(&s->state) != MW_SS_STEPPING ||
        s->tid != mw_w_gettid()) {
        errno = saved;
        chain_trap(sig, si, ucv);
        return;
    }
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (pc == s->pc && ++s->iterations < REP_STEP_CAP) {
        errno = saved; /* rep string instruction still iterating: keep stepping */
        return;
    }
    uc->uc_mcontext.gregs[REG_EFL] &= ~TF_FLAG;
    /* The work that may touch the thread's own memory (unwinding, errno) is done while the
     * page is still open; then the pages are closed and only raw system calls follow. */
    mw_step_capture_now(s);
    s->wflags &= ~MW_WF_NO_STACK;
    if (has_event(s)) mw_step_fill_context(s, s->saved_uc, true);
    if (s->backend == MW_WB_MPROTECT) {
        mw_step_emit_events(s);
        errno = saved;
        reprotect_ranges(s);
        atomic_store(&s->state, MW_SS_IDLE); /* releases the fallback's step lock */
        return;
    }
    errno = saved;
    atomic_store(&s->reprotected, 1); /* before: a late fault of ours is recognised as such */
    reprotect_ranges(s);
    mw_step_capture_now(s);
    atomic_store(&s->state, MW_SS_DONE);
    notify();
}

bool mw_step_install_handlers(void)
{
    static _Atomic int done;
    if (atomic_load(&done)) return true;
    static _Atomic int lock;
    while (atomic_exchange(&lock, 1)) sched_yield();
    if (atomic_load(&done)) { atomic_store(&lock, 0); return true; }
    bool ok = true;
    if (efd < 0) efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_capture;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTRAP);
    if (sigaction(MW_WATCH_SIG_CAPTURE, &sa, NULL) < 0) ok = false;
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, MW_WATCH_SIG_CAPTURE);
    if (sigaction(SIGTRAP, &sa, &old_trap) < 0) ok = false;
    if (efd < 0 || !mw_pause_install()) ok = false;
    if (ok) atomic_store(&done, 1);
    atomic_store(&lock, 0);
    return ok;
}
