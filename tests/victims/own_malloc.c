/*
 * own_malloc.c — a program with a malloc of its own, defined in the executable (as chromium's
 * PartitionAlloc is, or jemalloc, tcmalloc, mimalloc linked statically): every malloc in the
 * process, libc's own included, comes to it and never reaches the shim's hooks. Like those
 * allocators it takes its lock in a pthread_atfork prepare handler and frees it in the child
 * handler, registered after the shim's (lib/bump_alloc.c, compiled in here). It allocates,
 * maps a page, forks a child that allocates and prints, waits for it, and prints "child ok"
 * then "parent ok 0".
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/bump_alloc.c"

int main(void)
{
    bump_register_atfork();
    char *s = strdup("kept");
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!s || m == MAP_FAILED) return 1;
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) return 1;
    if (c == 0) {
        char *t = malloc(100);
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
