/*
 * setenv_first.c — a program whose first allocation is inside glibc's setenv, called by its
 * library's constructor (lib/setenv_ctor.c) before the shim's: the shim starts tracing there
 * and must leave the environment setenv is building alone (it took the variables a traced
 * parent had added out of it there, and the library's variable was lost, 2026-11-23). Prints
 * CTOR_VAR, and MEMWATCH_ADDED and MEMWATCH_RSS_MS, which the shim takes out when a parent
 * added them.
 */
#include <stdio.h>
#include <stdlib.h>

static const char *or_none(const char *s) { return s ? s : "(none)"; }

int main(void)
{
    printf("CTOR_VAR=%s MEMWATCH_ADDED=%s MEMWATCH_RSS_MS=%s\n", or_none(getenv("CTOR_VAR")),
           or_none(getenv("MEMWATCH_ADDED")), or_none(getenv("MEMWATCH_RSS_MS")));
    return 0;
}
