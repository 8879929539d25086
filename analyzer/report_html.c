/*
 * report_html.c — the HTML report (--format html): ONE self-contained file (no external
 * scripts, styles, fonts or images; a Content-Security-Policy forbids them), an inline SVG
 * chart of tracked heap, mmap and RSS over time per process, the leak table with expandable
 * stacks (<details>), top sites, SQL, watch events. Every trace-controlled string goes
 * through mw_html_escape.
 */
#include <stdlib.h>
#include <string.h>

#include "htmlesc.h"
#include "patterns_report.h"
#include "report.h"
#include "report_watch.h"

#define ESC(r, s) mw_html_escape((r)->out, (s))

typedef void (*html_section)(mw_report *r, mw_report_proc *rp);

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}"
    "h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;margin-top:2em}h3{margin-bottom:.3em}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 8px;text-align:left;"
    "vertical-align:top;border-bottom:1px solid #eee}td.n,th.n{text-align:right}"
    ".bad{color:#b00;font-weight:bold}.ok{color:#070;font-weight:bold}.warn{color:#a60}"
    "code,.mono{font-family:ui-monospace,monospace;font-size:13px}summary{cursor:pointer}"
    "ol.stack{margin:.2em 0 .6em 1em;padding-left:1.5em}.dim{color:#777}"
    "svg text{font:11px sans-serif;fill:#555}";

static void frames_list(mw_report *r, mw_report_proc *rp, uint64_t stack)
{
    mw_frame f[MW_STACK_MAX];
    size_t n = mw_stack_frames(rp, stack, f, MW_STACK_MAX);
    if (!n) {
        fputs(stack == MW_STACK_INHERITED ? "<span class=\"dim\">(allocated by the parent before fork(): analyze its "
                                            "trace with this one to see where)</span>"
                                          : "<span class=\"dim\">(no stack recorded)</span>", r->out);
        return;
    }
    fputs("<ol class=\"stack mono\" start=\"0\">", r->out);
    for (size_t i = 0; i < n; i++) {
        fputs("<li>", r->out);
        ESC(r, f[i].function);
        if (f[i].file) {
            fputs(" <span class=\"dim\">", r->out);
            ESC(r, f[i].file);
            if (f[i].line) fprintf(r->out, ":%llu", (unsigned long long)f[i].line);
            fputs("</span>", r->out);
        }
        if (f[i].module) {
            fputs(" <span class=\"dim\">[", r->out);
            ESC(r, f[i].module);
            fputs("]</span>", r->out);
        }
        fputs("</li>", r->out);
    }
    fputs("</ol>", r->out);
}

/* First frame "function file:line" (escaped), for summaries. */
static void where(mw_report *r, mw_report_proc *rp, uint64_t stack)
{
    mw_frame f[1];
    if (!mw_site_frame(rp, stack, f, NULL)) {
        fputs(stack == MW_STACK_INHERITED ? "(inherited at fork)" : "(no stack)", r->out);
        return;
    }
    fputs("<code>", r->out);
    ESC(r, f[0].function);
    fputs("</code>", r->out);
    if (f[0].file) {
        const char *b = strrchr(f[0].file, '/');
        fputs(" <span class=\"dim\">", r->out);
        ESC(r, b ? b + 1 : f[0].file);
        fprintf(r->out, ":%llu</span>", (unsigned long long)f[0].line);
    }
}

