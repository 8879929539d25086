/*
 * maps_per_thread.c — N threads (argv[1]) alive at once, each having allocated (so the shim
 * has set it up, stacks and all: a capture that unwinds, a signal stack), while main counts
 * the lines of /proc/self/maps; prints "maps M". For test_shim_runtime.c: how many mappings
 * the shim adds for each thread (vm.max_map_count bounds them all, 65 530 by default).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_barrier_t bar;

__attribute__((noinline)) static void *deep(int n)
{
    if (n == 0) return malloc(64);
    void *p = deep(n - 1);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 4; i++) free(deep(10 + i));
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    if (n < 1 || n > 4000) return 2;
    pthread_t *t = calloc((size_t)n, sizeof *t);
    pthread_barrier_init(&bar, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, worker, NULL) != 0) return 1;
    pthread_barrier_wait(&bar);
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 1;
    char line[1024];
    int maps = 0;
    while (fgets(line, sizeof line, f))
        if (strchr(line, '\n')) maps++;
    fclose(f);
    pthread_barrier_wait(&bar);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    free(t);
    printf("maps %d\n", maps);
    return 0;
}
