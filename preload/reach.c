/*
 * reach.c — reachability of the unfreed heap blocks at normal exit (what valgrind's memcheck
 * and LeakSanitizer report, and heaptrack does not).
 *
 * mw_reach_run() is called once by the exit path, before the END record. It
 *   1. snapshots the live blocks (mw_live_foreach) into an address-sorted array;
 *   2. snapshots /proc/self/maps and classifies every readable+writable mapping: roots are the
 *      writable segments of loaded objects (.data/.bss), the stacks of LIVE program threads
 *      (from their stack pointer upward, which includes their static TLS and TCB), and the
 *      program's own anonymous read-write mappings (client mmaps, e.g. Python's obmalloc
 *      arenas, as valgrind treats them). Not roots: glibc's malloc heap ([heap], thread arena
 *      heaps, mmapped chunks: their blocks are scanned only when reached), the shim's own
 *      memory (its segments and every range in the own-range registry below), cached stacks of
 *      exited threads (and the shim's own threads), device mappings;
 *   3. scans the roots conservatively for aligned pointer-sized words pointing at the start or
 *      the interior of a live block (binary search), marks those blocks reachable and scans
 *      them transitively (explicit mark stack, no recursion);
 *   4. classifies the rest as valgrind does: blocks visited in address order; an unreached
 *      block starts a "clique" and every unreached block reachable from it becomes indirectly
 *      lost; blocks still unreached at the end (the clique leaders) are definitely lost;
 *   5. emits REACH records (ref, kind) for every block of the snapshot.
 *
 * Interior pointers count as reachable (LeakSanitizer's rule); valgrind calls blocks reached
 * only through interior pointers "possibly lost", so our "reachable" equals valgrind's
 * "still reachable" + "possibly lost" (README section "performance" and the reference tests).
 *
 * Constraints: no malloc (all memory is raw mmap, registered as the shim's own), no stdio,
 * errno preserved, other threads may still run: memory is read with process_vm_readv on our
 * own pid, so a page unmapped concurrently yields EFAULT instead of a crash (when that system
 * call is not permitted, only ranges inside the maps snapshot are read directly).
 */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mw_core.h"   /* the thread registry: the shim's per-thread states are not roots */
#include "mw_shim.h"

/* The thread registry is the shim core's; fall back to /proc/self/task when absent. */
#pragma weak mw_threads_stacks

/* ======================================================================================== *
 * Own-range registry: memory the shim maps for itself must never be a root (its live table
 * and buffers hold every block's address). Lock-free fixed table; lo == 1 marks a slot being
 * filled, lo == 0 a free slot.
 * ======================================================================================== */
#define OWN_MAX 4096
static struct { _Atomic uintptr_t lo; _Atomic uintptr_t hi; } own_tab[OWN_MAX];
static _Atomic unsigned own_overflow;

void mw_own_range_add(const void *p, size_t len)
{
    if (!p || !len) return;
    for (size_t i = 0; i < OWN_MAX; i++) {
        uintptr_t z = 0;
        if (atomic_load_explicit(&own_tab[i].lo, memory_order_relaxed) != 0) continue;
        if (!atomic_compare_exchange_strong(&own_tab[i].lo, &z, (uintptr_t)1)) continue;
        atomic_store(&own_tab[i].hi, (uintptr_t)p + len);
        atomic_store(&own_tab[i].lo, (uintptr_t)p);
        return;
    }
    atomic_fetch_add(&own_overflow, 1);
}

void mw_own_range_del(const void *p, size_t len)
{
    (void)len;
    for (size_t i = 0; i < OWN_MAX; i++) {
        if (atomic_load_explicit(&own_tab[i].lo, memory_order_acquire) == (uintptr_t)p) {
            atomic_store(&own_tab[i].hi, (uintptr_t)0);
            atomic_store(&own_tab[i].lo, (uintptr_t)0);
            return;
        }
    }
}

/* ======================================================================================== *
 * Raw memory and safe reads
 * ======================================================================================== */
#define PAGE 4096u
#define RD_BUF (256u * 1024u)      /* scan buffer */
#define RED_ZONE 128u              /* x86-64 ABI red zone below sp (valgrind scans it too) */

