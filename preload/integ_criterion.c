/*
 * integ_criterion.c — automatic per-test marks for Criterion suites.
 *
 * Criterion runs each test in a worker process, and the test binary calls
 * criterion_internal_test_setup() through the PLT right before the test body. The shim
 * interposes it, calls the real one, and writes a MARK "criterion:<suite>::<test>" from the
 * exported criterion_current_test, so every leak of the worker is attributed to its test
 * without any change to the suite. Programs that do not use Criterion never call it.
 */
#include <stdio.h>
#include <string.h>

#include "memwatch.h"
#include "mw_shim.h"

/* The first two fields of Criterion's struct criterion_test (criterion/types.h, 2.x). */
struct mw_criterion_test_head {
    const char *name;
    const char *category;
};

MW_EXPORT void criterion_internal_test_setup(void)
{
    static void (*real)(void);
    static const struct mw_criterion_test_head *const *current;
    if (!real) {
        int g = mw_guard_enter();
        real = (void (*)(void))mw_resolve_symbol("criterion_internal_test_setup");
        current = (const struct mw_criterion_test_head *const *)mw_resolve_symbol("criterion_current_test");
        mw_guard_leave(g);
    }
    if (real && (void *)real != (void *)criterion_internal_test_setup) real();
    if (current && *current && (*current)->name) {
        char label[512];
        snprintf(label, sizeof label, "criterion:%s::%s",
                 (*current)->category ? (*current)->category : "", (*current)->name);
        memwatch_mark(label);
    }
}
