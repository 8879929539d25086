/*
 * test_patterns_classify.c — the pattern classifier (analyzer/patterns.c) on synthetic series
 * of every shape: verdict, confidence, growth rate, time to limit, sentence; plus short,
 * constant, huge-valued, long and noisy series, and a long stable run that must not be "leak".
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "patterns.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
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

#define MAXN 200000
static double T[MAXN], V[MAXN];

static mw_pattern classify(const char *name, size_t n, mw_limit lim, double usage)
{
    mw_pattern_input in = {name, T, V, n, lim, usage, NULL};
    mw_pattern p;
    cr_assert_eq(mw_pattern_classify(&in, &p), 0);
    cr_assert(p.confidence >= 0 && p.confidence <= 1);
    cr_assert(strlen(p.sentence) > 10);
    return p;
}
static const mw_limit NOLIM = {0, "none"};

static void times(size_t n, double dt)
{
    for (size_t i = 0; i < n; i++) T[i] = i * dt + 0.003 * urand(); /* sampling jitter */
}

Test(classify, linear_leak_is_leak_with_rate)
{
    times(200, 0.0125);
    for (int i = 0; i < 200; i++) V[i] = 300e3 + 2e6 * T[i] + 3e4 * gauss();
    mw_pattern p = classify("heap", 200, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_LEAK, "%s: %s", mw_pattern_type_name(p.type), p.sentence);
    cr_assert(p.confidence >= 0.8, "conf %f", p.confidence);
    cr_assert(fabs(p.growth_bytes_per_s - 2e6) < 0.05 * 2e6, "rate %f", p.growth_bytes_per_s);
    cr_assert_eq(p.has_eta, 0); /* no limit known */
    cr_assert(strstr(p.sentence, "never came back"), "%s", p.sentence);
}

Test(classify, sawtooth_on_trend_is_linear)
{
    times(250, 0.01);
    for (int i = 0; i < 250; i++)
        V[i] = 1e6 + 2e6 * T[i] + 1.5e6 * fmod(T[i], 0.25) / 0.25 + 1e4 * gauss();
    mw_pattern p = classify("heap", 250, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_LINEAR, "%s: %s", mw_pattern_type_name(p.type), p.sentence);
    cr_assert(p.confidence >= 0.8, "conf %f", p.confidence);
    cr_assert(fabs(p.growth_bytes_per_s - 2e6) < 0.2 * 2e6, "rate %f", p.growth_bytes_per_s);
}

Test(classify, exponential)
{
    times(200, 0.0125);
    for (int i = 0; i < 200; i++) V[i] = 131072 * exp(2.0 * T[i]) * (1 + 0.01 * gauss());
    mw_pattern p = classify("heap", 200, (mw_limit){8e9, "physical memory"}, 0);
    cr_assert_eq(p.type, MW_PAT_EXPONENTIAL, "%s: %s", mw_pattern_type_name(p.type), p.sentence);
    cr_assert(p.confidence >= 0.8, "conf %f", p.confidence);
    cr_assert(fabs(p.exp_rate - 2.0) < 0.4, "k %f", p.exp_rate);
    cr_assert(p.has_eta);
    /* 131072 e^{2t} reaches 8e9 about ln(8e9/131072)/2 - 2.5 = 3.0 s after the end */
    cr_assert(p.seconds_to_limit > 1.5 && p.seconds_to_limit < 5, "eta %f", p.seconds_to_limit);
}

Test(classify, spike_and_marker)
{
    times(200, 0.0125);
    for (int i = 0; i < 200; i++) V[i] = 8e6 + 5e4 * gauss() + ((i >= 80 && i < 100) ? 64e6 : 0);
    mw_pattern p = classify("heap", 200, (mw_limit){8e9, "physical memory"}, 0);
    cr_assert_eq(p.type, MW_PAT_SPIKE, "%s: %s", mw_pattern_type_name(p.type), p.sentence);
    cr_assert(p.confidence >= 0.8, "conf %f", p.confidence);
    cr_assert_eq(p.nmarks, 1);
    cr_assert(p.mark_t[0] >= T[80] && p.mark_t[0] <= T[99]);
    cr_assert(fabs(p.growth_bytes_per_s) < 1e6, "robust slope ignores the spike: %f",
              p.growth_bytes_per_s);
    cr_assert_eq(p.has_eta, 0);
    cr_assert(strstr(p.sentence, "came back"), "%s", p.sentence);
}

