/*
 * init.c — the shim's life cycle: constructor, exit paths, fork child restart, diagnostics.
 *
 * Start: resolve the real functions, parse MEMWATCH_*, open the trace, record header, limits
 * and modules, start the writer, then switch to MW_ST_ON. When the library was dlopen()ed
 * instead of preloaded (the Python adapter), allocation tracing stays off but the writer and
 * trace work for the watch core. End: the first of (our destructor, which runs after the
 * program's atexit handlers and destructors; _exit/_Exit/quick_exit) runs the reachability scan, writes
 * END with the exit status (captured from exit(), _exit() or main's return value), flushes
 * and closes. abort() and kills leave the prefix written by the last periodic flush.
 */
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mw_core.h"

_Atomic int mw_state;
bool mw_alloc_tracing;
mw_fork_page mw_fp __attribute__((aligned(4096)));
pid_t mw_pid;
uint64_t mw_start_mono_ns;
int64_t mw_exit_status = -1;
const char *mw_self_path;
static _Atomic int finished;
static _Atomic int atfork_done;


/* The open file behind descriptor 2 when the shim started. A program may close its stderr
 * and open a file of its own in its place (daemons do): a diagnostic written to that would
 * change what the program writes, so it is written only while descriptor 2 is still the same
 * file. No copy of the descriptor is kept: holding the program's stderr open would keep a
 * reader waiting for its end (a shell's $(...)) waiting for ever. */
static struct { _Atomic int state; dev_t dev; ino_t ino; } diag_fd; /* 0 unknown, 1 known, 2 none */

static void diag_capture(void)
{
    struct stat st;
    if (atomic_load(&diag_fd.state)) return;
    if (fstat(2, &st) != 0) {
        atomic_store(&diag_fd.state, 2);
        return;
    }
    diag_fd.dev = st.st_dev;
    diag_fd.ino = st.st_ino;
    atomic_store(&diag_fd.state, 1);
}

static bool diag_fd_unchanged(void)
{
    struct stat st;
    diag_capture();
    return atomic_load(&diag_fd.state) == 1 && fstat(2, &st) == 0 && st.st_dev == diag_fd.dev &&
           st.st_ino == diag_fd.ino;
}

const char *mw_errstr(int e)
{
    const char *s = strerrordesc_np(e);
    return s ? s : "unknown error";
}

void mw_diag(const char *fmt, ...)
{
    char buf[1024];
    int saved = errno;
    if (!diag_fd_unchanged()) {
        errno = saved;
        return;
    }
    memcpy(buf, "memwatch: ", 10);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + 10, sizeof buf - 11, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    size_t len = 10 + ((size_t)n < sizeof buf - 11 ? (size_t)n : sizeof buf - 12);
    /* one line, whatever the environment or a path put into it; a value's terminal escapes
     * never reach the terminal */
    for (size_t i = 10; i < len; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) buf[i] = '?';
    buf[len++] = '\n';
    /* Without raising SIGPIPE: a program whose stderr is a pipe its reader has closed (`2>&1
     * | head -1`) would otherwise die of our line where natively it ended well (it exited
     * 141 after a line at exit, 2026-11-23). The signal our write raises is this thread's,
     * held by the mask and taken back; one already pending stays so. */
    sigset_t pipe_sig, old_mask, pending;
    sigemptyset(&pipe_sig);
    sigaddset(&pipe_sig, SIGPIPE);
    bool masked = pthread_sigmask(SIG_BLOCK, &pipe_sig, &old_mask) == 0;
    bool was_pending = masked && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    /* raw system calls: glibc's write and sigtimedwait are cancellation points, and a thread
     * the program cancels must not end inside the shim */
    long w = mw_raw_syscall6(SYS_write, 2, (long)buf, (long)len, 0, 0, 0);
    if (masked) {
        if (w == -EPIPE && !was_pending) {
            struct timespec zero = {0, 0};
            while (mw_raw_syscall6(SYS_rt_sigtimedwait, (long)&pipe_sig, 0, (long)&zero, _NSIG / 8, 0, 0) == -EINTR) {}
        }
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    }
    errno = saved;
}

