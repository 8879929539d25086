/*
 * chroot_leak.c — moves into DIR, an empty directory (no /proc there), then leaks: the exit
 * scan and the RSS samples must still reach /proc (kept from before the chroot, procfs.c).
 * Before the chroot it allocates a block of 111 bytes it forgets (definitely lost) and one of
 * 333 bytes a global keeps (reachable); inside it forks a child that allocates 222 bytes it
 * forgets and stays 250 ms (RSS samples every MEMWATCH_RSS_MS), then both exit 0. Prints
 * "ok". Must run as root. With "pivot" DIR becomes the root of a mount namespace of its own
 * by syscall(SYS_pivot_root), the old root unmounted (a container's start); exit 77 when the
 * system does not allow it (no mount namespaces here). With "setns" a forked helper makes
 * that namespace and the program joins it with setns() (nsenter's way), then tells the
 * helper to end (exit 0).
 *
 *     chroot_leak DIR call|syscall|pivot|setns
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
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

/* DIR the root of a new mount namespace without /proc; 0, or 77 when not allowed */
static int pivot_into(const char *dir)
{
    char old[4096];
    snprintf(old, sizeof old, "%s/old", dir);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("none", dir, "tmpfs", 0, NULL) != 0 || mkdir(old, 0700) != 0)
        return 77;
    if (syscall(SYS_pivot_root, dir, old) != 0 || chdir("/") != 0 || umount2("/old", MNT_DETACH) != 0) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    forget(111);
    kept = malloc(333);
    int rc, to_helper = -1;
    pid_t helper = -1;
    if (strcmp(argv[2], "pivot") == 0) {
        rc = pivot_into(argv[1]);
        if (rc == 77) return 77;
    } else if (strcmp(argv[2], "setns") == 0) {
        int up[2], down[2];
        if (pipe(up) != 0 || pipe(down) != 0) return 1;
        fflush(stdout);
        helper = fork();
        if (helper == 0) {
            char r = (char)pivot_into(argv[1]), c;
            if (write(up[1], &r, 1) != 1) _exit(1);
            _exit(read(down[0], &c, 1) == 1 ? 0 : 1); /* stays until the program has joined */
        }
        char r = 1;
        if (helper < 0 || read(up[0], &r, 1) != 1) return 1;
        if (r != 0) {
            waitpid(helper, NULL, 0);
            return r == 77 ? 77 : 1;
        }
        char ns[64];
        snprintf(ns, sizeof ns, "/proc/%d/ns/mnt", (int)helper);
        int fd = open(ns, O_RDONLY | O_CLOEXEC);
        rc = fd >= 0 ? setns(fd, CLONE_NEWNS) : -1;
        if (fd >= 0) close(fd);
        to_helper = down[1];
    } else {
        rc = strcmp(argv[2], "syscall") == 0 ? (int)syscall(SYS_chroot, argv[1]) : chroot(argv[1]);
        if (rc == 0 && chdir("/") != 0) rc = -1;
    }
    if (to_helper >= 0) {
        if (write(to_helper, "x", 1) != 1 || waitpid(helper, NULL, 0) != helper) rc = -1;
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
