/*
 * fuzz_perfmap.c — libFuzzer target for the perf map reader (analyzer/perfmap.c): a JIT's
 * /tmp/perf-<pid>.map is written by the traced program, so its lines are anyone's. Each input
 * is written to a file of this process's own and loaded; then addresses taken from the input
 * (and each entry's edges) are looked up and every returned string read through, so ASan sees
 * any pointer past what the reader owns. Built and run by `make fuzz`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perfmap.h"

static volatile unsigned char sink;

static void touch(const char *s)
{
    for (; s && *s; s++) sink ^= (unsigned char)*s;
}

static char path[64];

static void remove_map(void) { unlink(path); }

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz-perfmap-%d.map", (int)getpid());
        atexit(remove_map); /* libFuzzer ends with exit() */
    }
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    int64_t now = (int64_t)time(NULL);
    mw_perfmap *m = mw_perfmap_load(path, getuid(), now - 60, now + 60, NULL, 0);
    if (!m) return 0;
    (void)mw_perfmap_count(m);
    /* addresses: every 8 bytes of the input, and the hex numbers near its start */
    for (size_t i = 0; i + 8 <= size && i < 4096; i += 8) {
        uint64_t a;
        memcpy(&a, data + i, 8);
        uint64_t probes[] = {a, a - 1, a + 1, a & 0xffffffffu, (a & 0xffff) << 12};
        for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
            mw_perfmap_sym s;
            if (mw_perfmap_lookup(m, probes[k], &s)) {
                touch(s.function);
                touch(s.file);
                sink ^= (unsigned char)(s.line ^ s.offset);
            }
        }
    }
    mw_perfmap_free(m);
    return 0;
}