const char *mw_diag_val(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s);
    if (n < cap) return s;
    /* its head and its tail (a path's file name), the middle left out */
    size_t keep = (cap - 4) / 2;
    memcpy(buf, s, keep);
    memcpy(buf + keep, "...", 3);
    memcpy(buf + keep + 3, s + n - keep, keep);
    buf[2 * keep + 3] = 0;
    return buf;
}

uint64_t mw_mono_raw_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mw_now_ns(void) { return mw_mono_raw_ns() - mw_start_mono_ns; }

/* Default until reach.c provides the scan. */
__attribute__((weak)) void mw_reach_run(mw_thread *t) { (void)t; }

static void on_fork_child(void);

/* Preloaded objects come before libc in the link map (our hooks then win every lookup);
 * an object dlopen()ed later comes after it. (Comparing dlsym(RTLD_DEFAULT, "malloc") with our
 * malloc does not work: a non-PIE program that takes malloc's address makes its own PLT slot
 * the canonical address.) */
struct order_arg {
    const void *self_base;
    int self_at, libc_at, i;
};

static int order_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct order_arg *a = data;
    Dl_info d;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    if (a->self_at < 0 && info->dlpi_phnum && dladdr((const void *)(info->dlpi_addr + info->dlpi_phdr[0].p_vaddr), &d) &&
        d.dli_fbase == a->self_base)
        a->self_at = a->i;
    if (a->libc_at < 0 && strstr(name, "/libc.so")) a->libc_at = a->i;
    a->i++;
    return 0;
}

static bool loaded_before_libc(const void *self_base)
{
    struct order_arg a = { self_base, -1, -1, 0 };
    if (!self_base) return false;
    dl_iterate_phdr(order_cb, &a);
    return a.self_at >= 0 && (a.libc_at < 0 || a.self_at < a.libc_at);
}

/* The malloc behind the shim's is not the C library's (a preload after ours, a DT_NEEDED
 * jemalloc: Debian's redis-server), or the program's own comes first (mw_malloc_shadowed):
 * either may hold its locks in a fork child until its own child handler has run. */
static bool foreign_malloc;
bool mw_malloc_shadowed;   /* malloc_shadow found one (mw_shim.h) */

static bool from_libc(void *f)
{
    Dl_info d;
    return f && dladdr(f, &d) && d.dli_fname && strstr(d.dli_fname, "/libc.so");
}

/* An object ahead of the shim in the global scope that defines malloc or free itself: the
 * executable (chromium, a program linked statically with jemalloc, tcmalloc or mimalloc) or
 * a preload listed before ours. Every call in the process, libc's own included, then goes
 * to it, and the shim sees only what it passes on to the next malloc: usually nothing. NULL
 * when the shim's hooks are the ones called. A non-PIE program that takes malloc's address in
 * its code gives its undefined malloc the address of its PLT entry (a canonical PLT entry:
 * node is built so), and dlsym returns that: a symbol starts there, but an undefined one, no
 * definition (until 05:24 UTC on 2026-11-23 such programs were said to have a malloc of their
 * own, on stderr and in every report). */
static const char *malloc_shadow(const void *self_base)
{
    static const char *const names[] = { "malloc", "free" };
    for (size_t i = 0; i < 2 * sizeof names / sizeof names[0]; i++) {
        /* also by the version programs bind to: glibc's malloc-debug library defines only
         * malloc@GLIBC_2.2.5, not the default version an unversioned lookup finds */
        void *f = i % 2 ? dlvsym(RTLD_DEFAULT, names[i / 2], "GLIBC_2.2.5") : dlsym(RTLD_DEFAULT, names[i / 2]);
        if (from_libc(f)) continue; /* the versioned lookup passes over the shim's unversioned
                                       malloc: the C library's then is no shadow */
        Dl_info d;
        const ElfW(Sym) *sym = NULL;
        if (f && dladdr1(f, &d, (void **)&sym, RTLD_DL_SYMENT) && d.dli_fbase != self_base &&
            d.dli_saddr == f && sym && sym->st_shndx != SHN_UNDEF)
            return d.dli_fname && d.dli_fname[0] ? d.dli_fname : "the executable";
    }
    return NULL;
}

