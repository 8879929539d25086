/*
 * alerts.c — alert rules (alerts.h): defaults taken from the seeds' monitors, the config file
 * parser, and the replay of the rules over a trace's samples with cooldowns and a per-hour cap.
 *
 * Defaults (README "patterns" lists them too): rss 200 MiB (seed 002), external 150 MiB and
 * critical 600 MiB, external/heap ratio 4 and growth 1 MiB/s (seed 003), heap 1 GiB (ours),
 * pattern confidence 0.7 (seed 002's 70 %), cooldown 120 s (seed 003), 10 per hour (seed 002).
 */
#include "alerts.h"
#include "textfile.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_BYTES, KIND_RATE, KIND_RATIO, KIND_CONF };
static const struct {
    const char *name, *key;
    int kind;
    const char *series, *severity;
} RULES[MW_AR_COUNT] = {
    [MW_AR_HEAP] = {"heap", "heap_bytes", KIND_BYTES, "heap", "warning"},
    [MW_AR_RSS] = {"rss", "rss_bytes", KIND_BYTES, "rss", "warning"},
    [MW_AR_EXTERNAL] = {"external", "external_bytes", KIND_BYTES, "external", "warning"},
    [MW_AR_EXTERNAL_CRITICAL] = {"external_critical", "external_critical_bytes", KIND_BYTES,
                                 "external", "critical"},
    [MW_AR_EXTERNAL_RATIO] = {"external_ratio", "external_ratio", KIND_RATIO, "external",
                              "warning"},
    [MW_AR_HEAP_GROWTH] = {"heap_growth", "heap_growth_bytes_per_s", KIND_RATE, "heap",
                           "warning"},
    [MW_AR_RSS_GROWTH] = {"rss_growth", "rss_growth_bytes_per_s", KIND_RATE, "rss", "warning"},
    [MW_AR_EXTERNAL_GROWTH] = {"external_growth", "external_growth_bytes_per_s", KIND_RATE,
                               "external", "warning"},
    [MW_AR_PATTERN] = {"pattern", "pattern_min_confidence", KIND_CONF, "", "critical"},
};

const char *mw_alert_rule_name(int rule)
{
    return rule >= 0 && rule < MW_AR_COUNT ? RULES[rule].name : "?";
}

void mw_alert_config_default(mw_alert_config *c)
{
    const double MiB = 1048576.0;
    c->threshold[MW_AR_HEAP] = 1024 * MiB;
    c->threshold[MW_AR_RSS] = 200 * MiB;
    c->threshold[MW_AR_EXTERNAL] = 150 * MiB;
    c->threshold[MW_AR_EXTERNAL_CRITICAL] = 600 * MiB;
    c->threshold[MW_AR_EXTERNAL_RATIO] = 4.0;
    c->threshold[MW_AR_HEAP_GROWTH] = 1 * MiB;
    c->threshold[MW_AR_RSS_GROWTH] = 1 * MiB;
    c->threshold[MW_AR_EXTERNAL_GROWTH] = 1 * MiB;
    c->threshold[MW_AR_PATTERN] = 0.7;
    c->ratio_min_heap_bytes = 16 * MiB;
    c->growth_window_s = 10;
    c->cooldown_s = 120;
    c->max_per_hour = 10;
}

/* ---- value parsing ------------------------------------------------------------------- */

/* A number with an optional binary unit: 200M, 1.5GiB, 4096, 64KB. "off" -> 0. */
static int parse_size(const char *s, double *out)
{
    if (!strcmp(s, "off")) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0) return -1;
    double mul = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': mul = 1024.0; end++; break;
    case 'M': mul = 1048576.0; end++; break;
    case 'G': mul = 1073741824.0; end++; break;
    case 'T': mul = 1099511627776.0; end++; break;
    default: break;
    }
    if (mul > 1 && *end == 'i') end++;
    if (*end == 'B' || (*end == 'b' && mul > 1)) end++;
    if (*end) return -1;
    *out = v * mul;
    return 0;
}

