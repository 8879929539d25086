/*
 * htmlesc.h — escaping for the HTML and Markdown reports (htmlesc.c). Everything a trace
 * controls (process name, argv, function names, SQL text, watch names, paths) goes through
 * these before it reaches a report.
 */
#ifndef MW_HTMLESC_H
#define MW_HTMLESC_H

#include <stdio.h>

/* HTML text and attribute values: & < > " ' become entities, control characters other
 * than tab/newline and invalid UTF-8 become U+FFFD. NULL prints nothing. */
void mw_html_escape(FILE *f, const char *s);
/* The same into a malloc'd string (NULL when out of memory). */
char *mw_html_escape_str(const char *s);
/* Markdown table cells / inline text: HTML-escaped as above, plus | ` * _ [ ] \ # escaped
 * with a backslash and newlines turned into spaces. */
void mw_md_escape(FILE *f, const char *s);

#endif /* MW_HTMLESC_H */
