/*
 * spawn_by_name.c — starts NAME, a file name without a slash, the ways glibc looks it up in
 * PATH: posix_spawnp() and a vfork child's execvp() (waiting for each), then execlp(). The EXEC and SPAWN records must name
 * the file found, so the report can tell a program LD_PRELOAD cannot reach (exectarget.c).
 *
 *     spawn_by_name NAME
 */
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    pid_t pid;
    char *av[] = { argv[1], NULL };
    if (posix_spawnp(&pid, argv[1], NULL, NULL, av, environ) != 0) return 3;
    int st = 0;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return 4;
    fflush(stdout);
    pid = vfork();
    if (pid == 0) {
        execvp(argv[1], av);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return 6;
    execlp(argv[1], argv[1], (char *)NULL);
    perror("execlp");
    return 5;
}
