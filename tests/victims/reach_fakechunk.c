/*
 * reach_fakechunk.c — a victim whose own anonymous memory holds words that look like glibc's
 * header of an mmapped chunk (prev_size 0, size|IS_MMAPPED at a page start), for the
 * reachability tests. The exit scan skips real mmapped chunks inside anonymous roots (they
 * are heap blocks, scanned only if reachable); data that merely looks like one is a root
 * like any other. A JVM's data did: a size so large that the end wrapped round below the
 * page, and the scan went back over the same pages for ever.
 *
 * A 4-page anonymous mapping: page 0 starts with such a header whose size wraps the address
 * space and holds a pointer to a 2345-byte block; page 1 starts with a plausible one (two
 * pages) and holds a pointer to a 2347-byte block; page 3 is left empty. A 300 000-byte
 * block (mmapped by malloc) holds the only pointer to a 2349-byte block and is dropped, as
 * is a 1234-byte block. Expected at exit: 2345 and 2347 reachable, 300 000 and 1234
 * definitely lost, 2349 indirectly lost. Prints "fakechunk ok".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static void *volatile sink;

int main(void)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 1;
    uint64_t *p0 = m, *p1 = (uint64_t *)((char *)m + pg);
    p0[0] = 0;
    p0[1] = (~(uint64_t)0 - pg + 1) | 2u;    /* pg + size wraps to the page before */
    p0[8] = (uint64_t)(uintptr_t)malloc(2345);
    p1[0] = 0;
    p1[1] = (uint64_t)(2 * pg) | 2u;           /* a chunk of two pages, had malloc made it */
    p1[8] = (uint64_t)(uintptr_t)malloc(2347);

    void **big = malloc(300000);
    if (!big) return 1;
    big[100] = malloc(2349);
    sink = big;
    sink = NULL;
    sink = malloc(1234);
    sink = NULL;
    puts("fakechunk ok");
    return 0;
}
