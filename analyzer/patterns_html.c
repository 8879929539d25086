/*
 * patterns_html.c — the growth-pattern section of the HTML report: one inline SVG chart per
 * series (heap, RSS, external) with the verdict drawn on it (the robust trend line, or the
 * fitted curve for exponential growth, and a marker on each spike), the explanatory sentence,
 * small multiples of the top growing sites, and the fired alerts (also marked on the charts).
 *
 * Self-contained: no scripts, no external resources; every trace-controlled string goes
 * through mw_html_escape (htmlesc.h).
 */
#include <math.h>
#include <string.h>

#include "htmlesc.h"
#include "patterns_report.h"

#define MAX_DRAW 800 /* points drawn per line (longer series are strided) */

typedef struct frame {
    double x, y, w, h; /* plot area */
    double t0, t1, v0, v1;
} frame;

static double px(const frame *f, double t)
{
    return f->x + (f->t1 > f->t0 ? (t - f->t0) / (f->t1 - f->t0) : 0.5) * f->w;
}

static double py(const frame *f, double v)
{
    double y = f->y + f->h - (f->v1 > f->v0 ? (v - f->v0) / (f->v1 - f->v0) : 0.5) * f->h;
    return y < f->y - 4 ? f->y - 4 : y > f->y + f->h + 4 ? f->y + f->h + 4 : y;
}

static void polyline(FILE *o, const frame *f, const double *t, const double *v, size_t n,
                     const char *color, double width)
{
    if (!n) return;
    size_t stride = n > MAX_DRAW ? (n + MAX_DRAW - 1) / MAX_DRAW : 1;
    fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" points=\"", color,
            width);
    for (size_t i = 0; i < n; i += stride) fprintf(o, "%.1f,%.1f ", px(f, t[i]), py(f, v[i]));
    if ((n - 1) % stride) fprintf(o, "%.1f,%.1f", px(f, t[n - 1]), py(f, v[n - 1]));
    fputs("\"/>\n", o);
}

static void fit_frame(frame *f, const double *t, const double *v, size_t n)
{
    f->t0 = n ? t[0] : 0;
    f->t1 = n ? t[n - 1] : 1;
    f->v0 = INFINITY;
    f->v1 = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < f->v0) f->v0 = v[i];
        if (v[i] > f->v1) f->v1 = v[i];
    }
    if (!n) f->v0 = 0, f->v1 = 1;
    if (f->v0 > 0 && f->v0 < 0.5 * f->v1) f->v0 = 0; /* start at zero unless that flattens it */
    double pad = (f->v1 - f->v0) * 0.05;
    if (pad <= 0) pad = fabs(f->v1) * 0.05 + 1;
    f->v1 += pad;
    if (f->v0 != 0) f->v0 -= pad;
}

/* The verdict drawn over the data: trend line or exponential curve, spike markers. */
static void draw_verdict(FILE *o, const frame *f, const mw_pattern *v)
{
    if (v->n < 2) return;
    double a = v->t_first, b = v->t_last;
    if (v->type == MW_PAT_EXPONENTIAL && v->accel.log_ok && v->accel.log_rate > 0) {
        fputs("<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" "
              "stroke-dasharray=\"6 3\" points=\"", o);
        for (int i = 0; i <= 40; i++) {
            double t = a + (b - a) * i / 40.0;
            fprintf(o, "%.1f,%.1f ", px(f, t), py(f, exp(v->accel.log_a + v->accel.log_rate * t)));
        }
        fputs("\"><title>exponential fit</title></polyline>\n", o);
    } else {
        const char *c = v->type == MW_PAT_LEAK ? "#d62728" : v->type == MW_PAT_LINEAR ? "#ff7f0e"
                                                                                     : "#7f7f7f";
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-width=\"1.5\" stroke-dasharray=\"6 3\"><title>trend</title></line>\n",
                px(f, a), py(f, mw_trend_at(&v->trend, a)), px(f, b),
                py(f, mw_trend_at(&v->trend, b)), c);
    }
    for (size_t i = 0; i < v->nmarks; i++) {
        char bb[32];
        mw_fmt_bytes_h(bb, sizeof bb, v->mark_v[i]);
        fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"none\" stroke=\"#d62728\" "
                   "stroke-width=\"2\"><title>spike %s at +%.2f s</title></circle>\n",
                px(f, v->mark_t[i]), py(f, v->mark_v[i]), bb, v->mark_t[i]);
    }
}

