/*
 * alerts.h — alert rules over the memory series: thresholds on absolute heap / RSS / external
 * bytes, on the external/heap ratio, on growth rates, and on pattern verdicts; each rule with
 * a cooldown, all of them under one per-hour cap (the seeds' monitors, replayed over a trace).
 *
 * Pure: configuration (defaults, `key = value` file, single overrides) and evaluation over an
 * array of samples; the report code lists what fired. README "patterns" documents every key.
 */
#ifndef MW_ALERTS_H
#define MW_ALERTS_H

#include <stddef.h>

#include "patterns.h"

/* Rule ids; mw_alert_rule_name() gives the name used in reports and config keys. */
enum mw_alert_rule {
    MW_AR_HEAP = 0,          /* heap_bytes */
    MW_AR_RSS,               /* rss_bytes */
    MW_AR_EXTERNAL,          /* external_bytes */
    MW_AR_EXTERNAL_CRITICAL, /* external_critical_bytes */
    MW_AR_EXTERNAL_RATIO,    /* external_ratio (when heap >= ratio_min_heap_bytes) */
    MW_AR_HEAP_GROWTH,       /* heap_growth_bytes_per_s */
    MW_AR_RSS_GROWTH,        /* rss_growth_bytes_per_s */
    MW_AR_EXTERNAL_GROWTH,   /* external_growth_bytes_per_s */
    MW_AR_PATTERN,           /* pattern_min_confidence: leak / exponential verdicts */
    MW_AR_COUNT
};
const char *mw_alert_rule_name(int rule);

typedef struct mw_alert_config {
    double threshold[MW_AR_COUNT]; /* 0 = rule off */
    double ratio_min_heap_bytes;   /* the ratio rule needs at least this much heap (16 MiB:
                                      below that, a small program's libraries dominate) */
    double growth_window_s;        /* growth rates: least-squares slope over this window */
    double cooldown_s;             /* per rule and series */
    double max_per_hour;           /* all rules together; 0 = no cap */
} mw_alert_config;

void mw_alert_config_default(mw_alert_config *c);
/* Sets one key (the keys of a config file). Returns 0, or -1 with a message in err. */
int mw_alert_config_set(mw_alert_config *c, const char *key, const char *value, char *err,
                        size_t errlen);
/* "key=value" in one string (the --alert flag). */
int mw_alert_config_set_kv(mw_alert_config *c, const char *kv, char *err, size_t errlen);
/* Loads `key = value` lines ('#' comments, blank lines; at most 511 bytes each, the file at
 * most MW_ALERTS_FILE_MAX bytes and without NUL bytes). Returns 0, or -1 with
 * "PATH:LINE: what is wrong" (or "PATH: what is wrong") in err. */
#define MW_ALERTS_FILE_MAX (1u << 20)
int mw_alert_config_load(mw_alert_config *c, const char *path, char *err, size_t errlen);

typedef struct mw_alert_sample {
    double t;        /* seconds since the trace started */
    double heap;     /* tracked live heap bytes */
    double rss;
    double external; /* rss - heap - tracked anonymous mappings */
} mw_alert_sample;

typedef struct mw_alert {
    double t;
    int rule;
    const char *series;   /* "heap", "rss", "external" */
    const char *severity; /* "warning" or "critical" */
    double value, threshold;
    char message[200];
} mw_alert;

typedef struct mw_alert_list {
    mw_alert *v;
    size_t n, cap;
    size_t held_by_cooldown; /* samples where a rule held but was cooling down */
    size_t dropped_by_cap;   /* alerts not raised because of max_per_hour (each starts its
                                rule's cooldown as if it had fired) */
} mw_alert_list;

/* Replays the rules over s[0..n) in time order, then the pattern rule at the last sample time
 * for each verdict given (any may be NULL). Returns 0, or -1 when out of memory. */
int mw_alerts_evaluate(const mw_alert_config *c, const mw_alert_sample *s, size_t n,
                       const mw_pattern *heap, const mw_pattern *rss, const mw_pattern *external,
                       mw_alert_list *out);
void mw_alert_list_free(mw_alert_list *l);

#endif /* MW_ALERTS_H */
