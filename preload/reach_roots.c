/*
 * reach_roots.c — the roots of the reachability scan at exit (see reach.c for the algorithm):
 * which memory is scanned for pointers, and the raw-memory helpers the scan uses.
 *
 * Roots: writable PT_LOAD segments of loaded objects, live program threads' stacks from their
 * stack pointer up (with their TLS and thread descriptor), the program's anonymous read-write
 * mappings and writable file mappings, the parts of the data segment the program grew with
 * sbrk/brk itself (hooks_mmap.c), and in a fork child the stacks of threads its ancestors had
 * alive at each fork (inherit.c). Not roots: glibc's malloc heap ([heap], arena heaps,
 * large blocks' own mappings), the shim's own memory (segments, per-thread states, rings,
 * registered ranges), a malloc's other than glibc's behind the shim (the mappings it made,
 * a heap in its object's own data: alloc_ranges.c), cached stacks of exited threads (except
 * their descriptor and static TLS), the shim's own threads, devices. Everything is found without malloc or stdio, from
 * a snapshot of /proc/self/maps.
 */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mw_core.h"   /* the thread registry: the shim's per-thread states are not roots */
#include "reach_int.h"

/* Whether the program runs under valgrind (its vgpreload_*.so is loaded; the shim's own tests
 * run it so, test_shim_valgrind.c): a plain copy of the heap reads the gaps between blocks,
 * which memcheck calls invalid reads, and its words carry memcheck's "undefined" into the
 * scan's comparisons. A system call's copy is defined to it. */
static int vgpreload_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    return info->dlpi_name && strstr(info->dlpi_name, "/vgpreload_") != NULL;
}
static bool under_valgrind(void) { return dl_iterate_phdr(vgpreload_cb, NULL) != 0; }

/* The thread registry is the shim core's; /proc/self/task covers threads it does not know. */
#pragma weak mw_threads_stacks

/* ======================================================================================== *
 * Own-range registry: memory the shim maps for itself must never be a root (its live table
 * and buffers hold every block's address). A lock-free hash table by start address (linear
 * probing; ranges are added and removed from hooks, also in signal handlers): lo == 0 marks
 * a free slot, 1 a removed one (probes go on past it, an insert takes it again), 2 one being
 * filled; a slot goes 0 -> 2 -> lo -> 1 -> 2 ..., never back to 0, so a probe for a range
 * meets its slot before any free one. Readers take slots whose lo is a range (> 2), hi
 * stored before it. Each thread's state, ring, live table, alternate signal stack and
 * unwinder stack are ranges of their own: 65 536 slots hold those of the registry's 8 192
 * threads. (Until 2026-11-22 a table of 4 096 slots scanned from its start filled up at
 * about 1 000 threads alive, and the ranges left out were scanned as roots: a leak of such
 * a program came out reachable.)
 * ======================================================================================== */
#define OWN_BITS 16u
#define OWN_CAP (1u << OWN_BITS)
/* Ranges go to a small table first (three pages), to the big one once it is 7/8 used: the
 * big table's slots are spread over 1.5 MB by the hash, and the 40 to 50 ranges of a
 * process that has started tracing touched about 90 of its pages, a page fault each (about
 * 2.5 us on this VM): a quarter of the page faults /bin/true takes under the shim, and as
 * many copy-on-write faults again in every fork child that registers its own. The big table
 * is mapped when it is first needed (about 90 threads alive): in .bss its 1.5 MB were address
 * space, and memory mlockall() locked, in every process. */
#define OWN_SMALL_BITS 9u
#define OWN_FREE 0u
#define OWN_REMOVED 1u
#define OWN_FILLING 2u
/* counted: the end of the part whose resident pages are the shim's memory (a ring's mirror,
 * the same pages mapped again after it, is not counted twice) */
typedef struct { _Atomic uintptr_t lo; _Atomic uintptr_t hi; _Atomic uintptr_t counted; } own_slot;
/* The groups of OWN_GROUP slots in which a slot was ever taken: the walks over the table
 * (mw_own_resident_bytes at every RSS sample, the exit scan's exclusions) read only those. A
 * short-lived process otherwise read all 1.5 MB of the table, a zero-page fault per page:
 * about 400 of the 770 page faults that /bin/true took under the shim. */
#define OWN_GROUP 128u
typedef struct {
    own_slot *_Atomic *at;      /* where its slots are; NULL until mapped (the big table) */
    unsigned bits;
    _Atomic unsigned *used;     /* slots ever taken (not free) */
    _Atomic uint64_t *groups;
} own_table;
static own_slot own_small_slots[1u << OWN_SMALL_BITS];
static own_slot *_Atomic own_small_at = own_small_slots, *_Atomic own_big_at;
static _Atomic unsigned own_small_used, own_big_used;
static _Atomic uint64_t own_small_groups[1], own_big_groups[OWN_CAP / OWN_GROUP / 64u];
_Static_assert((1u << OWN_SMALL_BITS) / OWN_GROUP <= 64u, "one word of groups");
static const own_table own_tables[2] = {
    {&own_small_at, OWN_SMALL_BITS, &own_small_used, own_small_groups},
    {&own_big_at, OWN_BITS, &own_big_used, own_big_groups},
};
#define OWN_SLOTS (OWN_CAP + (1u << OWN_SMALL_BITS))
#define OWN_BIG_BYTES ((size_t)OWN_CAP * sizeof(own_slot))
/* Every slot ever taken, as own_slot *s, in both tables (a group's bit is set only once its
 * table is mapped). */
#define FOR_EACH_OWN_SLOT(s)                                                                        \
    for (const own_table *t_ = own_tables; t_ < own_tables + 2; t_++)                                \
        for (own_slot *b_ = atomic_load_explicit(t_->at, memory_order_acquire); b_; b_ = NULL)      \
            for (size_t g_ = 0; g_ < ((size_t)1 << t_->bits) / OWN_GROUP; g_++)                      \
                if (atomic_load_explicit(&t_->groups[g_ / 64u], memory_order_acquire) >> (g_ % 64u) & 1u) \
                    for (own_slot *s = b_ + g_ * OWN_GROUP; s < b_ + (g_ + 1) * OWN_GROUP; s++)
static _Atomic unsigned own_overflow;  /* ranges that found no slot */

