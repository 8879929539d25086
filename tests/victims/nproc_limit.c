/*
 * nproc_limit.c — a program that uses every task its RLIMIT_NPROC allows: run as a user of
 * its own with the limit at 2, it starts one thread ("thread" mode) or forks one child ("fork"
 * mode), which natively fits (2 tasks). Under the shim the writer thread is a task of the
 * user's too: the program's call must still succeed (the shim gives way, preload/yield.c).
 */
#include <errno.h>
#include <pthread.h>
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
