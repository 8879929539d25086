/*
 * watch_fault.c — the fault thread: reads the userfaultfd and serves every write fault on a
 * watched page, one at a time (steps are serialized, so one page is un-protected at a time).
 *
 * Per fault, /proc/self/task/<tid>/syscall tells who writes:
 *   "-1 sp pc"  user-mode store: the writer is sent MW_WATCH_SIG_CAPTURE and single-steps
 *               itself (watch_step.c); if it has that signal blocked, the page is opened for
 *               it without a stack and re-protected as soon as the watched bytes change
 *               (at most NOSTACK_MAX_NS later).
 *   "<nr> ..."  the kernel writes inside system call nr (e.g. read(2)): the writer is sent
 *               the capture signal BEFORE its page(s) are opened and it is woken (a pending
 *               non-fatal signal does not fail a kernel-mode fault, it is retried); the
 *               handler runs as the call returns to user mode and re-protects. With the
 *               signal blocked: the page is re-protected when the call is over (its
 *               /proc/self/task/<tid>/io counters moved, it blocks elsewhere, it faults again)
 *               or KERNEL_MAX_NS passed.
 * Unmap, remove (MADV_DONTNEED) and remap events end the watches of the range.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mw_core.h"
#include "watch_core.h"

#define NOSTACK_MAX_NS 2000000ull     /* signal-blocked writer: page open at most 2 ms */
#define KERNEL_MAX_NS 2000000ull      /* kernel write: page open at most 2 ms */
#define SIGNAL_WAIT_MS 10             /* capture handler not run yet: check for a block */
/* Messages read from the userfaultfd but not served yet. Each is a thread blocked in a fault
 * (or an event) until served: one at most per thread, so room for 64 Ki threads (2 MiB of
 * .bss, touched only as far as it is used). A message that found no room would leave its
 * thread blocked until something else woke its page (4 096 until 2026-11-22). Mapped when the
 * fault thread starts: in .bss its 2 MiB were address space, and memory mlockall() locked, in
 * every traced process, watching or not. */
#define QUEUE_MAX 65536u
#define RESUME_AFTER_NS 200000000ull  /* paused threads are released after 200 ms at most */

static struct uffd_msg *queue;
static unsigned q_head, q_len;
static pthread_t fault_thread;
static _Atomic int thread_started;

static _Atomic pid_t self_tid;   /* the fault thread */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool q_push(const struct uffd_msg *m, bool front)
{
    if (q_len == QUEUE_MAX) return false;
    if (front) {
        q_head = (q_head + QUEUE_MAX - 1) % QUEUE_MAX;
        queue[q_head] = *m;
    } else {
        queue[(q_head + q_len) % QUEUE_MAX] = *m;
    }
    q_len++;
    return true;
}

static bool q_pop(struct uffd_msg *m)
{
    if (!q_len) return false;
    *m = queue[q_head];
    q_head = (q_head + 1) % QUEUE_MAX;
    q_len--;
    return true;
}

/* Reads one message without blocking; false when none. */
static bool read_msg(struct uffd_msg *m)
{
    for (;;) {
        ssize_t r = read(mw_uffd, m, sizeof *m);
        if (r == (ssize_t)sizeof *m) return true;
        if (r < 0 && errno == EINTR) continue;
        return false;
    }
}

static void drain_efd(void)
{
    uint64_t v;
    while (read(mw_step_efd(), &v, sizeof v) == (ssize_t)sizeof v) {}
}

/* ---- serving one fault ----------------------------------------------------------------- */
static void collect_watches(mw_step_slot *s, uintptr_t page)
{
    static mw_watch tmp[MW_WATCH_SLOT_WATCHES]; /* fault thread only */
    bool locked = mw_wtab_lock_for(s->tid);
    size_t n = mw_wtab_collect(page, page + MW_WATCH_PAGE, tmp, MW_WATCH_SLOT_WATCHES);
    if (locked) mw_wtab_unlock();
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (unsigned j = 0; j < s->nwatches; j++)
            if (s->watches[j].id == tmp[i].id) dup = true;
        if (!dup && s->nwatches < MW_WATCH_SLOT_WATCHES) s->watches[s->nwatches++] = tmp[i];
    }
}

