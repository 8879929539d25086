/*
 * watch_modes.c — victim for the watch integration tests and bench/watch_*: one scenario per
 * argv[1], each printing "<mode> ok" (and a result line that must not change under memwatch):
 *   storm N R    N watched pages (one variable each), 4 threads write R rounds each
 *   samepage R   4 threads each write their own watched variable on ONE page, once (in turn),
 *                then R times all together
 *   bigread      read(2) and readv(2) into a 3-page watched buffer (kernel writes)
 *   sigblock     a writer thread with every signal blocked writes a watched variable 3 times
 *   unmap        a watched page is written, then munmap'ed; a new mapping is written after
 *   fork         parent writes, forks; the child writes the variable 1000 times and exits
 *   global       writes g_balance (.data) and g_counter (.bss): for MEMWATCH_WATCH=
 *   bulk         pread of 100 pages and a 20-page memcpy into one 100-page watched buffer
 *   stackvar     a thread watches a local variable on its own stack and increments it 5 times
 */
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memwatch.h"

#define FLAGS (MEMWATCH_TRACK_THREADS | MEMWATCH_MUTATION_FULL)

long g_balance = 5;
int g_counter;

static int64_t watch(void *p, size_t n, const char *name)
{
    return memwatch_watch ? memwatch_watch(p, n, name, FLAGS) : -1;
}

/* ---- storm ----------------------------------------------------------------------------- */
static uint8_t *storm_base;
static long storm_pages, storm_rounds;

static volatile int64_t *storm_var(long k) { return (volatile int64_t *)(storm_base + k * 4096 + (k % 500) * 8); }

static void *storm_thread(void *arg)
{
    long t = (long)arg;
    for (long r = 1; r <= storm_rounds; r++)
        for (long k = t; k < storm_pages; k += 4) *storm_var(k) = r * 100000 + k;
    return NULL;
}

static int storm(long pages, long rounds)
{
    storm_pages = pages;
    storm_rounds = rounds;
    storm_base = mmap(NULL, (size_t)pages * 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (storm_base == MAP_FAILED) return 2;
    long watched = 0;
    for (long k = 0; k < pages; k++) {
        char name[32];
        snprintf(name, sizeof name, "v%ld", k);
        if (watch((void *)storm_var(k), 8, name) > 0) watched++;
    }
    pthread_t th[4];
    for (long t = 0; t < 4; t++) pthread_create(&th[t], NULL, storm_thread, (void *)t);
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    long long sum = 0;
    for (long k = 0; k < pages; k++) sum += *storm_var(k);
    printf("storm watched %ld writes %ld sum %lld\n", watched, pages * rounds, sum);
    printf("storm ok\n");
    return 0;
}

/* ---- samepage ------------------------------------------------------------------------- */
static volatile int64_t *same_vars;
static long same_rounds;

static pthread_barrier_t same_start;
static sem_t same_warm;

static void *same_thread(void *arg)
{
    long t = (long)arg;
    /* One write each, one thread after the other: from then on memwatch knows the page has
     * several writers and pauses the others at every step (a thread's very first write to
     * a page can be merged into another thread's step: README "watch"). */
    same_vars[t * 8] = 1000 + t;
    sem_post(&same_warm);
    pthread_barrier_wait(&same_start);
    for (long i = 1; i <= same_rounds; i++) same_vars[t * 8] = i * 10 + t;
    return NULL;
}

static int samepage(long rounds)
{
    same_rounds = rounds;
    same_vars = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (long t = 0; t < 4; t++) {
        char name[16];
        snprintf(name, sizeof name, "s%ld", t);
        watch((void *)&same_vars[t * 8], 8, name);
    }
    pthread_t th[4];
    pthread_barrier_init(&same_start, NULL, 4);
    sem_init(&same_warm, 0, 0);
    for (long t = 0; t < 4; t++) {
        pthread_create(&th[t], NULL, same_thread, (void *)t);
        sem_wait(&same_warm);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    printf("samepage %lld %lld %lld %lld\nsamepage ok\n", (long long)same_vars[0],
           (long long)same_vars[8], (long long)same_vars[16], (long long)same_vars[24]);
    return 0;
}

/* ---- bigread --------------------------------------------------------------------------- */
static int bigread(void)
{
    char path[] = "/tmp/mw-bigread-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 2;
    unlink(path);
    static uint8_t data[3 * 4096];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7 + 1);
    if (write(fd, data, sizeof data) != (ssize_t)sizeof data) return 3;
    uint8_t *buf = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(buf, 0, 4 * 4096);
    watch(buf, 3 * 4096, "buf");
    ssize_t n = pread(fd, buf, sizeof data, 0);
    if (n != (ssize_t)sizeof data || memcmp(buf, data, sizeof data) != 0) {
        printf("pread returned %zd\n", n);
        return 4;
    }
    memset(buf + 4096 * 3, 1, 16); /* unwatched page: no event */
    struct iovec iov[2] = { { buf + 100, 5000 }, { buf + 9000, 1000 } };
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 13 + 3);
    if (pwrite(fd, data, sizeof data, 0) != (ssize_t)sizeof data) return 5;
    n = preadv(fd, iov, 2, 0);
    if (n != 6000 || memcmp(buf + 100, data, 5000) != 0 || memcmp(buf + 9000, data + 5000, 1000) != 0) {
        printf("preadv returned %zd\n", n);
        return 6;
    }
    printf("bigread ok\n");
    return 0;
}

