/*
 * test_patterns_detectors.c — each series detector of analyzer/growth.c on its own, on
 * synthetic series with known answers: exact, noisy, short, constant and huge-valued ones.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "growth.h"

/* Deterministic noise: xorshift64* + Box-Muller. */
static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
    double u = urand(), v = urand();
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

#define N 300
static double T[N], V[N];

static void make_times(size_t n, double dt)
{
    for (size_t i = 0; i < n; i++) T[i] = i * dt;
}

Test(trend, exact_line)
{
    make_times(50, 0.1);
    for (int i = 0; i < 50; i++) V[i] = 1000 + 500 * T[i];
    mw_trend tr;
    cr_assert_eq(mw_trend_fit(T, V, NULL, 50, &tr), 50);
    cr_assert_float_eq(tr.slope, 500, 1e-6);
    cr_assert_float_eq(tr.r2, 1.0, 1e-9);
    cr_assert_float_eq(mw_trend_at(&tr, 0), 1000, 1e-6);
    cr_assert(tr.resid_sd < 1e-6);
}

Test(trend, huge_values_keep_precision)
{
    make_times(100, 1.0);
    for (int i = 0; i < 100; i++) V[i] = 1152921504606846976.0 + 1e6 * T[i]; /* 2^60 + ... */
    mw_trend tr;
    mw_trend_fit(T, V, NULL, 100, &tr);
    cr_assert(fabs(tr.slope - 1e6) < 1.0, "slope %f", tr.slope);
    cr_assert(tr.r2 > 0.999999, "r2 %f", tr.r2);
}

Test(trend, noisy_line_and_skip)
{
    make_times(N, 0.01);
    for (int i = 0; i < N; i++) V[i] = 5e6 + 2e6 * T[i] + 1e5 * gauss();
    unsigned char skip[N] = {0};
    V[100] = 1e12; /* a wild point, skipped */
    skip[100] = 1;
    mw_trend tr;
    cr_assert_eq(mw_trend_fit(T, V, skip, N, &tr), N - 1);
    cr_assert(fabs(tr.slope - 2e6) < 0.05 * 2e6, "slope %f", tr.slope);
    cr_assert(tr.r2 > 0.9);
    cr_assert(tr.slope_se > 0 && tr.slope_se < 0.05 * 2e6);
}

Test(trend, constant_short_and_degenerate)
{
    make_times(10, 1);
    for (int i = 0; i < 10; i++) V[i] = 4096;
    mw_trend tr;
    mw_trend_fit(T, V, NULL, 10, &tr);
    cr_assert_eq(tr.slope, 0);
    cr_assert_eq(tr.r2, 0);
    cr_assert_eq(tr.v_mean, 4096);
    cr_assert_eq(mw_trend_fit(T, V, NULL, 0, &tr), 0);
    cr_assert_eq(tr.slope, 0);
    mw_trend_fit(T, V, NULL, 1, &tr);
    cr_assert_eq(tr.n, 1);
    cr_assert_eq(tr.slope, 0);
    double t2[2] = {3, 3}, v2[2] = {1, 100}; /* no spread in time */
    mw_trend_fit(t2, v2, NULL, 2, &tr);
    cr_assert_eq(tr.slope, 0);
    cr_assert(!isnan(tr.r2));
    double t3[2] = {0, 2}, v3[2] = {10, 30};
    mw_trend_fit(t3, v3, NULL, 2, &tr);
    cr_assert_float_eq(tr.slope, 10, 1e-12);
    cr_assert_eq(tr.resid_sd, 0);
}

