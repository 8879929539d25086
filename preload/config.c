/*
 * config.c — MEMWATCH_* environment variables, parsed once by the constructor.
 *
 * Reads `environ` directly (no getenv: it may run before libc is fully set up for us, and must
 * not allocate). Every bad value produces one line on stderr naming the variable, the value and
 * the default kept; the program is never stopped because of a bad value. The lines are said
 * once per process tree: a process started by a traced one inherits the same variables and
 * would repeat them (a shell pipeline, `make`: one line per program), so a process that said
 * some passes their hash on (MEMWATCH_WARNED, added and hidden as process_env.c adds any of
 * the settings), and a process whose lines hash the same says nothing. The line about a trace
 * file that could not be made (writer.c: MEMWATCH_OUT names a missing directory, a device)
 * goes the same way, as a second hash in the same variable: "CFGHASH-OUTHASH".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mw_core.h"
#include "watch_core.h"

extern char **environ;

mw_config mw_cfg = {
    .out_pattern = MW_OUT_DEFAULT,
    .rss_ms = 100,
    .flush_ms = 200,
    .follow = true,
    .sql = true,
    .stacks = true,
    .max_depth = 64,
    .reach = true,
    .reach_timeout_ms = 60000,
    .coded_runs = true,
    .zstd_level = 0, /* auto: writer_level.c */
    .watch_spec = "",
    .quiet = false,
    .dir_fd = -1,
};

/* The lines about bad settings are made twice: first only hashed (FNV-1a over every line and
 * its newline) and counted, then, unless MEMWATCH_WARNED names that hash, said. */
static bool cfg_say;
static uint64_t cfg_hash;
static unsigned cfg_lines;
static char warned_var[50]; /* "MEMWATCH_WARNED=" + 16 hex digits [+ "-" + 16 more], "" when
                               nothing was wrong */
static bool out_failed;      /* this process could not make its trace file (writer.c) */
static uint64_t out_hash;    /* ... the hash of what said so */
static char said_out[17];    /* the OUTHASH part of the inherited variable, "" when none */

static __attribute__((format(printf, 1, 2))) void cfg_warn(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (cfg_say) {
        mw_diag("%s", line);
        return;
    }
    cfg_lines++;
    for (const char *c = line;; c++) {
        cfg_hash = (cfg_hash ^ (unsigned char)(*c ? *c : '\n')) * 0x100000001b3ull;
        if (!*c) break;
    }
}

static bool inherited; /* this process was started by a traced one (MEMWATCH_WARNED was set) */
static long long dir_fd_bad = -1; /* a MEMWATCH_DIR_FD that names no open directory */

const char *mw_config_warned_var(void) { return warned_var[0] ? warned_var : NULL; }

static void put_hex(char *d, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 16; i++) d[i] = hex[(v >> (60 - 4 * i)) & 15];
}

static void make_warned_var(void)
{
    memcpy(warned_var, "MEMWATCH_WARNED=", 16);
    put_hex(warned_var + 16, cfg_hash);
    warned_var[32] = 0;
    if (out_failed) {
        warned_var[32] = '-';
        put_hex(warned_var + 33, out_hash);
        warned_var[49] = 0;
    }
}

bool mw_config_trace_line_said(const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *c = (const unsigned char *)key; *c; c++) h = (h ^ *c) * 0x100000001b3ull;
    out_hash = h;
    out_failed = true;
    make_warned_var();
    mw_env_warned_changed();
    char mine[17];
    put_hex(mine, h);
    mine[16] = 0;
    return strcmp(said_out, mine) == 0;
}

bool mw_config_started_by_traced(void) { return inherited; }

static const char *env_get(const char *name)
{
    size_t n = strlen(name);
    if (!environ) return NULL;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!s || !*s) return false;
    unsigned long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (unsigned)(*p - '0');
        if (v > max) return false;
    }
    *out = v;
    return true;
}

static void get_uint(const char *name, unsigned *dst, unsigned min, unsigned max)
{
    const char *s = env_get(name);
    if (!s) return;
    unsigned long long v;
    if (!parse_uint(s, max, &v) || v < min) {
        char b[MW_DIAG_VAL];
        cfg_warn("%s=%s: expected an integer in %u..%u; using default %u", name, mw_diag_val(s, b, sizeof b), min,
                max, *dst);
        return;
    }
    *dst = (unsigned)v;
}

