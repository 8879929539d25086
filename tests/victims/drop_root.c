/*
 * drop_root.c — a server's start: as root it allocates, becomes the user nobody (65534) with
 * setgroups, setgid and then setuid() or setresuid(), and forks a worker that forgets 300
 * bytes (definitely lost); with "exec" the worker then execs /bin/sh, with "system" or
 * "popen" it runs it through those, and the shell prints "worker" (and whether it sees the
 * shim's MEMWATCH_DIR_FD, which it must not). The workers' traces must be written though the
 * output directory is root's (preload/hooks_uid.c). Prints "worker" and "done". Must run as
 * root. With "execfds" the exec'd shell prints the numbers of its open descriptors after
 * "worker" instead.
 *
 *     drop_root setuid|setresuid [exec|execfds|system|popen]
 */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    void *volatile early = malloc(100);
    (void)early;
    if (setgroups(0, NULL) != 0 || setgid(65534) != 0) return 3;
    int rc = strcmp(argv[1], "setresuid") == 0 ? setresuid(65534, 65534, 65534) : setuid(65534);
    if (rc != 0 || geteuid() != 65534) return 4;
    fflush(stdout);
    pid_t p = fork();
    if (p < 0) return 5;
    if (p == 0) {
        void *volatile lost = malloc(300);
        memset(lost, 1, 300);
        lost = NULL;
        /* a shell the worker starts; the shim's variable stays its own */
        static const char sh_cmd[] = "echo worker${MEMWATCH_DIR_FD:+ sees MEMWATCH_DIR_FD}";
        if (argc > 2 && strcmp(argv[2], "exec") == 0) {
            execl("/bin/sh", "sh", "-c", sh_cmd, (char *)NULL);
            _exit(127);
        }
        if (argc > 2 && strcmp(argv[2], "execfds") == 0) { /* and its open descriptors */
            execl("/bin/sh", "sh", "-c", "echo worker $(ls /proc/$$/fd | tr '\\n' ' ')", (char *)NULL);
            _exit(127);
        }
        if (argc > 2 && strcmp(argv[2], "system") == 0) return system(sh_cmd) == 0 ? 0 : 7;
        if (argc > 2 && strcmp(argv[2], "popen") == 0) {
            FILE *f = popen(sh_cmd, "r");
            char line[128];
            if (!f || !fgets(line, sizeof line, f)) return 8;
            fputs(line, stdout);
            return pclose(f) == 0 ? 0 : 9;
        }
        printf("worker\n");
        return 0;
    }
    int st = 0;
    if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 6;
    printf("done\n");
    return 0;
}
