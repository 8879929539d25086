/*
 * shim_deepbind.c — victim: a library loaded with RTLD_DEEPBIND (its malloc family binds to
 * libc, past the shim) allocates and frees, and frees blocks the program allocated.
 *
 *     shim_deepbind LIB      (build/tests/victims/libdeep_now.so or libdeep_lazy.so)
 *
 *   1. waits until the library's GOT slot for malloc holds the global malloc (at once
 *      natively; under the shim once its module scan has seen the library, within a few
 *      tens of milliseconds);
 *   2. the library allocates 100 blocks of 4321 bytes (malloc of 2160, realloc to 4321) and an
 *      array of 100 pointers (calloc, 800 bytes); it frees 60 of the blocks: 40 stay;
 *   3. main allocates 50 blocks of 5432 bytes and the library frees all of them: none stays;
 *   4. the library maps and unmaps 3 pages.
 * Prints one line; exit status 0 (2: the library did not load or lacks a symbol).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_DEEPBIND);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    void *(*slot)(void) = (void *(*)(void))dlsym(h, "deep_malloc_slot");
    void **(*alloc)(int, size_t) = (void **(*)(int, size_t))dlsym(h, "deep_alloc");
    void (*dfree)(void *) = (void (*)(void *))dlsym(h, "deep_free");
    int (*map)(size_t) = (int (*)(size_t))dlsym(h, "deep_map");
    void *global_malloc = dlsym(RTLD_DEFAULT, "malloc");
    if (!slot || !alloc || !dfree || !map || !global_malloc) return 2;
    for (int i = 0; i < 5000 && slot() != global_malloc; i++) usleep(1000);
    void **v = alloc(100, 4321);
    if (!v) return 1;
    for (int i = 0; i < 60; i++) dfree(v[i]);
    for (int i = 0; i < 50; i++) dfree(malloc(5432));
    int m = map(3 * 4096);
    printf("deepbind %s map %d\n", slot() == global_malloc ? "bound" : "unbound", m);
    return 0;
}
