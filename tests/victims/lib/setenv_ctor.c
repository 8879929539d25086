/*
 * setenv_ctor.c — a library whose constructor sets a variable: glibc's setenv allocates the
 * new environment's array, the process's first allocation, where the shim starts tracing
 * (tests/victims/setenv_first.c).
 */
#include <stdlib.h>

__attribute__((constructor)) static void set_variable(void)
{
    setenv("CTOR_VAR", "set", 1);
}