static uintptr_t page_up(uintptr_t x) { return (x + PAGE - 1) & ~(uintptr_t)(PAGE - 1); }
static uintptr_t page_down(uintptr_t x) { return x & ~(uintptr_t)(PAGE - 1); }

static void *os_alloc(size_t n)
{
    n = page_up(n);
    long r = syscall(SYS_mmap, NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (r == -1) return NULL;
    mw_own_range_add((void *)r, n);
    return (void *)r;
}

static void os_free(void *p, size_t n)
{
    if (!p) return;
    n = page_up(n);
    mw_own_range_del(p, n);
    syscall(SYS_munmap, p, n);
}

typedef struct block_ent {   /* = mw_live_block, sorted by addr */
    uintptr_t addr;
    size_t size;
    mw_block_ref ref;
} block_ent;

enum { ST_UNREACHED = 0, ST_REACHABLE = 1, ST_INDIRECT = 2 };

typedef struct range {
    uintptr_t lo, hi;
    unsigned flags;
} range;
#define R_LIBC 0x1u      /* inside libc's writable segment: main_arena lives there */
#define R_CHUNKS 0x2u    /* anonymous: skip glibc mmapped chunks found at page starts */
#define R_SKIP 0x4u      /* exclusion: not a root */
#define R_ROOT 0x8u      /* exclusion that is itself a root (module segment) */

typedef struct vma {
    uintptr_t lo, hi;
    char perm[4];
    int kind;
} vma;
enum { VK_ANON, VK_FILE, VK_HEAP, VK_STACK, VK_SPECIAL, VK_DEV };

typedef struct reach_ctx {
    block_ent *blk;
    size_t nblk, blk_cap;
    uint8_t *state;
    uint32_t *stack;
    size_t sp;
    uintptr_t min_addr, max_end;
    uint8_t *buf;             /* RD_BUF bytes */
    bool pvr;                 /* process_vm_readv usable */
    pid_t pid;
    vma *vmas;
    size_t nvma, vma_cap;
    range *excl;              /* sorted exclusions */
    size_t nexcl, excl_cap;
    range *roots;
    size_t nroots, roots_cap;
    uintptr_t libc_lo[4], libc_hi[4];
    size_t nlibc;
    size_t tls_below;         /* static TLS bytes below the thread pointer (0: unknown) */
    uint8_t *copy;            /* clique phase: contents of the unreached blocks */
    uint64_t *coff;           /* per block: offset in copy, or NO_COPY */
    size_t copy_len;
} reach_ctx;

/* Reads n bytes at src into dst; returns how many leading bytes could be read (0 when the
 * first page is not readable). */
static size_t safe_read(reach_ctx *c, void *dst, uintptr_t src, size_t n)
{
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
            memcpy(dst, (const void *)src, can);
            return can;
        }
    }
    return 0;
}

/* ======================================================================================== *
 * Snapshot of the live blocks
 * ======================================================================================== */
typedef struct snap_arg { reach_ctx *c; size_t seen; } snap_arg;

static void snap_one(const mw_live_block *b, void *arg)
{
    snap_arg *a = arg;
    if (a->c->nblk < a->c->blk_cap) {
        block_ent *e = &a->c->blk[a->c->nblk++];
        e->addr = b->addr;
        e->size = b->size;
        e->ref = b->ref;
    }
    a->seen++;
}

/* LSD radix sort by address (16-bit digits over the 48 address bits of x86-64 user space;
 * a fourth pass only if some address has higher bits): O(n), one temporary array. */