/* The shape of a traced run of tests/victims/shape_spike.c on a loaded machine (fresh-clone
 * `make test`, 19:09 UTC on 2026-11-23): a 4 MiB working set held flat without noise, its
 * first sample 2 KiB above it (a transient block live at that moment: a huge robust z), and
 * 16 MiB more held from 1.0 s for 0.25 s. One burst, marked at the 16 MiB, not two with the
 * first at the start (the sentence said "2 bursts over 1.2 s"). */
Test(classify, a_blip_on_a_flat_baseline_is_no_burst)
{
    times(243, 0.01);
    for (int i = 0; i < 243; i++) V[i] = 4194304 + (i == 1 ? 2048 : 0) + ((i >= 100 && i < 126) ? 16777216 : 0);
    mw_pattern p = classify("heap", 243, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_SPIKE, "%s: %s", mw_pattern_type_name(p.type), p.sentence);
    cr_assert_eq(p.nmarks, 1, "%d marks: %s", (int)p.nmarks, p.sentence);
    cr_assert(p.mark_t[0] >= T[100] && p.mark_t[0] <= T[125], "mark at %f", p.mark_t[0]);
    cr_assert(strstr(p.sentence, "(1 burst over"), "%s", p.sentence);
}

Test(classify, oscillation)
{
    times(250, 0.01);
    for (int i = 0; i < 250; i++)
        V[i] = 4e6 + (fmod(T[i], 0.5) < 0.25 ? 32e6 : 0) + 1e5 * gauss();
    mw_pattern p = classify("heap", 250, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_OSCILLATING, "%s: %s", mw_pattern_type_name(p.type), p.sentence);
    cr_assert(p.confidence >= 0.8, "conf %f", p.confidence);
    cr_assert(fabs(p.osc.period_s - 0.5) < 0.1, "period %f", p.osc.period_s);
}

Test(classify, stable_churn)
{
    times(250, 0.01);
    double x = 0;
    for (int i = 0; i < 250; i++) {
        x = 0.7 * x + 2e5 * gauss(); /* mean-reverting churn */
        V[i] = 8e6 + x;
    }
    mw_pattern p = classify("heap", 250, (mw_limit){8e9, "physical memory"}, 0);
    cr_assert_eq(p.type, MW_PAT_STABLE, "%s: %s", mw_pattern_type_name(p.type), p.sentence);
    cr_assert(p.confidence >= 0.8, "conf %f", p.confidence);
    cr_assert_eq(p.has_eta, 0);
}

Test(classify, long_stable_noisy_run_is_not_leak, .timeout = 30)
{
    /* 100k samples (e.g. 30 min at 20 ms), 3 % noise, slow drift-free wander, rare outliers */
    size_t n = 100000;
    double x = 0;
    for (size_t i = 0; i < n; i++) {
        T[i] = i * 0.02;
        x = 0.995 * x + 3e4 * gauss();
        V[i] = 50e6 + x + 1.5e6 * gauss() + (urand() < 0.0005 ? 5e6 : 0);
    }
    mw_pattern p = classify("RSS", n, (mw_limit){8e9, "physical memory"}, 0);
    cr_assert_neq(p.type, MW_PAT_LEAK, "%s", p.sentence);
    cr_assert_eq(p.type, MW_PAT_STABLE, "%s: %s", mw_pattern_type_name(p.type), p.sentence);
    cr_assert_eq(p.n, MW_PAT_MAX_POINTS);
    cr_assert_eq(p.has_eta, 0);
}

Test(classify, warmup_then_flat_is_not_leak)
{
    times(300, 0.01);
    for (int i = 0; i < 300; i++) V[i] = (i < 40 ? 2e5 * i : 8e6) + 3e4 * gauss();
    mw_pattern p = classify("heap", 300, NOLIM, 0);
    cr_assert_neq(p.type, MW_PAT_LEAK, "%s", p.sentence);
}

