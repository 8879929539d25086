/*
 * watch_dlopen.c — victim for test_watch_robust: loads the shim with dlopen (argv[1]) instead
 * of LD_PRELOAD, finds memwatch_watch with dlsym (the Python adapter's way), watches a
 * variable and writes it twice. Allocation tracing is off in this mode; watching works.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

typedef int64_t (*watch_fn)(void *, size_t, const char *, unsigned);

int main(int argc, char **argv)
{
    if (argc < 2) return 64;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
    if (!h) { printf("dlopen: %s\n", dlerror()); return 2; }
    watch_fn w = (watch_fn)dlsym(h, "memwatch_watch");
    if (!w) { printf("no memwatch_watch\n"); return 3; }
    int64_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    volatile int64_t *v = page + 3;
    int64_t id = w((void *)v, sizeof *v, "dl_value", 0x11u /* TRACK_THREADS|MUTATION_FULL */);
    printf("watch id %lld\n", (long long)id);
    *v = 17;
    *v = 18;
    void *leak = malloc(100); /* not traced in this mode */
    printf("dlopen value %lld %p\ndlopen ok\n", (long long)*v, leak);
    return 0;
}
