/*
 * reach.c — reachability of the unfreed heap blocks at normal exit (what valgrind's memcheck
 * and LeakSanitizer report, and heaptrack does not).
 *
 * mw_reach_run() is called once by the exit path, before the END record. It
 *   1. snapshots the live blocks (mw_live_foreach) into an address-sorted array;
 *   2. snapshots /proc/self/maps and classifies every readable+writable mapping (reach_roots.c):
 *      roots are the
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
 * "still reachable" + "possibly lost" (README section "Reachability at exit" and the
 * reference tests).
 *
 * Constraints: no malloc (all memory is raw mmap, registered as the shim's own), no stdio,
 * errno preserved, other threads may still run: memory is read with a system call
 * (process_vm_readv on our own thread, or /proc/thread-self/mem while pages are shared with
 * another process), so a page unmapped concurrently yields an error instead of a crash; when
 * no other program thread runs, the live blocks' memory is copied directly (mw_reach_read_heap
 * in reach_roots.c), and when the system calls are not permitted, only ranges inside the maps
 * snapshot are read directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mw_core.h"
#include "reach_int.h"

/* ======================================================================================== *
 * Snapshot of the live blocks
 * ======================================================================================== */
typedef struct snap_arg { reach_ctx *c; size_t seen; } snap_arg;

/* Each entry remembers when it was seen, in ref.tidx's upper half (thread indexes fit the
 * lower one), until the duplicates are dropped (snapshot_blocks). */
#define VISIT_SHIFT 32u

static void snap_one(const mw_live_block *b, void *arg)
{
    snap_arg *a = arg;
    if (a->c->nblk < a->c->blk_cap) {
        block_ent *e = &a->c->blk[a->c->nblk++];
        e->addr = b->addr;
        e->size = b->size;
        e->ref = b->ref;
        e->ref.tidx = (b->ref.tidx & 0xffffffffu) | (uint64_t)(a->seen & 0xffffffffu) << VISIT_SHIFT;
    }
    a->seen++;
}

/* In-place MSD radix sort by address (American flag sort): 8-bit digits from the highest
 * address byte in use down, each bucket permuted into place by following cycles, buckets of
 * fewer than 32 blocks finished by insertion sort. No temporary array: an LSD sort's is as
 * big as the snapshot itself (64 MB for 2 M blocks), and the exit scan's peak memory is the
 * program's too. Each level's bucket bounds live in a static row: its two callers run one
 * after the other, once each per process (a fork child's recording of what it inherited,
 * which the exit scan's snapshot waits for, then the scan). */
#define FLAG_LEVELS 8u
static size_t flag_end[FLAG_LEVELS][256], flag_next[FLAG_LEVELS][256];

static void insertion_sort(block_ent *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        block_ent v = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1].addr > v.addr; j--) a[j] = a[j - 1];
        a[j] = v;
    }
}

static void flag_sort(block_ent *a, size_t n, int shift, unsigned lvl)
{
    if (n < 32 || shift < 0 || lvl >= FLAG_LEVELS) {
        insertion_sort(a, n);
        return;
    }
    size_t *end = flag_end[lvl], *next = flag_next[lvl];
    memset(end, 0, sizeof flag_end[0]);
    for (size_t i = 0; i < n; i++) end[(a[i].addr >> shift) & 255]++;
    size_t sum = 0;
    for (unsigned d = 0; d < 256; d++) {
        next[d] = sum;
        sum += end[d];
        end[d] = sum;
    }
    for (unsigned d = 0; d < 256; d++) {
        while (next[d] < end[d]) {
            block_ent v = a[next[d]];
            unsigned k = (unsigned)(v.addr >> shift) & 255;
            while (k != d) { /* v goes to bucket k; take what was there */
                block_ent w = a[next[k]];
                a[next[k]++] = v;
                v = w;
                k = (unsigned)(v.addr >> shift) & 255;
            }
            a[next[d]++] = v;
        }
    }
    if (shift == 0) return; /* every bucket holds one address */
    int lower = shift >= 8 ? shift - 8 : 0;
    for (unsigned d = 0; d < 256; d++) {
        size_t lo = d ? end[d - 1] : 0, cnt = end[d] - lo;
        if (cnt > 1) flag_sort(a + lo, cnt, lower, lvl + 1);
    }
}