static bool sort_blocks(block_ent *a, size_t n)
{
    if (n < 2) return true;
    uintptr_t all = 0;
    for (size_t i = 0; i < n; i++) all |= a[i].addr;
    block_ent *tmp = os_alloc(n * sizeof *tmp);
    size_t *cnt = os_alloc(65536 * sizeof *cnt);
    if (!tmp || !cnt) {
        os_free(tmp, n * sizeof *tmp);
        os_free(cnt, 65536 * sizeof *cnt);
        return false;
    }
    block_ent *src = a, *dst = tmp;
    for (unsigned shift = 0; shift < 64 && (shift == 0 || (all >> shift)); shift += 16) {
        memset(cnt, 0, 65536 * sizeof *cnt);
        for (size_t i = 0; i < n; i++) cnt[(src[i].addr >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) { size_t k = cnt[d]; cnt[d] = sum; sum += k; }
        for (size_t i = 0; i < n; i++) dst[cnt[(src[i].addr >> shift) & 0xffff]++] = src[i];
        block_ent *t = src; src = dst; dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
    os_free(tmp, n * sizeof *tmp);
    os_free(cnt, 65536 * sizeof *cnt);
    return true;
}

static bool snapshot_blocks(reach_ctx *c)
{
    size_t want = mw_live_count();
    for (int attempt = 0; attempt < 4; attempt++) {
        c->blk_cap = want + want / 4 + 1024;
        c->blk = os_alloc(c->blk_cap * sizeof(block_ent));
        if (!c->blk) return false;
        c->nblk = 0;
        snap_arg a = {c, 0};
        mw_live_foreach(snap_one, &a);
#ifdef MW_REACH_DEBUG
        mw_diag("reach foreach done");
#endif
        if (a.seen <= c->blk_cap) break;
        if (attempt == 3) break;   /* keep what fits: the rest get no verdict (unknown) */
        os_free(c->blk, c->blk_cap * sizeof(block_ent));
        c->blk = NULL;
        want = a.seen;
    }
    if (!sort_blocks(c->blk, c->nblk)) return false;
    /* Drop duplicates a concurrent free/malloc may have produced (keep the later entry). */
    size_t w = 0;
    for (size_t i = 0; i < c->nblk; i++) {
        if (w > 0 && c->blk[w - 1].addr == c->blk[i].addr) c->blk[w - 1] = c->blk[i];
        else c->blk[w++] = c->blk[i];
    }
    c->nblk = w;
    c->min_addr = w ? c->blk[0].addr : 1;
    c->max_end = 0;
    for (size_t i = 0; i < w; i++) {
        uintptr_t e = c->blk[i].addr + (c->blk[i].size ? c->blk[i].size : 1);
        if (e > c->max_end) c->max_end = e;
    }
    return true;
}

/* Index of the block containing v (start or interior; a 0-byte block only at its start),
 * or -1. */
static inline long find_block(const reach_ctx *c, uintptr_t v)
{
    if (v < c->min_addr || v >= c->max_end) return -1;
    size_t lo = 0, hi = c->nblk;   /* last block with addr <= v */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->blk[mid].addr <= v) lo = mid; else hi = mid;
    }
    const block_ent *b = &c->blk[lo];
    if (v < b->addr) return -1;
    if (v - b->addr < b->size || v == b->addr) return (long)lo;
    return -1;
}

/* ======================================================================================== *
 * Marking
 * ======================================================================================== */

/* A word in libc's data pointing exactly at the chunk header of the chunk after block b (the
 * bins and top pointer of glibc's main_arena) is allocator bookkeeping, not a pointer to b:
 * when b uses all of its usable size, its last 8 bytes overlap that header. */
static bool is_next_chunk_header(reach_ctx *c, const block_ent *b, uintptr_t v)
{
    uint64_t hdr = 0;
    if (b->addr < 8 || safe_read(c, &hdr, b->addr - 8, 8) != 8) return false;
    if (hdr & 2u) return false;   /* mmapped chunk: no neighbour */
    uint64_t csz = hdr & ~(uint64_t)7;
    return csz >= 32 && v == b->addr - 16 + csz;
}

static inline void consider(reach_ctx *c, uintptr_t v, long clique, unsigned flags)
{
    long i = find_block(c, v);
    if (i < 0) return;
    if ((flags & R_LIBC) && v != c->blk[i].addr && is_next_chunk_header(c, &c->blk[i], v)) return;
    if (c->state[i] != ST_UNREACHED) return;
    if (clique < 0) {
        c->state[i] = ST_REACHABLE;
    } else {
        if (i == clique) return;      /* a cycle back to the leader */
        c->state[i] = ST_INDIRECT;
    }
    c->stack[c->sp++] = (uint32_t)i;
}

/* A word followed by its block's own size, tidx and seq is an entry of the shim's live-block
 * table (mw_live_block layout), should that table ever lie in a root range: not a pointer. */