Test(crossover, rising_falling_noise_short)
{
    mw_crossover c;
    for (int i = 0; i < 100; i++) V[i] = 1000.0 * i;
    mw_ma_crossover(V, 100, 0, 0, &c);
    cr_assert_eq(c.short_w, 10);
    cr_assert_eq(c.long_w, 20);
    cr_assert_eq(c.evaluated, 81);
    cr_assert_float_eq(c.up_fraction, 1.0, 1e-12);
    cr_assert(c.max_ratio > 1.0);
    for (int i = 0; i < 100; i++) V[i] = 1e6 - 1000.0 * i;
    mw_ma_crossover(V, 100, 5, 10, &c);
    cr_assert_eq(c.above, 0);
    for (int i = 0; i < 200; i++) V[i] = 1e6 + 1e4 * gauss();
    mw_ma_crossover(V, 200, 5, 20, &c);
    cr_assert(c.crossings >= 4, "noise crosses: %zu", c.crossings);
    cr_assert(c.up_fraction > 0.2 && c.up_fraction < 0.8, "%f", c.up_fraction);
    mw_ma_crossover(V, 3, 2, 4, &c);
    cr_assert_eq(c.evaluated, 0);
    cr_assert_eq(c.up_fraction, 0);
}

Test(zscore, lone_spike_found_where_plain_zscore_cannot)
{
    double x[8] = {100, 101, 99, 100, 5000, 100, 102, 98};
    /* plain mean/sd z of the spike: at most (n-1)/sqrt(n) = 2.47 < 3.5 */
    double m = 0, s = 0;
    for (int i = 0; i < 8; i++) m += x[i];
    m /= 8;
    for (int i = 0; i < 8; i++) s += (x[i] - m) * (x[i] - m);
    s = sqrt(s / 8);
    cr_assert((x[4] - m) / s < 3.5);
    unsigned char f[8];
    mw_anomalies a;
    cr_assert_eq(mw_zscore_anomalies(x, 8, 3.5, 1, f, &a), 0);
    cr_assert_eq(a.high, 1);
    cr_assert_eq(a.low, 0);
    cr_assert_eq(a.max_i, 4);
    cr_assert_eq(f[4], MW_ANOM_HIGH);
    cr_assert_eq(f[3], 0);
    cr_assert_eq(a.runs_high, 1);
    cr_assert_float_eq(a.max_excess, 4900, 1e-9);
}

Test(zscore, constant_baseline_uses_floor_and_dips)
{
    double x[20];
    for (int i = 0; i < 20; i++) x[i] = 1 << 20;
    mw_anomalies a;
    mw_zscore_anomalies(x, 20, 3.5, 64, NULL, &a);
    cr_assert_eq(a.scale, 64);
    cr_assert_eq(a.high + a.low, 0);
    x[3] = 0;            /* a dip */
    x[10] = x[11] = 4e6; /* a two-point burst */
    x[15] = 4e6;         /* a second burst */
    unsigned char f[20];
    mw_zscore_anomalies(x, 20, 3.5, 64, f, &a);
    cr_assert_eq(a.low, 1);
    cr_assert_eq(f[3], MW_ANOM_LOW);
    cr_assert_eq(a.high, 3);
    cr_assert_eq(a.runs_high, 2);
    cr_assert_eq(a.first_high, 10);
    cr_assert_eq(a.last_high, 15);
    mw_zscore_anomalies(x, 0, 3.5, 64, NULL, &a);
    cr_assert_eq(a.high, 0);
}

Test(zscore, gaussian_noise_has_few_anomalies)
{
    for (int i = 0; i < N; i++) V[i] = 1e7 + 1e5 * gauss();
    mw_anomalies a;
    mw_zscore_anomalies(V, N, 3.5, 1, NULL, &a);
    cr_assert(a.high + a.low <= 3, "%zu", a.high + a.low);
    cr_assert(fabs(a.scale - 1e5) < 2e4, "scale %f", a.scale);
}

Test(acceleration, exponential_vs_linear)
{
    make_times(200, 0.0125); /* 2.5 s */
    for (int i = 0; i < 200; i++) V[i] = 131072 * exp(2.0 * T[i]);
    mw_accel a;
    mw_acceleration(T, V, 200, &a);
    cr_assert_eq(a.segments, 8);
    cr_assert_float_eq(a.inc_fraction, 1.0, 1e-12);
    cr_assert(a.slope_ratio > 30, "%f", a.slope_ratio);
    cr_assert(a.half_ratio > 3, "%f", a.half_ratio);
    cr_assert(a.log_ok);
    cr_assert_float_eq(a.log_rate, 2.0, 1e-6);
    cr_assert(a.log_r2 > 0.9999);
    for (int i = 0; i < 200; i++) V[i] = 1e6 + 2e6 * T[i] + 2e4 * gauss();
    mw_acceleration(T, V, 200, &a);
    cr_assert(a.slope_ratio > 0.7 && a.slope_ratio < 1.4, "%f", a.slope_ratio);
    cr_assert(a.half_ratio > 0.8 && a.half_ratio < 1.25, "%f", a.half_ratio);
    cr_assert(a.inc_fraction < 0.9);
}

