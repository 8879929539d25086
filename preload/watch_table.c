/*
 * watch_table.c — the registry of live watches, behind one spinlock.
 *
 * Watches are few (thousands at most) and change rarely, while lookups happen once per fault,
 * so the table is a plain array scanned linearly, grown with mremap. It lives in memory mapped
 * with raw system calls (never the program's heap, never traced). The lock is a spinlock, not a
 * mutex, because the mprotect fallback takes it from a SIGSEGV handler; the rule that makes
 * that safe: no code holding it writes to watched memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mw_shim.h"
#include "watch_core.h"

static _Atomic int lock_word;   /* tid of the holder, 0 when free */
static mw_watch *tab;
static size_t tab_cap, tab_n;   /* tab_n: high-water mark of used slots */
static size_t tab_live;
static int64_t next_id = 1;

void mw_wtab_lock(void)
{
    int me = (int)mw_w_gettid();
    for (unsigned spins = 0;; spins++) {
        int expect = 0;
        if (atomic_compare_exchange_weak_explicit(&lock_word, &expect, me, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        if (spins > 64) sched_yield();
        else __builtin_ia32_pause();
    }
}

void mw_wtab_unlock(void) { atomic_store_explicit(&lock_word, 0, memory_order_release); }

bool mw_wtab_lock_for(pid_t writer)
{
    int me = (int)mw_w_gettid();
    for (unsigned spins = 0;; spins++) {
        int expect = 0;
        if (atomic_compare_exchange_weak_explicit(&lock_word, &expect, me, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
        /* The holder is the writer being served (or ourselves): it is stopped in the fault
         * (a watched variable on its own stack), so the table cannot change under us. */
        if (expect == (int)writer || expect == me) {
            atomic_thread_fence(memory_order_acquire);
            return false;
        }
        if (spins > 64) sched_yield();
        else __builtin_ia32_pause();
    }
}

static bool grow(void)
{
    size_t ncap = tab_cap ? tab_cap * 2 : 1024;
    void *p;
    if (!tab)
        p = (void *)syscall(SYS_mmap, NULL, ncap * sizeof(mw_watch), PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    else
        p = (void *)syscall(SYS_mremap, tab, tab_cap * sizeof(mw_watch),
                            ncap * sizeof(mw_watch), MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return false;
    /* watched addresses live here: never a reachability root (reach_roots.c) */
    if (tab) mw_own_range_del(tab, tab_cap * sizeof(mw_watch));
    mw_own_range_add(p, ncap * sizeof(mw_watch));
    tab = p;
    tab_cap = ncap;
    return true;
}

mw_watch *mw_wtab_add(uintptr_t addr, size_t len, unsigned flags, uint8_t backend,
                      const char *name)
{
    mw_watch *w = NULL;
    if (tab_live < tab_n) {
        for (size_t i = 0; i < tab_n; i++)
            if (tab[i].id == 0) { w = &tab[i]; break; }
    }
    if (!w) {
        if (tab_n == tab_cap && !grow()) return NULL;
        w = &tab[tab_n++];
    }
    w->addr = addr;
    w->len = len;
    w->flags = flags;
    w->backend = backend;
    size_t n = 0;
    if (name)
        while (name[n] && n + 1 < MW_WATCH_NAME_MAX) n++;
    if (name) memcpy(w->name, name, n);
    w->name[n] = 0;
    w->id = next_id++;
    tab_live++;
    return w;
}

mw_watch *mw_wtab_find(int64_t id)
{
    if (id <= 0) return NULL;
    for (size_t i = 0; i < tab_n; i++)
        if (tab[i].id == id) return &tab[i];
    return NULL;
}

void mw_wtab_remove(mw_watch *w)
{
    w->id = 0;
    tab_live--;
    while (tab_n > 0 && tab[tab_n - 1].id == 0) tab_n--;
}

size_t mw_wtab_collect(uintptr_t lo, uintptr_t hi, mw_watch *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < tab_n && n < max; i++) {
        mw_watch *w = &tab[i];
        if (w->id && w->addr < hi && w->addr + w->len > lo) out[n++] = *w;
    }
    return n;
}

bool mw_wtab_page_used(uintptr_t page, const mw_watch *except)
{
    for (size_t i = 0; i < tab_n; i++) {
        mw_watch *w = &tab[i];
        if (!w->id || w == except) continue;
        if (w->addr < page + MW_WATCH_PAGE && w->addr + w->len > page) return true;
    }
    return false;
}

size_t mw_wtab_count(void) { return tab_live; }

void mw_wtab_foreach(void (*fn)(mw_watch *w, void *arg), void *arg)
{
    for (size_t i = 0; i < tab_n; i++)
        if (tab[i].id) fn(&tab[i], arg);
}

void mw_wtab_reset(void)
{
    atomic_store(&lock_word, 0);
    for (size_t i = 0; i < tab_n; i++) tab[i].id = 0;
    tab_n = tab_live = 0;
}

pid_t mw_w_gettid(void) { return (pid_t)syscall(SYS_gettid); }

int mw_w_read_file(const char *path, char *buf, size_t cap)
{
    int fd = mw_proc_open(path, O_RDONLY);
    if (fd < 0) return -errno;
    size_t got = 0;
    while (got + 1 < cap) {
        ssize_t r = syscall(SYS_read, fd, buf + got, cap - 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    syscall(SYS_close, fd);
    buf[got] = 0;
    return (int)got;
}