static void sec_header(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    char b1[32];
    fputs("<section><h2>", r->out);
    ESC(r, mw_proc_name(p));
    fprintf(r->out, " <span class=\"dim\">(pid %llu)</span></h2>\n<p>", (unsigned long long)p->pid);
    uint64_t leaked = mw_proc_leaked_bytes(p);
    if (leaked)
        fprintf(r->out, "<span class=\"bad\">leaked %llu bytes (%s)</span>",
                (unsigned long long)leaked, mw_fmt_bytes(leaked, b1));
    else if (p->leak_bytes[MW_REACH_UNKNOWN] && mw_proc_exec_target(p)) {
        fputs("<span class=\"dim\">exec'd ", r->out);
        ESC(r, mw_proc_exec_target(p));
        fprintf(r->out, " with %s live (the new program replaced them: not leaks)</span>",
                mw_fmt_bytes(p->leak_bytes[MW_REACH_UNKNOWN], b1));
    } else if (p->leak_bytes[MW_REACH_UNKNOWN] && mw_proc_stopped(p))
        fprintf(r->out, "<span class=\"dim\">tracing stopped before it ended, with %s live (not judged)</span>",
                mw_fmt_bytes(p->leak_bytes[MW_REACH_UNKNOWN], b1));
    else if (p->leak_bytes[MW_REACH_UNKNOWN])
        fprintf(r->out, "<span class=\"warn\">%s unfreed at exit (no reachability scan)</span>",
                mw_fmt_bytes(p->leak_bytes[MW_REACH_UNKNOWN], b1));
    else
        fputs("<span class=\"ok\">no leaks</span>", r->out);
    if (rp->failed_conditions) {
        fputs(" &mdash; <span class=\"bad\">--fail-on holds: ", r->out);
        ESC(r, rp->fail_desc);
        fputs("</span>", r->out);
    }
    if (rp->not_gated[0]) {
        fputs(" &mdash; not gated: ", r->out);
        ESC(r, rp->not_gated);
    }
    for (size_t k = 0; k < rp->n_untraced; k++) { /* programs it started that no trace covers */
        fputs("<br><span class=\"dim\">not traced: <span class=\"mono\">", r->out);
        ESC(r, rp->untraced[k].path);
        fprintf(r->out, "</span> (pid %llu): ", (unsigned long long)rp->untraced[k].pid);
        ESC(r, rp->untraced[k].why);
        fputs("</span>", r->out);
    }
    if (rp->more_untraced)
        fprintf(r->out, "<br><span class=\"dim\">not traced: %zu more like these</span>", rp->more_untraced);
    fputs("</p>\n<table>\n<tr><th>command</th><td class=\"mono\">", r->out);
    for (size_t i = 0; i < p->argc; i++) {
        if (i) fputc(' ', r->out);
        ESC(r, p->argv[i]);
    }
    fputs("</td></tr>\n<tr><th>executable</th><td class=\"mono\">", r->out);
    ESC(r, p->exe);
    fputs("</td></tr>\n<tr><th>trace</th><td class=\"mono\">", r->out);
    ESC(r, p->trace_path);
    char fatal[200];
    bool died = mw_fatal_line(p, fatal, sizeof fatal);
    if (p->truncated && !died)
        fputs(p->still_running ? " <span class=\"warn\">(no end record: still running when read)</span>"
                               : " <span class=\"warn\">(truncated: no end record; killed, or copied while it ran)</span>",
              r->out);
    fputs("</td></tr>\n", r->out);
    if (p->flags & MW_HF_MALLOC_SHADOWED)
        fprintf(r->out, "<tr><th>heap</th><td class=\"warn\">malloc is the program's own (found before "
                "memwatch's): %s</td></tr>\n", MW_SHADOWED_NOTE);
    if (died) {
        fputs("<tr><th>died of</th><td class=\"bad\"><details><summary>", r->out);
        ESC(r, fatal);
        char site[400];
        if (mw_fatal_heap_error(rp, site, sizeof site)) {
            fputs(MW_HEAP_ERROR_LEAD, r->out);
            ESC(r, site);
        }
        fputs(" (the trace holds all it did before)</summary>", r->out);
        frames_list(r, rp, p->fatal_stack);
        fputs("</details></td></tr>\n", r->out);
    }
    if (p->lost_events)
        fprintf(r->out, "<tr><th>lost events</th><td class=\"bad\">%llu (%llu bytes)</td></tr>\n",
                (unsigned long long)p->lost_events, (unsigned long long)p->lost_bytes);
    fputs("</table>\n", r->out);
}

