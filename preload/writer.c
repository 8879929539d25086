/*
 * writer.c — the writer thread: drains every thread's ring into one zstd stream on disk.
 *
 * Each wake (at least every 5 ms, sooner when a producer's ring is half full) it advances the
 * coarse clock, copies each ring's new bytes behind a THREAD_SWITCH into the compressor,
 * recycles drained rings of exited threads, samples RSS every MEMWATCH_RSS_MS, records module
 * changes, and ends a zstd block (ZSTD_e_flush) at least every MEMWATCH_FLUSH_MS, so a killed
 * process leaves a trace readable up to that point; frames are closed (ZSTD_e_end) every few
 * MB. The compressor uses the real allocator; its output is buffered (up to 1 MiB, written at
 * each of those flushes) and goes out through write(2). Write errors are
 * counted (lost bytes), reported in the END record, and never stop the program.
 *
 * While the process runs, its trace file carries a lock (formats/mw_tracelock.h): `memwatch
 * run` waits on it for the programs CMD started that outlive it, and the analyzer tells a
 * trace still being written from one whose process was killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_customMem: the compressor allocates with the real malloc */
#include <zstd.h>

#include "mw_core.h"
#include "mw_tracelock.h"
#include "writer_level.h"

#define WAKE_NS (5u * 1000000u)
/* After IDLE_PASSES rounds that found nothing in the rings (100 ms), the writer sleeps up to
 * IDLE_WAKE_NS (but no longer than the RSS period or the flush interval) with the coarse
 * clock marked live, so the program's threads read the time themselves meanwhile, and any
 * ring half full wakes it as always. Each round reads every thread's ring positions: with
 * 4 000 threads alive, a few percent of a CPU at 200 rounds a second while nothing happens. */
#define IDLE_PASSES 20u
#define IDLE_WAKE_NS (20u * 1000000u)
/* While compressing strong, input goes in pieces of STRONG_PIECE: once a frame has taken
 * STRONG_WARM bytes (the first ones pay for the strong tables' page faults), a piece slower
 * than STRONG_MIN_BPS ends the frame and the writer falls back to fast (writer_level.c). */
#define STRONG_PIECE (64u << 10)
#define STRONG_WARM (256u << 10)
#define STRONG_MIN_BPS (4u << 20)
/* ... and every STRONG_SPAN bytes of input that compressed under 2:1 (the records stopped
 * repeating: random churn, whose coded runs are mostly entropy-coded bits) end it too. */
#define STRONG_SPAN (1u << 20)

static int out_fd = -1;
static ZSTD_CCtx *cctx;
/* Compressed output waits in obuf (OBUF_CAP bytes) until less than zstd's recommended output
 * size is left or the writer flushes (at least every MEMWATCH_FLUSH_MS, on a sync, at the
 * end): a coded run ends four zstd blocks, and writing each as it came cost a write(2) and two
 * sigprocmask(2) per ~8 KB. It is the shim's own memory (a registered range), so the exit scan
 * does not take it for a root: from the real malloc it was a glibc mmapped chunk of no block,
 * which the scan read as the program's memory (a megabyte of compressed bytes, whose words
 * could pass for pointers). A fork child keeps it, empty. */
#define OBUF_CAP (1u << 20)
static uint8_t *obuf;
static size_t obuf_size, obuf_len; /* capacity; bytes not written yet */
static uint64_t frame_in;           /* input bytes in the current frame */
static uint64_t piece_out;          /* compressed bytes the last zpiece wrote */
static uint64_t span_in, span_out;  /* strong frame: input and output of the current span */
static unsigned max_fill_pct;       /* fullest ring seen by the last drain_all, in percent */
static uint64_t cur_tidx = UINT64_MAX;
static bool broken;                 /* a write failed: discard, count */
static pthread_t writer_th;
static _Atomic int stop_req, writer_done, writer_started;
static _Atomic int end_after_stop; /* the thread returns after its last stream, not pause() */
static _Atomic int pause_req, paused; /* mw_writer_pause: 1 asked, 2 taken; the thread has flushed
                                         and ends */
static _Atomic uint64_t sync_req, sync_done;

/* The writer's answers to a thread waiting for it (the files for RSS open, a sync done, the
 * stream ended): each bumps done_seq and wakes the waiters, so a wait ends as soon as the
 * writer is done, not at the next 200 us poll (a process that did nothing but start and end
 * waited for four or five of those: about 2 ms of the 5 ms /bin/true took under the shim). */