/* Opens the trace and starts the writer; leaves mw_state ON or OFF. */
static void start_tracing(void)
{
    mw_live_init();
    if (!mw_writer_open()) {
        atomic_store(&mw_state, MW_ST_OFF);
        return;
    }
    mw_modules_refresh(NULL); /* the writer is not running yet: direct to the stream */
    if (!mw_writer_start()) {
        atomic_store(&mw_state, MW_ST_OFF);
        return;
    }
    atomic_store(&mw_state, MW_ST_ON);
    mw_self();                 /* this thread is tidx 0 */
    atomic_store(&mw_alloc_hot, mw_alloc_tracing ? 1 : 0);
    mw_threads_orphan_init();
    mw_fatal_install();        /* a process killed by a signal still leaves all it recorded */
}

__attribute__((constructor(101))) static void mw_init(void);

/* Our constructor may run after those of unrelated libraries (libstdc++ allocates its
 * exception emergency pool in its own): the first allocation hook called once libc itself is
 * initialized (its initializer sets environ) starts tracing early. Before that (the dynamic
 * loader's own allocations) hooks pass through. */
extern char **environ;
/* Started from a hook (mw_lazy_init), tracing starts inside whatever glibc call allocated
 * first, maybe with that call's lock held. Inside setenv, which allocates the new
 * environment's array while it holds the old one's count, taking entries out of environ
 * (mw_env_hide_added) made setenv copy a list that ended early, and the variable a library's
 * constructor set was lost; inside pthread_atfork, which allocates with its handlers' lock
 * held, registering the shim's own handlers waited for that lock for ever (a library
 * constructor registering many: 2026-11-23). Both are done in the shim's constructor, which
 * runs after, with no call of the program's under way (and the handlers before a fork that
 * comes first: mw_atfork_pending). */
static bool init_lazily, hide_pending;
static _Atomic bool atfork_pending;

static void register_atfork(void)
{
    if (!atomic_exchange(&atfork_done, 1)) mw_atfork(mw_inherit_prepare, mw_inherit_parent, on_fork_child);
}

void mw_atfork_pending(void)
{
    if (atomic_exchange(&atfork_pending, false)) register_atfork();
}

void mw_lazy_init(void)
{
    if (atomic_load_explicit(&mw_state, memory_order_relaxed) == MW_ST_UNINIT && environ && !mw_tls_guard) {
        init_lazily = true;
        mw_init();
    }
}

