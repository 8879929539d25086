/*
 * fork_alloc.c — allocates, maps a page, forks a child that allocates and prints, waits for it;
 * prints "child ok" then "parent ok 0". It first registers the fork handlers of the test
 * allocator (lib/bump_alloc.c), after the shim's: compiled in (own_malloc.c: a malloc of the
 * executable's own) or preloaded after the shim as libbump_alloc.so (the shim's "next"
 * malloc, as a program's DT_NEEDED jemalloc is: Debian's redis-server).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

void bump_register_atfork(void) __attribute__((weak));

static void *volatile keep;

int main(void)
{
    void (*reg)(void) = bump_register_atfork;
    if (!reg) reg = (void (*)(void))dlsym(RTLD_DEFAULT, "bump_register_atfork");
    if (reg) reg();
    keep = strdup("kept");
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!keep || m == MAP_FAILED) return 1;
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) return 1;
    if (c == 0) {
        char *t = malloc(100);
        if (!t) return 1;
        snprintf(t, 100, "child %s", "ok");
        puts(t);
        return 0;
    }
    int st = 0;
    if (waitpid(c, &st, 0) != c) return 1;
    printf("parent ok %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    munmap(m, 4096);
    return 0;
}
