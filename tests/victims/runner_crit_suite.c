/*
 * runner_crit_suite.c — a Criterion suite with one leaking test, run under `memwatch run` to
 * show per-test attribution (Criterion runs each test in its own worker process; the shim
 * marks each test automatically).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void *volatile g_sink;

Test(suite, clean_test)
{
    char *p = malloc(64);
    strcpy(p, "fine");
    cr_assert_str_eq(p, "fine");
    free(p);
}

Test(suite, leaky_test)
{
    g_sink = malloc(4321);
    memset(g_sink, 0, 4321);
    g_sink = NULL;
    cr_assert(1);
}

Test(suite, another_clean_test)
{
    cr_assert_eq(1 + 1, 2);
}
