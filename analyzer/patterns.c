/*
 * patterns.c — the classifier that turns the detectors of growth.c into one verdict per series.
 *
 * Steps (all thresholds in mw_pattern_params; README "patterns" states the same rules):
 *  1. Series longer than MW_PAT_MAX_POINTS are averaged into that many time buckets.
 *  2. Robust trend: a least-squares line, robust z-scores of its residuals, and a refit without
 *     the anomalous points (|z| > z_threshold). The "cleaned" series drops those points too.
 *  3. Measurements on the cleaned series: start/middle/end levels (medians of 10 % windows),
 *     rise = end - start, largest drawdown below the running maximum, noise (robust sd of
 *     first differences), moving-average crossover, segment slopes (acceleration). Zero
 *     crossings are measured on the residuals of all points against the robust trend.
 *  4. Rules, first match wins:
 *     exponential  growing, segment slopes increase (>= exp_min_inc of pairs), last/first
 *                  segment slope and second/first half rise both >= exp_min_ratio, and a line
 *                  (r² >= 0.5) or an exponential (ln fit r² >= 0.9) fits
 *     leak         growing, >= leak_min_points, drawdown <= leak_drawdown of the rise (or
 *                  within 4 noise sd), the second half still holds >= leak_late_share of the
 *                  rise, short MA above long MA on >= leak_ma_up of the run: sustained growth
 *                  that never comes back
 *     linear       growing or shrinking with r² >= linear_min_r2: a straight-line trend that
 *                  gives memory back along the way (or too few points to call it a leak)
 *     spike        1..spike_max_runs bursts of high anomalies, <= spike_max_share of the
 *                  points, peak >= spike_frac of the level above it and robust z >=
 *                  spike_min_z (not come back yet: lower confidence)
 *     oscillating  residual half-amplitude >= osc_amp_frac of the level, >= 3 up-crossings,
 *                  period CV <= osc_max_cv, lag-1 autocorrelation >= osc_min_autocorr and
 *                  autocorrelation one period apart >= osc_min_period_ac (cycles repeat)
 *     stable       otherwise
 *     "growing" = r² >= growth_min_r2, and trend rise (slope x duration) and level rise both
 *     past max(rise_frac x level, rise_floor) (the level rise needs half of it).
 *  5. Confidence = evidence from the number of points, n/(n+4), times rule-specific factors
 *     (see each rule below), clamped to 0..1.
 */
#include "patterns.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mw_pattern_type_name(mw_pattern_type t)
{
    switch (t) {
    case MW_PAT_STABLE: return "stable";
    case MW_PAT_LINEAR: return "linear";
    case MW_PAT_EXPONENTIAL: return "exponential";
    case MW_PAT_SPIKE: return "spike";
    case MW_PAT_OSCILLATING: return "oscillating";
    case MW_PAT_LEAK: return "leak";
    }
    return "stable";
}

void mw_pattern_params_default(mw_pattern_params *p)
{
    p->rise_frac = 0.10;
    p->rise_floor = 65536;
    p->z_threshold = 3.5;
    p->spike_frac = 0.25;
    p->spike_min_z = 6.0;
    p->spike_max_share = 0.35;
    p->spike_max_runs = 3;
    p->leak_drawdown = 0.20;
    p->leak_late_share = 0.25;
    p->leak_ma_up = 0.70;
    p->leak_min_points = 9;
    p->linear_min_r2 = 0.60;
    p->growth_min_r2 = 0.25;
    p->exp_min_inc = 0.70;
    p->exp_min_ratio = 3.0;
    p->osc_amp_frac = 0.10;
    p->osc_max_cv = 0.50;
    p->osc_min_autocorr = 0.30;
    p->osc_min_period_ac = 0.50;
}

mw_limit mw_limit_in_force(uint64_t cgroup_max, uint64_t rlimit_as, uint64_t phys_mem)
{
    const uint64_t none = (uint64_t)1 << 62;
    mw_limit l = {0, "none"};
    if (cgroup_max && cgroup_max < none) l = (mw_limit){(double)cgroup_max, "cgroup memory.max"};
    else if (rlimit_as && rlimit_as < none) l = (mw_limit){(double)rlimit_as, "RLIMIT_AS"};
    else if (phys_mem && phys_mem < none) l = (mw_limit){(double)phys_mem, "physical memory"};
    return l;
}

