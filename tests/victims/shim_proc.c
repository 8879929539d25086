/*
 * shim_proc.c — victim for the process-tree tests: fork, exec, vfork, posix_spawn, system,
 * popen, exit from a thread, _exit, quick_exit, syscall(SYS_exit_group), main ending with
 * pthread_exit, abort and SIGKILL (also after a teardown, the last thing the program did).
 * Every process leaks one block whose size identifies it (see the mode comments), so the
 * test can match traces to processes.
 * Usage: shim_proc MODE [ARG]
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static void *volatile sink;
static const char *self;

static void say(const char *s) { (void)!write(1, s, strlen(s)); }

static void leak(size_t n) { sink = malloc(n); }

static void exit_from_alarm(int sig)
{
    (void)sig;
    exit(4);
}

static void _exit_from_alarm(int sig)
{
    (void)sig;
    _exit(4);
}

static char clone_stack[65536];
static int clone_child(void *arg)
{
    (void)arg;
    execl(self, self, "leaf", "30038", (char *)NULL);
    _exit(127);
}

static void *exit_thread(void *a)
{
    (void)a;
    leak(30010);
    exit(5);
}

static void *volatile kept_by_worker;
static void *volatile churned;   /* keeps the compiler from eliding malloc/free pairs */

/* Outlives main (which called pthread_exit): when it returns, glibc ends the process. */
static void *last_thread(void *a)
{
    (void)a;
    struct timespec ts = { 0, 50 * 1000000 };
    nanosleep(&ts, NULL);
    for (int i = 0; i < 1000; i++) {
        churned = malloc(16 + (size_t)i);
        free(churned);
    }
    kept_by_worker = malloc(30017);
    say("last thread done\n");
    return NULL;
}

