/*
 * reach_guard.c — a victim with a guard page (madvise(MADV_GUARD_INSTALL), Linux 6.13) inside
 * a block it still holds at exit, for the reachability tests. A guard region has no mapping
 * of its own: /proc/self/maps shows the block's mapping readable, and a read of the page
 * faults. The exit scan must neither die of it nor lose the pointers around it.
 *
 * argv[1] "mmapped": the block is 1 MiB (a glibc mmapped chunk); "heap": 96 KiB (from the
 * brk heap). A global points to it; it holds a pointer to a 4331-byte block before the guard
 * page and one to a 4333-byte block after it; the only pointer to a 1243-byte block is
 * dropped. Expected at exit: the big block, 4331 and 4333 reachable, 1243 definite. Prints
 * "guard ok", or "guard unsupported" (exit 0 all the same) where the kernel has no guard
 * regions.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

static void *volatile keep;
static void *volatile sink;

int main(int argc, char **argv)
{
    size_t len = argc > 1 && strcmp(argv[1], "heap") == 0 ? 96u << 10 : 1u << 20;
    char *big = malloc(len);
    if (!big) return 1;
    memset(big, 0, len);
    keep = big;
    uintptr_t guard = ((uintptr_t)big + len / 2) & ~(uintptr_t)4095;
    *(void **)(big + 64) = malloc(4331);
    *(void **)(guard + 4096 + 64) = malloc(4333);
    sink = malloc(1243);
    sink = NULL;
    if (madvise((void *)guard, 4096, MADV_GUARD_INSTALL) != 0) {
        puts("guard unsupported");
        return 0;
    }
    puts("guard ok");
    return 0;
}
