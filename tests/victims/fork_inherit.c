/*
 * fork_inherit.c — victim: fork children that use, free, realloc and leak the blocks they got
 * from their parent (tests/integration/test_shim_inherit.c, and test_reference_leaks.c against
 * valgrind).
 *
 * The parent allocates a table `g` (a global points to it) and blocks of 1111, 2222 and 5555
 * bytes; a worker thread, still alive at the fork, allocates 777 bytes (in its own live-block
 * table, not the main thread's) and 888 that only its stack points to: in the children, which
 * have no such thread, its stack is still their memory (reachable, as valgrind says). The
 * child then:
 *   - puts a new 3333-byte block in the inherited table (reachable only through it),
 *   - frees the inherited 1111 and the worker's 777,
 *   - reallocs the inherited 5555 to 6666 (kept in the table),
 *   - drops its copy of 2222 (definitely lost: allocated in the parent),
 *   - leaks 4444 of its own,
 *   - forks a grandchild, which frees the 3333 it inherited from the child, leaks 99 of its
 *     own and drops the table slot of 6666 (the child's realloc: definitely lost there); the
 *     2222 and 4444 the child had dropped before that fork are lost in the grandchild too,
 *     the 2222 allocated two processes up.
 * The parent waits, frees everything of its own and exits 0.
 *
 *     fork_inherit        prints: grandchild 0 / child 0 / parent 0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct table { void *slot[4]; };
/* Globals, not main's locals: a pointer left in main's frame (main is still running when a
 * child calls exit) would keep a dropped block reachable. */
static struct table *g;
static char *A, *B, *C;
static void *worker_block;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage; /* 1: the worker has allocated; 2: the parent has forked */

static void *worker(void *arg)
{
    (void)arg;
    void *w = malloc(777);
    memset(w, 7, 777);
    char *volatile on_stack = malloc(888); /* only this thread's stack points to it */
    memset(on_stack, 8, 888);
    pthread_mutex_lock(&mu);
    worker_block = w;
    stage = 1;
    pthread_cond_broadcast(&cv);
    while (stage < 2) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    free(on_stack);
    return NULL;
}

static int wait_child(pid_t c)
{
    int st = 0;
    if (waitpid(c, &st, 0) != c) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static __attribute__((noinline)) void grandchild(void)
{
    free(g->slot[0]);
    g->slot[0] = NULL;
    char *own = malloc(99);
    memset(own, 9, 99);
    __asm__ volatile("" ::"r"(own) : "memory");
    g->slot[1] = NULL;
}

static __attribute__((noinline)) void leak_own(void)
{
    char *mine = malloc(4444);
    memset(mine, 4, 4444);
    __asm__ volatile("" ::"r"(mine) : "memory");
}

static __attribute__((noinline)) int child(void)
{
    g->slot[0] = malloc(3333);
    free(A);
    free(worker_block);
    g->slot[1] = realloc(C, 6666);
    C = NULL; /* its old address may come back for the next malloc */
    B = NULL;
    leak_own();
    fflush(stdout);
    pid_t gc = fork();
    if (gc < 0) return 1;
    if (gc == 0) {
        grandchild();
        printf("grandchild 0\n");
        exit(0);
    }
    int r = wait_child(gc);
    printf("child %d\n", r);
    return r;
}

int main(void)
{
    g = calloc(1, sizeof *g);
    A = malloc(1111);
    B = malloc(2222);
    C = malloc(5555);
    if (!g || !A || !B || !C) return 1;
    memset(A, 1, 1111);
    memset(B, 2, 2222);
    memset(C, 5, 5555);
    pthread_t th;
    if (pthread_create(&th, NULL, worker, NULL)) return 1;
    pthread_mutex_lock(&mu);
    while (stage < 1) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);

    fflush(stdout);
    pid_t c = fork();
    if (c < 0) return 1;
    if (c == 0) exit(child());
    pthread_mutex_lock(&mu);
    stage = 2;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(th, NULL);
    int r = wait_child(c);
    free(worker_block);
    free(A);
    free(B);
    free(C);
    free(g);
    printf("parent %d\n", r);
    return r;
}
