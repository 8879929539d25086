/*
 * cli.c — memwatch-analyze's command line: flags, usage, exit codes, and the run order:
 * parse -> load suppressions -> ingest every trace -> symbolize + suppress -> report ->
 * store -> --fail-on verdict.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyzer.h"
#include "failon.h"
#include "inherit.h"
#include "ingest.h"
#include "pathsame.h"
#include "patterns_proc.h"
#include "report.h"
#include "say.h"
#include "store.h"
#include "suppress.h"
#include "textfile.h"
#include "symbolize.h"

#define MW_TRACE_LIST_MAX (1u << 30) /* 1 GiB of paths: ten million traces */
#define PROG "memwatch-analyze"

static const char usage_text[] =
    "Usage: " PROG " TRACE... [options]\n"
    "Reads memwatch traces, stores them in SQLite and prints a report.\n"
    "\n"
    "  --db FILE            SQLite store (default: FIRST_TRACE.db beside the first trace,\n"
    "                       in memory for a trace read from a pipe; ':memory:' keeps\n"
    "                       nothing on disk)\n"
    "  --format FMT         text (default), json, md or html\n"
    "  -o, --output FILE    write the report to FILE instead of standard output\n"
    "  --fail-on EXPR       exit 1 when a condition holds for any process, e.g.\n"
    "                       'leaked>0,peak_rss>512M' (metrics: leaked unfreed definite\n"
    "                       indirect reachable peak_heap peak_rss lost_events; K/M/G = 1024^n)\n"
    "  --suppressions FILE  LeakSanitizer-style 'leak:PATTERN' lines; suppressed leaks are\n"
    "                       reported separately and never fail the run\n"
    "  --ignore GLOB        processes whose executable (path or name) matches GLOB are\n"
    "                       reported but not checked by --fail-on (repeatable)\n"
    "  --top N              rows in ranked tables (default 10)\n"
    "  --alerts FILE        alert rules: 'key = value' lines (thresholds, cooldown_s,\n"
    "                       max_per_hour; see README, section patterns)\n"
    "  --alert KEY=VALUE    one alert setting, applied after --alerts (repeatable)\n"
    "  --trace-list FILE    more traces: paths one per line, or NUL-separated ('-' reads\n"
    "                       standard input; for more than a command line holds)\n"
    "  -h, --help           this help\n"
    "  --version            print the version\n"
    "\n"
    "Exit status: 0 ok, 1 a --fail-on condition holds, 2 usage error, 3 unreadable or\n"
    "corrupt trace, output or store error.\n";

typedef struct cli_opts {
    const char **traces;
    size_t ntraces;
    const char *db, *format, *output, *fail_on, *suppressions;
    const char **ignore;
    size_t nignore;
    size_t top;
    const char *alerts;        /* --alerts FILE */
    const char **alert_kv;     /* --alert KEY=VALUE, in order */
    size_t nalert_kv;
    const char *trace_list;    /* --trace-list FILE */
    char *list_buf;            /* its contents: o->traces points into them */
} cli_opts;

static int usage_error(const char *fmt, const char *arg)
{
    char what[4096];
    snprintf(what, sizeof what, fmt, arg);
    mw_say(PROG ": %s (see " PROG " --help)", what);
    return MW_EXIT_USAGE;
}

/* Matches "--name VALUE" and "--name=VALUE". Returns 1 (value in *val), 0 no match, -1 missing. */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[++*i];
    return 1;
}

/* --trace-list FILE ("-": standard input): trace paths separated by NUL bytes when there is
 * one, else by newlines (empty entries skipped), added after those on the command line. A
 * command line holds a few MB at most: `memwatch run` over a test suite that starts tens of
 * thousands of programs passes their traces this way (execv failed with E2BIG). */