/* Inline SVG: heap, mmap and RSS over time. */
static void sec_chart(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    if (p->series.n < 2) return;
    const double W = 900, H = 220, L = 70, B = 24, T = 10;
    double tmax = 0;
    uint64_t t0 = p->series.v[0].t_ns, top = 1; /* the largest value, kept exact for its label */
    for (size_t i = 0; i < p->series.n; i++) {
        const mw_sample *s = &p->series.v[i];
        double t = (double)(s->t_ns - t0) / 1e9;
        if (t > tmax) tmax = t;
        if (s->heap > top) top = s->heap;
        if (s->rss > top) top = s->rss;
        if (s->mmap > top) top = s->mmap;
    }
    double vmax = (double)top;
    if (tmax <= 0) tmax = 1;
    char b[32];
    fprintf(r->out, "<h3>Memory over time</h3>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n",
            W, H, W, H);
    fprintf(r->out, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" "
            "stroke=\"#ccc\"/>\n", L, T, W - L - 10, H - T - B);
    fprintf(r->out, "<text x=\"2\" y=\"%.0f\">%s</text>\n", T + 10, mw_fmt_bytes(top, b));
    fprintf(r->out, "<text x=\"2\" y=\"%.0f\">0</text>\n", H - B);
    fprintf(r->out, "<text x=\"%.0f\" y=\"%.0f\">0 s</text>\n", L, H - 6);
    fprintf(r->out, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.2f s</text>\n", W - 10,
            H - 6, tmax);
    static const struct { const char *name, *color; } lines[] = {
        {"tracked heap", "#1f77b4"}, {"RSS", "#d62728"}, {"mmap", "#2ca02c"}};
    for (int k = 0; k < 3; k++) {
        bool any = false;
        for (size_t i = 0; i < p->series.n && !any; i++) {
            const mw_sample *s = &p->series.v[i];
            any = (k == 0 ? s->heap : k == 1 ? s->rss : s->mmap) > 0;
        }
        if (!any) continue;
        fprintf(r->out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                lines[k].color);
        for (size_t i = 0; i < p->series.n; i++) {
            const mw_sample *s = &p->series.v[i];
            double v = (double)(k == 0 ? s->heap : k == 1 ? s->rss : s->mmap);
            double x = L + (double)(s->t_ns - t0) / 1e9 / tmax * (W - L - 10);
            double y = (H - B) - v / vmax * (H - T - B);
            fprintf(r->out, "%.1f,%.1f ", x, y);
        }
        fputs("\"/>\n", r->out);
        fprintf(r->out, "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\" style=\"fill:%s\">%s</text>\n",
                L + 10 + 110 * k, T + 14, lines[k].color, lines[k].color, lines[k].name);
    }
    /* memwatch_mark() phases as dashed vertical lines (hover shows the label). */
    for (size_t i = 0; i < p->marks.n && i < 200; i++) {
        const mw_mark *m = &p->marks.v[i];
        if (m->t_ns < t0) continue;
        double x = L + (double)(m->t_ns - t0) / 1e9 / tmax * (W - L - 10);
        fprintf(r->out, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#999\" "
                "stroke-dasharray=\"3,3\"><title>", x, T, x, H - B);
        ESC(r, m->label);
        fputs("</title></line>\n", r->out);
    }
    fputs("</svg>\n", r->out);
}

