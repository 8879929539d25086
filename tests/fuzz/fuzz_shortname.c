/*
 * fuzz_shortname.c — libFuzzer target for mw_short_function (analyzer/shortname.c), which
 * cuts down function names read from the traced program's own objects: any bytes, any
 * output size, the result always terminated and as long as it says. Built and run by
 * `make fuzz` after the decoder's target.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *name = malloc(n + 1);
    if (!name) return 0;
    memcpy(name, data, n);
    name[n] = '\0';
    char out[96];
    /* the output size from the input too, so small buffers are covered */
    size_t len = n ? 1 + data[0] % sizeof out : sizeof out;
    size_t k = mw_short_function(name, out, len);
    if (k >= len || strlen(out) != k) abort();
    free(name);
    return 0;
}
