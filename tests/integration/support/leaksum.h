/*
 * leaksum.h — unfreed-at-exit figures from three independent sources, for the reference
 * tests (test_reference_*.c, test_reach_*.c) and scripts/bench:
 *   - a memwatch trace: live blocks replayed from ALLOC/REALLOC/INHERIT/FREE, split by the REACH
 *     verdicts the shim wrote at exit;
 *   - a valgrind memcheck log: "in use at exit" and the LEAK SUMMARY;
 *   - a heaptrack data file (zstd text): allocations minus deallocations, exactly.
 * Plus a small process runner (posix_spawn with an explicit environment, output to files,
 * a time limit) so tests run programs the same way under each tool.
 */
#ifndef MW_LEAKSUM_H
#define MW_LEAKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mw_leak_totals {
    uint64_t bytes, blocks;              /* unfreed at the end of the trace */
    uint64_t kind_bytes[4], kind_blocks[4]; /* by enum mw_reach_kind (0 = no verdict) */
    uint64_t pid, ppid, records, reach_entries, reach_records;
    bool ended;                          /* END record seen */
    uint64_t end_reason;                 /* enum mw_end_reason */
    int64_t exit_status;
    char exe[512];
} mw_leak_totals;

/* Replays one trace. Returns 0, or -1 with a message in err. */
int mw_leaks_from_trace(const char *path, mw_leak_totals *out, char *err, size_t errlen);
/* Same, and calls fn for every unfreed block (its size and reach kind). */
int mw_leaks_each(const char *path, mw_leak_totals *out,
                  void (*fn)(uint64_t size, unsigned kind, void *arg), void *arg, char *err,
                  size_t errlen);

typedef struct mw_vg_totals {
    bool have_summary, have_in_use;      /* LEAK SUMMARY / "in use at exit" lines found */
    uint64_t in_use_bytes, in_use_blocks;
    uint64_t definite_bytes, definite_blocks;
    uint64_t indirect_bytes, indirect_blocks;
    uint64_t possible_bytes, possible_blocks;
    uint64_t reachable_bytes, reachable_blocks;
    uint64_t suppressed_bytes, suppressed_blocks;
    long pid, ppid;                      /* ppid: the "Parent PID:" line */
    char command[512];                   /* the "Command:" line */
} mw_vg_totals;

/* Parses a memcheck log (--log-file). Returns 0 (fields found are filled), -1 if unreadable.
 * "All heap blocks were freed" counts as a summary of zeros. */
int mw_vg_parse(const char *log_path, mw_vg_totals *out);

/* Bytes and blocks of the loss records (--show-leak-kinds=all) whose stack lines contain
 * pat1 and (if non-NULL) pat2, e.g. ": allocate_dtv " (glibc's per-thread DTVs), or
 * "libstdc++.so" + "_dl_init" (libstdc++'s emergency exception pool, made by its
 * constructor). Returns 0, -1 if unreadable. */
int mw_vg_records_with(const char *log_path, const char *pat1, const char *pat2,
                       uint64_t *bytes, uint64_t *blocks);

/* Exact leaked total of a heaptrack data file (heaptrack -o FILE; FILE.zst is read through
 * `zstd -dc`). Returns 0 or -1. */
int mw_heaptrack_leaked(const char *zst_path, uint64_t *bytes, uint64_t *blocks,
                        uint64_t *events);

/* Runs argv with exactly envp (NULL-terminated), cwd, stdout/stderr to files (NULL:
 * /dev/null), killed after timeout_s. Returns the wait status, or -1. */
int mw_run(char *const argv[], char *const envp[], const char *cwd, const char *out_path,
           const char *err_path, int timeout_s);

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp); path in buf. 0 or -1. */
int mw_tempdir(char *buf, size_t len, const char *tag);
/* rm -r of a directory made by mw_tempdir (files only, one level deep). */
void mw_tempdir_remove(const char *dir);

#endif /* MW_LEAKSUM_H */
