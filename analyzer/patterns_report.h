/*
 * patterns_report.h — the growth-pattern sections of every report format: verdicts of the
 * heap / mapped / RSS / external series, growing sites, fired alerts. Each function has the
 * section signature of its format's table (report_json.c, report_text.c, report_md.c,
 * report_html.c) and renders rp->patterns (nothing, or null in JSON, when it is NULL).
 *
 *   patterns_report.c  JSON, text and Markdown
 *   patterns_html.c    HTML with inline SVG charts (series + verdict, small multiples of sites)
 */
#ifndef MW_PATTERNS_REPORT_H
#define MW_PATTERNS_REPORT_H

#include "jsonw.h"
#include "patterns_proc.h"
#include "report.h"

void mw_patterns_json_sec(mw_report *r, mw_report_proc *rp, mw_json *j);
void mw_patterns_text_sec(mw_report *r, mw_report_proc *rp);
void mw_patterns_md_sec(mw_report *r, mw_report_proc *rp);
void mw_patterns_html_sec(mw_report *r, mw_report_proc *rp);

#endif /* MW_PATTERNS_REPORT_H */
