/*
 * failon.c — parses and evaluates --fail-on expressions (grammar in failon.h).
 */
#include "failon.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const names[MW_M_COUNT] = {
    "leaked", "unfreed", "definite", "indirect", "reachable", "peak_heap", "peak_rss",
    "lost_events",
};

const char *mw_metric_name(int metric)
{
    return metric >= 0 && metric < MW_M_COUNT ? names[metric] : "?";
}

uint64_t mw_metric_value(const mw_proc *p, int metric)
{
    switch (metric) {
    case MW_M_LEAKED: return mw_proc_leaked_bytes(p);
    case MW_M_UNFREED: return mw_proc_unfreed_bytes(p);
    case MW_M_DEFINITE: return p->leak_bytes[MW_REACH_DEFINITE];
    case MW_M_INDIRECT: return p->leak_bytes[MW_REACH_INDIRECT];
    case MW_M_REACHABLE: return p->leak_bytes[MW_REACH_REACHABLE];
    case MW_M_PEAK_HEAP: return p->peak_heap;
    case MW_M_PEAK_RSS: return p->peak_prog_rss; /* the program's: memwatch's own left out */
    case MW_M_LOST_EVENTS: return p->lost_events;
    default: return 0;
    }
}

int mw_failon_parse(mw_failon *f, const char *expr, char *err, size_t errlen)
{
    f->n = 0;
    const char *s = expr;
    for (;;) {
        while (isspace((unsigned char)*s)) s++;
        const char *m = s;
        while (isalnum((unsigned char)*s) || *s == '_') s++;
        size_t mlen = (size_t)(s - m);
        int metric = -1;
        for (int i = 0; i < MW_M_COUNT; i++)
            if (strlen(names[i]) == mlen && strncmp(names[i], m, mlen) == 0) metric = i;
        if (metric < 0) {
            snprintf(err, errlen, "--fail-on '%s': unknown metric '%.*s' at column %zu (metrics: "
                     "leaked unfreed definite indirect reachable peak_heap peak_rss lost_events)",
                     expr, (int)(mlen > 40 ? 40 : mlen), m, (size_t)(m - expr) + 1);
            return -1;
        }
        while (isspace((unsigned char)*s)) s++;
        if (*s != '>') {
            snprintf(err, errlen, "--fail-on '%s': expected '>' after '%s' at column %zu", expr,
                     names[metric], (size_t)(s - expr) + 1);
            return -1;
        }
        s++;
        while (isspace((unsigned char)*s)) s++;
        if (!isdigit((unsigned char)*s)) {
            snprintf(err, errlen, "--fail-on '%s': expected a number at column %zu", expr,
                     (size_t)(s - expr) + 1);
            return -1;
        }
        uint64_t v = 0;
        while (isdigit((unsigned char)*s)) {
            unsigned d = (unsigned)(*s - '0');
            if (v > (UINT64_MAX - d) / 10) {
                snprintf(err, errlen, "--fail-on '%s': number too large at column %zu", expr,
                         (size_t)(s - expr) + 1);
                return -1;
            }
            v = v * 10 + d;
            s++;
        }
        unsigned shift = 0;
        switch (*s) {
        case 'k': case 'K': shift = 10; s++; break;
        case 'm': case 'M': shift = 20; s++; break;
        case 'g': case 'G': shift = 30; s++; break;
        default: break;
        }
        if (shift && v > (UINT64_MAX >> shift)) {
            snprintf(err, errlen, "--fail-on '%s': number too large", expr);
            return -1;
        }
        v <<= shift;
        if (f->n == MW_FAILON_MAX) {
            snprintf(err, errlen, "--fail-on '%s': more than %d conditions", expr, MW_FAILON_MAX);
            return -1;
        }
        f->c[f->n].metric = metric;
        f->c[f->n].threshold = v;
        f->n++;
        while (isspace((unsigned char)*s)) s++;
        if (*s == '\0') return 0;
        if (*s != ',') {
            snprintf(err, errlen, "--fail-on '%s': unexpected '%c' at column %zu (conditions are "
                     "METRIC>N separated by commas)", expr, *s, (size_t)(s - expr) + 1);
            return -1;
        }
        s++;
    }
}

size_t mw_failon_eval(const mw_failon *f, const mw_proc *p, char *out, size_t outlen)
{
    size_t held = 0, o = 0;
    if (out && outlen) out[0] = '\0';
    for (size_t i = 0; i < f->n; i++) {
        uint64_t v = mw_metric_value(p, f->c[i].metric);
        if (v <= f->c[i].threshold) continue;
        held++;
        if (out && o < outlen) {
            int w = snprintf(out + o, outlen - o, "%s%s=%llu > %llu", held > 1 ? ", " : "",
                             names[f->c[i].metric], (unsigned long long)v,
                             (unsigned long long)f->c[i].threshold);
            if (w > 0) o += (size_t)w;
        }
    }
    return held;
}