static void sec_totals(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    char b[32];
    fputs("<h3>Totals</h3>\n<table>\n", r->out);
    fprintf(r->out, "<tr><th>allocations</th><td class=\"n\">%llu</td></tr>\n",
            (unsigned long long)p->allocations);
    fprintf(r->out, "<tr><th>frees</th><td class=\"n\">%llu</td></tr>\n", (unsigned long long)p->frees);
    fprintf(r->out, "<tr><th>bytes allocated</th><td class=\"n\">%s</td></tr>\n",
            mw_fmt_bytes(p->bytes_allocated, b));
    fprintf(r->out, "<tr><th>temporary allocations</th><td class=\"n\">%llu</td></tr>\n",
            (unsigned long long)p->temporary);
    fprintf(r->out, "<tr><th>peak heap</th><td class=\"n\">%s</td></tr>\n", mw_fmt_bytes(p->peak_heap, b));
    fprintf(r->out, "<tr><th>peak RSS</th><td class=\"n\">%s</td></tr>\n", mw_fmt_bytes(p->peak_rss, b));
    fprintf(r->out, "<tr><th>mapped at exit</th><td class=\"n\">%s in %zu mappings</td></tr>\n",
            mw_fmt_bytes(p->mmap_live, b), p->mappings.n);
    for (int k = 0; k < MW_KIND_COUNT; k++)
        if (p->leak_blocks[k])
            fprintf(r->out, "<tr><th>unfreed, %s</th><td class=\"n\">%llu bytes in %llu blocks</td></tr>\n",
                    mw_reach_kind_name((unsigned)k), (unsigned long long)p->leak_bytes[k],
                    (unsigned long long)p->leak_blocks[k]);
    if (p->supp_blocks)
        fprintf(r->out, "<tr><th>suppressed</th><td class=\"n\">%llu bytes in %llu blocks</td></tr>\n",
                (unsigned long long)p->supp_bytes, (unsigned long long)p->supp_blocks);
    fputs("</table>\n", r->out);
}

static void sec_leaks(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    if (!p->leaks.n) return;
    fputs(mw_proc_exec_target(p) ? "<h3>Unfreed at exit, or live when it exec'd, by allocation stack</h3>\n"
          : mw_proc_stopped(p)     ? "<h3>Live when tracing stopped (not judged), by allocation stack</h3>\n"
                                   : "<h3>Unfreed at exit, by allocation stack</h3>\n", r->out);
    fputs("<table>\n<tr><th class=\"n\">bytes</th>"
          "<th class=\"n\">blocks</th><th>kind</th><th>allocated at</th></tr>\n", r->out);
    size_t shown = 0;
    for (size_t i = 0; i < p->leaks.n && shown < r->top * 5; i++) {
        const mw_leak *l = &p->leaks.v[i];
        shown++;
        fprintf(r->out, "<tr><td class=\"n\">%llu</td><td class=\"n\">%llu</td><td class=\"%s\">%s%s</td><td>"
                "<details><summary>", (unsigned long long)l->bytes, (unsigned long long)l->blocks,
                l->kind == MW_REACH_DEFINITE ? "bad" : l->kind == MW_REACH_REACHABLE ? "dim" : "warn",
                mw_reach_kind_name(l->kind), l->suppressed ? " (suppressed)" : "");
        if (mw_stack_inherited(p->sites.v[l->site].stack))
            fprintf(r->out, "<span class=\"dim\">inherited from pid %llu</span> ", (unsigned long long)p->ppid);
        where(r, rp, p->sites.v[l->site].stack);
        fputs("</summary>", r->out);
        frames_list(r, rp, p->sites.v[l->site].stack);
        fputs("</details></td></tr>\n", r->out);
    }
    fputs("</table>\n", r->out);
    if (p->leaks.n > shown)
        fprintf(r->out, "<p class=\"dim\">%zu more stacks not shown.</p>\n", p->leaks.n - shown);
}

static void sec_marks(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    if (!p->marks.n) return;
    fputs("<h3>Marks</h3>\n<table>\n<tr><th>label</th><th class=\"n\">t (s)</th>"
          "<th class=\"n\">heap then</th><th class=\"n\">leaked after it</th></tr>\n", r->out);
    char b[32];
    for (size_t i = 0; i < p->marks.n && i < 1000; i++) {
        const mw_mark *m = &p->marks.v[i];
        fputs("<tr><td class=\"mono\">", r->out);
        ESC(r, m->label);
        fprintf(r->out, "</td><td class=\"n\">%.3f</td><td class=\"n\">%s</td>", (double)m->t_ns / 1e9,
                mw_fmt_bytes(m->heap, b));
        fprintf(r->out, "<td class=\"n%s\">%llu bytes</td></tr>\n", m->leaked_bytes ? " bad" : "",
                (unsigned long long)m->leaked_bytes);
    }
    fputs("</table>\n", r->out);
}