static inline size_t own_home(uintptr_t p, unsigned bits)
{
    return (size_t)(((uint64_t)(p >> 12) * 0x9E3779B97F4A7C15ull) >> (64u - bits));
}

/* Adds the range to table T unless it is 7/8 used and no removed slot comes first on the
 * probe (probe chains stay short). */
/* The big table's slots, mapped by the first range that needs them (a raw mmap: ranges are
 * added from hooks, also in signal handlers); NULL when no memory. */
static own_slot *own_big_map(void)
{
    own_slot *cur = atomic_load_explicit(&own_big_at, memory_order_acquire);
    if (cur) return cur;
    long r = syscall(SYS_mmap, NULL, OWN_BIG_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == -1) return NULL;
    own_slot *mine = (own_slot *)r;
    if (!atomic_compare_exchange_strong(&own_big_at, &cur, mine)) { /* another thread's won */
        syscall(SYS_munmap, mine, OWN_BIG_BYTES);
        return cur;
    }
    return mine;
}

static bool own_add_to(const own_table *T, uintptr_t lo, size_t len, size_t counted)
{
    own_slot *slot = atomic_load_explicit(T->at, memory_order_acquire);
    if (!slot && !(T == &own_tables[1] && (slot = own_big_map()))) return false;
    size_t cap = (size_t)1 << T->bits, i = own_home(lo, T->bits);
    for (size_t k = 0; k < cap; k++, i = (i + 1) & (cap - 1)) {
        uintptr_t cur = atomic_load_explicit(&slot[i].lo, memory_order_relaxed);
        if (cur > OWN_REMOVED) continue;
        if (cur == OWN_FREE && atomic_load_explicit(T->used, memory_order_relaxed) >= cap / 8u * 7u)
            return false;
        if (!atomic_compare_exchange_strong(&slot[i].lo, &cur, (uintptr_t)OWN_FILLING)) continue;
        if (cur == OWN_FREE) {
            atomic_fetch_add_explicit(T->used, 1, memory_order_relaxed);
            atomic_fetch_or_explicit(&T->groups[i / OWN_GROUP / 64u], 1ull << (i / OWN_GROUP % 64u),
                                     memory_order_release);
        }
        atomic_store_explicit(&slot[i].hi, lo + len, memory_order_relaxed);
        atomic_store_explicit(&slot[i].counted, lo + (counted < len ? counted : len),
                              memory_order_relaxed);
        atomic_store_explicit(&slot[i].lo, lo, memory_order_release);
        return true;
    }
    return false;
}

void mw_own_range_add_counted(const void *p, size_t len, size_t counted)
{
    if ((uintptr_t)p <= OWN_FILLING || !len) return;
    if (own_add_to(&own_tables[0], (uintptr_t)p, len, counted) ||
        own_add_to(&own_tables[1], (uintptr_t)p, len, counted))
        return;
    atomic_fetch_add(&own_overflow, 1);
}

void mw_own_range_add(const void *p, size_t len) { mw_own_range_add_counted(p, len, len); }

/* The resident bytes of the registered ranges, by mincore(2) over each (its counted part, in
 * steps of 4096 pages). Ranges are read without a lock: one removed meanwhile gives ENOMEM
 * and counts for nothing; a page two small ranges share counts twice. */
uint64_t mw_own_resident_bytes(void)
{
    static unsigned char vec[4096]; /* the writer thread's alone (its one caller) */
    const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uint64_t total = 0;
    FOR_EACH_OWN_SLOT(s) {
        uintptr_t lo = atomic_load_explicit(&s->lo, memory_order_acquire);
        if (lo <= OWN_FILLING) continue;
        uintptr_t end = atomic_load_explicit(&s->counted, memory_order_relaxed);
        if (end <= lo) continue;
        uintptr_t a = lo & ~(pg - 1), e = (end + pg - 1) & ~(pg - 1);
        while (a < e) {
            size_t pages = (size_t)((e - a) / pg);
            if (pages > sizeof vec) pages = sizeof vec;
            if (mincore((void *)a, pages * pg, vec) != 0) break;
            for (size_t k = 0; k < pages; k++) total += vec[k] & 1u;
            a += pages * pg;
        }
    }
    return total * pg;
}

/* A range is in the table it was added to; a probe for it meets it before a free slot there
 * (a slot never becomes free again), so one that meets a free slot in the small table goes on
 * in the big one. */
void mw_own_range_del(const void *p, size_t len)
{
    (void)len;
    uintptr_t lo = (uintptr_t)p;
    if (lo <= OWN_FILLING) return;
    for (const own_table *T = own_tables; T < own_tables + 2; T++) {
        own_slot *slot = atomic_load_explicit(T->at, memory_order_acquire);
        if (!slot) continue;
        size_t cap = (size_t)1 << T->bits, i = own_home(lo, T->bits);
        for (size_t k = 0; k < cap; k++, i = (i + 1) & (cap - 1)) {
            uintptr_t cur = atomic_load_explicit(&slot[i].lo, memory_order_acquire);
            if (cur == OWN_FREE) break;
            if (cur == lo) {
                atomic_store_explicit(&slot[i].hi, (uintptr_t)0, memory_order_relaxed);
                atomic_store_explicit(&slot[i].lo, (uintptr_t)OWN_REMOVED, memory_order_release);
                return;
            }
        }
    }
}