static bool is_live_entry(const reach_ctx *c, const uintptr_t *w, size_t left, uintptr_t v)
{
    if (left < 4) return false;
    long i = find_block(c, v);
    return i >= 0 && c->blk[i].addr == v && w[1] == c->blk[i].size &&
           w[2] == c->blk[i].ref.tidx && w[3] == c->blk[i].ref.seq;
}

static void scan_words(reach_ctx *c, const uint8_t *p, size_t n, long clique, unsigned flags)
{
    const uintptr_t *w = (const uintptr_t *)p;
    size_t nw = n / sizeof(uintptr_t);
    uintptr_t lo = c->min_addr, hi = c->max_end;
    for (size_t k = 0; k < nw; k++) {
        uintptr_t v = w[k];
        if (v < lo || v >= hi) continue;
        if (clique < 0 && is_live_entry(c, w + k, nw - k, v)) { k += 3; continue; }
        consider(c, v, clique, flags);
    }
}

/* Scans [lo, hi) (word-aligned inside) through the bounce buffer. With R_CHUNKS, a page that
 * starts with a glibc mmapped-chunk header (prev_size 0, size|IS_MMAPPED, the chunk within
 * lim) is malloc's memory, not a root: the chunk is skipped. */
static void scan_range(reach_ctx *c, uintptr_t lo, uintptr_t hi, long clique, unsigned flags,
                       uintptr_t lim)
{
    lo = (lo + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    hi &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
    uintptr_t pos = lo;
    while (pos < hi) {
        size_t want = hi - pos < RD_BUF ? hi - pos : RD_BUF;
        size_t got = safe_read(c, c->buf, pos, want);
        got &= ~(size_t)(sizeof(uintptr_t) - 1);
        if (got == 0) { pos = page_down(pos) + PAGE; continue; }   /* unreadable page */
        size_t start = 0, next = got;
        if (flags & R_CHUNKS) {
            for (uintptr_t pg = page_up(pos); pg + 16 <= pos + got; pg += PAGE) {
                const uint64_t *h = (const uint64_t *)(c->buf + (pg - pos));
                uint64_t sz = h[1] & ~(uint64_t)7;
                if (h[0] == 0 && (h[1] & 7u) == 2u && sz && sz % PAGE == 0 && pg + sz <= lim) {
                    scan_words(c, c->buf + start, (pg - pos) - start, clique, flags);
                    next = (size_t)-1;
                    pos = pg + sz;
                    break;
                }
            }
        }
        if (next == (size_t)-1) continue;
        scan_words(c, c->buf + start, got - start, clique, flags);
        pos += got;
    }
}

/* Reads n blocks (riov) into liov with as few system calls as possible; an unreadable block
 * (freed and unmapped meanwhile) gets liov[k].iov_len = 0. */
static void read_batch(reach_ctx *c, struct iovec *liov, struct iovec *riov, size_t n)
{
    size_t done = 0;
    while (done < n) {
        size_t got;
        if (c->pvr) {
            ssize_t r = process_vm_readv(c->pid, liov + done, n - done, riov + done, n - done, 0);
            if (r < 0 && (errno == ENOSYS || errno == EPERM)) { c->pvr = false; continue; }
            got = r < 0 ? 0 : (size_t)r;
        } else {
            got = safe_read(c, liov[done].iov_base, (uintptr_t)riov[done].iov_base,
                            riov[done].iov_len);
            if (got < riov[done].iov_len) got = 0;
        }
        size_t k = done;
        while (k < n && got >= liov[k].iov_len) { got -= liov[k].iov_len; k++; }
        if (k == done) {
            liov[done].iov_len = 0;
            k = done + 1;
        }
        done = k;
    }
}

#define NO_COPY ((uint64_t)-1)
#define COPY_MAX ((size_t)256 << 20)
#define COPY_CHUNK ((size_t)1 << 20)

static vma *vma_at(reach_ctx *c, uintptr_t a);

/* Calls fn(lo, hi) for each span of memory holding blocks [i, j): the blocks that lie in one
 * mapping of the maps snapshot, from the first block's start to the last block's end. */
static size_t block_spans(reach_ctx *c, size_t budget, uint8_t *copy)
{
    size_t total = 0;
    for (size_t i = 0; i < c->nblk;) {
        vma *v = vma_at(c, c->blk[i].addr);
        if (!v) { i++; continue; }
        uintptr_t lo = c->blk[i].addr & ~(uintptr_t)7, hi = lo;
        size_t j = i;
        for (; j < c->nblk && c->blk[j].addr < v->hi; j++) {
            uintptr_t e = c->blk[j].addr + c->blk[j].size;
            if (e > hi) hi = e;
        }
        if (hi > v->hi) hi = v->hi;
        hi = (hi + 7) & ~(uintptr_t)7;
        size_t len = hi - lo;
        if (copy && total + len <= budget) {
            bool ok = true;
            for (size_t off = 0; off < len && ok; off += COPY_CHUNK) {
                size_t want = len - off < COPY_CHUNK ? len - off : COPY_CHUNK;
                ok = safe_read(c, copy + total + off, lo + off, want) == want;
            }
            for (size_t k = i; k < j && ok; k++)
                if (c->blk[k].addr + (c->blk[k].size & ~(size_t)7) <= hi)
                    c->coff[k] = total + (c->blk[k].addr - lo);
        }
        total += len;
        i = j;
    }
    return total;
}

/* Right after the snapshots: copies the memory holding the live blocks (whole heap spans,
 * with large process_vm_readv calls) into one buffer when it totals at most COPY_MAX, so
 * the marking phases scan memory without a system call per block (a linked list would
 * otherwise cost one call per node). Blocks left without a copy are read in batches. */
static void copy_blocks(reach_ctx *c)
{
    size_t total = block_spans(c, 0, NULL);
    if (total == 0 || total > COPY_MAX) return;
    c->coff = os_alloc(c->nblk * sizeof(uint64_t));
    c->copy = os_alloc(total);
    if (!c->coff || !c->copy) {
        os_free(c->coff, c->nblk * sizeof(uint64_t));
        os_free(c->copy, total);
        c->coff = NULL;
        c->copy = NULL;
        return;
    }
    c->copy_len = total;
    memset(c->coff, 0xff, c->nblk * sizeof(uint64_t));   /* NO_COPY */
    block_spans(c, total, c->copy);
}

/* Pops the mark stack until empty, scanning each block's bytes (its requested size, whole
 * words only, like valgrind): from the copy made by copy_blocks, or else read in batches of
 * one system call. */
static void drain(reach_ctx *c, long clique)
{
    enum { NIOV = 256 };
    struct iovec liov[NIOV], riov[NIOV];
    while (c->sp > 0) {
        size_t n = 0, used = 0;
        while (c->sp > 0 && n < NIOV) {
            uint32_t i = c->stack[c->sp - 1];
            size_t sz = c->blk[i].size & ~(size_t)7;
            if (sz == 0) { c->sp--; continue; }
            if (c->copy && c->coff[i] != NO_COPY) {
                c->sp--;
                scan_words(c, c->copy + c->coff[i], sz, clique, 0);
                continue;
            }
            if (sz > RD_BUF / 2) {
                if (n > 0) break;         /* flush the batch first */
                c->sp--;
                scan_range(c, c->blk[i].addr, c->blk[i].addr + sz, clique, 0, 0);
                continue;
            }
            if (used + sz > RD_BUF) break;
            c->sp--;
            liov[n].iov_base = c->buf + used; liov[n].iov_len = sz;
            riov[n].iov_base = (void *)c->blk[i].addr; riov[n].iov_len = sz;
            used += sz; n++;
        }
        if (n == 0) continue;
        /* The buffer is reused by the scans that push; copy out first, then scan. */
        read_batch(c, liov, riov, n);
        for (size_t k = 0; k < n; k++)
            if (liov[k].iov_len) scan_words(c, liov[k].iov_base, liov[k].iov_len, clique, 0);
    }
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
        char *b = os_alloc(cap);
        if (!b) return NULL;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) { os_free(b, cap); return NULL; }
        size_t n = 0;
        ssize_t r;
        while (n < cap && (r = read(fd, b + n, cap - n)) > 0) n += (size_t)r;
        close(fd);
        if (n < cap) { *len = n; *cap_out = cap; return b; }
        os_free(b, cap);
        cap *= 4;
    }
}