static _Atomic uint32_t done_seq;
static void done_signal(void)
{
    atomic_fetch_add(&done_seq, 1);
    syscall(SYS_futex, &done_seq, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static _Atomic int sync_exec;       /* the pending sync is for an exec: END(exec) + frame end */
static _Atomic uint64_t lost_ev, lost_by;
static uint64_t lost_written_ev, lost_written_by;
static int64_t end_status;
static uint64_t end_reason;
static char trace_path[1200];

void mw_count_lost(uint64_t events, uint64_t bytes)
{
    atomic_fetch_add_explicit(&lost_ev, events, memory_order_relaxed);
    atomic_fetch_add_explicit(&lost_by, bytes, memory_order_relaxed);
}

/* The coarse clock the producers stamp their records with (TIME records): the monotonic time in
 * whole units of MW_CLOCK_UNIT_NS (2^23 ns, 8.4 ms, finer than heaptrack's 10 ms; the writer
 * goes round about every 5 ms anyway). Fewer distinct values and zero low bits: the TIME
 * records interrupt zstd's matches of repeating records less (sqlite3 CLI trace: 36 -> 33.5 KB
 * with units of 2^22 ns; bigheap's 2.9 -> 2.4 KB without its verdicts when they went from
 * 2^22 to 2^23 ns, 09:00 UTC on 2026-11-23). */
static inline uint64_t clock_tick(void) { return mw_now_ns() & ~(MW_CLOCK_UNIT_NS - 1); }

/* The compressor's memory, all of it from mw_own_alloc: RSS records count what of it is
 * resident (mw_own_resident_bytes; the workspaces, megabytes at the strong settings, are mostly
 * untouched at the fast ones), the exit scan takes none of it for the program's, and no shim
 * thread calls glibc's malloc, so that with one program thread left nothing but that thread
 * changes the heap (reach_roots.c, mw_reach_read_heap). Its one small allocation, the context
 * (5 KB), came from the real malloc until 06:50 UTC on 2026-11-23. A 16-byte header keeps the
 * size (and malloc's 16-byte alignment). */
static void *zalloc(void *op, size_t n)
{
    (void)op;
    size_t total = n + 16;
    if (total < n) return NULL;
    uint8_t *p = mw_own_alloc(total);
    if (!p) return NULL;
    memcpy(p, &total, sizeof total);
    return p + 16;
}
static void zfree(void *op, void *q)
{
    (void)op;
    if (!q) return;
    uint8_t *p = (uint8_t *)q - 16;
    size_t total;
    memcpy(&total, p, sizeof total);
    mw_own_free(p, total);
}

/* write(2) with SIGXFSZ blocked: past RLIMIT_FSIZE the kernel would kill the program for OUR
 * write; blocked, the write fails with EFBIG (counted like any write error) and the pending
 * signal is consumed before the mask is restored. */
static ssize_t write_nosig(int fd, const void *p, size_t n)
{
    sigset_t xfsz, old;
    sigemptyset(&xfsz);
    sigaddset(&xfsz, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &xfsz, &old);
    ssize_t w = write(fd, p, n);
    int e = errno;
    if (w < 0 && e == EFBIG) {
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&xfsz, NULL, &zero) == SIGXFSZ) {}
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return w;
}

/* The trace file's identity, to tell it from whatever now holds its descriptor number. */
static dev_t out_dev;
static ino_t out_ino;

/* After a chroot() the output directory, given by a path from the old root, may be out of
 * reach: forked children could not create their traces. So before the chroot the shim opens
 * the directory (when every process's trace goes to the same one: no %p or %e in the
 * pattern's directory part) and, from then on, names traces relative to that descriptor. It
 * is protected like the trace file (hooks_fd.c), close-on-exec, and checked to be the same
 * directory before use. */
static int dir_fd = -1;
static dev_t dir_dev;
static ino_t dir_ino;

static char dir_path[1024];  /* its path, for messages (the old root's) */
static bool expand_pattern(const char *pattern, char *dst, size_t cap);
static __attribute__((format(printf, 3, 4))) void trace_line(const char *what, int err, const char *fmt, ...);
static bool dir_is_pattern;  /* MEMWATCH_OUT named the directory itself: default names in it */
static int at_dir(const char *path, const char **name);
static bool dir_for_user;    /* dir_fd is a user's directory (mw_writer_before_uid_change) */

void mw_writer_before_chroot(void)
{
    if (dir_fd >= 0 || out_fd < 0) return; /* done before, or not tracing */
    const char *pat = mw_cfg.out_pattern, *ps = strrchr(pat, '/');
    for (const char *q = pat; ps && q < ps; q++)
        if (*q == '%') return; /* each process's directory is its own */
    const char *slash = strrchr(trace_path, '/');
    size_t n = slash ? (size_t)(slash - trace_path) : 1;
    if (slash && n == 0) n = 1; /* "/name": the root */
    if (n >= sizeof dir_path) return;
    memcpy(dir_path, slash ? trace_path : ".", n);
    dir_path[n] = 0;
    char expanded[sizeof trace_path];
    if (!expand_pattern(pat, expanded, sizeof expanded)) return;
    size_t el = strlen(expanded);
    while (el > 1 && expanded[el - 1] == '/') expanded[--el] = 0;
    bool is_pattern = strcmp(expanded, dir_path) == 0;
    if (is_pattern && strchr(pat, '%')) return; /* MEMWATCH_OUT=out.%p, a directory each */
    int fd = mw_open_own(dir_path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    struct stat st;
    if (fd < 0) return;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return;
    }
    dir_is_pattern = is_pattern;
    dir_fd = fd;
    dir_dev = st.st_dev;
    dir_ino = st.st_ino;
    mw_fd_protect(&dir_fd);
}

/* Whether a user uid in group gid may create files in a directory of st (its mode bits;
 * supplementary groups and ACLs are not looked at). */
static bool may_create_in(const struct stat *st, uid_t uid, gid_t gid)
{
    mode_t m = st->st_mode;
    if (st->st_uid == uid) return (m & S_IWUSR) && (m & S_IXUSR);
    if (st->st_gid == gid) return (m & S_IWGRP) && (m & S_IXGRP);
    return (m & S_IWOTH) && (m & S_IXOTH);
}

/* fd, a directory of st, becomes the kept directory, a user's (mw_writer_user_dir_fd),
 * protected and moved to the shim's numbers; the one kept before is closed. */
static void keep_user_dir(int fd, const struct stat *st, bool names_dir)
{
    if (dir_fd >= 0) {
        mw_fd_unprotect(dir_fd);
        close(dir_fd);
    }
    dir_fd = fd;
    dir_dev = st->st_dev;
    dir_ino = st->st_ino;
    dir_is_pattern = names_dir;
    dir_for_user = true;
    mw_fd_protect(&dir_fd);
}

/* Before root gives the process to another user (hooks_uid.c: a daemon's master before it
 * forks its workers): the processes it starts from then on could not create their traces in
 * an output directory only root may write (memwatch run makes it 0700), and they ran
 * untraced with a line each (2026-11-23). So the shim makes a directory inside it for that
 * user, DIR/memwatch.uid-N (0700, owned by N and the current group), keeps it open (as the
 * directory is kept at a chroot: the user may not pass through DIR, so forked children name
 * their traces relative to the descriptor), and the pattern and MEMWATCH_OUT for what the
 * process execs (process_env.c) name it from then on: a program exec'd as that user writes
 * its trace there when it may pass through DIR. This process's own trace stays open where it
 * is. Only when every process's trace goes to one directory (no % in the pattern's directory
 * part). */
void mw_writer_before_uid_change(uid_t uid)
{
    if (out_fd < 0 || !mw_cfg.follow || uid == (uid_t)-1 || uid == 0 || geteuid() != 0) return; /* FOLLOW=0: no child traced */
    const char *pat = mw_cfg.out_pattern, *ps = strrchr(pat, '/');
    if (!ps) return;
    for (const char *q = pat; q < ps; q++)
        if (*q == '%') return;
    if (strstr(pat, "/memwatch.uid-")) return; /* made for a user before: its own */
    const char *slash = strrchr(trace_path, '/');
    if (!slash) return;
    char dir[1024];
    size_t n = slash == trace_path ? 1 : (size_t)(slash - trace_path);
    if (n >= sizeof dir) return;
    memcpy(dir, trace_path, n);
    dir[n] = 0;
    gid_t gid = getegid();
    struct stat st;
    const char *name;
    int at = at_dir(trace_path, &name); /* after a chroot: the directory kept from before */
    if ((at == AT_FDCWD ? stat(dir, &st) : fstat(at, &st)) != 0 || !S_ISDIR(st.st_mode)) return;
    if (may_create_in(&st, uid, gid)) return;
    char sub[40] = "memwatch.uid-";
    mw_u64_to_dec(sub + 13, (uint64_t)uid);
    int pfd = at == AT_FDCWD ? mw_open_own(dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0) : at;
    if (pfd < 0) return;
    bool made = mkdirat(pfd, sub, 0700) == 0;
    struct stat ss;
    bool ok = fstatat(pfd, sub, &ss, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(ss.st_mode) &&
              (ss.st_uid == uid || (made && fchownat(pfd, sub, uid, gid, AT_SYMLINK_NOFOLLOW) == 0));
    int sfd = ok ? openat(pfd, sub, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (pfd != at) close(pfd);
    if (!ok) return;
    /* the pattern: DIR/memwatch.uid-N and what followed DIR ("/memwatch.%e.%p.trace.zst"),
     * or "/" when the pattern named DIR itself */
    char expanded[sizeof trace_path], npat[sizeof mw_cfg.out_pattern];
    bool names_dir = expand_pattern(pat, expanded, sizeof expanded) && strcmp(expanded, dir) == 0;
    const char *rest = names_dir ? "/" : ps;
    size_t pl = (size_t)(ps - pat);
    if (names_dir) pl = strlen(pat);
    while (pl > 1 && pat[pl - 1] == '/') pl--;
    if (pl + 1 + strlen(sub) + strlen(rest) + 1 > sizeof npat) {
        if (sfd >= 0) close(sfd);
        return;
    }
    memcpy(npat, pat, pl);
    npat[pl] = '/';
    strcpy(npat + pl + 1, sub);
    strcat(npat, rest);
    strcpy(mw_cfg.out_pattern, npat);
    /* kept open, as after a chroot: the user may not pass through DIR (memwatch run's is
     * 0700), and children name their traces relative to the descriptor instead */
    if (sfd >= 0) {
        struct stat ds;
        if (fstat(sfd, &ds) == 0) {
            keep_user_dir(sfd, &ds, names_dir);
            if (strlen(dir) + 1 + strlen(sub) < sizeof dir_path) { /* for messages */
                strcpy(dir_path, strcmp(dir, "/") ? dir : "");
                strcat(dir_path, "/");
                strcat(dir_path, sub);
            }
        } else {
            close(sfd);
        }
    }
    mw_env_out_changed();
}

/* The user's directory to pass to a program exec'd as that user (process.c), or -1: it
 * may not pass through the output directory to reach it by MEMWATCH_OUT's path. */
int mw_writer_user_dir_fd(void) { return dir_for_user ? dir_fd : -1; }

/* A program exec'd by one that became another user: its trace goes in the directory the
 * exec passed (MEMWATCH_DIR_FD), taken over as the kept directory, when it is one. */
static void adopt_passed_dir(void)
{
    int fd = mw_cfg.dir_fd;
    mw_cfg.dir_fd = -1; /* once: a fork child keeps what its parent took */
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) return; /* said with the settings (config.c) */
    const char *pat = mw_cfg.out_pattern, *ps = strrchr(pat, '/');
    size_t pl = strlen(pat);
    size_t n = ps ? (size_t)(ps - pat) : 0;
    if (n < sizeof dir_path) { /* for messages */
        memcpy(dir_path, pat, n);
        dir_path[n] = 0;
    }
    keep_user_dir(fd, &st, pl > 0 && pat[pl - 1] == '/'); /* the passed number is closed */
}

/* The directory and name to create or find a trace path with: after a chroot the kept
 * directory and the path's last component, else the path itself. */
static int at_dir(const char *path, const char **name)
{
    struct stat st;
    if (dir_fd >= 0 && fstat(dir_fd, &st) == 0 && st.st_dev == dir_dev && st.st_ino == dir_ino) {
        const char *s = strrchr(path, '/');
        *name = s ? s + 1 : path;
        return dir_fd;
    }
    *name = path;
    return AT_FDCWD;
}

/* fork: a child keeps the directory only if it goes on tracing. */
void mw_writer_child_keeps_dir(bool keep)
{
    if (dir_fd < 0) return;
    if (keep) {
        mw_fd_protect(&dir_fd);
    } else {
        mw_fd_unprotect(dir_fd); /* registered again by mw_writer_after_fork_child: close() would skip it */
        close(dir_fd);
        dir_fd = -1;
        dir_for_user = false;
    }
}

static int trace_open(const char *path, int flags)
{
    const char *name;
    int d = at_dir(path, &name);
    return openat(d, name, flags, 0600);
}

static bool is_trace_file(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == out_dev && st.st_ino == out_ino;
}

/* Is out_fd still the trace file? Not after a raw close_range system call, which the hooks
 * cannot see (and after which the program's own files may get the number): the file is then
 * opened again by its path, if that is still the same file, and the trace goes on. */
static bool out_fd_checked(void)
{
    mw_fd_lock();
    bool ours = is_trace_file(out_fd);
    mw_fd_unlock();
    if (ours) return true;
    int fd = trace_open(trace_path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && !is_trace_file(fd)) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) return false;
    if (out_fd >= 0) mw_fd_unprotect(out_fd); /* that number is the program's now */
    out_fd = fd;
    mw_fd_protect(&out_fd);
    (void)mw_tracelock_hold(out_fd);
    return true;
}

static void write_all(const uint8_t *p, size_t n)
{
    if (n && !broken && !out_fd_checked()) {
        broken = true;
        char b[MW_DIAG_VAL];
        mw_diag("writing %s failed (its descriptor was closed and the file cannot be opened again); "
                "further trace data is counted as lost", mw_diag_val(trace_path, b, sizeof b));
        return;
    }
    /* write(2) may block (slow disk): meanwhile producers read the clock themselves, so their
     * records are not stamped with a clock that stopped */
    atomic_store_explicit(&mw_clock_ns, atomic_load_explicit(&mw_clock_ns, memory_order_relaxed) | MW_CLOCK_LIVE,
                          memory_order_release);
    while (n && !broken) {
        mw_fd_lock();
        ssize_t w = write_nosig(out_fd, p, n);
        mw_fd_unlock();
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            broken = true;
            char b[MW_DIAG_VAL];
            mw_diag("writing %s failed (%s); further trace data is counted as lost",
                    mw_diag_val(trace_path, b, sizeof b), w < 0 ? mw_errstr(errno) : "short write");
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    atomic_store_explicit(&mw_clock_ns, clock_tick(), memory_order_release); /* and not live */
}

/* Writes the compressed bytes waiting in obuf. */
static void out_write(void)
{
    if (obuf_len) write_all(obuf, obuf_len);
    obuf_len = 0;
}

/* One compressor call sequence: all of src with the given end directive, its output appended
 * to obuf (written once obuf has less room than zstd's recommended output size left). Returns
 * the time it took in ns, or -1 when compression failed (the rest is counted as lost). */
static int64_t zpiece(const uint8_t *src, size_t n, ZSTD_EndDirective mode, bool behind)
{
    uint64_t t0 = mw_mono_raw_ns(), produced = 0;
    ZSTD_inBuffer in = { src, n, 0 };
    for (;;) {
        ZSTD_outBuffer out = { obuf, obuf_size, obuf_len };
        size_t r = ZSTD_compressStream2(cctx, &out, &in, mode);
        if (ZSTD_isError(r)) {
            mw_diag("compression failed (%s); further trace data is counted as lost", ZSTD_getErrorName(r));
            broken = true;
            atomic_fetch_add(&lost_by, n - in.pos);
            return -1;
        }
        produced += out.pos - obuf_len;
        obuf_len = out.pos;
        if (obuf_size - obuf_len < ZSTD_CStreamOutSize()) out_write();
        if (mode == ZSTD_e_continue ? in.pos == in.size : r == 0) break;
    }
    uint64_t dt = mw_mono_raw_ns() - t0;
    mw_zlevel_account(n, produced, dt);
    frame_in += n;
    piece_out = produced;
    if (mode == ZSTD_e_end) {
        frame_in = span_in = span_out = 0;
        mw_zlevel_frame_end(cctx, behind);
    }
    return (int64_t)dt;
}

/* Feeds bytes to the compressor with the given end directive. Compressing strong, the input
 * goes in pieces, and a slow piece ends the frame there (the rest is compressed fast). */
static void zfeed_raw(const uint8_t *src, size_t n, ZSTD_EndDirective mode)
{
    if (broken || !cctx) {
        atomic_fetch_add(&lost_by, n);
        return;
    }
    while (mw_zlevel_strong() && n > STRONG_PIECE) {
        int64_t dt = zpiece(src, STRONG_PIECE, ZSTD_e_continue, false);
        if (dt < 0) return;
        src += STRONG_PIECE;
        n -= STRONG_PIECE;
        span_in += STRONG_PIECE;
        span_out += piece_out;
        bool slow = (uint64_t)STRONG_PIECE * 1000000000ull < (uint64_t)STRONG_MIN_BPS * (uint64_t)dt;
        bool poor = span_in >= STRONG_SPAN && span_out * 2 > span_in;
        if (span_in >= STRONG_SPAN) span_in = span_out = 0;
        if (frame_in >= STRONG_WARM && (slow || poor) && zpiece(NULL, 0, ZSTD_e_end, true) < 0)
            return;
    }
    zpiece(src, n, mode, false);
}

/* mw_runs_code's output: ends a compressed block after each big column of a coded run, so
 * each column gets its own Huffman table (a flush ends a zstd block). */
static void run_emit(void *ctx, const uint8_t *p, size_t n, int block_end)
{
    (void)ctx;
    zfeed_raw(p, n, block_end ? ZSTD_e_flush : ZSTD_e_continue);
}

/* The coder's state between drains (feed_thread): ~0.5 MB, used by the writer thread only,
 * mapped at the first mw_writer_open (in .bss it was address space, and memory mlockall()
 * locked, before anything was traced). */
static mw_run_cols *run_cols;

/* The bytes REPEAT records stood for beyond their own count as compressor input: the frame
 * compressed them (zstd would have matched them all), and whether records repeat is judged by
 * that ratio (writer_level.c). */
static uint64_t rep_saved_counted;
static void count_repeats(void)
{
    uint64_t s = run_cols->rep.saved;
    if (s != rep_saved_counted) mw_zlevel_account(s - rep_saved_counted, 0, 0);
    rep_saved_counted = s;
}

/* zfeed_raw for everything but a thread's coded records: a run the coder kept open, and the
 * records the repeat finder holds, go first (feed_thread). */
static void zfeed(const uint8_t *src, size_t n, ZSTD_EndDirective mode)
{
    if (mw_runs_pending(run_cols)) {
        mw_runs_flush(run_cols, run_emit, NULL);
        count_repeats();
    }
    zfeed_raw(src, n, mode);
}

/* Called once per writer round: ends a strong frame when the writer has fallen behind. */
static void check_load(void)
{
    if (mw_zlevel_behind(max_fill_pct)) zpiece(NULL, 0, ZSTD_e_end, true);
}

void mw_writer_direct(const uint8_t *p, size_t n) { zfeed(p, n, ZSTD_e_continue); }

/* One thread's published records into the stream, its small events coded as runs unless the
 * records repeat (the last frame compressed 4:1) or MEMWATCH_CODED_RUNS=0. A TIME that repeats
 * the stream's time is left out (run_cols->now): every thread writes one when the clock has
 * moved since its own last, so threads that take turns wrote the same time again and again
 * (a third of a thread-per-request program's trace). THREAD_STARTs become THREAD_START_Ds:
 * threads started one after another have tids one apart. A run still open at the end of the
 * bytes stays open for the thread's next drain, unless anything else is written first (zfeed
 * emits it): a teardown's runs then all have the maximum length and repeat. */
static void feed_thread(mw_thread *t, const uint8_t *p, size_t n)
{
    int ok = !t->runs_off;
    if (!mw_cfg.coded_runs) {
        zfeed(p, n, ZSTD_e_continue);
        return;
    }
    mw_runs_code(&t->win, run_cols, p, n, &ok, !mw_zlevel_repetitive(), run_emit, NULL);
    count_repeats();
    if (!ok && !t->runs_off) {
        t->runs_off = true;
        mw_diag("thread %u: a record did not parse; its records are written uncoded from here on",
                (unsigned)t->tidx);
    }
}

static void emit_direct_switch(uint64_t tidx)
{
    uint8_t b[16];
    size_t n = mw_enc_thread_switch(b, sizeof b, tidx);
    zfeed(b, n, ZSTD_e_continue);
    cur_tidx = tidx;
}

/* A copy of a ring's bytes, for compressing at a slow setting (drain_one): allocated at the
 * first such drain, as big as the biggest ring seen. Writer thread only. */
static uint8_t *copy_buf;
static size_t copy_cap;

static uint64_t ring_resident; /* the rings' pages ever written, in bytes (writer thread) */

static bool copy_room(size_t n)
{
    if (n <= copy_cap) return true;
    if (copy_buf) mw_own_free(copy_buf, copy_cap);
    copy_cap = 0;
    copy_buf = mw_own_alloc(n);
    if (copy_buf) copy_cap = n;
    return copy_buf != NULL;
}

/* Copies a ring's published bytes into the stream. Returns how many. At a slow compression
 * setting the bytes are copied out first and the ring's space given back at once: the strong
 * setting takes milliseconds over a full ring, and a thread that filled its ring meanwhile
 * waited that long in malloc or free (bench `pause` at 21:45 UTC on 2026-11-22: waits of
 * 1.3-2.0 ms in 3 of 18 runs compressing in place, none in 26 runs with the copy). At level 1
 * the ring is compressed in place, which saves churn the copy. It also counts the ring's pages
 * ever written, its share of memwatch's own RSS (ring_resident). */
static uint64_t drain_one(mw_thread *t)
{
    uint64_t head = atomic_load_explicit(&t->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&t->tail, memory_order_relaxed);
    if (head == tail) return 0;
    uint64_t written = head < t->ring_size ? head : t->ring_size;
    if (written > t->ring_counted) { /* in whole pages */
        ring_resident += ((written + 4095u) & ~4095ull) - ((t->ring_counted + 4095u) & ~4095ull);
        t->ring_counted = written;
    }
    size_t n = (size_t)(head - tail);
    const uint8_t *src = t->ring + (tail & t->mask);
    unsigned fill = (unsigned)((head - tail) * 100 / t->ring_size);
    if (fill > max_fill_pct) max_fill_pct = fill;
    if (cur_tidx != t->tidx) emit_direct_switch(t->tidx);
    if (mw_zlevel_slow() && copy_room((size_t)t->ring_size)) {
        memcpy(copy_buf, src, n);
        atomic_store_explicit(&t->tail, head, memory_order_release);
        mw_writer_space_wake();
        feed_thread(t, copy_buf, n);
        return n;
    }
    feed_thread(t, src, n);
    atomic_store_explicit(&t->tail, head, memory_order_release);
    return n;
}

/* Copies every ring's published bytes into the stream; recycles drained exited threads.
 * Returns how many ring bytes it moved. */
static uint64_t drain_all(void)
{
    uint64_t moved = 0;
    unsigned h = mw_registry_hwm();
    max_fill_pct = 0;
    for (unsigned i = 0; i < h; i++) {
        mw_thread *t = mw_registry_get(i);
        if (!t) continue;
        int ex = atomic_load_explicit(&t->exited, memory_order_acquire);
        moved += drain_one(t);
        /* an ended thread's state, unless a new thread took it over (thread.c): claimed, it is
         * drained again (a new owner may have come and gone since the drain above) */
        if (ex == 1 && mw_registry_claim(t)) {
            moved += drain_one(t);
            mw_registry_release(i, t);
        }
    }
    if (moved) mw_writer_space_wake();
    uint64_t le = atomic_load(&lost_ev), lb = atomic_load(&lost_by);
    if (le != lost_written_ev || lb != lost_written_by) {
        uint8_t b[32];
        size_t n = mw_enc_lost(b, sizeof b, le - lost_written_ev, lb - lost_written_by);
        lost_written_ev = le;
        lost_written_by = lb;
        zfeed(b, n, ZSTD_e_continue);
    }
    return moved;
}

/* ---- RSS and limits (read(2) on /proc, no stdio) ----------------------------------------- */
/* The whole of a /proc file (read from the start, so a file kept open reads afresh). */
static ssize_t pread_all(int fd, char *buf, size_t cap)
{
    if (fd < 0) return -1;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = pread(fd, buf + n, cap - 1 - n, (off_t)n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = 0;
    return (ssize_t)n;
}

static ssize_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = mw_open_own(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return -1;
    ssize_t n = pread_all(fd, buf, cap);
    close(fd);
    return n;
}

static uint64_t field_kb(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    if (!p) return 0;
    p += strlen(key);
    while (*p == ' ' || *p == '\t') p++;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
    return v * 1024;
}

/* The files RSS samples come from, opened by the writer thread as it starts (the process
 * waits for that: mw_writer_start) and kept at high, protected numbers. Opened at each
 * sample, they took the lowest free descriptor for a moment, from a thread running beside
 * the program's: a program's open() that came then got the next number, so a single-threaded
 * program saw its descriptor numbers change from run to run (shim_proc::descriptors_...). */
static int rss_fd[2] = { -1, -1 };   /* statm, status */
static _Atomic int rss_files_open;
static _Atomic pid_t writer_tid;     /* the running writer thread's id (set before it says it runs) */

static void open_rss_files(void)
{
    /* the writer's own view of the shared memory map: /proc/self/statm reads all zeros
     * once the main thread has called pthread_exit() (a zombie group leader has no map) */
    static const char *const paths[2][2] = { { "/proc/thread-self/statm", "/proc/self/statm" },
                                             { "/proc/thread-self/status", "/proc/self/status" } };
    for (int i = 0; i < 2; i++) {
        int fd = mw_open_own(paths[i][0], O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) fd = mw_open_own(paths[i][1], O_RDONLY | O_CLOEXEC, 0);
        rss_fd[i] = fd;
        if (fd >= 0) mw_fd_protect(&rss_fd[i]);
    }
    atomic_store(&rss_files_open, 1);
    done_signal();
}

static uint64_t own_mapped, own_next_ns; /* the last mw_own_resident_bytes, when to look again */

/* The stream's last RSS sample: each is written as deltas from it (RSS_D, about half the
 * bytes of a whole one: a trace of an hour holds 36 000 of them). */
static mw_rss_last rss_last;

static void sample_rss(void)
{
    char buf[4096];
    if (pread_all(rss_fd[0], buf, sizeof buf) <= 0) return;
    uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
    char *e;
    uint64_t vm = strtoull(buf, &e, 10) * pg;
    uint64_t rss = strtoull(e, &e, 10) * pg;
    uint64_t anon = 0, file = 0, shmem = 0;
    if (pread_all(rss_fd[1], buf, sizeof buf) > 0) {
        anon = field_kb(buf, "RssAnon:");
        file = field_kb(buf, "RssFile:");
        shmem = field_kb(buf, "RssShmem:");
    }
    /* the shim's own share: the resident part of its mappings (the compressor's memory among
     * them), of its rings, and its output buffer whole. Looking the
     * mappings up (mincore(2) page by page) takes about a millisecond per 10 000 pages: with
     * thousands of threads (each a state, a live table and signal and unwinder stacks) it is
     * done again only after a hundred times what it took, so that it costs the writer at
     * most 1% of its time; the samples in between reuse the last figure. */
    uint64_t t0 = mw_mono_raw_ns();
    if (t0 >= own_next_ns) {
        own_mapped = mw_own_resident_bytes();
        own_next_ns = t0 + (mw_mono_raw_ns() - t0) * 100u;
    }
    uint64_t own = own_mapped + ring_resident + obuf_size;
    uint8_t b[96];
    const uint64_t v[6] = { rss, anon, file, shmem, vm, own };
    size_t n = mw_enc_rss_d(b, sizeof b, mw_now_ns(), v, &rss_last);
    zfeed(b, n, ZSTD_e_continue);
}

static void write_limits(void)
{
    char buf[4096], path[4200];
    uint64_t cg = 0, as = 0, phys;
    if (read_file("/proc/self/cgroup", buf, sizeof buf) > 0) {
        char *p = strstr(buf, "0::");
        if (p) {
            p += 3;
            char *nl = strchr(p, '\n');
            if (nl) *nl = 0;
            strcpy(path, "/sys/fs/cgroup");
            strncat(path, p, sizeof path - 40);
            strcat(path, "/memory.max");
            char v[64];
            if (read_file(path, v, sizeof v) > 0 && v[0] >= '0' && v[0] <= '9') cg = strtoull(v, NULL, 10);
        }
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) as = rl.rlim_cur;
    phys = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    uint8_t b[48];
    size_t n = mw_enc_limits(b, sizeof b, cg, as, phys);
    zfeed(b, n, ZSTD_e_continue);
}

/* ---- file and header ------------------------------------------------------------------- */
/* The executable's path; the last one read when /proc cannot tell (a fork child inside a
 * chroot without /proc: the same program as its parent, which read it before). */
static char exe_seen[1024];
static size_t exe_path(char *buf, size_t cap)
{
    ssize_t n = mw_proc_readlink("/proc/self/exe", buf, cap - 1);
    if (n > 0 && (size_t)n < sizeof exe_seen) {
        memcpy(exe_seen, buf, (size_t)n);
        exe_seen[n] = 0;
    } else if (n <= 0 && exe_seen[0]) {
        n = (ssize_t)strnlen(exe_seen, cap - 1);
        memcpy(buf, exe_seen, (size_t)n);
    }
    if (n < 0) n = 0;
    buf[n] = 0;
    return (size_t)n;
}

size_t mw_u64_to_dec(char *buf, uint64_t v)
{
    char t[24];
    size_t n = 0;
    do t[n++] = (char)('0' + v % 10); while ((v /= 10));
    for (size_t i = 0; i < n; i++) buf[i] = t[n - 1 - i];
    buf[n] = 0;
    return n;
}

/* Expands %p, %e, %% of pattern (MEMWATCH_OUT, or the default name) into dst. */
static bool expand_pattern(const char *pattern, char *dst, size_t cap)
{
    char exe[1024];
    exe_path(exe, sizeof exe);
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    if (!*base) base = "unknown";
    size_t n = 0;
    for (const char *p = pattern; *p; p++) {
        char tmp[24];
        const char *ins = tmp;
        size_t il;
        if (*p == '%' && p[1]) {
            p++;
            if (*p == 'p') il = mw_u64_to_dec(tmp, (uint64_t)mw_pid);
            else if (*p == 'e') { ins = base; il = strlen(base); }
            else { tmp[0] = '%'; il = 1; }
        } else {
            tmp[0] = *p;
            il = 1;
        }
        if (n + il + 1 > cap) return false;
        memcpy(dst + n, ins, il);
        if (ins == base) /* a control character of the program's name would be one in every
                            listing of the directory (a newline splits `ls` output): '_' */
            for (size_t i = n; i < n + il; i++)
                if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f) dst[i] = '_';
        n += il;
    }
    dst[n] = 0;
    return true;
}

/* How many numbered names an existing trace path is tried with: a daemon that execs itself
 * again on every reload keeps its pid and name, and stopped being traced after 99 of them;
 * each name taken costs one open() at the next exec. */
#define MAX_NUMBERED 100000u

/* path names a directory: path becomes the default name (memwatch.%e.%p.trace.zst) in it.
 * False, said on stderr, when that is too long. */
static bool in_dir(char *path, size_t cap)
{
    size_t n = strlen(path);
    char name[512], b[MW_DIAG_VAL];
    if (!expand_pattern(MW_OUT_DEFAULT, name, sizeof name) || n + (path[n - 1] != '/') + strlen(name) + 1 > cap) {
        trace_line("long", 0, "MEMWATCH_OUT=%s: expanded path too long; not tracing this process",
                   mw_diag_val(mw_cfg.out_pattern, b, sizeof b));
        return false;
    }
    if (path[n - 1] != '/') path[n++] = '/';
    strcpy(path + n, name);
    return true;
}

static void write_header(void)
{
    uint8_t pre[16];
    zfeed(pre, mw_enc_preamble(pre, sizeof pre), ZSTD_e_continue);
    char exe[1024];
    size_t el = exe_path(exe, sizeof exe);
    static char argv[8192];
    ssize_t al = read_file("/proc/self/cmdline", argv, sizeof argv);
    if (al < 0) al = 0;
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t flags = (mw_alloc_tracing ? MW_HF_ALLOC_TRACING : 0) | (mw_cfg.follow ? MW_HF_FOLLOW : 0) |
                     (mw_cfg.sql ? MW_HF_SQL : 0) | (mw_cfg.stacks && mw_alloc_tracing ? MW_HF_STACKS : 0) |
                     (mw_cfg.addresses ? 0 : MW_HF_NO_ADDRESSES) | MW_HF_SQL_CTX_DELTA |
                     (mw_malloc_shadowed ? MW_HF_MALLOC_SHADOWED : 0);
    static uint8_t hb[9300];
    size_t n = mw_enc_header(hb, sizeof hb, (uint64_t)mw_pid, (uint64_t)getppid(),
                             (uint64_t)sysconf(_SC_PAGESIZE),
                             (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec, mw_start_mono_ns,
                             flags, exe, el, argv, (size_t)al);
    zfeed(hb, n, ZSTD_e_continue);
}

/* The line saying why this process has no trace: said once per process tree, as the lines
 * about the settings are (config.c), since every program of a shell pipeline or a `make`
 * inherits the same MEMWATCH_OUT and fails the same way (a line each until 2026-11-24). The
 * reason's key is what failed, the pattern (absolute by now: process_env.c) and errno; a
 * program that fails otherwise, or whose parent was traced, says its own. The programs after
 * the first that say nothing are untraced all the same: the first line says so. */
static __attribute__((format(printf, 3, 4))) void trace_line(const char *what, int err, const char *fmt, ...)
{
    char key[sizeof mw_cfg.out_pattern + 48], num[24];
    mw_u64_to_dec(num, (uint64_t)(err < 0 ? 0 : err));
    size_t wl = strlen(what), nl = strlen(num), pl = strnlen(mw_cfg.out_pattern, sizeof mw_cfg.out_pattern - 1);
    memcpy(key, what, wl);
    key[wl] = '\n';
    memcpy(key + wl + 1, num, nl);
    key[wl + 1 + nl] = '\n';
    memcpy(key + wl + nl + 2, mw_cfg.out_pattern, pl);
    key[wl + nl + 2 + pl] = 0;
    if (mw_config_trace_line_said(key)) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    mw_diag("%s (the programs it starts that fail the same way say nothing more)", line);
}

/* Closes the trace file made by mw_writer_open and removes it, when the process will not be
 * traced after all: an empty file would only leave the analyzer a warning to give. Only the
 * file this process created (same device and inode as its descriptor). */
static void abandon_file(void)
{
    if (out_fd < 0) return;
    struct stat st;
    const char *name;
    int d = at_dir(trace_path, &name);
    if (fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == out_dev && st.st_ino == out_ino)
        unlinkat(d, name, 0);
    mw_fd_unprotect(out_fd);
    close(out_fd);
    out_fd = -1;
}

/* A tight address space or data limit (RLIMIT_AS, `ulimit -v`; RLIMIT_DATA, `ulimit -d`,
 * which counts private writable mappings) counts the shim's mappings with the program's: the
 * compressor's context, the rings (1 MiB of address space a thread), the tables, about
 * 8 MiB beyond the libraries already mapped. Within that much of what the program needs
 * itself, it failed where it runs natively (`cat: memory exhausted` under 11 MB of address
 * space or 6 MB of data, 2026-11-24), and `ulimit` sets the hard limit too, so there is no
 * room to make. With less than MW_AS_ROOM left under either limit above what the process
 * uses now, it is not traced: the shim maps nothing more. Returns the limit's name, with
 * *limit and *used in bytes; NULL when there is room. */
#define MW_AS_ROOM (64ull << 20)
static const char *memory_limit_tight(uint64_t *limit, uint64_t *used)
{
    static const struct { int res; const char *name, *field; } lims[] = {
        { RLIMIT_AS, "RLIMIT_AS", "VmSize:" },
        { RLIMIT_DATA, "RLIMIT_DATA", "VmData:" },
    };
    char buf[4096];
    bool have = false;
    for (size_t i = 0; i < sizeof lims / sizeof lims[0]; i++) {
        struct rlimit rl;
        if (getrlimit(lims[i].res, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) continue;
        if (!have) {
            ssize_t n = read_file("/proc/self/status", buf, sizeof buf - 1);
            if (n <= 0) return NULL;
            buf[n] = 0;
            have = true;
        }
        *limit = (uint64_t)rl.rlim_cur;
        *used = field_kb(buf, lims[i].field);
        if (*limit < *used + MW_AS_ROOM) return lims[i].name;
    }
    return NULL;
}

bool mw_writer_open(void)
{
    uint64_t limit, used;
    const char *tight = memory_limit_tight(&limit, &used);
    if (tight) {
        trace_line(tight, 0,
                   "not tracing this process: its %s (%llu KiB) leaves it %llu KiB, and tracing takes about "
                   "8 MiB; a limit 64 MiB above the program's needs leaves room",
                   tight, (unsigned long long)(limit >> 10),
                   (unsigned long long)(limit > used ? (limit - used) >> 10 : 0));
        return false;
    }
    if (!run_cols) run_cols = mw_own_alloc(sizeof *run_cols);
    if (!run_cols) {
        mw_diag("no memory for the trace's coder; not tracing this process");
        return false;
    }
    broken = false;
    frame_in = 0;
    cur_tidx = UINT64_MAX;
    run_cols->drop_same_time = 1;
    run_cols->now = MW_RUN_TIME_UNKNOWN;   /* a new stream */
    run_cols->delta_tids = 1;
    run_cols->tid_known = 0;
    run_cols->keep_open = 1;
    run_cols->pend = 0;     /* a forked child's: its parent's stream */
    run_cols->repeats = 1;
    mw_repeat_init(&run_cols->rep);
    rep_saved_counted = 0;
    rss_last = (mw_rss_last){ 0 };
    lost_written_ev = lost_written_by = 0;
    atomic_store(&lost_ev, 0);
    atomic_store(&lost_by, 0);
    char b[MW_DIAG_VAL];
    adopt_passed_dir();
    if (!expand_pattern(mw_cfg.out_pattern, trace_path, sizeof trace_path)) {
        trace_line("long", 0, "MEMWATCH_OUT=%s: expanded path too long; not tracing this process",
                   mw_diag_val(mw_cfg.out_pattern, b, sizeof b));
        return false;
    }
    const char *lname;
    if (at_dir(trace_path, &lname) != AT_FDCWD) {
        /* after a chroot: in the directory kept from before it, the name the pattern gives,
         * or the default name when the pattern named the directory itself */
        char name[512];
        size_t nl = strlen(lname);
        bool ok = dir_is_pattern ? expand_pattern(MW_OUT_DEFAULT, name, sizeof name) : nl < sizeof name;
        if (ok && !dir_is_pattern) memcpy(name, lname, nl + 1);
        size_t dl = strcmp(dir_path, "/") ? strlen(dir_path) : 0;
        nl = ok ? strlen(name) : 0;
        if (!ok || dl + 1 + nl + 1 > sizeof trace_path) {
            trace_line("long", 0, "MEMWATCH_OUT=%s: expanded path too long; not tracing this process",
                       mw_diag_val(mw_cfg.out_pattern, b, sizeof b));
            return false;
        }
        memmove(trace_path + dl + 1, name, nl + 1);
        memcpy(trace_path, dir_path, dl);
        trace_path[dl] = '/';
        out_fd = trace_open(trace_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC);
        goto numbered;
    }
    /* a directory (a pattern ending in '/', or an existing directory): the default name in it */
    size_t tl = strlen(trace_path);
    if (trace_path[tl - 1] == '/' && !in_dir(trace_path, sizeof trace_path)) return false;
    out_fd = mw_open_own(trace_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat ls, ts;
    if (out_fd < 0 && errno == EEXIST && lstat(trace_path, &ls) == 0) {
        /* a symlink is judged by what it names: to a directory, the trace goes inside it
         * (MEMWATCH_OUT=/tmp/out, a link to the real directory, had put /tmp/out.1 beside
         * it); to a device, a FIFO or a socket (/dev/stdout), none is made (it had made
         * /dev/stdout.1); to a file, or to nothing, the new trace is numbered beside it */
        if (S_ISLNK(ls.st_mode) && stat(trace_path, &ts) == 0 && !S_ISREG(ts.st_mode)) ls.st_mode = ts.st_mode;
        if (S_ISDIR(ls.st_mode)) {
            if (!in_dir(trace_path, sizeof trace_path)) return false;
            out_fd = mw_open_own(trace_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        } else if (!S_ISREG(ls.st_mode) && !S_ISLNK(ls.st_mode)) {
            /* a device, a FIFO, a socket: numbering would put a file beside /dev/null */
            trace_line("device", 0, "cannot create trace file %s: it exists and is not a regular file or a "
                       "directory; not tracing this process", mw_diag_val(trace_path, b, sizeof b));
            return false;
        } else {
            errno = EEXIST; /* a file or a symlink: numbered below */
        }
    }
numbered:
    /* an exec'd program keeps the pid: "sh -c 'exec sh ...'" expands to the same name again.
     * Never reuse or follow an existing path: number the new one instead (NAME.1.trace.zst). */
    for (unsigned k = 1; out_fd < 0 && errno == EEXIST && k < MAX_NUMBERED; k++) {
        static const char sfx[] = ".trace.zst";
        size_t n = strlen(trace_path), sl = sizeof sfx - 1;
        char alt[sizeof trace_path], num[24];
        bool has = n > sl && strcmp(trace_path + n - sl, sfx) == 0;
        size_t stem = has ? n - sl : n;
        mw_u64_to_dec(num, k);
        if (stem + 1 + strlen(num) + (has ? sl : 0) + 1 > sizeof alt) break;
        memcpy(alt, trace_path, stem);
        alt[stem] = '.';
        strcpy(alt + stem + 1, num);
        if (has) strcat(alt, sfx);
        out_fd = trace_open(alt, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC);
        if (out_fd >= 0) strcpy(trace_path, alt);
    }
    if (out_fd < 0) {
        int e = errno;
        trace_line("create", e, "cannot create trace file %s: %s; not tracing this process",
                   mw_diag_val(trace_path, b, sizeof b), mw_errstr(e));
        return false;
    }
    mw_fd_protect(&out_fd); /* survives the program's close()/dup2() (hooks_fd.c) */
    (void)mw_tracelock_hold(out_fd);
    struct stat st;
    if (fstat(out_fd, &st) == 0) {
        out_dev = st.st_dev;
        out_ino = st.st_ino;
    }
    ZSTD_customMem cm = { zalloc, zfree, NULL };
    cctx = ZSTD_createCCtx_advanced(cm);
    obuf_size = OBUF_CAP;
    obuf_len = 0;
    if (!obuf) { /* counted whole in the RSS records' own share (sample_rss), not by mincore */
        void *m = mw_real.mmap(NULL, obuf_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED) {
            obuf = m;
            mw_own_range_add_counted(obuf, obuf_size, 0);
        }
    }
    if (!cctx || !obuf) {
        mw_diag("out of memory setting up the trace compressor; not tracing this process");
        abandon_file();
        return false;
    }
    mw_zlevel_init(cctx); /* fast first; stronger per frame when it pays (writer_level.c) */
    write_header();
    write_limits();
    return true;
}

/* ---- the thread ------------------------------------------------------------------------- */
static uint64_t mono_ms(void) { return mw_mono_raw_ns() / 1000000u; }

static void finish_stream(void)
{
    drain_all();
    if (end_reason != UINT64_MAX) {
        uint8_t b[64];
        size_t n = mw_enc_end(b, sizeof b, mw_now_ns(), atomic_load(&lost_ev), atomic_load(&lost_by),
                              end_reason, end_status);
        zfeed(b, n, ZSTD_e_continue);
    }
    zfeed(NULL, 0, ZSTD_e_end);
    out_write();
    if (out_fd >= 0) {
        mw_fd_unprotect(out_fd);
        close(out_fd);
    }
    out_fd = -1;
}

static void *writer_main(void *arg)
{
    (void)arg;
    mw_tls_guard = 1; /* nothing this thread does is traced */
    mw_tls_internal = 1;
    prctl(PR_SET_NAME, "memwatch-writer", 0, 0, 0); /* the reach scan skips memwatch-* threads */
    mw_internal_block_signals(); /* all but the credential sync signal (hooks_creds.c) */
    /* last_flush 0: the first round flushes at once, so even a process killed right after it
     * started leaves a readable header, modules and limits */
    uint64_t last_flush = 0, last_rss = 0, last_mod = mono_ms();
    atomic_store(&writer_tid, (pid_t)syscall(SYS_gettid));
    if (mw_cfg.rss_ms) open_rss_files();
    /* The first RSS sample comes one period after the start, not at it: the shim's own
     * start-up (the compressor's code and workspace, libunwind's first unwinds: about 2 MB the
     * program did not ask for, a megabyte of it outside `own`) happens in those first
     * milliseconds, and a sample taken before it showed every program's RSS jumping at its
     * start. A process that ends sooner gets one sample at its end. */
    bool first_rss = mw_cfg.rss_ms != 0;
    last_rss = mono_ms();
    unsigned idle_passes = 0;
    uint64_t idle_ns = IDLE_WAKE_NS;
    if (mw_cfg.rss_ms && (uint64_t)mw_cfg.rss_ms * 1000000u < idle_ns)
        idle_ns = (uint64_t)mw_cfg.rss_ms * 1000000u;
    if ((uint64_t)mw_cfg.flush_ms * 1000000u < idle_ns) idle_ns = (uint64_t)mw_cfg.flush_ms * 1000000u;
    if (idle_ns < WAKE_NS) idle_ns = WAKE_NS;
    for (;;) {
        atomic_store_explicit(&mw_clock_ns, clock_tick(), memory_order_relaxed);
        int want_pause = 1;
        if (atomic_load_explicit(&pause_req, memory_order_relaxed) == 1 &&
            atomic_compare_exchange_strong(&pause_req, &want_pause, 2)) { /* 2: taken */
            /* the program needs to be single-threaded for a moment (mw_writer_pause): all
             * that was recorded goes to the file, and this thread ends; its /proc files are
             * this thread's own (thread-self), the next writer opens them again */
            drain_all();
            zfeed(NULL, 0, ZSTD_e_flush);
            out_write();
            for (int i = 0; i < 2; i++) {
                if (rss_fd[i] < 0) continue;
                mw_fd_unprotect(rss_fd[i]);
                close(rss_fd[i]);
                rss_fd[i] = -1;
            }
            atomic_store(&rss_files_open, 0);
            atomic_store(&paused, 1);
            done_signal();
            return NULL;
        }
        uint64_t sreq = atomic_load(&sync_req);
        uint64_t moved = drain_all();
        if (!broken && cctx) check_load();
        uint64_t now = mono_ms();
        if (mw_cfg.rss_ms && now - last_rss >= mw_cfg.rss_ms) {
            sample_rss();
            last_rss = now;
            first_rss = false;
        }
        if (now - last_mod >= 20) {
            if (mw_modules_changed()) mw_modules_refresh(NULL);
            last_mod = now;
        }
        if (atomic_load(&stop_req)) {
            if (first_rss) sample_rss(); /* a process that ended within the first period */
            break;
        }
        if (first_rss && sreq != atomic_load(&sync_done)) {
            /* a sync within the first period: the process is dying of a signal, about to exec,
             * or ending (the exit scan): its only chance of a sample */
            sample_rss();
            last_rss = now;
            first_rss = false;
        }
        if (sreq != atomic_load(&sync_done) && atomic_exchange(&sync_exec, 0)) {
            /* the process is about to exec: a complete, properly ended trace (if the exec
             * fails, records simply continue after this END, and a final END follows) */
            uint8_t b[64];
            zfeed(b, mw_enc_end(b, sizeof b, mw_now_ns(), atomic_load(&lost_ev), atomic_load(&lost_by),
                                MW_END_EXEC, -1), ZSTD_e_continue);
            zfeed(NULL, 0, ZSTD_e_end);
            out_write();
            last_flush = now;
            atomic_store(&sync_done, sreq);
            done_signal();
        } else if (sreq != atomic_load(&sync_done) || now - last_flush >= mw_cfg.flush_ms) {
            zfeed(NULL, 0, frame_in >= mw_zlevel_frame_bytes() ? ZSTD_e_end : ZSTD_e_flush);
            out_write();
            last_flush = now;
            bool asked = sreq != atomic_load(&sync_done);
            atomic_store(&sync_done, sreq);
            if (asked) done_signal();
            done_signal();
        } else if (frame_in >= mw_zlevel_frame_bytes()) {
            zfeed(NULL, 0, ZSTD_e_end);
        }
        /* under load (producers may be waiting for room) go round again without sleeping */
        if (moved >= 64 * 1024) {
            sched_yield();
            continue;
        }
        idle_passes = moved ? 0 : idle_passes + 1;
        bool idle = idle_passes >= IDLE_PASSES && idle_ns > WAKE_NS;
        int seen = atomic_load(&mw_writer_futex);
        atomic_store(&mw_writer_sleeping, 1);
        if (atomic_load(&sync_req) == atomic_load(&sync_done) && !atomic_load(&stop_req)) {
            if (idle) /* cleared by the clock_tick() store at the top of the next round */
                atomic_store_explicit(&mw_clock_ns, atomic_load_explicit(&mw_clock_ns, memory_order_relaxed) |
                                      MW_CLOCK_LIVE, memory_order_release);
            struct timespec ts = { 0, (long)(idle ? idle_ns : WAKE_NS) };
            syscall(SYS_futex, &mw_writer_futex, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
        }
        atomic_store(&mw_writer_sleeping, 0);
    }
    finish_stream();
    atomic_store(&mw_writer_alive, 0);
    atomic_store(&writer_done, 1);
    done_signal();
    /* The program needs this thread's task (yield.c, mw_writer_stop_and_end): it ends, and
     * the program, which goes on, joins it. */
    if (atomic_load(&end_after_stop)) return NULL;
    /* Otherwise the process is ending (nothing else stops the writer) and the thread that ends
     * it goes on without this one. Returning would take this thread through glibc's end of
     * thread, which calls exit(0) itself when no other thread is counted as live: after
     * main's pthread_exit() the thread ending the process already was the last, so that would
     * be a second exit() running beside the first. Wait for exit_group instead. */
    for (;;) syscall(SYS_pause);
    return NULL;
}

static uint64_t mono_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* Waits up to max_ms for done() to hold, waking the writer meanwhile. Async-signal-safe:
 * atomics, clock_gettime and futex only (fatal.c waits for a sync from a handler). */
static void wait_done(bool (*done)(const void *), const void *arg, unsigned max_ms)
{
    uint64_t end = mono_us() + (uint64_t)max_ms * 1000u;
    for (;;) {
        uint32_t seen = atomic_load(&done_seq);
        if (done(arg) || mono_us() >= end) return;
        atomic_fetch_add(&mw_writer_futex, 1);
        syscall(SYS_futex, &mw_writer_futex, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        struct timespec ts = { 0, 200 * 1000 }; /* the writer may have been asleep already */
        syscall(SYS_futex, &done_seq, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
    }
}

static bool flag_set(const void *flag) { return atomic_load((_Atomic int *)flag) != 0; }
static void wait_flag(_Atomic int *flag, unsigned max_ms) { wait_done(flag_set, flag, max_ms); }

/* Starts the writer thread (again, after a pause); false, said on stderr, when it cannot. */
static bool start_thread(void)
{
    atomic_store(&mw_writer_alive, 1);
    int g = mw_guard_enter();
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 256 * 1024);
    int rc = mw_internal_thread_create(&writer_th, &a, "memwatch-writer", writer_main, NULL);
    pthread_attr_destroy(&a);
    mw_guard_leave(g);
    if (rc != 0) {
        atomic_store(&mw_writer_alive, 0);
        mw_diag("cannot start the writer thread (%s); not tracing this process", mw_errstr(rc));
        return false;
    }
    /* before the program goes on: the writer opens its /proc files now (open_rss_files) */
    if (mw_cfg.rss_ms) wait_flag(&rss_files_open, 2000);
    return true;
}

bool mw_writer_start(void)
{
    atomic_store(&stop_req, 0);
    atomic_store(&writer_done, 0);
    atomic_store(&sync_req, 0);
    atomic_store(&sync_done, 0);
    atomic_store(&pause_req, 0);
    end_reason = UINT64_MAX;
    if (!start_thread()) {
        abandon_file(); /* nothing will ever be written to it */
        return false;
    }
    atomic_store(&writer_started, 1);
    return true;
}

bool mw_writer_pause(void)
{
    if (!atomic_load(&writer_started) || !atomic_load(&mw_writer_alive) || atomic_load(&stop_req)) return false;
    int saved = errno;
    atomic_store(&paused, 0);
    atomic_store(&pause_req, 1);
    wait_flag(&paused, 2000);
    int asked = 1;
    /* not taken within 2 s (the writer stuck in a slow write): withdrawn, unless the writer
     * took it just now, which it then finishes */
    bool ok = !atomic_compare_exchange_strong(&pause_req, &asked, 0);
    if (ok) {
        while (!atomic_load(&paused)) wait_flag(&paused, 1000);
        /* its task is gone from the thread group. mw_writer_alive stays set: a thread that
         * fills its ring meanwhile waits for the writer to come back (a few ms), as it
         * would wait for a busy one, instead of counting its records as lost */
        int cs = mw_nocancel_begin(); /* a cancellation point: the caller would leave the */
        pthread_join(writer_th, NULL); /* writer paused for ever */
        mw_nocancel_end(cs);
    }
    errno = saved;
    return ok;
}

void mw_writer_resume(void)
{
    int saved = errno;
    atomic_store(&pause_req, 0);
    if (!start_thread()) atomic_store(&mw_state, MW_ST_OFF); /* alive 0: waiting threads go on */
    errno = saved;
}

void mw_writer_sync_exec(void)
{
    if (!atomic_load(&mw_writer_alive)) return;
    atomic_store(&sync_exec, 1);
    mw_writer_sync();
}

void mw_writer_sync(void) { mw_writer_sync_for(5000); }

/* Sync request *req served, or the writer gone. */
static bool synced(const void *req)
{
    return atomic_load(&sync_done) >= *(const uint64_t *)req || !atomic_load(&mw_writer_alive);
}

/* Async-signal-safe: atomics, clock_gettime and futex only (fatal.c calls it from a handler). */
void mw_writer_sync_for(unsigned max_ms)
{
    if (!atomic_load(&mw_writer_alive)) return;
    int saved = errno;
    uint64_t req = atomic_fetch_add(&sync_req, 1) + 1;
    wait_done(synced, &req, max_ms);
    errno = saved;
}

/* After mw_writer_stop: waits (at most 2 s) until the writer thread sits in its last system
 * call, the pause() it stays in, so that it makes no other one from then on. Once the writer
 * says it is done it still wakes its waiter and enters pause(): a seccomp filter put in right
 * after (TSYNC: every thread) killed the process for those, now and then, on a loaded machine
 * (hooks_seccomp.c; test shim_proc::a_seccomp_sandbox_ends_the_trace_before_it, SIGSYS in 1 of
 * 25 runs beside CPU hogs in a variant whose writer started later, 2026-11-23). */
void mw_writer_wait_parked(void)
{
    if (atomic_load(&writer_done)) mw_wait_thread_in_syscall(atomic_load(&writer_tid), SYS_pause, 2000);
}

void mw_writer_stop(int64_t exit_status, uint64_t reason)
{
    if (!atomic_load(&writer_started)) return;
    int saved = errno;
    end_status = exit_status;
    end_reason = reason;
    atomic_store(&stop_req, 1);
    wait_flag(&writer_done, 10000);
    errno = saved;
}

bool mw_writer_stop_and_end(int64_t exit_status, uint64_t reason)
{
    if (!atomic_load(&writer_started) || !atomic_load(&mw_writer_alive)) return false;
    atomic_store(&end_after_stop, 1);
    mw_writer_stop(exit_status, reason);
    if (!atomic_load(&writer_done)) return false; /* stuck: it keeps its task */
    int cs = mw_nocancel_begin();
    pthread_join(writer_th, NULL);
    mw_nocancel_end(cs);
    atomic_store(&writer_started, 0);
    return true;
}

void mw_writer_after_fork_child(void)
{
    /* the parent's writer thread does not exist here; its fd and compressor are the parent's */
    mw_fd_forget_all();
    if (out_fd >= 0) close(out_fd);
    out_fd = -1;
    mw_writer_child_keeps_dir(true); /* a child that is not traced closes it (init.c) */
    mw_proc_child_keeps(true);
    for (int i = 0; i < 2; i++) { /* the parent's writer's /proc files: the child's opens its own */
        if (rss_fd[i] >= 0) close(rss_fd[i]);
        rss_fd[i] = -1;
    }
    atomic_store(&rss_files_open, 0);
    cctx = NULL; /* the parent's context may have been mid-use: leave it */
    obuf_len = 0; /* the parent's unwritten output is the parent's to write */
    ring_resident = 0; /* the child's threads get rings of their own */
    own_next_ns = 0;
    atomic_store(&writer_started, 0);
    atomic_store(&mw_writer_alive, 0);
    atomic_store(&mw_writer_sleeping, 0);
    atomic_store(&writer_tid, 0);
}
