/*
 * fuzz_analyze.c — libFuzzer target for the whole analyzer: each input becomes one to three
 * well-formed, hostile traces of a process tree (trace_gen.c), analyzed in this process as
 * `memwatch-analyze TRACES --db :memory: --format F -o /dev/null ...` would. Built and run by
 * `make fuzz`; any sanitizer report, a crash, or an exit status other than 0, 1 (a --fail-on
 * condition), 2 (a suppressions or alerts file it refuses) or 3 (a trace it cannot read) is a
 * finding.
 */
#include <stddef.h>
#include <stdint.h>

#include "trace_gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int rc = mw_gen_analyze(data, size, NULL, 0);
    if (rc != -1 && rc != 0 && rc != 1 && rc != 2 && rc != 3) __builtin_trap();
    return 0;
}
