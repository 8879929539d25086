/*
 * shim_dlopen_self.c — victim for watch-only mode: dlopen()s the shim given as argv[1] (as
 * the Python adapter does) instead of preloading it, watches a global, allocates, then
 * dlclose()s it and goes on: writes the global, forks (the shim's fork handlers) and
 * allocates again. The shim's threads and handlers outlive a dlclose (it is never unloaded).
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile sink;
static volatile long watched;

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    int64_t (*watch)(void *, size_t, const char *, unsigned) =
        (int64_t (*)(void *, size_t, const char *, unsigned))dlsym(h, "memwatch_watch");
    if (watch) watch((void *)&watched, sizeof watched, "watched", 0);
    watched = 1;
    sink = malloc(70001);
    free(sink);
    dlclose(h);
    watched = 2;
    pid_t p = fork();
    if (p == 0) _exit(0);
    int st = 0;
    if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st)) return 3;
    sink = malloc(70002);
    free(sink);
    (void)!write(1, "dlopened\n", 9);
    return 0;
}
