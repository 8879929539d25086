/*
 * watch_khooks.c — kernel writes under the mprotect fallback: read, pread, readv, preadv,
 * recv and recvfrom into watched memory.
 *
 * With mprotect watching, a system call writing into a read-only page fails with EFAULT. The
 * calls that commonly fill program buffers are interposed: when (and only when) the buffer
 * overlaps pages the fallback protects, those pages are snapshotted and opened for the
 * duration of the call, re-protected after it, and the difference is one kernel-write event
 * (syscall number, the caller's stack). Other threads' stores to those pages during the call
 * are merged into it. Without fallback watches each hook costs one atomic load.
 */
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "memwatch.h"
#include "mw_shim.h"
#include "watch_core.h"

#define KW_WATCHES 16u
#define KW_OPEN_PAGES 64u

static _Atomic int active;
static _Atomic uintptr_t open_page[KW_OPEN_PAGES];   /* pages opened by calls in flight */
static _Atomic unsigned open_count[KW_OPEN_PAGES];

void mw_khooks_enable(void) { atomic_store(&active, 1); }

bool mw_khooks_page_open(uintptr_t page)
{
    for (unsigned i = 0; i < KW_OPEN_PAGES; i++)
        if (atomic_load(&open_page[i]) == page && atomic_load(&open_count[i])) return true;
    return false;
}

typedef struct kw {
    size_t n;
    mw_watch ws[KW_WATCHES];
    uintptr_t lo[KW_WATCHES], hi[KW_WATCHES];  /* watched bytes inside the buffer */
    uint8_t *snap;
    size_t snap_len;
} kw;

/* Lock held: counts page as opened by one more call; false when the table is full. */
static bool open_ref(uintptr_t page)
{
    unsigned free_i = KW_OPEN_PAGES;
    for (unsigned i = 0; i < KW_OPEN_PAGES; i++) {
        if (atomic_load(&open_page[i]) == page && atomic_load(&open_count[i])) {
            atomic_fetch_add(&open_count[i], 1);
            return true;
        }
        if (!atomic_load(&open_count[i]) && free_i == KW_OPEN_PAGES) free_i = i;
    }
    if (free_i == KW_OPEN_PAGES) return false;
    atomic_store(&open_page[free_i], page);
    atomic_store(&open_count[free_i], 1);
    return true;
}

/* Lock held: drops one reference; true when the page is no longer open. */
static bool open_unref(uintptr_t page)
{
    for (unsigned i = 0; i < KW_OPEN_PAGES; i++)
        if (atomic_load(&open_page[i]) == page && atomic_load(&open_count[i]))
            return atomic_fetch_sub(&open_count[i], 1) == 1;
    return true;
}

static void for_pages(const kw *k, bool open)
{
    for (size_t i = 0; i < k->n; i++) {
        uintptr_t a = k->lo[i] & ~(uintptr_t)(MW_WATCH_PAGE - 1);
        for (uintptr_t p = a; p < k->hi[i]; p += MW_WATCH_PAGE) {
            if (open) {
                if (open_ref(p)) syscall(SYS_mprotect, p, MW_WATCH_PAGE, PROT_READ | PROT_WRITE);
            } else if (open_unref(p) && mw_wtab_page_used(p, NULL)) {
                syscall(SYS_mprotect, p, MW_WATCH_PAGE, PROT_READ);
            }
        }
    }
}

static bool kw_begin(kw *k, uintptr_t lo, uintptr_t hi)
{
    k->n = 0;
    k->snap = NULL;
    if (!atomic_load_explicit(&active, memory_order_relaxed) || hi <= lo) return false;
    int saved = errno;
    mw_wtab_lock();
    size_t n = mw_wtab_collect(lo, hi, k->ws, KW_WATCHES);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (k->ws[i].backend != MW_WB_MPROTECT) continue;
        k->ws[k->n] = k->ws[i];
        k->lo[k->n] = k->ws[i].addr > lo ? k->ws[i].addr : lo;
        k->hi[k->n] = k->ws[i].addr + k->ws[i].len < hi ? k->ws[i].addr + k->ws[i].len : hi;
        total += k->hi[k->n] - k->lo[k->n];
        k->n++;
    }
    if (k->n) {
        k->snap_len = (total + MW_WATCH_PAGE - 1) & ~(size_t)(MW_WATCH_PAGE - 1);
        k->snap = (uint8_t *)syscall(SYS_mmap, NULL, k->snap_len, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (k->snap != MAP_FAILED) mw_own_range_add(k->snap, k->snap_len); /* not a root */
        if (k->snap == MAP_FAILED) {
            k->snap = NULL;
            k->n = 0;
        } else {
            size_t off = 0;
            for (size_t i = 0; i < k->n; i++) {
                memcpy(k->snap + off, (const void *)k->lo[i], k->hi[i] - k->lo[i]);
                off += k->hi[i] - k->lo[i];
            }
            for_pages(k, true);
        }
    }
    mw_wtab_unlock();
    errno = saved;
    return k->n > 0;
}

