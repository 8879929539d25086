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
    /* not a root; its resident part is not looked up with mincore(2) (as a shared mapping, a
     * page-cache lookup per page, every RSS sample: with 4 000 threads a quarter of the
     * writer's time) but counted by the writer as far as the ring was ever written */
    mw_own_range_add_counted(base, size * 2, 0);
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

/* Contended lock: spin while the holder is probably running on another CPU, then sleep.
 * With more threads than CPUs the holder may have been preempted inside its (short) critical
 * section; a waiter that stays runnable (sched_yield) competes with it for the CPU until the
 * scheduler gets round to it: 4 program threads and the writer on 2 CPUs made 140 000 yields
 * in one run and ran 1.6x slower. A sleeping waiter leaves the CPU to the holder. */
/* One round of waiting: the first 200 pause, the rest sleep 20 us. False once the deadline
 * (mw_now_ns; UINT64_MAX: none) has passed, checked only among the sleeping rounds. */
static bool backoff(unsigned n, uint64_t deadline)
{
    if (n < 200) {
        __builtin_ia32_pause();
        return true;
    }
    if (deadline != UINT64_MAX && mw_now_ns() >= deadline) return false;
    mw_sleep_ns(20 * 1000);
    return true;
}

void mw_spin_lock_slow(atomic_flag *f)
{
    int saved = errno;
    for (unsigned n = 0; atomic_flag_test_and_set_explicit(f, memory_order_acquire); n++) backoff(n, UINT64_MAX);
    errno = saved;
}

/* Waits until *flag reads 0, pausing then sleeping as the locks do; false when it still did
 * not at the deadline (mw_now_ns; UINT64_MAX: none). errno is kept. */
bool mw_wait_clear_until(_Atomic uint8_t *flag, uint64_t deadline)
{
    int saved = errno;
    bool ok = true;
    for (unsigned n = 0; ok && atomic_load_explicit(flag, memory_order_acquire); n++) ok = backoff(n, deadline);
    errno = saved;
    return ok;
}

/* mw_spin_lock with a deadline (mw_now_ns): false, not taken, when the lock is still busy then. */
bool mw_spin_lock_until(atomic_flag *f, uint64_t deadline)
{
    int saved = errno;
    bool ok = true;
    for (unsigned n = 0; ok && atomic_flag_test_and_set_explicit(f, memory_order_acquire); n++) ok = backoff(n, deadline);
    errno = saved;
    return ok;
}

void mw_writer_kick(void)
{
    if (atomic_load_explicit(&mw_writer_sleeping, memory_order_relaxed) &&
        atomic_exchange_explicit(&mw_writer_sleeping, 0, memory_order_acq_rel)) {
        atomic_fetch_add(&mw_writer_futex, 1);
        syscall(SYS_futex, &mw_writer_futex, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}

_Atomic uint32_t mw_space_futex;
_Atomic int mw_space_waiters;

/* Waits until `need` bytes are free. False when nobody will ever drain the ring. The waiter
 * sleeps on mw_space_futex, which the writer bumps after a drain while anyone waits
 * (mw_writer_space_wake): a waiter that stayed runnable would take CPU time from the very
 * writer it waits for when there are more threads than CPUs. */
static bool wait_space(mw_thread *t, uint64_t need)
{
    int saved = errno;
    unsigned rounds = 0;
    bool ok = false;
    /* publish what we have so the writer can make room */
    atomic_store_explicit(&t->head, t->head_local, memory_order_release);
    for (;;) {
        uint64_t tail = atomic_load_explicit(&t->tail, memory_order_acquire);
        if (t->head_local + need - tail <= t->ring_size) { ok = true; break; }
        if (!atomic_load_explicit(&mw_writer_alive, memory_order_acquire)) break;
        /* a writer that makes no progress for ~30 s is considered stuck: never hang forever */
        if (++rounds > 15000u) break;
        uint32_t seen = atomic_load(&mw_space_futex);
        atomic_fetch_add(&mw_space_waiters, 1); /* a full barrier: ordered before the re-check */
        mw_writer_kick();
        tail = atomic_load_explicit(&t->tail, memory_order_acquire);
        if (t->head_local + need - tail > t->ring_size) {
            struct timespec ts = { 0, 2 * 1000 * 1000 };
            syscall(SYS_futex, &mw_space_futex, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
        }
        atomic_fetch_sub(&mw_space_waiters, 1);
    }
    errno = saved;
    return ok;
}

/* Writer: after a drain, wakes the producers waiting for ring space. */
void mw_writer_space_wake(void)
{
    atomic_thread_fence(memory_order_seq_cst); /* the tails stored before, the count read after */
    if (atomic_load_explicit(&mw_space_waiters, memory_order_relaxed)) {
        atomic_fetch_add(&mw_space_futex, 1);
        syscall(SYS_futex, &mw_space_futex, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    }
}

uint8_t *mw_reserve(mw_thread *t, size_t need, size_t *cap)
{
    if (MW_UNLIKELY(!mw_own())) { /* the ring is our parent's (mw_fork_page) */
        mw_not_own();
        return NULL;
    }
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
    uint64_t c = atomic_load_explicit(&mw_clock_ns, memory_order_acquire);
    if (c & MW_CLOCK_LIVE) {
        c &= ~(uint64_t)MW_CLOCK_LIVE;
        /* the writer is in write(2): read the clock ourselves (coarse clock, ~4 ms ticks) */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        now = now > mw_start_mono_ns ? (now - mw_start_mono_ns) & ~(MW_CLOCK_UNIT_NS - 1) : 0;
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