void *mw_own_alloc(size_t n)
{
    n = page_up(n);
    long r = syscall(SYS_mmap, NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (r == -1) return NULL;
    mw_own_range_add((void *)r, n);
    return (void *)r;
}

void mw_own_free(void *p, size_t n)
{
    if (!p) return;
    n = page_up(n);
    mw_own_range_del(p, n);
    syscall(SYS_munmap, p, n);
}

/* ---- direct copies that survive an unreadable page ------------------------------------- *
 * A page of a readable mapping can still fault on a read: a guard region
 * (madvise(MADV_GUARD_INSTALL), Linux 6.13: no mapping of its own, /proc/self/maps shows the
 * mapping readable) inside a heap block or a root. The scan's direct copies (mw_reach_read_heap
 * in a process with no other program thread; mw_reach_read where neither system call may be
 * used) catch that fault: for the scan, SIGSEGV and SIGBUS get a handler that jumps back out
 * of the copy, which then reads through the system calls, and the direct copies end for the
 * rest of the scan. Until 07:50 UTC on 2026-11-23 a program with a guard page in a block it
 * still held at exit died there of SIGSEGV, its trace empty (tests/victims/reach_guard.c). A
 * fault of another thread, or of this one outside a copy, goes to the action the program had
 * (called from here when it is a handler, else restored so that the fault, repeated, meets it). */
static struct sigaction copy_prev[2];   /* SIGSEGV's, SIGBUS's action before the scan */
static volatile sig_atomic_t copy_installed;
/* In the shim's bss, which is not a root: in thread-local storage (which is) the registers
 * sigsetjmp saves there held block addresses, and bigheap's lost chain came out reachable. */
static sigjmp_buf copy_env;
static volatile sig_atomic_t copy_armed;   /* the thread copy_tid is in a copy */
static volatile pid_t copy_tid;

static void on_copy_fault(int sig, siginfo_t *si, void *uc)
{
    if (copy_armed && copy_tid == mw_gettid()) {
        copy_armed = 0;
        siglongjmp(copy_env, 1);
    }
    const struct sigaction *prev = &copy_prev[sig == SIGBUS];
    if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction) {
        prev->sa_sigaction(sig, si, uc);
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
    } else {
        mw_sigaction_real(sig, prev, NULL);
    }
}

static void copy_guard_install(reach_ctx *c)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_copy_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;   /* siglongjmp leaves the mask as it is */
    sigemptyset(&sa.sa_mask);
    if (mw_sigaction_real(SIGSEGV, &sa, &copy_prev[0]) != 0) return;
    if (mw_sigaction_real(SIGBUS, &sa, &copy_prev[1]) != 0) {
        mw_sigaction_real(SIGSEGV, &copy_prev[0], NULL);
        return;
    }
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGSEGV);
    sigaddset(&both, SIGBUS);
    pthread_sigmask(SIG_UNBLOCK, &both, &c->copy_mask);   /* a blocked fault would kill */
    copy_tid = mw_gettid();
    copy_installed = 1;
}

void mw_reach_read_done(reach_ctx *c)
{
    if (!copy_installed) return;
    copy_installed = 0;
    mw_sigaction_real(SIGSEGV, &copy_prev[0], NULL);
    mw_sigaction_real(SIGBUS, &copy_prev[1], NULL);
    pthread_sigmask(SIG_SETMASK, &c->copy_mask, NULL);
}

/* memcpy of [src, src + n) into dst, true; false when a page faulted (or the handler could not
 * be installed). Not inlined: nothing of its caller's is live across the jump. */
static __attribute__((noinline)) bool try_copy(reach_ctx *c, void *dst, uintptr_t src, size_t n)
{
    if (!copy_installed) copy_guard_install(c);
    if (!copy_installed) return false;
    if (sigsetjmp(copy_env, 0) != 0) return false;   /* the handler cleared copy_armed */
    copy_armed = 1;
    atomic_signal_fence(memory_order_seq_cst);
    memcpy(dst, (const void *)src, n);
    atomic_signal_fence(memory_order_seq_cst);
    copy_armed = 0;
    return true;
}

/* The leading bytes of [src, src + n) that can be read, copied directly: the system calls'
 * read once a page has faulted, or, where neither may be used, a copy page by page up to the
 * page that faults. */
static size_t guarded_copy(reach_ctx *c, void *dst, uintptr_t src, size_t n)
{
    bool other = c->mem_fd >= 0 || c->pvr;
    if (c->direct_ok || !other) {
        if (try_copy(c, dst, src, n)) return n;
        if (other) {
            c->direct_ok = false;
            c->alone = false;   /* the heap too is read through the system calls from now on */
        } else {
            size_t done = 0;
            while (done < n) {
                size_t step = 4096 - ((src + done) & 4095);
                if (step > n - done) step = n - done;
                if (!try_copy(c, (uint8_t *)dst + done, src + done, step)) break;
                done += step;
            }
            return done;
        }
    }
    return mw_reach_read(c, dst, src, n);
}

/* Reads n bytes at src into dst; returns how many leading bytes could be read (0 when the
 * first page is not readable). Through /proc/thread-self/mem (c->mem_fd) in a process that
 * shares pages copy-on-write with another (mw_reach_read_setup); else with
 * process_vm_readv on our own thread, or, where that system call is not permitted, a copy
 * inside the maps snapshot. Both system calls fail cleanly on memory unmapped since the
 * snapshot (the scan's own buffers, a shim thread's). process_vm_readv pins the pages it
 * reads, and pinning a page shared copy-on-write copies it first (Linux 5.19 and later): a
 * fork child's exit scan read that way made a private copy of every page of the heap it
 * inherited (64 MiB read: 16 646 page faults, 64 MiB more memory, 34 ms, against 260 faults
 * and 20-29 ms through /proc/thread-self/mem; measured 2026-11-23 on Linux 6.18). Unshared,
 * process_vm_readv is the faster (9 ms against 20 for the 64 MiB). */
size_t mw_reach_read(reach_ctx *c, void *dst, uintptr_t src, size_t n)
{
    if (c->mem_fd >= 0) {
        ssize_t got = pread(c->mem_fd, dst, n, (off_t)src);
        if (got >= 0) return (size_t)got;
        if (errno == EIO || errno == EFAULT) return 0;   /* not mapped, or not readable */
        close(c->mem_fd);
        c->mem_fd = -1;
    }
    if (c->pvr) {
        struct iovec l = {dst, n}, r = {(void *)src, n};
        ssize_t got = process_vm_readv(c->pid, &l, 1, &r, 1, 0);
        if (got >= 0) return (size_t)got;
        if (errno != ENOSYS && errno != EPERM) return 0;
        c->pvr = false;   /* not permitted here: read directly, within the maps snapshot */
    }
    for (size_t i = 0; i < c->nvma; i++) {
        vma *v = &c->vmas[i];
        if (src >= v->lo && src < v->hi && v->perm[0] == 'r') {
            size_t can = v->hi - src < n ? v->hi - src : n;
            return guarded_copy(c, dst, src, can);
        }
    }
    return 0;
}

