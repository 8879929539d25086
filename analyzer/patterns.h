/*
 * patterns.h — the growth-pattern classifier: one verdict (stable, linear, exponential, spike,
 * oscillating, leak) per memory series, with confidence, growth rate, time to the memory limit
 * and one explanatory sentence.
 *
 * Pure: it takes arrays (t seconds, v bytes) and returns a struct; the detectors it combines
 * live in growth.c, the rules are written out in patterns.c and in README.md
 * (section "patterns"). Used by the report code for patterns.heap / .rss / .external /
 * .mapped and for growth_sites[], and by alerts.c for pattern alerts.
 */
#ifndef MW_PATTERNS_H
#define MW_PATTERNS_H

#include <stddef.h>
#include <stdint.h>

#include "growth.h"

typedef enum mw_pattern_type {
    MW_PAT_STABLE = 0,
    MW_PAT_LINEAR,
    MW_PAT_EXPONENTIAL,
    MW_PAT_SPIKE,
    MW_PAT_OSCILLATING,
    MW_PAT_LEAK,
} mw_pattern_type;

const char *mw_pattern_type_name(mw_pattern_type t); /* "stable", "linear", ... */

/* Thresholds of the rules (README "patterns" documents each default). */
typedef struct mw_pattern_params {
    double rise_frac;        /* 0.10: net change, relative to the level, that counts as growth */
    double rise_floor;       /* 65536: ... and at least this many bytes */
    double z_threshold;      /* 3.5: robust z beyond which a point is an anomaly */
    double spike_frac;       /* 0.25: a spike rises at least this fraction of the level ... */
    double spike_min_z;      /* 6.0: ... its peak at least this robust z (noise never does) ... */
    double spike_max_share;  /* 0.35: ... covers at most this share of the points ... */
    size_t spike_max_runs;   /* 3: ... in at most this many bursts */
    double leak_drawdown;    /* 0.20: a leak never gives back more than this share of its rise */
    double leak_late_share;  /* 0.25: ... and keeps growing: the second half holds this share */
    double leak_ma_up;       /* 0.70: short MA above long MA on this share of the run */
    size_t leak_min_points;  /* 9: fewer points can be "linear" at most */
    double linear_min_r2;    /* 0.60 */
    double growth_min_r2;    /* 0.25: growth must stand out of the noise around the trend */
    double exp_min_inc;      /* 0.70: share of segment pairs whose slope increases */
    double exp_min_ratio;    /* 3.0: last/first segment slope, and second/first half rise */
    double osc_amp_frac;     /* 0.10: oscillation half-amplitude relative to the level */
    double osc_max_cv;       /* 0.50: irregularity allowed in the period */
    double osc_min_autocorr; /* 0.30 */
    double osc_min_period_ac;/* 0.50: autocorrelation one period apart (cycles repeat) */
} mw_pattern_params;

void mw_pattern_params_default(mw_pattern_params *p);

/* The memory limit in force: cgroup memory.max, else RLIMIT_AS, else physical memory
 * (0 or >= 2^62 means "none"). bytes 0 and source "none" when nothing is known. */
typedef struct mw_limit {
    double bytes;
    const char *source; /* "cgroup memory.max", "RLIMIT_AS", "physical memory", "none" */
} mw_limit;
mw_limit mw_limit_in_force(uint64_t cgroup_max, uint64_t rlimit_as, uint64_t phys_mem);

typedef struct mw_pattern_input {
    const char *name;     /* series name used in the sentence ("heap", "RSS", ...) */
    const double *t;      /* seconds, non-decreasing */
    const double *v;      /* bytes */
    size_t n;
    mw_limit limit;       /* bytes 0: no limit known (seconds_to_limit stays null) */
    double usage_now;     /* what the limit caps, at the end (0: the series' own last value) */
    const mw_pattern_params *params; /* NULL: defaults */
} mw_pattern_input;

#define MW_PAT_MAX_MARKS 16
#define MW_PAT_MAX_POINTS 4096 /* longer series are averaged into this many buckets first */

typedef struct mw_pattern {
    mw_pattern_type type;
    double confidence;         /* 0..1 */
    double growth_bytes_per_s; /* trend slope; for exponential the rate over the last segment */
    int has_eta;               /* seconds_to_limit is meaningful (else JSON null) */
    double seconds_to_limit;
    size_t n;                  /* points classified (after bucketing) */
    double t_first, t_last, v_min, v_max;
    double level;              /* median value */
    double rise;               /* end level - start level (cleaned series) */
    double max_drawdown;       /* largest drop below a running maximum (cleaned series) */
    mw_trend trend;            /* robust trend: anomalies excluded */
    mw_crossover ma;
    mw_anomalies anom;
    mw_accel accel;
    mw_oscillation osc;
    double exp_rate;           /* k per second for exponential (0 otherwise) */
    size_t nmarks;             /* spike peaks (t, v) for the charts */
    double mark_t[MW_PAT_MAX_MARKS], mark_v[MW_PAT_MAX_MARKS];
    char sentence[360];
} mw_pattern;

/* Classifies in->v over in->t. Returns 0, or -1 when out of memory (*out is then a stable
 * verdict with confidence 0 and a sentence saying so). */
int mw_pattern_classify(const mw_pattern_input *in, mw_pattern *out);

/* Human formatting shared with the report code: "5.1 MiB", "2.0 MiB/s", "3.2 min". */
void mw_fmt_bytes_h(char *buf, size_t len, double bytes);
void mw_fmt_duration_h(char *buf, size_t len, double seconds);

#endif /* MW_PATTERNS_H */