static void get_bool(const char *name, bool *dst)
{
    const char *s = env_get(name);
    if (!s) return;
    static const char *const yes[] = { "1", "yes", "true", "on" };
    static const char *const no[] = { "0", "no", "false", "off" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *dst = true; return; }
        if (strcasecmp(s, no[i]) == 0) { *dst = false; return; }
    }
    char b[MW_DIAG_VAL];
    cfg_warn("%s=%s: expected 0/1 (or yes/no, true/false, on/off); using default %d", name,
            mw_diag_val(s, b, sizeof b), *dst ? 1 : 0);
}

/* A pattern is valid when every % is followed by p, e or %. */
static bool pattern_ok(const char *s, const char **why)
{
    if (!*s) { *why = "empty"; return false; }
    if (strlen(s) >= sizeof mw_cfg.out_pattern) { *why = "too long"; return false; }
    for (const char *p = s; *p; p++) {
        if (*p != '%') continue;
        p++;
        if (*p != 'p' && *p != 'e' && *p != '%') { *why = "unknown %-escape (use %p, %e or %%)"; return false; }
    }
    return true;
}

/* Every MEMWATCH_* name memwatch reads: the shim's settings (read below), the one the shim
 * writes itself (process_env.c), the runner's (scripts/runner/locate.c) and the test suite's.
 * Any other is most likely a misspelling of one of them, whose setting would silently not
 * apply: it gets a line, as a bad value does. */
static const char *const known_names[] = {
    "MEMWATCH_QUIET",       "MEMWATCH_OUT",       "MEMWATCH_RSS_MS",   "MEMWATCH_FLUSH_MS",
    "MEMWATCH_FOLLOW",      "MEMWATCH_SQL",       "MEMWATCH_STACKS",   "MEMWATCH_STACK_DEPTH",
    "MEMWATCH_REACH",       "MEMWATCH_REACH_TIMEOUT_MS", "MEMWATCH_ADDRESSES", "MEMWATCH_CODED_RUNS",
    "MEMWATCH_ZSTD_LEVEL",  "MEMWATCH_WATCH",     "MEMWATCH_ADDED",    "MEMWATCH_PRELOAD",
    "MEMWATCH_BUILD",       "MEMWATCH_SRC",       "MEMWATCH_DIR_FD",   "MEMWATCH_WARNED",
};

/* Edit distance of a[0..an) and b[0..bn), both at most 64 bytes (larger: a large number). */
static unsigned edit_distance(const char *a, size_t an, const char *b, size_t bn)
{
    if (an > 64 || bn > 64) return 1000;
    unsigned row[65];
    for (size_t j = 0; j <= bn; j++) row[j] = (unsigned)j;
    for (size_t i = 1; i <= an; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= bn; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[bn];
}

static void warn_unknown_names(void)
{
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, "MEMWATCH_", 9) != 0 || !eq) continue;
        size_t n = (size_t)(eq - *e);
        const char *near = NULL;
        unsigned near_d = 3; /* a suggestion only within two edits */
        bool known = false;
        for (size_t i = 0; i < sizeof known_names / sizeof *known_names && !known; i++) {
            size_t kn = strlen(known_names[i]);
            known = kn == n && memcmp(*e, known_names[i], n) == 0;
            unsigned d = edit_distance(*e, n, known_names[i], kn);
            if (d < near_d) {
                near_d = d;
                near = known_names[i];
            }
        }
        if (known) continue;
        char b[MW_DIAG_VAL];
        char name[64];
        size_t cut = n < sizeof name ? n : sizeof name - 1;
        memcpy(name, *e, cut);
        name[cut] = 0;
        cfg_warn("%s: not a memwatch variable%s%s%s; ignored", mw_diag_val(name, b, sizeof b),
                near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
    }
}

