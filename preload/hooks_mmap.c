/*
 * hooks_mmap.c — mmap, mmap64, munmap, mremap: MMAP / MUNMAP / MREMAP records; and the
 * program's own sbrk / brk calls, whose growth of the data segment is recorded as an
 * anonymous MMAP named "[brk]" and whose shrinking as a MUNMAP of the part given back.
 *
 * Only calls made through the PLT are seen: glibc's malloc maps its large blocks with its
 * internal mmap, and grows its heap with its internal sbrk, so they are recorded once, as
 * heap blocks. A file mapping records the file's path (readlink of /proc/self/fd/N, no
 * allocation). errno is preserved.
 *
 * With a malloc behind the shim other than the C library's (alloc_ranges.c), the mappings it
 * makes itself (inside a call the shim passed on, or from its own code) are its heap: noted
 * there and not recorded, as glibc's are not; any other mapping or unmapping takes its range
 * out of that table.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mw_core.h"

static inline bool tracing(void)
{
    return mw_tls_guard == 0 && atomic_load_explicit(&mw_state, memory_order_relaxed) == MW_ST_ON &&
           mw_alloc_tracing;
}

static void note_mmap(void *p, size_t len, int prot, int flags, int fd, off_t off, void *fa, void *ra)
{
    int e = errno;
    mw_tls_guard++;
    bool orph;
    mw_thread *t = mw_acquire(&orph);
    if (t) {
        char path[1024];
        ssize_t pl = 0;
        if (fd >= 0 && !(flags & MAP_ANONYMOUS)) {
            char link[32] = "/proc/self/fd/";
            mw_u64_to_dec(link + 14, (uint64_t)fd);
            pl = mw_proc_readlink(link, path, sizeof path);
            if (pl < 0) pl = 0;
        }
        uint64_t st = !mw_stack_ok(orph) ? 0 : mw_stack_capture(t, fa, ra);
        MW_EMIT(t, 96 + (size_t)pl, mw_enc_mmap, (uintptr_t)p, len, (uint64_t)prot, (uint64_t)flags, fd,
                (uint64_t)off, st, path, (size_t)pl);
        mw_release(orph);
    }
    mw_tls_guard--;
    errno = e;
}

/* A call of a foreign allocator's (alloc_ranges.c): made inside the shim (an allocation call
 * passed on to it; the shim's own mappings are not roots either) or from its code. */
static inline bool by_allocator(const void *ret)
{
    return mw_tls_guard > 0 || mw_alloc_by(ret);
}

/* Whether mapping [p, p + len), just made, is the program's (recorded); a foreign allocator's
 * goes to its table instead. */
static inline bool program_mapping(void *p, size_t len, const void *ret)
{
    int mode = atomic_load_explicit(&mw_alloc_mode, memory_order_relaxed);
    if (MW_LIKELY(mode == MW_ALLOC_LIBC)) return true;
    int e = errno;
    if (mode == MW_ALLOC_UNKNOWN) { /* before the shim's start: sorted out then */
        mw_alloc_early_mapped(p, len, ret, mw_tls_guard > 0);
        errno = e;
        return true;
    }
    bool mine = by_allocator(ret);
    if (mine) mw_alloc_mapped(p, len);
    else mw_alloc_unmapped(p, len);
    errno = e;
    return !mine;
}

MW_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (MW_UNLIKELY(!mw_real.mmap)) mw_real_resolve();
    void *p = mw_real.mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && program_mapping(p, len, __builtin_return_address(0)) && tracing())
        note_mmap(p, len, prot, flags, fd, off, __builtin_frame_address(0), __builtin_return_address(0));
    return p;
}

MW_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (MW_UNLIKELY(!mw_real.mmap)) mw_real_resolve();
    void *p = mw_real.mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && program_mapping(p, len, __builtin_return_address(0)) && tracing())
        note_mmap(p, len, prot, flags, fd, off, __builtin_frame_address(0), __builtin_return_address(0));
    return p;
}