static int parse_number(const char *s, double lo, double hi, double *out)
{
    if (!strcmp(s, "off")) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Seconds with an optional unit s, m (minutes) or h. */
static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0) return -1;
    if (!strcmp(end, "m") || !strcmp(end, "min")) v *= 60;
    else if (!strcmp(end, "h")) v *= 3600;
    else if (*end && strcmp(end, "s")) return -1;
    *out = v;
    return 0;
}

int mw_alert_config_set(mw_alert_config *c, const char *key, const char *value, char *err,
                        size_t errlen)
{
    for (int r = 0; r < MW_AR_COUNT; r++) {
        if (strcmp(key, RULES[r].key)) continue;
        int bad;
        switch (RULES[r].kind) {
        case KIND_BYTES:
        case KIND_RATE: bad = parse_size(value, &c->threshold[r]); break;
        case KIND_RATIO: bad = parse_number(value, 0, 1e12, &c->threshold[r]); break;
        default: bad = parse_number(value, 0, 1, &c->threshold[r]); break;
        }
        if (bad)
            snprintf(err, errlen, "bad value '%s' for %s: expected %s, or off", value, key,
                     RULES[r].kind == KIND_BYTES  ? "a size such as 200M"
                     : RULES[r].kind == KIND_RATE ? "bytes per second such as 1M"
                     : RULES[r].kind == KIND_RATIO ? "a ratio such as 4.0"
                                                   : "a confidence between 0 and 1");
        return bad ? -1 : 0;
    }
    int bad = 0;
    if (!strcmp(key, "ratio_min_heap_bytes")) bad = parse_size(value, &c->ratio_min_heap_bytes);
    else if (!strcmp(key, "growth_window_s")) {
        bad = parse_seconds(value, &c->growth_window_s) || c->growth_window_s <= 0;
    } else if (!strcmp(key, "cooldown_s")) bad = parse_seconds(value, &c->cooldown_s);
    else if (!strcmp(key, "max_per_hour")) {
        bad = parse_number(value, 0, 1e9, &c->max_per_hour) ||
              c->max_per_hour != floor(c->max_per_hour);
    } else {
        snprintf(err, errlen,
                 "unknown key '%s' (keys: heap_bytes rss_bytes external_bytes "
                 "external_critical_bytes external_ratio ratio_min_heap_bytes "
                 "heap_growth_bytes_per_s rss_growth_bytes_per_s external_growth_bytes_per_s "
                 "growth_window_s pattern_min_confidence cooldown_s max_per_hour)",
                 key);
        return -1;
    }
    if (bad)
        snprintf(err, errlen, "bad value '%s' for %s: expected %s", value, key,
                 !strcmp(key, "ratio_min_heap_bytes") ? "a size such as 200M, or off"
                 : !strcmp(key, "max_per_hour")       ? "a whole number from 0 to 1000000000, or off"
                 : !strcmp(key, "growth_window_s")    ? "a time above 0 such as 10s, 5m or 1h"
                                                      : "a time such as 120s, 5m or 1h");
    return bad ? -1 : 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t l = strlen(s);
    while (l && isspace((unsigned char)s[l - 1])) s[--l] = 0;
    return s;
}

int mw_alert_config_set_kv(mw_alert_config *c, const char *kv, char *err, size_t errlen)
{
    char buf[512];
    if (strlen(kv) >= sizeof buf) {
        snprintf(err, errlen, "alert setting too long");
        return -1;
    }
    strcpy(buf, kv);
    char *eq = strchr(buf, '=');
    if (!eq) {
        snprintf(err, errlen, "expected key=value, got '%s'", kv);
        return -1;
    }
    *eq = 0;
    char *k = trim(buf), *v = trim(eq + 1);
    if (!*k || !*v) {
        snprintf(err, errlen, "expected key=value, got '%s'", kv);
        return -1;
    }
    return mw_alert_config_set(c, k, v, err, errlen);
}

