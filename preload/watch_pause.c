/*
 * watch_pause.c — pausing the other running threads while one writer single-steps on a page
 * that several threads write.
 *
 * While a writer executes its one instruction the page is writable for every thread (page
 * tables are shared): a store by another thread in those microseconds would not fault and
 * would be merged into the writer's event. For pages the fault thread has seen written by
 * more than one thread, the other threads that are running (state R in
 * /proc/self/task/<tid>/stat) are sent MW_WATCH_SIG_PAUSE before the step and waited for;
 * its handler waits on a futex until the step is over. Threads asleep in a system call get the
 * signal too but are not waited for: it is taken when the call returns, before their next
 * instruction. Left alone: threads asleep in calls a handler would interrupt with EINTR (poll, select, epoll_wait, sigtimedwait, ...);
 * one of those that wakes up and writes the same page within the step is still merged. A
 * thread that blocks the signal is not waited for (after PAUSE_BLOCK_NS), a slow one at most
 * PAUSE_WAIT_NS.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mw_core.h"
#include "watch_core.h"

#define PAUSE_WAIT_NS 200000000ull   /* a slow (descheduled) thread is waited for this long */
#define PAUSE_BLOCK_NS 5000000ull    /* after this, threads blocking the signal are skipped */
#define PAUSE_MAX 256u
#define PAGE_TABLE 4096u

static _Atomic uint32_t pause_gen;   /* odd while paused */
static _Atomic int pause_acks;
static pid_t sent_tid[PAUSE_MAX];
static _Atomic uint32_t sent_gen[PAUSE_MAX];   /* the round each entry belongs to */
static _Atomic int sent_ack[PAUSE_MAX];
static int nsent;

static void on_pause(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    int saved = errno;
    uint32_t g = atomic_load(&pause_gen);
    pid_t me = mw_w_gettid();
    /* never the writer being stepped (a stale pause signal taken mid-step would stall it) */
    if (si->si_code == SI_TKILL && (g & 1) && me != mw_step.tid) {
        for (int i = 0; i < nsent && i < (int)PAUSE_MAX; i++)
            if (sent_tid[i] == me && atomic_load(&sent_gen[i]) == g) atomic_store(&sent_ack[i], 1);
        atomic_fetch_add(&pause_acks, 1);
        while (atomic_load(&pause_gen) == g)
            syscall(SYS_futex, &pause_gen, FUTEX_WAIT_PRIVATE, g, NULL, NULL, 0);
    }
    errno = saved;
}

bool mw_pause_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_pause;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    return sigaction(MW_WATCH_SIG_PAUSE, &sa, NULL) == 0;
}

/* ---- which pages have several writers (fault thread only) -------------------------------- */
static struct { uintptr_t page; pid_t tid; bool multi; } pages[PAGE_TABLE];

bool mw_pause_page_shared(uintptr_t page, pid_t tid)
{
    unsigned h = (unsigned)((page >> 12) * 2654435761u) % PAGE_TABLE;
    if (pages[h].page != page) {
        pages[h].page = page;
        pages[h].tid = tid;
        pages[h].multi = false;
        return false;
    }
    if (pages[h].tid != tid) pages[h].multi = true;
    pages[h].tid = tid;
    return pages[h].multi;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* True when tid has sig blocked and pending (it will not answer). */
static bool blocked_pending(pid_t tid, int sig)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    if (mw_w_read_file(path, buf, sizeof buf) <= 0) return true; /* gone */
    const char *keys[] = { "SigBlk:", "SigPnd:" };
    bool bit[2] = { false, false };
    for (int k = 0; k < 2; k++) {
        const char *p = strstr(buf, keys[k]);
        if (p) bit[k] = (strtoull(p + 7, NULL, 16) >> (sig - 1)) & 1;
    }
    return bit[0] && bit[1];
}

/* 'R' when tid is running or runnable; '-' for memwatch's own threads (memwatch-*), which
 * never write the program's memory. */