/* The number after `key` (e.g. "\nVmSwap:") in the /proc file at path, in kB as the file
 * gives it; UINT64_MAX when the file or the key is not there. No stdio, no malloc. */
static uint64_t proc_field_kb(const char *path, const char *key)
{
    char buf[4096];
    int fd = mw_open_own(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return UINT64_MAX;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return UINT64_MAX;
    buf[n] = 0;
    const char *s = strstr(buf, key);
    if (!s) return UINT64_MAX;
    for (s += strlen(key); *s == ' ' || *s == '\t'; s++) {}
    if (*s < '0' || *s > '9') return UINT64_MAX;
    uint64_t kb = 0;
    for (; *s >= '0' && *s <= '9'; s++) kb = kb * 10 + (uint64_t)(*s - '0');
    return kb;
}

/* The dirty pages this process shares with others (Shared_Dirty of smaps_rollup: what a fork
 * shares copy-on-write, and MAP_SHARED memory), UINT64_MAX when it cannot be read. The
 * kernel walks the page tables for it: about a millisecond per few hundred MB. */
static uint64_t shared_dirty_kb(void)
{
    uint64_t kb = proc_field_kb("/proc/thread-self/smaps_rollup", "\nShared_Dirty:");
    return kb != UINT64_MAX ? kb : proc_field_kb("/proc/self/smaps_rollup", "\nShared_Dirty:");
}

/* How the exit scan reads memory: c->mem_fd when this process forked or is a fork child and
 * still shares a megabyte or more of dirty pages (mw_reach_read: a parent whose children
 * have ended or exec'd shares none, and process_vm_readv's batches are the faster: a redis
 * server's exit scan of 3 M blocks after a BGSAVE took 7.8-8.1 s through
 * /proc/thread-self/mem against 5.9 s); c->alone when every task of the process but this one
 * is a shim thread (mw_reach_read_heap). */
#define SHARED_DIRTY_MIN_KB 1024u
void mw_reach_read_setup(reach_ctx *c)
{
    c->mem_fd = -1;
    c->direct_ok = true;
    if (mw_inherit_shares_pages() && shared_dirty_kb() >= SHARED_DIRTY_MIN_KB)
        c->mem_fd = mw_open_own("/proc/thread-self/mem", O_RDONLY | O_CLOEXEC, 0);
    c->alone = mw_alone_in_process() && !under_valgrind();
}

/* The live blocks' memory is the program's heap: with no other program thread nothing frees
 * or unmaps it during the scan (the shim's threads free only their own memory, which lies
 * above every block in an arena they share), so it is copied with no system call at all.
 * Roots are not: the maps snapshot also holds the shim's memory freed since (the buffer the
 * snapshot was read into, a writer's compression workspace), and reading one of those
 * directly faulted (tests/victims/reach_sparse.c, 4 runs of 6, while this was being written).
 * A heap of 3 M small blocks inherited by a fork child (a redis BGSAVE child): its exit scan
 * read through /proc/thread-self/mem, a system call per span of blocks, took 1.5-2 s longer
 * than process_vm_readv's batches. */
size_t mw_reach_read_heap(reach_ctx *c, void *dst, uintptr_t src, size_t n)
{
    if (c->alone) {
        const vma *v = mw_reach_vma_at(c, src);
        if (v && v->perm[0] == 'r' && (v->kind == VK_ANON || v->kind == VK_HEAP)) {
            size_t can = v->hi - src < n ? v->hi - src : n;
            return guarded_copy(c, dst, src, can);
        }
    }
    return mw_reach_read(c, dst, src, n);
}

/* ======================================================================================== *
 * Roots
 * ======================================================================================== */
static uintptr_t parse_hex(const char **s, const char *end)
{
    uintptr_t v = 0;
    const char *p = *s;
    if (p + 1 < end && p[0] == '0' && p[1] == 'x') p += 2;
    for (; p < end; p++) {
        char ch = *p;
        unsigned d;
        if (ch >= '0' && ch <= '9') d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') d = (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F') d = (unsigned)(ch - 'A' + 10);
        else break;
        v = v * 16 + d;
    }
    *s = p;
    return v;
}

/* Reads a whole /proc file into raw memory; *len gets its size. NULL on failure. */
static char *slurp(const char *path, size_t *len, size_t *cap_out)
{
    size_t cap = 64 * 1024;
    for (;;) {
        char *b = mw_own_alloc(cap);
        if (!b) return NULL;
        int fd = mw_open_own(path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) { mw_own_free(b, cap); return NULL; }
        size_t n = 0;
        ssize_t r;
        while (n < cap && (r = read(fd, b + n, cap - n)) > 0) n += (size_t)r;
        close(fd);
        if (n < cap) { *len = n; *cap_out = cap; return b; }
        mw_own_free(b, cap);
        cap *= 4;
    }
}

bool mw_reach_load_maps(reach_ctx *c)
{
    size_t len, cap;
    /* the thread's view: /proc/self/maps reads empty once the main thread has called
     * pthread_exit() (a zombie group leader has no memory map) */
    char *txt = slurp("/proc/thread-self/maps", &len, &cap);
    if (!txt) txt = slurp("/proc/self/maps", &len, &cap);
    if (!txt) return false;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += txt[i] == '\n';
    c->vma_cap = lines + 1;
    c->vmas = mw_own_alloc(c->vma_cap * sizeof(vma));
    if (!c->vmas) { mw_own_free(txt, cap); return false; }
    const char *p = txt, *end = txt + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        vma *v = &c->vmas[c->nvma];
        v->lo = parse_hex(&p, eol);
        if (p < eol && *p == '-') p++;
        v->hi = parse_hex(&p, eol);
        if (p < eol && *p == ' ') p++;
        if (eol - p >= 4) memcpy(v->perm, p, 4); else memset(v->perm, '-', 4);
        /* skip perms, offset, dev, inode */
        const char *q = p;
        uintptr_t inode = 0;
        for (int f = 0; f < 4 && q < eol; f++) {
            while (q < eol && *q != ' ') q++;
            while (q < eol && *q == ' ') q++;
            if (f == 2) { const char *t = q; inode = parse_hex(&t, eol); }
        }
        const char *path = q;
        size_t plen = (size_t)(eol - q);
        if (plen == 0 || (plen >= 6 && !memcmp(path, "[anon:", 6))) v->kind = inode ? VK_FILE : VK_ANON;
        else if (plen == 6 && !memcmp(path, "[heap]", 6)) v->kind = VK_HEAP;
        else if (plen == 7 && !memcmp(path, "[stack]", 7)) v->kind = VK_STACK;
        else if (path[0] == '[') v->kind = VK_SPECIAL;
        else if (plen >= 21 && !memcmp(path, "/memfd:memwatch-ring", 20))
            v->kind = VK_SPECIAL;   /* the shim's per-thread rings */
        else if (plen >= 5 && !memcmp(path, "/dev/", 5) &&
                 !(plen >= 9 && !memcmp(path, "/dev/zero", 9)))
            v->kind = VK_DEV;
        else v->kind = VK_FILE;
        if (v->hi > v->lo) c->nvma++;
        p = eol + 1;
    }
    mw_own_free(txt, cap);
    return true;
}