static void load(void)
{
    warn_unknown_names();
    get_bool("MEMWATCH_QUIET", &mw_cfg.quiet);
    const char *out = env_get("MEMWATCH_OUT");
    if (out) {
        const char *why = NULL;
        if (pattern_ok(out, &why))
            strcpy(mw_cfg.out_pattern, out);
        else {
            char b[MW_DIAG_VAL];
            cfg_warn("MEMWATCH_OUT=%s: %s; using default %s", mw_diag_val(out, b, sizeof b), why,
                    mw_cfg.out_pattern);
        }
    }
    get_uint("MEMWATCH_RSS_MS", &mw_cfg.rss_ms, 0, 3600000u);
    get_uint("MEMWATCH_FLUSH_MS", &mw_cfg.flush_ms, 1, 200);
    get_bool("MEMWATCH_FOLLOW", &mw_cfg.follow);
    get_bool("MEMWATCH_SQL", &mw_cfg.sql);
    get_bool("MEMWATCH_STACKS", &mw_cfg.stacks);
    get_uint("MEMWATCH_STACK_DEPTH", &mw_cfg.max_depth, 1, MW_CACHE_FRAMES);
    get_bool("MEMWATCH_REACH", &mw_cfg.reach);
    get_uint("MEMWATCH_REACH_TIMEOUT_MS", &mw_cfg.reach_timeout_ms, 0, 86400000u);
    get_bool("MEMWATCH_ADDRESSES", &mw_cfg.addresses);
    get_bool("MEMWATCH_CODED_RUNS", &mw_cfg.coded_runs);
    const char *lvl = env_get("MEMWATCH_ZSTD_LEVEL");
    if (lvl && strcmp(lvl, "auto") != 0) {
        unsigned long long v;
        if (parse_uint(lvl, 19, &v) && v >= 1)
            mw_cfg.zstd_level = (int)v;
        else {
            char b[MW_DIAG_VAL];
            cfg_warn("MEMWATCH_ZSTD_LEVEL=%s: expected auto or an integer in 1..19; using auto",
                    mw_diag_val(lvl, b, sizeof b));
        }
    }
    const char *dfd = env_get("MEMWATCH_DIR_FD");
    unsigned long long fdv;
    struct stat dst;
    if (dfd && parse_uint(dfd, 1u << 30, &fdv)) {
        /* an open directory, or one line with the others (once per tree: a value the user set
         * is inherited, where one the shim passes is taken out of the environment at start) */
        if (fstat((int)fdv, &dst) == 0 && S_ISDIR(dst.st_mode))
            mw_cfg.dir_fd = (int)fdv; /* taken over by writer.c */
        else
            dir_fd_bad = (long long)fdv; /* said once, below: not one of the hashed lines, as the
                                           shim passes no MEMWATCH_DIR_FD of its own on */
    } else if (dfd) {
        char b[MW_DIAG_VAL];
        cfg_warn("MEMWATCH_DIR_FD=%s: expected a descriptor number (memwatch sets it itself); ignored",
                mw_diag_val(dfd, b, sizeof b));
    }
    const char *w = env_get("MEMWATCH_WATCH");
    if (w) {
        if (strlen(w) >= sizeof mw_cfg.watch_spec)
            cfg_warn("MEMWATCH_WATCH: longer than %zu bytes; ignored", sizeof mw_cfg.watch_spec - 1);
        else
            strcpy(mw_cfg.watch_spec, w);
    }
    /* its items' lengths here, with the other settings: the same in every program of the tree
     * (a symbol not found is said by the first traced program only: watch_symbols.c) */
    char name[MW_WATCH_SPEC_MAX], lentext[MW_WATCH_SPEC_MAX];
    const char *lens;
    for (const char *cur = mw_cfg.watch_spec; mw_watch_spec_next(&cur, name, lentext, &lens);) {
        size_t len;
        char b1[MW_DIAG_VAL], b2[MW_DIAG_VAL];
        if (lens && !mw_watch_spec_len(lens, &len))
            cfg_warn("MEMWATCH_WATCH: bad length '%s' for '%s'; skipped", mw_diag_val(lens, b1, sizeof b1),
                     mw_diag_val(name, b2, sizeof b2));
    }
}

bool mw_config_load(void)
{
    const mw_config defaults = mw_cfg;
    cfg_say = false;
    cfg_hash = 0xcbf29ce484222325ull;
    cfg_lines = 0;
    load();
    const char *said = env_get("MEMWATCH_WARNED");
    inherited = said != NULL;
    said_out[0] = 0;
    if (said && strlen(said) == 33 && said[16] == '-') memcpy(said_out, said + 17, 17);
    /* a MEMWATCH_DIR_FD the user set (the shim takes out the ones it passes) is inherited by
     * every program of the tree: the first one says it */
    if (dir_fd_bad >= 0 && !inherited)
        mw_diag("MEMWATCH_DIR_FD=%lld: not an open directory; its trace goes where MEMWATCH_OUT says", dir_fd_bad);
    /* passed on also without lines when globals are watched by name or a descriptor was bad:
     * the programs started from here then know they are not the first (watch_symbols.c) */
    if (!cfg_lines && !mw_cfg.watch_spec[0] && dir_fd_bad < 0) return true;
    make_warned_var();
    if (!cfg_lines || (said && strncmp(said, warned_var + 16, 16) == 0 && (said[16] == 0 || said[16] == '-')))
        return true; /* the process that started us said them */
    mw_cfg = defaults;
    cfg_say = true;
    load();
    cfg_say = false;
    return true;
}