int mw_alert_config_load(mw_alert_config *c, const char *path, char *err, size_t errlen)
{
    size_t n;
    char *buf = mw_text_file_read(path, MW_ALERTS_FILE_MAX, &n, err, errlen);
    if (!buf) return -1;
    char line[512], msg[400];
    unsigned lineno = 0;
    int rc = 0;
    for (const char *p = buf; *p && !rc;) {
        const char *eol = strchr(p, '\n');
        size_t l = eol ? (size_t)(eol - p) : strlen(p);
        lineno++;
        if (l >= sizeof line) {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            rc = -1;
            break;
        }
        memcpy(line, p, l);
        line[l] = 0;
        p += l + (eol != NULL);
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *s = trim(line);
        if (!*s) continue;
        if (mw_alert_config_set_kv(c, s, msg, sizeof msg)) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
            rc = -1;
        }
    }
    free(buf);
    return rc;
}

/* ---- evaluation ------------------------------------------------------------------------ */

enum { S_HEAP, S_RSS, S_EXT, S_COUNT };
static const char *SERIES_NAME[S_COUNT] = {"heap", "rss", "external"};

typedef struct state {
    const mw_alert_config *c;
    mw_alert_list *out;
    double last_fire[MW_AR_COUNT][S_COUNT];
    int fired[MW_AR_COUNT][S_COUNT];
    size_t hour_head; /* first alert in out->v still within the last hour */
} state;

static int series_of(int rule)
{
    const char *s = RULES[rule].series;
    return !strcmp(s, "rss") ? S_RSS : !strcmp(s, "external") ? S_EXT : S_HEAP;
}

/* Raises rule on series at time t unless cooling down or capped. */
static int fire(state *st, int rule, int ser, double t, double value, double thr, const char *msg)
{
    const mw_alert_config *c = st->c;
    mw_alert_list *out = st->out;
    if (st->fired[rule][ser] && t - st->last_fire[rule][ser] < c->cooldown_s) {
        out->held_by_cooldown++;
        return 0;
    }
    while (st->hour_head < out->n && out->v[st->hour_head].t <= t - 3600) st->hour_head++;
    if (c->max_per_hour > 0 && (double)(out->n - st->hour_head) >= c->max_per_hour) {
        /* counted as one would-be alert: its cooldown runs as if it had fired */
        out->dropped_by_cap++;
        st->fired[rule][ser] = 1;
        st->last_fire[rule][ser] = t;
        return 0;
    }
    if (out->n == out->cap) {
        size_t nc = out->cap ? 2 * out->cap : 16;
        mw_alert *nv = realloc(out->v, nc * sizeof *nv);
        if (!nv) return -1;
        out->v = nv;
        out->cap = nc;
    }
    mw_alert *a = &out->v[out->n++];
    a->t = t;
    a->rule = rule;
    a->series = SERIES_NAME[ser];
    a->severity = RULES[rule].severity;
    a->value = value;
    a->threshold = thr;
    snprintf(a->message, sizeof a->message, "%s", msg);
    st->fired[rule][ser] = 1;
    st->last_fire[rule][ser] = t;
    return 0;
}

/* Least-squares slope over a sliding window, kept as running sums relative to t0/v0. */
typedef struct window {
    size_t head;
    long double n, st, sv, stt, stv;
} window;

static void win_add(window *w, double t, double v, int sign)
{
    w->n += sign;
    w->st += sign * (long double)t;
    w->sv += sign * (long double)v;
    w->stt += sign * (long double)t * t;
    w->stv += sign * (long double)t * v;
}

static double win_slope(const window *w)
{
    long double den = w->n * w->stt - w->st * w->st;
    if (w->n < 3 || den <= 0) return 0;
    return (double)((w->n * w->stv - w->st * w->sv) / den);
}

static double sample_value(const mw_alert_sample *s, int ser)
{
    return ser == S_HEAP ? s->heap : ser == S_RSS ? s->rss : s->external;
}