static bool load_maps(reach_ctx *c)
{
    size_t len, cap;
    char *txt = slurp("/proc/self/maps", &len, &cap);
    if (!txt) return false;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += txt[i] == '\n';
    c->vma_cap = lines + 1;
    c->vmas = os_alloc(c->vma_cap * sizeof(vma));
    if (!c->vmas) { os_free(txt, cap); return false; }
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
    os_free(txt, cap);
    return true;
}

static vma *vma_at(reach_ctx *c, uintptr_t a)
{
    size_t lo = 0, hi = c->nvma;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->vmas[mid].hi <= a) lo = mid + 1;
        else if (c->vmas[mid].lo > a) hi = mid;
        else return &c->vmas[mid];
    }
    return NULL;
}

static void add_excl(reach_ctx *c, uintptr_t lo, uintptr_t hi, unsigned flags)
{
    if (hi <= lo || c->nexcl >= c->excl_cap) return;
    size_t i = c->nexcl++;
    while (i > 0 && c->excl[i - 1].lo > lo) { c->excl[i] = c->excl[i - 1]; i--; }
    c->excl[i] = (range){lo, hi, flags};
}

static void add_root(reach_ctx *c, uintptr_t lo, uintptr_t hi, unsigned flags)
{
    if (hi <= lo) return;
    if (c->nroots >= c->roots_cap) {
        size_t ncap = c->roots_cap ? c->roots_cap * 2 : 1024;
        range *n = os_alloc(ncap * sizeof(range));
        if (!n) return;
        if (c->roots) {
            memcpy(n, c->roots, c->nroots * sizeof(range));
            os_free(c->roots, c->roots_cap * sizeof(range));
        }
        c->roots = n;
        c->roots_cap = ncap;
    }
    c->roots[c->nroots++] = (range){lo, hi, flags};
}

