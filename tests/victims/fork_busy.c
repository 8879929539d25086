/*
 * fork_busy.c — victim: forks while other threads allocate and free without pause
 * (tests/integration/test_shim_inherit.c). Four threads churn malloc/free; main keeps 1000
 * blocks of 100 bytes and forks 30 children, one after another. Each child frees the
 * inherited block of its number, leaks 10 bytes of its own and ends with _exit. A fork
 * while a thread's live-block table is being changed must still give the child whole
 * tables: in each child's trace every free names a block the trace has.
 *
 *     fork_busy           prints: children 30 bad 0
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 30
static atomic_int stop;

static void *churn(void *arg)
{
    unsigned r = (unsigned)(uintptr_t)arg;
    void *v[64] = { 0 };
    while (!atomic_load(&stop)) {
        r = r * 1103515245u + 12345u;
        unsigned i = (r >> 8) % 64;
        free(v[i]);
        v[i] = malloc(16 + (r >> 20) % 2000);
    }
    for (int i = 0; i < 64; i++) free(v[i]);
    return NULL;
}

int main(void)
{
    static void *keep[1000];
    for (int i = 0; i < 1000; i++)
        if (!(keep[i] = malloc(100))) return 1;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1))) return 1;
    int bad = 0, n = 0;
    for (int k = 0; k < CHILDREN; k++) {
        pid_t c = fork();
        if (c == 0) {
            free(keep[k]);
            void *mine = malloc(10);
            __asm__ volatile("" ::"r"(mine) : "memory");
            _exit(0);
        }
        int st = 0;
        if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
        else n++;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 1000; i++) free(keep[i]);
    printf("children %d bad %d\n", n, bad);
    return bad != 0;
}
