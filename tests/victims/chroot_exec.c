/*
 * chroot_exec.c — chroots into DIR (which holds /bin/echo and the libraries it needs, not the
 * shim), then runs /bin/echo there twice: from a forked child with execv() (the inherited
 * environment) and by execve() with an environment of its own making. Prints "inside 1" and
 * "inside 2"; nothing on stderr, as without the shim. Must run as root.
 *
 *     chroot_exec DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    if (chroot(argv[1]) != 0 || chdir("/") != 0) { perror("chroot"); return 1; }
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) return 1;
    if (c == 0) {
        char *av[] = { "echo", "inside", "1", NULL };
        execv("/bin/echo", av);
        _exit(127);
    }
    int st = 0;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
    char *av[] = { "echo", "inside", "2", NULL };
    char *env[] = { "A=1", NULL };
    execve("/bin/echo", av, env);
    return 127;
}