static void sec_sites(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    uint32_t *idx = malloc(r->top * sizeof *idx);
    if (!idx) return;
    size_t n = mw_rank_sites(p, MW_RANK_BYTES, idx, r->top);
    if (n) {
        fputs("<h3>Top allocation sites</h3>\n<table>\n<tr><th class=\"n\">bytes</th>"
              "<th class=\"n\">calls</th><th class=\"n\">temporary</th><th class=\"n\">peak live</th>"
              "<th>site</th></tr>\n", r->out);
        /* rows of different stacks that would read the same get their callers */
        uint64_t *stacks = malloc(n * sizeof *stacks);
        mw_label *labels = malloc(n * sizeof *labels);
        if (stacks && labels) {
            for (size_t i = 0; i < n; i++) stacks[i] = p->sites.v[idx[i]].stack;
            mw_site_labels(rp, stacks, n, labels);
        }
        for (size_t i = 0; i < n; i++) {
            const mw_site *s = &p->sites.v[idx[i]];
            char b1[32], b2[32];
            fprintf(r->out, "<tr><td class=\"n\">%s</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
                    "<td class=\"n\">%s</td><td><details><summary>", mw_fmt_bytes(s->bytes, b1),
                    (unsigned long long)s->calls, (unsigned long long)s->temporary,
                    mw_fmt_bytes(s->peak_live, b2));
            if (stacks && labels) {
                fputs("<code>", r->out);
                ESC(r, labels[i]);
                fputs("</code>", r->out);
            } else {
                where(r, rp, s->stack);
            }
            fputs("</summary>", r->out);
            frames_list(r, rp, s->stack);
            fputs("</details></td></tr>\n", r->out);
        }
        fputs("</table>\n", r->out);
        free(stacks);
        free(labels);
    }
    free(idx);
}

static void sec_mappings(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    if (!p->mappings.n) return;
    char b[32];
    fputs("<h3>Mappings still mapped at exit</h3>\n<table>\n<tr><th class=\"n\">length</th>"
          "<th>file</th><th>mapped at</th></tr>\n", r->out);
    for (size_t i = 0; i < p->mappings.n && i < r->top * 2; i++) {
        const mw_mapping *m = &p->mappings.v[i];
        fprintf(r->out, "<tr><td class=\"n\">%s</td><td class=\"mono\">", mw_fmt_bytes(m->len, b));
        if (m->path) ESC(r, m->path);
        else fputs("(anonymous)", r->out);
        fputs("</td><td>", r->out);
        where(r, rp, m->stack);
        fputs("</td></tr>\n", r->out);
    }
    fputs("</table>\n", r->out);
}

static void sec_sql(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    if (!p->sql.n && !p->sql_leaked.n) return;
    char b1[32], b2[32];
    fputs("<h3>SQL</h3>\n<table>\n<tr><th>fingerprint</th><th>db</th><th class=\"n\">calls</th>"
          "<th class=\"n\">allocated</th><th class=\"n\">leaked</th><th>query</th></tr>\n", r->out);
    for (size_t i = 0; i < p->sql.n; i++) {
        const mw_sql_query *q = &p->sql.v[i];
        fprintf(r->out, "<tr><td class=\"mono\">%016llx</td><td>%s</td><td class=\"n\">%llu</td>"
                "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"mono\">",
                (unsigned long long)q->fp, mw_sql_db_name(q->db), (unsigned long long)q->calls,
                mw_fmt_bytes(q->bytes_allocated, b1), mw_fmt_bytes(q->bytes_leaked, b2));
        ESC(r, q->text);
        fputs("</td></tr>\n", r->out);
    }
    fputs("</table>\n", r->out);
    for (size_t i = 0; i < p->sql_leaked.n; i++) {
        const mw_sql_resource *x = &p->sql_leaked.v[i];
        fprintf(r->out, "<details><summary class=\"bad\">%llu leaked %s%s (%s)</summary>",
                (unsigned long long)x->count, mw_sql_res_name(x->type), x->count == 1 ? "" : "s",
                mw_sql_db_name(x->db));
        frames_list(r, rp, x->stack);
        fputs("</details>\n", r->out);
    }
}