void mw_live_sort_by_addr(mw_live_block *a, size_t n)
{
    uintptr_t all = 0;
    for (size_t i = 0; i < n; i++) all |= a[i].addr;
    int top = all ? 63 - __builtin_clzll(all) : 0;
    flag_sort(a, n, top >= 8 ? top - 7 : 0, 0);
}

static bool snapshot_blocks(reach_ctx *c)
{
    size_t want = mw_live_count();
    for (int attempt = 0; attempt < 4; attempt++) {
        c->blk_cap = want + want / 4 + 1024;
        c->blk = mw_own_alloc(c->blk_cap * sizeof(block_ent));
        if (!c->blk) return false;
        c->nblk = 0;
        snap_arg a = {c, 0};
        mw_live_foreach(snap_one, &a);
#ifdef MW_REACH_DEBUG
        mw_diag("reach foreach done");
#endif
        if (a.seen <= c->blk_cap) break;
        if (attempt == 3) break;   /* keep what fits: the rest get no verdict (unknown) */
        mw_own_free(c->blk, c->blk_cap * sizeof(block_ent));
        c->blk = NULL;
        want = a.seen;
    }
    mw_live_sort_by_addr(c->blk, c->nblk);
    /* Drop duplicates a concurrent free/malloc may have produced: keep the entry seen last
     * (a block freed from one table and allocated into another meanwhile is current in the
     * table visited later), then clear the visit numbers. */
    size_t w = 0;
    for (size_t i = 0; i < c->nblk; i++) {
        if (w > 0 && c->blk[w - 1].addr == c->blk[i].addr) {
            if (c->blk[i].ref.tidx >> VISIT_SHIFT > c->blk[w - 1].ref.tidx >> VISIT_SHIFT) c->blk[w - 1] = c->blk[i];
        } else {
            c->blk[w++] = c->blk[i];
        }
    }
    for (size_t i = 0; i < w; i++) c->blk[i].ref.tidx &= 0xffffffffu;
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
    if (c->pages) return mw_reach_index_find(c, v);
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
    if (b->addr < 8 || mw_reach_read_heap(c, &hdr, b->addr - 8, 8) != 8) return false;
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

/* Where to read next after pos could not be read: the next mapping when pos lies in a gap
 * of the maps snapshot or in a mapping without read permission (a reserved range may span
 * terabytes), else the next page. */
static uintptr_t past_unreadable(reach_ctx *c, uintptr_t pos)
{
    size_t k = mw_reach_vma_from(c, pos);
    if (k >= c->nvma) return UINTPTR_MAX;
    const vma *v = &c->vmas[k];
    if (v->lo > pos) return v->lo;
    if (v->perm[0] != 'r') return v->hi;
    return page_down(pos) + PAGE;
}

/* True once the scan has run past its deadline (MEMWATCH_REACH_TIMEOUT_MS): every loop of
 * it then ends and no verdict is written. A bound on whatever the scan may meet: a program's
 * data once sent it round the same pages for ever (mmapped_chunk_end), and the program's
 * exit waited. Callers ask per read of up to RD_BUF bytes, per mark batch, per 256 clique
 * leaders and per RESIDENT_WIN of a sparse mapping: the clock costs nothing next to those.
 * A request to end the process arriving meanwhile ends them too (fatal.c defers it). */
static bool late(reach_ctx *c)
{
    if (c->out_of_time) return true;
    if (MW_UNLIKELY(mw_tls_deferred_sig)) return true; /* the process dies of it (init.c) */
    if (!c->deadline_ns) return false;
    c->out_of_time = mw_now_ns() >= c->deadline_ns;
    return c->out_of_time;
}

/* Where the glibc mmapped chunk at page pg ends, or 0 when pg does not start one: a header
 * of prev_size 0 and size|IS_MMAPPED, the chunk within lim, holding a block of the snapshot
 * at pg + 16 that fits in it. Any program's data may look like such a header (a JVM's did,
 * with a size that wrapped pg + size round to below pg: the scan went back for ever); only
 * a block the shim handed out makes it malloc's memory. */
static uintptr_t mmapped_chunk_end(reach_ctx *c, uintptr_t pg, const uint64_t *h, uintptr_t lim)
{
    uint64_t sz = h[1] & ~(uint64_t)7;
    if (h[0] != 0 || (h[1] & 7u) != 2u || sz == 0 || sz % PAGE || pg >= lim || sz > lim - pg)
        return 0;
    long i = find_block(c, pg + 16);
    if (i < 0 || c->blk[i].addr != pg + 16 || c->blk[i].size > sz - 16) return 0;
    return pg + sz;
}

/* Scans [lo, hi) (word-aligned inside) through the bounce buffer. With R_CHUNKS, a glibc
 * mmapped chunk starting at a page (mmapped_chunk_end) is malloc's memory, not a root: it is
 * skipped. Returns where it stopped: hi, or past such a chunk when it ends beyond hi. */
static uintptr_t scan_range(reach_ctx *c, uintptr_t lo, uintptr_t hi, long clique, unsigned flags,
                            uintptr_t lim)
{
    lo = (lo + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    hi &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
    uintptr_t pos = lo;
    while (pos < hi) {
        if (late(c)) return hi;
        size_t want = hi - pos < RD_BUF ? hi - pos : RD_BUF;
        size_t got = (flags & R_HEAP) ? mw_reach_read_heap(c, c->buf, pos, want)
                                      : mw_reach_read(c, c->buf, pos, want);
        got &= ~(size_t)(sizeof(uintptr_t) - 1);
        if (got == 0) { pos = past_unreadable(c, pos); continue; }
        size_t start = 0, next = got;
        if (flags & R_CHUNKS) {
            for (uintptr_t pg = page_up(pos); pg + 16 <= pos + got; pg += PAGE) {
                uintptr_t end = mmapped_chunk_end(c, pg, (const uint64_t *)(c->buf + (pg - pos)), lim);
                if (end) {
                    scan_words(c, c->buf + start, (pg - pos) - start, clique, flags);
                    next = (size_t)-1;
                    pos = end;
                    break;
                }
            }
        }
        if (next == (size_t)-1) continue;
        scan_words(c, c->buf + start, got - start, clique, flags);
        pos += got;
    }
    return pos;
}

/* An anonymous root's pages that were never touched hold nothing but zeros, and reading them
 * would map the zero page into each: ASan's shadow, 14 TiB of read-write anonymous memory,
 * took page tables for all of it and hours at exit. So a large anonymous root is scanned only
 * where pages are present (or swapped out): the runs of them from the PAGEMAP_SCAN ioctl
 * (Linux 6.7), which skips empty page tables at their own level, or else mincore(2),
 * RESIDENT_WIN at a time (a byte per page, 3-4 s for those 14 TiB, and it cannot tell a
 * page that is in swap: only while the process has nothing there, c->no_swap). */
#define RESIDENT_WIN ((uintptr_t)64 << 20)
static unsigned char resident_vec[RESIDENT_WIN / PAGE];

struct pm_scan { /* struct pm_scan_arg of <linux/fs.h> (6.7), not in older headers */
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
struct pm_region { uint64_t start, end, categories; };
#define PM_SCAN _IOWR('f', 16, struct pm_scan)
#define PM_PRESENT (1u << 3)
#define PM_SWAPPED (1u << 4)
#define PM_REGIONS 512u
static struct pm_region pm_regions[PM_REGIONS];

/* Scans the present or swapped runs of [lo, hi) found by PAGEMAP_SCAN; false (nothing done)
 * where the ioctl is not there. */
static bool scan_present(reach_ctx *c, const range *r, uintptr_t lim)
{
    if (c->pagemap_fd < 0) return false;
    uintptr_t pos = r->lo, at = page_down(r->lo), end = page_up(r->hi);
    while (at < end) {
        if (late(c)) return true;
        struct pm_scan a = { sizeof a, 0, at, end, 0, (uint64_t)(uintptr_t)pm_regions, PM_REGIONS, 0,
                             0, 0, PM_PRESENT | PM_SWAPPED, PM_PRESENT | PM_SWAPPED };
        long n = ioctl(c->pagemap_fd, PM_SCAN, &a);
        if (n < 0) {
            if (at != page_down(r->lo)) break; /* scanned up to here: the rest as it is */
            close(c->pagemap_fd);
            c->pagemap_fd = -1;
            return false;
        }
        for (long k = 0; k < n; k++) {
            uintptr_t s = pm_regions[k].start, e = pm_regions[k].end;
            if (s < pos) s = pos;
            if (e > r->hi) e = r->hi;
            if (s < e) pos = scan_range(c, s, e, -1, r->flags, lim);
        }
        if (a.walk_end <= at) break;
        at = a.walk_end;
    }
    if (at < end && pos < r->hi) scan_range(c, pos > at ? pos : at, r->hi, -1, r->flags, lim);
    return true;
}

static void scan_root(reach_ctx *c, const range *r, const vma *v)
{
    uintptr_t lim = v ? v->hi : 0;
    if (!v || v->kind != VK_ANON || r->hi - r->lo <= RESIDENT_WIN) {
        scan_range(c, r->lo, r->hi, -1, r->flags, lim);
        return;
    }
    if (scan_present(c, r, lim)) return;
    if (!c->no_swap) {
        scan_range(c, r->lo, r->hi, -1, r->flags, lim);
        return;
    }
    uintptr_t pos = r->lo; /* scanned up to here */
    for (uintptr_t w = page_down(r->lo); w < r->hi; w += RESIDENT_WIN) {
        uintptr_t we = page_up(r->hi) - w > RESIDENT_WIN ? w + RESIDENT_WIN : page_up(r->hi);
        if (we <= pos) continue;
        if (late(c)) return;
        if (mincore((void *)w, we - w, resident_vec) != 0) { /* cannot tell: all of it */
            uintptr_t b = we < r->hi ? we : r->hi;
            pos = scan_range(c, pos > w ? pos : w, b, -1, r->flags, lim);
            continue;
        }
        size_t np = (we - w) / PAGE;
        for (size_t i = 0; i < np;) {
            if (!(resident_vec[i] & 1)) {
                i++;
                continue;
            }
            size_t j = i + 1;
            while (j < np && (resident_vec[j] & 1)) j++;
            uintptr_t a = w + i * PAGE, b = w + j * PAGE;
            if (a < pos) a = pos;
            if (b > r->hi) b = r->hi;
            if (a < b) pos = scan_range(c, a, b, -1, r->flags, lim);
            i = j;
        }
    }
}

/* Reads n blocks (riov) into liov with as few system calls as possible; an unreadable block
 * (freed and unmapped meanwhile) gets liov[k].iov_len = 0. */
static void read_batch(reach_ctx *c, struct iovec *liov, struct iovec *riov, size_t n)
{
    size_t done = 0;
    while (done < n) {
        size_t got;
        if (c->pvr && c->mem_fd < 0 && !c->alone) {   /* else a read per span */
            ssize_t r = process_vm_readv(c->pid, liov + done, n - done, riov + done, n - done, 0);
            if (r < 0 && (errno == ENOSYS || errno == EPERM)) { c->pvr = false; continue; }
            got = r < 0 ? 0 : (size_t)r;
        } else {
            got = mw_reach_read_heap(c, liov[done].iov_base, (uintptr_t)riov[done].iov_base,
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
/* Heaps up to COPY_MAX are copied whole; bigger ones are read through the window (below),
 * which since it adapts does as well: a 128 MB heap of 2 M list nodes scans in 0.85 s read
 * through the window against 1.0 s copied, with 80 MB less memory at exit (bench bigheap:
 * 713 -> 502 MB peak). */
#define COPY_MAX ((size_t)32 << 20)
#define COPY_CHUNK ((size_t)1 << 20)


/* Calls fn(lo, hi) for each span of memory holding blocks [i, j): the blocks that lie in one
 * mapping of the maps snapshot, from the first block's start to the last block's end. */
static size_t block_spans(reach_ctx *c, size_t budget, uint8_t *copy)
{
    size_t total = 0;
    for (size_t i = 0; i < c->nblk;) {
        vma *v = mw_reach_vma_at(c, c->blk[i].addr);
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
                ok = mw_reach_read_heap(c, copy + total + off, lo + off, want) == want;
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
    c->coff = mw_own_alloc(c->nblk * sizeof(uint64_t));
    c->copy = mw_own_alloc(total);
    if (!c->coff || !c->copy) {
        mw_own_free(c->coff, c->nblk * sizeof(uint64_t));
        mw_own_free(c->copy, total);
        c->coff = NULL;
        c->copy = NULL;
        return;
    }
    c->copy_len = total;
    memset(c->coff, 0xff, c->nblk * sizeof(uint64_t));   /* NO_COPY */
    block_spans(c, total, c->copy);
}

/* The window: a copy of the memory around recently needed blocks, for heaps larger than
 * COPY_MAX (no copy of all blocks). It is read again around block i (win_size bytes within
 * its mapping) before each clique leader outside it (leaders come in address order, and most
 * cliques are their leader alone or with a neighbour), and in drain when a lone block is to be
 * read (following a linked list, a block at a time). Its size adapts: a window that served
 * many blocks makes the next one four times larger, up to WIN_BUF; one that served almost
 * none makes it smaller, down to a page, so scattered blocks cost about a read each. A read
 * per block made a heap of millions of small blocks take seconds at exit. */
#define WIN_MIN 4096u
static void window_at(reach_ctx *c, size_t i)
{
    if (!c->win || (c->copy && c->coff[i] != NO_COPY)) return;
    uintptr_t a = c->blk[i].addr & ~(uintptr_t)7;
    size_t sz = c->blk[i].size & ~(size_t)7;
    if (a >= c->win_lo && a + sz <= c->win_hi) return;
    if (c->win_hits >= 16 && c->win_size < WIN_BUF) c->win_size *= 4;
    else if (c->win_hits < 2 && c->win_size > WIN_MIN) c->win_size /= 4;
    c->win_hits = 0;
    c->win_lo = c->win_hi = 0;
    vma *v = mw_reach_vma_at(c, a);
    size_t want = sz > c->win_size ? sz : c->win_size;
    if (!v || want > WIN_BUF) return;
    uintptr_t lo = a;
    if (want > sz) {   /* around i: a list may run either way */
        uintptr_t back = (want - sz) / 2 & ~(uintptr_t)7;
        lo = a - v->lo > back ? a - back : v->lo;
    }
    if (v->hi - lo < want) want = v->hi - lo;
    size_t got = mw_reach_read_heap(c, c->win, lo, want) & ~(size_t)7;
    if (lo + got < a + sz) return;
    c->win_lo = lo;
    c->win_hi = lo + got;
}

/* Whether block i's sz bytes lie in the window; scans them from there. */
static inline bool in_window(const reach_ctx *c, uint32_t i, size_t sz)
{
    return c->blk[i].addr >= c->win_lo && c->blk[i].addr + sz <= c->win_hi;
}
static void scan_in_window(reach_ctx *c, uint32_t i, size_t sz, long clique)
{
    c->win_hits++;
    scan_words(c, c->win + (c->blk[i].addr - c->win_lo), sz, clique, 0);
}

/* Sorts n block indices ascending, i.e. by address (heapsort: no allocation, no recursion). */
static void sort_indices(uint32_t *a, size_t n)
{
    for (size_t start = n / 2; n > 1;) {
        size_t root;
        uint32_t v;
        if (start > 0) {
            root = --start;
        } else {
            n--;
            v = a[n]; a[n] = a[0]; a[0] = v;
            root = 0;
        }
        v = a[root];
        for (size_t child; (child = 2 * root + 1) < n; root = child) {
            if (child + 1 < n && a[child + 1] > a[child]) child++;
            if (a[child] <= v) break;
            a[root] = a[child];
        }
        a[root] = v;
    }
}

/* A block that could not be read whole: its pages that can be, a page at a time, read into
 * at and scanned. A guard page (madvise(MADV_GUARD_INSTALL)) inside a 96 KiB block left
 * the whole block unscanned, and what it pointed to came out definitely lost
 * (tests/victims/reach_guard.c heap). */
static void scan_readable_pages(reach_ctx *c, uint8_t *at, uintptr_t a, size_t sz, long clique)
{
    for (uintptr_t p = a; p < a + sz;) {
        uintptr_t e = page_down(p) + PAGE;
        if (e > a + sz) e = a + sz;
        if (mw_reach_read_heap(c, at + (p - a), p, e - p) == e - p)
            scan_words(c, at + (p - a), e - p, clique, 0);
        p = e;
    }
}

#define BATCH_MAX 4096u   /* blocks read per round of drain */
#define SPAN_GAP 512u     /* blocks this close are read as one span, their gap with them */

/* Reads the batch of blocks bi[0, nb) (sorted) and scans them: neighbours in memory share
 * one span, so a heap of small blocks costs a system call per RD_BUF bytes rather than a
 * remote iovec per block (the kernel pins pages per iovec: a container of millions of small
 * blocks took seconds). A span that cannot be read is retried block by block. */
static void read_and_scan(reach_ctx *c, const uint32_t *bi, size_t nb, long clique)
{
    enum { NIOV = 256 };
    struct iovec liov[NIOV], riov[NIOV];
    size_t span_end[NIOV];
#define A(k) (c->blk[bi[k]].addr)
#define S(k) (c->blk[bi[k]].size & ~(size_t)7)
    for (size_t k = 0; k < nb;) {
        size_t n = 0, used = 0, first = k;
        while (k < nb && n < NIOV) {
            uintptr_t lo = A(k), hi = lo + S(k);
            if (used + (hi - lo) > RD_BUF) break;
            size_t j = k + 1;
            for (; j < nb; j++) {
                uintptr_t a = A(j), e = a + S(j), nhi = e > hi ? e : hi;
                if (a > hi + SPAN_GAP || used + (nhi - lo) > RD_BUF) break;
                hi = nhi;
            }
            liov[n].iov_base = c->buf + used; liov[n].iov_len = hi - lo;
            riov[n].iov_base = (void *)lo; riov[n].iov_len = hi - lo;
            span_end[n++] = j;
            used += hi - lo;
            k = j;
        }
        read_batch(c, liov, riov, n);
        size_t b = first;
        for (size_t s = 0; s < n; s++) {
            uint8_t *base = liov[s].iov_base;
            uintptr_t lo = (uintptr_t)riov[s].iov_base;
            for (; b < span_end[s]; b++) {
                uint8_t *at = base + (A(b) - lo);
                if (liov[s].iov_len || mw_reach_read_heap(c, at, A(b), S(b)) == S(b))
                    scan_words(c, at, S(b), clique, 0);
                else
                    scan_readable_pages(c, at, A(b), S(b), clique);
            }
        }
    }
#undef A
#undef S
}

/* Pops the mark stack until empty, scanning each block's bytes (its requested size, whole
 * words only, like valgrind): from the copy made by copy_blocks or the clique window, or
 * else read in batches (read_and_scan). */
static void drain(reach_ctx *c, long clique)
{
    uint32_t bi[BATCH_MAX];
    while (c->sp > 0) {
        if (late(c)) {
            c->sp = 0;
            return;
        }
        size_t nb = 0, bytes = 0;
        while (c->sp > 0 && nb < BATCH_MAX) {
            uint32_t i = c->stack[c->sp - 1];
            size_t sz = c->blk[i].size & ~(size_t)7;
            if (sz == 0) { c->sp--; continue; }
            if (c->copy && c->coff[i] != NO_COPY) {
                c->sp--;
                scan_words(c, c->copy + c->coff[i], sz, clique, 0);
                continue;
            }
            if (in_window(c, i, sz)) {
                c->sp--;   /* first: the scan pushes */
                scan_in_window(c, i, sz, clique);
                continue;
            }
            if (sz > RD_BUF / 2) {
                if (nb > 0) break;         /* the batch first: scan_range uses the buffer */
                c->sp--;
                scan_range(c, c->blk[i].addr, c->blk[i].addr + sz, clique, R_HEAP, 0);
                continue;
            }
            if (bytes + sz > RD_BUF) break;
            c->sp--;
            bi[nb++] = i;
            bytes += sz;
        }
        if (nb == 0) continue;
        if (nb == 1) {   /* a lone block (a list, followed a block at a time): see window_at */
            uint32_t i = bi[0];
            size_t sz = c->blk[i].size & ~(size_t)7;
            window_at(c, i);
            if (in_window(c, i, sz)) {
                scan_in_window(c, i, sz, clique);
                continue;
            }
        }
        sort_indices(bi, nb);
        read_and_scan(c, bi, nb, clique);
    }
}

/* ======================================================================================== *
 * Emission
 * ======================================================================================== */
static void emit(reach_ctx *c, mw_thread *t)
{
    /* Big records (a reservation is at most half the ring, and the encoder fills what room
     * the ring has, up to 256 KB): a heap left at exit lists its blocks by address, which
     * repeats (the same sizes and verdicts in the same order), and each record restarts the
     * deltas. bigheap's 2 M verdicts as REACH: 25 KB of trace in records of 1 024 entries,
     * 2.3 KB in records of 16 384, 1.4-1.5 KB in records of 49 152 or 65 536 (compressed
     * alone, zstd -3, 2026-11-22 23:22 UTC). As REACH_C (about a byte each) chunks of 65 536
     * entries made 31 records of 64 KB whose starts cost 0.3 KB of the trace's 3.1 KB; chunks
     * of 262 144 make 8 (2.9 KB; 09:20 UTC on 2026-11-23). The entries are built in our own
     * memory (8 MB of address space, touched as far as there are blocks): the scan's stack
     * has no room for them. */
    enum { SMALL = 256, BIG = 262144, RESERVE = 256u * 1024u - 64u };
    mw_reach_entry small[SMALL];
    size_t chunk = BIG, bytes = BIG * sizeof(mw_reach_entry);
    mw_reach_entry *ent = mw_own_alloc(bytes);
    if (!ent) {
        ent = small;
        chunk = SMALL;
    }
    for (size_t i = 0; i < c->nblk;) {
        size_t n = 0;
        for (; i < c->nblk && n < chunk; i++, n++) {
            ent[n].ref = c->blk[i].ref;
            ent[n].addr = c->blk[i].addr;
            ent[n].kind = c->state[i] == ST_REACHABLE ? MW_REACH_REACHABLE
                        : c->state[i] == ST_INDIRECT ? MW_REACH_INDIRECT : MW_REACH_DEFINITE;
        }
        size_t off = 0;
        while (off < n) {
            /* the encoder puts in as many entries as the room takes (28 bytes at most each;
             * bigheap's 2 M blocks take about one each in the compact layout, against five) */
            size_t cap, done = 0, need = 32 + (n - off) * 28;
            uint8_t *p = mw_reserve(t, need < RESERVE ? need : RESERVE, &cap);
            if (!p) goto out;
            size_t used = mw_enc_reach_c(p, cap, ent + off, n - off, &done);
            mw_commit(t, used);
            if (done == 0) goto out;   /* cannot make progress: give up (blocks stay unknown) */
            off += done;
        }
    }
out:
    if (ent != small) mw_own_free(ent, bytes);
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

/* One line when the scan ends without verdicts (the analyzer then counts the blocks as
 * unknown): wrong ones would be worse. Until 06:05 UTC on 2026-11-23 a scan short of memory
 * for its roots went on without them, and called what only they pointed to definitely lost
 * (a fork child under RLIMIT_AS: its stdout buffer; tests/victims/fork_nomem.c). */
static void no_verdicts(const char *why, size_t n)
{
    mw_diag("the reachability scan at exit %s: the %zu blocks still allocated have no verdict", why, n);
}

static __attribute__((noinline)) void reach_work(mw_thread *t, uintptr_t my_sp)
{
#ifdef MW_REACH_DEBUG
    double dbg_t0 = dbg_now();
#endif
    reach_ctx c;
    memset(&c, 0, sizeof c);
    c.pagemap_fd = -1;
    c.mem_fd = -1;
    if (mw_cfg.reach_timeout_ms) c.deadline_ns = mw_now_ns() + (uint64_t)mw_cfg.reach_timeout_ms * 1000000u;
    /* this thread's id, not the pid: process_vm_readv finds the memory map through that
     * task, and the main thread's has none once it has called pthread_exit() */
    c.pid = mw_gettid();
    c.pvr = true;
    c.buf = mw_own_alloc(RD_BUF);
    if (!c.buf || !snapshot_blocks(&c)) {
        no_verdicts("had no memory for its work", mw_live_count());
        goto out;
    }
    if (c.nblk == 0) goto out;
    DBG_T("sorted");
    if (!mw_reach_load_maps(&c)) {
        no_verdicts("could not read the memory map (/proc/self/maps)", c.nblk);
        goto out;
    }
    mw_reach_read_setup(&c);
    copy_blocks(&c);
    if (!c.copy) c.win = mw_own_alloc(WIN_BUF);
    c.win_size = WIN_MIN;
    mw_reach_index_build(&c);
    DBG_T("copied");
    c.state = mw_own_alloc(c.nblk);
    c.stack = mw_own_alloc((c.nblk + 1) * sizeof(uint32_t));
    if (!c.state || !c.stack) {
        no_verdicts("had no memory for its work", c.nblk);
        goto out;
    }
    mw_reach_roots(&c, my_sp);
    if (c.roots_short) { /* a root left out would call what only it points to lost */
        no_verdicts("had no memory for the list of its roots", c.nblk);
        goto out;
    }
    c.pagemap_fd = mw_open_own("/proc/thread-self/pagemap", O_RDONLY | O_CLOEXEC, 0);
    DBG_T("roots");

#ifdef MW_REACH_DEBUG   /* build with CFLAGS=-DMW_REACH_DEBUG to list the roots on stderr */
    for (size_t r = 0; r < c.nroots; r++)
        mw_diag("reach root %lx-%lx flags %x", (unsigned long)c.roots[r].lo,
                (unsigned long)c.roots[r].hi, c.roots[r].flags);
#endif
    /* 1. roots -> reachable, transitively */
    for (size_t r = 0; r < c.nroots; r++) {
        scan_root(&c, &c.roots[r], mw_reach_vma_at(&c, c.roots[r].lo));
        drain(&c, -1);
    }
    DBG_T("marked");
    /* 2. cliques among the unreached, in address order (valgrind's algorithm) */
    for (size_t i = 0, leaders = 0; i < c.nblk; i++) {
        if (c.state[i] != ST_UNREACHED) continue;
        if ((leaders++ & 255) == 0 && late(&c)) break;
        window_at(&c, i);
        c.stack[c.sp++] = (uint32_t)i;
        drain(&c, (long)i);
    }
    DBG_T("cliques");
    if (mw_tls_deferred_sig) goto out; /* the process dies of it (init.c): no verdicts */
    if (c.out_of_time) {
        mw_diag("the reachability scan at exit ran past MEMWATCH_REACH_TIMEOUT_MS=%u and was "
                "stopped: the %zu blocks still allocated have no verdict",
                mw_cfg.reach_timeout_ms, c.nblk);
        goto out;
    }
    /* Every record written before the snapshot goes to the file first: a block another
     * thread allocated just before (its ring not drained yet) must precede the verdict that
     * names it, or the verdict would name a block the reader has not seen. */
    mw_writer_sync();
    emit(&c, t);
    DBG_T("emitted");
out:
    mw_reach_read_done(&c);
    if (c.pagemap_fd >= 0) close(c.pagemap_fd);
    if (c.mem_fd >= 0) close(c.mem_fd);
    mw_reach_roots_done(&c);
    mw_own_free(c.roots, c.roots_cap * sizeof(range));
    mw_own_free(c.excl, c.excl_cap * sizeof(range));
    mw_own_free(c.vmas, c.vma_cap * sizeof(vma));
    mw_own_free(c.stack, (c.nblk + 1) * sizeof(uint32_t));
    mw_own_free(c.state, c.nblk);
    mw_own_free(c.blk, c.blk_cap * sizeof(block_ent));
    mw_own_free(c.buf, RD_BUF);
    mw_own_free(c.win, WIN_BUF);
    mw_reach_index_free(&c);
    if (c.copy) {
        mw_own_free(c.copy, c.copy_len);
        mw_own_free(c.coff, c.nblk * sizeof(uint64_t));
    }
}

typedef struct reach_job { mw_thread *t; uintptr_t my_sp; } reach_job;
static void reach_on_stack(void *arg)
{
    reach_job *j = arg;
    reach_work(j->t, j->my_sp);
}

/* The scan's own stack: the exiting thread may have a small one (PTHREAD_STACK_MIN), and
 * frames in the shim's own memory are never roots (no block address the scan holds can make
 * a lost block look reachable). */
#define REACH_STACK (512u * 1024u)

void mw_reach_run(mw_thread *t)
{
    if (!t || !mw_cfg.reach) return;
    int saved = errno;
    /* Our caller's frames (and the registers this frame saved for them) are roots; the scan's
     * own frames, below this local (or on a stack of its own), are not. */
    volatile uintptr_t here = 0;
    reach_job job = { t, (uintptr_t)&here & ~(uintptr_t)7 };
    uint8_t *stk = mw_own_alloc(REACH_STACK);
    if (stk) {
        unsigned vg = mw_stack_register(stk, REACH_STACK);
        mw_call_on_stack(reach_on_stack, &job, stk + REACH_STACK);
        mw_stack_deregister(vg);
        mw_own_free(stk, REACH_STACK);
    } else {
        reach_work(t, job.my_sp);
    }
    errno = saved;
}
