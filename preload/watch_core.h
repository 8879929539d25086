/*
 * watch_core.h — internal interface of the watch core (preload/watch_*.c, api.c).
 *
 * The watch core reports every write to memory a program asked to watch (memwatch_watch,
 * memwatch_register_page, MEMWATCH_WATCH). Files:
 *   watch_table.c    the registry of watches and of the pages memwatch protects (one spinlock)
 *   watch_uffd.c     userfaultfd: open, register, write-protect (raw ioctls)
 *   watch_fault.c    the fault thread: serves faults one at a time, kernel writes, unmaps
 *   watch_proc.c     /proc/self/task/<tid> facts about a writer (syscall, wchan, signals)
 *   watch_pause.c    pausing the other threads while stepping on a multi-writer page
 *   watch_step.c     capture/trap signal handlers: single-step the writer, diff, build events
 *   watch_anon.c     private file pages (.data) made anonymous so they can be protected
 *   watch_khooks.c   read/pread/readv/preadv/recv hooks for the mprotect fallback
 *   watch_emit.c     turning a finished write into a WATCH_WRITE record
 *   watch_mprotect.c fallback without userfaultfd: mprotect + SIGSEGV + single step
 *   watch_symbols.c  MEMWATCH_WATCH=symbol[:len]: ELF symbol lookup at start
 *   api.c            the exported memwatch_* functions
 *
 * One event = what one instruction of the writer changed inside one watch (see README
 * section "watch"): the writer is stopped before the store (the page is write-protected),
 * the watched bytes of that page are snapshotted, the page is un-protected, the writer runs
 * exactly one instruction under the x86 trap flag (a rep-prefixed string instruction runs to
 * completion), the page is re-protected, and the snapshot is compared with memory.
 */
#ifndef MW_WATCH_CORE_H
#define MW_WATCH_CORE_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <ucontext.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "procfs.h"

#define MW_WATCH_NAME_MAX 64u      /* variable names are truncated to this (with NUL) */
#define MW_WATCH_PAGE 4096u
#define MW_WATCH_STEP_PAGES 64u    /* pages one step snapshots (page-crossing stores, syscalls) */
#define MW_WATCH_STEP_EXTRA 1024u  /* further pages a system call may open (not diffed) */
#define MW_WATCH_SLOT_WATCHES 512u /* watches one step can report on (per page or call) */
#define MW_WATCH_SIG_CAPTURE (SIGRTMAX - 3) /* signal that stops a user-mode writer */
#define MW_WATCH_SIG_PAUSE (SIGRTMAX - 2)   /* pauses other threads during a step */
#define MW_WATCH_STORE_MAX 64u     /* widest single store (AVX-512) */

enum mw_watch_backend { MW_WB_NONE = 0, MW_WB_UFFD = 1, MW_WB_MPROTECT = 2 };

/* ---- watch_table.c ---------------------------------------------------------------------- */
typedef struct mw_watch {
    int64_t id;                 /* > 0; 0 = free slot */
    uintptr_t addr;
    size_t len;
    unsigned flags;             /* MEMWATCH_* */
    uint8_t backend;            /* enum mw_watch_backend */
    char name[MW_WATCH_NAME_MAX];
} mw_watch;

void mw_wtab_lock(void);        /* spinlock: holders never write to watched memory */
void mw_wtab_unlock(void);
/* For code serving a fault of `writer`: takes the lock (true: unlock after), or, when the
 * writer itself (stopped in the fault) or the caller holds it, borrows it (false). */
bool mw_wtab_lock_for(pid_t writer);
/* Adds a watch (lock held); returns its slot pointer or NULL when out of memory. */
mw_watch *mw_wtab_add(uintptr_t addr, size_t len, unsigned flags, uint8_t backend,
                      const char *name);
mw_watch *mw_wtab_find(int64_t id);           /* lock held */
void mw_wtab_remove(mw_watch *w);             /* lock held */
/* Watches intersecting [lo, hi) (lock held): copies up to max into out, returns the count. */
size_t mw_wtab_collect(uintptr_t lo, uintptr_t hi, mw_watch *out, size_t max);
/* True when any watch other than `except` covers a byte of page (lock held). */
bool mw_wtab_page_used(uintptr_t page, const mw_watch *except);
size_t mw_wtab_count(void);                   /* lock held */
/* Calls fn for every watch (lock held); fn may not add or remove. */
void mw_wtab_foreach(void (*fn)(mw_watch *w, void *arg), void *arg);
void mw_wtab_reset(void);                     /* fork child: forget everything */

/* ---- watch_uffd.c ----------------------------------------------------------------------- */
extern int mw_uffd;                            /* -1 when userfaultfd is not in use */
/* Opens the userfaultfd once; false (and *err set to errno) when it is unavailable. */
bool mw_uffd_open(int *err);
/* Registers + write-protects [lo, hi) (page aligned); touches never-populated pages first.
 * Returns 0 or -errno (-EINVAL: this kind of mapping cannot be write-protected). */
