/*
 * fork_nomem.c — victim: a fork child that runs out of address space under the shim
 * (tests/integration/test_shim_inherit.c). The parent keeps 200 000 blocks of 32 bytes and
 * forks; the child caps its address space (RLIMIT_AS) at what it has mapped plus 1 MiB, frees
 * one inherited block (the shim would record all it inherited: 13 MB it cannot map), prints
 * through stdout (whose buffer it allocates now: a block only libc's data points to) and
 * exits with _exit. The shim must say what it could not do, and its exit scan, short of
 * memory for its roots, must give no verdict rather than call the stdout buffer lost (it did
 * before 06:05 UTC on 2026-11-23).
 *
 *     fork_nomem      prints: child ok / parent 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void *keep[200000];

/* The mapped bytes, from /proc/self/statm. */
static long mapped_bytes(void)
{
    char buf[128];
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0;
    if (f) {
        if (fgets(buf, sizeof buf, f)) pages = strtol(buf, NULL, 10);
        fclose(f);
    }
    return pages * sysconf(_SC_PAGESIZE);
}

int main(void)
{
    for (int i = 0; i < 200000; i++)
        if (!(keep[i] = malloc(32))) return 1;
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) return 1;
    if (c == 0) {
        long m = mapped_bytes();
        if (m <= 0) _exit(3);
        struct rlimit r = { (rlim_t)m + (1 << 20), (rlim_t)m + (1 << 20) };
        if (setrlimit(RLIMIT_AS, &r)) _exit(4);
        free(keep[0]);
        printf("child ok\n");
        fflush(stdout);
        _exit(0);
    }
    int st = 0;
    if (waitpid(c, &st, 0) != c) return 1;
    printf("parent %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128);
    for (int i = 1; i < 200000; i++) free(keep[i]);
    return 0;
}
