/*
 * static_prog.c — a statically linked program (victims.mk links it with -static): the dynamic
 * loader never runs for it, so LD_PRELOAD cannot bring the shim in. A traced parent that execs
 * it has no trace after the exec, and the report must say why.
 */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *p = malloc(64);
    printf("static program ran\n");
    free(p);
    return 0;
}