int mw_uffd_protect(uintptr_t lo, uintptr_t hi);
/* Removes protection (and registration) of [lo, hi), waking blocked writers. */
void mw_uffd_unprotect(uintptr_t lo, uintptr_t hi);
/* Raw ioctls for the step handlers (async-signal-safe). */
int mw_uffd_wp(uintptr_t lo, size_t len, bool protect);
int mw_uffd_wake(uintptr_t lo, size_t len);   /* wakes the whole pages of [lo, lo+len) */
/* ---- watch_fault.c ---------------------------------------------------------------------- */
bool mw_uffd_start_thread(void);              /* lazily starts the fault thread */
void mw_fault_after_fork_child(void);
void mw_fault_wait_idle(void);                /* the fault thread, if started, sits in poll() */
void mw_uffd_after_fork_child(void);

/* ---- watch_step.c: the single-step protocol -------------------------------------------- */
enum mw_step_state {
    MW_SS_IDLE = 0,
    MW_SS_BUSY,         /* taken by the fault thread or a fallback handler, no signal out */
    MW_SS_SIGNALED,     /* capture signal sent, handler not yet run */
    MW_SS_STEPPING,     /* page(s) un-protected, trap flag set */
    MW_SS_DONE,         /* trap handler finished: results in the slot */
    MW_SS_STALE,        /* handler ran but the writer was no longer at the fault */
    MW_SS_CANCELLED,    /* the fault thread gave up waiting (signal blocked) */
    MW_SS_KWAIT,        /* kernel write: page(s) open, capture signal sent to close them */
};

typedef struct mw_step_range {
    uintptr_t lo, hi;           /* un-protected page(s) */
} mw_step_range;

/* The one step in flight (the fault thread and the mprotect fallback serialize steps). */
typedef struct mw_step_slot {
    _Atomic int state;
    uint64_t gen;
    pid_t tid;                  /* the writer */
    uintptr_t fault_addr;
    uintptr_t pc;               /* faulting instruction (0 unknown) */
    int64_t syscall;            /* -1 user-mode write, else the system call number */
    uint8_t backend;
    unsigned nranges;
    mw_step_range ranges[MW_WATCH_STEP_PAGES];
    unsigned nextra;            /* opened beyond the snapshot capacity (events: TRUNCATED) */
    uintptr_t extra[MW_WATCH_STEP_EXTRA];
    unsigned nwatches;
    mw_watch watches[MW_WATCH_SLOT_WATCHES];
    /* snapshot of the watched bytes inside the ranges: one page image per range */
    uint8_t snap[MW_WATCH_STEP_PAGES][MW_WATCH_PAGE];
    /* the same pages right after re-protection (what the write left) */
    uint8_t now[MW_WATCH_STEP_PAGES][MW_WATCH_PAGE];
    /* filled by the trap handler */
    uint64_t stack;
    uint64_t sql_fp;
    unsigned wflags;            /* MW_WF_* */
    uint64_t t_ns;
    unsigned long iterations;   /* traps taken (rep string instructions) */
    _Atomic int reprotected;    /* the trap handler has re-protected the ranges */
    bool late_open;             /* a page was opened again after that (re-protect at the end) */
    bool has_loc;
    int loc_line;
    char loc_file[256];
    char loc_func[128];
    uint8_t saved_uc[1024];     /* register state at the fault (for unwinding) */
} mw_step_slot;

extern mw_step_slot mw_step;
bool mw_step_install_handlers(void);          /* capture + SIGTRAP handlers (once) */
/* Saves the fault's registers, un-protects the slot's ranges, sets the trap flag in uc. */
void mw_step_begin_in_handler(mw_step_slot *s, ucontext_t *uc);
/* Snapshot the watched bytes of range i (from memory as it is now). */
void mw_step_snapshot(mw_step_slot *s, unsigned i);
/* Copies the ranges as they are now (call right after re-protecting them). */
void mw_step_capture_now(mw_step_slot *s);
/* Adds a page range to the slot and snapshots it; false when the slot is full. */
bool mw_step_add_range(mw_step_slot *s, uintptr_t lo, uintptr_t hi);
/* Compares snapshot and memory and emits one event per watch whose bytes changed (or whose
 * bytes the faulting store addressed). Runs in the fault thread or a signal handler. */
void mw_step_emit_events(mw_step_slot *s);
/* Fills stack/sql/location of the calling thread (the writer) from ucontext uc. */
void mw_step_fill_context(mw_step_slot *s, void *uc, bool want_stack);
int mw_step_efd(void);                        /* eventfd the trap handler signals */