int mw_alerts_evaluate(const mw_alert_config *c, const mw_alert_sample *s, size_t n,
                       const mw_pattern *heap, const mw_pattern *rss, const mw_pattern *external,
                       mw_alert_list *out)
{
    memset(out, 0, sizeof *out);
    state st;
    memset(&st, 0, sizeof st);
    st.c = c;
    st.out = out;
    window win[S_COUNT];
    memset(win, 0, sizeof win);
    double t0 = n ? s[0].t : 0, v0[S_COUNT] = {0};
    for (int k = 0; k < S_COUNT && n; k++) v0[k] = sample_value(&s[0], k);
    char msg[200], b1[32], b2[32];
    for (size_t i = 0; i < n; i++) {
        const mw_alert_sample *x = &s[i];
        for (int r = MW_AR_HEAP; r <= MW_AR_EXTERNAL_CRITICAL; r++) {
            int ser = series_of(r);
            double v = sample_value(x, ser), thr = c->threshold[r];
            if (thr <= 0 || !(v > thr)) continue;
            mw_fmt_bytes_h(b1, sizeof b1, v);
            mw_fmt_bytes_h(b2, sizeof b2, thr);
            snprintf(msg, sizeof msg, "%s %s exceeds %s", SERIES_NAME[ser], b1, b2);
            if (fire(&st, r, ser, x->t, v, thr, msg)) goto oom;
        }
        double thr = c->threshold[MW_AR_EXTERNAL_RATIO];
        if (thr > 0 && x->heap >= c->ratio_min_heap_bytes && x->heap > 0) {
            double ratio = x->external / x->heap;
            snprintf(msg, sizeof msg, "external/heap ratio %.2f exceeds %.2f", ratio, thr);
            if (ratio > thr && fire(&st, MW_AR_EXTERNAL_RATIO, S_EXT, x->t, ratio, thr, msg))
                goto oom;
        }
        for (int k = 0; k < S_COUNT; k++) {
            window *w = &win[k];
            win_add(w, x->t - t0, sample_value(x, k) - v0[k], 1);
            while (s[w->head].t < x->t - c->growth_window_s) {
                win_add(w, s[w->head].t - t0, sample_value(&s[w->head], k) - v0[k], -1);
                w->head++;
            }
            int r = MW_AR_HEAP_GROWTH + k;
            double gthr = c->threshold[r];
            /* only over a window at least half full, so the first samples don't count alone */
            if (gthr <= 0 || x->t - s[w->head].t < c->growth_window_s / 2 || w->n < 3) continue;
            double rate = win_slope(w);
            if (!(rate > gthr)) continue;
            mw_fmt_bytes_h(b1, sizeof b1, rate);
            mw_fmt_bytes_h(b2, sizeof b2, gthr);
            snprintf(msg, sizeof msg, "%s grows %s/s over the last %.3g s, above %s/s",
                     SERIES_NAME[k], b1, c->growth_window_s, b2);
            if (fire(&st, r, k, x->t, rate, gthr, msg)) goto oom;
        }
    }
    const mw_pattern *verdicts[S_COUNT] = {heap, rss, external};
    double pthr = c->threshold[MW_AR_PATTERN];
    for (int k = 0; k < S_COUNT && n && pthr > 0; k++) {
        const mw_pattern *p = verdicts[k];
        if (!p || (p->type != MW_PAT_LEAK && p->type != MW_PAT_EXPONENTIAL)) continue;
        if (p->confidence < pthr) continue;
        mw_fmt_bytes_h(b1, sizeof b1, p->growth_bytes_per_s);
        snprintf(msg, sizeof msg, "%s pattern %s (confidence %.2f, %s/s)", SERIES_NAME[k],
                 mw_pattern_type_name(p->type), p->confidence, b1);
        if (fire(&st, MW_AR_PATTERN, k, s[n - 1].t, p->confidence, pthr, msg)) goto oom;
    }
    return 0;
oom:
    mw_alert_list_free(out);
    return -1;
}

void mw_alert_list_free(mw_alert_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}
