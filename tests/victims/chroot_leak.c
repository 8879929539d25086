/*
 * chroot_leak.c — moves into DIR, an empty directory (no /proc there), then leaks: the exit
 * scan and the RSS samples must still reach /proc (kept from before the chroot, procfs.c).
 * Before the chroot it allocates a block of 111 bytes it forgets (definitely lost) and one of
 * 333 bytes a global keeps (reachable); inside it forks a child that allocates 222 bytes it
 * forgets and stays 250 ms (RSS samples every MEMWATCH_RSS_MS), then both exit 0. Prints
 * "ok". Must run as root. With "pivot" DIR becomes the root of a mount namespace of its own
 * by syscall(SYS_pivot_root), the old root unmounted (a container's start); exit 77 when the
 * system does not allow it (no mount namespaces here).
 *
 *     chroot_leak DIR call|syscall|pivot    chroot(), syscall(SYS_chroot) or pivot_root
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *volatile kept;

static void forget(size_t n)
{
    void *volatile p = malloc(n);
    memset(p, 1, n);
    p = NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    forget(111);
    kept = malloc(333);
    int rc;
    if (strcmp(argv[2], "pivot") == 0) {
        char old[4096];
        snprintf(old, sizeof old, "%s/old", argv[1]);
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("none", argv[1], "tmpfs", 0, NULL) != 0 || mkdir(old, 0700) != 0)
            return 77;
        rc = (int)syscall(SYS_pivot_root, argv[1], old);
        if (rc == 0 && (chdir("/") != 0 || umount2("/old", MNT_DETACH) != 0)) rc = -1;
    } else {
        rc = strcmp(argv[2], "syscall") == 0 ? (int)syscall(SYS_chroot, argv[1]) : chroot(argv[1]);
        if (rc == 0 && chdir("/") != 0) rc = -1;
    }
    if (rc != 0) { perror("chroot"); return 1; }
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) return 1;
    if (c == 0) {
        forget(222);
        struct timespec ts = { 0, 250 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        return 0;
    }
    int st = 0;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
    printf("ok\n");
    return 0;
}
