/*
 * exec_at_limit.c — the most argument bytes a new program can get, found by trying: each try
 * forks a child that execve()s /bin/true with S bytes of arguments and an environment of
 * the program's own making ("A=1"); a binary search finds the largest S that starts. Prints
 * "max S". Under the shim it must be the same as natively (the variables the shim adds to
 * such an environment must not take room from the program: process_env.c). With "spawn",
 * each try is a posix_spawn() instead.
 *
 *     exec_at_limit [spawn]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 65536 /* strings under the kernel's 128 KiB bound for one string */

static int use_spawn;

static int starts(size_t s)
{
    size_t n = s / CHUNK + 2;
    char **argv = calloc(n + 1, sizeof *argv);
    char *big = malloc(CHUNK);
    if (!argv || !big) exit(3);
    memset(big, 'a', CHUNK - 1);
    big[CHUNK - 1] = '\0';
    size_t k = 0, left = s;
    argv[k++] = "true"; /* 5 bytes of the total */
    left = left > 5 ? left - 5 : 0;
    while (left >= CHUNK) {
        argv[k++] = big;
        left -= CHUNK;
    }
    if (left > 0) argv[k++] = big + (CHUNK - left); /* left - 1 chars and its NUL */
    argv[k] = NULL;
    fflush(stdout);
    char *env[] = { "A=1", NULL };
    pid_t pid;
    if (use_spawn) {
        if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, env) != 0) {
            free(big);
            free(argv);
            return 0;
        }
    } else if ((pid = fork()) == 0) {
        execve("/bin/true", argv, env);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    free(big);
    free(argv);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(int argc, char **argv)
{
    use_spawn = argc > 1 && strcmp(argv[1], "spawn") == 0;
    size_t lo = 4096, hi = 64u << 20; /* lo starts, hi does not */
    if (!starts(lo) || starts(hi)) return 2;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (starts(mid))
            lo = mid;
        else
            hi = mid;
    }
    printf("max %zu\n", lo);
    return 0;
}
