/*
 * nproc_limit.c — a program that uses every task its RLIMIT_NPROC allows: run as a user of
 * its own with the limit at 2, it starts one thread ("thread" mode), forks one child ("fork"),
 * spawns /bin/true ("spawn", posix_spawn), runs "exit 3" through system() ("system") or reads
 * a line from popen("echo hi") ("popen"), which natively fits (2 tasks). Under the shim the
 * writer thread is a task of the user's too: the program's call must still succeed (the shim
 * gives way, preload/yield.c).
 */
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *run(void *a) { return a; }

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "thread";
    free(malloc(1000));
    if (!strcmp(mode, "thread")) {
        pthread_t t;
        int rc = pthread_create(&t, NULL, run, NULL);
        printf("pthread_create: %s\n", rc ? strerror(rc) : "ok");
        if (!rc) pthread_join(t, NULL);
    } else if (!strcmp(mode, "spawn")) {
        pid_t p;
        char *av[] = { "/bin/true", NULL };
        extern char **environ;
        int rc = posix_spawn(&p, "/bin/true", NULL, NULL, av, environ), st = 0;
        if (!rc) waitpid(p, &st, 0);
        printf("posix_spawn: %s, child status %d\n", rc ? strerror(rc) : "ok", rc ? -1 : WEXITSTATUS(st));
    } else if (!strcmp(mode, "system")) {
        fflush(stdout);
        int st = system("exit 3");
        printf("system: %s\n", st == -1 ? strerror(errno) : WEXITSTATUS(st) == 3 ? "ok, status 3" : "bad status");
    } else if (!strcmp(mode, "popen")) {
        fflush(stdout);
        FILE *f = popen("echo hi", "r");
        char line[16] = "";
        if (f) {
            if (!fgets(line, sizeof line, f)) line[0] = 0;
            pclose(f);
        }
        printf("popen: %s, read %s", f ? "ok" : strerror(errno), f ? line : "nothing\n");
    } else {
        fflush(stdout);
        pid_t p = fork();
        if (p == 0) _exit(7);
        int st = 0;
        if (p > 0) waitpid(p, &st, 0);
        printf("fork: %s, child status %d\n", p < 0 ? strerror(errno) : "ok", p > 0 ? WEXITSTATUS(st) : -1);
    }
    free(malloc(2000));
    return 0;
}
