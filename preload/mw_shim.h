/*
 * mw_shim.h — the shim's internal interface: the one header every preload/ file includes.
 *
 * It is a map of the shim, grouped by the file that defines each part (as mimalloc's
 * internal header is). Names: public ABI memwatch_* (memwatch.h), cross-file internals mw_*,
 * file-local helpers static and unprefixed. Nothing here is exported from the .so: the build
 * uses -fvisibility=hidden and only MW_EXPORT names (libc hooks and memwatch_*) are visible.
 *
 * Rules for code on the allocation path: no stdio, no getenv, no locale, no global lock, errno
 * preserved, anything that may allocate runs under the recursion guard or uses the real
 * allocator (mw_real.*) directly.
 */
#ifndef MW_SHIM_H
#define MW_SHIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mw_format.h"
#include "procfs.h"

#define MW_EXPORT __attribute__((visibility("default")))
#define MW_LIKELY(x) __builtin_expect(!!(x), 1)
#define MW_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- config.c: MEMWATCH_* environment, parsed once at start ----------------------------- */
/* The trace's name when MEMWATCH_OUT is unset or bad, or names a directory (then inside it). */
#define MW_OUT_DEFAULT "memwatch.%e.%p.trace.zst"

typedef struct mw_config {
    char out_pattern[1024];   /* MEMWATCH_OUT (default MW_OUT_DEFAULT) */
    unsigned rss_ms;          /* MEMWATCH_RSS_MS (default 100; 0 = off) */
    unsigned flush_ms;        /* MEMWATCH_FLUSH_MS (default 200, at most 200) */
    bool follow;              /* MEMWATCH_FOLLOW (default 1) */
    bool sql;                 /* MEMWATCH_SQL (default 1) */
    bool stacks;              /* MEMWATCH_STACKS (default 1) */
    unsigned max_depth;       /* MEMWATCH_STACK_DEPTH (default 64) */
    bool reach;               /* MEMWATCH_REACH (default 1): reachability scan at exit */
    unsigned reach_timeout_ms; /* MEMWATCH_REACH_TIMEOUT_MS (default 60000; 0 = none) */
    bool addresses;           /* MEMWATCH_ADDRESSES (default 0): every block's address */
    int zstd_level;           /* MEMWATCH_ZSTD_LEVEL: 1..19, 0 = auto (writer_level.c) */
    bool coded_runs;          /* MEMWATCH_CODED_RUNS (default 1): CODED_RUN records (writer.c) */
    char watch_spec[1024];    /* MEMWATCH_WATCH=symbol[:len][,...] */
    bool quiet;               /* MEMWATCH_QUIET: no "malloc of its own" line (init.c) */
    int dir_fd;               /* MEMWATCH_DIR_FD (set by the shim, -1 = none): the directory
                                 a program exec'd as another user writes its trace in
                                 (writer.c, hooks_uid.c) */
} mw_config;
extern mw_config mw_cfg;
/* Parses the environment into mw_cfg; invalid values print one line on stderr each
 * ("memwatch: MEMWATCH_X=...: reason; using default ...") and keep the default. Returns false
 * when the shim must stay off (e.g. the output pattern itself is unusable). */
bool mw_config_load(void);
/* "MEMWATCH_WARNED=HASH" of the lines the settings got at start (config.c), NULL when none;
 * "HASH-OUTHASH" once the trace file could not be made. */
const char *mw_config_warned_var(void);
/* The trace file could not be made, for a reason key names (what and where, not this
 * process's pid): true when the process that started this one said the same (say nothing);
 * either way, the programs started from here are told. */
bool mw_config_trace_line_said(const char *key);
/* MEMWATCH_WARNED was in the environment at start: a traced process that said lines about its
 * settings, or watches globals by name, started this one (config.c). */
bool mw_config_started_by_traced(void);

/* ---- life cycle (init.c) --------------------------------------------------------------- */
enum mw_state {
    MW_ST_UNINIT = 0,   /* before the constructor: hooks pass through (bootstrap pool) */
    MW_ST_INIT = 1,     /* constructor running */
    MW_ST_ON = 2,       /* tracing */
    MW_ST_OFF = 3,      /* disabled (error, watch-only dlopen, or after the end record) */
};
extern _Atomic int mw_state;
extern bool mw_alloc_tracing;   /* false when loaded by dlopen (watch core only) */
extern bool mw_malloc_shadowed; /* an object before the shim defines malloc or free (init.c) */
extern _Atomic int mw_fork_restart_pending; /* fork child: restart pending (init.c) */
enum { MW_RESTART_IN_FORK = 1,     /* when fork() returns in the child (process.c) */
       MW_RESTART_AFTER_HOOK = 2 }; /* at the first allocation call outside any hook (hooks_alloc.c) */