MW_EXPORT int munmap(void *addr, size_t len)
{
    if (MW_UNLIKELY(!mw_real.munmap)) mw_real_resolve();
    int rc = mw_real.munmap(addr, len);
    if (rc == 0) mw_watch_unmap_notify((uintptr_t)addr, len); /* fallback watches end here */
    bool program = true;
    if (rc == 0 && MW_UNLIKELY(atomic_load_explicit(&mw_alloc_mode, memory_order_relaxed) == MW_ALLOC_UNKNOWN)) {
        int e = errno;
        mw_alloc_early_unmapped(addr, len);
        errno = e;
    } else if (rc == 0 && MW_UNLIKELY(mw_alloc_foreign)) {
        int e = errno;
        mw_alloc_unmapped(addr, len);
        program = !by_allocator(__builtin_return_address(0));
        errno = e;
    }
    if (rc == 0 && program && tracing()) {
        int e = errno;
        mw_tls_guard++;
        bool orph;
        mw_thread *t = mw_acquire(&orph);
        if (t) {
            uint64_t st = !mw_stack_ok(orph) ? 0
                                 : mw_stack_capture(t, __builtin_frame_address(0), __builtin_return_address(0));
            MW_EMIT(t, 40, mw_enc_munmap, (uintptr_t)addr, len, st);
            mw_release(orph);
        }
        mw_tls_guard--;
        errno = e;
    }
    return rc;
}

MW_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    /* The fifth argument is passed on whatever the flags, as glibc's own mremap (a plain
     * five-argument system call) does: the kernel reads it with MREMAP_FIXED and also with
     * MREMAP_DONTUNMAP, and a caller that left it out gets the same answer from it as
     * without the shim (passing NULL instead made an mremap that fails natively succeed).
     * On x86-64 an argument not passed is read from the register save area: the caller's
     * r8, which is what the system call gets natively. */
    va_list ap;
    va_start(ap, flags);
    void *new_addr = va_arg(ap, void *);
    va_end(ap);
    if (MW_UNLIKELY(!mw_real.mremap)) mw_real_resolve();
    void *p = mw_real.mremap(old, old_len, new_len, flags, new_addr);
    if (p != MAP_FAILED) { /* the part of the old range that went away ends fallback watches */
        if (p != old) mw_watch_unmap_notify((uintptr_t)old, old_len);
        else if (new_len < old_len) mw_watch_unmap_notify((uintptr_t)old + new_len, old_len - new_len);
    }
    bool program = true;
    if (p != MAP_FAILED && MW_UNLIKELY(atomic_load_explicit(&mw_alloc_mode, memory_order_relaxed) != MW_ALLOC_LIBC)) {
        int e = errno;
        if (!(flags & MREMAP_DONTUNMAP)) { /* the old range is gone */
            if (mw_alloc_foreign) mw_alloc_unmapped(old, old_len);
            else mw_alloc_early_unmapped(old, old_len);
        }
        errno = e;
        program = program_mapping(p, new_len, __builtin_return_address(0));
    }
    if (p != MAP_FAILED && program && tracing()) {
        int e = errno;
        mw_tls_guard++;
        bool orph;
        mw_thread *t = mw_acquire(&orph);
        if (t) {
            uint64_t st = !mw_stack_ok(orph) ? 0
                                 : mw_stack_capture(t, __builtin_frame_address(0), __builtin_return_address(0));
            MW_EMIT(t, 64, mw_enc_mremap, (uintptr_t)old, old_len, (uintptr_t)p, new_len, st);
            mw_release(orph);
        }
        mw_tls_guard--;
        errno = e;
    }
    return p;
}

/* ---- sbrk / brk -------------------------------------------------------------------------- */
#define BRK_PATH "[brk]"

typedef void *(*sbrk_fn)(intptr_t);
typedef int (*brk_fn)(void *);
static void *_Atomic real_sbrk, *_Atomic real_brk;

/* libc's function behind ours, looked up on first use. */
static void *next_once(void *_Atomic *slot, const char *name)
{
    void *f = atomic_load_explicit(slot, memory_order_acquire);
    if (!f) {
        int g = mw_guard_enter(); /* dlsym may allocate */
        f = mw_next_symbol(name);
        mw_guard_leave(g);
        atomic_store_explicit(slot, f, memory_order_release);
    }
    return f;
}

/* The parts of the data segment the program grew itself (not glibc's heap, which shares
 * [heap] with them): the reachability scan's roots (reach_roots.c), as its own mappings are.
 * Growth at the end of the last part extends it; past BRK_PARTS parts the last one stretches
 * over whatever lies between (the scan then reads some of glibc's heap as roots). */
#define BRK_PARTS 64u
static struct { uintptr_t lo, hi; } brk_parts[BRK_PARTS];
static unsigned n_brk_parts;
static atomic_flag brk_lock = ATOMIC_FLAG_INIT;