__attribute__((constructor(101))) static void mw_init(void)
{
    if ((hide_pending || atomic_load(&atfork_pending)) && !init_lazily) {
        /* the constructor, after a start from a hook */
        int g = mw_guard_enter();
        if (hide_pending) mw_env_hide_added();
        hide_pending = false;
        mw_atfork_pending();
        mw_guard_leave(g);
    }
    bool lazily = init_lazily;
    init_lazily = false;
    int expected = MW_ST_UNINIT;
    if (!atomic_compare_exchange_strong(&mw_state, &expected, MW_ST_INIT)) return;
    int g = mw_guard_enter();
    /* a zero-filled .bss page: anonymous memory, which MADV_WIPEONFORK takes (a kernel before
     * 4.14 refuses it: such children then go on as before) */
    int e = errno;
    madvise(&mw_fp, sizeof mw_fp, MADV_WIPEONFORK);
    errno = e;
    atomic_store(&mw_fp.own, 1);
    diag_capture(); /* stderr as the program starts (mw_diag) */
    mw_pid = getpid();
    mw_start_mono_ns = mw_mono_raw_ns();
    mw_real_resolve();
    mw_deepbind_init();
    Dl_info di = { 0 };
    if (dladdr((void *)mw_init, &di) && di.dli_fname) mw_self_path = di.dli_fname;
    mw_alloc_tracing = loaded_before_libc(di.dli_fbase);
    mw_config_load();
    const char *shadow = mw_alloc_tracing ? malloc_shadow(di.dli_fbase) : NULL;
    foreign_malloc = shadow || !from_libc((void *)mw_real.malloc);
    char san_rt[MW_DIAG_VAL];
    const char *san = mw_sanitizer_in_the_way(san_rt, sizeof san_rt);
    if (san) {
        if (!mw_cfg.quiet) {
            char b[MW_DIAG_VAL];
            const char *prog = program_invocation_name ? program_invocation_name : "?";
            mw_diag("not tracing %s: it runs with %s (%s), which %s", mw_diag_val(prog, b, sizeof b), san,
                    san_rt[0] ? san_rt : "in the executable",
                    !strcmp(san, "ThreadSanitizer") ? "would report the shim's own threads as data races"
                                                    : "keeps the heap itself (its children are traced)");
        }
        shadow = NULL;
    }
    mw_alloc_ranges_init(!san && foreign_malloc && !shadow && mw_alloc_tracing ? (void *)mw_real.malloc : NULL);
    if (shadow) {
        mw_malloc_shadowed = true;
        if (!mw_cfg.quiet) {
            char b[MW_DIAG_VAL];
            mw_diag("%s has a malloc of its own, found before the shim's: heap blocks it does not "
                    "take from the C library are not traced (mappings are)",
                    mw_diag_val(shadow, b, sizeof b));
        }
    }
    if (!mw_cfg.follow) mw_env_strip_self();
    else mw_env_keep_follow();
    if (lazily) hide_pending = true; /* see init_lazily */
    else mw_env_hide_added();
    mw_stack_init();
    mw_threads_init();
    mw_process_init();
    if (lazily) atomic_store(&atfork_pending, true); /* see init_lazily */
    else register_atfork();
    mw_dl_error_clear(); /* the lookups above of symbols that may be absent */
    mw_guard_leave(g);
    if (san) { /* sanitizers.c */
        atomic_store(&mw_state, MW_ST_OFF);
        return;
    }
    start_tracing();
}

/* Threads that end the process while another one is ending it. glibc 2.36 lets two threads
 * run exit() at once: the second one's handlers find the list the first emptied and it calls
 * _exit at once, killing the first in the middle of the shim's destructor; a thread calling
 * _exit meanwhile does the same. Every trace of a program whose threads exit together (4
 * workers and main calling exit() at once: 20 runs of 20) lost its tail and its END record.
 * Such a thread now waits until the trace has ended (finish_done) and the first thread has
 * ended the process, as glibc 2.41's exit() makes later callers wait; at most 10 s for the
 * first to reach the shim's destructor (its atexit handlers run first: one may wait for this
 * very thread), then as long as the reachability scan may take, then 10 s more, so that no
 * program hangs on it for good. */
static _Atomic pid_t exiting_tid;
static _Atomic int finish_done;

/* Thread tid of this process is gone (ESRCH). */
static bool thread_gone(pid_t tid)
{
    return mw_raw_syscall6(SYS_tgkill, getpid(), tid, 0, 0, 0, 0) == -ESRCH;
}

/* False when thread tid, which was ending the process, is gone before it ended the trace:
 * cancelled inside exit() (its stdio flush is a cancellation point) or ended by one of its
 * exit handlers. */