static void kw_end(kw *k, long nr, uint64_t stack)
{
    int saved = errno;
    mw_wtab_lock();
    for_pages(k, false);
    mw_wtab_unlock();
    mw_thread *t = mw_self();
    char file[256], func[128];
    int line = 0;
    bool loc = false;
    size_t off = 0;
    static _Atomic int emit_lock; /* emission uses static byte buffers below */
    while (atomic_exchange(&emit_lock, 1)) sched_yield();
    for (size_t i = 0; i < k->n; i++) {
        size_t len = k->hi[i] - k->lo[i];
        const uint8_t *old = k->snap + off, *now = (const uint8_t *)k->lo[i];
        off += len;
        size_t first = len, last = 0;
        for (size_t b = 0; b < len; b++)
            if (old[b] != now[b]) {
                if (first == len) first = b;
                last = b;
            }
        if (first == len) continue;
        if (!loc && t) loc = mw_thread_take_location(t, file, sizeof file, &line, func, sizeof func);
        static uint8_t nb[MW_MAX_WATCH_BYTES];
        size_t n = last - first + 1, keep = n < MW_MAX_WATCH_BYTES ? n : MW_MAX_WATCH_BYTES;
        memcpy(nb, now + first, keep);
        mw_watch_event e = {
            .w = &k->ws[i], .offset = k->lo[i] + first - k->ws[i].addr, .len = n,
            .tid = mw_w_gettid(), .stack = stack, .t_ns = mw_now_ns(), .syscall = nr,
            .flags = MW_WF_KERNEL | (stack ? 0 : MW_WF_NO_STACK) |
                     (n > keep ? MW_WF_TRUNCATED : 0),
            .sql_fp = (k->ws[i].flags & MEMWATCH_TRACK_SQL) && t ? mw_thread_sql_fp(t) : 0,
            .loc_file = loc ? file : NULL, .loc_func = loc ? func : NULL, .loc_line = line,
        };
        if (k->ws[i].flags & MEMWATCH_MUTATION_FULL) {
            e.old_bytes = old + first;
            e.new_bytes = nb;
            e.flags |= MW_WF_HAS_BYTES;
        }
        mw_watch_emit_write(&e);
    }
    atomic_store(&emit_lock, 0);
    mw_own_range_del(k->snap, k->snap_len);
    syscall(SYS_munmap, k->snap, k->snap_len);
    errno = saved;
}

/* The stack of the program's call: the exported hook passes its frame and return address
 * (HOOK_AT) down to its out-of-line part, which takes the stack after the real call. */
#define HOOK_AT __builtin_frame_address(0), __builtin_return_address(0)
#define STACK_AT(fa, ra) (mw_self() ? mw_stack_at(mw_self(), (fa), (ra)) : 0)

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef ssize_t (*readv_fn)(int, const struct iovec *, int);
typedef ssize_t (*preadv_fn)(int, const struct iovec *, int, off_t);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *, socklen_t *);

/* The real functions, resolved at load time (a constructor: single-threaded, so a first
 * read(2) from a signal handler never runs dlsym), or on first use before that. */
static read_fn real_read;
static pread_fn real_pread;
static readv_fn real_readv;
static preadv_fn real_preadv;
static recvfrom_fn real_recvfrom;

static void resolve(void)
{
    int g = mw_guard_enter();
    if (!real_read) real_read = (read_fn)dlsym(RTLD_NEXT, "read");
    if (!real_pread) real_pread = (pread_fn)dlsym(RTLD_NEXT, "pread");
    if (!real_readv) real_readv = (readv_fn)dlsym(RTLD_NEXT, "readv");
    if (!real_preadv) real_preadv = (preadv_fn)dlsym(RTLD_NEXT, "preadv");
    if (!real_recvfrom) real_recvfrom = (recvfrom_fn)dlsym(RTLD_NEXT, "recvfrom");
    mw_guard_leave(g);
}

__attribute__((constructor(102))) static void khooks_init(void) { resolve(); }

