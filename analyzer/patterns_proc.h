/*
 * patterns_proc.h — growth analysis of one traced process (patterns_proc.c): builds the heap,
 * mapped, RSS and external series from the ingested model, classifies each (patterns.c),
 * finds the growing allocation sites, and replays the alert rules (alerts.c).
 *
 * The result hangs off mw_report_proc.patterns (filled by cli.c) and is rendered by
 * patterns_report.c in every report format.
 */
#ifndef MW_PATTERNS_PROC_H
#define MW_PATTERNS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "model.h"
#include "patterns.h"

/* A site whose live bytes keep growing while the program runs. */
typedef struct mw_growth_site {
    uint32_t site;      /* index into mw_proc.sites */
    mw_pattern verdict; /* its live-bytes series classified (leak, linear or exponential) */
    double *t, *v;      /* that series: seconds since start, live bytes (last point = end) */
    size_t n;
} mw_growth_site;

enum { MW_SER_HEAP, MW_SER_MAPPED, MW_SER_RSS, MW_SER_EXTERNAL, MW_SER_COUNT };

typedef struct mw_patterns {
    size_t n;                       /* process samples */
    double *t;                      /* seconds since the trace started */
    double *v[MW_SER_COUNT];        /* heap, mapped, rss, external at each sample */
    size_t first[MW_SER_COUNT];     /* first valid sample of each series (RSS-based ones start
                                       at the first RSS record; == n when there is none) */
    mw_limit limit;                 /* memory limit in force (LIMITS record) */
    mw_pattern verdict[MW_SER_COUNT];
    mw_growth_site *sites;          /* ranked by growth rate, fastest first */
    size_t nsites;
    mw_alert_config cfg;
    mw_alert_list alerts;
} mw_patterns;

/* Name of a series as used in reports and JSON keys: "heap", "mapped", "rss", "external". */
const char *mw_series_name(int ser);

/* Analyzes p with the alert configuration cfg (NULL: defaults). NULL when out of memory. */
mw_patterns *mw_patterns_analyze(const mw_proc *p, const mw_alert_config *cfg);
void mw_patterns_free(mw_patterns *pt);

#endif /* MW_PATTERNS_PROC_H */
