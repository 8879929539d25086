/*
 * api.c — the exported memwatch_* watch calls (memwatch.h) and the watch life cycle:
 * choosing a backend once (userfaultfd, else mprotect + SIGSEGV with one line on stderr),
 * adding and removing watches, ending watches whose memory went away, and fork.
 *
 * memwatch_sql_begin / memwatch_sql_end live with the SQL hooks (sql_*.c).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "memwatch.h"
#include "mw_shim.h"
#include "watch_core.h"

#define PAGE ((uintptr_t)MW_WATCH_PAGE)

static _Atomic int backend = MW_WB_NONE;
static _Atomic int init_lock;
static _Atomic int fallback_watches;   /* some watch uses the mprotect fallback */

int mw_watch_backend(void) { return atomic_load(&backend); }

static void unprotect_page_run(uintptr_t lo, uintptr_t hi, uint8_t be)
{
    if (be == MW_WB_MPROTECT) mw_mprot_unprotect(lo, hi);
    else if (mw_uffd >= 0) mw_uffd_unprotect(lo, hi);
}

static void forget_in_child(mw_watch *w, void *arg)
{
    (void)arg;
    /* The child keeps no watches: give fallback-protected pages their write access back
     * (userfaultfd protection was already dropped by the kernel at fork). */
    if (w->backend == MW_WB_MPROTECT) {
        uintptr_t lo = w->addr & ~(PAGE - 1), hi = (w->addr + w->len + PAGE - 1) & ~(PAGE - 1);
        mw_mprot_unprotect(lo, hi);
    }
}

static void atfork_child(void)
{
    mw_wtab_foreach(forget_in_child, NULL);
    mw_wtab_reset();
    mw_uffd_after_fork_child();
    mw_fault_after_fork_child();
    if (atomic_load(&backend) == MW_WB_UFFD) atomic_store(&backend, MW_WB_NONE);
}

static const char *errname(int e)
{
    switch (e) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EACCES: return "EACCES";
    case ENOTSUP: return "ENOTSUP";
    case EINVAL: return "EINVAL";
    default: return "error";
    }
}

/* Chooses the backend once per process (and again in a forked child). */
static int ensure_backend(void)
{
    int b = atomic_load(&backend);
    if (b != MW_WB_NONE) return b;
    while (atomic_exchange(&init_lock, 1)) sched_yield();
    b = atomic_load(&backend);
    if (b == MW_WB_NONE) {
        static bool atfork_done;
        if (!atfork_done) { mw_atfork(NULL, NULL, atfork_child); atfork_done = true; }
        int err = 0;
        if (!mw_step_install_handlers()) {
            b = -1;
        } else if (mw_uffd_open(&err)) {
            b = MW_WB_UFFD;
        } else if (mw_mprot_init()) {
            mw_diag("watch: userfaultfd unavailable (%s%s); watching with mprotect+SIGSEGV "
                    "instead (kernel writes seen through read/pread/readv/preadv/recv only)",
                    errname(err), err == EPERM ? ": vm.unprivileged_userfaultfd=0 and no "
                                                 "CAP_SYS_PTRACE" : "");
            b = MW_WB_MPROTECT;
        } else {
            mw_diag("watch: userfaultfd unavailable (%s) and no SIGSEGV fallback: "
                    "memwatch_watch returns -ENOSYS", errname(err));
            b = -1;
        }
        if (b > 0) atomic_store(&backend, b);
    }
    atomic_store(&init_lock, 0);
    return b;
}

/* Protects the pages of [lo, hi) that no other watch protects yet. */
static int protect_new_pages(mw_watch *w, uintptr_t lo, uintptr_t hi)
{
    uintptr_t p = lo;
    while (p < hi) {
        if (mw_wtab_page_used(p, w)) { p += PAGE; continue; }
        uintptr_t q = p + PAGE;
        while (q < hi && !mw_wtab_page_used(q, w)) q += PAGE;
        int r;
        if (w->backend == MW_WB_UFFD) {
            r = mw_uffd_protect(p, q);
            if (r == -EINVAL && mw_watch_make_anon(p, q) == 0) r = mw_uffd_protect(p, q);
            if (r == -EINVAL && mw_mprot_init()) {
                mw_diag("watch '%s': userfaultfd cannot write-protect this mapping; using "
                        "mprotect+SIGSEGV for it", w->name);
                /* A mapping userfaultfd cannot write-protect (file-backed private, e.g. a
                 * global in .data): this watch uses the fallback. Undo the uffd part. */
                if (p > lo) mw_uffd_unprotect(lo, p);
                w->backend = MW_WB_MPROTECT;
                return protect_new_pages(w, lo, hi);
            }
        } else {
            mw_khooks_enable();
            atomic_store(&fallback_watches, 1);
            r = mw_mprot_protect(p, q);
        }
        if (r < 0) {
            if (p > lo) unprotect_page_run(lo, p, w->backend);
            return r;
        }
        p = q;
    }
    return 0;
}

int64_t mw_watch_add(void *addr, size_t len, const char *name, unsigned flags, bool pages)
{
    uintptr_t a = (uintptr_t)addr;
    if (!addr || len == 0 || a + len < a) return -EINVAL;
    if (pages && ((a & (PAGE - 1)) || (len & (PAGE - 1)))) return -EINVAL;
    int b = ensure_backend();
    if (b < 0) return -ENOSYS;
    uintptr_t lo = a & ~(PAGE - 1), hi = (a + len + PAGE - 1) & ~(PAGE - 1);
    if (b == MW_WB_UFFD && !mw_uffd_start_thread()) return -EAGAIN;
    mw_wtab_lock();
    mw_watch *w = mw_wtab_add(a, len, flags, (uint8_t)b, name);
    if (!w) { mw_wtab_unlock(); return -ENOMEM; }
    int r = protect_new_pages(w, lo, hi);
    if (r < 0) {
        mw_wtab_remove(w);
        mw_wtab_unlock();
        return r;
    }
    mw_watch copy = *w;
    mw_watch_emit_reg(&copy);
    mw_wtab_unlock();
    return copy.id;
}

