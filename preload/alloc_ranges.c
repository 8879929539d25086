/*
 * alloc_ranges.c — the memory of a malloc behind the shim's that is not the C library's
 * (jemalloc, tcmalloc or mimalloc preloaded after the shim or linked as a library): which
 * mappings are its own, so that the reachability scan at exit does not take them for the
 * program's roots.
 *
 * glibc's heap is told apart by its own structures (reach_roots.c: [heap], arena heaps, its
 * mmapped chunks). Another allocator's heap is anonymous memory like any mapping of the
 * program, and scanned as a root it held every block it serves: the contents of lost blocks,
 * stale pointers in freed ones, the allocator's records of its extents. Every leak of a
 * program with jemalloc behind the shim came out "still reachable", and `memwatch run` passed
 * it (until 00:20 UTC on 2026-11-24). So with such an allocator (mw_alloc_ranges_init) the
 * mmap hooks note each mapping it makes: one made inside an allocation call the shim passed
 * on (the thread is inside the shim), or called from the allocator's own code (its
 * constructor, a background thread). Those ranges are not roots, nor is a heap inside the
 * allocator object's own data (reach_roots.c, alloc_segment); the blocks there are still
 * scanned when reached, as glibc's are.
 * A mapping the program makes, and any unmapping, takes the range out again.
 *
 * The ranges are a sorted array of disjoint intervals behind a spin lock: the hooks run on
 * any thread and in signal handlers, so a thread that finds itself already inside (a handler
 * that interrupted an update) leaves the table alone and counts the update as missed, which
 * the scan reports. No allocation: the table is static.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>

#include "mw_core.h"
#include "object_span.h"

#define RANGES_MAX 4096u

static struct { uintptr_t lo, hi; } ranges[RANGES_MAX];
static unsigned n_ranges;
static atomic_flag lock = ATOMIC_FLAG_INIT;
static __thread int inside;          /* this thread holds the lock */
static _Atomic unsigned missed;      /* updates left out: table full, or a nested handler */

bool mw_alloc_foreign;               /* the malloc behind the shim is not libc's */
_Atomic int mw_alloc_mode;           /* MW_ALLOC_UNKNOWN until mw_alloc_ranges_init */
static uintptr_t mod_base, mod_lo, mod_hi; /* the allocator object: its load base, its span */

static inline uintptr_t pg_down(uintptr_t a) { return a & ~(uintptr_t)4095; }
static inline uintptr_t pg_up(uintptr_t a) { return (a + 4095) & ~(uintptr_t)4095; }

static bool enter(void)
{
    if (inside) {
        atomic_fetch_add(&missed, 1);
        return false;
    }
    inside = 1;
    mw_spin_lock(&lock);
    return true;
}
static void leave(void)
{
    mw_spin_unlock(&lock);
    inside = 0;
}

struct find_arg { uintptr_t addr, base, lo, hi; bool found; };

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct find_arg *f = arg;
    uintptr_t lo, hi;
    mw_object_span(info, &lo, &hi);
    if (f->addr < lo || f->addr >= hi) return 0;
    f->base = info->dlpi_addr;
    f->lo = pg_down(lo);
    f->hi = pg_up(hi);
    f->found = true;
    return 1;
}

/* ---- before the allocator is known ----------------------------------------------------------
 * Allocations come before the shim's constructor decides whose malloc is behind it: a library's
 * constructor, or a dlsym of the shim's own at start; jemalloc maps its first arena then. Those
 * mappings are kept here with their caller, and the allocator's among them go to the table once
 * it is known (mw_alloc_ranges_init). */
#define EARLY_MAX 64u
static struct { uintptr_t lo, hi; const void *ret; bool inside; } early[EARLY_MAX];
static unsigned n_early;

void mw_alloc_early_mapped(const void *p, size_t len, const void *ret, bool inside_shim)
{
    uintptr_t lo = pg_down((uintptr_t)p), hi = pg_up((uintptr_t)p + len);
    if (hi <= lo || !enter()) return;
    if (n_early < EARLY_MAX) early[n_early++] = (typeof(early[0])){ lo, hi, ret, inside_shim };
    else atomic_fetch_add(&missed, 1);
    leave();
}

void mw_alloc_early_unmapped(const void *p, size_t len)
{
    uintptr_t lo = pg_down((uintptr_t)p), hi = pg_up((uintptr_t)p + len);
    if (hi <= lo || !enter()) return;
    for (unsigned i = 0; i < n_early; i++) {
        if (early[i].hi <= lo || early[i].lo >= hi) continue;
        if (early[i].lo < lo && early[i].hi > hi) { /* the middle goes: two pieces */
            if (n_early < EARLY_MAX) {
                early[n_early] = early[i];
                early[n_early++].lo = hi;
            } else {
                atomic_fetch_add(&missed, 1);
            }
            early[i].hi = lo;
        } else if (early[i].lo < lo) {
            early[i].hi = lo;
        } else if (early[i].hi > hi) {
            early[i].lo = hi;
        } else {
            early[i--] = early[--n_early];
        }
    }
    leave();
}

