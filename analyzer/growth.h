/*
 * growth.h — pure detectors over one time series (t in seconds, value in bytes).
 *
 * These are the building blocks of the pattern classifier (patterns.c): each one measures a
 * single property of a series and knows nothing about traces, SQLite or reports, so each is
 * unit-tested on synthetic series alone (tests/unit/test_patterns_detectors.c). All sums are
 * accumulated in long double over centered values, so byte counts near 2^60 and series of
 * any length stay accurate; short (n < 3), constant and degenerate (all t equal) series give
 * defined, documented results instead of NaN.
 *
 *   mw_trend_fit        least-squares line: slope (bytes/s), r², residual sd, slope stderr
 *   mw_ma_crossover     short vs long moving average: how often the short one is above
 *   mw_zscore_anomalies robust z-scores (median / MAD) of a residual series: spikes and dips
 *   mw_acceleration     per-segment slopes, their increase, and a fit of ln(value): exponential
 *   mw_zero_crossings   hysteresis crossings of a detrended series: oscillation and its period
 */
#ifndef MW_GROWTH_H
#define MW_GROWTH_H

#include <stddef.h>

/* ---- least-squares trend ------------------------------------------------------------- */
typedef struct mw_trend {
    size_t n;          /* points used */
    double t_mean;     /* the line is  v(t) = v_mean + slope * (t - t_mean) */
    double v_mean;
    double slope;      /* bytes per second; 0 when fewer than 2 distinct times */
    double r2;         /* coefficient of determination, 0..1; 0 for a constant series */
    double resid_sd;   /* standard deviation of the residuals (n-2 denominator; 0 if n < 3) */
    double slope_se;   /* standard error of the slope (0 if n < 3 or no spread in t) */
} mw_trend;

/* Fits v = a + b t over the points whose skip[i] is 0 (skip may be NULL). Returns the number
 * of points used (0 leaves *out zeroed). */
size_t mw_trend_fit(const double *t, const double *v, const unsigned char *skip, size_t n,
                    mw_trend *out);
static inline double mw_trend_at(const mw_trend *tr, double t)
{
    return tr->v_mean + tr->slope * (t - tr->t_mean);
}

/* ---- moving-average crossover --------------------------------------------------------- */
typedef struct mw_crossover {
    size_t short_w, long_w; /* window sizes in points actually used */
    size_t evaluated;       /* positions where the long window was full */
    size_t above;           /* positions where short MA > long MA */
    size_t crossings;       /* sign changes of (short MA - long MA), ties skipped */
    double up_fraction;     /* above / evaluated (0 when nothing evaluated) */
    double max_ratio;       /* max of short MA / long MA where long MA > 0 (1 if none) */
    double last_ratio;      /* the same at the last position */
} mw_crossover;

/* short_w/long_w of 0 choose defaults from n: short = max(2, n/10), long = 2 * short.
 * Needs n >= long_w; otherwise evaluated = 0. */
void mw_ma_crossover(const double *v, size_t n, size_t short_w, size_t long_w,
                     mw_crossover *out);

/* ---- robust z-score anomalies ---------------------------------------------------------- */
#define MW_ANOM_HIGH 1u
#define MW_ANOM_LOW 2u
typedef struct mw_anomalies {
    double center;      /* median of x */
    double scale;       /* 1.4826 * MAD, floored (see mw_zscore_anomalies) */
    size_t high, low;   /* points with z > threshold / z < -threshold */
    size_t runs_high;   /* contiguous runs of high points */
    size_t first_high, last_high; /* indexes (valid when high > 0) */
    size_t max_i;       /* index of the largest z */
    double max_z;
    double max_excess;  /* x[max_i] - center, in bytes (0 when no high point) */
} mw_anomalies;

/* Robust z_i = (x_i - median) / max(1.4826 * MAD, scale_floor). The plain mean/sd z-score of
 * the seeds cannot flag a lone spike in a short series (its own weight inflates the sd: the
 * largest possible z of one point among n is (n-1)/sqrt(n)), the median/MAD one can.
 * flags (optional, n bytes) receives MW_ANOM_HIGH / MW_ANOM_LOW / 0 per point.
 * Returns 0, or -1 when out of memory (then *out is zeroed, flags untouched). */
int mw_zscore_anomalies(const double *x, size_t n, double threshold, double scale_floor,
                        unsigned char *flags, mw_anomalies *out);

/* ---- acceleration ---------------------------------------------------------------------- */
#define MW_ACCEL_MAX_SEG 8
typedef struct mw_accel {
    size_t segments;                    /* 0 when n < 9 (3 points per segment minimum) */
    double seg_slope[MW_ACCEL_MAX_SEG]; /* least-squares slope of each consecutive segment */
    double inc_fraction;  /* consecutive segment pairs whose slope increases, 0..1 */
    double slope_ratio;   /* last segment slope / first (first <= 0 and last > 0: 1e9) */
    double half_ratio;    /* rise over the second half / rise over the first half (same cap) */
    int log_ok;           /* all values > 0: the ln(v) fit below is valid */
    double log_r2;        /* r² of ln(v) = a + k t */
    double log_rate;      /* k, per second (doubling time = ln 2 / k) */
    double log_a;         /* a: the fitted curve is exp(a + k t) */
} mw_accel;

void mw_acceleration(const double *t, const double *v, size_t n, mw_accel *out);

/* ---- zero crossings (oscillation) ------------------------------------------------------ */
typedef struct mw_oscillation {
    double amplitude;    /* (p95 - p5) / 2 of x */
    size_t half_cycles;  /* state changes between "above +amplitude/2" and "below -amplitude/2" */
    size_t up_crossings; /* changes from below to above */
    double period_s;     /* mean time between successive up-crossings (0 if < 2) */
    double period_cv;    /* coefficient of variation of those intervals (1 if < 3 intervals) */
    double autocorr1;    /* lag-1 autocorrelation of x (0 if undefined) */
    double autocorr_period; /* autocorrelation at a lag of one period: near 1 when the cycles
                               repeat, near 0 for a random wander (0 if < 2 periods fit) */
    /* indexes of the first two and the last two up-crossings: whole first and last cycles */
    size_t up_i0, up_i1, up_ilast1, up_ilast;
} mw_oscillation;

/* x is a detrended series (residuals). Returns 0, or -1 when out of memory. */
int mw_zero_crossings(const double *t, const double *x, size_t n, mw_oscillation *out);

/* ---- small helpers shared with patterns.c ---------------------------------------------- */
/* Quantile q (0..1) of x[0..n) by sorting a copy (linear interpolation). NAN if n == 0 or
 * out of memory. */
double mw_quantile(const double *x, size_t n, double q);

#endif /* MW_GROWTH_H */