/* The writer of the current step faulted on a further page (page-crossing store, or a rep
 * string instruction moving on): open that page too. */
static void extend_step(mw_step_slot *s, const struct uffd_msg *m)
{
    uintptr_t page = m->arg.pagefault.address & ~(uintptr_t)(MW_WATCH_PAGE - 1);
    /* A message from before (the writer was woken and moved on) must not open anything.
     * (Not for a kernel write: with the capture signal pending the writer's fault is retried
     * in a loop without sleeping, so it looks "running"; its messages are current.) */
    if (atomic_load(&s->state) != MW_SS_KWAIT) {
        char line[256];
        uintptr_t pc;
        if (mw_wp_task_syscall(s->tid, &pc, line, sizeof line) == -2 || !mw_wp_in_uffd_wait(s->tid)) return;
    }
    bool known = false;
    for (unsigned i = 0; i < s->nranges; i++) known |= s->ranges[i].lo == page;
    for (unsigned i = 0; i < s->nextra; i++) known |= s->extra[i] == page;
    int st = atomic_load(&s->state);
    if (known) {
        if (st == MW_SS_SIGNALED) {
            /* before the step began: the kernel writes the signal frame into this page (a
             * watched variable on the writer's stack), or the writer retried its store */
        } else if (atomic_load(&s->reprotected)) {
            /* the trap handler is closing (or has closed) the pages and still writes to
             * one (its frames): open it; it is closed again when the step is over */
            s->late_open = true;
        } else {
            return; /* open already (a message from before the step): nothing to do */
        }
    } else {
        collect_watches(s, page);
        if (!mw_step_add_range(s, page, page + MW_WATCH_PAGE)) {
            /* More pages than one step snapshots: open it all the same (it is re-protected
             * with the others), its bytes are not diffed and the events say TRUNCATED. When
             * even that list is full the writer stays blocked until this step ends. */
            if (s->nextra == MW_WATCH_STEP_EXTRA) return;
            s->extra[s->nextra++] = page;
        }
        if (atomic_load(&s->reprotected)) s->late_open = true;
    }
    mw_uffd_wp(page, MW_WATCH_PAGE, false);
    /* Not UFFDIO_WAKE: that wakes every thread blocked on the page, and they would store
     * unobserved while it is open. A signal wakes only the writer (its fault is retried; the
     * pause handler returns at once for the thread being stepped). */
    syscall(SYS_tgkill, getpid(), s->tid, MW_WATCH_SIG_PAUSE);
}

static void reprotect(mw_step_slot *s)
{
    for (unsigned i = 0; i < s->nranges; i++) mw_uffd_wp(s->ranges[i].lo, MW_WATCH_PAGE, true);
    for (unsigned i = 0; i < s->nextra; i++) mw_uffd_wp(s->extra[i], MW_WATCH_PAGE, true);
    mw_step_capture_now(s);
}

static bool any_change(mw_step_slot *s)
{
    for (unsigned i = 0; i < s->nranges; i++)
        if (memcmp(s->snap[i], (const void *)s->ranges[i].lo, MW_WATCH_PAGE) != 0) return true;
    return false;
}

/* Whether the re-protected pages differ from the snapshot. */
static bool any_change_now(const mw_step_slot *s)
{
    for (unsigned i = 0; i < s->nranges; i++)
        if (memcmp(s->snap[i], s->now[i], MW_WATCH_PAGE) != 0) return true;
    return false;
}

static void context_of(mw_step_slot *s)
{
    s->t_ns = mw_now_ns();
    mw_thread *t = mw_thread_by_tid(s->tid);
    if (!t) return;
    s->sql_fp = mw_thread_sql_fp(t);
    s->has_loc = mw_thread_take_location(t, s->loc_file, sizeof s->loc_file, &s->loc_line,
                                         s->loc_func, sizeof s->loc_func);
}