void mw_fork_restart(void);       /* a fork child's own trace, writer and state (init.c) */
/* pthread_atfork for the shim's own handlers (process.c): their child handlers also run after
 * the fork that bypasses glibc's (a signal handler's, inside a hook) */
int mw_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));
void mw_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* "memwatch: ..." on stderr, no malloc */
/* errno value e described for a mw_diag line: glibc's untranslated text (strerrordesc_np).
 * Never strerror(): it looks the text up in the locale's catalogue under a lock the program
 * may hold where the shim starts (postgres's first malloc is inside bindtextdomain: a
 * process whose trace could not be created hung there for ever, 2026-11-23). */
const char *mw_errstr(int e);
/* s for a mw_diag line: itself if shorter than cap, else its head and tail joined by "..." in
 * buf (cap bytes, at least 8): a long value leaves room for what the line says of it. */
#define MW_DIAG_VAL 160u
const char *mw_diag_val(const char *s, char *buf, size_t cap);

/* ---- real functions (real.c): resolved with dlsym(RTLD_NEXT) once ------------------------ */
typedef struct mw_real_fns {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*memalign)(size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    size_t (*malloc_usable_size)(void *);
    void *(*mmap)(void *, size_t, int, int, int, off_t);
    int (*munmap)(void *, size_t);
    void *(*mremap)(void *, size_t, size_t, int, ...);
} mw_real_fns;
extern mw_real_fns mw_real;
void mw_real_resolve(void);
/* Looks a symbol up in the next object, or (SQL libraries loaded RTLD_LOCAL) in any loaded
 * object that defines it; NULL when absent. May allocate: call under the guard. */
void *mw_resolve_symbol(const char *name);
/* dlsym(RTLD_NEXT, name) under the recursion guard: the next definition of a hooked function. */
void *mw_next_symbol(const char *name);
void mw_dl_error_clear(void); /* real.c: the dlerror state the shim's own lookups left, cleared */

/* ---- thread state and emission (thread.c, ring.c) --------------------------------------- *
 * Every thread that produces records owns an SPSC ring consumed by the writer thread.
 * mw_self() returns the calling thread's state (created on first use), or NULL when tracing is
 * off or the thread is being torn down. Records are written with reserve/commit:
 *
 *     size_t cap; uint8_t *p = mw_reserve(t, 64, &cap);
 *     if (p) mw_commit(t, mw_enc_mark(p, cap, label, len));
 *
 * mw_reserve waits for the writer when the ring is full (nothing is dropped by default); it
 * returns NULL (counted as lost) when the shim is shutting down, when the record is larger
 * than half a ring (256 KiB), or when called from a signal handler that interrupted this
 * thread between its own reserve and commit (a record cannot be slipped in front of an
 * unfinished one without breaking block numbering). */
typedef struct mw_thread mw_thread;
mw_thread *mw_self(void);
uint8_t *mw_reserve(mw_thread *t, size_t need, size_t *cap);
void mw_commit(mw_thread *t, size_t used);
#define MW_EMIT(t, need, fn, ...)                                               \
    do {                                                                        \
        size_t mw_cap_;                                                         \
        uint8_t *mw_p_ = mw_reserve((t), (need), &mw_cap_);                     \
        if (mw_p_) mw_commit((t), fn(mw_p_, mw_cap_, __VA_ARGS__));             \
    } while (0)
/* Recursion guard: nonzero while the thread is inside the shim's own code. */
int mw_guard_enter(void);           /* returns the previous depth */
void mw_guard_leave(int prev);
bool mw_in_guard(void);
bool mw_in_shim_code(void);   /* inside shim code entered via mw_guard_enter (not a vfork child) */
/* Per-thread SQL context and adapter source location (sql_*.c and watch_*.c read these). */
uint64_t mw_thread_sql_fp(mw_thread *t);
void mw_thread_set_sql(mw_thread *t, uint64_t ctx, uint64_t fp);
mw_thread *mw_thread_by_tid(pid_t tid);     /* any live thread of this process, or NULL */
typedef struct mw_location { const char *file; int line; const char *function; } mw_location;
void mw_thread_set_location(mw_thread *t, const char *file, int line, const char *function);
bool mw_thread_take_location(mw_thread *t, char *file, size_t flen, int *line, char *func,
                             size_t fnlen);  /* copies and clears; false when none set */