#define REAL(name, type)                                                     \
    if (MW_UNLIKELY(!real_##name)) resolve();

/* No watch uses the mprotect backend (the usual case): the hooks pass straight through, and
 * the kw state (about 2 KiB) lives only in the out-of-line *_watched functions, never on the
 * stack of a plain read (a program's thread may have a stack of PTHREAD_STACK_MIN, and
 * libunwind itself calls read while the shim unwinds). */
static inline bool kw_idle(void) { return MW_LIKELY(!atomic_load_explicit(&active, memory_order_relaxed)); }

static void iov_span(const struct iovec *iov, int cnt, uintptr_t *lo, uintptr_t *hi)
{
    *lo = UINTPTR_MAX;
    *hi = 0;
    for (int i = 0; iov && i < cnt; i++) {
        if (!iov[i].iov_len) continue;
        uintptr_t a = (uintptr_t)iov[i].iov_base, b = a + iov[i].iov_len;
        if (a < *lo) *lo = a;
        if (b > *hi) *hi = b;
    }
}

static __attribute__((noinline)) ssize_t read_watched(int fd, void *buf, size_t n, void *fa, void *ra)
{
    kw k;
    if (!kw_begin(&k, (uintptr_t)buf, (uintptr_t)buf + n)) return real_read(fd, buf, n);
    ssize_t r = real_read(fd, buf, n);
    kw_end(&k, SYS_read, STACK_AT(fa, ra));
    return r;
}

MW_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    REAL(read, read_fn);
    if (kw_idle()) return real_read(fd, buf, n);
    return read_watched(fd, buf, n, HOOK_AT);
}

static __attribute__((noinline)) ssize_t pread_watched(int fd, void *buf, size_t n, off_t off, void *fa,
                                                       void *ra)
{
    kw k;
    if (!kw_begin(&k, (uintptr_t)buf, (uintptr_t)buf + n)) return real_pread(fd, buf, n, off);
    ssize_t r = real_pread(fd, buf, n, off);
    kw_end(&k, SYS_pread64, STACK_AT(fa, ra));
    return r;
}

MW_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    REAL(pread, pread_fn);
    if (kw_idle()) return real_pread(fd, buf, n, off);
    return pread_watched(fd, buf, n, off, HOOK_AT);
}

MW_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off) { return pread(fd, buf, n, off); }

static __attribute__((noinline)) ssize_t readv_watched(int fd, const struct iovec *iov, int cnt, void *fa,
                                                       void *ra)
{
    uintptr_t lo, hi;
    iov_span(iov, cnt, &lo, &hi);
    kw k;
    if (!kw_begin(&k, lo, hi)) return real_readv(fd, iov, cnt);
    ssize_t r = real_readv(fd, iov, cnt);
    kw_end(&k, SYS_readv, STACK_AT(fa, ra));
    return r;
}

MW_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    REAL(readv, readv_fn);
    if (kw_idle()) return real_readv(fd, iov, cnt);
    return readv_watched(fd, iov, cnt, HOOK_AT);
}

static __attribute__((noinline)) ssize_t preadv_watched(int fd, const struct iovec *iov, int cnt, off_t off,
                                                        void *fa, void *ra)
{
    uintptr_t lo, hi;
    iov_span(iov, cnt, &lo, &hi);
    kw k;
    if (!kw_begin(&k, lo, hi)) return real_preadv(fd, iov, cnt, off);
    ssize_t r = real_preadv(fd, iov, cnt, off);
    kw_end(&k, SYS_preadv, STACK_AT(fa, ra));
    return r;
}

MW_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
    REAL(preadv, preadv_fn);
    if (kw_idle()) return real_preadv(fd, iov, cnt, off);
    return preadv_watched(fd, iov, cnt, off, HOOK_AT);
}

static __attribute__((noinline)) ssize_t recvfrom_watched(int fd, void *buf, size_t n, int flags,
                                                          struct sockaddr *addr, socklen_t *alen,
                                                          void *fa, void *ra)
{
    kw k;
    if (!kw_begin(&k, (uintptr_t)buf, (uintptr_t)buf + n))
        return real_recvfrom(fd, buf, n, flags, addr, alen);
    ssize_t r = real_recvfrom(fd, buf, n, flags, addr, alen);
    kw_end(&k, SYS_recvfrom, STACK_AT(fa, ra));
    return r;
}

MW_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                           socklen_t *alen)
{
    REAL(recvfrom, recvfrom_fn);
    if (kw_idle()) return real_recvfrom(fd, buf, n, flags, addr, alen);
    return recvfrom_watched(fd, buf, n, flags, addr, alen, HOOK_AT);
}

MW_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    return recvfrom(fd, buf, n, flags, NULL, NULL);
}