/* Watched memory: per-variable timelines (report_watch_html.c). */
static void sec_watch(mw_report *r, mw_report_proc *rp) { mw_html_watch(r, rp); }

/* The objects the stacks above name only as module+0xoffset because they could not be read
 * (symbolize.h), once every stack is out. */
static void sec_symbols(mw_report *r, mw_report_proc *rp)
{
    size_t it = 0;
    const char *path, *why;
    bool first = true;
    while (mw_sym_unreadable(rp->sym, &it, &path, &why)) {
        if (first) fputs("<p class=\"dim\">The frames of these objects read module+0xoffset:</p>\n<ul>\n", r->out);
        first = false;
        fputs("<li><span class=\"mono\">", r->out);
        ESC(r, path);
        fputs("</span>: ", r->out);
        ESC(r, why);
        fputs("</li>\n", r->out);
    }
    if (!first) fputs("</ul>\n", r->out);
}

static void sec_end(mw_report *r, mw_report_proc *rp)
{
    (void)rp;
    fputs("</section>\n", r->out);
}

/* The sections of one process, in order. Add a section here. */
static const html_section html_sections[] = {
    sec_header, sec_chart, mw_patterns_html_sec, sec_totals, sec_leaks, sec_marks, sec_sites,
    sec_mappings, sec_sql, sec_watch, sec_symbols, sec_end,
};

int mw_report_html(mw_report *r)
{
    if (!r->top) r->top = 10;
    FILE *o = r->out;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'\">\n<title>memwatch report: ", o);
    if (r->n == 1) ESC(r, mw_proc_name(r->procs[0].p));
    else fprintf(o, "%zu processes", r->n);
    fprintf(o, "</title>\n<style>%s</style></head>\n<body>\n<h1>memwatch report</h1>\n", style);
    char b1[32], b2[32];
    uint64_t leaked = r->bytes[MW_REACH_DEFINITE] + r->bytes[MW_REACH_INDIRECT];
    fprintf(o, "<p>%zu process%s: <span class=\"%s\">%s leaked</span>, %s still reachable",
            r->n, r->n == 1 ? "" : "es", leaked ? "bad" : "ok", mw_fmt_bytes(leaked, b1),
            mw_fmt_bytes(r->bytes[MW_REACH_REACHABLE], b2));
    if (r->failon)
        fprintf(o, "; --fail-on <span class=\"%s\">%s</span>", r->failed ? "bad" : "ok",
                r->failed ? "fails" : "passes");
    fputs(".</p>\n", o);
    if (r->n > 1) {
        fputs("<table>\n<tr><th>process</th><th class=\"n\">pid</th><th class=\"n\">leaked</th>"
              "<th class=\"n\">reachable</th><th class=\"n\">peak heap</th><th>verdict</th></tr>\n", o);
        for (size_t i = 0; i < r->n; i++) {
            const mw_report_proc *rp = &r->procs[i];
            const mw_proc *p = rp->p;
            char b3[32];
            fputs("<tr><td class=\"mono\">", o);
            ESC(r, mw_proc_name(p));
            fprintf(o, "</td><td class=\"n\">%llu</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
                    "<td class=\"n\">%s</td><td class=\"%s\">", (unsigned long long)p->pid,
                    mw_fmt_bytes(mw_proc_leaked_bytes(p), b1),
                    mw_fmt_bytes(p->leak_bytes[MW_REACH_REACHABLE], b2), mw_fmt_bytes(p->peak_heap, b3),
                    rp->failed_conditions ? "bad" : "ok");
            if (rp->failed_conditions) ESC(r, rp->fail_desc);
            else if (rp->not_gated[0]) fputs("not gated", o);
            else fputs("ok", o);
            fputs("</td></tr>\n", o);
        }
        fputs("</table>\n", o);
    }
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; k < sizeof html_sections / sizeof html_sections[0]; k++)
            html_sections[k](r, &r->procs[i]);
    fputs("</body></html>\n", o);
    return ferror(o) ? -1 : 0;
}
