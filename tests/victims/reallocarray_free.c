/*
 * reallocarray_free.c — reallocarray() then realloc() and free() of the same block: under
 * an allocator that comes before the shim but has no reallocarray of its own (glibc's
 * malloc-debug library, LD_PRELOAD=libc_malloc_debug.so.0 with MALLOC_CHECK_=3), the block
 * reallocarray returns must be that allocator's, or its free() aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    char *p = reallocarray(NULL, 10, 10);
    if (!p) return 1;
    memset(p, 'a', 100);
    p = reallocarray(p, 30, 10);
    if (!p) return 1;
    p = realloc(p, 1000);
    if (!p) return 1;
    free(p);
    printf("reallocarray ok\n");
    return 0;
}