static int read_trace_list(cli_opts *o)
{
    char err[600];
    size_t n;
    const char *path = strcmp(o->trace_list, "-") == 0 ? "/dev/stdin" : o->trace_list;
    o->list_buf = mw_file_read(path, MW_TRACE_LIST_MAX, &n, err, sizeof err);
    if (!o->list_buf) {
        mw_say(PROG ": --trace-list %s\n", err);
        return MW_EXIT_USAGE;
    }
    char sep = memchr(o->list_buf, '\0', n) ? '\0' : '\n';
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += o->list_buf[i] == sep;
    const char **v = realloc(o->traces, (o->ntraces + count + 2) * sizeof *v);
    if (!v) {
        mw_say(PROG ": out of memory\n");
        return MW_EXIT_ERROR;
    }
    o->traces = v;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && o->list_buf[j] != sep) j++;
        o->list_buf[j] = '\0';
        if (j > i) o->traces[o->ntraces++] = o->list_buf + i;
        i = j + 1;
    }
    return MW_EXIT_OK;
}

static int parse(int argc, char **argv, cli_opts *o, bool *done)
{
    static const char *const valued[] = {"--db", "--format", "--output", "-o", "--fail-on",
                                         "--suppressions", "--ignore", "--top", "--alerts",
                                         "--alert", "--trace-list"};
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_files || a[0] != '-' || a[1] == '\0') {
            o->traces[o->ntraces++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_files = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            *done = true;
            return MW_EXIT_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf(PROG " %s (trace format %u)\n", MEMWATCH_VERSION, MW_FORMAT_VERSION);
            *done = true;
            return MW_EXIT_OK;
        }
        const char *val = NULL;
        int which = -1, r = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) {
            r = opt_value(argc, argv, &i, valued[k], &val);
            if (r != 0) {
                which = (int)k;
                break;
            }
        }
        if (which < 0) return usage_error("unknown option %s", a);
        if (r < 0) return usage_error("option %s needs a value", valued[which]);
        switch (which) {
        case 0: o->db = val; break;
        case 1: o->format = val; break;
        case 2: case 3: o->output = val; break;
        case 4: o->fail_on = val; break;
        case 5: o->suppressions = val; break;
        case 6: o->ignore[o->nignore++] = val; break;
        case 7: {
            char *end;
            errno = 0;
            long v = strtol(val, &end, 10);
            if (errno || *end || end == val || v < 1 || v > 100000)
                return usage_error("--top needs a number from 1 to 100000, got '%s'", val);
            o->top = (size_t)v;
            break;
        }
        case 8: o->alerts = val; break;
        case 9: o->alert_kv[o->nalert_kv++] = val; break;
        case 10:
            if (o->trace_list) return usage_error("%s", "--trace-list is given once");
            o->trace_list = val;
            break;
        }
    }
    if (o->trace_list) {
        int rc = read_trace_list(o);
        if (rc != MW_EXIT_OK) return rc;
    }
    if (o->format && !mw_report_format_known(o->format))
        return usage_error("unknown --format '%s' (" MW_REPORT_FORMATS ")", o->format);
    if (o->ntraces == 0) return usage_error("%s", "no trace file given");
    if (o->output && !o->output[0]) return usage_error("%s", "-o needs a file name");
    if (o->db && !o->db[0]) return usage_error("%s", "--db needs a file name");
    return MW_EXIT_OK;
}

/* Fills why (empty when the process is gated by --fail-on). */
static void not_gated(const mw_proc *p, const cli_opts *o, char *why, size_t len)
{
    const char *exe = p->exe && p->exe[0] ? p->exe : p->argc ? p->argv[0] : "";
    const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    why[0] = '\0';
    for (size_t i = 0; i < o->nignore; i++) {
        if (fnmatch(o->ignore[i], exe, 0) == 0 || fnmatch(o->ignore[i], base, 0) == 0 ||
            (p->argc && fnmatch(o->ignore[i], p->argv[0], 0) == 0)) {
            snprintf(why, len, "matches --ignore %s", o->ignore[i]);
            return;
        }
    }
    if (p->have_end && p->end_reason == MW_END_EXEC)
        snprintf(why, len, "it exec'd another program (its memory was replaced, not leaked)");
    if (mw_proc_stopped(p))
        snprintf(why, len, "its tracing stopped before it ended (what it held then is not judged)");
}

