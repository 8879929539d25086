/*
 * report_watch_html.c — the HTML report's watched-memory section: one timeline per watched
 * variable (issue 6). Each variable gets a strip with one tick per write over the life of the
 * process (colour = writer thread, hover = details), then its writes in order with the byte
 * diff (changed bytes marked in old and new), the writer thread, how it wrote (system call,
 * SQL context, adapter source location, no-stack and unmapped notes) and the stack.
 * Everything that comes from the trace goes through mw_html_escape.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "htmlesc.h"
#include "mw_format.h"
#include "report.h"
#include "report_watch.h"

#define ESC(r, s) mw_html_escape((r)->out, (s))
#define PER_VAR_ROWS 200u
#define STRIP_W 960
#define SHOW_BYTES 32u

static const char *palette[] = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                 "#8c564b", "#e377c2", "#17becf" };

/* Colour index of a writer: order of first appearance among this variable's writers. */
static unsigned thread_colour(uint64_t *seen, unsigned *nseen, uint64_t tid)
{
    for (unsigned i = 0; i < *nseen; i++)
        if (seen[i] == tid) return i % 8;
    if (*nseen < 64) seen[(*nseen)++] = tid;
    return (*nseen - 1) % 8;
}

static void bytes_cell(mw_report *r, const uint8_t *mine, const uint8_t *other, size_t n,
                       const char *tag)
{
    size_t show = n < SHOW_BYTES ? n : SHOW_BYTES;
    for (size_t k = 0; k < show; k++) {
        if (mine[k] != other[k]) fprintf(r->out, "<%s>%02x</%s>", tag, mine[k], tag);
        else fprintf(r->out, "%02x", mine[k]);
    }
    if (n > show) fprintf(r->out, "&hellip;(%zu bytes)", n);
}

static void stack_details(mw_report *r, mw_report_proc *rp, uint64_t stack)
{
    mw_frame f[MW_STACK_MAX];
    size_t n = mw_stack_frames(rp, stack, f, MW_STACK_MAX);
    if (!n) {
        fputs("<span class=\"dim\">(no stack)</span>", r->out);
        return;
    }
    fputs("<details><summary><code>", r->out);
    ESC(r, f[0].function);
    fputs("</code>", r->out);
    if (f[0].file) {
        const char *b = strrchr(f[0].file, '/');
        fputs(" <span class=\"dim\">", r->out);
        ESC(r, b ? b + 1 : f[0].file);
        fprintf(r->out, ":%" PRIu64 "</span>", f[0].line);
    }
    fputs("</summary><ol class=\"stack mono\" start=\"0\">", r->out);
    for (size_t i = 0; i < n; i++) {
        fputs("<li>", r->out);
        ESC(r, f[i].function);
        if (f[i].file) {
            fputs(" <span class=\"dim\">", r->out);
            ESC(r, f[i].file);
            fprintf(r->out, ":%" PRIu64 "</span>", f[i].line);
        }
        fputs("</li>", r->out);
    }
    fputs("</ol></details>", r->out);
}

static void via_cell(mw_report *r, const mw_watch_event *e)
{
    if (e->flags & MW_WF_UNMAPPED) fputs("<b>unmapped</b> (watch ended) ", r->out);
    if (e->syscall >= 0 && !(e->flags & MW_WF_UNMAPPED)) {
        const char *sn = mw_syscall_name(e->syscall);
        fputs("kernel: ", r->out);
        if (sn) fprintf(r->out, "<code>%s(2)</code> ", sn);
        else fprintf(r->out, "syscall %" PRId64 " ", e->syscall);
    }
    if (e->sql_fp) fprintf(r->out, "sql <code>%016" PRIx64 "</code> ", e->sql_fp);
    if (e->loc_file || e->loc_func) {
        fputs("at <code>", r->out);
        ESC(r, e->loc_func ? e->loc_func : "");
        fputs("</code> ", r->out);
        ESC(r, e->loc_file ? e->loc_file : "");
        fprintf(r->out, ":%" PRIu64 " ", e->loc_line);
    }
    if ((e->flags & MW_WF_NO_STACK) && e->syscall < 0) fputs("<span class=\"dim\">no stack</span>", r->out);
}

