/*
 * unwinder_binding.c — which C++ exception unwinder a program that does not link libgcc_s
 * itself gets once it loads it (a C host loading a C++ plugin, python importing a C++
 * extension): the _Unwind_RaiseException the program's scope resolves to must be libgcc_s's,
 * as without the shim, not the one libunwind.so.8 (the shim's library) also exports. Prints
 * "libgcc_s" or "another".
 */
#include <dlfcn.h>
#include <stdio.h>

int main(void)
{
    void *h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        printf("no libgcc_s: %s\n", dlerror());
        return 1;
    }
    void *mine = dlsym(h, "_Unwind_RaiseException"), *bound = dlsym(RTLD_DEFAULT, "_Unwind_RaiseException");
    printf("%s\n", mine && mine == bound ? "libgcc_s" : "another");
    return 0;
}
