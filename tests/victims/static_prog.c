/*
 * static_prog.c — a statically linked program (victims.mk links it with -static): the dynamic
 * loader never runs for it, so LD_PRELOAD cannot bring the shim in. A traced parent that execs
 * it has no trace after the exec, and the report must say why.
 *
 * "static_prog exec PROG ARGS...": prints the names of the LD_PRELOAD and MEMWATCH_* variables
 * it was given (no shim takes them out here), then execs PROG, which the shim reaches again
 * through them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    char *p = malloc(64);
    if (argc > 2 && !strcmp(argv[1], "exec")) {
        for (char **e = environ; *e; e++)
            if (!strncmp(*e, "LD_PRELOAD=", 11) || !strncmp(*e, "MEMWATCH_", 9))
                printf("static sees %.*s\n", (int)strcspn(*e, "="), *e);
        fflush(stdout);
        free(p);
        execv(argv[2], argv + 2);
        return 127;
    }
    printf("static program ran\n");
    free(p);
    return 0;
}