void mw_alloc_ranges_init(void *real_malloc)
{
    struct find_arg f = { (uintptr_t)real_malloc, 0, 0, 0, false };
    if (real_malloc && dl_iterate_phdr(find_cb, &f) && f.found) {
        mod_base = f.base;
        mod_lo = f.lo;
        mod_hi = f.hi;
        mw_alloc_foreign = true;
        for (unsigned i = 0; i < n_early; i++)
            if (early[i].inside || mw_alloc_by(early[i].ret)) mw_alloc_mapped((void *)early[i].lo, early[i].hi - early[i].lo);
    }
    n_early = 0;
    atomic_store(&mw_alloc_mode, mw_alloc_foreign ? MW_ALLOC_FOREIGN : MW_ALLOC_LIBC);
}

bool mw_alloc_is_module(uintptr_t load_base) { return mw_alloc_foreign && load_base == mod_base; }

bool mw_alloc_by(const void *ret)
{
    uintptr_t r = (uintptr_t)ret;
    return r >= mod_lo && r < mod_hi;
}

/* Takes [lo, hi) out of the table (holding the lock). Returns where ranges at or after hi
 * start. */
static unsigned cut(uintptr_t lo, uintptr_t hi)
{
    unsigned i = 0;
    while (i < n_ranges && ranges[i].hi <= lo) i++;
    if (i < n_ranges && ranges[i].lo < lo && ranges[i].hi > hi) {
        /* inside one range: split it */
        if (n_ranges == RANGES_MAX) {
            atomic_fetch_add(&missed, 1);
            ranges[i].hi = lo; /* keep the lower part; the upper one is then a root */
            return i + 1;
        }
        memmove(&ranges[i + 2], &ranges[i + 1], (n_ranges - i - 1) * sizeof ranges[0]);
        ranges[i + 1].lo = hi;
        ranges[i + 1].hi = ranges[i].hi;
        ranges[i].hi = lo;
        n_ranges++;
        return i + 1;
    }
    if (i < n_ranges && ranges[i].lo < lo) ranges[i++].hi = lo;
    unsigned j = i;
    while (j < n_ranges && ranges[j].hi <= hi) j++;          /* wholly inside: dropped */
    if (j < n_ranges && ranges[j].lo < hi) ranges[j].lo = hi;
    if (j > i) {
        memmove(&ranges[i], &ranges[j], (n_ranges - j) * sizeof ranges[0]);
        n_ranges -= j - i;
    }
    return i;
}

void mw_alloc_mapped(const void *p, size_t len)
{
    uintptr_t lo = pg_down((uintptr_t)p), hi = pg_up((uintptr_t)p + len);
    if (hi <= lo || !enter()) return;
    unsigned i = cut(lo, hi);
    /* joined with the ranges it touches */
    bool left = i > 0 && ranges[i - 1].hi == lo;
    bool right = i < n_ranges && ranges[i].lo == hi;
    if (left && right) {
        ranges[i - 1].hi = ranges[i].hi;
        memmove(&ranges[i], &ranges[i + 1], (n_ranges - i - 1) * sizeof ranges[0]);
        n_ranges--;
    } else if (left) {
        ranges[i - 1].hi = hi;
    } else if (right) {
        ranges[i].lo = lo;
    } else if (n_ranges < RANGES_MAX) {
        memmove(&ranges[i + 1], &ranges[i], (n_ranges - i) * sizeof ranges[0]);
        ranges[i].lo = lo;
        ranges[i].hi = hi;
        n_ranges++;
    } else {
        atomic_fetch_add(&missed, 1);
    }
    leave();
}

void mw_alloc_unmapped(const void *p, size_t len)
{
    uintptr_t lo = pg_down((uintptr_t)p), hi = pg_up((uintptr_t)p + len);
    if (hi <= lo || !enter()) return;
    cut(lo, hi);
    leave();
}

size_t mw_alloc_ranges(uintptr_t *lo, uintptr_t *hi, size_t max, unsigned *missed_out)
{
    size_t n = 0;
    if (enter()) {
        for (; n < n_ranges && n < max; n++) {
            lo[n] = ranges[n].lo;
            hi[n] = ranges[n].hi;
        }
        if (n < n_ranges) atomic_fetch_add(&missed, (unsigned)(n_ranges - n));
        leave();
    }
    *missed_out = atomic_load(&missed);
    return n;
}

/* A thread of the parent may have held the lock at the fork; the ranges stay (the child's
 * memory is a copy). */
void mw_alloc_ranges_after_fork(void)
{
    atomic_flag_clear(&lock);
    inside = 0;
}
