/*
 * options.c — command-line parsing for `memwatch run`. Every option is validated here so a
 * bad flag is one clear line and exit status 2 before anything is started.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerts.h"
#include "failon.h"
#include "report.h"
#include "runner.h"
#include "say.h"
#include "pathsame.h"
#include "suppress.h"

/* A report file (-o, --html) is written after CMD has run, which may take an hour: its
 * directory must be there and writable now, and the path not a directory. */
static int check_report_path(const char *flag, const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir) {
        mw_say("memwatch: %s: the path is longer than %zu bytes\n", flag, sizeof dir - 1);
        return -1;
    }
    if (n) memcpy(dir, path, n);
    else dir[n++] = '.';
    dir[n] = 0;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        mw_say("memwatch: %s %s: is a directory\n", flag, path);
        return -1;
    }
    const char *why = stat(dir, &sb) != 0          ? strerror(errno)
                      : !S_ISDIR(sb.st_mode)         ? strerror(ENOTDIR)
                      : access(dir, W_OK | X_OK) != 0 ? strerror(errno)
                                                      : NULL;
    if (why) {
        mw_say("memwatch: %s %s: cannot write in %s: %s\n", flag, path, dir, why);
        return -1;
    }
    return 0;
}

/* The option values the analyzer will read after CMD has run, checked now with the
 * analyzer's own parsers: a typo must not cost a whole test-suite run. */
static int check_values(const mw_run_opts *o)
{
    char err[512];
    if (o->fail_on) {
        mw_failon f;
        if (mw_failon_parse(&f, o->fail_on, err, sizeof err)) {
            mw_say("memwatch: %s (see memwatch run --help)\n", err);
            return -1;
        }
    }
    if (o->output && check_report_path("-o", o->output)) return -1;
    if (o->html && check_report_path("--html", o->html)) return -1;
    if (o->output && o->html && mw_path_same(o->output, o->html)) {
        mw_say("memwatch: -o %s and --html %s are the same file: each report needs its own\n", o->output,
               o->html);
        return -1;
    }
    if (o->format && !mw_report_format_known(o->format)) {
        mw_say("memwatch: unknown --format '%s' (" MW_REPORT_FORMATS ")\n", o->format);
        return -1;
    }
    if (o->suppressions) {
        mw_supp s;
        mw_supp_init(&s);
        int rc = mw_supp_load(&s, o->suppressions, err, sizeof err);
        mw_supp_free(&s);
        if (rc) {
            mw_say("memwatch: %s\n", err);
            return -1;
        }
    }
    if (o->alerts) {
        mw_alert_config c;
        mw_alert_config_default(&c);
        if (mw_alert_config_load(&c, o->alerts, err, sizeof err)) {
            mw_say("memwatch: --alerts %s\n", err);
            return -1;
        }
    }
    return 0;
}

static const char *need_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        mw_say("memwatch: option %s needs a value (see memwatch run --help)\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* --grace SECONDS: a decimal number of seconds, 0 to MW_RUN_GRACE_MAX_S, at most 3 decimals
 * ("0", "2", "0.25"). 0 on success, -1 after one error line. */
static int parse_grace(const char *v, unsigned *ms)
{
    unsigned long whole = 0, frac = 0;
    int fdigits = 0;
    const char *c = v;
    bool digits = false;
    for (; *c >= '0' && *c <= '9'; c++, digits = true)
        if ((whole = whole * 10 + (unsigned long)(*c - '0')) > MW_RUN_GRACE_MAX_S) break;
    if (*c == '.')
        for (c++; *c >= '0' && *c <= '9' && fdigits < 4; c++, fdigits++, digits = true)
            frac = frac * 10 + (unsigned long)(*c - '0');
    if (!digits || *c || fdigits > 3 || whole > MW_RUN_GRACE_MAX_S ||
        (whole == MW_RUN_GRACE_MAX_S && frac)) {
        mw_say("memwatch: --grace '%s': want seconds from 0 to %d, e.g. 2 or 0.5 (at most 3 decimals)\n",
               v, MW_RUN_GRACE_MAX_S);
        return -1;
    }
    while (fdigits++ < 3) frac *= 10;
    *ms = (unsigned)(whole * 1000 + frac);
    return 0;
}

int mw_runner_parse(int argc, char **argv, int first, mw_run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->keep = true;
    o->grace_ms = MW_RUN_GRACE_DEFAULT_MS;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (!strcmp(a, "--")) {
            if (i + 1 >= argc) {
                mw_say("memwatch: no command given after -- (usage: memwatch run [options] -- CMD ARGS...)\n");
                return -1;
            }
            return check_values(o) ? -1 : i + 1;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { o->help = true; return argc; }
        if (!strcmp(a, "--version")) { o->version = true; return argc; }
        else if (!strcmp(a, "--keep")) { o->keep = true; continue; }
        else if (!strcmp(a, "--no-keep")) { o->keep = false; continue; }
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) { o->quiet = true; continue; }
        else if (!strcmp(a, "--out")) slot = &o->out_dir;
        else if (!strcmp(a, "--fail-on")) slot = &o->fail_on;
        else if (!strcmp(a, "--suppressions")) slot = &o->suppressions;
        else if (!strcmp(a, "--format")) slot = &o->format;
        else if (!strcmp(a, "-o")) slot = &o->output;
        else if (!strcmp(a, "--html")) slot = &o->html;
        else if (!strcmp(a, "--alerts")) slot = &o->alerts;
        else if (!strcmp(a, "--grace")) {
            const char *v = need_value(argc, argv, &i);
            if (!v) return -1;
            if (parse_grace(v, &o->grace_ms)) return -1;
            continue;
        } else if (!strcmp(a, "--ignore")) {
            const char *v = need_value(argc, argv, &i);
            if (!v) return -1;
            if (o->n_ignore == MW_RUN_MAX_IGNORE) {
                mw_say("memwatch: too many --ignore patterns (at most %d)\n", MW_RUN_MAX_IGNORE);
                return -1;
            }
            o->ignore[o->n_ignore++] = v;
            continue;
        } else if (a[0] == '-') {
            mw_say("memwatch: unknown option %s (see memwatch run --help)\n", a);
            return -1;
        } else {
            return check_values(o) ? -1 : i; /* CMD without a "--" separator */
        }
        const char *v = need_value(argc, argv, &i);
        if (!v) return -1;
        *slot = v;
    }
    mw_say("memwatch: no command given (usage: memwatch run [options] -- CMD ARGS...)\n");
    return -1;
}