/* Loaded objects: their writable PT_LOAD segments are roots (libc's flagged), the shim's
 * own are not. */
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
    int fd = open(path, O_RDONLY | O_CLOEXEC);
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
    int fd = open(path, O_RDONLY | O_CLOEXEC);
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

/* Tids of this process from /proc/self/task. */
static size_t list_tasks(mw_thread_stack *out, size_t max)
{
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[4096];
    size_t n = 0;
    long got;
    while ((got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < got;) {
            struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; }
                *d = (void *)(buf + off);
            if (d->name[0] >= '0' && d->name[0] <= '9' && n < max) {
                pid_t tid = 0;
                for (const char *q = d->name; *q; q++) tid = tid * 10 + (*q - '0');
                memset(&out[n], 0, sizeof out[n]);
                out[n++].tid = tid;
            }
            off += d->reclen;
        }
    }
    close(fd);
    return n;
}

/* The live program threads' stacks: from sp (minus the red zone) to the top of the stack
 * range, plus their TLS ranges. Their mappings are then excluded from the generic scan. */
static void thread_roots(reach_ctx *c, uintptr_t my_sp)
{
    enum { MAXT = 4096 };
    mw_thread_stack *ts = os_alloc(MAXT * sizeof *ts);
    if (!ts) return;
    size_t n = 0;
    if (mw_threads_stacks) n = mw_threads_stacks(ts, MAXT / 2);
    if (n > MAXT / 2) n = MAXT / 2;
    /* Threads the registry does not know (they never allocated, e.g. idle worker pools):
     * from /proc/self/task, minus the shim's own threads (named "memwatch-..."). */
    size_t base = n, nreg = n;
    size_t nt = list_tasks(ts + base, MAXT - base);
    for (size_t k = base; k < base + nt; k++) {   /* compacts in place: n <= k always */
        bool known = false;
        for (size_t i = 0; i < nreg && !known; i++) known = ts[i].tid == ts[k].tid;
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
            vma *v = sp ? vma_at(c, sp) : NULL;   /* range unknown: the mapping holding sp */
            if (!v) { lo = hi = 0; } else { lo = v->lo; hi = v->hi; }
        }
        if (hi > lo) {
            uintptr_t from = sp ? (sp - RED_ZONE > lo ? sp - RED_ZONE : lo) : lo;
            if (ts[i].tid == me) from = sp;   /* our own frames below the caller are not roots */
            add_root(c, from, hi, 0);
            for (uintptr_t a = lo; a < hi;) {          /* its mappings: not generic roots */
                vma *v = vma_at(c, a);
                if (!v) { a = page_down(a) + PAGE; continue; }
                add_excl(c, v->lo, v->hi, R_SKIP);
                a = v->hi;
            }
        }
        if (ts[i].tls_hi > ts[i].tls_lo) {
            add_root(c, ts[i].tls_lo, ts[i].tls_hi, 0);
            if (ts[i].tid == me && ts[i].tls_hi - ts[i].tls_lo > 0x900)   /* see thread.c */
                c->tls_below = ts[i].tls_hi - ts[i].tls_lo - 0x900;
        }
    }
    os_free(ts, MAXT * sizeof *ts);
}