size_t mw_reach_vma_from(const reach_ctx *c, uintptr_t a)
{
    size_t lo = 0, hi = c->nvma;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->vmas[mid].hi <= a) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

vma *mw_reach_vma_at(reach_ctx *c, uintptr_t a)
{
    size_t i = mw_reach_vma_from(c, a);
    return i < c->nvma && c->vmas[i].lo <= a ? &c->vmas[i] : NULL;
}

/* Exclusions are collected unsorted (tens of thousands with thousands of threads alive),
 * then sorted once by sort_excl before use. */
static void add_excl(reach_ctx *c, uintptr_t lo, uintptr_t hi, unsigned flags)
{
    if (hi <= lo) return;
    if (c->nexcl >= c->excl_cap) {
        c->excl_lost++;
        return;
    }
    c->excl[c->nexcl++] = (range){lo, hi, flags};
}

/* Heapsort of n elements of `size` bytes (at most 64) by key(element): no malloc (qsort may
 * call it), O(n log n) on any input. Sorts the exclusions by lo and the threads by tid. */
typedef uint64_t (*sort_key_fn)(const void *);

static void swap_elems(uint8_t *x, uint8_t *y, size_t size)
{
    uint8_t t[64];
    memcpy(t, x, size);
    memcpy(x, y, size);
    memcpy(y, t, size);
}

static void heap_sift(uint8_t *a, size_t size, sort_key_fn key, size_t i, size_t n)
{
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= n) return;
        if (k + 1 < n && key(a + (k + 1) * size) > key(a + k * size)) k++;
        if (key(a + i * size) >= key(a + k * size)) return;
        swap_elems(a + i * size, a + k * size, size);
        i = k;
    }
}

static void heap_sort(void *base, size_t n, size_t size, sort_key_fn key)
{
    uint8_t *a = base;
    for (size_t i = n / 2; i-- > 0;) heap_sift(a, size, key, i, n);
    for (size_t end = n; end > 1; end--) {
        swap_elems(a, a + (end - 1) * size, size);
        heap_sift(a, size, key, 0, end - 1);
    }
}

_Static_assert(sizeof(range) <= 64 && sizeof(mw_thread_stack) <= 64, "swap_elems' buffer");
static uint64_t range_lo(const void *r) { return ((const range *)r)->lo; }
static void sort_excl(reach_ctx *c) { heap_sort(c->excl, c->nexcl, sizeof(range), range_lo); }

static void add_root(reach_ctx *c, uintptr_t lo, uintptr_t hi, unsigned flags)
{
    if (hi <= lo) return;
    if (c->nroots >= c->roots_cap) {
        size_t ncap = c->roots_cap ? c->roots_cap * 2 : 1024;
        range *n = mw_own_alloc(ncap * sizeof(range));
        if (!n) {
            c->roots_short = true;
            return;
        }
        if (c->roots) {
            memcpy(n, c->roots, c->nroots * sizeof(range));
            mw_own_free(c->roots, c->roots_cap * sizeof(range));
        }
        c->roots = n;
        c->roots_cap = ncap;
    }
    c->roots[c->nroots++] = (range){lo, hi, flags};
}

/* Loaded objects: their writable PT_LOAD segments are roots (libc's flagged), the shim's
 * own are not. */
/* A writable segment of the foreign malloc's object (alloc_ranges.c): a root like any
 * module's data (tcmalloc keeps an object it made with new in a global), except from its
 * first block on: a heap in the object's own data (an allocator serving from a static array,
 * the tests' bump allocator), whose lost and freed blocks are no roots. Freed blocks lie past
 * the last live one too, so the heap is taken to run to the segment's end. */
static void alloc_segment(reach_ctx *c, uintptr_t lo, uintptr_t hi)
{
    size_t a = 0, b = c->nblk;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (c->blk[m].addr < lo) a = m + 1;
        else b = m;
    }
    uintptr_t first = a < c->nblk && c->blk[a].addr < hi ? c->blk[a].addr & ~(uintptr_t)7 : hi;
    add_excl(c, lo, first, R_ROOT);
    add_excl(c, first, hi, R_SKIP);
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    reach_ctx *c = arg;
    uintptr_t self = (uintptr_t)&mw_reach_run;
    bool is_self = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && self >= a && self < a + ph->p_memsz) is_self = true;
    }
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    bool is_libc = !strncmp(base, "libc.so", 7);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
        uintptr_t lo = page_down(info->dlpi_addr + ph->p_vaddr);
        uintptr_t hi = page_up(info->dlpi_addr + ph->p_vaddr + ph->p_memsz);
        if (is_self) { add_excl(c, lo, hi, R_SKIP); continue; }
        if (mw_alloc_is_module(info->dlpi_addr)) { alloc_segment(c, lo, hi); continue; }
        add_excl(c, lo, hi, R_ROOT | (is_libc ? R_LIBC : 0));
        if (is_libc && c->nlibc < 4) { c->libc_lo[c->nlibc] = lo; c->libc_hi[c->nlibc++] = hi; }
    }
    return 0;
}

/* Path /proc/self/task/TID/NAME into buf (no stdio). */
static void task_path(char *buf, pid_t tid, const char *name)
{
    char num[16];
    int k = 0;
    unsigned t = (unsigned)tid;
    do { num[k++] = (char)('0' + t % 10); t /= 10; } while (t && k < 15);
    memcpy(buf, "/proc/self/task/", 16);
    size_t pl = 16;
    while (k > 0) buf[pl++] = num[--k];
    buf[pl++] = '/';
    size_t nl = strlen(name);
    memcpy(buf + pl, name, nl + 1);
}

