/*
 * atfork_first.c — a program whose first allocation is inside pthread_atfork, called by its
 * library's constructor (lib/atfork_ctor.c) before the shim's: the shim starts tracing there
 * and must not register its own fork handlers under the lock glibc holds (the program hung
 * for ever, 2026-11-23). Then forks a child that forgets 321 bytes; prints how often the
 * library's handlers ran in the parent and in the child.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern int atfork_ctor_calls[3];

int main(void)
{
    fflush(stdout);
    pid_t p = fork();
    if (p < 0) return 1;
    if (p == 0) {
        void *volatile lost = malloc(321);
        memset(lost, 1, 321);
        lost = NULL;
        printf("child: child handlers %d\n", atfork_ctor_calls[2]);
        return 0;
    }
    int st = 0;
    if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 2;
    printf("parent: prepare %d, parent %d\n", atfork_ctor_calls[0], atfork_ctor_calls[1]);
    return 0;
}
