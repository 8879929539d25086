/*
 * sanitizers.c — programs built with a sanitizer (gcc's or clang's -fsanitize=address,
 * thread, leak, memory, hwaddress): the shim stays out of their way.
 *
 * Each runtime keeps the heap itself and watches the process in ways the shim disturbs:
 *   - AddressSanitizer refuses to start when its runtime is not first in the library list
 *     ("ASan runtime does not come first ...", exit status 1, before any code of the shim's
 *     runs): every program built with gcc's -fsanitize=address died under the shim. The shim
 *     defines __asan_default_options, which ASan reads before that check, with
 *     verify_asan_link_order=0 ahead of the options of the definition it stands in front of
 *     (ASan's own empty default, or a library's; one in the executable comes before the
 *     shim's and is left alone, and so is the check then);
 *   - with its runtime behind the shim, the shim's exit scan reads heap memory through
 *     memcpy, which ASan intercepts: a heap-buffer-overflow report in the shim's code;
 *   - ThreadSanitizer sees the shim's writer thread read what the program's threads wrote
 *     (the shim's code is not instrumented, so its synchronisation is invisible to it) and
 *     reports data races: exit status 66 instead of 0.
 * So a process with a sanitizer that keeps the heap (its runtime exports
 * __sanitizer_get_heap_size: ASan, TSan, LSan, MSan, HWASan; not UBSan), as a library or
 * linked into the executable (clang's default), is not traced: one line on stderr
 * (MEMWATCH_QUIET=1 leaves it out); its children are, as usual. Its main is not wrapped either
 * (init.c): the sanitizer's reports would show the shim's frame.
 */
#include <dlfcn.h>
#include <string.h>

#include "mw_core.h"

/* ---- ASan's link-order check ------------------------------------------------------------- */
typedef const char *(*options_fn)(void);

MW_EXPORT const char *__asan_default_options(void)
{
    static const char ours[] = "verify_asan_link_order=0";
    static char buf[4096];
    options_fn next = (options_fn)mw_next_symbol("__asan_default_options");
    const char *theirs = next ? next() : NULL;
    if (!theirs || !theirs[0]) return ours;
    size_t n = strlen(theirs);
    if (sizeof ours + 1 + n > sizeof buf) return theirs; /* theirs whole, the check kept */
    memcpy(buf, ours, sizeof ours - 1);
    buf[sizeof ours - 1] = ':';
    memcpy(buf + sizeof ours, theirs, n + 1); /* later options win: theirs over ours */
    return buf;
}

/* ---- which sanitizer, if any ---------------------------------------------------------------- */
/* The runtime's file into path (mw_diag_val's escaping). */
static void runtime_path(const char *file, char *path, size_t cap)
{
    const char *v = mw_diag_val(file, path, cap);
    if (v != path) {
        size_t n = strlen(v) < cap - 1 ? strlen(v) : cap - 1;
        memmove(path, v, n);
        path[n] = '\0';
    }
}

const char *mw_sanitizer_in_the_way(char *path, size_t cap)
{
    path[0] = '\0';
    /* every sanitizer runtime with an allocator of its own exports this one */
    static const struct { const char *sym, *name; } rt[] = {
        { "__tsan_init", "ThreadSanitizer" },      { "__hwasan_init", "HWAddressSanitizer" },
        { "__asan_init", "AddressSanitizer" },     { "__msan_init", "MemorySanitizer" },
        { "__lsan_do_leak_check", "LeakSanitizer" },
    };
    int g = mw_guard_enter(); /* dlsym may allocate */
    const char *name = NULL;
    void *f = dlsym(RTLD_DEFAULT, "__sanitizer_get_heap_size");
    for (size_t i = 0; f && !name && i < sizeof rt / sizeof rt[0]; i++)
        if (dlsym(RTLD_DEFAULT, rt[i].sym)) name = rt[i].name;
    mw_guard_leave(g);
    if (!f) return NULL;
    Dl_info d;
    if (dladdr(f, &d) && d.dli_fname && strchr(d.dli_fname, '/')) runtime_path(d.dli_fname, path, cap);
    return name ? name : "a sanitizer";
}
