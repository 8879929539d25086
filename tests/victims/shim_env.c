/*
 * shim_env.c — victim for MEMWATCH_FOLLOW: prints LD_PRELOAD as this process sees it, then
 * (mode "exec") execs itself and (mode "spawn") runs itself through system(), so the test
 * can check the environment children get. Usage: shim_env [exec|spawn|print]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "print";
    const char *lp = getenv("LD_PRELOAD");
    printf("%s LD_PRELOAD=%s\n", mode, lp ? lp : "(unset)");
    fflush(stdout);
    if (!strcmp(mode, "exec")) {
        execl(argv[0], argv[0], "print", (char *)NULL);
        return 99;
    }
    if (!strcmp(mode, "spawn")) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "%s print", argv[0]);
        return system(cmd) == 0 ? 0 : 1;
    }
    return 0;
}