Test(classify, short_series)
{
    mw_pattern p = classify("heap", 0, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_STABLE);
    cr_assert_eq(p.confidence, 0);
    T[0] = 0;
    V[0] = 1e6;
    p = classify("heap", 1, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_STABLE);
    cr_assert(p.confidence < 0.5);
    T[1] = 1;
    V[1] = 3e6;
    p = classify("heap", 2, (mw_limit){1e8, "RLIMIT_AS"}, 0);
    cr_assert_eq(p.type, MW_PAT_LINEAR);
    cr_assert(p.confidence < 0.5);
    cr_assert_float_eq(p.growth_bytes_per_s, 2e6, 1e-6);
    cr_assert(p.has_eta);
    cr_assert_float_eq(p.seconds_to_limit, (1e8 - 3e6) / 2e6, 1e-6);
    for (int i = 0; i < 5; i++) {
        T[i] = i;
        V[i] = 1e6 + 1e6 * i;
    }
    p = classify("heap", 5, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_LINEAR, "5 points are too few for leak: %s", p.sentence);
    cr_assert(p.confidence < 0.7);
    p = classify("heap", 3, NOLIM, 0);
    cr_assert(p.type == MW_PAT_LINEAR || p.type == MW_PAT_STABLE);
}

Test(classify, constant_and_huge)
{
    times(100, 0.1);
    for (int i = 0; i < 100; i++) V[i] = 123456789;
    mw_pattern p = classify("heap", 100, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_STABLE);
    cr_assert(p.confidence > 0.9);
    cr_assert_eq(p.growth_bytes_per_s, 0);
    for (int i = 0; i < 100; i++) V[i] = 1e18 + 1e17 * T[i];
    p = classify("RSS", 100, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_LEAK, "%s", p.sentence);
    cr_assert(fabs(p.growth_bytes_per_s / 1e17 - 1) < 1e-3);
    for (int i = 0; i < 100; i++) V[i] = -5e6 + 1e3 * gauss(); /* external can go negative */
    p = classify("external", 100, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_STABLE, "%s", p.sentence);
}

Test(classify, shrinking_has_no_eta)
{
    times(100, 0.05);
    for (int i = 0; i < 100; i++) V[i] = 50e6 - 5e6 * T[i] + 1e5 * gauss();
    mw_pattern p = classify("heap", 100, (mw_limit){1e9, "cgroup memory.max"}, 0);
    cr_assert_eq(p.type, MW_PAT_LINEAR, "%s", p.sentence);
    cr_assert(p.growth_bytes_per_s < 0);
    cr_assert_eq(p.has_eta, 0);
}

Test(classify, seconds_to_limit_uses_usage)
{
    times(100, 0.1);
    for (int i = 0; i < 100; i++) V[i] = 1e6 + 1e6 * T[i];
    /* the limit caps RSS: 50 MB in use, 100 MB limit, heap grows 1 MB/s -> 50 s */
    mw_pattern p = classify("heap", 100, (mw_limit){100e6, "cgroup memory.max"}, 50e6);
    cr_assert_eq(p.type, MW_PAT_LEAK, "%s", p.sentence);
    cr_assert(p.has_eta);
    cr_assert(fabs(p.seconds_to_limit - 50) < 0.5, "%f", p.seconds_to_limit);
    cr_assert(strstr(p.sentence, "cgroup memory.max"), "%s", p.sentence);
    p = classify("heap", 100, (mw_limit){10e6, "cgroup memory.max"}, 50e6); /* already over */
    cr_assert_eq(p.seconds_to_limit, 0);
}

Test(limits, order_of_precedence)
{
    mw_limit l = mw_limit_in_force(1 << 30, 1ull << 33, 1ull << 34);
    cr_assert_str_eq(l.source, "cgroup memory.max");
    cr_assert_eq(l.bytes, 1 << 30);
    l = mw_limit_in_force(0, 1ull << 33, 1ull << 34);
    cr_assert_str_eq(l.source, "RLIMIT_AS");
    l = mw_limit_in_force(UINT64_MAX, UINT64_MAX, 1ull << 34);
    cr_assert_str_eq(l.source, "physical memory");
    l = mw_limit_in_force(0, 0, 0);
    cr_assert_str_eq(l.source, "none");
    cr_assert_eq(l.bytes, 0);
}

