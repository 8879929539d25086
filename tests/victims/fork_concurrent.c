/*
 * fork_concurrent.c — victim: four threads fork at the same time (tests/integration/
 * test_shim_inherit.c). main keeps 160 blocks of 100 bytes; each thread forks 40 children,
 * each of which frees the kept block of its own number and ends with _exit. glibc runs the
 * atfork handlers of concurrent forks at once; the shim's take turns (preload/inherit.c):
 * before, two forks each took half the tables' locks, waited for the other's, and the
 * children said "tables were busy" on stderr, or the program hung.
 *
 *     fork_concurrent     prints: bad 0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define PER_THREAD 40
static void *keep[THREADS * PER_THREAD];

static void *forker(void *arg)
{
    long id = (long)arg, bad = 0;
    for (int k = 0; k < PER_THREAD; k++) {
        void *tmp = malloc(50 + (size_t)id);
        pid_t c = fork();
        if (c == 0) {
            free(keep[id * PER_THREAD + k]);
            free(tmp);
            _exit(0);
        }
        int st = 0;
        if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
        free(tmp);
    }
    return (void *)bad;
}

int main(void)
{
    for (int i = 0; i < THREADS * PER_THREAD; i++)
        if (!(keep[i] = malloc(100))) return 1;
    pthread_t t[THREADS];
    long bad = 0;
    for (long i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, forker, (void *)i)) return 1;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    for (int i = 0; i < THREADS * PER_THREAD; i++) free(keep[i]);
    printf("bad %ld\n", bad);
    return bad != 0;
}
