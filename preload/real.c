/*
 * real.c — the real allocation functions (dlsym RTLD_NEXT) and the bootstrap pool.
 *
 * dlsym() itself calls calloc/malloc before we know where the real ones are; those requests
 * are served from a static pool and recognised later by address range (free of a pool block
 * is a no-op, malloc_usable_size answers from the block's size prefix). Resolution happens
 * once, under the recursion guard, either from the constructor or lazily from the first hook.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "mw_core.h"

mw_real_fns mw_real;

/* ---- bootstrap pool ---------------------------------------------------------------------- */
#define POOL_SIZE MW_POOL_SIZE
_Alignas(64) unsigned char mw_pool[POOL_SIZE];
#define pool mw_pool
static _Atomic size_t pool_used;

/* Each block: 16-byte prefix holding its usable size, then the data (16-aligned, or more). */
void *mw_pool_alloc(size_t size, size_t align)
{
    if (align < 16) align = 16;
    if (size > POOL_SIZE) return NULL;
    size_t need = (size + 15u) & ~(size_t)15u;
    size_t old = atomic_load(&pool_used);
    for (;;) {
        size_t start = (old + 16u + align - 1u) & ~(align - 1u);
        size_t end = start + need;
        if (end > POOL_SIZE) return NULL;
        if (atomic_compare_exchange_weak(&pool_used, &old, end)) {
            *(size_t *)(pool + start - sizeof(size_t)) = need;
            return pool + start; /* static storage: already zero */
        }
    }
}

size_t mw_pool_usable(const void *p)
{
    return *(const size_t *)((const unsigned char *)p - sizeof(size_t));
}

/* ---- resolution ------------------------------------------------------------------------ */
static _Atomic int resolved;

#define RESOLVE(field, name) mw_real.field = (__typeof__(mw_real.field))dlsym(RTLD_NEXT, name)

void mw_real_resolve(void)
{
    if (atomic_load_explicit(&resolved, memory_order_acquire)) return;
    int g = mw_guard_enter();
    RESOLVE(malloc, "malloc");
    RESOLVE(free, "free");
    RESOLVE(calloc, "calloc");
    RESOLVE(realloc, "realloc");
    RESOLVE(memalign, "memalign");
    RESOLVE(posix_memalign, "posix_memalign");
    RESOLVE(aligned_alloc, "aligned_alloc");
    RESOLVE(valloc, "valloc");
    RESOLVE(pvalloc, "pvalloc");
    RESOLVE(reallocarray, "reallocarray");
    RESOLVE(malloc_usable_size, "malloc_usable_size");
    RESOLVE(mmap, "mmap");
    RESOLVE(munmap, "munmap");
    RESOLVE(mremap, "mremap");
    mw_backtrace_resolve(); /* hooks_backtrace.c */
    mw_guard_leave(g);
    atomic_store_explicit(&resolved, 1, memory_order_release);
}

/* Looks for `name` in the next object, then in every loaded object (SQL client libraries are
 * often loaded RTLD_LOCAL, e.g. by Python's _sqlite3 module), from their symbol tables in
 * memory (dynsym.c: no dlopen, no dlsym, nothing the loader keeps or the program sees). */
struct find_arg {
    const char *name;
    void *found;
};

#include <link.h>

static int find_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct find_arg *a = data;
    if (!info->dlpi_name || !info->dlpi_name[0]) return 0;
    /* skip our own definition (the shim exports the hooked names) */
    if (mw_self_path && strcmp(info->dlpi_name, mw_self_path) == 0) return 0;
    void *s = mw_dynsym_find(info, a->name, NULL);
    if (!s) return 0;
    a->found = s;
    return 1;
}

/* The shim looks up symbols that may be absent (a sanitizer's, glibc internals, a library's
 * the program may not use): a failed dlsym leaves glibc's dlerror state set, in a block
 * malloc'd inside the shim (untraced). The program's first dlerror() then returned the
 * shim's "undefined symbol: __sanitizer_get_heap_size" where it should return NULL, and a
 * later error of the program's own was kept in that untraced block, so its message, reachable
 * from there, was reported definitely lost (until 03:38 UTC on 2026-11-24). Called with the
 * guard raised, after the lookups and before the program goes on: the first dlerror() marks
 * the error as delivered, the next frees it. errno is kept. */
void mw_dl_error_clear(void)
{
    int saved = errno;
    for (int i = 0; i < 4 && dlerror() != NULL; i++) {}
    errno = saved;
}

/* What dlsym(RTLD_NEXT, name) returns from the shim, found in the objects loaded after it
 * (dynsym.c): the hooks look their real functions up at their first call, at any point of
 * the program, and a dlsym there clears an error the program has not read with dlerror()
 * yet, and frees the object glibc keeps it in inside the shim, untraced: a program that read
 * a failed dlopen's error and then called exit() had both blocks reported definitely lost
 * (until 03:41 UTC on 2026-11-24). An IFUNC, or a lookup before the shim knows its own path,
 * still asks dlsym. */
struct next_arg {
    const char *name;
    void *found;
    bool after, ifunc;
};

static int next_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct next_arg *a = data;
    if (!a->after) {
        a->after = info->dlpi_name && strcmp(info->dlpi_name, mw_self_path) == 0;
        return 0;
    }
    if (!info->dlpi_name || !info->dlpi_name[0]) return 0;
    a->found = mw_dynsym_find(info, a->name, &a->ifunc);
    return a->found != NULL || a->ifunc;
}

void *mw_next_symbol(const char *name)
{
    struct next_arg a = { name, NULL, false, false };
    if (mw_self_path) dl_iterate_phdr(next_cb, &a);
    if (a.found || (a.after && !a.ifunc)) return a.found;
    int g = mw_guard_enter();
    void *s = dlsym(RTLD_NEXT, name);
    mw_guard_leave(g);
    return s;
}

void *mw_resolve_symbol(const char *name)
{
    void *s = mw_next_symbol(name);
    if (s) return s;
    struct find_arg a = { name, NULL };
    dl_iterate_phdr(find_cb, &a);
    return a.found;
}