/* The shim's own threads (writer, watch fault thread) are named "memwatch-...". */
static bool is_shim_thread(pid_t tid)
{
    char path[64], comm[32];
    task_path(path, tid, "comm");
    int fd = mw_open_own(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return false;
    ssize_t n = read(fd, comm, sizeof comm);
    close(fd);
    return n >= 9 && !memcmp(comm, "memwatch-", 9);
}

/* Stack pointer of a blocked thread from /proc/self/task/TID/syscall ("nr a1..a6 sp pc" or
 * "-1 sp pc"); 0 when the thread is running or the file is unreadable. */
static uintptr_t thread_sp(pid_t tid)
{
    char path[64];
    task_path(path, tid, "syscall");
    char buf[256];
    int fd = mw_open_own(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0 || buf[0] == 'r') return 0;   /* "running" */
    const char *tok[10];
    int nt = 0;
    for (ssize_t i = 0; i < n && nt < 10; i++) {
        if (buf[i] != ' ' && buf[i] != '\n' && (i == 0 || buf[i - 1] == ' ')) tok[nt++] = buf + i;
    }
    if (nt < 3) return 0;
    const char *s = tok[nt - 2];
    return parse_hex(&s, buf + n);
}

/* Nothing of this process is in swap (VmSwap: 0 kB in /proc/self/status): a page mincore(2)
 * finds absent in an anonymous mapping was then never touched. False when unknown. */
static bool nothing_swapped(void) { return proc_field_kb("/proc/self/status", "\nVmSwap:") == 0; }

/* Calls fn(tid, arg) for each task of this process (/proc/self/task) until it returns
 * false. Returns false when fn did, or the directory could not be read. */
static bool tasks_each(bool (*fn)(pid_t tid, void *arg), void *arg)
{
    int fd = mw_open_own("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) return false;
    char buf[4096];
    long got;
    bool go = true;
    while (go && (got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; go && off < got;) {
            struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; }
                *d = (void *)(buf + off);
            if (d->name[0] >= '0' && d->name[0] <= '9') {
                pid_t tid = 0;
                for (const char *q = d->name; *q; q++) tid = tid * 10 + (*q - '0');
                go = fn(tid, arg);
            }
            off += d->reclen;
        }
    }
    if (got < 0) go = false;
    close(fd);
    return go;
}

typedef struct task_list { mw_thread_stack *out; size_t n, max; } task_list;
static bool task_add(pid_t tid, void *arg)
{
    task_list *l = arg;
    if (l->n < l->max) {
        memset(&l->out[l->n], 0, sizeof l->out[l->n]);
        l->out[l->n++].tid = tid;
    }
    return true;
}

/* Tids of this process from /proc/self/task. */
static size_t list_tasks(mw_thread_stack *out, size_t max)
{
    task_list l = { out, 0, max };
    tasks_each(task_add, &l);
    return l.n;
}

static bool me_or_shim(pid_t tid, void *me) { return tid == *(pid_t *)me || is_shim_thread(tid); }

bool mw_alone_in_process(void)
{
    pid_t me = mw_gettid();
    return tasks_each(me_or_shim, &me);
}

/* The low end of a thread's stack range [lo, hi) as it is mapped: the mappings that end at
 * its top and touch one another, down to lo at most. The range glibc reports for the main
 * thread runs RLIMIT_STACK below the top, and under `ulimit -s unlimited` that is everything
 * down to the heap (tens of terabytes, holding the modules and other mappings), while the
 * stack itself is the one [stack] mapping at the top: what lies beyond a gap is not stack. */
static uintptr_t stack_mapped_low(reach_ctx *c, uintptr_t lo, uintptr_t hi)
{
    size_t k = mw_reach_vma_from(c, hi - 1);
    if (k >= c->nvma || c->vmas[k].lo > hi - 1) return lo;   /* top not mapped: as reported */
    uintptr_t low = c->vmas[k].lo;
    while (low > lo && k > 0 && c->vmas[k - 1].hi == low) low = c->vmas[--k].lo;
    return low > lo ? low : lo;
}

static uint64_t stack_tid(const void *t) { return (uint64_t)(uint32_t)((const mw_thread_stack *)t)->tid; }
static void ts_sort(mw_thread_stack *a, size_t n) { heap_sort(a, n, sizeof *a, stack_tid); }

/* The live program threads' stacks: from sp (minus the red zone) to the top of the stack
 * range, plus their TLS ranges. Their mappings are then excluded from the generic scan. Room
 * for every registered thread and 64 Ki more tasks (4 096 in all, half of them registered,
 * before 22:30 UTC on 2026-11-22: past that the stacks of live threads were not roots, and
 * what only they pointed to came out lost). */
static void thread_roots(reach_ctx *c, uintptr_t my_sp)
{
    enum { MAXREG = MW_MAX_THREADS, MAXT = MW_MAX_THREADS + 65536 };
    mw_thread_stack *ts = mw_own_alloc(MAXT * sizeof *ts);
    if (!ts) {
        c->roots_short = true;
        return;
    }
    size_t n = 0;
    if (mw_threads_stacks) n = mw_threads_stacks(ts, MAXREG);
    if (n > MAXREG) n = MAXREG;
    /* Threads the registry does not know (they never allocated, e.g. idle worker pools):
     * from /proc/self/task, minus the shim's own threads (named "memwatch-..."). */
    size_t base = n;
    size_t nt = list_tasks(ts + base, MAXT - base);
    if (nt == MAXT - base) mw_diag("reachability: more than %zu threads; some stacks are not roots", nt);
    /* Registry entries of threads that are gone (their exit not yet noticed by the registry)
     * are dropped: only tids present in /proc/self/task are live. Both lists sorted by tid,
     * then walked side by side. */
    ts_sort(ts, base);
    ts_sort(ts + base, nt);
    size_t nreg = 0;
    for (size_t i = 0, k = base; i < base; i++) {
        bool alive = nt == 0;   /* /proc unreadable: trust the registry */
        while (k < base + nt && ts[k].tid < ts[i].tid) k++;
        alive |= k < base + nt && ts[k].tid == ts[i].tid;
        if (alive && (nreg == 0 || ts[nreg - 1].tid != ts[i].tid)) ts[nreg++] = ts[i];
    }
    n = nreg;
    for (size_t k = base, i = 0; k < base + nt; k++) {   /* compacts in place: n <= k always */
        while (i < nreg && ts[i].tid < ts[k].tid) i++;
        bool known = i < nreg && ts[i].tid == ts[k].tid;
        if (!known && !is_shim_thread(ts[k].tid)) ts[n++] = ts[k];
    }
    pid_t me = mw_gettid();
    bool have_me = false;
    for (size_t i = 0; i < n; i++) have_me |= ts[i].tid == me;
    if (!have_me && n < MAXT) { memset(&ts[n], 0, sizeof ts[n]); ts[n++].tid = me; }
    for (size_t i = 0; i < n; i++) {
        uintptr_t sp = ts[i].tid == me ? my_sp : thread_sp(ts[i].tid);
#ifdef MW_REACH_DEBUG
        mw_diag("reach thread %d sp %lx stack %lx-%lx", (int)ts[i].tid, (unsigned long)sp,
                (unsigned long)ts[i].lo, (unsigned long)ts[i].hi);
#endif
        uintptr_t lo = ts[i].lo, hi = ts[i].hi;
        if (hi <= lo || (sp && (sp < lo || sp >= hi))) {
            vma *v = sp ? mw_reach_vma_at(c, sp) : NULL;   /* range unknown: the mapping holding sp */
            if (!v) { lo = hi = 0; } else { lo = v->lo; hi = v->hi; }
        }
        if (hi > lo) lo = stack_mapped_low(c, lo, hi);
        if (hi > lo) {
            uintptr_t from = sp ? (sp - RED_ZONE > lo ? sp - RED_ZONE : lo) : lo;
            if (ts[i].tid == me) from = sp;   /* our own frames below the caller are not roots */
            add_root(c, from, hi, 0);
            for (size_t k = mw_reach_vma_from(c, lo); k < c->nvma && c->vmas[k].lo < hi; k++)
                add_excl(c, c->vmas[k].lo, c->vmas[k].hi, R_SKIP);   /* its mappings: not generic roots */
        }
        if (ts[i].tls_hi > ts[i].tls_lo) {
            add_root(c, ts[i].tls_lo, ts[i].tls_hi, 0);
            /* thread.c: [tp + TCB - dl_tls_static_size, tp + TCB), the static TLS proper
             * below tp */
            if (ts[i].tid == me && ts[i].tls_hi - ts[i].tls_lo > MW_TCB_SIZE)
                c->tls_below = ts[i].tls_hi - ts[i].tls_lo - MW_TCB_SIZE;
        }
    }
    mw_own_free(ts, MAXT * sizeof *ts);
}

/* A glibc thread stack (a guard mapping right below, a TCB that points to itself near the
 * top, `top`): the cached stack of an exited thread or a shim thread. Returns the TCB
 * address. */
static bool guard_below(reach_ctx *c, size_t vi)
{
    return vi > 0 && c->vmas[vi - 1].hi == c->vmas[vi].lo && !memcmp(c->vmas[vi - 1].perm, "---", 3);
}

static uintptr_t thread_stack_tcb(reach_ctx *c, size_t vi, uintptr_t top)
{
    const vma *v = &c->vmas[vi];
    uintptr_t from = top - 8192 > v->lo ? top - 8192 : v->lo;
    size_t n = mw_reach_read(c, c->buf, from, top - from);
    for (size_t off = 0; off + 24 <= n; off += 64) {
        const uintptr_t *w = (const uintptr_t *)(c->buf + off);
        if (w[0] == from + off && w[2] == from + off) return from + off;
    }
    return 0;
}

/* A glibc non-main arena heap: 64 MiB aligned, starting with heap_info {ar_ptr, prev, size,
 * mprotect_size}, mprotect_size the length of the read-write part. */
static bool is_arena_heap(reach_ctx *c, const vma *v)
{
    const uintptr_t heap_max = 64u << 20;
    if (v->lo % heap_max) return false;
    uintptr_t h[4];
    if (mw_reach_read(c, h, v->lo, sizeof h) != sizeof h) return false;
    return h[0] && h[0] % 8 == 0 && h[1] % heap_max == 0 && h[2] && h[2] <= h[3] &&
           h[3] <= heap_max && h[3] % PAGE == 0 && h[3] <= v->hi - v->lo + PAGE;
}

static void root_but_alloc(reach_ctx *c, uintptr_t lo, uintptr_t hi, unsigned flags);

/* cls: 0 generic root, -1 malloc's heap (not a root), else the TCB address of a thread stack
 * that no live program thread owns: only its descriptor and static TLS are roots (glibc keeps
 * them, e.g. the DTV, for the next thread that gets this cached stack; valgrind scans them). */
static void generic_piece(reach_ctx *c, size_t vi, uintptr_t lo, uintptr_t hi, intptr_t cls)
{
    if (cls == -1) return;
    if (cls > 0) {
        uintptr_t t = (uintptr_t)cls, from = t - c->tls_below;
        if (from < lo) from = lo;
        if (t >= lo && t < hi) add_root(c, from, hi, 0);
        return;
    }
    root_but_alloc(c, lo, hi, c->vmas[vi].kind == VK_ANON ? R_CHUNKS : 0);
}

/* [lo, hi) as a root without a foreign malloc's own ranges (alloc_ranges.c). */
static void root_but_alloc(reach_ctx *c, uintptr_t lo, uintptr_t hi, unsigned flags)
{
    /* the first range that ends above lo, and on */
    size_t a = 0, b = c->naheap;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (c->aheap[m].hi <= lo) a = m + 1;
        else b = m;
    }
    for (; a < c->naheap && c->aheap[a].lo < hi && lo < hi; a++) {
        if (c->aheap[a].lo > lo) add_root(c, lo, c->aheap[a].lo, flags);
        if (c->aheap[a].hi > lo) lo = c->aheap[a].hi;
    }
    if (lo < hi) add_root(c, lo, hi, flags);
}