/* ---- sigblock -------------------------------------------------------------------------- */
static int64_t blocked_var;

static void *blocked_writer(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (int i = 1; i <= 3; i++) {
        blocked_var = i * 11;
        usleep(20000); /* longer than the 2 ms a blocked writer's page may stay open */
    }
    return NULL;
}

static int sig_blocked(void)
{
    int64_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    (void)p;
    watch(&blocked_var, sizeof blocked_var, "blocked");
    pthread_t t;
    pthread_create(&t, NULL, blocked_writer, NULL);
    pthread_join(t, NULL);
    printf("sigblock value %lld\nsigblock ok\n", (long long)blocked_var);
    return 0;
}

/* ---- unmap ----------------------------------------------------------------------------- */
static int unmap(void)
{
    uint8_t *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    volatile int64_t *v = (volatile int64_t *)(p + 4096 + 64);
    watch((void *)v, 8, "mapped");
    *v = 1;
    munmap(p, 2 * 4096);
    uint8_t *q = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    volatile int64_t *w = (volatile int64_t *)(q + 4096 + 64);
    *w = 2; /* new memory, maybe at the same address: not watched */
    printf("unmap value %lld\nunmap ok\n", (long long)*w);
    return 0;
}

/* ---- fork ------------------------------------------------------------------------------ */
static int forker(void)
{
    int64_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    volatile int64_t *v = p + 8;
    watch((void *)v, 8, "shared");
    *v = 1;
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < 1000; i++) *v += 1;
        _exit((int)(*v & 0x7f));
    }
    int st = 0;
    waitpid(c, &st, 0);
    *v = 2;
    printf("fork child exit %d value %lld\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1, (long long)*v);
    printf("fork ok\n");
    return 0;
}

/* ---- bulk ------------------------------------------------------------------------------ */
static int bulk(void)
{
    size_t n = 100 * 4096;
    uint8_t *src = malloc(n), *buf = mmap(NULL, n, PROT_READ | PROT_WRITE,
                                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (size_t i = 0; i < n; i++) src[i] = (uint8_t)(i * 31 + 7);
    memset(buf, 0, n);
    char path[] = "/tmp/mw-bulk-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 2;
    unlink(path);
    if (write(fd, src, n) != (ssize_t)n) return 3;
    watch(buf, n, "bulk");
    ssize_t r = pread(fd, buf, n, 0);
    if (r != (ssize_t)n || memcmp(buf, src, n) != 0) { printf("pread %zd\n", r); return 4; }
    for (size_t i = 0; i < 20 * 4096; i++) src[i] ^= 0x55;
    memcpy(buf + 4096, src, 20 * 4096);
    if (memcmp(buf + 4096, src, 20 * 4096) != 0) return 5;
    printf("bulk ok\n");
    return 0;
}

/* ---- stackvar -------------------------------------------------------------------------- */
__attribute__((noinline)) static void bump(volatile int64_t *p) { *p += 1; }

static void *stack_thread(void *arg)
{
    volatile int64_t local = 0;
    int64_t id = watch((void *)&local, sizeof local, "local");
    for (int i = 0; i < 5; i++) bump(&local);
    if (id > 0 && memwatch_unwatch) memwatch_unwatch(id);
    *(int64_t *)arg = local;
    return NULL;
}

static int stackvar(void)
{
    int64_t result = 0;
    pthread_t t;
    pthread_create(&t, NULL, stack_thread, &result);
    pthread_join(t, NULL);
    printf("stackvar %lld\nstackvar ok\n", (long long)result);
    return 0;
}

/* ---- global ---------------------------------------------------------------------------- */
static int global(void)
{
    g_balance = 42;
    for (int i = 0; i < 3; i++) g_counter++;
    printf("global %ld %d\nglobal ok\n", g_balance, g_counter);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *m = argc > 1 ? argv[1] : "";
    if (!strcmp(m, "storm"))
        return storm(argc > 2 ? atol(argv[2]) : 1024, argc > 3 ? atol(argv[3]) : 4);
    if (!strcmp(m, "bigread")) return bigread();
    if (!strcmp(m, "samepage")) return samepage(argc > 2 ? atol(argv[2]) : 250);
    if (!strcmp(m, "sigblock")) return sig_blocked();
    if (!strcmp(m, "unmap")) return unmap();
    if (!strcmp(m, "fork")) return forker();
    if (!strcmp(m, "global")) return global();
    if (!strcmp(m, "bulk")) return bulk();
    if (!strcmp(m, "stackvar")) return stackvar();
    fprintf(stderr, "usage: watch_modes storm|bigread|sigblock|unmap|fork|global\n");
    return 64;
}
