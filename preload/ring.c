/*
 * ring.c — the per-thread SPSC byte ring and the reserve/commit emission API.
 *
 * A ring is shared anonymous memory mapped twice back to back, so any record of up to ring_size bytes is
 * contiguous at (head & mask) however it straddles the end: the encoder writes straight into
 * it and the writer compresses straight out of it. The owning thread writes and publishes
 * `head` (release) when its outermost commit returns; the writer thread alone advances `tail`.
 * A full ring makes the producer wait for the writer (nothing dropped); if the writer is gone
 * the record is counted as lost instead, so a thread never hangs on us.
 *
 * Re-entry: a signal handler that interrupts this thread between reserve and commit gets NULL
 * from mw_reserve (counted lost): its record cannot be placed in front of the unfinished one
 * without breaking the implicit block numbering and the address-delta chain.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mw_core.h"

_Atomic uint64_t mw_clock_ns;
_Atomic int mw_clock_live;
_Atomic int mw_writer_alive;
_Atomic int mw_writer_sleeping;
_Atomic int mw_writer_futex;

/* Second way to mirror (when mremap of a shared mapping is refused, e.g. under valgrind): a
 * memfd mapped twice. Its ftruncate runs with SIGXFSZ blocked (RLIMIT_FSIZE applies). */
static bool mirror_memfd(uint8_t *base, uint64_t size)
{
    int fd = (int)syscall(SYS_memfd_create, "memwatch-ring", 1u /* MFD_CLOEXEC */);
    if (fd < 0) return false;
    sigset_t xfsz, old;
    sigemptyset(&xfsz);
    sigaddset(&xfsz, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &xfsz, &old);
    int rc = ftruncate(fd, (off_t)size);
    if (rc != 0) {
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&xfsz, NULL, &zero) == SIGXFSZ) {}
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    bool ok = rc == 0 &&
              mw_real.mmap(base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != MAP_FAILED &&
              mw_real.mmap(base + size, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != MAP_FAILED;
    close(fd);
    return ok;
}

bool mw_ring_init(mw_thread *t, uint64_t size)
{
    if (t->ring && t->ring_size == size) return true; /* recycled state keeps its ring */
    int saved = errno;
    /* shared anonymous pages, mapped a second time right after themselves with mremap(old
     * size 0): no file descriptor, nothing RLIMIT_FSIZE or a full /dev/shm could refuse */
    uint8_t *base = mw_real.mmap(NULL, size * 2, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        errno = saved;
        return false;
    }
    bool ok = mw_real.mmap(base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
                  MAP_FAILED &&
              mw_real.mremap(base, 0, size, MREMAP_MAYMOVE | MREMAP_FIXED, base + size) == base + size;
    if (!ok) ok = mirror_memfd(base, size);
    errno = saved;
    if (!ok) {
        mw_real.munmap(base, size * 2);
        return false;
    }
    mw_own_range_add(base, size * 2);
    t->ring = base;
    t->ring_size = size;
    t->mask = size - 1;
    return true;
}

void mw_ring_release(mw_thread *t)
{
    if (t->ring) {
        mw_own_range_del(t->ring, t->ring_size * 2);
        mw_real.munmap(t->ring, t->ring_size * 2);
    }
    t->ring = NULL;
}

void mw_spin_lock_slow(atomic_flag *f)
{
    for (unsigned n = 0; atomic_flag_test_and_set_explicit(f, memory_order_acquire); n++) {
        if (n < 64)
            __builtin_ia32_pause();
        else
            sched_yield();
    }
}

void mw_writer_kick(void)
{
    if (atomic_load_explicit(&mw_writer_sleeping, memory_order_relaxed) &&
        atomic_exchange_explicit(&mw_writer_sleeping, 0, memory_order_acq_rel)) {
        atomic_fetch_add(&mw_writer_futex, 1);
        syscall(SYS_futex, &mw_writer_futex, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}

/* Waits until `need` bytes are free. False when nobody will ever drain the ring. */
static bool wait_space(mw_thread *t, uint64_t need)
{
    int saved = errno;
    struct timespec ts = { 0, 50 * 1000 };
    unsigned spins = 0;
    bool ok = false;
    /* publish what we have so the writer can make room */
    atomic_store_explicit(&t->head, t->head_local, memory_order_release);
    for (;;) {
        uint64_t tail = atomic_load_explicit(&t->tail, memory_order_acquire);
        if (t->head_local + need - tail <= t->ring_size) { ok = true; break; }
        if (!atomic_load_explicit(&mw_writer_alive, memory_order_acquire)) break;
        mw_writer_kick();
        /* yield first (the writer usually needs only a moment), then sleep */
        if (spins < 50)
            sched_yield();
        else
            nanosleep(&ts, NULL);
        /* a writer that makes no progress for ~30 s is considered stuck: never hang forever */
        if (++spins > 600000u) break;
    }
    errno = saved;
    return ok;
}

uint8_t *mw_reserve(mw_thread *t, size_t need, size_t *cap)
{
    if (MW_UNLIKELY(!t || !t->ring || t->nest > 0)) {
        mw_count_lost(1, need);
        return NULL;
    }
    uint64_t full = (uint64_t)need + MW_TIME_RESERVE;
    if (MW_UNLIKELY(full > t->ring_size / 2)) {
        mw_count_lost(1, need);
        return NULL;
    }
    uint64_t tail = atomic_load_explicit(&t->tail, memory_order_acquire);
    if (MW_UNLIKELY(t->head_local + full - tail > t->ring_size)) {
        if (!wait_space(t, full)) {
            mw_count_lost(1, need);
            return NULL;
        }
        tail = atomic_load_explicit(&t->tail, memory_order_acquire);
    }
    t->nest++;
    uint64_t c = atomic_load_explicit(&mw_clock_ns, memory_order_relaxed);
    if (atomic_load_explicit(&mw_clock_live, memory_order_acquire)) {
        /* the writer is in write(2): read the clock ourselves (coarse clock, ~4 ms ticks) */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        now = now > mw_start_mono_ns ? now - mw_start_mono_ns : 0;
        if (now > c + 4000000u) c = now;
    }
    if (c != t->last_clock) {
        size_t n = mw_enc_time(t->ring + (t->head_local & t->mask), MW_TIME_RESERVE, c);
        t->head_local += n;
        t->last_clock = c;
    }
    *cap = (size_t)(t->ring_size - (t->head_local - tail));
    return t->ring + (t->head_local & t->mask);
}

void mw_commit(mw_thread *t, size_t used)
{
    t->head_local += used;
    if (--t->nest == 0) {
        atomic_store_explicit(&t->head, t->head_local, memory_order_release);
        /* wake a sleeping writer early when the ring is half full */
        if (MW_UNLIKELY(t->head_local - atomic_load_explicit(&t->tail, memory_order_relaxed) >
                        t->ring_size / 2) &&
            atomic_load_explicit(&mw_writer_sleeping, memory_order_relaxed))
            mw_writer_kick();
    }
}
