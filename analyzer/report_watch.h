/*
 * report_watch.h — the watched-memory section of the HTML report (report_watch_html.c):
 * a timeline of writes per watched variable, with byte diffs and stacks.
 */
#ifndef MW_REPORT_WATCH_H
#define MW_REPORT_WATCH_H

#include "report.h"

void mw_html_watch(mw_report *r, mw_report_proc *rp);

#endif /* MW_REPORT_WATCH_H */
