/*
 * exec_badptr.c — exec and spawn given pointers the kernel cannot read, for the shim's exec
 * hooks: each call fails with EFAULT (spawn: returns it) natively, and must under the shim
 * too, where the hooks read the path and the environment before the call.
 *
 * argv[1]: "path" (execve with a path at address 16), "envp" (an environment array at 16),
 * "envstr" (a readable array holding a string at 16), "spawn" (posix_spawn with the array at
 * 16). Prints what the call returned and exits 0; an exec that succeeded runs /bin/true.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "path";
    char *targv[] = { "/bin/true", NULL };
    static char *volatile bad_at = (char *)16; /* volatile: the compiler sees no constant */
    char *bad = bad_at;
    if (!strcmp(m, "path")) {
        execve(bad, targv, environ);
    } else if (!strcmp(m, "envp")) {
        execve("/bin/true", targv, (char **)bad);
    } else if (!strcmp(m, "envstr")) {
        char *env[] = { "A=1", bad, NULL };
        execve("/bin/true", targv, env);
    } else if (!strcmp(m, "spawn")) {
        pid_t pid;
        int r = posix_spawn(&pid, "/bin/true", NULL, NULL, targv, (char **)bad);
        printf("%s: posix_spawn returned %s\n", m, r == EFAULT ? "EFAULT" : r == 0 ? "0" : "other");
        return 0;
    }
    printf("%s: exec failed with %s\n", m, errno == EFAULT ? "EFAULT" : "another error");
    return 0;
}