static void chart(FILE *o, const mw_patterns *pt, int ser, const char *title)
{
    const mw_pattern *v = &pt->verdict[ser];
    size_t f0 = pt->first[ser], n = pt->n - f0;
    const double *t = pt->t + f0, *vals = pt->v[ser] + f0;
    frame f = {70, 28, 560, 150, 0, 0, 0, 0};
    fit_frame(&f, t, vals, n);
    char lo[32], hi[32], rate[32];
    mw_fmt_bytes_h(lo, sizeof lo, f.v0);
    mw_fmt_bytes_h(hi, sizeof hi, f.v1);
    mw_fmt_bytes_h(rate, sizeof rate, v->growth_bytes_per_s);
    fprintf(o, "<figure class=\"mw-chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" "
               "width=\"640\" height=\"210\" viewBox=\"0 0 640 210\" role=\"img\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n");
    fprintf(o, "<text x=\"4\" y=\"16\" font-size=\"13\" font-weight=\"bold\">");
    mw_html_escape(o, title);
    fprintf(o, ": %s (confidence %.2f, %s/s)</text>\n", mw_pattern_type_name(v->type),
            v->confidence, rate);
    fprintf(o, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" "
               "stroke=\"#ccc\"/>\n", f.x, f.y, f.w, f.h);
    fprintf(o, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n", f.x - 4, f.y + 8, hi);
    fprintf(o, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n", f.x - 4,
            f.y + f.h, lo);
    fprintf(o, "<text x=\"%.0f\" y=\"%.0f\">+%.2f s</text>\n", f.x, f.y + f.h + 16, f.t0);
    fprintf(o, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">+%.2f s</text>\n", f.x + f.w,
            f.y + f.h + 16, f.t1);
    if (n == 0) {
        fprintf(o, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">no samples</text>\n",
                f.x + f.w / 2, f.y + f.h / 2);
    } else {
        polyline(o, &f, t, vals, n, "#1f77b4", 1.5);
        draw_verdict(o, &f, v);
    }
    /* alerts on this series: a tick on the time axis */
    const char *sname = ser == MW_SER_HEAP ? "heap" : ser == MW_SER_RSS ? "rss" : "external";
    for (size_t i = 0; i < pt->alerts.n; i++) {
        const mw_alert *a = &pt->alerts.v[i];
        if (strcmp(a->series, sname) || n == 0) continue;
        double x = px(&f, a->t);
        fprintf(o, "<path d=\"M%.1f %.1f l-4 8 h8 z\" fill=\"#ff7f0e\"><title>alert ", x,
                f.y + f.h);
        mw_html_escape(o, mw_alert_rule_name(a->rule));
        fputs(": ", o);
        mw_html_escape(o, a->message);
        fputs("</title></path>\n", o);
    }
    fputs("</svg><figcaption>", o);
    mw_html_escape(o, v->sentence);
    fputs("</figcaption></figure>\n", o);
}

static void site_multiple(FILE *o, mw_report_proc *rp, const mw_growth_site *g, size_t rank)
{
    const mw_site *s = &rp->p->sites.v[g->site];
    frame f = {6, 34, 228, 70, 0, 0, 0, 0};
    fit_frame(&f, g->t, g->v, g->n);
    char rate[32], live[32], where[300];
    mw_fmt_bytes_h(rate, sizeof rate, g->verdict.growth_bytes_per_s);
    mw_fmt_bytes_h(live, sizeof live, (double)s->live);
    mw_site_label(rp, s->stack, where, sizeof where);
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"240\" height=\"110\" "
               "viewBox=\"0 0 240 110\" font-family=\"sans-serif\" font-size=\"10\">\n");
    fprintf(o, "<text x=\"4\" y=\"12\" font-weight=\"bold\">#%zu +%s/s, %s (%s)</text>\n", rank,
            rate, mw_pattern_type_name(g->verdict.type), live);
    fputs("<text x=\"4\" y=\"26\">", o);
    mw_html_escape(o, where);
    fputs("<title>", o);
    mw_html_escape(o, g->verdict.sentence);
    fputs("</title></text>\n", o);
    fprintf(o, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" "
               "stroke=\"#ccc\"/>\n", f.x, f.y, f.w, f.h);
    polyline(o, &f, g->t, g->v, g->n, "#1f77b4", 1.2);
    draw_verdict(o, &f, &g->verdict);
    fputs("</svg>\n", o);
}

