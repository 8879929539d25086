/*
 * test_analyzer_generated.c — the whole analyzer (ingest, cross-process passes, symbolizer,
 * patterns, store, every report format) on hostile but well-formed traces made by
 * tests/fuzz/trace_gen.c, in this ASan+UBSan process, from seeded-random inputs. Each must
 * be analyzed (exit 0, or 1 when its --fail-on condition holds) or refused with one error
 * line: exit 3 for a trace, 2 for a suppressions or alerts file it made wrong; a sanitizer report fails the binary (scripts/run-tests). What `make fuzz`
 * finds becomes a test of its own where the fault was (an input means another trace as soon
 * as the generator changes how it reads bytes): test_analyzer_ingest's
 * a_heap_larger_than_an_address_space_is_corrupt, test_analyzer_reports'
 * html_chart_of_the_largest_samples.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_gen.h"

static char err[1 << 16];

static void check(const uint8_t *data, size_t n, const char *what)
{
    int rc = mw_gen_analyze(data, n, err, sizeof err);
    if (rc == -1) return; /* no trace could be made of it */
    cr_expect(rc >= 0 && rc <= 3, "%s: exit %d: %s", what, rc, err);
    if (rc == 2 || rc == 3) cr_expect_eq(mw_gen_error_lines(err), 1, "%s: %s", what, err);
    if (rc == 2) cr_expect(strstr(err, "memwatch-analyze: suppressions ") || strstr(err, "memwatch-analyze: --alerts "),
                           "%s: a usage error not about the files it made: %s", what, err);
}

Test(analyzer_generated, seeded_random_process_trees)
{
    static uint8_t buf[4096];
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < 400; i++) {
        size_t n = 16 + (size_t)(x % (sizeof buf - 16));
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[k] = (uint8_t)(x >> 24);
        }
        char what[32];
        snprintf(what, sizeof what, "input %d", i);
        check(buf, n, what);
    }
}