/* A foreign malloc's own mappings, sorted and disjoint (alloc_ranges.c). */
static void take_alloc_ranges(reach_ctx *c)
{
    if (!mw_alloc_foreign) return;
    uintptr_t *lo = mw_own_alloc(2 * MW_ALLOC_RANGES_MAX * sizeof(uintptr_t));
    c->aheap = mw_own_alloc(MW_ALLOC_RANGES_MAX * sizeof(range));
    unsigned missed = 0;
    if (lo && c->aheap) {
        uintptr_t *hi = lo + MW_ALLOC_RANGES_MAX;
        c->naheap = mw_alloc_ranges(lo, hi, MW_ALLOC_RANGES_MAX, &missed);
        for (size_t i = 0; i < c->naheap; i++) c->aheap[i] = (range){ lo[i], hi[i], R_SKIP };
    } else {
        missed = 1;
    }
    if (lo) mw_own_free(lo, 2 * MW_ALLOC_RANGES_MAX * sizeof(uintptr_t));
    if (missed)
        mw_diag("reachability: %u mappings of the malloc behind the shim were not noted; blocks "
                "they point to may be called reachable", missed);
}

void mw_reach_roots_done(reach_ctx *c)
{
    if (c->aheap) mw_own_free(c->aheap, MW_ALLOC_RANGES_MAX * sizeof(range));
    c->aheap = NULL;
    c->naheap = 0;
}

