/*
 * runner.h — the pieces of `memwatch run`: option parsing (options.c), finding the shim and
 * the analyzer next to the runner (locate.c), and handing a run directory's traces to the
 * analyzer (analyze.c). memwatch.c holds main: spawning CMD, signals and exit status.
 */
#ifndef MW_RUNNER_H
#define MW_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

#define MW_RUN_MAX_IGNORE 64

typedef struct mw_run_opts {
    const char *out_dir;        /* --out */
    const char *fail_on;        /* --fail-on */
    const char *suppressions;   /* --suppressions */
    const char *format;         /* --format */
    const char *output;         /* -o */
    const char *html;           /* --html */
    const char *alerts;         /* --alerts FILE (analyzer alert rules) */
    const char *ignore[MW_RUN_MAX_IGNORE];
    size_t n_ignore;
    unsigned grace_ms;          /* --grace: how long to wait, once CMD has ended, for the
                                   programs it started that are still running (default 2 s) */
    bool keep, quiet, help, version;
} mw_run_opts;
#define MW_RUN_GRACE_DEFAULT_MS 2000u
#define MW_RUN_GRACE_MAX_S 3600

/* Parses options from argv[first] up to "--" (or the first non-option). Returns the index
 * of CMD in argv, or -1 after printing one error line. */
int mw_runner_parse(int argc, char **argv, int first, mw_run_opts *o);
/* Absolute paths of the shim and of memwatch-analyze: MEMWATCH_PRELOAD overrides the shim;
 * otherwise both are looked up beside this executable, then in ../lib/memwatch/ (installed
 * layout). Returns 0, or -1 after one error line. */
int mw_runner_locate(char *shim, size_t shim_len, char *analyzer, size_t analyzer_len);
/* A shim path with a space or a colon (LD_PRELOAD's separators) becomes a link's path in a
 * directory made for the run, written into dir ("" when none was needed); -1 with one line
 * when none could be made. mw_runner_shim_unlink removes it. */
int mw_runner_shim_link(char *shim, size_t shim_len, char *dir, size_t dir_len);
void mw_runner_shim_unlink(const char *dir);
/* The traces a reused run directory (--out DIR) already holds before the run: they belong
 * to earlier runs, and this run's report, gate and clean-up leave them alone. */
typedef struct mw_trace_list {
    char **paths;   /* sorted */
    int n;
    unsigned store_had; /* bit i: the store's file i (run.db, -journal, -wal, -shm) was there */
    bool dir_made;      /* the runner made the directory (set by the caller) */
} mw_trace_list;
/* Fills *l with dir's traces (none for a new directory) and which of the store's files it
 * holds; -1 after one error line. */
int mw_runner_existing(const char *dir, mw_trace_list *l);
void mw_trace_list_free(mw_trace_list *l);
/* Set by a SIGINT, SIGTERM, SIGHUP or SIGQUIT once CMD has ended (memwatch.c): the wait for
 * the programs it started that still run ends there. */
#include <signal.h>
extern volatile sig_atomic_t mw_runner_stop_waiting;
/* Runs the analyzer over the traces in dir that are not in before. Returns 1 when the gate
 * failed, 0 otherwise (also when there were no traces or the analyzer could not run: said on
 * stderr). */
int mw_runner_analyze(const char *analyzer, const char *dir, const mw_run_opts *o, const mw_trace_list *before,
                      const char *cmd);
/* Deletes the run's traces (those not in before), the store's files this run made, and the
 * directory if the runner made it and that leaves it empty: what was there before the run
 * (another run's traces, a file of the user's named like the store) stays. */
void mw_runner_cleanup(const char *dir, const mw_run_opts *o, const mw_trace_list *before);

#endif
