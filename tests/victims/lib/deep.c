/*
 * deep.c — a library for the RTLD_DEEPBIND victim (shim_deepbind.c), built twice: with
 * -z now (every GOT slot bound at load, then read-only) and with -z lazy (slots bound on
 * first call). Loaded with RTLD_DEEPBIND, its malloc family binds to libc, past the shim.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* What this library's GOT holds for malloc now (a GLOB_DAT slot: taking the address). */
void *deep_malloc_slot(void) { return (void *)&malloc; }

/* n blocks of `size` bytes through malloc, calloc and realloc; keeps them. */
void **deep_alloc(int n, size_t size)
{
    void **v = calloc((size_t)n, sizeof *v);
    if (!v) return NULL;
    for (int i = 0; i < n; i++) {
        v[i] = malloc(size / 2);
        if (v[i]) v[i] = realloc(v[i], size);
        if (v[i]) memset(v[i], i, size);
    }
    return v;
}

void deep_free(void *p) { free(p); }

/* A mapping made and dropped by the library. */
int deep_map(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
    memset(p, 1, len);
    return munmap(p, len);
}