Test(acceleration, short_and_nonpositive)
{
    mw_accel a;
    double t[5] = {0, 1, 2, 3, 4}, v[5] = {0, 1, 2, 3, 4};
    mw_acceleration(t, v, 5, &a);
    cr_assert_eq(a.segments, 0);
    cr_assert_eq(a.log_ok, 0); /* v[0] == 0: no log fit */
    v[0] = 1;
    mw_acceleration(t, v, 5, &a);
    cr_assert_eq(a.log_ok, 1);
    mw_acceleration(t, v, 0, &a);
    cr_assert_eq(a.segments, 0);
}

Test(zero_crossings, sine_has_its_period)
{
    make_times(N, 0.01); /* 3 s, period 0.5 s */
    for (int i = 0; i < N; i++) V[i] = 8e6 * sin(2 * M_PI * T[i] / 0.5) + 2e5 * gauss();
    mw_oscillation o;
    cr_assert_eq(mw_zero_crossings(T, V, N, &o), 0);
    cr_assert(o.up_crossings >= 5 && o.up_crossings <= 7, "%zu", o.up_crossings);
    cr_assert(fabs(o.period_s - 0.5) < 0.05, "period %f", o.period_s);
    cr_assert(o.period_cv < 0.2, "cv %f", o.period_cv);
    cr_assert(o.autocorr1 > 0.9);
    cr_assert(fabs(o.amplitude - 8e6) < 1e6, "amp %f", o.amplitude);
    cr_assert(o.autocorr_period > 0.8, "cycles repeat: %f", o.autocorr_period);
}

Test(zero_crossings, slow_wander_does_not_repeat)
{
    make_times(N, 0.01);
    double x = 0;
    uint64_t saved = rng;
    rng = 12345;
    for (int i = 0; i < N; i++) V[i] = x = 0.85 * x + 1e5 * gauss();
    rng = saved;
    mw_oscillation o;
    mw_zero_crossings(T, V, N, &o);
    cr_assert(o.autocorr1 > 0.6, "smooth: %f", o.autocorr1);
    cr_assert(o.up_crossings >= 3 && o.period_s > 0, "it does cross: %zu", o.up_crossings);
    cr_assert(o.autocorr_period < 0.5, "but no repeating cycle: %f (period %f)",
              o.autocorr_period, o.period_s);
}

Test(zero_crossings, white_noise_is_irregular)
{
    make_times(N, 0.01);
    for (int i = 0; i < N; i++) V[i] = 1e5 * gauss();
    mw_oscillation o;
    mw_zero_crossings(T, V, N, &o);
    cr_assert(fabs(o.autocorr1) < 0.3, "ac %f", o.autocorr1);
    cr_assert(o.period_cv > 0.5, "cv %f", o.period_cv);
    for (int i = 0; i < N; i++) V[i] = 7;
    mw_zero_crossings(T, V, N, &o);
    cr_assert_eq(o.half_cycles, 0);
    cr_assert_eq(o.autocorr1, 0);
    mw_zero_crossings(T, V, 2, &o);
    cr_assert_eq(o.half_cycles, 0);
}

Test(quantile, basics)
{
    double x[5] = {5, 1, 4, 2, 3};
    cr_assert_float_eq(mw_quantile(x, 5, 0.5), 3, 1e-12);
    cr_assert_float_eq(mw_quantile(x, 5, 0.0), 1, 1e-12);
    cr_assert_float_eq(mw_quantile(x, 5, 1.0), 5, 1e-12);
    cr_assert_float_eq(mw_quantile(x, 5, 0.25), 2, 1e-12);
    cr_assert(isnan(mw_quantile(x, 0, 0.5)));
}
