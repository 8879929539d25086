/*
 * reach_sparse.c — a victim with a huge, almost untouched read-write anonymous mapping (as
 * a sanitizer's shadow memory is: ASan's is 14 TiB), for the reachability tests. The
 * mapping is a root; only its few touched pages can hold pointers, and reading the rest
 * would take hours and page tables for all of it.
 *
 * Maps 1 TiB (MAP_NORESERVE), stores a pointer to a 4321-byte block in a page 768 GiB in and
 * one to a 4323-byte block in its first page, and drops the only pointer to a 1234-byte
 * block. Expected at exit: 4321 and 4323 reachable, 1234 definite. Prints "sparse ok", or
 * "sparse unmapped" (exit 0 all the same) where the system refuses such a mapping (strict
 * overcommit, a small RLIMIT_AS).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static void *volatile sink;

int main(void)
{
    size_t len = (size_t)1 << 40;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        puts("sparse unmapped");
        return 0;
    }
    *(void **)(m + ((size_t)768 << 30)) = malloc(4321);
    *(void **)(m + 64) = malloc(4323);
    sink = malloc(1234);
    sink = NULL;
    puts("sparse ok");
    return 0;
}