/* Lock held: removes w and un-protects the pages nobody else watches. */
static void drop_locked(mw_watch *w)
{
    uintptr_t lo = w->addr & ~(PAGE - 1), hi = (w->addr + w->len + PAGE - 1) & ~(PAGE - 1);
    uint8_t be = w->backend;
    for (uintptr_t p = lo; p < hi; p += PAGE)
        if (!mw_wtab_page_used(p, w)) unprotect_page_run(p, p + PAGE, be);
    mw_wtab_remove(w);
}

int mw_watch_del(int64_t id, unsigned reason)
{
    mw_wtab_lock();
    mw_watch *w = mw_wtab_find(id);
    if (!w) { mw_wtab_unlock(); return -ENOENT; }
    drop_locked(w);
    mw_watch_emit_unreg(id, reason);
    mw_wtab_unlock();
    return 0;
}

#define END_BATCH 64u   /* watches ended per pass under the table's lock */
typedef struct end_ctx {
    uintptr_t lo, hi;
    mw_watch ws[END_BATCH];
    size_t n;
} end_ctx;

static void find_overlapping(mw_watch *w, void *arg)
{
    end_ctx *c = arg;
    if (c->n < END_BATCH && w->addr < c->hi && w->addr + w->len > c->lo) c->ws[c->n++] = *w;
}

/* Ends every watch overlapping [lo, hi), a batch at a time under the table's lock: each is
 * dropped (pages unprotected, unregistered), then gets its WATCH_UNREG with `reason`; for
 * MW_UNWATCH_UNMAPPED, first an event saying the memory went away (by munmap). */
static void end_watches(uintptr_t lo, uintptr_t hi, unsigned reason)
{
    for (;;) {
        end_ctx c = { .lo = lo, .hi = hi, .n = 0 };
        mw_wtab_lock();
        mw_wtab_foreach(find_overlapping, &c);
        for (size_t i = 0; i < c.n; i++) {
            mw_watch *w = mw_wtab_find(c.ws[i].id);
            if (w) drop_locked(w);
        }
        for (size_t i = 0; i < c.n; i++) {
            if (reason == MW_UNWATCH_UNMAPPED) {
                mw_watch_event e = {
                    .w = &c.ws[i], .offset = lo > c.ws[i].addr ? lo - c.ws[i].addr : 0, .len = 0,
                    .tid = 0, .t_ns = mw_now_ns(),
                    .flags = MW_WF_UNMAPPED | MW_WF_NO_STACK, .syscall = SYS_munmap,
                };
                mw_watch_emit_write(&e);
            }
            mw_watch_emit_unreg(c.ws[i].id, reason);
        }
        mw_wtab_unlock();
        if (c.n < END_BATCH) break;
    }
}

void mw_watch_unmapped(uintptr_t lo, uintptr_t hi) { end_watches(lo, hi, MW_UNWATCH_UNMAPPED); }

void mw_watch_quiesce(void)
{
    end_watches(0, UINTPTR_MAX, MW_UNWATCH_EXIT); /* every watch overlaps it */
    mw_fault_wait_idle();
}

/* The shim's munmap/mremap hooks call this after a successful unmap: the mprotect fallback
 * gets no kernel unmap events. One relaxed load when nothing is watched by the fallback. */
void mw_watch_unmap_notify(uintptr_t addr, size_t len)
{
    if (!atomic_load_explicit(&fallback_watches, memory_order_relaxed) || !len) return;
    uintptr_t lo = addr & ~(PAGE - 1), hi = (addr + len + PAGE - 1) & ~(PAGE - 1);
    mw_watch_unmapped(lo, hi);
}

/* ---- exported ABI ---------------------------------------------------------------------- */
MW_EXPORT int64_t memwatch_register_page(void *page_base, size_t size, unsigned flags)
{
    return mw_watch_add(page_base, size, "page", flags, true);
}

MW_EXPORT int memwatch_unregister_page(int64_t id) { return mw_watch_del(id, MW_UNWATCH_EXPLICIT); }

MW_EXPORT int memwatch_update_metadata(int64_t id, const char *key, const char *value)
{
    if (!key || !value) return -EINVAL;
    mw_wtab_lock();
    bool known = mw_wtab_find(id) != NULL;
    if (known) mw_watch_emit_meta(id, key, value);
    mw_wtab_unlock();
    return known ? 0 : -ENOENT;
}

MW_EXPORT int64_t memwatch_watch(void *addr, size_t len, const char *name, unsigned flags)
{
    return mw_watch_add(addr, len, name ? name : "", flags, false);
}

MW_EXPORT int memwatch_unwatch(int64_t id) { return mw_watch_del(id, MW_UNWATCH_EXPLICIT); }

MW_EXPORT void memwatch_mark(const char *label)
{
    mw_thread *t = mw_self();
    if (!t || !label) return;
    size_t n = strnlen(label, MW_MAX_STR);
    MW_EMIT(t, 16 + n, mw_enc_mark, label, n);
}

MW_EXPORT void memwatch_set_location(const char *file, int line, const char *function)
{
    mw_thread *t = mw_self();
    if (t) mw_thread_set_location(t, file, line, function);
}
