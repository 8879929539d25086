/*
 * failon.h — the --fail-on grammar (failon.c): comma-separated METRIC>N conditions.
 *
 *   EXPR   := COND ( ',' COND )*
 *   COND   := METRIC '>' NUMBER [K|M|G]     (spaces allowed around tokens; suffixes are
 *                                            1024-based, either case)
 *   METRIC := leaked | unfreed | definite | indirect | reachable | peak_heap | peak_rss
 *           | lost_events
 * leaked = definite + indirect unfreed bytes, unfreed = every unfreed byte (both after
 * suppressions), peak_* in bytes, lost_events a count.
 */
#ifndef MW_FAILON_H
#define MW_FAILON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

enum mw_metric {
    MW_M_LEAKED, MW_M_UNFREED, MW_M_DEFINITE, MW_M_INDIRECT, MW_M_REACHABLE,
    MW_M_PEAK_HEAP, MW_M_PEAK_RSS, MW_M_LOST_EVENTS, MW_M_COUNT
};

#define MW_FAILON_MAX 32
typedef struct mw_failon {
    struct { int metric; uint64_t threshold; } c[MW_FAILON_MAX];
    size_t n;
} mw_failon;

/* Returns 0, or -1 with one line in err naming what is wrong and where. */
int mw_failon_parse(mw_failon *f, const char *expr, char *err, size_t errlen);
const char *mw_metric_name(int metric);
uint64_t mw_metric_value(const mw_proc *p, int metric);
/* Evaluates f on p: returns how many conditions hold and writes them to out as
 * "leaked=123 > 0, peak_rss=... > ..." (out may be NULL). */
size_t mw_failon_eval(const mw_failon *f, const mw_proc *p, char *out, size_t outlen);

#endif /* MW_FAILON_H */