static void track_brk(uintptr_t old_end, uintptr_t new_end)
{
    mw_spin_lock(&brk_lock);
    if (new_end > old_end) {
        if (n_brk_parts && brk_parts[n_brk_parts - 1].hi == old_end)
            brk_parts[n_brk_parts - 1].hi = new_end;
        else if (n_brk_parts < BRK_PARTS) {
            brk_parts[n_brk_parts].lo = old_end;
            brk_parts[n_brk_parts].hi = new_end;
            n_brk_parts++;
        } else
            brk_parts[n_brk_parts - 1].hi = new_end;
    } else {
        while (n_brk_parts && brk_parts[n_brk_parts - 1].lo >= new_end) n_brk_parts--;
        if (n_brk_parts && brk_parts[n_brk_parts - 1].hi > new_end) brk_parts[n_brk_parts - 1].hi = new_end;
    }
    mw_spin_unlock(&brk_lock);
}

/* A thread of the parent may have held the lock at the fork: it does not exist in the child. */
void mw_brk_reset_after_fork(void) { atomic_flag_clear(&brk_lock); }

size_t mw_brk_parts(uintptr_t *lo, uintptr_t *hi, size_t max)
{
    mw_spin_lock(&brk_lock);
    size_t n = 0;
    for (; n < n_brk_parts && n < max; n++) {
        lo[n] = brk_parts[n].lo;
        hi[n] = brk_parts[n].hi;
    }
    mw_spin_unlock(&brk_lock);
    return n;
}

/* The data segment moved from old_end to new_end: the part added, or the part given back. */
static void note_brk(uintptr_t old_end, uintptr_t new_end, void *fa, void *ra)
{
    if (old_end == new_end) return;
    /* a foreign malloc growing its heap (tcmalloc's first one is sbrk's): its, not a root;
     * before the shim knows its allocator, noted for then too (alloc_ranges.c: the scan takes
     * the allocator's ranges out of the program's parts) */
    int mode = atomic_load_explicit(&mw_alloc_mode, memory_order_relaxed);
    bool program = mode != MW_ALLOC_FOREIGN || !by_allocator(ra);
    if (MW_UNLIKELY(mode == MW_ALLOC_UNKNOWN) && new_end > old_end) {
        int e = errno;
        mw_alloc_early_mapped((void *)old_end, new_end - old_end, ra, mw_tls_guard > 0);
        errno = e;
    }
    if (program || new_end < old_end) track_brk(old_end, new_end);
    if (!program || !tracing()) return;
    int e = errno;
    mw_tls_guard++;
    bool orph;
    mw_thread *t = mw_acquire(&orph);
    if (t) {
        uint64_t st = !mw_stack_ok(orph) ? 0 : mw_stack_capture(t, fa, ra);
        if (new_end > old_end)
            MW_EMIT(t, 96, mw_enc_mmap, old_end, new_end - old_end, (uint64_t)(PROT_READ | PROT_WRITE),
                    (uint64_t)(MAP_PRIVATE | MAP_ANONYMOUS), -1, 0, st, BRK_PATH, sizeof BRK_PATH - 1);
        else
            MW_EMIT(t, 40, mw_enc_munmap, new_end, old_end - new_end, st);
        mw_release(orph);
    }
    mw_tls_guard--;
    errno = e;
}

MW_EXPORT void *sbrk(intptr_t inc)
{
    sbrk_fn f = (sbrk_fn)next_once(&real_sbrk, "sbrk");
    if (!f) {
        errno = ENOMEM;
        return (void *)-1;
    }
    void *old = f(inc);
    if (old != (void *)-1 && inc != 0)
        note_brk((uintptr_t)old, (uintptr_t)old + (uintptr_t)inc, __builtin_frame_address(0),
                 __builtin_return_address(0));
    return old;
}

MW_EXPORT int brk(void *addr)
{
    brk_fn f = (brk_fn)next_once(&real_brk, "brk");
    sbrk_fn s = (sbrk_fn)next_once(&real_sbrk, "sbrk");
    if (!f || !s) {
        errno = ENOMEM;
        return -1;
    }
    void *old = s(0);
    int rc = f(addr);
    if (rc == 0 && old != (void *)-1)
        note_brk((uintptr_t)old, (uintptr_t)addr, __builtin_frame_address(0), __builtin_return_address(0));
    return rc;
}