/* A glibc thread stack (a guard mapping right below, a TCB that points to itself near the
 * top): the cached stack of an exited thread or a shim thread. Returns the TCB address. */
static uintptr_t thread_stack_tcb(reach_ctx *c, size_t vi)
{
    const vma *v = &c->vmas[vi];
    if (vi == 0 || c->vmas[vi - 1].hi != v->lo || memcmp(c->vmas[vi - 1].perm, "---", 3))
        return 0;
    uintptr_t from = v->hi - 8192 > v->lo ? v->hi - 8192 : v->lo;
    size_t n = safe_read(c, c->buf, from, v->hi - from);
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
    if (safe_read(c, h, v->lo, sizeof h) != sizeof h) return false;
    return h[0] && h[0] % 8 == 0 && h[1] % heap_max == 0 && h[2] && h[2] <= h[3] &&
           h[3] <= heap_max && h[3] % PAGE == 0 && h[3] <= v->hi - v->lo + PAGE;
}

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
    add_root(c, lo, hi, c->vmas[vi].kind == VK_ANON ? R_CHUNKS : 0);
}

static void collect_roots(reach_ctx *c, uintptr_t my_sp)
{
    c->excl_cap = OWN_MAX + 8192;
    c->excl = os_alloc(c->excl_cap * sizeof(range));
    if (!c->excl) return;
    for (size_t i = 0; i < OWN_MAX; i++) {
        uintptr_t lo = atomic_load(&own_tab[i].lo), hi = atomic_load(&own_tab[i].hi);
        if (lo > 1 && hi > lo) add_excl(c, page_down(lo), page_up(hi), R_SKIP);
    }
    /* The shim's per-thread states (encoder state holds the last allocated address). */
    unsigned hwm = mw_registry_hwm();
    for (unsigned i = 0; i < hwm; i++) {
        mw_thread *t = mw_registry_get(i);
        if (t) add_excl(c, page_down((uintptr_t)t), page_up((uintptr_t)(t + 1)), R_SKIP);
    }
    dl_iterate_phdr(phdr_cb, c);
    thread_roots(c, my_sp);
    for (size_t vi = 0; vi < c->nvma; vi++) {
        const vma *v = &c->vmas[vi];
        if (v->perm[0] != 'r' || v->perm[1] != 'w') continue;
        if (v->kind == VK_HEAP || v->kind == VK_SPECIAL || v->kind == VK_DEV ||
            v->kind == VK_STACK)
            continue;   /* [stack] is a root only as a live thread's stack */
        intptr_t cls = 0;
        if (v->kind == VK_ANON) {
            uintptr_t tcb;
            if (is_arena_heap(c, v)) cls = -1;
            else if ((tcb = thread_stack_tcb(c, vi)) != 0) cls = (intptr_t)tcb;
        }
        uintptr_t cur = v->lo;
        for (size_t e = 0; e < c->nexcl && cur < v->hi; e++) {
            const range *x = &c->excl[e];
            if (x->hi <= cur) continue;
            if (x->lo >= v->hi) break;
            uintptr_t s = x->lo > cur ? x->lo : cur;
            uintptr_t t = x->hi < v->hi ? x->hi : v->hi;
            if (s > cur) generic_piece(c, vi, cur, s, cls);
            if (x->flags & R_ROOT) add_root(c, s, t, x->flags & R_LIBC);
            cur = t;
        }
        if (cur < v->hi) generic_piece(c, vi, cur, v->hi, cls);
    }
}

/* ======================================================================================== *
 * Emission
 * ======================================================================================== */