/* Opens the page for the writer without its cooperation and closes it again when done(). */
/* Returns false when it gave up (time limit) without seeing the writer act. */
static bool open_until(mw_step_slot *s, uint64_t max_ns, bool kernel, const char *line0)
{
    bool acted = true;
    uint64_t io0 = kernel ? mw_wp_io_calls(s->tid) : 0;
    for (unsigned i = 0; i < s->nranges; i++) mw_uffd_wp(s->ranges[i].lo, MW_WATCH_PAGE, false);
    mw_uffd_wake(s->fault_addr, 1);
    uint64_t t0 = mono_ns();
    char line[256];
    for (;;) {
        struct pollfd pfd = { .fd = mw_uffd, .events = POLLIN };
        struct timespec ts = { 0, 20000 };
        if (ppoll(&pfd, 1, &ts, NULL) > 0) {
            struct uffd_msg m;
            if (read_msg(&m)) {
                if (m.event == UFFD_EVENT_PAGEFAULT && (pid_t)m.arg.pagefault.feat.ptid == s->tid) {
                    q_push(&m, true); /* the writer moved on and faulted again */
                    break;
                }
                if (!q_push(&m, false)) break;
            }
        }
        if (mono_ns() - t0 > max_ns) { acted = false; break; }
        if (kernel) {
            if (mw_wp_io_calls(s->tid) != io0) break;
            uintptr_t pc;
            int64_t nr = mw_wp_task_syscall(s->tid, &pc, line, sizeof line);
            if (nr != -2 && strcmp(line, line0) != 0) break;
        } else if (any_change(s)) {
            break;
        }
    }
    reprotect(s);
    return acted;
}

static void serve_fault_owned(const struct uffd_msg *m, bool nested);

/* Before a page is opened with UFFDIO_WAKE (which wakes every writer blocked on it), the other
 * threads already waiting on that page are served first, so they do not write unobserved. */
static void serve_others_on_page(uintptr_t page, pid_t tid)
{
    struct uffd_msg m;
    while (q_len < QUEUE_MAX && read_msg(&m)) q_push(&m, false);
    for (unsigned i = 0; i < q_len;) {
        struct uffd_msg *e = &queue[(q_head + i) % QUEUE_MAX];
        if (e->event == UFFD_EVENT_PAGEFAULT && (pid_t)e->arg.pagefault.feat.ptid != tid &&
            (e->arg.pagefault.address & ~(uintptr_t)(MW_WATCH_PAGE - 1)) == page) {
            struct uffd_msg c = *e;
            for (unsigned j = i; j + 1 < q_len; j++)
                queue[(q_head + j) % QUEUE_MAX] = queue[(q_head + j + 1) % QUEUE_MAX];
            q_len--;
            serve_fault_owned(&c, true);
        } else {
            i++;
        }
    }
}

/* Adds every watched page of [lo, hi) to the slot; false when they are more than fit. */
static bool add_watched_pages(mw_step_slot *s, uintptr_t lo, uintptr_t hi)
{
    static mw_watch tmp[MW_WATCH_SLOT_WATCHES]; /* fault thread only */
    bool locked = mw_wtab_lock_for(s->tid);
    size_t n = mw_wtab_collect(lo, hi, tmp, MW_WATCH_SLOT_WATCHES);
    if (locked) mw_wtab_unlock();
    if (n == MW_WATCH_SLOT_WATCHES) return false;
    for (size_t i = 0; i < n; i++) {
        uintptr_t a = tmp[i].addr > lo ? tmp[i].addr : lo;
        uintptr_t b = tmp[i].addr + tmp[i].len < hi ? tmp[i].addr + tmp[i].len : hi;
        for (uintptr_t pg = a & ~(uintptr_t)(MW_WATCH_PAGE - 1); pg < b; pg += MW_WATCH_PAGE) {
            collect_watches(s, pg);
            if (!mw_step_add_range(s, pg, pg + MW_WATCH_PAGE)) return false;
        }
    }
    return true;
}

enum wait_result { WAIT_DONE, WAIT_STALE, WAIT_NOSTACK, WAIT_GONE };

/* Waits for the writer's handler to finish the step (state `waiting` until it runs), serving
 * its page-crossing faults and queueing everything else. */
