/*
 * mwtest.h — helpers shared by ALL integration tests: run a victim program (optionally under
 * the shim), capture its output and status, find the traces it wrote, and decode a trace into
 * plain totals and arrays with the format's own reader (formats/mw_reader.c).
 *
 * Typical use inside a Criterion test:
 *
 *     char *dir = mwt_tmpdir();                          // fresh mkdtemp directory
 *     const char *argv[] = { mwt_victim("shim_basic"), "arg", NULL };
 *     mwt_run r;
 *     mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r);
 *     cr_assert_eq(r.exit_code, 0);
 *     mwt_trace t;
 *     cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);   // exactly one trace
 *     cr_assert_eq(t.live_bytes, 123);
 *     mwt_trace_free(&t); mwt_run_free(&r); mwt_rmtree(dir);
 *
 * Paths: the build directory comes from $MEMWATCH_BUILD (default "build"), the source tree
 * from $MEMWATCH_SRC (default "."); both are made absolute. Every returned string is owned by
 * the library (static, or freed by the matching *_free) unless said otherwise. Nothing here
 * preloads the shim into the test process itself.
 */
#ifndef MWTEST_H
#define MWTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_format.h"

/* ---- paths --------------------------------------------------------------------------- */
const char *mwt_build_dir(void);            /* absolute */
const char *mwt_src_dir(void);              /* absolute */
const char *mwt_shim(void);                 /* <build>/libmemwatch_preload.so */
const char *mwt_victim(const char *name);   /* <build>/tests/victims/<name> (static ring of 16) */
/* The real Python interpreter (sys.executable of python3 on the PATH, which may be a pyenv
 * shell shim around it), or NULL when there is none. Looked up once. */
const char *mwt_python(void);
char *mwt_tmpdir(void);                     /* new mkdtemp dir under $TMPDIR or /tmp; free() it */
void mwt_rmtree(const char *dir);           /* rm -r (no symlink following) */

/* ---- running a program ------------------------------------------------------------------ */
typedef struct mwt_opts {
    const char *const *argv;        /* argv[0] is the program path (execvp semantics if no '/') */
    const char *const *env;         /* extra "K=V" (or "K" to unset) entries, NULL-terminated */
    bool preload;                   /* LD_PRELOAD=<shim> (prepended to any LD_PRELOAD in env) */
    const char *trace_dir;          /* MEMWATCH_OUT=<dir>/%e.%p.trace.zst unless env sets it */
    const char *cwd;                /* working directory of the child (default: unchanged) */
    const char *stdin_data;         /* bytes fed to stdin (default: /dev/null) */
    unsigned timeout_ms;            /* SIGKILL after this (default 60000), to the program and all
                                       it started (it runs in a process group of its own);
                                       r->timed_out */
    unsigned signal_after_ms;       /* if set: send signal_no after this many ms */
    int signal_no;
} mwt_opts;

typedef struct mwt_run {
    int pid;
    int raw_status;                 /* as from waitpid */
    int exit_code;                  /* WEXITSTATUS, or -1 when killed by a signal */
    int term_signal;                /* WTERMSIG, or 0 */
    bool timed_out;
    char *out, *err;                /* captured stdout / stderr, NUL-terminated */
    size_t out_len, err_len;
} mwt_run;

/* Runs the program to completion. Returns 0, or -1 when it could not be started (errno). */
int mwt_spawn(const mwt_opts *o, mwt_run *r);
void mwt_run_free(mwt_run *r);
/* Number of lines in s that start with prefix (e.g. count "memwatch:" lines on stderr). */
size_t mwt_count_lines(const char *s, const char *prefix);

/* ---- traces on disk ----------------------------------------------------------------------- */
/* Sorted full paths of the *.trace.zst files in dir (non-recursive). Free with mwt_free_list. */
size_t mwt_find_traces(const char *dir, char ***paths);
void mwt_free_list(char **paths, size_t n);
/* Decompresses a zstd trace file into a raw stream file (for tests that damage the raw
 * records); returns the raw length, or (size_t)-1 when a file or the data is unusable. */
size_t mwt_unzstd(const char *in, const char *out);

/* ---- decoded trace -------------------------------------------------------------------------- */
typedef struct mwt_block {
    uint64_t tidx, seq;             /* the block's id */
    uint64_t kind;                  /* enum mw_alloc_kind; MW_AK_COUNT for a REALLOC record */
    uint64_t size, addr, stack;
    bool freed;
    uint64_t reach;                 /* enum mw_reach_kind from REACH records (0 = none) */
    uint64_t reach_addr;            /* the address its REACH entry gave (0 = none) */
    uint64_t t_ns;                  /* the stream's time at its ALLOC record (0 = none yet) */
} mwt_block;

typedef struct mwt_thread {          /* one per thread: an index ended threads hand on has several */
    uint64_t tidx, tid, parent;
    char name[64];                  /* last THREAD_START / THREAD_NAME name */
    bool started;                   /* its THREAD_START was seen */
    bool ended;
    uint64_t allocs, frees;         /* records written in this thread's stream */
} mwt_thread;