void mw_patterns_html_sec(mw_report *r, mw_report_proc *rp)
{
    const mw_patterns *pt = rp->patterns;
    if (!pt) return;
    FILE *o = r->out;
    char lim[32];
    if (pt->limit.bytes > 0) mw_fmt_bytes_h(lim, sizeof lim, pt->limit.bytes);
    else snprintf(lim, sizeof lim, "unknown");
    fprintf(o, "<section class=\"mw-patterns\">\n<h2>Growth patterns</h2>\n<p>Memory limit %s "
               "(%s), %zu samples. Dashed: the trend the verdict is based on; circles: spikes; "
               "triangles: alerts.</p>\n", lim, pt->limit.source, pt->n);
    chart(o, pt, MW_SER_HEAP, "heap (tracked live malloc bytes)");
    chart(o, pt, MW_SER_RSS, "RSS");
    chart(o, pt, MW_SER_EXTERNAL, "external (RSS - heap - anonymous mappings)");
    const mw_pattern *mv = &pt->verdict[MW_SER_MAPPED];
    fprintf(o, "<p>mapped (tracked mmap bytes): %s, confidence %.2f. ",
            mw_pattern_type_name(mv->type), mv->confidence);
    mw_html_escape(o, mv->sentence);
    fputs("</p>\n<h3>Growing sites</h3>\n", o);
    if (!pt->nsites) fputs("<p>No allocation site keeps growing.</p>\n", o);
    else {
        fputs("<div class=\"mw-multiples\" style=\"display:flex;flex-wrap:wrap;gap:8px\">\n", o);
        for (size_t i = 0; i < pt->nsites && i < r->top; i++)
            site_multiple(o, rp, &pt->sites[i], i + 1);
        fputs("</div>\n", o);
    }
    fprintf(o, "<h3>Alerts</h3>\n<p>%zu fired, %zu held by cooldown, %zu over the per-hour "
               "cap.</p>\n", pt->alerts.n, pt->alerts.held_by_cooldown,
            pt->alerts.dropped_by_cap);
    if (pt->alerts.n) {
        fputs("<table><tr><th>time</th><th>severity</th><th>rule</th><th>value</th>"
              "<th>threshold</th><th>message</th></tr>\n", o);
        for (size_t i = 0; i < pt->alerts.n; i++) {
            const mw_alert *a = &pt->alerts.v[i];
            fprintf(o, "<tr><td>+%.2f s</td><td>", a->t);
            mw_html_escape(o, a->severity);
            fputs("</td><td>", o);
            mw_html_escape(o, mw_alert_rule_name(a->rule));
            fprintf(o, "</td><td>%.6g</td><td>%.6g</td><td>", a->value, a->threshold);
            mw_html_escape(o, a->message);
            fputs("</td></tr>\n", o);
        }
        fputs("</table>\n", o);
    }
    fputs("</section>\n", o);
}
