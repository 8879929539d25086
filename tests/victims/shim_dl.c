/*
 * shim_dl.c — victim: dlopen/dlsym/dlclose of a library the program is not linked with
 * (libz), allocation from inside it; prints whether it is still mapped after dlclose.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int mapped(const char *needle)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, needle)) found = 1;
    if (f) fclose(f);
    return found;
}

int main(void)
{
    void *h = dlopen("libz.so.1", RTLD_NOW);
    if (!h) return 1;
    const char *(*ver)(void) = (const char *(*)(void))dlsym(h, "zlibVersion");
    int ok = ver && ver()[0] >= '1';
    /* let the shim's module poll see it while loaded */
    usleep(60 * 1000);
    dlclose(h);
    char out[64];
    int n = snprintf(out, sizeof out, "dl %d unloaded %d\n", ok, !mapped("libz.so"));
    (void)!write(1, out, (size_t)n);
    return 0;
}
