/*
 * runner_child.c — a configurable process for the runner's tests.
 * Usage: runner_child clean | leak BYTES | exit CODE | kill | preload | sleep MS
 *                    | exec BYTES PROGRAM [ARGS...] | outlive MS BYTES
 * clean: allocates and frees; leak: loses BYTES in one block; exit: exits with CODE;
 * exec: keeps BYTES in one block, then becomes PROGRAM (its memory replaced, not leaked);
 * kill: dies of SIGTERM; preload: prints whether the LD_PRELOAD entries are loaded;
 * sleep: waits (for the signal-forwarding and job-control tests), printing "ready PID" first;
 * outlive: forks a child that outlives this process (as Python's multiprocessing resource
 * tracker does): the parent ends once the child has started, the child waits for that end
 * (its pipe's end of file), then MS milliseconds, then loses BYTES in one block and exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile g_sink;

int main(int argc, char **argv)
{
    if (argc < 2) return 64;
    char *tmp = malloc(100);
    snprintf(tmp, 100, "%s", argv[1]);
    free(tmp);
    if (!strcmp(argv[1], "clean")) {
        puts("clean");
        return 0;
    }
    if (!strcmp(argv[1], "leak") && argc > 2) {
        g_sink = malloc((size_t)atol(argv[2]));
        memset(g_sink, 1, (size_t)atol(argv[2]));
        g_sink = NULL;
        puts("leaked");
        return 0;
    }
    if (!strcmp(argv[1], "exit") && argc > 2) return atoi(argv[2]);
    if (!strcmp(argv[1], "exec") && argc > 3) {
        g_sink = malloc((size_t)atol(argv[2]));
        execv(argv[3], argv + 3);
        return 127;
    }
    if (!strcmp(argv[1], "kill")) {
        fflush(stdout);
        raise(SIGTERM);
        return 0;
    }
    if (!strcmp(argv[1], "preload")) {
        const char *p = getenv("LD_PRELOAD");
        printf("LD_PRELOAD=%s\n", p ? p : "");
        return 0;
    }
    if (!strcmp(argv[1], "outlive") && argc > 3) {
        int ready[2], gone[2];
        if (pipe(ready) || pipe(gone)) return 70;
        pid_t c = fork();
        if (c < 0) return 71;
        char b;
        if (c == 0) {
            close(ready[0]);
            close(gone[1]);
            if (write(ready[1], "r", 1) != 1) _exit(72);
            close(ready[1]);
            while (read(gone[0], &b, 1) > 0) {}
            usleep((useconds_t)atoi(argv[2]) * 1000);
            g_sink = malloc((size_t)atol(argv[3]));
            memset(g_sink, 1, (size_t)atol(argv[3]));
            g_sink = NULL;
            return 0;
        }
        close(ready[1]);
        close(gone[0]);
        if (read(ready[0], &b, 1) != 1) return 73;
        printf("parent %d ends, child %d goes on\n", (int)getpid(), (int)c);
        return 0;
    }
    if (!strcmp(argv[1], "sleep") && argc > 2) {
        printf("ready %d\n", (int)getpid());
        fflush(stdout);
        usleep((useconds_t)atoi(argv[2]) * 1000);
        return 0;
    }
    return 64;
}
