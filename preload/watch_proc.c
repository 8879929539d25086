/*
 * watch_proc.c — what /proc/self/task/<tid>/ tells the fault thread about a writer: the system
 * call it is in (and whether it is one that can have written the faulting address), whether
 * it sleeps in a userfaultfd wait right now (a fault message whose writer was woken since is
 * stale), whether it blocks the capture signal, and its read/write call counters. Descriptors
 * are cached per thread and re-read with pread. Fault thread only.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "watch_core.h"

static void task_path(char *buf, size_t cap, pid_t tid, const char *leaf)
{
    snprintf(buf, cap, "/proc/self/task/%d/%s", (int)tid, leaf);
}

/* Per-thread cache: an open /proc/self/task/<tid>/syscall (re-read with pread, no
 * open/close per fault) and whether the thread was last seen with the capture signal
 * blocked (only those threads get their status file read on every fault). */
#define TCACHE 64
static struct tcache { pid_t tid; int fd, wfd; bool blocked; uint64_t used; } tc[TCACHE];
static uint64_t tc_clock;

static struct tcache *tc_get(pid_t tid)
{
    struct tcache *lru = &tc[0];
    for (unsigned i = 0; i < TCACHE; i++) {
        if (tc[i].tid == tid && tc[i].fd > 0) { tc[i].used = ++tc_clock; return &tc[i]; }
        if (tc[i].used < lru->used) lru = &tc[i];
    }
    if (lru->fd > 0) close(lru->fd);
    if (lru->wfd > 0) close(lru->wfd);
    char path[64];
    task_path(path, sizeof path, tid, "syscall");
    lru->fd = mw_proc_open(path, O_RDONLY);
    task_path(path, sizeof path, tid, "wchan");
    lru->wfd = mw_proc_open(path, O_RDONLY);
    lru->tid = tid;
    lru->blocked = false;
    lru->used = ++tc_clock;
    return lru;
}

/* Parses the syscall file: -1 for a user-mode fault (pc filled), the syscall number, or -2
 * when the thread is running / gone. */
int64_t mw_wp_task_syscall(pid_t tid, uintptr_t *pc, char *line, size_t cap)
{
    struct tcache *c = tc_get(tid);
    ssize_t n = c->fd > 0 ? pread(c->fd, line, cap - 1, 0) : -1;
    if (n <= 0) {
        /* stale descriptor (a reused tid): reopen once */
        if (c->fd > 0) close(c->fd);
        c->fd = -1;
        c = tc_get(tid);
        n = c->fd > 0 ? pread(c->fd, line, cap - 1, 0) : -1;
        if (n <= 0) { line[0] = 0; return -2; }
    }
    line[n] = 0;
    if (strncmp(line, "running", 7) == 0) return -2;
    char *end;
    long long nr = strtoll(line, &end, 10);
    if (end == line) return -2;
    if (nr == -1) {
        /* "-1 sp pc" */
        char *p = end;
        strtoull(p, &end, 16);
        *pc = (uintptr_t)strtoull(end, NULL, 16);
    }
    return nr;
}

/* Whether tid sleeps in a userfaultfd wait right now. Call after mw_wp_task_syscall (which waits
 * until the thread is off the CPU): a message whose writer is not waiting any more is stale
 * (a signal woke it; it faults again if it retries). Unknown (no wchan) counts as waiting. */
static bool wchan_visible; /* some thread's wchan showed a symbol: "0" means running */

bool mw_wp_in_uffd_wait(pid_t tid)
{
    struct tcache *c = tc_get(tid);
    char buf[64];
    ssize_t n = c->wfd > 0 ? pread(c->wfd, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0) return true; /* no wchan: cannot tell */
    buf[n] = 0;
    if (strcmp(buf, "0") != 0) {
        wchan_visible = true;
        return strncmp(buf, "handle_userfault", 16) == 0;
    }
    return !wchan_visible; /* running again (woken: stale), unless symbols are hidden */
}

static bool status_bit(const char *buf, const char *key, int sig)
{
    const char *p = strstr(buf, key);
    if (!p) return false;
    unsigned long long mask = strtoull(p + strlen(key), NULL, 16);
    return (mask >> (sig - 1)) & 1;
}

