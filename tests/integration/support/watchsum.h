/*
 * watchsum.h — the watch side of a memwatch trace, decoded for the watch integration tests
 * (test_watch_*.c): watches (WATCH_REG/UNREG), write events with their variable name, writer
 * thread name and stack (instruction pointers, innermost first), and the trace's loss and
 * end facts. Built on the format reader (formats/mw_format.h), nothing else.
 */
#ifndef MW_WATCHSUM_H
#define MW_WATCHSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MW_WS_MAX_FRAMES 64
#define MW_WS_MAX_BYTES 64

typedef struct mw_ws_event {
    uint64_t seq;                   /* record order in the trace */
    uint64_t id, offset, len, tid, pc, stack, sql_fp, flags, t_ns, loc_line;
    int64_t syscall;
    size_t nbytes;                  /* old/new bytes kept (at most MW_WS_MAX_BYTES) */
    uint8_t old_b[MW_WS_MAX_BYTES], new_b[MW_WS_MAX_BYTES];
    char var[64];                   /* the watch's name */
    char thread[64];                /* writer's thread name ("" when unknown) */
    char loc_file[128], loc_func[128];
    size_t nframes;
    uint64_t frames[MW_WS_MAX_FRAMES];
} mw_ws_event;

typedef struct mw_ws_watch {
    uint64_t id, addr, len, flags;
    char name[64];
    bool ended;
    uint64_t end_reason;
} mw_ws_watch;

typedef struct mw_ws_trace {
    mw_ws_event *ev;
    size_t nev;
    mw_ws_watch *w;
    size_t nw;
    uint64_t lost_events, marks;
    bool ended;
} mw_ws_trace;

/* Loads one trace file; events sorted by time (ties: record order). Returns 0, or -1 with a
 * message in err. */
int mw_ws_load(const char *path, mw_ws_trace *out, char *err, size_t errlen);
void mw_ws_free(mw_ws_trace *t);
/* Path of the only (or first, by name) *.zst file in dir whose name contains `part` (NULL:
 * any). Returns 0 or -1. */
int mw_ws_find_trace(const char *dir, const char *part, char *buf, size_t len);
/* Number of events of watch `var` (NULL: all). */
size_t mw_ws_count(const mw_ws_trace *t, const char *var);

/* ---- running victims ----------------------------------------------------------------- */
/* $MEMWATCH_BUILD (default "build") as an absolute path. */
const char *mw_ws_build(void);
/* Runs prefix... + <build>/tests/victims/<victim> + args... (each list NULL-terminated;
 * prefix e.g. setpriv to change user, may be NULL) with PATH, MEMWATCH_OUT=<dir>/<tag>.%p.zst,
 * LD_PRELOAD=<build>/libmemwatch_preload.so when preload, and the extra "K=V" entries;
 * stdout and stderr go to <dir>/<tag>.out and <dir>/<tag>.err. Returns the wait status, or
 * -1 (also on timeout). */
int mw_ws_run(const char *dir, const char *tag, bool preload, const char *const *extra_env,
              const char *const *prefix, const char *victim, const char *const *args,
              int timeout_s);
/* Whole file as a NUL-terminated malloc'ed string ("" when unreadable). */
char *mw_ws_slurp(const char *path);

#endif /* MW_WATCHSUM_H */