void mw_reach_roots(reach_ctx *c, uintptr_t my_sp)
{
    c->no_swap = nothing_swapped();
    /* the own ranges, the registry's states, each live thread's stack mappings, module
     * segments */
    c->excl_cap = OWN_SLOTS + 4u * MW_MAX_THREADS + 8192u;
    c->excl = mw_own_alloc(c->excl_cap * sizeof(range));
    if (!c->excl) {
        c->roots_short = true;
        return;
    }
    FOR_EACH_OWN_SLOT(s) {
        uintptr_t lo = atomic_load(&s->lo), hi = atomic_load(&s->hi);
        if (lo > OWN_FILLING && hi > lo) add_excl(c, page_down(lo), page_up(hi), R_SKIP);
    }
    own_slot *big = atomic_load(&own_big_at); /* the registry's own big table */
    if (big) add_excl(c, (uintptr_t)big, (uintptr_t)big + OWN_BIG_BYTES, R_SKIP);
    /* The shim's per-thread states (encoder state holds the last allocated address). */
    unsigned hwm = mw_registry_hwm();
    for (unsigned i = 0; i < hwm; i++) {
        mw_thread *t = mw_registry_get(i);
        if (t) add_excl(c, page_down((uintptr_t)t), page_up((uintptr_t)(t + 1)), R_SKIP);
    }
    dl_iterate_phdr(phdr_cb, c);
    take_alloc_ranges(c);
    thread_roots(c, my_sp);
    sort_excl(c);
    unsigned lost = atomic_load(&own_overflow);
    if (lost || c->excl_lost)
        mw_diag("reachability: %u of the shim's own mappings and %zu exclusions found no room; "
                "blocks they point to may be called reachable", lost, c->excl_lost);
    size_t e0 = 0; /* exclusions before it end below the mappings still to come */
    for (size_t vi = 0; vi < c->nvma; vi++) {
        const vma *v = &c->vmas[vi];
        while (e0 < c->nexcl && c->excl[e0].hi <= v->lo) e0++;
        if (v->perm[0] != 'r' || v->perm[1] != 'w') continue;
        if (v->kind == VK_HEAP) { /* glibc's heap is not; what the program's sbrk added is */
            uintptr_t lo[64], hi[64];
            size_t n = mw_brk_parts(lo, hi, 64);
            for (size_t k = 0; k < n; k++)
                root_but_alloc(c, lo[k] > v->lo ? lo[k] : v->lo, hi[k] < v->hi ? hi[k] : v->hi, 0);
            continue;
        }
        if (v->kind == VK_STACK && mw_inherit_dead_stack(v->lo, v->hi)) {
            add_root(c, v->lo, v->hi, 0); /* the main thread's, in a child another thread forked */
            continue;
        }
        if (v->kind == VK_SPECIAL || v->kind == VK_DEV || v->kind == VK_STACK)
            continue;   /* [stack] is a root only as a live thread's stack */
        intptr_t cls = 0;
        uintptr_t stack_top = v->hi; /* a cached stack's cls applies below it */
        if (v->kind == VK_ANON) {
            if (is_arena_heap(c, v)) {
                cls = -1;
            } else if (guard_below(c, vi)) {
                /* The stack's top is the mapping's end, or where a mapping of the shim's own
                 * that the kernel merged into it begins: a thread's alternate signal stack
                 * mapped before the next thread's stack was placed right below it. Missing
                 * the TCB there made the whole old stack a root (a block leaked by an
                 * exited thread came out reachable: tests/victims/reach_threads.c merged). */
                uintptr_t tcb = thread_stack_tcb(c, vi, v->hi);
                for (size_t e = e0; !tcb && e < c->nexcl; e++) {
                    const range *x = &c->excl[e];
                    if (x->lo <= v->lo) continue;
                    if (x->lo >= v->hi) break;
                    if ((tcb = thread_stack_tcb(c, vi, x->lo)) != 0) stack_top = x->lo;
                }
                /* a stack of a thread alive when an ancestor forked this process is a root
                 * (inherit.c); other cached stacks are not */
                if (tcb && !mw_inherit_dead_stack(v->lo, v->hi)) cls = (intptr_t)tcb;
            }
        }
        uintptr_t cur = v->lo;
        for (size_t e = e0; e < c->nexcl && cur < v->hi; e++) {
            const range *x = &c->excl[e];
            if (x->hi <= cur) continue;
            if (x->lo >= v->hi) break;
            uintptr_t s = x->lo > cur ? x->lo : cur;
            uintptr_t t = x->hi < v->hi ? x->hi : v->hi;
            if (s > cur) generic_piece(c, vi, cur, s, cls > 0 && cur >= stack_top ? 0 : cls);
            if (x->flags & R_ROOT) add_root(c, s, t, x->flags & R_LIBC);
            cur = t;
        }
        if (cur < v->hi) generic_piece(c, vi, cur, v->hi, cls > 0 && cur >= stack_top ? 0 : cls);
    }
}
