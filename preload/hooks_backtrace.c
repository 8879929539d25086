/*
 * hooks_backtrace.c — a program's own backtraces as without the shim.
 *
 * The shim runs main under a wrapper of its own (init.c, main_wrapper: it sees main's return
 * and its status before exit's handlers run), so a program that prints its own stack (glibc's
 * backtrace() and backtrace_symbols_fd() in an assertion or crash handler; libgcc's
 * _Unwind_Backtrace, which boost::stacktrace, gcc's libbacktrace (std::stacktrace) and Rust's
 * backtraces walk with) found one frame more between main and __libc_start_call_main. Both
 * are interposed here and leave out the frames whose return address lies in the wrapper's
 * code or in their own (natively a walk's first frame is its caller's). glibc's backtrace()
 * reaches libgcc's unwinder through a pointer of its own, so it is interposed apart. Frames
 * the shim's hooks add below a signal that interrupted one (a handler's backtrace inside
 * malloc) are not hidden: natively those are glibc's malloc's. A debugger, or a program
 * walking with libunwind, still sees the wrapper.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <unwind.h>

#include "mw_core.h"

extern const char __start_mw_main_text[] __attribute__((visibility("hidden")));
extern const char __stop_mw_main_text[] __attribute__((visibility("hidden")));

bool mw_in_main_wrapper(uintptr_t pc)
{
    return pc >= (uintptr_t)__start_mw_main_text && pc <= (uintptr_t)__stop_mw_main_text;
}

/* The functions behind these, found once at start (real.c, mw_real_resolve, under the
 * guard): a program calls backtrace() from a crash handler, where a first dlsym (which may
 * allocate and takes the loader's lock) could deadlock. */
typedef _Unwind_Reason_Code (*trace_fn)(struct _Unwind_Context *, void *);
static int (*real_backtrace)(void **, int);
static _Unwind_Reason_Code (*real_unwind_backtrace)(trace_fn, void *);
static _Unwind_Ptr (*real_get_ip)(struct _Unwind_Context *);

void mw_backtrace_resolve(void)
{
    real_backtrace = (int (*)(void **, int))dlsym(RTLD_NEXT, "backtrace");
    real_unwind_backtrace = (_Unwind_Reason_Code(*)(trace_fn, void *))dlsym(RTLD_NEXT, "_Unwind_Backtrace");
    real_get_ip = (_Unwind_Ptr(*)(struct _Unwind_Context *))dlsym(RTLD_NEXT, "_Unwind_GetIP");
}

/* In the wrapper's section: the walks start in these functions, and their frames are left
 * out as the wrapper's is (natively the first frame is the caller's). */
#define HIDDEN_FRAME __attribute__((noinline, section(MW_MAIN_SECTION)))

MW_EXPORT HIDDEN_FRAME int backtrace(void **buf, int size)
{
    if (!real_backtrace) mw_real_resolve(); /* called before the shim's start */
    int (*real)(void **, int) = real_backtrace;
    if (!real || size <= 0) return 0;
    /* two entries more than asked (this function's frame, main's wrapper's), so that a full
     * buffer stays full once they are out; on the stack only for a small buffer (1 KiB at
     * most): a crash handler may run on a small alternate signal stack. A bigger buffer is
     * filled in place, and when it was full it ends one or two frames short of the native
     * walk. */
    if (size <= 126) {
        void *tmp[128];
        int n = real(tmp, size + 2), k = 0;
        for (int i = 0; i < n && k < size; i++)
            if (!mw_in_main_wrapper((uintptr_t)tmp[i])) buf[k++] = tmp[i];
        return k;
    }
    int n = real(buf, size), k = 0;
    for (int i = 0; i < n; i++)
        if (!mw_in_main_wrapper((uintptr_t)buf[i])) buf[k++] = buf[i];
    return k;
}

struct filter {
    trace_fn fn;
    void *arg;
    _Unwind_Ptr (*get_ip)(struct _Unwind_Context *);
};

static _Unwind_Reason_Code filtered(struct _Unwind_Context *ctx, void *arg)
{
    const struct filter *f = arg;
    if (f->get_ip && mw_in_main_wrapper((uintptr_t)f->get_ip(ctx))) return _URC_NO_REASON;
    return f->fn(ctx, f->arg);
}

MW_EXPORT HIDDEN_FRAME _Unwind_Reason_Code _Unwind_Backtrace(trace_fn fn, void *arg)
{
    if (!real_unwind_backtrace) mw_real_resolve();
    if (!real_unwind_backtrace) return _URC_FATAL_PHASE1_ERROR;
    struct filter f = { fn, arg, real_get_ip };
    return real_unwind_backtrace(filtered, &f);
}
