/*
 * trace_gen.h — turns arbitrary bytes into well-formed but hostile traces, and runs the
 * analyzer on them in-process, for the analyzer's structure-aware fuzzing (tests/fuzz/fuzz_analyze.c, libFuzzer) and its seeded test
 * (tests/unit/test_analyzer_generated.c, in `make test`).
 *
 * fuzz_decode.c feeds the decoder raw bytes, and almost every mutation stops there as
 * corruption; the analyzer behind it (ingest, the model, the cross-process passes, the
 * symbolizer, the patterns, the store and every report format) is only reached by traces that
 * decode. These are built with the real encoder (formats/mw_tracefile.h), every field drawn
 * from the input: frees of blocks never allocated or freed twice, reallocs of other threads'
 * blocks, stack nodes whose parents are missing or themselves, modules that overlap, REACH
 * verdicts for blocks that are gone, SQL ends without beginnings, watch writes of ids never
 * registered, inherited blocks of parents that do not exist, extreme sizes and times.
 */
#ifndef MW_TRACE_GEN_H
#define MW_TRACE_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MW_GEN_MAX_TRACES 3

/* The traces of one process tree made from data[0..n): 1 to MW_GEN_MAX_TRACES, trace i of
 * pid MW_GEN_PID0 + i (the later ones children of an earlier one). Each out[i] is the file's
 * bytes (malloc'd, zstd or raw as the input chooses); returns how many were made. */
#define MW_GEN_PID0 31000u
size_t mw_gen_traces(const uint8_t *data, size_t n, uint8_t *out[MW_GEN_MAX_TRACES],
                     size_t out_len[MW_GEN_MAX_TRACES]);

/* Makes the traces of data[0..n) and runs the analyzer on them in this process
 * (mw_analyze_cli): the traces as memfds, a store in memory, the report to /dev/null, its
 * format and options drawn from the input too. Returns the analyzer's exit status, or -1 when
 * no trace could be made. With err non-NULL, what the analyzer printed on stdio's stderr is
 * captured there (NUL-terminated, cut to errlen); sanitizer reports still go to the real
 * stderr. */
int mw_gen_analyze(const uint8_t *data, size_t n, char *err, size_t errlen);
/* The error lines in what mw_gen_analyze captured: lines starting "memwatch-analyze:" that
 * are not warnings (another trace of the same run may have given one before the error). */
unsigned mw_gen_error_lines(const char *err);
/* Called with true just before mw_gen_analyze runs the analyzer and with false just after,
 * when set (tests/unit/test_analyzer_oom.c fails allocations only in between). */
extern void (*mw_gen_around_analyzer)(bool before);

#endif /* MW_TRACE_GEN_H */
