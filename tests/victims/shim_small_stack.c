/*
 * shim_small_stack.c — victim: threads created with PTHREAD_STACK_MIN (16 KiB) stacks that
 * use 6 KiB of it themselves, then allocate through every kind of call (the shim's first
 * capture of a new thread unwinds with libunwind, which once needed more stack than such a
 * thread has left), and the last one calls exit() while holding blocks (the reachability scan
 * then runs on that thread: it once needed 40 KiB of its stack).
 *
 *     shim_small_stack      prints "small stacks ok N"; exit status 0
 *
 * Sizes: 43001 + i, one per thread, left unfreed and stored in a global (reachable);
 * 43100 held on the exiting thread's stack (reachable). Everything else is freed.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 16

static void *kept[THREADS];

/* Uses 6 KiB of the thread's stack, then allocates below that. */
static __attribute__((noinline)) void *work(long i)
{
    volatile char buf[6144];
    memset((char *)buf, (int)i, sizeof buf);
    char *a = malloc(100 + (size_t)i);
    char *b = calloc(3, 50);
    char *c = strdup("small stacks");
    a = realloc(a, 5000);
    if (!a || !b || !c) return NULL;
    a[0] = buf[100];
    free(c);
    free(b);
    free(a);
    return malloc(43001 + (size_t)i);
}

static void *run(void *arg)
{
    long i = (long)arg;
    kept[i] = work(i);
    return kept[i];
}

static void *exiter(void *arg)
{
    (void)arg;
    void *volatile held = malloc(43100);
    volatile char buf[4096];
    memset((char *)buf, 1, sizeof buf);
    int ok = 0;
    for (int i = 0; i < THREADS; i++) ok += kept[i] != NULL;
    printf("small stacks ok %d%s\n", ok, held && buf[7] == 1 ? "" : " (no block)");
    fflush(stdout);
    exit(0);
}

int main(void)
{
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, PTHREAD_STACK_MIN);
    for (long i = 0; i < THREADS; i++) {
        pthread_t t;
        if (pthread_create(&t, &at, run, (void *)i) != 0) return 2;
        if (pthread_join(t, NULL) != 0) return 2;
    }
    pthread_t e;
    if (pthread_create(&e, &at, exiter, NULL) != 0) return 2;
    pthread_join(e, NULL);   /* never returns: exiter calls exit() */
    return 3;
}