void mw_fmt_bytes_h(char *buf, size_t len, double b)
{
    static const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double a = fabs(b);
    int i = 0;
    while (a >= 1024 && i < 6) {
        a /= 1024;
        b /= 1024;
        i++;
    }
    if (i == 0) snprintf(buf, len, "%.0f B", b);
    else snprintf(buf, len, "%.1f %s", b, u[i]);
}

void mw_fmt_duration_h(char *buf, size_t len, double s)
{
    if (!isfinite(s)) snprintf(buf, len, "never");
    else if (s < 120) snprintf(buf, len, "%.2g s", s < 10 ? s : floor(s + 0.5));
    else if (s < 7200) snprintf(buf, len, "%.1f min", s / 60);
    else if (s < 172800) snprintf(buf, len, "%.1f h", s / 3600);
    else snprintf(buf, len, "%.1f days", s / 86400);
}

static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : (x != x ? 0 : x); }

/* Median of v[a..b) (copy + sort). */
static double window_median(const double *v, size_t a, size_t b)
{
    if (b <= a) return 0;
    return mw_quantile(v + a, b - a, 0.5);
}

/* Averages n points into at most MW_PAT_MAX_POINTS time-ordered buckets. */
static size_t bucketize(const double *t, const double *v, size_t n, double **bt, double **bv)
{
    size_t m = MW_PAT_MAX_POINTS;
    *bt = malloc(m * sizeof **bt);
    *bv = malloc(m * sizeof **bv);
    if (!*bt || !*bv) return 0;
    for (size_t k = 0; k < m; k++) {
        size_t a = k * n / m, b = (k + 1) * n / m;
        long double st = 0, sv = 0;
        for (size_t i = a; i < b; i++) {
            st += t[i];
            sv += v[i];
        }
        (*bt)[k] = (double)(st / (b - a));
        (*bv)[k] = (double)(sv / (b - a));
    }
    return m;
}

typedef struct work {
    const double *t, *v;
    size_t n;
    double *resid;
    unsigned char *flags;
    double *ct, *cv; /* cleaned series */
    size_t nc;
} work;

static void work_free(work *w)
{
    free(w->resid);
    free(w->flags);
    free(w->ct);
    free(w->cv);
}

/* Robust trend and anomaly flags (step 2). */
static int robust_trend(work *w, const mw_pattern_params *p, double ref, mw_pattern *out)
{
    size_t n = w->n;
    w->resid = malloc(n * sizeof *w->resid);
    w->flags = calloc(n, 1);
    w->ct = malloc(n * sizeof *w->ct);
    w->cv = malloc(n * sizeof *w->cv);
    if (!w->resid || !w->flags || !w->ct || !w->cv) return -1;
    mw_trend tr;
    mw_trend_fit(w->t, w->v, NULL, n, &tr);
    double floor_scale = fmax(1.0, 1e-6 * ref);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) w->resid[i] = w->v[i] - mw_trend_at(&tr, w->t[i]);
        if (mw_zscore_anomalies(w->resid, n, p->z_threshold, floor_scale, w->flags, &out->anom))
            return -1;
        if (pass == 1) break;
        size_t keep = n - out->anom.high - out->anom.low;
        mw_trend rt;
        if (keep >= 3 && keep * 2 >= n && mw_trend_fit(w->t, w->v, w->flags, n, &rt) >= 3) tr = rt;
        else break;
    }
    out->trend = tr;
    w->nc = 0;
    for (size_t i = 0; i < n; i++) {
        if (w->flags[i]) continue;
        w->ct[w->nc] = w->t[i];
        w->cv[w->nc] = w->v[i];
        w->nc++;
    }
    if (w->nc < 3) { /* too few normal points: measure on everything */
        memcpy(w->ct, w->t, n * sizeof *w->ct);
        memcpy(w->cv, w->v, n * sizeof *w->cv);
        w->nc = n;
    }
    return 0;
}

/* Robust sd of first differences / sqrt(2): the point-to-point noise of the series. */
static double diff_noise(const double *v, size_t n)
{
    if (n < 3) return 0;
    double *d = malloc((n - 1) * sizeof *d);
    if (!d) return 0;
    for (size_t i = 0; i + 1 < n; i++) d[i] = v[i + 1] - v[i];
    double med = mw_quantile(d, n - 1, 0.5);
    for (size_t i = 0; i + 1 < n; i++) d[i] = fabs(d[i] - med);
    double mad = mw_quantile(d, n - 1, 0.5);
    free(d);
    return 1.4826 * mad / sqrt(2.0);
}

