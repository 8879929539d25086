/*
 * watch_uffd.c — the userfaultfd underneath the watch core: opening it (syscall, or
 * /dev/userfaultfd), the feature handshake, registering and write-protecting ranges, and the
 * raw ioctls the step handlers use.
 *
 * Features asked for: write-protect faults, the faulting thread's id, the exact fault
 * address, and the non-cooperative unmap/remove/remap events (so a watched page going away
 * ends its watch). Never UFFD_USER_MODE_ONLY: with it, a kernel write into a watched buffer
 * (read(2)) would fail with EFAULT instead of being reported. UFFD_FEATURE_EVENT_FORK is not
 * asked for: a forked child's mappings then lose registration and protection, so the child
 * runs unwatched (and un-stalled) — see README section "watch".
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "watch_core.h"

#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

int mw_uffd = -1;

static int new_fd(void)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) return fd;
    int err = errno;
    /* /dev/userfaultfd (Linux 6.1+) is governed by file permissions instead of the sysctl. */
    int dev = (int)syscall(SYS_openat, AT_FDCWD, "/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev >= 0) {
        fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
        syscall(SYS_close, dev);
        if (fd >= 0) return fd;
    }
    errno = err;
    return -1;
}

bool mw_uffd_open(int *err)
{
    if (mw_uffd >= 0) return true;
    /* Two-step handshake: ask what exists, then open a fresh fd with what we want. */
    int fd = new_fd();
    if (fd < 0) { *err = errno; return false; }
    struct uffdio_api api = { .api = UFFD_API, .features = 0 };
    if (ioctl(fd, UFFDIO_API, &api) < 0) { *err = errno; syscall(SYS_close, fd); return false; }
    syscall(SYS_close, fd);
    uint64_t need = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_THREAD_ID;
    uint64_t want = need | UFFD_FEATURE_EXACT_ADDRESS | UFFD_FEATURE_EVENT_UNMAP |
                    UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_REMAP |
                    UFFD_FEATURE_WP_HUGETLBFS_SHMEM | UFFD_FEATURE_WP_UNPOPULATED;
    if ((api.features & need) != need) { *err = ENOTSUP; return false; }
    fd = new_fd();
    if (fd < 0) { *err = errno; return false; }
    api.api = UFFD_API;
    api.features = want & api.features;
    if (ioctl(fd, UFFDIO_API, &api) < 0) { *err = errno; syscall(SYS_close, fd); return false; }
    if (!(api.ioctls & (1ull << _UFFDIO_REGISTER))) { *err = ENOTSUP; syscall(SYS_close, fd); return false; }
    mw_uffd = fd;
    return true;
}

int mw_uffd_wp(uintptr_t lo, size_t len, bool protect)
{
    struct uffdio_writeprotect wp = {
        .range = { .start = lo, .len = len },
        .mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : UFFDIO_WRITEPROTECT_MODE_DONTWAKE,
    };
    int saved = errno;
    int r = ioctl(mw_uffd, UFFDIO_WRITEPROTECT, &wp);
    int e = errno;
    errno = saved;
    return r < 0 ? -e : 0;
}

int mw_uffd_wake(uintptr_t lo, size_t len)
{
    /* UFFDIO_WAKE wants whole pages: every writer blocked on these pages is woken. */
    uintptr_t a = lo & ~(uintptr_t)(MW_WATCH_PAGE - 1);
    uintptr_t b = (lo + len + MW_WATCH_PAGE - 1) & ~(uintptr_t)(MW_WATCH_PAGE - 1);
    struct uffdio_range r = { .start = a, .len = b - a };
    int saved = errno;
    int rc = ioctl(mw_uffd, UFFDIO_WAKE, &r);
    int e = errno;
    errno = saved;
    return rc < 0 ? -e : 0;
}

int mw_uffd_protect(uintptr_t lo, uintptr_t hi)
{
    struct uffdio_register reg = {
        .range = { .start = lo, .len = hi - lo },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    if (ioctl(mw_uffd, UFFDIO_REGISTER, &reg) < 0) return -errno;
    /* UFFDIO_WRITEPROTECT silently skips pages that were never touched: populate them
     * writable first (without changing a byte). */
    if (syscall(SYS_madvise, lo, hi - lo, MADV_POPULATE_WRITE) < 0) {
        if (errno != EINVAL) {
            int e = errno;
            struct uffdio_range r = { .start = lo, .len = hi - lo };
            ioctl(mw_uffd, UFFDIO_UNREGISTER, &r);
            return -e;
        }
        for (uintptr_t p = lo; p < hi; p += MW_WATCH_PAGE)
            __atomic_fetch_or((volatile uint8_t *)p, 0, __ATOMIC_RELAXED);
    }
    int r = mw_uffd_wp(lo, hi - lo, true);
    if (r < 0) {
        struct uffdio_range rr = { .start = lo, .len = hi - lo };
        ioctl(mw_uffd, UFFDIO_UNREGISTER, &rr);
    }
    return r;
}

void mw_uffd_unprotect(uintptr_t lo, uintptr_t hi)
{
    mw_uffd_wp(lo, hi - lo, false);
    mw_uffd_wake(lo, hi - lo);
    struct uffdio_range r = { .start = lo, .len = hi - lo };
    int saved = errno;
    ioctl(mw_uffd, UFFDIO_UNREGISTER, &r);
    errno = saved;
}

void mw_uffd_after_fork_child(void)
{
    /* The child's mappings lost registration and protection at fork (no EVENT_FORK); the
     * inherited descriptor still points at the parent's context: drop it. */
    if (mw_uffd >= 0) syscall(SYS_close, mw_uffd);
    mw_uffd = -1;
}
