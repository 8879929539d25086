/*
 * shape_external.c — victim whose memory grows OUTSIDE anything memwatch traces: it maps and
 * touches 2 MiB/s of anonymous memory with the raw mmap system call (as an untraced allocator
 * or a runtime's own arena would), for 2.5 s, paced by CLOCK_MONOTONIC, while its malloc heap
 * only churns. RSS and "external" (RSS - heap - traced mappings) grow, the heap does not.
 * Prints "mapped BYTES bytes in SECONDS s".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RATE (2.0 * 1048576)
#define CHUNK 65536
#define RUN_S 2.5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void untraced_chunk(void)
{
    long p = syscall(SYS_mmap, NULL, (size_t)CHUNK, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == -1) abort();
    memset((void *)p, 0x77, CHUNK); /* resident now */
}

int main(void)
{
    double t0 = now(), t;
    size_t mapped = 0;
    struct timespec nap = {0, 2000000};
    while ((t = now() - t0) < RUN_S) {
        while (mapped < RATE * t) {
            untraced_chunk();
            mapped += CHUNK;
        }
        free(memset(malloc(4096), 1, 4096));
        nanosleep(&nap, NULL);
    }
    printf("mapped %zu bytes in %.3f s\n", mapped, now() - t0);
    return 0;
}