static enum wait_result wait_handler(mw_step_slot *s, int waiting)
{
    uint64_t t0 = mono_ns(), t_begin = t0;
    for (;;) {
        struct pollfd pfd[2] = { { .fd = mw_step_efd(), .events = POLLIN },
                                 { .fd = mw_uffd, .events = POLLIN } };
        int np = q_len < QUEUE_MAX ? 2 : 1;
        int r = poll(pfd, (nfds_t)np, SIGNAL_WAIT_MS);
        /* A very slow step (the writer waits for a lock a paused thread holds?): let the
         * others go rather than risk a deadlock. */
        if (r == 0 && mono_ns() - t_begin > RESUME_AFTER_NS) mw_resume_others();
        if (r > 0 && (pfd[0].revents & POLLIN)) drain_efd();
        int st = atomic_load(&s->state);
        if (st == MW_SS_DONE) return WAIT_DONE;
        if (st == MW_SS_STALE) return WAIT_STALE;
        if (r > 0 && np == 2 && (pfd[1].revents & POLLIN)) {
            struct uffd_msg m2;
            if (read_msg(&m2)) {
                bool mine = m2.event == UFFD_EVENT_PAGEFAULT &&
                            (pid_t)m2.arg.pagefault.feat.ptid == s->tid;
                if (mine && (st == MW_SS_STEPPING || waiting == MW_SS_KWAIT)) {
                    extend_step(s, &m2);
                } else if (mine) {
                    /* Faulted again before the handler ran: either the signal is blocked,
                     * or something else (a stale pause signal) woke it and it retried. */
                    int expect = waiting;
                    if (mw_wp_signal_blocked(s->tid, MW_WATCH_SIG_CAPTURE, true) &&
                        atomic_compare_exchange_strong(&s->state, &expect, MW_SS_BUSY)) {
                        s->fault_addr = m2.arg.pagefault.address;
                        return WAIT_NOSTACK;
                    }
                    /* Not blocked: the kernel is writing the signal frame into a watched
                     * page (a watched variable on the writer's stack), or the writer was
                     * woken and retried. Open that page too: the pending capture signal is
                     * delivered before its next instruction, so nothing slips through. */
                    extend_step(s, &m2);
                } else {
                    q_push(&m2, false);
                }
            }
        }
        if (st == waiting && mono_ns() - t0 > SIGNAL_WAIT_MS * 1000000ull) {
            bool gone = syscall(SYS_tgkill, getpid(), s->tid, 0) < 0;
            if (gone || mw_wp_signal_blocked(s->tid, MW_WATCH_SIG_CAPTURE, true)) {
                int expect = waiting;
                if (atomic_compare_exchange_strong(&s->state, &expect, MW_SS_BUSY))
                    return gone ? WAIT_GONE : WAIT_NOSTACK;
            }
            t0 = mono_ns();
        }
    }
}

/* Kernel write: the writer is signalled FIRST, then its page(s) are opened and it is woken.
 * A pending non-fatal signal does not fail a kernel-mode fault (the kernel retries it), and
 * the handler runs when the system call returns to user mode, before any further instruction
 * of the program: it re-protects the pages (watch_step.c). So one event covers exactly the
 * bytes the kernel wrote into watched memory during that call. For calls whose arguments name
 * the buffer (read, pread64, recvfrom, getrandom, ...) every watched page of it is opened at
 * once; otherwise each further page the call faults on is opened as it comes. */
static void serve_kernel_signalled(mw_step_slot *s, const char *line0)
{
    uintptr_t blo, bhi;
    if (mw_wp_syscall_range(s->syscall, line0, &blo, &bhi)) (void)add_watched_pages(s, blo, bhi);
    drain_efd();
    atomic_store(&s->state, MW_SS_KWAIT);
    bool sig = syscall(SYS_tgkill, getpid(), s->tid, MW_WATCH_SIG_CAPTURE) == 0;
    /* No UFFDIO_WAKE (it would wake other writers blocked on these pages): the signal
     * already woke the writer, whose kernel-mode fault retries until the pages are open. */
    for (unsigned i = 0; i < s->nranges; i++) mw_uffd_wp(s->ranges[i].lo, MW_WATCH_PAGE, false);
    enum wait_result w = WAIT_GONE;
    if (sig) w = wait_handler(s, MW_SS_KWAIT);
    else atomic_store(&s->state, MW_SS_BUSY);
    if (w != WAIT_DONE) { reprotect(s); context_of(s); s->wflags |= MW_WF_NO_STACK; }
    mw_step_emit_events(s);
}

