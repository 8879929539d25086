/*
 * bump_alloc.c — a malloc of a test's own (tests/victims): a bump allocator over a static
 * 64 MiB arena behind one mutex, which, like jemalloc, tcmalloc or chromium's PartitionAlloc,
 * takes that mutex in a pthread_atfork prepare handler and frees it in the parent and child
 * handlers, registered when bump_register_atfork() is called (after the shim's: jemalloc
 * registers at its first use). Built into own_malloc (the executable's own malloc, ahead of
 * the shim) and as libbump_alloc.so (preloaded after the shim: the shim's "next" malloc).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

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
void bump_register_atfork(void) { pthread_atfork(before_fork, after_fork, after_fork); }