/* The spike rule's bursts (runs of high points) whose peak stands at least thr above the
 * baseline, each marked at its peak. A run only a few bytes above a flat baseline (a transient
 * block live at one sample makes a huge robust z on a series without noise: a program's first
 * sample, under load) is no burst. Returns how many; *first is the first point of the first
 * one, *last the last point of the last one. */
static size_t add_spike_marks(const work *w, const mw_anomalies *an, double thr, mw_pattern *out, size_t *first,
                              size_t *last)
{
    size_t i = 0, n = w->n, bursts = 0;
    while (i < n) {
        if (w->flags[i] != MW_ANOM_HIGH) {
            i++;
            continue;
        }
        size_t start = i, best = i;
        while (i < n && w->flags[i] == MW_ANOM_HIGH) {
            if (w->v[i] > w->v[best]) best = i;
            i++;
        }
        if (w->resid[best] - an->center < thr) continue;
        if (bursts++ == 0) *first = start;
        *last = i - 1;
        if (out->nmarks < MW_PAT_MAX_MARKS) {
            out->mark_t[out->nmarks] = w->t[best];
            out->mark_v[out->nmarks] = w->v[best];
            out->nmarks++;
        }
    }
    return bursts;
}

static void cycle_mean(const double *t, const double *v, size_t a, size_t b, double *tm, double *vm)
{
    long double st = 0, sv = 0;
    for (size_t i = a; i < b; i++) {
        st += t[i];
        sv += v[i];
    }
    *tm = (double)(st / (b - a));
    *vm = (double)(sv / (b - a));
}

static double cycle_growth(const double *t, const double *v, const mw_oscillation *os)
{
    if (os->up_crossings < 3 || os->up_i1 <= os->up_i0 || os->up_ilast <= os->up_ilast1) return 0;
    double t0, v0, t1, v1;
    cycle_mean(t, v, os->up_i0, os->up_i1, &t0, &v0);
    cycle_mean(t, v, os->up_ilast1, os->up_ilast, &t1, &v1);
    return t1 > t0 ? (v1 - v0) / (t1 - t0) : 0;
}

/* Time for a series growing at rate (bytes/s, exponential with k > 0 when exp) to add headroom. */
static double eta(double headroom, double rate, double k)
{
    if (headroom <= 0) return 0;
    if (k > 0) return log1p(headroom * k / rate) / k;
    return headroom / rate;
}

