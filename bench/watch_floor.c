/*
 * watch_floor.c — `make bench` section for the watch core (issue 6): what the machine itself
 * charges for the steps a recorded write needs, measured without memwatch's code, so the watch
 * core's cost per write (bench/watch_cost.c) can be read against its floor.
 *
 *   - userfaultfd round trip: a store to a write-protected page blocks, a handler thread
 *     reads the fault, signals the writer and wakes it, the writer's signal handler removes
 *     the protection and the store completes: the two thread hand-offs every user-mode event
 *     needs (the writer's stack can only be taken in the writer). Measured as it comes (the
 *     handler thread SCHED_FIFO when allowed, like the fault thread), and with both threads
 *     pinned to one CPU (no cross-CPU wake-ups);
 *   - an in-thread fault: mprotect, store, SIGSEGV handler, mprotect (the fallback path,
 *     which cannot serve kernel writes such as read(2) into the page);
 *   - a single-step trap (the trap flag set, one instruction, SIGTRAP).
 *
 * Each figure is the mean over ROUNDS iterations. Runs under the shim like every watch_*
 * program (it uses its own userfaultfd and its own signals, SIGUSR1 and SIGSEGV/SIGTRAP
 * handlers installed before any watch exists).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define ROUNDS 3000

static int uffd = -1;
static volatile uint8_t *pg;
static pid_t writer_tid;
static volatile int stop;
static int fifo;   /* the handler thread got SCHED_FIFO */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int wp(int on)
{
    struct uffdio_writeprotect w = { .range = { (uintptr_t)pg, 4096 },
                                     .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };
    return ioctl(uffd, UFFDIO_WRITEPROTECT, &w);
}

static void on_usr1(int sig) { (void)sig; wp(0); }

static void *handler_thread(void *arg)
{
    int cpu = *(int *)arg;
    if (cpu >= 0) {
        cpu_set_t s;
        CPU_ZERO(&s);
        CPU_SET(cpu, &s);
        sched_setaffinity(0, sizeof s, &s);
    }
    /* as the watch core's fault thread does when it may (root or CAP_SYS_NICE) */
    struct sched_param sp = { .sched_priority = 1 };
    fifo = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
    struct pollfd p = { uffd, POLLIN, 0 };
    while (!stop) {
        if (poll(&p, 1, 100) <= 0) continue;
        struct uffd_msg m;
        if (read(uffd, &m, sizeof m) != sizeof m) continue;
        if (m.event != UFFD_EVENT_PAGEFAULT) continue;
        syscall(SYS_tgkill, getpid(), writer_tid, SIGUSR1);
        struct uffdio_range r = { (uintptr_t)pg, 4096 };
        ioctl(uffd, UFFDIO_WAKE, &r);
    }
    return NULL;
}

/* us per store through the userfaultfd protocol; cpu >= 0 pins both threads to it */
static double uffd_round_trip(int cpu)
{
    cpu_set_t old;
    sched_getaffinity(0, sizeof old, &old);
    if (cpu >= 0) {
        cpu_set_t s;
        CPU_ZERO(&s);
        CPU_SET(cpu, &s);
        if (sched_setaffinity(0, sizeof s, &s) != 0) return -1;
    }
    stop = 0;
    pthread_t th;
    if (pthread_create(&th, NULL, handler_thread, &cpu) != 0) return -1;
    double t0 = now_us();
    for (int i = 0; i < ROUNDS; i++) {
        wp(1);
        pg[0] = (uint8_t)i;
    }
    double r = (now_us() - t0) / ROUNDS;
    stop = 1;
    pthread_join(th, NULL);
    sched_setaffinity(0, sizeof old, &old);
    return r;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)si; (void)uc;
    mprotect((void *)pg, 4096, PROT_READ | PROT_WRITE);
}

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
    (void)sig; (void)si;
    ucontext_t *uc = ucv;
    uc->uc_mcontext.gregs[REG_EFL] &= ~0x100LL;
}

int main(void)
{
    pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pg == MAP_FAILED) return 1;
    pg[0] = 1; /* write protection skips pages never touched */
    writer_tid = (pid_t)syscall(SYS_gettid);
    signal(SIGUSR1, on_usr1);

    uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    struct uffdio_api api = { .api = UFFD_API, .features = 0 };
    struct uffdio_register reg = { .range = { (uintptr_t)pg, 4096 }, .mode = UFFDIO_REGISTER_MODE_WP };
    if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) != 0 || ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) {
        printf("floor: userfaultfd unavailable here (%s): no userfaultfd figures\n", strerror(errno));
    } else {
        double free_run = uffd_round_trip(-1);
        double pinned = uffd_round_trip(0);
        printf("floor: userfaultfd fault -> handler thread%s -> signal -> writer: %.1f us per store "
               "(%.1f us with both threads pinned to one CPU)\n", fifo ? " (SCHED_FIFO)" : "",
               free_run, pinned);
        ioctl(uffd, UFFDIO_UNREGISTER, &reg.range);
        close(uffd);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    double t0 = now_us();
    for (int i = 0; i < ROUNDS; i++) {
        mprotect((void *)pg, 4096, PROT_READ);
        pg[0] = (uint8_t)i;
    }
    double segv = (now_us() - t0) / ROUNDS;

    sa.sa_sigaction = on_trap;
    sigaction(SIGTRAP, &sa, NULL);
    t0 = now_us();
    for (int i = 0; i < ROUNDS; i++)
        __asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq; nop" ::: "memory", "cc");
    double step = (now_us() - t0) / ROUNDS;
    printf("floor: in-thread fault (mprotect, SIGSEGV, mprotect): %.1f us; single-step trap: %.1f us\n",
           segv, step);
    return 0;
}