pid_t mw_gettid(void);
uint64_t mw_now_ns(void);   /* monotonic ns since the trace's start_mono_ns */

/* ---- stacks (stack.c): capture + interning into the stack tree --------------------------- */
/* Interned stack id of the caller of the hook (skip frames of the shim itself). 0 = empty.
 * Call it directly from the exported hook function: frame 0 is the return address of the
 * function that calls mw_stack_here (found through the frame pointer; the shim is built with
 * -fno-omit-frame-pointer). Takes the recursion guard itself. */
uint64_t mw_stack_here(mw_thread *t);
/* The same for a hook's caller given the hook's __builtin_frame_address(0) and
 * __builtin_return_address(0): for a hook whose work is out of line. */
uint64_t mw_stack_at(mw_thread *t, void *frame, void *ret);
/* Calls fn(arg) with the stack pointer at top (16-byte aligned), then returns on the caller's
 * stack: work that needs more stack than a program's thread may have (PTHREAD_STACK_MIN)
 * runs on the shim's own memory. Unwinding from inside fn continues into the caller's frames. */
void mw_call_on_stack(void (*fn)(void *), void *arg, void *top);
/* Declares [lo, lo + len) a stack to valgrind when the program runs under it (a no-op
 * otherwise), so that switching to it is not taken for a huge frame push or pop; the id
 * undoes it. */
unsigned mw_stack_register(void *lo, size_t len);
void mw_stack_deregister(unsigned id);
/* Stack of a signal context (watch core: the faulting instruction is frame 0). */
uint64_t mw_stack_from_ucontext(mw_thread *t, void *ucontext);

/* ---- live-block table (live.c): address -> block, sharded, no global lock ---------------- */
typedef struct mw_live_block {
    uintptr_t addr;
    size_t size;
    mw_block_ref ref;
} mw_live_block;
/* Sorts a by address, in place (reach.c; not reentrant: the exit scan and a fork child's
 * recording of its inheritance, one after the other). */
void mw_live_sort_by_addr(mw_live_block *a, size_t n);
/* Calls fn for every live block (shard by shard, each shard locked while visited). */
void mw_live_foreach(void (*fn)(const mw_live_block *b, void *arg), void *arg);
size_t mw_live_count(void);

/* ---- thread registry (thread.c): stacks of LIVE threads for the reachability scan -------- */
#define MW_TCB_SIZE 0x900u  /* sizeof(struct pthread), glibc 2.36 x86-64: the TCB above the thread pointer */
typedef struct mw_thread_stack {
    pid_t tid;
    uintptr_t lo, hi;      /* usable stack range (from pthread_getattr_np) */
    uintptr_t tls_lo, tls_hi; /* static TLS block, TCB included, 0 when unknown */
} mw_thread_stack;
size_t mw_threads_stacks(mw_thread_stack *out, size_t max);

/* ---- reachability at exit (reach.c) ---------------------------------------------------- */
/* Scans roots and the live heap, emits REACH records for every unfreed block. Called once
 * at normal exit, before the END record, by the exit path (init.c). */
void mw_reach_run(mw_thread *t);
/* Own-range registry (reach.c): memory the shim maps for ITSELF (rings, live-table shards,
 * writer buffers: anything holding block addresses) must not be a root of the scan, or every
 * block looks reachable. Call mw_own_range_add after each such mmap (not needed for memory
 * from mw_real.malloc: glibc's heap is never a root) and mw_own_range_del before munmap.
 * Lock-free, allocation-free, async-signal-safe; up to 4096 ranges. */
void mw_own_range_add(const void *p, size_t len);
void mw_own_range_del(const void *p, size_t len);
/* The same, for a range whose pages past its first `counted` bytes are those of the first
 * part mapped again (a ring's mirror): they are resident once. */
void mw_own_range_add_counted(const void *p, size_t len, size_t counted);
/* Raw anonymous memory (never malloc: page-rounded mmap), registered as the shim's own, so it
 * is never a root and RSS records count its resident pages (the exit scan's buffers, the
 * compressor's workspaces); mw_own_free takes the size given to mw_own_alloc. */
void *mw_own_alloc(size_t n);
void mw_own_free(void *p, size_t n);
/* The resident bytes of the registered ranges (RSS records' own field, with the compressor's
 * memory: the shim's own share of the process's RSS). */