static char task_state(pid_t tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    if (mw_w_read_file(path, buf, sizeof buf) <= 0) return '?';
    char *c = strchr(buf, '(');
    if (c && !strncmp(c + 1, "memwatch-", 9)) return '-';
    char *p = strrchr(buf, ')'); /* comm may contain spaces */
    return p && p[1] == ' ' ? p[2] : '?';
}

/* System calls a signal handler would make fail with EINTR even under SA_RESTART: threads
 * asleep in them are left alone. */
static bool eintr_prone(long nr)
{
    switch (nr) {
    case SYS_poll: case SYS_ppoll: case SYS_select: case SYS_pselect6: case SYS_epoll_wait:
    case SYS_epoll_pwait: case SYS_rt_sigtimedwait: case SYS_rt_sigsuspend: case SYS_pause:
    case SYS_io_getevents: case SYS_msgrcv: case SYS_semop: case SYS_semtimedop:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
        return true;
    default:
        return false;
    }
}

/* Whether tid gets the pause signal, and whether it must answer before the step:
 * running threads must (they may be storing right now); threads asleep in a system call need
 * not (the pending signal stops them as the call returns, before any instruction of theirs);
 * threads asleep where a signal means EINTR are not signalled. */
static bool pause_target(pid_t tid, bool *must_ack)
{
    char st = task_state(tid);
    *must_ack = st == 'R';
    if (st == 'R' || st == 'D') return true;
    if (st != 'S') return false;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    if (mw_w_read_file(path, line, sizeof line) <= 0) return false;
    if (!strncmp(line, "running", 7)) { *must_ack = true; return true; }
    /* -1: blocked in a page fault (maybe a watch fault: anything that wakes it, even a stale
     * pause signal, would let it retry its store while the page is open) */
    long nr = strtol(line, NULL, 10);
    return nr < 0 || !eintr_prone(nr);
}

int mw_pause_others(pid_t w, pid_t self)
{
    atomic_store(&pause_acks, 0);
    atomic_fetch_add(&pause_gen, 1); /* odd: paused */
    int sent = 0;
    nsent = 0;
    int fd = mw_proc_open("/proc/self/task", O_RDONLY | O_DIRECTORY);
    if (fd < 0) return 0;
    char buf[4096];
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64 { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; };
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->reclen;
            pid_t tid = (pid_t)atoi(d->name);
            bool must_ack;
            if (tid <= 0 || tid == w || tid == self || sent >= (int)PAUSE_MAX) continue;
            if (!pause_target(tid, &must_ack)) continue;
            sent_tid[sent] = tid;
            atomic_store(&sent_gen[sent], atomic_load(&pause_gen));
            atomic_store(&sent_ack[sent], must_ack ? 0 : 1);
            nsent = sent + 1;
            if (syscall(SYS_tgkill, getpid(), tid, MW_WATCH_SIG_PAUSE) == 0) sent++;
            else atomic_store(&sent_ack[sent], 1);
        }
    }
    syscall(SYS_close, fd);
    nsent = sent;
    uint64_t t0 = mono_ns();
    bool checked = false;
    for (;;) {
        bool all = true;
        for (int i = 0; i < sent; i++) all &= atomic_load(&sent_ack[i]) != 0;
        if (all || mono_ns() - t0 > PAUSE_WAIT_NS) break;
        mw_sleep_ns(10000);
        if (!checked && mono_ns() - t0 > PAUSE_BLOCK_NS) {
            /* stop waiting for threads that block the signal; keep waiting for slow ones */
            checked = true;
            for (int i = 0; i < sent; i++)
                if (!atomic_load(&sent_ack[i]) && blocked_pending(sent_tid[i], MW_WATCH_SIG_PAUSE))
                    atomic_store(&sent_ack[i], 1);
        }
    }
    return sent;
}

void mw_resume_others(void)
{
    uint32_t g = atomic_load(&pause_gen);
    if (!(g & 1)) return;
    atomic_fetch_add(&pause_gen, 1);
    syscall(SYS_futex, &pause_gen, FUTEX_WAKE_PRIVATE, 1 << 30, NULL, NULL, 0);
}
