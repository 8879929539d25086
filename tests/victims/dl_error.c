/*
 * dl_error.c — victim: the dlerror() state a program sees. At start there must be no error
 * (the shim's own failed lookups once left theirs pending); a failed dlopen's message, kept
 * by glibc until the next dlerror(), is reachable at exit (it was reported definitely lost
 * when the object holding it had been allocated inside the shim, or freed there by the hooks'
 * own lookups at their first call). Prints what it saw; ends with exit().
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    const char *e = dlerror();
    printf("at start: %s\n", e ? e : "no error");
    void *h = dlopen("/nonexistent/libmemwatch-none.so", RTLD_NOW);
    e = dlerror();
    printf("failed dlopen: %s, %s\n", h ? "loaded" : "not loaded", e ? "an error" : "no error");
    e = dlerror();
    printf("then: %s\n", e ? e : "no error");
    h = dlopen("/nonexistent/libmemwatch-other.so", RTLD_NOW);
    printf("again: %s\n", dlerror() ? "an error" : "no error");
    /* glibc keeps the error read last until the next dl call: the hooks' first calls (close,
     * exit) look their real functions up, which must not free it behind the shim's back */
    close(dup(2));
    fflush(stdout);
    exit(0);
}