Test(format, human_units)
{
    char b[32];
    mw_fmt_bytes_h(b, sizeof b, 512);
    cr_assert_str_eq(b, "512 B");
    mw_fmt_bytes_h(b, sizeof b, 2.5 * 1048576);
    cr_assert_str_eq(b, "2.5 MiB");
    mw_fmt_bytes_h(b, sizeof b, -3 * 1024);
    cr_assert_str_eq(b, "-3.0 KiB");
    mw_fmt_duration_h(b, sizeof b, 90);
    cr_assert_str_eq(b, "90 s");
    mw_fmt_duration_h(b, sizeof b, 7200 * 3);
    cr_assert_str_eq(b, "6.0 h");
}

Test(classify, non_finite_and_noisy_short_series)
{
    times(10, 0.1);
    for (int i = 0; i < 10; i++) V[i] = 1e6;
    V[4] = NAN;
    mw_pattern p = classify("heap", 10, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_STABLE);
    cr_assert_eq(p.confidence, 0);
    cr_assert(strstr(p.sentence, "non-finite"), "%s", p.sentence);
    /* short noisy series: any verdict, but never a confident one, never a leak */
    for (size_t n = 3; n <= 8; n++) {
        for (int rep = 0; rep < 50; rep++) {
            times(n, 0.1);
            for (size_t i = 0; i < n; i++) V[i] = 4e6 + 1e6 * gauss();
            p = classify("heap", n, (mw_limit){1e9, "physical memory"}, 0);
            cr_assert_neq(p.type, MW_PAT_LEAK, "n=%zu: %s", n, p.sentence);
            cr_assert(p.confidence <= (double)n / (n + 4) + 1e-12, "n=%zu conf %f", n,
                      p.confidence);
        }
    }
}

Test(classify, stationary_noise_of_any_colour_is_not_a_pattern, .timeout = 60)
{
    /* 360 series: noise sd 1..30 % of the level, white or correlated (AR(1) with phi 0.9 or
     * 0.99: slow wanders), 50..2000 points. None may be called leak, exponential or spike; a
     * slow wander may rarely look like a cycle or a line over a short window. */
    static const double noise[] = {0.01, 0.03, 0.1, 0.3}, phi[] = {0, 0.9, 0.99};
    size_t counts[6] = {0}, total = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++)
            for (int rep = 0; rep < 30; rep++) {
                size_t n = 50 + (size_t)(urand() * 1950);
                double x = 0;
                for (size_t i = 0; i < n; i++) {
                    T[i] = i * 0.02;
                    x = phi[b] * x + noise[a] * sqrt(1 - phi[b] * phi[b]) * gauss();
                    V[i] = 1e7 * (1 + x);
                }
                mw_pattern p = classify("RSS", n, NOLIM, 0);
                cr_assert(p.type != MW_PAT_LEAK && p.type != MW_PAT_EXPONENTIAL &&
                              p.type != MW_PAT_SPIKE,
                          "noise %.2f phi %.2f n %zu: %s", noise[a], phi[b], n, p.sentence);
                counts[p.type]++;
                total++;
            }
    cr_assert(counts[MW_PAT_STABLE] >= total * 95 / 100, "stable %zu of %zu (linear %zu, "
              "oscillating %zu)", counts[MW_PAT_STABLE], total, counts[MW_PAT_LINEAR],
              counts[MW_PAT_OSCILLATING]);
}

/* A few samples with no trend that spread wider than their median (node's start-up: 4 samples
 * around one big allocation) are "stable" only for want of a pattern: the sentence says they
 * moved, and the confidence is low. A start-up ramp before a level does not count. */
Test(classify, a_short_spread_without_a_level_says_it_moved)
{
    const double v[] = { 2e6, 500e6, 1e6, 2e6 };
    for (int i = 0; i < 4; i++) {
        T[i] = 0.08 * i;
        V[i] = v[i];
    }
    mw_pattern p = classify("mapped", 4, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_STABLE, "%s: %s", mw_pattern_type_name(p.type), p.sentence);
    cr_expect(strstr(p.sentence, "mapped moved between "), "%s", p.sentence);
    cr_expect_lt(p.confidence, 0.3, "%f", p.confidence);
    times(200, 0.01);
    for (int i = 0; i < 200; i++) V[i] = (i < 10 ? 0.8e6 * i : 8e6) + 1e4 * gauss();
    p = classify("heap", 200, NOLIM, 0);
    cr_assert_eq(p.type, MW_PAT_STABLE, "%s: %s", mw_pattern_type_name(p.type), p.sentence);
    cr_expect(strstr(p.sentence, "heap stayed around "), "%s", p.sentence);
}