uint64_t mw_own_resident_bytes(void);

/* ---- protected descriptors (hooks_fd.c) -------------------------------------------------- *
 * The trace fd survives the program's close()/close_range()/closefrom() and dup2() onto it.
 * mw_fd_protect moves *owner to a high number and registers it (updating *owner, also when a
 * later dup2 forces a move); unprotect before closing it yourself. Writes to a protected fd
 * are made under mw_fd_lock so a move never happens in the middle of one. */
int mw_fd_protect(int *owner);
/* open(2) (O_CLOEXEC added) for the shim's own files: when the program has used every
 * descriptor below its soft RLIMIT_NOFILE (EMFILE), once more with room above it. */
int mw_open_own(const char *path, int flags, unsigned mode);
void mw_fd_unprotect(int fd);
void mw_fd_forget_all(void);   /* fork child: the parent's registrations are void */
void mw_fd_lock(void);
void mw_fd_unlock(void);

/* ---- watch core (api.c) ------------------------------------------------------------------ */
/* munmap/mremap hooks: call after a successful unmap of [addr, addr+len) (the old range of a
 * moving mremap); ends the watches there when the mprotect fallback is in use (userfaultfd
 * reports unmaps itself). Cheap when nothing is watched. */
void mw_watch_unmap_notify(uintptr_t addr, size_t len);

/* ---- per-thread credentials (hooks_creds.c) ---------------------------------------------- *
 * The shim's internal threads (named memwatch-*) follow the program's capset() and per-thread
 * prctl()s so glibc's process-wide set*id() never fails in one of them. Internal threads call
 * mw_internal_block_signals() instead of blocking every signal. */
void mw_internal_block_signals(void);
/* pthread_create for internal threads: named `name` (memwatch-*) and masked before it returns. */
int mw_internal_thread_create(pthread_t *th, const pthread_attr_t *attr, const char *name,
                              void *(*fn)(void *), void *arg);
void mw_creds_after_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4,
                          unsigned long a5, int rc);

/* ---- writer thread (writer.c): rings -> zstd -> file ------------------------------------ */
bool mw_writer_start(void);
void mw_writer_stop(int64_t exit_status, uint64_t reason); /* drains, writes END, closes */
/* The same, and the writer thread ends and is joined (its task gone): false when it did not
 * stop in time or was not running (yield.c) */
bool mw_writer_stop_and_end(int64_t exit_status, uint64_t reason);
void mw_writer_wait_parked(void); /* after a stop: the writer makes no system call from then on */
/* Waits (at most max_ms) until thread tid is blocked in system call nr, or is gone (thread.c). */
void mw_wait_thread_in_syscall(pid_t tid, long nr, unsigned max_ms);
/* Ends every watch (WATCH_UNREG reason exit), its pages unprotected and unregistered, and
 * waits until the watch core's fault thread, if any, sits in its poll(): after this the watch
 * core makes no system call unless a new watch is made (api.c). */
void mw_watch_quiesce(void);
/* The writer thread flushes and ends, so that the program is single-threaded for a call that
 * needs it (hooks_ns.c); false when there is no writer running to pause. mw_writer_resume
 * starts it again. */
bool mw_writer_pause(void);
void mw_writer_resume(void);
void mw_writer_sync(void);               /* drain every ring and flush */
void mw_writer_sync_for(unsigned max_ms); /* the same, waiting at most max_ms (signal handlers) */
/* fatal.c: the handlers that flush the trace before a signal's default action ends the
 * process (installed once tracing is on, for signals whose action is the default) */
void mw_fatal_install(void);
struct sigaction;
/* glibc's sigaction(2) wrapper, not the shim's interposed one (fatal.c). */
int mw_sigaction_real(int sig, const struct sigaction *act, struct sigaction *old);
/* The default action of a fatal signal, after recording it and flushing: for a handler of
 * the shim's (the watch core's SIGSEGV) that finds the signal is not its own and would have
 * let the default action kill the process. It returns with the signal raised again and
 * blocked: the default action kills as the calling handler returns. */
void mw_fatal_default(int sig, void *siginfo, void *ucontext);
/* A traced thread starts / ends: its alternate signal stack (the shim's, unless the program
 * set one), so a stack overflow still reaches the fatal-signal handler. */
void mw_fatal_thread_start(mw_thread *t);
void mw_fatal_thread_exit(void);
void mw_count_lost(uint64_t events, uint64_t bytes);

#endif /* MW_SHIM_H */
