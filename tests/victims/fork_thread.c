/*
 * fork_thread.c — victim: a fork from a thread other than main (test_reference_leaks.c,
 * reference/fork_from_a_thread). main keeps a 5432-byte block only on its own stack and waits;
 * the thread forks, and the child exits. In the child, which has only the forking thread,
 * main's stack ([stack]) is still its memory and points to the block: reachable, as valgrind
 * says (the exit scan took only live threads' stacks, and called it definitely lost).
 *
 *     fork_thread         prints: ok
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *forker(void *arg)
{
    (void)arg;
    pid_t c = fork();
    if (c == 0) exit(0);
    if (c > 0) waitpid(c, NULL, 0);
    return NULL;
}

int main(void)
{
    char *volatile mine = malloc(5432);
    if (!mine) return 1;
    memset(mine, 1, 5432);
    pthread_t t;
    if (pthread_create(&t, NULL, forker, NULL)) return 1;
    pthread_join(t, NULL);
    free(mine);
    printf("ok\n");
    return 0;
}