int mw_pattern_classify(const mw_pattern_input *in, mw_pattern *out)
{
    mw_pattern_params defp;
    const mw_pattern_params *p = in->params;
    if (!p) {
        mw_pattern_params_default(&defp);
        p = &defp;
    }
    memset(out, 0, sizeof *out);
    const char *name = in->name ? in->name : "series";
    char b1[32], b2[32], b3[32], b4[32];
    work w = {in->t, in->v, in->n, NULL, NULL, NULL, NULL, 0};
    double *bt = NULL, *bv = NULL;
    if (in->n > MW_PAT_MAX_POINTS) {
        w.n = bucketize(in->t, in->v, in->n, &bt, &bv);
        if (!w.n) goto oom;
        w.t = bt;
        w.v = bv;
    }
    size_t n = w.n;
    out->n = n;
    if (n == 0) {
        snprintf(out->sentence, sizeof out->sentence, "%s: no samples.", name);
        free(bt);
        free(bv);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (isfinite(w.t[i]) && isfinite(w.v[i])) continue;
        snprintf(out->sentence, sizeof out->sentence, "%s: non-finite sample at %zu, not classified.",
                 name, i);
        free(bt);
        free(bv);
        return 0;
    }
    out->t_first = w.t[0];
    out->t_last = w.t[n - 1];
    out->v_min = out->v_max = w.v[0];
    for (size_t i = 1; i < n; i++) {
        if (w.v[i] < out->v_min) out->v_min = w.v[i];
        if (w.v[i] > out->v_max) out->v_max = w.v[i];
    }
    double dur = out->t_last - out->t_first;
    out->level = mw_quantile(w.v, n, 0.5);
    if (out->level != out->level) goto oom;
    double ref = fmax(fabs(out->level), p->rise_floor);
    double rise_thr = fmax(p->rise_frac * ref, p->rise_floor);
    double evid = (double)n / ((double)n + 4.0);
    mw_fmt_bytes_h(b1, sizeof b1, out->level);
    mw_fmt_duration_h(b2, sizeof b2, dur);

    if (n < 3) { /* rule A: too short to tell more than "moved" or "did not" */
        mw_trend_fit(w.t, w.v, NULL, n, &out->trend); /* the line through 1 or 2 points */
        out->growth_bytes_per_s = out->trend.slope;
        out->rise = n == 2 ? w.v[1] - w.v[0] : 0;
        if (fabs(out->rise) >= rise_thr && dur > 0) {
            out->type = MW_PAT_LINEAR;
            out->confidence = evid * 0.5;
        } else {
            out->type = MW_PAT_STABLE;
            out->confidence = evid * 0.5;
        }
        snprintf(out->sentence, sizeof out->sentence,
                 "%s: only %zu sample%s (%s), too few to tell a pattern.", name, n,
                 n == 1 ? "" : "s", b1);
        goto limit;
    }

    if (robust_trend(&w, p, ref, out)) goto oom;
    /* ---- measurements on the cleaned series ---- */
    size_t nc = w.nc, win = nc / 10 < 1 ? 1 : nc / 10;
    double start = window_median(w.cv, 0, win), end = window_median(w.cv, nc - win, nc);
    double mid = window_median(w.cv, nc / 2 - win / 2, nc / 2 - win / 2 + win);
    out->rise = end - start;
    double runmax = w.cv[0];
    for (size_t i = 0; i < nc; i++) {
        if (w.cv[i] > runmax) runmax = w.cv[i];
        if (runmax - w.cv[i] > out->max_drawdown) out->max_drawdown = runmax - w.cv[i];
    }
    double noise = diff_noise(w.cv, nc);
    mw_ma_crossover(w.cv, nc, 0, 0, &out->ma);
    mw_acceleration(w.ct, w.cv, nc, &out->accel);
    if (mw_zero_crossings(w.t, w.resid, n, &out->osc)) goto oom;
    double slope = out->trend.slope, trend_rise = slope * dur;
    int moved = out->trend.r2 >= p->growth_min_r2; /* not a wander of noise */
    int growing = moved && trend_rise >= rise_thr && out->rise >= 0.5 * rise_thr;
    int shrinking = moved && trend_rise <= -rise_thr && out->rise <= -0.5 * rise_thr;
    out->growth_bytes_per_s = slope;
    const mw_accel *ac = &out->accel;
    size_t segs = ac->segments;
    double r = sqrt(clamp01(out->trend.r2));
    mw_fmt_bytes_h(b1, sizeof b1, out->rise);

    /* ---- rule: exponential ---- */
    if (growing && segs && ac->seg_slope[segs - 1] > 0 && ac->inc_fraction >= p->exp_min_inc &&
        ac->slope_ratio >= p->exp_min_ratio && ac->half_ratio >= p->exp_min_ratio &&
        (out->trend.r2 >= 0.5 || (ac->log_ok && ac->log_r2 >= 0.9))) {
        out->type = MW_PAT_EXPONENTIAL;
        out->growth_bytes_per_s = ac->seg_slope[segs - 1];
        double span = (w.ct[nc - 1] - w.ct[0]) * (double)(segs - 1) / (double)segs;
        if (ac->slope_ratio < 1e9 && span > 0) out->exp_rate = log(ac->slope_ratio) / span;
        else if (ac->log_ok && ac->log_rate > 0) out->exp_rate = ac->log_rate;
        out->confidence = evid * (0.5 + 0.5 * ac->inc_fraction) *
                          clamp01(0.5 + 0.5 * log10(ac->slope_ratio));
        mw_fmt_bytes_h(b3, sizeof b3, out->growth_bytes_per_s);
        char dbl[64], ratio[32];
        if (out->exp_rate > 0) {
            mw_fmt_duration_h(b4, sizeof b4, log(2.0) / out->exp_rate);
            snprintf(dbl, sizeof dbl, ", doubling every %s", b4);
        } else dbl[0] = 0;
        if (ac->slope_ratio >= 1e9) snprintf(ratio, sizeof ratio, "from flat");
        else snprintf(ratio, sizeof ratio, "%.3gx", ac->slope_ratio);
        snprintf(out->sentence, sizeof out->sentence,
                 "%s growth accelerates: +%s over %s, its rate rose %s from the first to the "
                 "last of %zu segments (now %s/s%s).",
                 name, b1, b2, ratio, segs, b3, dbl);
        goto limit;
    }
    /* ---- rule: leak ---- */
    double pos_share = 0;
    for (size_t s = 0; s < segs; s++) pos_share += ac->seg_slope[s] > 0;
    if (segs) pos_share /= (double)segs;
    if (growing && nc >= p->leak_min_points &&
        (out->max_drawdown <= p->leak_drawdown * out->rise || out->max_drawdown <= 4 * noise) &&
        end - mid >= p->leak_late_share * out->rise && out->ma.up_fraction >= p->leak_ma_up) {
        out->type = MW_PAT_LEAK;
        double mono = clamp01(1 - out->max_drawdown / out->rise);
        out->confidence = evid * (0.5 + 0.5 * mono) * (0.5 + 0.5 * out->ma.up_fraction);
        mw_fmt_bytes_h(b3, sizeof b3, slope);
        snprintf(out->sentence, sizeof out->sentence,
                 "%s grew %s over %s (%s/s) and never came back: it gave back at most %.0f%% of "
                 "the rise, kept growing to the end, and %.0f%% of segments grew.",
                 name, b1, b2, b3, 100 * out->max_drawdown / out->rise, 100 * pos_share);
        goto limit;
    }
    /* ---- rule: linear ---- */
    if ((growing || shrinking) && out->trend.r2 >= p->linear_min_r2) {
        out->type = MW_PAT_LINEAR;
        out->confidence = evid * r;
        mw_fmt_bytes_h(b3, sizeof b3, slope);
        mw_fmt_bytes_h(b4, sizeof b4, out->max_drawdown);
        if (growing && nc < p->leak_min_points)
            snprintf(out->sentence, sizeof out->sentence,
                     "%s follows a straight line of %s/s (r² %.2f) over %s; %zu points are too "
                     "few to call it a leak.", name, b3, out->trend.r2, b2, nc);
        else if (growing) {
            /* which of the leak conditions failed */
            char why[96];
            if (out->max_drawdown > p->leak_drawdown * out->rise && out->max_drawdown > 4 * noise)
                snprintf(why, sizeof why, "gives memory back along the way (drops of up to %s)",
                         b4);
            else if (end - mid < p->leak_late_share * out->rise)
                snprintf(why, sizeof why, "most of the rise came in the first half");
            else snprintf(why, sizeof why, "grows in bursts rather than steadily");
            snprintf(out->sentence, sizeof out->sentence,
                     "%s follows a straight line of %s/s (r² %.2f, %s over %s) but %s, so it "
                     "may still level off.", name, b3, out->trend.r2, b1, b2, why);
        }
        else
            snprintf(out->sentence, sizeof out->sentence,
                     "%s shrinks along a straight line of %s/s (r² %.2f) over %s.", name, b3,
                     out->trend.r2, b2);
        goto limit;
    }
    /* ---- rule: spike ---- */
    const mw_anomalies *an = &out->anom;
    double spike_thr = fmax(p->spike_frac * ref, p->rise_floor);
    if (n >= 5 && an->high >= 1 && an->runs_high <= p->spike_max_runs &&
        (double)an->high <= p->spike_max_share * (double)n && an->max_excess >= spike_thr &&
        an->max_z >= p->spike_min_z) {
        out->type = MW_PAT_SPIKE;
        int back = an->last_high + 1 < n;
        out->confidence = evid * clamp01(0.5 + 0.5 * (an->max_excess / spike_thr - 1)) *
                          (back ? 1.0 : 0.6);
        size_t b_first = an->first_high, b_last = an->last_high;
        size_t bursts = add_spike_marks(&w, an, spike_thr, out, &b_first, &b_last);
        mw_fmt_bytes_h(b3, sizeof b3, an->max_excess);
        mw_fmt_bytes_h(b4, sizeof b4, an->center + mw_trend_at(&out->trend, w.t[an->max_i]));
        char at[32], len[32];
        mw_fmt_duration_h(at, sizeof at, w.t[an->max_i] - out->t_first);
        mw_fmt_duration_h(len, sizeof len, w.t[b_last] - w.t[b_first]);
        char z[24];
        if (an->max_z > 999) snprintf(z, sizeof z, "> 999");
        else snprintf(z, sizeof z, "%.3g", an->max_z);
        snprintf(out->sentence, sizeof out->sentence,
                 "%s jumped %s above its %s baseline at +%s (%zu burst%s over %s, robust z %s)%s.",
                 name, b3, b4, at, bursts, bursts == 1 ? "" : "s", len, z,
                 back ? " and came back" : " and had not come back by the end");
        goto limit;
    }
    /* ---- rule: oscillating ---- */
    const mw_oscillation *os = &out->osc;
    if (n >= 12 && os->amplitude >= fmax(p->osc_amp_frac * ref, p->rise_floor) &&
        os->up_crossings >= 3 && os->half_cycles >= 4 && os->period_cv <= p->osc_max_cv &&
        os->autocorr1 >= p->osc_min_autocorr && os->autocorr_period >= p->osc_min_period_ac) {
        out->type = MW_PAT_OSCILLATING;
        /* growth between the means of the first and the last whole cycle: a line through a
         * few cycles tilts with their phase */
        out->growth_bytes_per_s = cycle_growth(w.t, w.v, os);
        out->confidence = evid * clamp01((double)(os->up_crossings - 1) / 3.0) *
                          (1 - 0.5 * clamp01(os->period_cv)) *
                          (0.5 + 0.5 * clamp01(os->autocorr1));
        mw_fmt_bytes_h(b3, sizeof b3, os->amplitude);
        mw_fmt_duration_h(b4, sizeof b4, os->period_s);
        snprintf(out->sentence, sizeof out->sentence,
                 "%s oscillates by +-%s around its trend with a period of %s (%zu cycles, "
                 "period varies %.0f%%).",
                 name, b3, b4, os->up_crossings, 100 * os->period_cv);
        goto limit;
    }
    /* ---- stable ---- */
    out->type = MW_PAT_STABLE;
    out->confidence = evid * (1 - 0.5 * clamp01(fabs(trend_rise) / rise_thr));
    mw_fmt_bytes_h(b3, sizeof b3, out->level);
    mw_fmt_bytes_h(b4, sizeof b4, out->v_max - out->v_min);
    double q10 = mw_quantile(w.v, n, 0.1), q90 = mw_quantile(w.v, n, 0.9);
    if (q90 - q10 > fmax(ref, rise_thr)) {
        /* no trend, but no level either: most of it (10th to 90th percentile) spread wider
         * than its median (a few samples of a short run around one big allocation): say that,
         * and trust it half as much. A start-up ramp or a short excursion does not count. */
        char lo[32], hi[32];
        mw_fmt_bytes_h(lo, sizeof lo, out->v_min);
        mw_fmt_bytes_h(hi, sizeof hi, out->v_max);
        out->confidence *= 0.5;
        snprintf(out->sentence, sizeof out->sentence,
                 "%s moved between %s and %s over %s (median %s) with no trend, spike or cycle "
                 "that %zu samples show.", name, lo, hi, b2, b3, n);
    } else {
        snprintf(out->sentence, sizeof out->sentence,
                 "%s stayed around %s over %s (range %s, net change %s, %.1f%% of the level).",
                 name, b3, b2, b4, b1, 100 * out->rise / ref);
    }

limit:
    out->confidence = clamp01(out->confidence);
    if (in->limit.bytes > 0 && out->growth_bytes_per_s > 0 &&
        (out->type == MW_PAT_LINEAR || out->type == MW_PAT_LEAK ||
         out->type == MW_PAT_EXPONENTIAL)) {
        double usage = in->usage_now > 0 ? in->usage_now : (n ? w.v[n - 1] : 0);
        out->has_eta = 1;
        out->seconds_to_limit = eta(in->limit.bytes - usage, out->growth_bytes_per_s,
                                    out->type == MW_PAT_EXPONENTIAL ? out->exp_rate : 0);
        size_t l = strlen(out->sentence);
        mw_fmt_bytes_h(b3, sizeof b3, in->limit.bytes);
        mw_fmt_duration_h(b4, sizeof b4, out->seconds_to_limit);
        if (l + 2 < sizeof out->sentence)
            snprintf(out->sentence + l, sizeof out->sentence - l,
                     " At this rate the %s limit (%s) is reached in %s.", b3, in->limit.source,
                     b4);
    }
    work_free(&w);
    free(bt);
    free(bv);
    return 0;
oom:
    work_free(&w);
    free(bt);
    free(bv);
    memset(out, 0, sizeof *out);
    snprintf(out->sentence, sizeof out->sentence, "%s: out of memory while classifying.", name);
    return -1;
}