static void serve_fault_owned(const struct uffd_msg *m, bool nested)
{
    mw_step_slot *s = &mw_step;
    uintptr_t addr = m->arg.pagefault.address;
    uintptr_t page = addr & ~(uintptr_t)(MW_WATCH_PAGE - 1);
    pid_t tid = (pid_t)m->arg.pagefault.feat.ptid;
    char line0[256];
    uintptr_t pc = 0;
    int64_t nr = mw_wp_task_syscall(tid, &pc, line0, sizeof line0);
    if (nr == -2 || !mw_wp_in_uffd_wait(tid)) return; /* stale: not waiting in a fault any more */
    bool blocked = mw_wp_maybe_blocked(tid, MW_WATCH_SIG_CAPTURE);
    if (!nested && (nr >= 0 || blocked)) serve_others_on_page(page, tid);
    s->tid = tid;
    s->fault_addr = addr;
    s->nranges = 0;
    s->nextra = 0;
    s->late_open = false;
    atomic_store(&s->reprotected, 0);
    s->nwatches = 0;
    s->stack = 0;
    s->sql_fp = 0;
    s->wflags = 0;
    s->has_loc = false;
    s->pc = 0;
    s->backend = MW_WB_UFFD;
    s->gen++;
    collect_watches(s, page);
    if (s->nwatches == 0) {
        /* Nothing watched here any more (unwatch raced with the fault). */
        mw_uffd_wp(page, MW_WATCH_PAGE, false);
        mw_uffd_wake(addr, 1);
        return;
    }
    mw_step_add_range(s, page, page + MW_WATCH_PAGE);
    if (nr >= 0 && !mw_wp_kernel_write_plausible(nr, line0, addr)) return; /* stale (see there) */
    if (nr >= 0) {
        s->syscall = nr;
        s->wflags = MW_WF_KERNEL;
        if (!blocked) { serve_kernel_signalled(s, line0); return; }
        s->wflags |= MW_WF_NO_STACK;
        open_until(s, KERNEL_MAX_NS, true, line0);
        context_of(s);
        mw_step_emit_events(s);
        return;
    }
    if (nr == -2 || !pc) {
        /* Not waiting in this fault any more (a signal woke it, or it is gone): a stale
         * message. If it retries the store it faults again and is served then. */
        return;
    }
    s->syscall = -1;
    s->pc = pc;
    if (blocked) goto nostack;
    drain_efd();
    /* A page several threads write: the others that are running wait out the step. */
    if (mw_pause_page_shared(page, tid)) mw_pause_others(tid, self_tid);
    atomic_store(&s->state, MW_SS_SIGNALED);
    if (syscall(SYS_tgkill, getpid(), s->tid, MW_WATCH_SIG_CAPTURE) < 0) {
        atomic_store(&s->state, MW_SS_BUSY);
        mw_resume_others();
        mw_uffd_wake(addr, 1); /* gone or unreachable: let it retry */
        return;
    }
    enum wait_result wr = wait_handler(s, MW_SS_SIGNALED);
    if (s->late_open) { /* before the others go on */
        for (unsigned i = 0; i < s->nranges; i++) mw_uffd_wp(s->ranges[i].lo, MW_WATCH_PAGE, true);
        for (unsigned i = 0; i < s->nextra; i++) mw_uffd_wp(s->extra[i], MW_WATCH_PAGE, true);
    }
    if (wr != WAIT_NOSTACK) mw_resume_others();
    switch (wr) {
    case WAIT_DONE: mw_step_emit_events(s); return;
    case WAIT_STALE: case WAIT_GONE:
        reprotect(s); /* pages extend_step opened meanwhile */
        return;
    case WAIT_NOSTACK: break;
    }
nostack:
    atomic_store(&s->state, MW_SS_BUSY);
    s->wflags = MW_WF_NO_STACK;
    /* No change within the limit: the writer did not get to run (it faults again and is
     * served again), or stored the bytes already there (not reported on this path). */
    bool acted = open_until(s, NOSTACK_MAX_NS, false, "");
    mw_resume_others();
    if (!acted && !any_change_now(s)) return;
    context_of(s);
    mw_step_emit_events(s);
}

