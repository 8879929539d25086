/*
 * fork_child_threads.c — victim: a fork child whose first frees of inherited blocks come from
 * four threads at once (tests/integration/test_shim_inherit.c). The parent keeps 400 blocks
 * of 100 bytes; the child starts four threads that wait for each other, then each frees 100
 * of them. The first free records the inherited blocks (preload/inherit.c); a thread whose
 * free came while another was recording them lost that free (the block stayed live in the
 * trace) before 05:16 UTC on 2026-11-23.
 *
 *     fork_child_threads  prints: child 0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *keep[400];
static pthread_barrier_t start;

static void *freer(void *arg)
{
    long id = (long)arg;
    pthread_barrier_wait(&start);
    for (int i = 0; i < 100; i++) free(keep[id * 100 + i]);
    return NULL;
}

int main(void)
{
    for (int i = 0; i < 400; i++)
        if (!(keep[i] = malloc(100))) return 1;
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) return 1;
    if (c == 0) {
        pthread_t t[4];
        pthread_barrier_init(&start, NULL, 4);
        for (long i = 0; i < 4; i++)
            if (pthread_create(&t[i], NULL, freer, (void *)i)) _exit(1);
        for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
        _exit(0);
    }
    int st = 0;
    if (waitpid(c, &st, 0) != c) return 1;
    for (int i = 0; i < 400; i++) free(keep[i]);
    printf("child %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128);
    return 0;
}