/* The store's path: --db, or FIRST_TRACE.db beside the first trace. A trace named through
 * /dev or /proc (/dev/stdin, <(zstdcat ...)) names an open file, not a place: the store of a
 * regular file opened so goes beside the file itself, a pipe's or a device's is kept in
 * memory. snprintf's result: the length the path needed. */
static int default_store_path(const cli_opts *o, char *buf, size_t size)
{
    const char *t = o->traces[0];
    if (o->db) return snprintf(buf, size, "%s", o->db);
    if (strncmp(t, "/dev/", 5) != 0 && strncmp(t, "/proc/", 6) != 0) return snprintf(buf, size, "%s.db", t);
    struct stat sb;
    char *real = stat(t, &sb) == 0 && S_ISREG(sb.st_mode) ? realpath(t, NULL) : NULL;
    int len = real ? snprintf(buf, size, "%s.db", real) : snprintf(buf, size, ":memory:");
    free(real);
    return len;
}

/* What the analyzer writes must not be what it reads: `-o` naming a trace truncated it (the
 * trace gone, its report in its place), and `-o` naming the store truncated the store before
 * it was opened. A trace named twice (a glob and a path) is read once. Returns MW_EXIT_OK or
 * MW_EXIT_USAGE (a line said). */
typedef struct file_id {
    dev_t dev;
    ino_t ino;
    size_t idx; /* position in o->traces */
} file_id;