/* Takes the step slot (shared with the mprotect fallback), serves, releases. */
static void serve_fault(const struct uffd_msg *m)
{
    for (;;) {
        int expect = MW_SS_IDLE;
        if (atomic_compare_exchange_weak(&mw_step.state, &expect, MW_SS_BUSY)) break;
        sched_yield();
    }
    serve_fault_owned(m, false);
    atomic_store(&mw_step.state, MW_SS_IDLE);
}

static void serve(const struct uffd_msg *m)
{
    switch (m->event) {
    case UFFD_EVENT_PAGEFAULT:
        if (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) serve_fault(m);
        else mw_uffd_wake(m->arg.pagefault.address, 1);
        break;
    case UFFD_EVENT_UNMAP:
    case UFFD_EVENT_REMOVE:
        mw_watch_unmapped(m->arg.remove.start, m->arg.remove.end);
        break;
    case UFFD_EVENT_REMAP:
        mw_watch_unmapped(m->arg.remap.from, m->arg.remap.from + m->arg.remap.len);
        mw_uffd_unprotect(m->arg.remap.to, m->arg.remap.to + m->arg.remap.len);
        break;
    default:
        break;
    }
}

static void *fault_main(void *arg)
{
    (void)arg;
    mw_internal_block_signals(); /* all but the credential sync signal (hooks_creds.c) */
    prctl(PR_SET_NAME, "memwatch-watch", 0, 0, 0);
    self_tid = mw_w_gettid();
    /* Writers wait while a fault is served: when allowed (root, CAP_SYS_NICE), run above
     * normal threads so a loaded machine does not stretch that wait. Never spins. */
    struct sched_param sp = { .sched_priority = 1 };
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    for (;;) {
        struct uffd_msg m;
        if (q_pop(&m)) { serve(&m); continue; }
        struct pollfd pfd = { .fd = mw_uffd, .events = POLLIN };
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR) break;
        if (read_msg(&m)) serve(&m);
    }
    return NULL;
}

void mw_fault_wait_idle(void)
{
    if (!atomic_load(&thread_started)) return;
    for (int i = 0; i < 20000 && !atomic_load(&self_tid); i++) { /* just created: not yet running */
        mw_sleep_ns(100 * 1000);
    }
    mw_wait_thread_in_syscall(atomic_load(&self_tid), SYS_poll, 2000);
}

bool mw_uffd_start_thread(void)
{
    if (atomic_load(&thread_started)) return true;
    static _Atomic int lock;
    while (atomic_exchange(&lock, 1)) sched_yield();
    bool ok = true;
    if (!atomic_load(&thread_started) && !queue) queue = mw_own_alloc(QUEUE_MAX * sizeof *queue);
    if (!queue) ok = false;
    if (ok && !atomic_load(&thread_started)) {
        int g = mw_guard_enter();
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        ok = mw_internal_thread_create(&fault_thread, &at, "memwatch-watch", fault_main, NULL) == 0;
        pthread_attr_destroy(&at);
        mw_guard_leave(g);
        if (ok) atomic_store(&thread_started, 1);
    }
    atomic_store(&lock, 0);
    return ok;
}

/* At exit, before the shim's own destructor writes the trace's end: let a write event the
 * fault thread is still emitting (the writer goes on as soon as its step is done) get in. */
__attribute__((destructor(65535))) static void fault_drain_at_exit(void)
{
    if (!atomic_load(&thread_started)) return;
    uint64_t t0 = mono_ns();
    while (atomic_load(&mw_step.state) != MW_SS_IDLE && mono_ns() - t0 < 200000000ull) {
        mw_sleep_ns(50000);
    }
}

void mw_fault_after_fork_child(void)
{
    mw_wp_reset();
    atomic_store(&thread_started, 0);
    q_head = q_len = 0;
    atomic_store(&mw_step.state, MW_SS_IDLE);
}