/* ---- watch_emit.c ----------------------------------------------------------------------- */
/* Emits WATCH_REG / UNREG / META and one WATCH_WRITE (from the calling thread's ring). */
void mw_watch_emit_reg(const mw_watch *w);
void mw_watch_emit_unreg(int64_t id, unsigned reason);
void mw_watch_emit_meta(int64_t id, const char *key, const char *value);
typedef struct mw_watch_event {
    const mw_watch *w;
    size_t offset, len;
    const uint8_t *old_bytes, *new_bytes;
    pid_t tid;
    uintptr_t pc;
    uint64_t stack, sql_fp, t_ns;
    unsigned flags;
    int64_t syscall;
    const char *loc_file, *loc_func;
    int loc_line;
} mw_watch_event;
void mw_watch_emit_write(const mw_watch_event *e);
/* Counts an event that could not be recorded (no thread state). */
void mw_watch_count_lost(void);

/* ---- watch_mprotect.c ------------------------------------------------------------------- */
bool mw_mprot_init(void);                      /* installs the SIGSEGV handler once */
int mw_mprot_protect(uintptr_t lo, uintptr_t hi);
void mw_mprot_unprotect(uintptr_t lo, uintptr_t hi);
/* The SIGSEGV/SIGTRAP path for the fallback; true when the signal was ours. */
bool mw_mprot_on_segv(siginfo_t *si, void *uc);

/* ---- watch_anon.c ----------------------------------------------------------------------- */
/* Replaces private file-backed pages of [lo, hi) by anonymous copies (0 or -errno). */
int mw_watch_make_anon(uintptr_t lo, uintptr_t hi);
extern _Atomic uintptr_t mw_anon_lo, mw_anon_hi;   /* range being converted (writers wait) */

/* ---- watch_khooks.c --------------------------------------------------------------------- */
void mw_khooks_enable(void);                   /* a fallback watch exists: hooks look */
bool mw_khooks_page_open(uintptr_t page);      /* opened by a read(2)-like call in flight */

/* ---- watch_proc.c (fault thread only) --------------------------------------------------- */
/* The writer's syscall file: -1 for a user-mode fault (pc filled), the system call number,
 * or -2 when it is running or gone. line receives the raw text. */
int64_t mw_wp_task_syscall(pid_t tid, uintptr_t *pc, char *line, size_t cap);
bool mw_wp_in_uffd_wait(pid_t tid);            /* sleeps in a userfaultfd wait now */
/* tid blocks sig (with pending: and sig is pending, i.e. not just being handled). */
bool mw_wp_signal_blocked(pid_t tid, int sig, bool pending);
bool mw_wp_maybe_blocked(pid_t tid, int sig);  /* cheap: only threads seen blocking it */
uint64_t mw_wp_io_calls(pid_t tid);            /* syscr + syscw */
/* The buffer a system call writes, for calls whose arguments name it. */
bool mw_wp_syscall_range(int64_t nr, const char *line, uintptr_t *lo, uintptr_t *hi);
bool mw_wp_kernel_write_plausible(int64_t nr, const char *line, uintptr_t addr);
void mw_wp_reset(void);                        /* fork child */

/* ---- watch_pause.c ---------------------------------------------------------------------- */
bool mw_pause_install(void);
/* Records that tid faulted on page; true when more than one thread has written it. */
bool mw_pause_page_shared(uintptr_t page, pid_t tid);
/* Pauses the running threads other than w and self; returns how many were signalled. */
int mw_pause_others(pid_t w, pid_t self);
void mw_resume_others(void);                  /* idempotent */

/* ---- watch_symbols.c -------------------------------------------------------------------- */
void mw_watch_from_env(const char *spec);     /* MEMWATCH_WATCH=symbol[:len][,...] */
bool mw_watch_spec_len(const char *s, size_t *len); /* an item's ":len" (decimal, 0x, 0), > 0 */
/* The next item of a MEMWATCH_WATCH value at *cur: "name[:len]" between commas, spaces
 * around the name and the length dropped, empty items skipped. Its name and the text after its first ':' (NULL when
 * it has none) are copied into name and lentext, each MW_WATCH_SPEC_MAX bytes; false at the
 * end. One reading for the settings' check (config.c) and the watching (watch_symbols.c). */
#define MW_WATCH_SPEC_MAX 1024
bool mw_watch_spec_next(const char **cur, char name[MW_WATCH_SPEC_MAX], char lentext[MW_WATCH_SPEC_MAX],
                        const char **len_out);

/* ---- api.c ------------------------------------------------------------------------------ */
/* Ends every watch overlapping [lo, hi) because the memory went away (unmap events). */
void mw_watch_unmapped(uintptr_t lo, uintptr_t hi);
int64_t mw_watch_add(void *addr, size_t len, const char *name, unsigned flags, bool pages);
int mw_watch_del(int64_t id, unsigned reason);
int mw_watch_backend(void);                    /* enum mw_watch_backend chosen so far */

/* Small helpers (watch_table.c): no stdio, no malloc. */
pid_t mw_w_gettid(void);
int mw_w_read_file(const char *path, char *buf, size_t cap); /* bytes read or -errno */

#endif /* MW_WATCH_CORE_H */