static int by_id(const void *a, const void *b)
{
    const file_id *x = a, *y = b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int check_files(cli_opts *o)
{
    char store[4096];
    int sl = default_store_path(o, store, sizeof store);
    bool have_store = sl > 0 && (size_t)sl < sizeof store && strcmp(store, ":memory:") != 0;
    bool to_file = o->output && strcmp(o->output, "-") != 0;
    struct stat out_st, store_st;
    bool out_there = to_file && stat(o->output, &out_st) == 0;
    bool store_there = have_store && stat(store, &store_st) == 0;
    /* one stat per trace, duplicates found by sorting: the list may hold tens of thousands */
    file_id *ids = calloc(o->ntraces + 1, sizeof *ids);
    bool *drop = calloc(o->ntraces + 1, sizeof *drop);
    if (!ids || !drop) {
        free(ids);
        free(drop);
        mw_say(PROG ": out of memory\n");
        return MW_EXIT_ERROR;
    }
    size_t nid = 0;
    int rc = MW_EXIT_OK;
    for (size_t i = 0; i < o->ntraces && rc == MW_EXIT_OK; i++) {
        struct stat st;
        if (stat(o->traces[i], &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (out_there && st.st_dev == out_st.st_dev && st.st_ino == out_st.st_ino) {
            mw_say(PROG ": -o %s is the trace %s: refusing to write over what is read\n", o->output,
                   o->traces[i]);
            rc = MW_EXIT_USAGE;
        } else if (store_there && st.st_dev == store_st.st_dev && st.st_ino == store_st.st_ino) {
            mw_say(PROG ": the store %s is the trace %s: refusing to write over what is read\n", store,
                   o->traces[i]);
            rc = MW_EXIT_USAGE;
        }
        ids[nid++] = (file_id){ st.st_dev, st.st_ino, i };
    }
    if (rc == MW_EXIT_OK) {
        qsort(ids, nid, sizeof *ids, by_id);
        for (size_t i = 1; i < nid; i++)
            if (ids[i].dev == ids[i - 1].dev && ids[i].ino == ids[i - 1].ino) drop[ids[i].idx] = true;
        size_t k = 0;
        for (size_t i = 0; i < o->ntraces; i++)
            if (!drop[i]) o->traces[k++] = o->traces[i];
        o->ntraces = k;
    }
    free(ids);
    free(drop);
    if (rc == MW_EXIT_OK && to_file && have_store && mw_path_same(store, o->output)) {
        mw_say(PROG ": -o %s is the store: the report and the store need files of their own\n",
               o->output);
        rc = MW_EXIT_USAGE;
    }
    return rc;
}

static int run(cli_opts *o)
{
    int status = MW_EXIT_OK;
    char err[512];
    int files = check_files(o);
    if (files != MW_EXIT_OK) return files;
    mw_failon failon;
    mw_supp supp;
    mw_supp_init(&supp);
    if (o->fail_on && mw_failon_parse(&failon, o->fail_on, err, sizeof err)) {
        mw_say(PROG ": %s (see " PROG " --help)\n", err);
        return MW_EXIT_USAGE;
    }
    if (o->suppressions && mw_supp_load(&supp, o->suppressions, err, sizeof err)) {
        mw_say(PROG ": %s\n", err);
        mw_supp_free(&supp);
        return MW_EXIT_USAGE;
    }
    mw_alert_config alert_cfg;
    mw_alert_config_default(&alert_cfg);
    if (o->alerts && mw_alert_config_load(&alert_cfg, o->alerts, err, sizeof err)) {
        mw_say(PROG ": --alerts %s\n", err);
        mw_supp_free(&supp);
        return MW_EXIT_USAGE;
    }
    for (size_t i = 0; i < o->nalert_kv; i++) {
        if (mw_alert_config_set_kv(&alert_cfg, o->alert_kv[i], err, sizeof err)) {
            mw_say(PROG ": --alert %s: %s\n", o->alert_kv[i], err);
            mw_supp_free(&supp);
            return MW_EXIT_USAGE;
        }
    }
    mw_report_proc *procs = calloc(o->ntraces, sizeof *procs);
    if (!procs) {
        mw_say(PROG ": out of memory\n");
        mw_supp_free(&supp);
        return MW_EXIT_ERROR;
    }
    size_t n = 0;
    for (size_t i = 0; i < o->ntraces; i++) {
        mw_proc *p = mw_proc_new(o->traces[i]);
        if (!p) {
            mw_say(PROG ": out of memory\n");
            status = MW_EXIT_ERROR;
            goto out;
        }
        procs[n++].p = p;
        if (mw_ingest_file(p, o->traces[i], err, sizeof err)) {
            /* The reader's messages usually name the file already. */
            if (strstr(err, o->traces[i])) mw_say(PROG ": %s\n", err);
            else mw_say(PROG ": %s: %s\n", o->traces[i], err);
            status = MW_EXIT_ERROR;
            goto out;
        }
        if (p->records == 0)
            mw_say(PROG ": %s: warning: the trace is empty (the process ended before "
                   "its first flush)\n", o->traces[i]);
    }
    /* Fork children's inherited blocks: the stacks their parents allocated them with. */
    mw_proc **pv = malloc((n ? n : 1) * sizeof *pv);
    if (pv) {
        for (size_t i = 0; i < n; i++) pv[i] = procs[i].p;
    }
    if (!pv || mw_link_inherited(pv, n)) {
        free(pv);
        mw_say(PROG ": out of memory\n");
        status = MW_EXIT_ERROR;
        goto out;
    }
    free(pv);
    for (size_t i = 0; i < n; i++) {
        procs[i].sym = mw_sym_new(procs[i].p);
        mw_supp_apply(o->suppressions ? &supp : NULL, procs[i].p, procs[i].sym);
        not_gated(procs[i].p, o, procs[i].not_gated, sizeof procs[i].not_gated);
        mw_find_untraced(procs, n, i);
        procs[i].patterns = mw_patterns_analyze(procs[i].p, &alert_cfg); /* NULL: omitted */
    }

    /* Report. */
    mw_report r = {0};
    r.procs = procs;
    r.n = n;
    r.failon = o->fail_on ? &failon : NULL;
    r.supp = o->suppressions ? &supp : NULL;
    r.top = o->top ? o->top : 10;
    mw_report_verdict(&r);
    FILE *out = stdout;
    if (o->output && strcmp(o->output, "-") != 0) {
        out = fopen(o->output, "w");
        if (!out) {
            mw_say(PROG ": cannot write %s: %s\n", o->output, strerror(errno));
            status = MW_EXIT_ERROR;
            goto out;
        }
    }
    r.out = out;
    const char *fmt = o->format ? o->format : "text";
    r.color = out == stdout && strcmp(fmt, "text") == 0 && isatty(STDOUT_FILENO);
    int rc = strcmp(fmt, "json") == 0   ? mw_report_json(&r)
             : strcmp(fmt, "md") == 0   ? mw_report_md(&r)
             : strcmp(fmt, "html") == 0 ? mw_report_html(&r)
                                        : mw_report_text(&r);
    if (fflush(out) != 0 || ferror(out)) rc = -1;
    if (out != stdout && fclose(out) != 0) rc = -1;
    if (rc) {
        mw_say(PROG ": writing the report to %s failed: %s\n",
               out == stdout ? "standard output" : o->output, strerror(errno));
        status = MW_EXIT_ERROR;
        goto out;
    }

    /* Store. */
    char dbpath[4096];
    int len = default_store_path(o, dbpath, sizeof dbpath);
    if (len < 0 || (size_t)len >= sizeof dbpath) {
        mw_say(PROG ": the store's path is longer than %zu bytes: give a shorter one with --db\n",
               sizeof dbpath - 1);
        status = MW_EXIT_ERROR;
        goto out;
    }
    mw_store *st = mw_store_open(dbpath, err, sizeof err);
    if (!st && !o->db) {
        /* the store beside the trace, which nobody asked for by name, cannot be made there (a
         * directory the user may not write: CI artefacts, another user's traces): the report
         * is out already, and the verdict must not be lost to it (exit 3, the --fail-on gate
         * never checked, until 03:13 UTC on 2026-11-24) */
        mw_say(PROG ": %s; the store is kept in memory only (--db FILE keeps it elsewhere)\n", err);
        st = mw_store_open(":memory:", err, sizeof err);
    }
    if (!st) {
        mw_say(PROG ": %s\n", err);
        status = MW_EXIT_ERROR;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (mw_store_write(st, procs[i].p, procs[i].sym, err, sizeof err)) {
            mw_say(PROG ": %s: %s\n", dbpath, err);
            status = MW_EXIT_ERROR;
            break;
        }
    }
    mw_store_close(st);
    if (status) goto out;

    /* Verdict. */
    if (r.failed) {
        for (size_t i = 0; i < n; i++) {
            if (!procs[i].failed_conditions) continue;
            mw_say(PROG ": --fail-on '%s' holds for %s (pid %llu): %s\n", o->fail_on,
                   mw_proc_name(procs[i].p), (unsigned long long)procs[i].p->pid,
                   procs[i].fail_desc);
        }
        status = MW_EXIT_FAIL_ON;
    }
out:
    for (size_t i = 0; i < n; i++) {
        mw_sym_free(procs[i].sym);
        mw_patterns_free(procs[i].patterns);
        mw_proc_free(procs[i].p);
    }
    free(procs);
    mw_supp_free(&supp);
    return status;
}

int mw_analyze_cli(int argc, char **argv)
{
    cli_opts o = {0};
    o.traces = calloc((size_t)argc + 1, sizeof *o.traces);
    o.ignore = calloc((size_t)argc + 1, sizeof *o.ignore);
    o.alert_kv = calloc((size_t)argc + 1, sizeof *o.alert_kv);
    if (!o.traces || !o.ignore || !o.alert_kv) {
        free(o.traces);
        free(o.ignore);
        free(o.alert_kv);
        mw_say(PROG ": out of memory\n");
        return MW_EXIT_ERROR;
    }
    bool done = false;
    int rc = parse(argc, argv, &o, &done);
    if (rc == MW_EXIT_OK && !done) rc = run(&o);
    free(o.traces);
    free(o.list_buf);
    free(o.ignore);
    free(o.alert_kv);
    return rc;
}
