/*
 * patterns_report.c — the growth-pattern sections of the JSON, text and Markdown reports
 * (patterns_report.h): verdict per series with its explanatory sentence, growing sites with
 * their stacks and series, fired alerts with time, rule, value and threshold.
 *
 * JSON keys (README "patterns"): patterns.{heap,rss,external,mapped}.{type, confidence,
 * growth_bytes_per_s, seconds_to_limit, explanation, ...}, patterns.limit, patterns.series,
 * growth_sites[], alerts[], alerts_suppressed.
 */
#include "patterns_report.h"

#include <math.h>
#include <string.h>

#include "htmlesc.h"

static const int ORDER[MW_SER_COUNT] = {MW_SER_HEAP, MW_SER_RSS, MW_SER_EXTERNAL, MW_SER_MAPPED};

static const char *label(int ser)
{
    return ser == MW_SER_RSS ? "RSS" : mw_series_name(ser);
}

/* Fewer samples than this: the text and Markdown reports say the run was too short instead of
 * showing the verdicts (patterns.c's rule A classifies them, at half confidence). */
#define SHORT_RUN 3u


/* ---- JSON ------------------------------------------------------------------------------ */

static void json_num_or_null(mw_json *j, bool ok, double v)
{
    if (ok) mw_json_f64(j, v);
    else mw_json_null(j);
}

/* Integral values (bytes, thresholds) exactly; others with %.6g. */
static void json_num(mw_json *j, double v)
{
    if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0) mw_json_i64(j, (int64_t)v);
    else mw_json_f64(j, v);
}

