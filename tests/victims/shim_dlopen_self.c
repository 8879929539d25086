/*
 * shim_dlopen_self.c — victim for watch-only mode: dlopen()s the shim given as argv[1] (as
 * the Python adapter does) instead of preloading it, allocates, and exits.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *volatile sink;

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    sink = malloc(70001);
    free(sink);
    (void)!write(1, "dlopened\n", 9);
    return 0;
}