static void strip(mw_report *r, const mw_proc *p, const mw_watch_var *v, double t_end)
{
    uint64_t seen[64];
    unsigned nseen = 0;
    fprintf(r->out, "<svg width=\"%d\" height=\"26\" role=\"img\"><line x1=\"0\" y1=\"13\" "
            "x2=\"%d\" y2=\"13\" stroke=\"#bbb\"/>", STRIP_W, STRIP_W);
    for (size_t i = 0; i < p->watch_events.n; i++) {
        const mw_watch_event *e = &p->watch_events.v[i];
        if (e->var_id != v->id) continue;
        double x = t_end > 0 ? (double)e->t_ns / t_end * (STRIP_W - 4) + 2 : 2;
        unsigned c = thread_colour(seen, &nseen, e->tid);
        fprintf(r->out, "<line x1=\"%.1f\" y1=\"3\" x2=\"%.1f\" y2=\"23\" stroke=\"%s\" "
                "stroke-width=\"2\"><title>%.6f s, ", x, x, palette[c], (double)e->t_ns / 1e9);
        ESC(r, (e->thread_name ? e->thread_name : ""));
        fprintf(r->out, ", +%" PRIu64 " (%" PRIu64 " bytes)</title></line>", e->offset, e->len);
    }
    fprintf(r->out, "<text x=\"2\" y=\"25\">0 s</text><text x=\"%d\" y=\"25\" "
            "text-anchor=\"end\">%.3f s</text></svg>\n", STRIP_W - 2, t_end / 1e9);
}

void mw_html_watch(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    if (!p->watch_vars.n) return;
    double t_end = (double)p->end_t_ns;
    for (size_t i = 0; i < p->watch_events.n; i++)
        if ((double)p->watch_events.v[i].t_ns > t_end) t_end = (double)p->watch_events.v[i].t_ns;
    fputs("<style>td del{background:#fcc;text-decoration:none}"
          "td ins{background:#cfc;text-decoration:none}</style>\n", r->out);
    fprintf(r->out, "<h3>Watched memory</h3>\n<p>%zu variable%s, %" PRIu64 " write event%s "
            "(one per writing instruction or system call).</p>\n", p->watch_vars.n,
            p->watch_vars.n == 1 ? "" : "s", p->watch_events_total,
            p->watch_events_total == 1 ? "" : "s");
    for (size_t vi = 0; vi < p->watch_vars.n; vi++) {
        const mw_watch_var *v = &p->watch_vars.v[vi];
        fputs("<details open><summary><b class=\"mono\">", r->out);
        ESC(r, v->name ? v->name : "?");
        fprintf(r->out, "</b> <span class=\"dim\">0x%" PRIx64 ", %" PRIu64 " bytes</span> &mdash; "
                "%" PRIu64 " write%s", v->addr, v->len, v->writes, v->writes == 1 ? "" : "s");
        if (v->unregistered)
            fputs(v->unreg_reason == MW_UNWATCH_UNMAPPED ? ", ended: memory unmapped"
                                                         : ", unwatched", r->out);
        for (size_t k = 0; k < v->nmeta; k++) {
            fputs(" <span class=\"dim\">", r->out);
            ESC(r, v->meta[2 * k] ? v->meta[2 * k] : "");
            fputs("=", r->out);
            ESC(r, v->meta[2 * k + 1] ? v->meta[2 * k + 1] : "");
            fputs("</span>", r->out);
        }
        fputs("</summary>\n", r->out);
        strip(r, p, v, t_end);
        fputs("<table>\n<tr><th class=\"n\">t (s)</th><th>thread</th><th class=\"n\">bytes</th>"
              "<th>old</th><th>new</th><th>how</th><th>where</th></tr>\n", r->out);
        uint64_t seen[64];
        unsigned nseen = 0;
        size_t shown = 0;
        for (size_t i = 0; i < p->watch_events.n && shown < PER_VAR_ROWS; i++) {
            const mw_watch_event *e = &p->watch_events.v[i];
            if (e->var_id != v->id) continue;
            shown++;
            unsigned c = thread_colour(seen, &nseen, e->tid);
            fprintf(r->out, "<tr><td class=\"n\">%.6f</td><td><span style=\"color:%s\">&#9632;"
                    "</span> ", (double)e->t_ns / 1e9, palette[c]);
            ESC(r, (e->thread_name ? e->thread_name : ""));
            fprintf(r->out, " <span class=\"dim\">%" PRIu64 "</span></td><td class=\"n\">"
                    "+%" PRIu64 "&hellip;%" PRIu64 "</td><td class=\"mono\">", e->tid, e->offset,
                    e->offset + e->len);
            if (e->old_bytes && e->new_bytes) {
                bytes_cell(r, e->old_bytes, e->new_bytes, e->nbytes, "del");
                fputs("</td><td class=\"mono\">", r->out);
                bytes_cell(r, e->new_bytes, e->old_bytes, e->nbytes, "ins");
            } else {
                fputs("<span class=\"dim\">-</span></td><td class=\"mono\"><span "
                      "class=\"dim\">-</span>", r->out);
            }
            fputs("</td><td>", r->out);
            via_cell(r, e);
            fputs("</td><td>", r->out);
            stack_details(r, rp, e->stack);
            fputs("</td></tr>\n", r->out);
        }
        fputs("</table>\n", r->out);
        if (v->writes > shown)
            fprintf(r->out, "<p class=\"dim\">%" PRIu64 " more writes not shown (JSON report: "
                    "all of them).</p>\n", v->writes - shown);
        fputs("</details>\n", r->out);
    }
}