static void json_verdict(mw_json *j, const mw_pattern *v)
{
    mw_json_obj(j);
    mw_json_key(j, "type");
    mw_json_str(j, mw_pattern_type_name(v->type));
    mw_json_key(j, "confidence");
    mw_json_f64(j, round(v->confidence * 1000) / 1000);
    mw_json_key(j, "growth_bytes_per_s");
    mw_json_f64(j, v->growth_bytes_per_s);
    mw_json_key(j, "seconds_to_limit");
    json_num_or_null(j, v->has_eta, v->seconds_to_limit);
    mw_json_key(j, "explanation");
    mw_json_str(j, v->sentence);
    mw_json_key(j, "samples");
    mw_json_u64(j, v->n);
    mw_json_key(j, "r2");
    mw_json_f64(j, v->trend.r2);
    mw_json_key(j, "level_bytes");
    json_num(j, round(v->level));
    mw_json_key(j, "rise_bytes");
    json_num(j, round(v->rise));
    mw_json_key(j, "max_drawdown_bytes");
    json_num(j, round(v->max_drawdown));
    mw_json_key(j, "period_s");
    json_num_or_null(j, v->type == MW_PAT_OSCILLATING, v->osc.period_s);
    mw_json_key(j, "spikes");
    mw_json_arr(j);
    for (size_t i = 0; i < v->nmarks; i++) {
        mw_json_obj(j);
        mw_json_key(j, "t_s");
        mw_json_f64(j, v->mark_t[i]);
        mw_json_key(j, "bytes");
        json_num(j, round(v->mark_v[i]));
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
    mw_json_obj_end(j);
}

static void json_series(mw_json *j, const double *v, size_t n, bool integral)
{
    mw_json_arr(j);
    for (size_t i = 0; i < n; i++) {
        if (integral) mw_json_i64(j, (int64_t)llround(v[i]));
        else mw_json_f64(j, v[i]);
    }
    mw_json_arr_end(j);
}

static void json_stack(mw_report_proc *rp, mw_json *j, uint64_t stack)
{
    mw_frame f[MW_STACK_MAX];
    size_t n = mw_stack_frames(rp, stack, f, MW_STACK_MAX);
    mw_json_arr(j);
    for (size_t i = 0; i < n; i++) {
        mw_json_obj(j);
        mw_json_key(j, "function");
        mw_json_str(j, f[i].function);
        mw_json_key(j, "file");
        mw_json_str(j, f[i].file);
        mw_json_key(j, "line");
        if (f[i].line) mw_json_u64(j, f[i].line);
        else mw_json_null(j);
        mw_json_key(j, "module");
        mw_json_str(j, f[i].module);
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
}

void mw_patterns_json_sec(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    (void)r;
    const mw_patterns *pt = rp->patterns;
    mw_json_key(j, "patterns");
    if (!pt) {
        mw_json_null(j);
        mw_json_key(j, "growth_sites");
        mw_json_null(j);
        mw_json_key(j, "alerts");
        mw_json_null(j);
        return;
    }
    mw_json_obj(j);
    for (int k = 0; k < MW_SER_COUNT; k++) {
        mw_json_key(j, mw_series_name(ORDER[k]));
        json_verdict(j, &pt->verdict[ORDER[k]]);
    }
    mw_json_key(j, "limit");
    mw_json_obj(j);
    mw_json_key(j, "bytes");
    if (pt->limit.bytes > 0) json_num(j, pt->limit.bytes);
    else mw_json_null(j);
    mw_json_key(j, "source");
    mw_json_str(j, pt->limit.source);
    mw_json_obj_end(j);
    mw_json_key(j, "series");
    mw_json_obj(j);
    mw_json_key(j, "t_s");
    json_series(j, pt->t, pt->n, false);
    mw_json_key(j, "rss_from");
    mw_json_u64(j, pt->first[MW_SER_RSS]);
    for (int k = 0; k < MW_SER_COUNT; k++) {
        mw_json_key(j, mw_series_name(ORDER[k]));
        json_series(j, pt->v[ORDER[k]], pt->n, true);
    }
    mw_json_obj_end(j);
    mw_json_obj_end(j);

    mw_json_key(j, "growth_sites");
    mw_json_arr(j);
    for (size_t i = 0; i < pt->nsites; i++) {
        const mw_growth_site *g = &pt->sites[i];
        const mw_site *s = &rp->p->sites.v[g->site];
        mw_json_obj(j);
        mw_json_key(j, "growth_bytes_per_s");
        mw_json_f64(j, g->verdict.growth_bytes_per_s);
        mw_json_key(j, "type");
        mw_json_str(j, mw_pattern_type_name(g->verdict.type));
        mw_json_key(j, "confidence");
        mw_json_f64(j, round(g->verdict.confidence * 1000) / 1000);
        mw_json_key(j, "live_bytes");
        mw_json_i64(j, s->live);
        mw_json_key(j, "peak_live_bytes");
        mw_json_u64(j, s->peak_live);
        mw_json_key(j, "allocations");
        mw_json_u64(j, s->calls);
        mw_json_key(j, "explanation");
        mw_json_str(j, g->verdict.sentence);
        mw_json_key(j, "stack");
        json_stack(rp, j, s->stack);
        mw_json_key(j, "series");
        mw_json_arr(j);
        for (size_t k = 0; k < g->n; k++) {
            mw_json_arr(j);
            mw_json_f64(j, g->t[k]);
            mw_json_i64(j, (int64_t)llround(g->v[k]));
            mw_json_arr_end(j);
        }
        mw_json_arr_end(j);
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);

    mw_json_key(j, "alerts");
    mw_json_arr(j);
    for (size_t i = 0; i < pt->alerts.n; i++) {
        const mw_alert *a = &pt->alerts.v[i];
        mw_json_obj(j);
        mw_json_key(j, "t_s");
        mw_json_f64(j, a->t);
        mw_json_key(j, "rule");
        mw_json_str(j, mw_alert_rule_name(a->rule));
        mw_json_key(j, "series");
        mw_json_str(j, a->series);
        mw_json_key(j, "severity");
        mw_json_str(j, a->severity);
        mw_json_key(j, "value");
        json_num(j, a->value);
        mw_json_key(j, "threshold");
        json_num(j, a->threshold);
        mw_json_key(j, "message");
        mw_json_str(j, a->message);
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
    mw_json_key(j, "alerts_suppressed");
    mw_json_obj(j);
    mw_json_key(j, "cooldown");
    mw_json_u64(j, pt->alerts.held_by_cooldown);
    mw_json_key(j, "per_hour_cap");
    mw_json_u64(j, pt->alerts.dropped_by_cap);
    mw_json_obj_end(j);
}

/* ---- text ------------------------------------------------------------------------------ */

/* Trace-controlled text (function names) without control characters. */
static void put_clean(FILE *f, const char *s)
{
    for (; s && *s; s++) fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

/* Prints s word-wrapped to 100 columns, every line indented by indent spaces. */
static void put_wrapped(FILE *f, const char *s, int indent)
{
    const int width = 100 - indent;
    while (*s) {
        int n = (int)strlen(s);
        if (n > width) {
            n = width;
            while (n > 0 && s[n] != ' ') n--;
            if (n == 0) n = width;
        }
        fprintf(f, "%*s", indent, "");
        for (int i = 0; i < n; i++) fputc((unsigned char)s[i] < 0x20 ? '?' : s[i], f);
        fputc('\n', f);
        s += n;
        while (*s == ' ') s++;
    }
}

static void rate_str(char *buf, size_t len, double rate)
{
    char b[32];
    mw_fmt_bytes_h(b, sizeof b, fabs(rate));
    snprintf(buf, len, "%s%s/s", rate < 0 ? "-" : "+", b);
}

static void eta_str(char *buf, size_t len, const mw_pattern *v)
{
    if (!v->has_eta) {
        snprintf(buf, len, "-");
        return;
    }
    char d[32];
    mw_fmt_duration_h(d, sizeof d, v->seconds_to_limit);
    snprintf(buf, len, "limit in %s", d);
}

static void alert_value(char *buf, size_t len, const mw_alert *a, double v)
{
    if (a->rule == MW_AR_EXTERNAL_RATIO || a->rule == MW_AR_PATTERN) {
        snprintf(buf, len, "%.2f", v);
        return;
    }
    char b[32];
    mw_fmt_bytes_h(b, sizeof b, v);
    bool rate = a->rule >= MW_AR_HEAP_GROWTH && a->rule <= MW_AR_EXTERNAL_GROWTH;
    snprintf(buf, len, "%s%s", b, rate ? "/s" : "");
}

void mw_patterns_text_sec(mw_report *r, mw_report_proc *rp)
{
    const mw_patterns *pt = rp->patterns;
    if (!pt) return;
    /* several processes (memwatch run over a test suite): a run with nothing growing and no
     * alert fired has nothing to say here when it was too short to tell or every series was
     * stable (four verdicts of "stable" per process would bury the one that is not) */
    bool all_stable = true;
    for (int k = 0; k < MW_SER_COUNT; k++) all_stable &= pt->verdict[k].type == MW_PAT_STABLE;
    if (r->compact && (pt->n < SHORT_RUN || all_stable) && !pt->nsites && !pt->alerts.n) return;
    FILE *o = r->out;
    const char *B = r->color ? "\033[1m" : "", *OFF = r->color ? "\033[0m" : "";
    char lim[48], b1[48], b2[48], b3[48];
    if (pt->limit.bytes > 0) mw_fmt_bytes_h(lim, sizeof lim, pt->limit.bytes);
    else snprintf(lim, sizeof lim, "unknown");
    if (pt->n < SHORT_RUN) {
        /* the verdicts of 1 or 2 points (JSON and HTML still give them) would only say how
         * the run began: a rate and a time to the limit from them would be read as a forecast */
        fprintf(o, "\n%sGrowth patterns%s: %zu sample%s, too short a run to tell (one every "
                   "MEMWATCH_RSS_MS, 100 ms by default)\n", B, OFF, pt->n, pt->n == 1 ? "" : "s");
    } else {
        fprintf(o, "\n%sGrowth patterns%s (%zu samples; memory limit %s, %s)\n", B, OFF, pt->n, lim,
                pt->limit.source);
        for (int k = 0; k < MW_SER_COUNT; k++) {
            const mw_pattern *v = &pt->verdict[ORDER[k]];
            rate_str(b1, sizeof b1, v->growth_bytes_per_s);
            eta_str(b2, sizeof b2, v);
            fprintf(o, "  %-9s %-12s confidence %.2f  %14s  %s\n", label(ORDER[k]),
                    mw_pattern_type_name(v->type), v->confidence, b1, b2);
            put_wrapped(o, v->sentence, 12);
        }
    }
    if (pt->nsites) {
        fprintf(o, "\n%sGrowing sites%s (live bytes keep growing while the program runs)\n", B,
                OFF);
        for (size_t i = 0; i < pt->nsites && i < r->top; i++) {
            const mw_growth_site *g = &pt->sites[i];
            const mw_site *s = &rp->p->sites.v[g->site];
            rate_str(b1, sizeof b1, g->verdict.growth_bytes_per_s);
            mw_fmt_bytes_h(b2, sizeof b2, (double)s->live);
            char where[300];
            mw_site_label(rp, s->stack, where, sizeof where);
            fprintf(o, "  %2zu. %14s  %-11s live %-10s ", i + 1, b1,
                    mw_pattern_type_name(g->verdict.type), b2);
            put_clean(o, where);
            fputc('\n', o);
        }
        if (pt->nsites > r->top) fprintf(o, "  ... %zu more\n", pt->nsites - r->top);
    }
    fprintf(o, "\n%sAlerts%s: %zu fired", B, OFF, pt->alerts.n);
    if (pt->alerts.held_by_cooldown || pt->alerts.dropped_by_cap)
        fprintf(o, " (%zu held by cooldown, %zu over the per-hour cap)",
                pt->alerts.held_by_cooldown, pt->alerts.dropped_by_cap);
    fputc('\n', o);
    for (size_t i = 0; i < pt->alerts.n; i++) {
        const mw_alert *a = &pt->alerts.v[i];
        alert_value(b1, sizeof b1, a, a->value);
        alert_value(b2, sizeof b2, a, a->threshold);
        snprintf(b3, sizeof b3, "+%.2fs", a->t);
        fprintf(o, "  %9s  %-8s %-17s value %s > threshold %s: %s\n", b3, a->severity,
                mw_alert_rule_name(a->rule), b1, b2, a->message);
    }
}

/* ---- Markdown -------------------------------------------------------------------------- */

void mw_patterns_md_sec(mw_report *r, mw_report_proc *rp)
{
    const mw_patterns *pt = rp->patterns;
    if (!pt) return;
    FILE *o = r->out;
    char b1[48], b2[48], b3[48];
    if (pt->limit.bytes > 0) mw_fmt_bytes_h(b3, sizeof b3, pt->limit.bytes);
    else snprintf(b3, sizeof b3, "unknown");
    if (pt->n < SHORT_RUN) {
        fprintf(o, "\n## Growth patterns\n\n%zu sample%s: too short a run to tell (one every "
                   "`MEMWATCH_RSS_MS`, 100 ms by default).\n", pt->n, pt->n == 1 ? "" : "s");
    } else {
        fprintf(o, "\n## Growth patterns\n\nMemory limit: %s (%s); %zu samples.\n\n", b3,
                pt->limit.source, pt->n);
        fprintf(o, "| series | pattern | confidence | growth | time to limit | why |\n");
        fprintf(o, "| --- | --- | ---: | ---: | --- | --- |\n");
        for (int k = 0; k < MW_SER_COUNT; k++) {
            const mw_pattern *v = &pt->verdict[ORDER[k]];
            rate_str(b1, sizeof b1, v->growth_bytes_per_s);
            eta_str(b2, sizeof b2, v);
            fprintf(o, "| %s | %s | %.2f | %s | %s | ", label(ORDER[k]),
                    mw_pattern_type_name(v->type), v->confidence, b1, b2);
            mw_md_escape(o, v->sentence);
            fputs(" |\n", o);
        }
    }
    fprintf(o, "\n### Growing sites\n\n");
    if (!pt->nsites) fprintf(o, "No allocation site keeps growing.\n");
    else {
        fprintf(o, "| # | growth | pattern | live | where |\n| ---: | ---: | --- | ---: | --- |\n");
        for (size_t i = 0; i < pt->nsites && i < r->top; i++) {
            const mw_growth_site *g = &pt->sites[i];
            const mw_site *s = &rp->p->sites.v[g->site];
            rate_str(b1, sizeof b1, g->verdict.growth_bytes_per_s);
            mw_fmt_bytes_h(b2, sizeof b2, (double)s->live);
            char where[300];
            mw_site_label(rp, s->stack, where, sizeof where);
            fprintf(o, "| %zu | %s | %s | %s | ", i + 1, b1, mw_pattern_type_name(g->verdict.type),
                    b2);
            mw_md_escape(o, where);
            fputs(" |\n", o);
        }
    }
    fprintf(o, "\n### Alerts\n\n%zu fired, %zu held by cooldown, %zu over the per-hour cap.\n",
            pt->alerts.n, pt->alerts.held_by_cooldown, pt->alerts.dropped_by_cap);
    if (pt->alerts.n) {
        fprintf(o, "\n| time | severity | rule | value | threshold | message |\n"
                   "| ---: | --- | --- | ---: | ---: | --- |\n");
        for (size_t i = 0; i < pt->alerts.n; i++) {
            const mw_alert *a = &pt->alerts.v[i];
            alert_value(b1, sizeof b1, a, a->value);
            alert_value(b2, sizeof b2, a, a->threshold);
            fprintf(o, "| +%.2f s | %s | %s | %s | %s | ", a->t, a->severity,
                    mw_alert_rule_name(a->rule), b1, b2);
            mw_md_escape(o, a->message);
            fputs(" |\n", o);
        }
    }
}
