/*
 * reach_threads.c — thread cases of the reachability scan (test_reach_victims.c and the
 * valgrind reference test): exit() is called by a secondary thread while main is blocked.
 *
 * Unfreed at exit:
 *   3001  on the stack of a live thread blocked in read()           reachable
 *   3003  leaked by a thread that exited (pointer only on its dead stack) definite
 *   3005  in a __thread variable of a thread that exited: glibc keeps its TLS with the
 *         cached stack (not reused here), valgrind scans it, so do we  reachable
 *   3007  on main's stack while main waits in pthread_join          reachable
 *   3009  on the stack of the thread that calls exit()              reachable
 *   3011  only in dead stack of the blocked thread, below its sp and right below its static
 *         TLS (the top of its stack, where the shim once took TLS to begin) definite
 *
 * With the argument "merged" [N]: N threads (default 10, at most 4 000) of 64 KiB stacks
 * started one after another, each once the one before is running, all alive until the last
 * has allocated; the last one leaks 3013 (its pointer only on its own stack, dead once it
 * exits); main joins them and returns. Under the shim each thread's own mappings (its
 * alternate signal stack) sit right above the next thread's stack, and the kernel merges the
 * two mappings into one: the scan must still find the cached stack's top there (before
 * 22:00 UTC on 2026-11-22 it did not, and 3013 came out reachable every time).
 *   3013  leaked by a thread that exited, its stack merged with a mapping above   definite
 *
 * With the argument "alive" N: N threads (at most 8 000, 64 KiB stacks) each keep a block of
 * 3019 bytes only in a local variable and wait; main calls exit() once all are up.
 *   3019  x N, each on the stack of a live thread                           reachable
 *
 * With the argument "busy" N: the same, each thread first making 70 000 malloc/free pairs
 * (under the shim its live-block table is then biased to it: preload/live_impl.h), its
 * block of 3021 bytes.
 *   3021  x N, each on the stack of a live thread whose table is biased    reachable
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int g_block[2], g_ready[2];
static __thread void *volatile t_kept;

static void *mk(size_t n)
{
    void *p = malloc(n);
    memset(p, 0x11, n);
    return p;
}

/* Leaves p in the lowest 64 of 160 words of this frame, dead once it returns: below the
 * caller's sp (and the red zone under it) while it blocks, yet within 0x900 bytes of the
 * thread's static TLS block, which sits right above the top of its stack. */
static __attribute__((noinline)) void stash(void *p)
{
    void *volatile slots[160];
    for (int i = 0; i < 160; i++) slots[i] = i < 64 ? p : NULL;
    __asm__ volatile("" : : "r"(slots) : "memory");
}
/* read(2) without libc's wrapper, whose cancellation frames would cover stash's dead words:
 * the thread blocks with its sp at blocked()'s own frame. */
static long raw_read(int fd, void *buf, size_t n)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_read), "D"((long)fd), "S"(buf), "d"(n)
                     : "rcx", "r11", "memory");
    return r;
}
static void *blocked(void *arg)
{
    stash(mk(3011));
    void *volatile mine = mk(3001);
    char c;
    if (write(g_ready[1], "r", 1) != 1) return arg;
    while (raw_read(g_block[0], &c, 1) != 0) {}
    return mine;
}

/* Overwrites dead stack below the caller: a later thread reusing this cached stack must not
 * find stale pointers in its uninitialised slots (valgrind ignores undefined words; a native
 * scan cannot tell them apart). */
static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
}

static __attribute__((noinline)) void leak_two(void)
{
    (void)mk(3003);
    t_kept = mk(3005);   /* kept: this thread's TLS stays with its cached stack */
}

static void *leaker(void *arg)
{
    leak_two();          /* its frame (and spills) lie below ours: scrubbed next */
    scrub_stack();
    return arg;
}

static void *exiter(void *arg)
{
    void *volatile q = mk(3009);
    char c;
    if (read(g_ready[0], &c, 1) != 1) return arg;   /* the blocked thread is in place */
    usleep(20000);
    printf("reach_threads exiting from a thread %p\n", q == NULL ? NULL : arg);
    fflush(stdout);
    scrub_stack();
    exit(0);
}

#define MERGED_THREADS 10
static long g_merged = MERGED_THREADS;
static pthread_barrier_t g_all_up;
static sem_t g_running;

static __attribute__((noinline)) void leak_one(void)
{
    void *volatile p = mk(3013);
    __asm__ volatile("" : : "r"(&p) : "memory");
}

static void *merged_thread(void *arg)
{
    free(malloc(16));
    sem_post(&g_running);
    if ((long)arg == g_merged - 1) leak_one();
    pthread_barrier_wait(&g_all_up);
    return arg;
}

static int merged(void)
{
    static pthread_t t[4000];
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 * 1024);
    pthread_barrier_init(&g_all_up, NULL, (unsigned)g_merged + 1);
    sem_init(&g_running, 0, 0);
    for (long i = 0; i < g_merged; i++) {
        if (pthread_create(&t[i], &at, merged_thread, (void *)i) != 0) return 2;
        sem_wait(&g_running);
    }
    pthread_barrier_wait(&g_all_up);
    for (long i = 0; i < g_merged; i++) pthread_join(t[i], NULL);
    pthread_attr_destroy(&at);
    printf("reach_threads merged %ld\n", g_merged);
    return 0;
}

static sem_t g_alive_up;

static size_t g_alive_size = 3019;
static long g_alive_pairs;

static void *alive_thread(void *arg)
{
    for (long i = 0; i < g_alive_pairs; i++) {
        void *volatile p = malloc(16 + (size_t)(i % 64));
        free(p);
    }
    void *volatile kept = mk(g_alive_size);
    sem_post(&g_alive_up);
    for (;;) pause();
    return kept == NULL ? arg : NULL;
}

static int alive(long n)
{
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 * 1024);
    sem_init(&g_alive_up, 0, 0);
    for (long i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, &at, alive_thread, NULL) != 0) return 2;
    }
    for (long i = 0; i < n; i++) sem_wait(&g_alive_up);
    printf("reach_threads %s %ld\n", g_alive_pairs ? "busy" : "alive", n);
    fflush(stdout);
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "alive") == 0) {
        long n = strtol(argv[2], NULL, 10);
        return n >= 1 && n <= 8000 ? alive(n) : 2;
    }
    if (argc > 2 && strcmp(argv[1], "busy") == 0) {
        long n = strtol(argv[2], NULL, 10);
        g_alive_pairs = 70000;
        g_alive_size = 3021;
        return n >= 1 && n <= 1000 ? alive(n) : 2;
    }
    if (argc > 1 && strcmp(argv[1], "merged") == 0) {
        if (argc > 2) g_merged = strtol(argv[2], NULL, 10);
        if (g_merged < 1 || g_merged > 4000) return 2;
        return merged();
    }
    if (pipe(g_block) != 0 || pipe(g_ready) != 0) return 2;
    pthread_t a, b, c;
    if (pthread_create(&b, NULL, leaker, NULL) != 0) return 2;
    pthread_join(b, NULL);
    /* Other stack sizes: the leaker's cached stack is not reused, so no later thread has its
     * stale words in uninitialised slots of live frames (valgrind ignores undefined words, a
     * native scan cannot tell them apart). */
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 512 * 1024);
    if (pthread_create(&a, &at, blocked, NULL) != 0) return 2;
    void *volatile m = mk(3007);
    if (pthread_create(&c, &at, exiter, NULL) != 0) return 2;
    pthread_join(c, NULL);   /* never returns: exiter calls exit() */
    return m != NULL ? 3 : 4;
}
