/*
 * fork_alloc.c — allocates, forks a child that allocates and prints, waits for it; prints
 * "child ok" then "parent ok 0". Run with lib/bump_alloc.c's libbump_alloc.so preloaded after
 * the shim, its malloc is the shim's "next" malloc (as a program's DT_NEEDED jemalloc is:
 * Debian's redis-server); the allocator's fork handlers are registered first thing here, after
 * the shim's.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile keep;

int main(void)
{
    void (*reg)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "bump_register_atfork");
    if (reg) reg();
    keep = strdup("kept");
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
    return 0;
}
