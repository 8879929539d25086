/*
 * shim_backtrace.c — a program that prints its own stack: the names of the functions on it,
 * through glibc's backtrace() ("glibc") or libgcc's _Unwind_Backtrace ("unwind"), from a
 * function main calls, so that the frames below main (__libc_start_call_main ...) are in it.
 * Linked -rdynamic (victims.mk) so that dladdr names the program's own functions. Under the
 * shim the output must be the same as without it (tests/integration/test_shim_stacks.c).
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <stdio.h>
#include <string.h>
#include <unwind.h>

static void say(void *pc)
{
    Dl_info di;
    const char *name = dladdr(pc, &di) && di.dli_sname ? di.dli_sname : "?";
    printf("  %s\n", name);
}

struct walk {
    int n;
};
static _Unwind_Reason_Code one(struct _Unwind_Context *ctx, void *arg)
{
    struct walk *w = arg;
    if (w->n++ >= 64) return _URC_END_OF_STACK;
    say((void *)_Unwind_GetIP(ctx));
    return _URC_NO_REASON;
}

__attribute__((noinline)) void print_stack(const char *how)
{
    printf("%s:\n", how);
    if (!strcmp(how, "glibc")) {
        void *pc[64];
        int n = backtrace(pc, 64);
        for (int i = 0; i < n; i++) say(pc[i]);
        /* a buffer that holds exactly the frames there are: full, nothing left out */
        void *exact[64];
        int m = n > 1 ? backtrace(exact, n - 1) : 0;
        printf("  %d of %d\n", m, n - 1);
        /* a buffer bigger than the shim copies on its stack: filled in place */
        static void *big[300];
        int b = backtrace(big, 300);
        printf("  %d in a buffer of 300, the same: %s\n", b, b == n && !memcmp(big + 1, pc + 1, (size_t)(n - 1) * sizeof *pc) ? "yes" : "no");
    } else {
        struct walk w = { 0 };
        _Unwind_Backtrace(one, &w);
    }
}

int main(int argc, char **argv)
{
    print_stack(argc > 1 ? argv[1] : "glibc");
    return 0;
}
