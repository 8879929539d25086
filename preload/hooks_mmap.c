/*
 * hooks_mmap.c — mmap, mmap64, munmap, mremap: MMAP / MUNMAP / MREMAP records.
 *
 * Only calls made through the PLT are seen: glibc's malloc maps its large blocks with its
 * internal mmap, so they are recorded once, as heap blocks. A file mapping records the file's
 * path (readlink of /proc/self/fd/N, no allocation). errno is preserved.
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
    mw_thread *t = mw_self();
    if (t) {
        char path[1024];
        ssize_t pl = 0;
        if (fd >= 0 && !(flags & MAP_ANONYMOUS)) {
            char link[32] = "/proc/self/fd/";
            mw_u64_to_dec(link + 14, (uint64_t)fd);
            pl = readlink(link, path, sizeof path);
            if (pl < 0) pl = 0;
        }
        uint64_t st = mw_stack_capture(t, fa, ra);
        MW_EMIT(t, 96 + (size_t)pl, mw_enc_mmap, (uintptr_t)p, len, (uint64_t)prot, (uint64_t)flags, fd,
                (uint64_t)off, st, path, (size_t)pl);
    }
    mw_tls_guard--;
    errno = e;
}

MW_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (MW_UNLIKELY(!mw_real.mmap)) mw_real_resolve();
    void *p = mw_real.mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && tracing())
        note_mmap(p, len, prot, flags, fd, off, __builtin_frame_address(0), __builtin_return_address(0));
    return p;
}

MW_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (MW_UNLIKELY(!mw_real.mmap)) mw_real_resolve();
    void *p = mw_real.mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && tracing())
        note_mmap(p, len, prot, flags, fd, off, __builtin_frame_address(0), __builtin_return_address(0));
    return p;
}

MW_EXPORT int munmap(void *addr, size_t len)
{
    if (MW_UNLIKELY(!mw_real.munmap)) mw_real_resolve();
    int rc = mw_real.munmap(addr, len);
    if (rc == 0) mw_watch_unmap_notify((uintptr_t)addr, len); /* fallback watches end here */
    if (rc == 0 && tracing()) {
        int e = errno;
        mw_tls_guard++;
        mw_thread *t = mw_self();
        if (t) {
            uint64_t st = mw_stack_capture(t, __builtin_frame_address(0), __builtin_return_address(0));
            MW_EMIT(t, 40, mw_enc_munmap, (uintptr_t)addr, len, st);
        }
        mw_tls_guard--;
        errno = e;
    }
    return rc;
}

MW_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    void *new_addr = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
    }
    if (MW_UNLIKELY(!mw_real.mremap)) mw_real_resolve();
    void *p = mw_real.mremap(old, old_len, new_len, flags, new_addr);
    if (p != MAP_FAILED) { /* the part of the old range that went away ends fallback watches */
        if (p != old) mw_watch_unmap_notify((uintptr_t)old, old_len);
        else if (new_len < old_len) mw_watch_unmap_notify((uintptr_t)old + new_len, old_len - new_len);
    }
    if (p != MAP_FAILED && tracing()) {
        int e = errno;
        mw_tls_guard++;
        mw_thread *t = mw_self();
        if (t) {
            uint64_t st = mw_stack_capture(t, __builtin_frame_address(0), __builtin_return_address(0));
            MW_EMIT(t, 64, mw_enc_mremap, (uintptr_t)old, old_len, (uintptr_t)p, new_len, st);
        }
        mw_tls_guard--;
        errno = e;
    }
    return p;
}
