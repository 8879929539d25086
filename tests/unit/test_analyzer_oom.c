/*
 * test_analyzer_oom.c — the analyzer when memory runs out: every allocation the analyzer's
 * own code makes (malloc, calloc, realloc, strdup, strndup: linked with -Wl,--wrap, see the
 * Makefile) is made to fail, one at a time, while it analyzes traces of a process tree made
 * by tests/fuzz/trace_gen.c. Each run must end as memwatch-analyze would: a report (the
 * failure absorbed) or exit 3 with one error line, never a crash, and, under ASan, never a
 * leak of what it had allocated before (scripts/run-tests fails the binary on one).
 * Allocations inside SQLite, libdw, zstd and the C library are not failed here.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "trace_gen.h"

/* ---- the wrapped allocators: while armed (the analyzer running), the fail_at-th call fails
 * (0: none does); calls counts them */
static unsigned long calls, fail_at;
static bool armed;

static bool fail_now(void) { return armed && ++calls == fail_at; }
static void arm(bool before) { armed = before; }

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t b) { return fail_now() ? NULL : __real_calloc(a, b); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fail_now() ? NULL : __real_strdup(s); }
char *__wrap_strndup(const char *s, size_t n) { return fail_now() ? NULL : __real_strndup(s, n); }

static char err[1 << 16];

Test(analyzer_oom, every_allocation_failing_in_turn)
{
    static uint8_t buf[8000];
    uint64_t x = 0x853c49e6748fea9bull;
    unsigned runs = 0, refused = 0, used = 0;
    mw_gen_around_analyzer = arm;
    for (int input = 0; input < 24; input++) {
        for (size_t k = 0; k < sizeof buf; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[k] = (uint8_t)(x >> 24);
        }
        buf[sizeof buf - 1] = (uint8_t)input; /* text, json, md, html in turn */
        /* how many allocations a whole run makes */
        fail_at = 0;
        calls = 0;
        int clean = mw_gen_analyze(buf, sizeof buf, err, sizeof err);
        if (clean != 0 && clean != 1) continue; /* refused whole (a corrupt record): no use here */
        used++;
        unsigned long total = calls, step = total / 300 + 1;
        for (unsigned long f = 1; f <= total; f += step) {
            calls = 0;
            fail_at = f;
            int rc = mw_gen_analyze(buf, sizeof buf, err, sizeof err);
            fail_at = 0;
            runs++;
            if (rc == -1) continue; /* the failure hit the generator itself */
            cr_expect(rc == 0 || rc == 1 || rc == 3, "input %d, allocation %lu of %lu failing: exit %d: %s", input,
                      f, total, rc, err);
            if (rc == 3) {
                refused++;
                cr_expect_eq(mw_gen_error_lines(err), 1, "input %d, allocation %lu: %s", input, f, err);
            }
        }
    }
    cr_assert_geq(used, 10, "only %u inputs made traces the analyzer reads whole", used);
    cr_assert_gt(refused, runs / 4, "only %u of %u runs were refused: are the allocations failing?", refused, runs);
}
