/*
 * growth.c — the pure series detectors declared in growth.h: least-squares trend, moving-
 * average crossover, robust z-score anomalies, acceleration and zero crossings.
 *
 * No trace, store or report knowledge lives here: the classifier (patterns.c) combines these
 * measurements, and tests/unit/test_patterns_detectors.c checks each on synthetic series.
 * Accumulation is in long double over centered data (mean first, then deviations), which keeps
 * r² and slopes exact enough for byte counts up to ~2^62 and for long series.
 */
#include "growth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- trend ------------------------------------------------------------------------------ */

size_t mw_trend_fit(const double *t, const double *v, const unsigned char *skip, size_t n,
                    mw_trend *out)
{
    memset(out, 0, sizeof *out);
    long double st = 0, sv = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip && skip[i]) continue;
        st += t[i];
        sv += v[i];
        m++;
    }
    if (m == 0) return 0;
    long double tm = st / m, vm = sv / m;
    long double sxx = 0, sxy = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip && skip[i]) continue;
        long double dt = t[i] - tm, dv = v[i] - vm;
        sxx += dt * dt;
        sxy += dt * dv;
        syy += dv * dv;
    }
    out->n = m;
    out->t_mean = (double)tm;
    out->v_mean = (double)vm;
    if (m < 2 || sxx <= 0) return m; /* no spread in time: no slope */
    long double b = sxy / sxx;
    out->slope = (double)b;
    if (syy > 0) {
        long double r2 = (sxy * sxy) / (sxx * syy);
        out->r2 = (double)(r2 > 1 ? 1 : r2);
    }
    if (m >= 3) {
        long double sse = syy - b * sxy;
        if (sse < 0) sse = 0;
        long double var = sse / (long double)(m - 2);
        out->resid_sd = (double)sqrtl(var);
        out->slope_se = (double)sqrtl(var / sxx);
    }
    return m;
}

/* ---- moving-average crossover ----------------------------------------------------------- */

void mw_ma_crossover(const double *v, size_t n, size_t short_w, size_t long_w, mw_crossover *out)
{
    memset(out, 0, sizeof *out);
    out->max_ratio = out->last_ratio = 1.0;
    if (short_w == 0) short_w = n / 10 < 2 ? 2 : n / 10;
    if (long_w == 0) long_w = 2 * short_w;
    if (long_w <= short_w) long_w = short_w + 1;
    out->short_w = short_w;
    out->long_w = long_w;
    if (n < long_w) return;
    /* Running sums over centered values (relative to v[0]) keep precision for huge levels. */
    long double base = v[0], ss = 0, sl = 0;
    int prev_sign = 0;
    int have_ratio = 0;
    for (size_t i = 0; i < n; i++) {
        long double x = v[i] - base;
        ss += x;
        sl += x;
        if (i >= short_w) ss -= v[i - short_w] - base;
        if (i >= long_w) sl -= v[i - long_w] - base;
        if (i + 1 < long_w) continue;
        long double ms = ss / short_w, ml = sl / long_w;
        out->evaluated++;
        int sign = ms > ml ? 1 : ms < ml ? -1 : 0;
        if (sign > 0) out->above++;
        if (sign != 0) {
            if (prev_sign != 0 && sign != prev_sign) out->crossings++;
            prev_sign = sign;
        }
        long double as = ms + base, al = ml + base;
        if (al > 0) {
            double r = (double)(as / al);
            if (!have_ratio || r > out->max_ratio) out->max_ratio = r;
            out->last_ratio = r;
            have_ratio = 1;
        }
    }
    out->up_fraction = out->evaluated ? (double)out->above / (double)out->evaluated : 0.0;
}

/* ---- quantiles and robust z-scores ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

static double sorted_quantile(const double *s, size_t n, double q)
{
    if (q <= 0) return s[0];
    if (q >= 1) return s[n - 1];
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double f = pos - (double)i;
    if (i + 1 >= n) return s[n - 1];
    return s[i] + f * (s[i + 1] - s[i]);
}

double mw_quantile(const double *x, size_t n, double q)
{
    if (n == 0) return NAN;
    double *s = malloc(n * sizeof *s);
    if (!s) return NAN;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double r = sorted_quantile(s, n, q);
    free(s);
    return r;
}

int mw_zscore_anomalies(const double *x, size_t n, double threshold, double scale_floor,
                        unsigned char *flags, mw_anomalies *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0) return 0;
    double *s = malloc(n * sizeof *s);
    if (!s) return -1;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double med = sorted_quantile(s, n, 0.5);
    for (size_t i = 0; i < n; i++) s[i] = fabs(x[i] - med);
    qsort(s, n, sizeof *s, cmp_double);
    double mad = sorted_quantile(s, n, 0.5);
    free(s);
    double scale = 1.4826 * mad;
    if (!(scale >= scale_floor)) scale = scale_floor;
    if (!(scale > 0)) scale = 1.0;
    out->center = med;
    out->scale = scale;
    int in_run = 0;
    for (size_t i = 0; i < n; i++) {
        double z = (x[i] - med) / scale;
        unsigned char f = 0;
        if (z > threshold) {
            f = MW_ANOM_HIGH;
            if (out->high == 0) out->first_high = i;
            out->last_high = i;
            out->high++;
            if (!in_run) out->runs_high++;
        } else if (z < -threshold) {
            f = MW_ANOM_LOW;
            out->low++;
        }
        in_run = f == MW_ANOM_HIGH;
        if (i == 0 || z > out->max_z) {
            out->max_z = z;
            out->max_i = i;
        }
        if (flags) flags[i] = f;
    }
    out->max_excess = out->high ? x[out->max_i] - med : 0.0;
    return 0;
}

/* ---- acceleration ------------------------------------------------------------------------ */

