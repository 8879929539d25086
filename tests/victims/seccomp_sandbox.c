/*
 * seccomp_sandbox.c — a victim that sandboxes itself with a seccomp filter, as sshd's privsep
 * child, a renderer or a libseccomp program do: an allow-list of the system calls it needs
 * (and its dynamic loader's, for an exec), every other one killing the process (SIGSYS).
 *
 * argv[1]: "seccomp" (seccomp(2) through syscall(), all threads: TSYNC), "prctl"
 * (prctl(PR_SET_SECCOMP), this thread's), "errno" (seccomp(2), refused calls fail with EPERM
 * instead), "exec" (seccomp(2), then exec /bin/true under the filter), "closedpipe" (as "errno",
 * but first writes a byte to stdout and waits until the reader of its stderr, a pipe, has gone:
 * run as `seccomp_sandbox closedpipe 2>&1 | head -c 1`, the shim's line about the filter meets a
 * pipe without a reader), "probe" (only the calls libseccomp probes the kernel with, which
 * install nothing: strict mode with a flag, a filter mode without a filter, the same through
 * prctl; no filter goes in), "watch" (as "seccomp", with a tighter list: no getpid, no
 * gettid; writes the global `sandbox_watched` once before the filter and five times after it,
 * and ends with _exit(0): run with MEMWATCH_WATCH=sandbox_watched). Allocates 1001 and 1003
 * bytes before the filter (kept), then 3000 pairs after it, and prints "sandboxed ok" (exec:
 * before the exec). Natively it exits 0 in every mode.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ALLOW(n) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (n), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static void *volatile keep[2];
volatile long sandbox_watched;

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "seccomp";
    bool closed = strcmp(mode, "closedpipe") == 0;
    unsigned deny = strcmp(mode, "errno") == 0 || closed ? SECCOMP_RET_ERRNO | 1u : SECCOMP_RET_KILL_PROCESS;
    bool watch = strcmp(mode, "watch") == 0;
    unsigned nr_getpid = watch ? 0xffffffffu : SYS_getpid, nr_gettid = watch ? 0xffffffffu : SYS_gettid;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        ALLOW(SYS_read), ALLOW(SYS_write), ALLOW(SYS_exit), ALLOW(SYS_exit_group), ALLOW(SYS_brk),
        ALLOW(SYS_mmap), ALLOW(SYS_munmap), ALLOW(SYS_mremap), ALLOW(SYS_mprotect), ALLOW(SYS_futex),
        ALLOW(SYS_rt_sigreturn), ALLOW(SYS_rt_sigprocmask), ALLOW(SYS_close), ALLOW(SYS_fstat),
        ALLOW(SYS_newfstatat), ALLOW(SYS_madvise), ALLOW(nr_getpid), ALLOW(nr_gettid),
        /* /bin/true's start, for "exec" */
        ALLOW(SYS_execve), ALLOW(SYS_access), ALLOW(SYS_openat), ALLOW(SYS_pread64),
        ALLOW(SYS_arch_prctl), ALLOW(SYS_set_tid_address), ALLOW(SYS_set_robust_list),
        ALLOW(SYS_rseq), ALLOW(SYS_prlimit64), ALLOW(SYS_getrandom),
        BPF_STMT(BPF_RET | BPF_K, deny),
    };
    struct sock_fprog prog = { (unsigned short)(sizeof f / sizeof f[0]), f };
    sandbox_watched = 1;
    keep[0] = malloc(1001);
    keep[1] = malloc(1003);
    if (closed) {
        if (write(1, "x", 1) != 1) return 5;
        struct pollfd p = { .fd = 2, .events = 0 };
        if (poll(&p, 1, 10000) != 1 || !(p.revents & POLLERR)) return 6;
    }
    if (strcmp(mode, "probe") == 0) {
        long a = syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, NULL);
        long b = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, NULL);
        int c = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, 0, 0, 0);
        if (a != -1 || b != -1 || c != -1) return 7; /* each fails: nothing installed */
        for (int i = 0; i < 3000; i++) {
            char *volatile q = malloc(64 + (size_t)i % 500);
            free(q);
        }
        printf("probed ok\n");
        return 0;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        perror("PR_SET_NO_NEW_PRIVS");
        return 2;
    }
    int rc = strcmp(mode, "prctl") == 0
                 ? prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0)
                 : (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
    if (rc != 0) {
        perror("seccomp");
        return 2;
    }
    for (int i = 0; i < 3000; i++) {
        char *p = malloc(64 + (size_t)i % 500);
        if (!p) return 3;
        p[0] = (char)i;
        free(p);
    }
    if (closed) return 0; /* its stdout has no reader either */
    for (long i = 0; i < 5; i++) sandbox_watched += i;
    printf("sandboxed ok\n");
    fflush(stdout);
    if (watch) _exit(0);
    if (strcmp(mode, "exec") == 0) {
        char *const targv[] = { "/bin/true", NULL };
        execv(targv[0], targv);
        return 4;
    }
    return 0;
}