int main(int argc, char **argv)
{
    self = argv[0];
    const char *mode = argc > 1 ? argv[1] : "leaf";
    char cmd[4200];
    if (!strcmp(mode, "leaf")) {                   /* leaks ARG bytes */
        size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1;
        leak(n);
        char m[64];
        snprintf(m, sizeof m, "leaf %zu\n", n);
        say(m);
        return 0;
    }
    if (!strcmp(mode, "fork")) {                   /* parent 30001, child 30002 */
        leak(30001);
        pid_t p = fork();
        if (p == 0) {
            leak(30002);
            say("child\n");
            exit(0);
        }
        int st;
        waitpid(p, &st, 0);
        say(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "fork ok\n" : "fork bad\n");
        return 0;
    }
    if (!strcmp(mode, "exec")) {                   /* before exec 30003, after 30004 */
        leak(30003);
        execl(self, self, "leaf", "30004", (char *)NULL);
        return 99;
    }
    if (!strcmp(mode, "execveat")) {               /* before execveat 30032, after 30033 */
        leak(30032);
        char *argv2[] = { (char *)self, "leaf", "30033", NULL };
        int dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        execveat(dfd, self + 1, argv2, environ, 0); /* self is absolute: relative to / */
        return 99;
    }
    if (!strcmp(mode, "sysexecve")) {              /* before syscall(SYS_execve) 30042, after 30043 */
        leak(30042);
        char *argv2[] = { (char *)self, "leaf", "30043", NULL };
        syscall(SYS_execve, self, argv2, environ);
        return 99;
    }
    if (!strcmp(mode, "sysexecveat")) {            /* before syscall(SYS_execveat) 30044, after 30045 */
        leak(30044);
        char *argv2[] = { (char *)self, "leaf", "30045", NULL };
        syscall(SYS_execveat, AT_FDCWD, self, argv2, environ, 0);
        return 99;
    }
    if (!strcmp(mode, "sysexecfail")) {            /* a failing syscall(SYS_execve): -1, ENOENT; 30046 */
        char *argv2[] = { "x", NULL };
        long r = syscall(SYS_execve, "/nonexistent/program", argv2, environ);
        leak(30046);
        say(r == -1 && errno == ENOENT ? "sysexecve failed as expected\n" : "sysexecve bad\n");
        return 0;
    }
    if (!strcmp(mode, "execfail")) {               /* failed exec: tracing goes on, 30011 */
        execl("/nonexistent/program", "x", (char *)NULL);
        leak(30011);
        say("exec failed as expected\n");
        return 0;
    }
    if (!strcmp(mode, "vfork")) {                  /* child execs leaf 30005; then _exit(7) */
        pid_t p = vfork();
        if (p == 0) {
            execl(self, self, "leaf", "30005", (char *)NULL);
            _exit(127);
        }
        int st;
        waitpid(p, &st, 0);
        pid_t q = vfork();
        if (q == 0) _exit(7);
        int st2;
        waitpid(q, &st2, 0);
        leak(30012);
        say(WEXITSTATUS(st) == 0 && WEXITSTATUS(st2) == 7 ? "vfork ok\n" : "vfork bad\n");
        return 0;
    }
    if (!strcmp(mode, "alarm_exit") || !strcmp(mode, "alarm__exit")) {
                                                   /* 30040 (30041); a SIGALRM handler calls
                                                      exit(4) (_exit(4)) while the loop
                                                      allocates (in a hook, mostly) */
        bool plain = mode[6] != '_';
        leak(plain ? 30040 : 30041);
        signal(SIGALRM, plain ? exit_from_alarm : _exit_from_alarm);
        struct itimerval it = { { 0, 0 }, { 0, 20000 } };
        setitimer(ITIMER_REAL, &it, NULL);
        for (unsigned long i = 0;; i++) {
            churned = malloc(16 + (i & 1023));
            free(churned);
        }
    }
    if (!strcmp(mode, "clone_vm")) {               /* a clone(CLONE_VM|CLONE_VFORK) child execs
                                                      leaf 30038; then 30039 */
        pid_t p = clone(clone_child, clone_stack + sizeof clone_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
        int st = 0;
        if (p > 0) waitpid(p, &st, 0);
        leak(30039);
        say(p > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "clone_vm ok\n" : "clone_vm bad\n");
        return 0;
    }
    if (!strcmp(mode, "vfork_exit")) {             /* the vfork child calls exit(), not _exit
                                                      (a common mistake); then 30037 */
        pid_t p = vfork();
        if (p == 0) exit(0);
        int st;
        waitpid(p, &st, 0);
        leak(30037);
        say(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "vfork_exit ok\n" : "vfork_exit bad\n");
        return 0;
    }
    if (!strcmp(mode, "spawn")) {                  /* leaf 30006 */
        pid_t p;
        char *args[] = { (char *)self, "leaf", "30006", NULL };
        int rc = posix_spawn(&p, self, NULL, NULL, args, environ);
        int st = 0;
        if (rc == 0) waitpid(p, &st, 0);
        say(rc == 0 && WEXITSTATUS(st) == 0 ? "spawn ok\n" : "spawn bad\n");
        return 0;
    }
    if (!strcmp(mode, "ownenv")) {                 /* 30021; children given environments of
                                                      its own making: posix_spawn leaf 30022 with
                                                      FOO and MEMWATCH_RSS_MS=0 only, then exec
                                                      of "env" mode with none at all */
        leak(30021);
        pid_t p;
        char *args[] = { (char *)self, "leaf", "30022", NULL };
        char *env1[] = { "FOO=1", "MEMWATCH_RSS_MS=0", NULL };
        int rc = posix_spawn(&p, self, NULL, NULL, args, env1);
        int st = 0;
        if (rc == 0) waitpid(p, &st, 0);
        say(rc == 0 && WEXITSTATUS(st) == 0 ? "spawn ok\n" : "spawn bad\n");
        char *env2[] = { NULL };
        execle(self, self, "env", (char *)NULL, env2);
        return 1;
    }
    if (!strcmp(mode, "env")) {                    /* 30023; prints its environment */
        leak(30023);
        for (char **e = environ; *e; e++) {
            say(*e);
            say("\n");
        }
        say("env end\n");
        return 0;
    }
    if (!strcmp(mode, "rawfork")) {                /* 30024; a child by the fork system call
                                                      itself (no atfork handlers: the shim does
                                                      not see it) churns 200 000 x 777 bytes and
                                                      leaks 30025 while the parent churns
                                                      200 000 x 555 bytes */
        leak(30024);
        pid_t p = (pid_t)syscall(SYS_fork);
        if (p == 0) {
            for (int i = 0; i < 200000; i++) {
                churned = malloc(777);
                free(churned);
            }
            leak(30025);
            _exit(3);
        }
        for (int i = 0; i < 200000; i++) {
            churned = malloc(555);
            free(churned);
        }
        int st = 0;
        if (p > 0) waitpid(p, &st, 0);
        say(p > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 3 ? "rawfork ok\n" : "rawfork bad\n");
        return 0;
    }
    if (!strcmp(mode, "cdexec")) {                 /* 30026; changes directory, then execs
                                                      leaf 30027 (argv[0] must be absolute) */
        leak(30026);
        if (chdir("/") != 0) return 1;
        execl(self, self, "leaf", "30027", (char *)NULL);
        return 1;
    }
    if (!strcmp(mode, "unshare")) {                /* 30028 before, 30029 after entering a
                                                      new user namespace (which the kernel
                                                      allows only a single-threaded process) */
        leak(30028);
        int rc = unshare(CLONE_NEWUSER);
        char m[64];
        snprintf(m, sizeof m, rc == 0 ? "unshare ok\n" : "unshare failed: %s\n", strerror(errno));
        say(m);
        leak(30029);
        return 0;
    }
    if (!strcmp(mode, "setns")) {                  /* 30030 before, 30031 after joining a
                                                      child's new user namespace with setns
                                                      (single-threaded only, as unshare) */
        leak(30030);
        int go[2], ready[2];
        if (pipe(go) != 0 || pipe(ready) != 0) return 1;
        pid_t c = fork();
        if (c < 0) return 1;
        if (c == 0) { /* a namespace to join: kept until the parent is done */
            char b = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
            if (write(ready[1], &b, 1) != 1) _exit(1);
            if (read(go[0], &b, 1) < 0) _exit(1);
            _exit(0);
        }
        char b = 'n', path[64], m[96];
        if (read(ready[0], &b, 1) != 1 || b != 'y') {
            say("setns: no user namespace to join\n");
        } else {
            snprintf(path, sizeof path, "/proc/%d/ns/user", (int)c);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            int rc = fd < 0 ? -1 : setns(fd, CLONE_NEWUSER);
            snprintf(m, sizeof m, rc == 0 ? "setns ok\n" : "setns failed: %s\n", strerror(errno));
            say(m);
            if (fd >= 0) close(fd);
        }
        if (write(go[1], "x", 1) != 1) return 1;
        waitpid(c, NULL, 0);
        leak(30031);
        return 0;
    }
    if (!strcmp(mode, "system")) {                 /* sh -c 'leaf 30007' */
        snprintf(cmd, sizeof cmd, "%s leaf 30007", self);
        fflush(stdout);
        int rc = system(cmd);
        say(rc == 0 ? "system ok\n" : "system bad\n");
        return 0;
    }
    if (!strcmp(mode, "popen")) {                  /* leaf 30008 through a pipe */
        snprintf(cmd, sizeof cmd, "%s leaf 30008", self);
        FILE *f = popen(cmd, "r");
        char line[64] = "";
        if (f && fgets(line, sizeof line, f)) say(line);
        say(f && pclose(f) == 0 ? "popen ok\n" : "popen bad\n");
        return 0;
    }
    if (!strcmp(mode, "thread_exit")) {            /* exit(5) from a thread, leaks 30010 */
        pthread_t t;
        pthread_create(&t, NULL, exit_thread, NULL);
        pthread_join(t, NULL);
        return 1;
    }
    if (!strcmp(mode, "main_pthread_exit")) {      /* 30016 and 30017 in globals; status 0 */
        leak(30016);
        pthread_t t;
        if (pthread_create(&t, NULL, last_thread, NULL) != 0) return 2;
        pthread_exit(NULL);
    }
    if (!strcmp(mode, "fds")) {                    /* the numbers open() gives; leaks 30018 */
        for (int i = 0; i < 100; i++) {            /* the shim has unwound */
            churned = malloc(16 + (size_t)i);
            free(churned);
        }
        leak(30018);
        int a = open("/dev/null", O_RDONLY);
        int b = open("/dev/null", O_RDONLY);
        closefrom(3);                              /* what daemons do */
        int c = open("/dev/null", O_RDONLY);
        for (int i = 0; i < 100; i++) {
            churned = malloc(20000 + (size_t)i);
            free(churned);
        }
        /* 300 ms of open/close, across the writer's RSS samples (every 100 ms): the number
         * open() gives must never change (it did when the shim opened /proc at each sample) */
        close(c);
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        long opens = 0, moved = 0;
        do {
            int d = open("/dev/null", O_RDONLY);
            if (d != c) moved++;
            if (d >= 0) close(d);
            opens++;
            clock_gettime(CLOCK_MONOTONIC, &now);
        } while ((now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) < 300000000L);
        char m[128];
        snprintf(m, sizeof m, "fds %d %d, after closefrom %d, %s\n", a, b, c,
                 moved ? "numbers moved" : "numbers kept");
        say(m);
        (void)opens;
        return 0;
    }
    if (!strcmp(mode, "_exit")) {                  /* leaks 30009, _exit(6) */
        leak(30009);
        say("bye\n");
        _exit(6);
    }
    if (!strcmp(mode, "exit_group")) {             /* leaks 30034, syscall(SYS_exit_group, 9) */
        leak(30034);
        syscall(SYS_exit_group, 9);
    }
    if (!strcmp(mode, "quick_exit")) {             /* leaks 30015, quick_exit(8) */
        leak(30015);
        quick_exit(8);
    }
    if (!strcmp(mode, "abort")) {                  /* leaks 30013, then waits 600 ms, aborts */
        leak(30013);
        say("aborting\n");
        struct timespec ts = { 0, 600 * 1000000 };
        nanosleep(&ts, NULL);
        abort();
    }
    if (!strcmp(mode, "teardown")) {               /* leaks 30016, builds and frees 100 000
                                                      blocks in order, then sleeps (killed) */
        leak(30016);
        enum { N = 100000 };
        void **v = malloc(N * sizeof *v);
        for (int i = 0; i < N; i++) v[i] = malloc(16 + (size_t)(i % 48));
        for (int i = 0; i < N; i++) free(v[i]);
        say("torn down\n");
        for (;;) {
            struct timespec ts = { 1, 0 };
            nanosleep(&ts, NULL);
        }
    }
    if (!strcmp(mode, "spin")) {                   /* allocates forever (the test kills it) */
        leak(30014);
        say("spinning\n");
        for (unsigned long i = 0;; i++) {
            void *p = malloc(64 + (i & 255));
            sink = p;
            free(p);
            if ((i & 1023) == 0) {
                struct timespec ts = { 0, 1000000 };
                nanosleep(&ts, NULL);
            }
        }
    }
    say("unknown mode\n");
    return 2;
}