#define RATIO_CAP 1e9

static double capped_ratio(double num, double den)
{
    if (den > 0) {
        double r = num / den;
        return r > RATIO_CAP ? RATIO_CAP : r;
    }
    return num > 0 ? RATIO_CAP : 0.0;
}

void mw_acceleration(const double *t, const double *v, size_t n, mw_accel *out)
{
    memset(out, 0, sizeof *out);
    if (n >= 9) {
        size_t k = n / 5;
        if (k < 3) k = 3;
        if (k > MW_ACCEL_MAX_SEG) k = MW_ACCEL_MAX_SEG;
        out->segments = k;
        for (size_t s = 0; s < k; s++) {
            size_t a = s * n / k, b = (s + 1) * n / k;
            mw_trend tr;
            mw_trend_fit(t + a, v + a, NULL, b - a, &tr);
            out->seg_slope[s] = tr.slope;
        }
        size_t inc = 0;
        for (size_t s = 0; s + 1 < k; s++)
            if (out->seg_slope[s + 1] > out->seg_slope[s]) inc++;
        out->inc_fraction = (double)inc / (double)(k - 1);
        out->slope_ratio = capped_ratio(out->seg_slope[k - 1], out->seg_slope[0]);
        size_t h = n / 2;
        out->half_ratio = capped_ratio(v[n - 1] - v[h], v[h] - v[0]);
    }
    if (n >= 2) {
        int ok = 1;
        for (size_t i = 0; i < n && ok; i++) ok = v[i] > 0 && isfinite(v[i]);
        if (ok) {
            double *lv = malloc(n * sizeof *lv);
            if (lv) {
                for (size_t i = 0; i < n; i++) lv[i] = log(v[i]);
                mw_trend tr;
                mw_trend_fit(t, lv, NULL, n, &tr);
                out->log_ok = 1;
                out->log_r2 = tr.r2;
                out->log_rate = tr.slope;
                out->log_a = tr.v_mean - tr.slope * tr.t_mean;
                free(lv);
            }
        }
    }
}

/* ---- zero crossings --------------------------------------------------------------------- */

int mw_zero_crossings(const double *t, const double *x, size_t n, mw_oscillation *out)
{
    memset(out, 0, sizeof *out);
    out->period_cv = 1.0;
    if (n < 3) return 0;
    double *s = malloc(n * sizeof *s);
    if (!s) return -1;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double p5 = sorted_quantile(s, n, 0.05), p95 = sorted_quantile(s, n, 0.95);
    free(s);
    out->amplitude = (p95 - p5) / 2;
    /* Hysteresis around the midpoint of the 5..95 % band, so noise around a level crossing
     * does not count: the state flips only past +-amplitude/2. */
    double center = (p95 + p5) / 2;
    double band = out->amplitude / 2;
    int state = 0; /* 1 above, -1 below */
    double last_up = 0, sum = 0, sum2 = 0;
    size_t intervals = 0;
    int have_up = 0;
    if (band > 0) {
        for (size_t i = 0; i < n; i++) {
            double d = x[i] - center;
            int ns = d > band ? 1 : d < -band ? -1 : state;
            if (ns != state) {
                if (state != 0) out->half_cycles++;
                if (state == -1 && ns == 1) {
                    out->up_crossings++;
                    if (out->up_crossings == 1) out->up_i0 = i;
                    if (out->up_crossings == 2) out->up_i1 = i;
                    out->up_ilast1 = out->up_ilast;
                    out->up_ilast = i;
                    if (have_up) {
                        double dt = t[i] - last_up;
                        sum += dt;
                        sum2 += dt * dt;
                        intervals++;
                    }
                    last_up = t[i];
                    have_up = 1;
                }
                state = ns;
            }
        }
    }
    if (intervals >= 1) out->period_s = sum / (double)intervals;
    if (intervals >= 2 && out->period_s > 0) {
        double var = sum2 / (double)intervals - out->period_s * out->period_s;
        out->period_cv = var > 0 ? sqrt(var) / out->period_s : 0.0;
    }
    /* lag-1 autocorrelation */
    long double m = 0;
    for (size_t i = 0; i < n; i++) m += x[i];
    m /= n;
    long double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        long double d = x[i] - m;
        den += d * d;
        if (i + 1 < n) num += d * (x[i + 1] - m);
    }
    out->autocorr1 = den > 0 ? (double)(num / den) : 0.0;
    /* Autocorrelation one period apart, in time (samples may be irregular): each x[i] is
     * paired with x interpolated at t[i] + period. */
    double P = out->period_s;
    if (den > 0 && P > 0 && t[n - 1] - t[0] >= 2 * P) {
        long double acc = 0;
        size_t used = 0, j = 0;
        for (size_t i = 0; i < n && t[i] + P <= t[n - 1]; i++) {
            double tt = t[i] + P;
            while (j + 1 < n && t[j + 1] < tt) j++;
            double xi = x[j];
            if (j + 1 < n && t[j + 1] > t[j])
                xi = x[j] + (x[j + 1] - x[j]) * (tt - t[j]) / (t[j + 1] - t[j]);
            acc += (x[i] - m) * (xi - m);
            used++;
        }
        if (used) out->autocorr_period = (double)(acc / (long double)used / (den / n));
    }
    return 0;
}