static void emit(reach_ctx *c, mw_thread *t)
{
    enum { CHUNK = 1024 };
    mw_reach_entry ent[CHUNK];
    for (size_t i = 0; i < c->nblk;) {
        size_t n = 0;
        for (; i < c->nblk && n < CHUNK; i++, n++) {
            ent[n].ref = c->blk[i].ref;
            ent[n].kind = c->state[i] == ST_REACHABLE ? MW_REACH_REACHABLE
                        : c->state[i] == ST_INDIRECT ? MW_REACH_INDIRECT : MW_REACH_DEFINITE;
        }
        size_t off = 0;
        while (off < n) {
            size_t cap, done = 0;
            uint8_t *p = mw_reserve(t, 32 + (n - off) * 32, &cap);
            if (!p) return;
            size_t used = mw_enc_reach(p, cap, ent + off, n - off, &done);
            mw_commit(t, used);
            if (done == 0) return;   /* cannot make progress: give up (blocks stay unknown) */
            off += done;
        }
    }
}

/* ======================================================================================== */
#ifdef MW_REACH_DEBUG
#include <time.h>
static double dbg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
#define DBG_T(label) mw_diag("reach %s at %.3f s", label, dbg_now() - dbg_t0)
#else
#define DBG_T(label) ((void)0)
#endif

static __attribute__((noinline)) void reach_work(mw_thread *t, uintptr_t my_sp)
{
#ifdef MW_REACH_DEBUG
    double dbg_t0 = dbg_now();
#endif
    reach_ctx c;
    memset(&c, 0, sizeof c);
    c.pid = getpid();
    c.pvr = true;
    c.buf = os_alloc(RD_BUF);
    if (!c.buf || !snapshot_blocks(&c)) goto out;
    if (c.nblk == 0) goto out;
    DBG_T("sorted");
    if (!load_maps(&c)) goto out;
    copy_blocks(&c);
    DBG_T("copied");
    c.state = os_alloc(c.nblk);
    c.stack = os_alloc((c.nblk + 1) * sizeof(uint32_t));
    if (!c.state || !c.stack) goto out;
    collect_roots(&c, my_sp);
    DBG_T("roots");

#ifdef MW_REACH_DEBUG   /* build with CFLAGS=-DMW_REACH_DEBUG to list the roots on stderr */
    for (size_t r = 0; r < c.nroots; r++)
        mw_diag("reach root %lx-%lx flags %x", (unsigned long)c.roots[r].lo,
                (unsigned long)c.roots[r].hi, c.roots[r].flags);
#endif
    /* 1. roots -> reachable, transitively */
    for (size_t r = 0; r < c.nroots; r++) {
        vma *v = vma_at(&c, c.roots[r].lo);
        scan_range(&c, c.roots[r].lo, c.roots[r].hi, -1, c.roots[r].flags, v ? v->hi : 0);
        drain(&c, -1);
    }
    DBG_T("marked");
    /* 2. cliques among the unreached, in address order (valgrind's algorithm) */
    for (size_t i = 0; i < c.nblk; i++) {
        if (c.state[i] != ST_UNREACHED) continue;
        c.stack[c.sp++] = (uint32_t)i;
        drain(&c, (long)i);
    }
    DBG_T("cliques");
    emit(&c, t);
    DBG_T("emitted");
out:
    os_free(c.roots, c.roots_cap * sizeof(range));
    os_free(c.excl, c.excl_cap * sizeof(range));
    os_free(c.vmas, c.vma_cap * sizeof(vma));
    os_free(c.stack, (c.nblk + 1) * sizeof(uint32_t));
    os_free(c.state, c.nblk);
    os_free(c.blk, c.blk_cap * sizeof(block_ent));
    os_free(c.buf, RD_BUF);
    if (c.copy) {
        os_free(c.copy, c.copy_len);
        os_free(c.coff, c.nblk * sizeof(uint64_t));
    }
}

void mw_reach_run(mw_thread *t)
{
    if (!t || !mw_cfg.reach) return;
    int saved = errno;
    /* Our caller's frames (and the registers this frame saved for them) are roots; the scan's
     * own frames, below this local, are not. */
    volatile uintptr_t here = 0;
    reach_work(t, (uintptr_t)&here & ~(uintptr_t)7);
    errno = saved;
}