/* True when tid blocks sig. With `pending`: only when sig is also pending for it (a signal
 * being handled is blocked during its handler too; that is not "blocked" for us). */
bool mw_wp_signal_blocked(pid_t tid, int sig, bool pending)
{
    char path[64], buf[2048];
    task_path(path, sizeof path, tid, "status");
    if (mw_w_read_file(path, buf, sizeof buf) <= 0) return false;
    bool b = status_bit(buf, "SigBlk:", sig);
    if (b && pending) b = status_bit(buf, "SigPnd:", sig) || status_bit(buf, "ShdPnd:", sig);
    tc_get(tid)->blocked = b;
    return b;
}


/* Cheap: only threads seen blocking the signal before get their status re-read. */
bool mw_wp_maybe_blocked(pid_t tid, int sig)
{
    return tc_get(tid)->blocked && mw_wp_signal_blocked(tid, sig, false);
}

uint64_t mw_wp_io_calls(pid_t tid)
{
    char path[64], buf[512];
    task_path(path, sizeof path, tid, "io");
    if (mw_w_read_file(path, buf, sizeof buf) <= 0) return 0;
    uint64_t sum = 0;
    const char *keys[] = { "syscr:", "syscw:" };
    for (int i = 0; i < 2; i++) {
        char *p = strstr(buf, keys[i]);
        if (p) sum += strtoull(p + 6, NULL, 10);
    }
    return sum;
}

/* The buffer a system call writes, for the calls whose arguments say it; false otherwise. */
bool mw_wp_syscall_range(int64_t nr, const char *line, uintptr_t *lo, uintptr_t *hi)
{
    unsigned long long a[6] = { 0 };
    const char *p = line;
    char *end;
    strtoll(p, &end, 10);
    for (int i = 0; i < 6; i++) {
        p = end;
        a[i] = strtoull(p, &end, 16);
        if (end == p) return false;
    }
    unsigned long long b, n;
    switch (nr) {
    case SYS_read: case SYS_pread64: case SYS_recvfrom: case SYS_getdents64:
    case SYS_readlink:
        b = a[1]; n = a[2]; break;
    case SYS_readlinkat: b = a[2]; n = a[3]; break;
    case SYS_getrandom: case SYS_getcwd: b = a[0]; n = a[1]; break;
    case SYS_pipe: case SYS_pipe2: b = a[0]; n = 8; break;
    case SYS_clock_gettime: b = a[1]; n = 16; break;
    case SYS_gettimeofday: b = a[0]; n = 16; break;
    default: return false;
    }
    if (n == 0 || b + n < b) return false;
    *lo = (uintptr_t)b;
    *hi = (uintptr_t)(b + n);
    return true;
}

/* Whether system call nr (arguments in line) can be the writer of a fault at addr. A message
 * whose writer now sits in a call that cannot have written there is stale: a signal woke the
 * writer out of its user-mode fault (e.g. into our pause handler's futex). */
bool mw_wp_kernel_write_plausible(int64_t nr, const char *line, uintptr_t addr)
{
    uintptr_t lo, hi;
    if (mw_wp_syscall_range(nr, line, &lo, &hi)) return addr >= lo && addr < hi;
    if (nr == SYS_futex) {
        unsigned long long a[6] = { 0 };
        char *end;
        const char *p = line;
        strtoll(p, &end, 10);
        for (int i = 0; i < 6; i++) { p = end; a[i] = strtoull(p, &end, 16); }
        uintptr_t pg = addr & ~(uintptr_t)(MW_WATCH_PAGE - 1);
        return (a[0] & ~(uintptr_t)(MW_WATCH_PAGE - 1)) == pg ||
               (a[4] & ~(uintptr_t)(MW_WATCH_PAGE - 1)) == pg;
    }
    return true;
}

void mw_wp_reset(void)
{
    for (unsigned i = 0; i < TCACHE; i++) {
        if (tc[i].fd > 0) close(tc[i].fd);
        if (tc[i].wfd > 0) close(tc[i].wfd);
        tc[i].fd = tc[i].wfd = -1;
        tc[i].tid = 0;
    }
}