static bool wait_for_finish_elsewhere(pid_t tid)
{
    uint64_t start = mw_mono_raw_ns(), pre = 10000000000ull,
             scan = (uint64_t)(mw_cfg.reach_timeout_ms ? mw_cfg.reach_timeout_ms : 600000u) * 1000000u;
    while (!atomic_load(&finish_done)) {
        if (!atomic_load(&finished) && thread_gone(tid)) return false;
        uint64_t el = mw_mono_raw_ns() - start;
        if (el > (atomic_load(&finished) ? pre + scan : pre)) return true;
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        syscall(SYS_futex, &finish_done, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    }
    return true;
}

/* first_to_exit took the exit over from a thread that is gone (wait_for_finish_elsewhere):
 * exit()'s handlers may be used up, the shim's destructor among them, so the caller ends the
 * trace itself. */
static bool took_over;

/* The calling thread is ending the process: false when another thread already is (then it
 * has waited for that one to end the trace, wait_for_finish_elsewhere). */
static bool first_to_exit(void)
{
    /* a sandboxed program (hooks_seccomp.c): its trace has ended, and its filter may kill it
     * for any system call (the thread id below took _exit() from a sandbox that allowed
     * exit_group: SIGSYS) */
    if (atomic_load_explicit(&mw_sandboxed, memory_order_relaxed)) return false;
    if (atomic_load(&mw_state) != MW_ST_ON && !atomic_load(&finished)) return true;
    pid_t me = mw_gettid();
    for (;;) {
        pid_t cur = 0;
        if (atomic_compare_exchange_strong(&exiting_tid, &cur, me) || cur == me) return true;
        if (wait_for_finish_elsewhere(cur)) break;
        if (atomic_compare_exchange_strong(&exiting_tid, &cur, me)) {
            took_over = true;
            return true;
        }
    }
    /* and for that thread to end the process with its status, the one the trace's END
     * holds: 10 s more at most (while it lives), then this thread's own exit goes on */
    pid_t cur = atomic_load(&exiting_tid);
    for (int i = 0; i < 500 && !thread_gone(cur); i++) mw_sleep_ns(20 * 1000 * 1000);
    return false;
}

void mw_finish(int64_t status, uint64_t reason)
{
    /* A vfork child that calls exit() instead of _exit() runs the process's destructors, the
     * shim's among them, in its parent's memory: ending the trace there ended the parent's,
     * whose later events were then lost without a word. */
    if (mw_tls_guard >= MW_GUARD_VFORK) return;
    if (!mw_own()) { /* a child of a fork we did not see: no writer here to end a trace with */
        mw_not_own();
        return;
    }
    if (atomic_load(&mw_state) != MW_ST_ON || atomic_exchange(&finished, 1)) return;
    /* The process ends from a signal handler that interrupted one of this thread's allocation
     * hooks (_exit() or exit() in a handler): that hook may hold its live-block table (the
     * scan would wait for it for ever) or be half way through a record. So no scan, no
     * record of this thread's: the records so far are flushed and the trace ends with the
     * status; the blocks still allocated get no verdict (unknown). Until 21:30 UTC on
     * 2026-11-23 _exit() there left the trace without its END and, in a short program, any
     * record. */
    bool interrupted = mw_in_interrupted_hook();
    int g = mw_guard_enter();
    /* the scan reads files (open, read: cancellation points): a thread with a cancellation
     * pending must not end half way through ending the trace */
    int cs = mw_nocancel_begin();
    mw_thread *t = mw_tls_self;
    bool orphan = false;
    if (!t && mw_tls_dead) {
        /* A thread past its own end runs the exit: the last thread of a program whose main
         * called pthread_exit() (glibc then calls exit(0) itself, without our exit hook, so
         * 0 is the status), or one that exits from a key destructor. Its records go through
         * the shared stream of exiting threads. */
        t = mw_orphan_acquire();
        orphan = t != NULL;
        if (status < 0) status = 0;
    }
    /* a fork child's inherited blocks are unfreed at its exit like its own blocks, also when
     * no scan asks for them (MEMWATCH_REACH=0) */
    if (interrupted) t = NULL;
    if (mw_alloc_tracing && t) mw_inherit_now();
    if (mw_cfg.reach && mw_alloc_tracing && t) {
        /* Every record so far into the file before the scan: a process killed while it runs
         * (SIGKILL, a program's own handler calling _exit) keeps all it did until exit. */
        mw_writer_sync();
        if (!mw_tls_deferred_sig) mw_reach_run(t);
    }
    /* a request to end that came meanwhile (fatal.c): recorded, flushed, and the process dies
     * of it, without an END; one that comes later is acted on as the guard is left */
    if (mw_tls_deferred_sig) mw_fatal_deferred(t, mw_stack_ok(orphan));
    if (orphan) mw_orphan_release();
    else if (t) mw_modules_refresh(t);
    atomic_store(&mw_alloc_hot, 0);
    atomic_store(&mw_state, MW_ST_OFF);
    mw_writer_stop(status, reason);
    atomic_store(&finish_done, 1);
    syscall(SYS_futex, &finish_done, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    mw_nocancel_end(cs);
    mw_guard_leave(g);
}

/* Tracing ends here and the process goes on untraced: the trace gets its END (reason
 * shutdown: no exit, no reachability scan, the blocks still allocated are not judged) and the
 * writer stops. For a program about to install a seccomp filter (hooks_seccomp.c: the writer
 * thread stays, parked in pause()), or one that needs the writer thread's task (yield.c,
 * end_writer: the thread ends and is joined; true once it is gone). */
bool mw_stop_tracing(bool end_writer)
{
    if (!mw_own()) return false;
    if (atomic_load(&mw_state) != MW_ST_ON || atomic_exchange(&finished, 1)) return false;
    int g = mw_guard_enter();
    if (mw_tls_self) mw_modules_refresh(mw_tls_self);
    atomic_store(&mw_alloc_hot, 0);
    atomic_store(&mw_state, MW_ST_OFF);
    bool gone = false;
    if (end_writer) gone = mw_writer_stop_and_end(-1, MW_END_SHUTDOWN);
    else mw_writer_stop(-1, MW_END_SHUTDOWN);
    atomic_store(&finish_done, 1);
    syscall(SYS_futex, &finish_done, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    mw_guard_leave(g);
    return gone;
}

__attribute__((destructor(101))) static void mw_fini(void) { mw_finish(mw_exit_status, MW_END_EXIT); }

/* A vfork child that called exit() (instead of _exit) ran the process's exit handlers in
 * its parent's memory: the list is used up (glibc takes no new ones after), _dl_fini with it,
 * so the shim's destructor would never run in the parent and its trace would end without END,
 * its last records unwritten (all of a short program's). The flag is in the thread's TLS,
 * which the child shares; the parent, back from vfork (process.c), notes that its exit must
 * end the trace itself (exit(), main's return), as _exit() does. */
__thread bool mw_vfork_child_ran_exit;
static bool exit_handlers_gone;

void mw_after_vfork_child_exit(void)
{
    mw_vfork_child_ran_exit = false;
    exit_handlers_gone = true;
}

/* A process the shim's state was copied into by a fork it did not see (mw_fork_page). */
void mw_not_own(void)
{
    atomic_store(&mw_alloc_hot, 0);
    atomic_store(&mw_state, MW_ST_OFF);
}

/* Set in a fork child whose tracing restarts in fork() (process.c) rather than in the atfork
 * handler: see on_fork_child. */
_Atomic int mw_fork_restart_pending;

/* fork: the child gets its own trace file, writer thread and rings. */
static void on_fork_child(void)
{
    mw_inherit_child(); /* the parent's blocks, while fork's prepare handler holds their tables */
    mw_alloc_ranges_after_fork(); /* before the child's first mapping, whatever follows */
    atomic_store(&mw_fp.own, 1); /* this child's state is set up here, whatever it becomes */
    atomic_store(&exiting_tid, 0); /* a thread of the parent was ending it: not this process */
    atomic_store(&finish_done, 0);
    if (atomic_load(&mw_state) != MW_ST_ON) return;
    if (!mw_cfg.follow) { /* MEMWATCH_FOLLOW=0: children are not traced */
        atomic_store(&mw_alloc_hot, 0);
        atomic_store(&mw_state, MW_ST_OFF);
        mw_writer_after_fork_child(); /* closes the parent's trace fd in the child */
        mw_writer_child_keeps_dir(false);
        mw_proc_child_keeps(false);
        return;
    }
    atomic_store(&mw_alloc_hot, 0);
    atomic_store(&mw_state, MW_ST_INIT);
    /* A fork from a signal handler that interrupted the forking thread inside a hook (its guard
     * still raised): the interrupted hook holds what it held at the fork (its table's lock;
     * glibc's arena lock, when it was inside malloc) and ends only after the handler returns.
     * A trace started here, inside the handler, could not be ended by a child that ends there
     * too (its exit waits for no hook): a program forking from a 20 ms timer, each child
     * calling _exit at once, left 44 of its 50 children's traces without their end, or empty
     * (06:40 UTC on 2026-11-23). Such a child starts its trace at its first allocation call
     * after the interrupted hook is done (hooks_alloc.c), so a child that lives on (a worker
     * respawned from a SIGCHLD handler) is traced from there; one that ends inside the handler
     * has no trace, and its parent counts the fork as a lost event (process.c). */
    if (mw_in_interrupted_hook()) {
        atomic_store(&mw_fork_restart_pending, MW_RESTART_AFTER_HOOK);
        return;
    }
    /* A malloc other than the C library's (foreign_malloc) takes its locks in a prepare
     * handler and frees them in a child handler registered after ours, which runs after ours:
     * the restart's calls that allocate (pthread_getattr_np reads /proc/self/maps with stdio,
     * pthread_create's thread-local storage, the writer's buffers) waited there for ever
     * (chromium's crashpad handler; redis-server with jemalloc behind the shim). Such a child
     * restarts once fork() returns in it, every handler run; one forked inside libc
     * (daemon()) stays untraced. */
    if (foreign_malloc) {
        atomic_store(&mw_fork_restart_pending, MW_RESTART_IN_FORK);
        return;
    }
    mw_fork_restart();
}

void mw_fork_restart(void)
{
    atomic_store(&mw_fork_restart_pending, 0);
    int cs = mw_nocancel_begin(); /* opening the child's trace: a cancellation point */
    /* Signals wait until the child's trace is set up: a pool's worker SIGTERMed as it starts
     * (python3's multiprocessing) died inside the set-up, the shim's handler finding no writer
     * to flush to, and left an empty trace. Delivered after it, the signal is recorded as any
     * other (fatal.c). Those the program blocked stay blocked. */
    sigset_t all, old;
    sigfillset(&all);
    bool masked = pthread_sigmask(SIG_BLOCK, &all, &old) == 0;
    int g = mw_guard_enter();
    mw_pid = getpid();
    mw_start_mono_ns = mw_mono_raw_ns();
    atomic_store(&finished, 0);
    mw_exit_status = -1;
    mw_writer_after_fork_child();
    mw_threads_reset_after_fork();
    mw_stack_reset_after_fork();
    mw_modules_reset_after_fork();
    mw_brk_reset_after_fork();
    mw_guard_leave(g);
    g = mw_guard_enter();
    start_tracing();
    mw_guard_leave(g);
    if (masked) pthread_sigmask(SIG_SETMASK, &old, NULL);
    mw_nocancel_end(cs);
}

/* ---- exit status capture ------------------------------------------------------------------ */
/* The stack below the frame that ends the program (main's caller, or the caller of exit) is
 * about to be reused by glibc's exit machinery and by our own exit path, whose frames leave
 * slots unwritten: stale heap addresses from earlier calls (the shim's encoder handles the
 * previous allocation's address on every malloc) would then look like roots to the
 * reachability scan. Zero that stack first (as much as the thread's stack allows, up to
 * 32 KiB). */
static __attribute__((noinline)) void scrub_stack_below(void)
{
    char here;
    uintptr_t sp = (uintptr_t)&here;
    size_t n = 32768;
    mw_thread *t = mw_tls_self;
    if (t && t->stack_lo && sp > t->stack_lo) {
        size_t room = sp - t->stack_lo;
        n = room > 16384 ? room - 16384 : 0;
        if (n > 32768) n = 32768;
    } else if (!t) {
        n = 4096;
    }
    if (!n) return;
    char *buf = __builtin_alloca(n);
    explicit_bzero(buf, n);
}

typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;

/* In a section of its own (MW_MAIN_SECTION), so that hooks_backtrace.c can leave its frame
 * out of the program's own backtraces: the return address main sees lies in it. */
__attribute__((noinline, section(MW_MAIN_SECTION))) static int main_wrapper(int argc, char **argv, char **envp)
{
    int r = real_main(argc, argv, envp);
    if (!mw_tls_guard && mw_own() && first_to_exit()) { /* glibc's exit(r) follows */
        mw_exit_status = r;
        scrub_stack_below();
        if (took_over || exit_handlers_gone) mw_finish(r, MW_END_EXIT);
    }
    return r;
}

MW_EXPORT int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
                                void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    int (*real)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *) =
        (int (*)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *))dlsym(
            RTLD_NEXT, "__libc_start_main");
    real_main = main;
    /* A sanitizer with its own allocator (sanitizers.c) prints stacks of its own, down to
     * __libc_start_call_main: main_wrapper would be one more frame in each (an ASan leak
     * report differed from the native run's). Its process is not traced: main is left as it
     * is. */
    int g = mw_guard_enter(); /* dlsym may allocate */
    bool sanitizer = dlsym(RTLD_DEFAULT, "__sanitizer_get_heap_size") != NULL;
    mw_dl_error_clear(); /* main must not find the lookup's error pending */
    mw_guard_leave(g);
    return real(sanitizer ? main : main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

/* The exits that run no destructors (_exit, _Exit, quick_exit, glibc's syscall() asked for
 * exit_group: hooks_seccomp.c): end the trace here, unless the guard is set (a vfork child,
 * or the shim itself); the caller then leaves. */
void mw_finish_before_exit(int status)
{
    if (!mw_tls_guard && mw_own() && first_to_exit()) {
        scrub_stack_below();
        mw_finish(status, MW_END_EXIT);
    } else if (mw_in_interrupted_hook() && mw_own() && first_to_exit()) {
        mw_finish(status, MW_END_EXIT); /* from a signal handler inside a hook: no scan */
    }
}

static __attribute__((noreturn)) void finish_then(void (*real)(int), int status)
{
    mw_finish_before_exit(status);
    real(status);
    __builtin_unreachable();
}

MW_EXPORT void exit(int status)
{
    static void (*real)(int);
    if (!real) real = (void (*)(int))mw_next_symbol("exit");
    if (mw_tls_guard >= MW_GUARD_VFORK) mw_vfork_child_ran_exit = true;
    if (!mw_tls_guard && mw_own() && first_to_exit()) {
        mw_exit_status = status;
        scrub_stack_below();
        if (took_over || exit_handlers_gone) mw_finish(status, MW_END_EXIT);
    } else if (mw_in_interrupted_hook() && mw_own() && first_to_exit()) {
        /* a signal handler's exit() that interrupted an allocation hook (a server's SIGTERM
         * handler): the shim's destructor ends the trace as ever, now with the status */
        mw_exit_status = status;
    }
    real(status);
    __builtin_unreachable();
}

MW_EXPORT void _exit(int status)
{
    static void (*real)(int);
    if (!real) real = (void (*)(int))mw_next_symbol("_exit");
    finish_then(real, status);
}

MW_EXPORT void _Exit(int status)
{
    static void (*real)(int);
    if (!real) real = (void (*)(int))mw_next_symbol("_Exit");
    finish_then(real, status);
}

/* quick_exit runs no destructors: end the trace first (its at_quick_exit handlers may still
 * allocate; they are not recorded). */
MW_EXPORT void quick_exit(int status)
{
    static void (*real)(int);
    if (!real) real = (void (*)(int))mw_next_symbol("quick_exit");
    finish_then(real, status);
}
