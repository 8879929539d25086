/*
 * own_malloc.c — a program with a malloc of its own, defined in the executable (as chromium's
 * PartitionAlloc is, or jemalloc, tcmalloc, mimalloc linked statically): every malloc in the
 * process, libc's own included, comes here and never reaches the shim's hooks. Like those
 * allocators it takes its lock in a pthread_atfork prepare handler and frees it in the child
 * handler, registered after the shim's. It allocates, maps a page, forks a child that
 * allocates and prints, waits for it, and prints "child ok" then "parent ok 0".
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARENA (64u << 20)
static _Alignas(64) unsigned char arena[ARENA];
static size_t used;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* 16 bytes before each block: its size */
static void *take(size_t align, size_t n)
{
    if (align < 16) align = 16;
    pthread_mutex_lock(&lock);
    size_t at = (used + 16 + align - 1) & ~(align - 1);
    void *p = NULL;
    if (at + n <= ARENA && n < ARENA) {
        ((size_t *)(arena + at))[-1] = n;
        p = arena + at;
        used = at + n;
    }
    pthread_mutex_unlock(&lock);
    if (!p) errno = ENOMEM;
    return p;
}

void *malloc(size_t n) { return take(16, n); }
void free(void *p) { (void)p; }
void *calloc(size_t a, size_t b)
{
    if (b && a > SIZE_MAX / b) { errno = ENOMEM; return NULL; }
    return take(16, a * b); /* the arena starts zeroed and is never reused */
}
void *realloc(void *p, size_t n)
{
    void *q = take(16, n);
    if (p && q) {
        size_t old = ((size_t *)p)[-1];
        memcpy(q, p, old < n ? old : n);
    }
    return q;
}
void *memalign(size_t a, size_t n) { return take(a, n); }
void *aligned_alloc(size_t a, size_t n) { return take(a, n); }
int posix_memalign(void **out, size_t a, size_t n)
{
    void *p = take(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
size_t malloc_usable_size(void *p) { return p ? ((size_t *)p)[-1] : 0; }

static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork(void) { pthread_mutex_unlock(&lock); }

int main(void)
{
    pthread_atfork(before_fork, after_fork, after_fork);
    char *s = strdup("kept");
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!s || m == MAP_FAILED) return 1;
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) return 1;
    if (c == 0) {
        char *t = malloc(100);
        snprintf(t, 100, "child %s", "ok");
        puts(t);
        return 0;
    }
    int st = 0;
    if (waitpid(c, &st, 0) != c) return 1;
    printf("parent ok %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    munmap(m, 4096);
    return 0;
}