typedef struct mwt_map {
    uint64_t addr, len, prot, flags, offset, stack;
    int64_t fd;
    char path[256];
    bool unmapped;
} mwt_map;

typedef struct mwt_module {
    uint64_t id, bias, start, size;
    char path[512];
    size_t build_id_len;
    bool unloaded;
} mwt_module;

typedef struct mwt_trace {
    char path[1024];
    int status;                     /* last reader status: MW_EOF, MW_TRUNCATED, MW_CORRUPT... */
    char err[512];                  /* reader message for anything but MW_EOF */
    bool has_header, has_end;
    uint64_t pid, ppid, flags;
    char exe[512];
    char argv0[256];
    int64_t exit_status;            /* END (or -1) */
    uint64_t end_reason, lost_events, lost_bytes;   /* END; lost also summed from LOST */
    uint64_t records, nrec[256];    /* total and per record type */
    /* heap */
    uint64_t allocs, frees, reallocs, bytes_allocated;  /* reallocs also count as allocs */
    uint64_t kind_count[MW_AK_COUNT + 1], kind_bytes[MW_AK_COUNT + 1];
    uint64_t live_blocks, live_bytes;   /* unfreed at the end of the trace */
    uint64_t inherited, inherited_bytes; /* INHERIT records (a fork child's copies of its
                                            parent's blocks: in blocks and live, not allocs) */
    uint64_t unknown_frees;             /* FREE/REALLOC naming a block never seen (a free that
                                           comes before its ALLOC in the stream, as records of
                                           different threads may, is matched when it arrives) */
    mwt_block *blocks;
    size_t nblocks;
    /* other records */
    mwt_map *maps;
    size_t nmaps;
    uint64_t munmaps, mremaps;
    mwt_thread *threads;
    size_t nthreads;
    mwt_module *modules;
    size_t nmodules;
    uint64_t forks[64];
    size_t nforks;
    char execs[8][256];
    size_t nexecs;
    uint64_t spawn_pids[8];         /* SPAWN records: child pid and program (the first 8) */
    char spawns[8][256];
    size_t nspawns;
    char marks[32][128];
    size_t nmarks;
    uint64_t rss_samples, max_rss, last_t_ns, limits_phys;
    uint64_t max_own, own_odd;   /* RSS records: memwatch's own bytes at most; samples whose
                                    own was 0 or more than their rss */
    uint64_t first_prog_rss, last_prog_rss; /* rss - own of the first and the last sample */
    uint64_t rss_odd;            /* RSS records no traced process could have sent: rss under
                                    1 MiB (the shim's own share is more) or over vm_size, anon,
                                    file or shmem over vm_size, vm_size under 4 MiB (the
                                    writer's stack alone reserves 8) or past 47 bits */
    uint64_t fatal_signo, fatal_addr, fatal_stack;  /* the first FATAL_SIGNAL (signo 0: none) */
    uint64_t time_repeats;    /* TIME records repeating the previous TIME's value */
    uint64_t last_time;
    bool have_time;
    /* stack tree: node id -> (parent, ip); ids are dense from 1 */
    uint64_t *node_parent, *node_ip;
    size_t nnodes;
} mwt_trace;

/* Decodes the whole file. Returns 0 when the preamble and header decoded (a truncated tail is
 * reported in status/err, not as failure), -1 otherwise (err says why). */
int mwt_trace_load(const char *path, mwt_trace *t);
/* Loads the only trace in dir; -1 (with err) when there are 0 or several. */
int mwt_trace_load_one(const char *dir, mwt_trace *t);
void mwt_trace_free(mwt_trace *t);
/* Loads every trace in dir (sorted by name) into a new array; *n gets the count. Traces that
 * failed to load are included with their err set. Free with mwt_traces_free. */
mwt_trace *mwt_trace_load_all(const char *dir, size_t *n);
void mwt_traces_free(mwt_trace *ts, size_t n);
/* The first trace holding a live (unfreed) block of exactly `size` bytes, or NULL. */
const mwt_trace *mwt_trace_with_live(const mwt_trace *ts, size_t n, uint64_t size);
/* Return addresses of a stack, innermost first; returns the depth (may exceed max). */
size_t mwt_stack_ips(const mwt_trace *t, uint64_t stack, uint64_t *ips, size_t max);
/* The module containing ip, or NULL. */
const mwt_module *mwt_module_of(const mwt_trace *t, uint64_t ip);
/* The last thread that owned stream tidx, or NULL. */
const mwt_thread *mwt_thread_of(const mwt_trace *t, uint64_t tidx);
/* Live (unfreed) blocks of a given size; counts them. */
size_t mwt_live_of_size(const mwt_trace *t, uint64_t size);
/* Allocations (any kind) of exactly `size`, freed or not. */
size_t mwt_allocs_of_size(const mwt_trace *t, uint64_t size);
/* Allocations with lo <= size < hi; *live (may be NULL) gets how many of them are unfreed. */
size_t mwt_allocs_in_sizes(const mwt_trace *t, uint64_t lo, uint64_t hi, size_t *live);

#endif /* MWTEST_H */
