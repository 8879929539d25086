/*
 * patterns_proc.c — growth analysis of one process (patterns_proc.h).
 *
 * Series, from the model's samples (taken by ingest.c at every RSS record and every tick):
 *   heap      tracked live heap bytes (malloc family)
 *   mapped    tracked live mmap bytes (every mapping the program made through mmap/mremap)
 *   rss       resident set size (from the first RSS record on)
 *   external  rss - heap - tracked anonymous mappings (as far as resident anonymous memory
 *             can hold them): what no traced call explains
 *             (fragmentation, allocator caches, thread stacks, untraced allocators)
 * Each is classified by mw_pattern_classify against the limit in force. growth_sites are the
 * sites whose own live-bytes series classifies as leak, linear or exponential with a positive
 * rate and a rise of at least the classifier's rise_floor, fastest first.
 */
#include "patterns_proc.h"

#include <stdlib.h>
#include <string.h>

const char *mw_series_name(int ser)
{
    static const char *names[MW_SER_COUNT] = {"heap", "mapped", "rss", "external"};
    return ser >= 0 && ser < MW_SER_COUNT ? names[ser] : "?";
}

static void growth_site_free(mw_growth_site *g)
{
    free(g->t);
    free(g->v);
}

void mw_patterns_free(mw_patterns *pt)
{
    if (!pt) return;
    free(pt->t);
    for (int k = 0; k < MW_SER_COUNT; k++) free(pt->v[k]);
    for (size_t i = 0; i < pt->nsites; i++) growth_site_free(&pt->sites[i]);
    free(pt->sites);
    mw_alert_list_free(&pt->alerts);
    free(pt);
}

static int cmp_growth(const void *a, const void *b)
{
    const mw_growth_site *x = a, *y = b;
    double gx = x->verdict.growth_bytes_per_s, gy = y->verdict.growth_bytes_per_s;
    if (gx != gy) return gx < gy ? 1 : -1;
    return x->site < y->site ? -1 : x->site > y->site;
}

/* Classifies site si; appends it to pt->sites when it keeps growing. -1 when out of memory. */
static int consider_site(mw_patterns *pt, const mw_proc *p, uint32_t si, size_t *cap)
{
    const mw_site *s = &p->sites.v[si];
    /* never above where it started: cannot be growing (a site freed at exit still can: the
     * classifier sets a lone final drop aside as an anomaly) */
    if (s->nseries < 2 || (int64_t)s->peak_live <= s->series[0].v) return 0;
    size_t n = s->nseries;
    bool tail = p->t_ns > s->series[n - 1].t_ns; /* flat since its last change: say so */
    size_t m = n + (tail ? 1 : 0);
    mw_growth_site g = {0};
    g.site = si;
    g.t = malloc(m * sizeof *g.t);
    g.v = malloc(m * sizeof *g.v);
    if (!g.t || !g.v) {
        growth_site_free(&g);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        g.t[i] = (double)s->series[i].t_ns / 1e9;
        g.v[i] = (double)s->series[i].v;
    }
    if (tail) {
        g.t[n] = (double)p->t_ns / 1e9;
        g.v[n] = (double)s->live;
    }
    g.n = m;
    mw_pattern_input in = {"live bytes", g.t, g.v, m, pt->limit, 0, NULL};
    mw_pattern_params prm;
    mw_pattern_params_default(&prm);
    if (mw_pattern_classify(&in, &g.verdict)) {
        growth_site_free(&g);
        return -1;
    }
    mw_pattern_type ty = g.verdict.type;
    bool grows = (ty == MW_PAT_LEAK || ty == MW_PAT_LINEAR || ty == MW_PAT_EXPONENTIAL) &&
                 g.verdict.growth_bytes_per_s > 0 && g.verdict.rise >= prm.rise_floor;
    if (!grows) {
        growth_site_free(&g);
        return 0;
    }
    if (pt->nsites == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        mw_growth_site *ns = realloc(pt->sites, nc * sizeof *ns);
        if (!ns) {
            growth_site_free(&g);
            return -1;
        }
        pt->sites = ns;
        *cap = nc;
    }
    pt->sites[pt->nsites++] = g;
    return 0;
}

mw_patterns *mw_patterns_analyze(const mw_proc *p, const mw_alert_config *cfg)
{
    mw_patterns *pt = calloc(1, sizeof *pt);
    if (!pt) return NULL;
    if (cfg) pt->cfg = *cfg;
    else mw_alert_config_default(&pt->cfg);
    pt->limit = mw_limit_in_force(p->limit_cgroup, p->limit_rlimit_as, p->limit_phys);
    size_t n = p->series.n;
    pt->n = n;
    pt->t = malloc((n ? n : 1) * sizeof *pt->t);
    for (int k = 0; k < MW_SER_COUNT; k++) pt->v[k] = malloc((n ? n : 1) * sizeof *pt->v[k]);
    for (int k = 0; k < MW_SER_COUNT; k++)
        if (!pt->v[k]) goto oom;
    if (!pt->t) goto oom;
    size_t first_rss = n;
    for (size_t i = 0; i < n; i++) {
        const mw_sample *s = &p->series.v[i];
        pt->t[i] = (double)s->t_ns / 1e9;
        pt->v[MW_SER_HEAP][i] = (double)s->heap;
        pt->v[MW_SER_MAPPED][i] = (double)s->mmap;
        /* the program's memory: memwatch's own (rings, tables, compressor) is left out, or a
         * process that only waits would seem to grow while the shim's buffers fill */
        double rss = (double)s->rss - (double)s->own;
        pt->v[MW_SER_RSS][i] = rss;
        /* the heap and the tracked anonymous mappings count only as far as they can be
         * resident: a reservation (node's V8 maps 512 MiB it may never touch) or a big calloc
         * never written made external negative. Resident anonymous memory (RssAnon, less
         * memwatch's own) bounds the heap, and what is left of it the mappings, so external is
         * at least the file-backed and shared RSS; a trace without RssAnon (0) subtracts both
         * whole. */
        double heap_res = (double)s->heap, anon_maps = (double)s->mmap_anon;
        if (s->anon > 0) {
            double prog_anon = s->anon > s->own ? (double)(s->anon - s->own) : 0;
            if (heap_res > prog_anon) heap_res = prog_anon;
            if (anon_maps > prog_anon - heap_res) anon_maps = prog_anon - heap_res;
        }
        pt->v[MW_SER_EXTERNAL][i] = rss - heap_res - anon_maps;
        if (s->rss > 0 && first_rss == n) first_rss = i;
    }
    pt->first[MW_SER_HEAP] = pt->first[MW_SER_MAPPED] = 0;
    pt->first[MW_SER_RSS] = pt->first[MW_SER_EXTERNAL] = first_rss;
    double usage = n && first_rss < n ? pt->v[MW_SER_RSS][n - 1] : 0;
    for (int k = 0; k < MW_SER_COUNT; k++) {
        size_t f = pt->first[k];
        mw_pattern_input in = {mw_series_name(k), pt->t + f, pt->v[k] + f, n - f, pt->limit,
                               usage, NULL};
        if (k == MW_SER_RSS) in.name = "RSS";
        if (mw_pattern_classify(&in, &pt->verdict[k])) goto oom;
    }
    size_t cap = 0;
    for (uint32_t si = 0; si < p->sites.n; si++)
        if (consider_site(pt, p, si, &cap)) goto oom;
    if (pt->nsites) qsort(pt->sites, pt->nsites, sizeof *pt->sites, cmp_growth);

    /* Alerts: over the samples that have RSS when there are any, else over the heap alone. */
    size_t f = first_rss < n ? first_rss : 0, m = n - f;
    mw_alert_sample *as = malloc((m ? m : 1) * sizeof *as);
    if (!as) goto oom;
    for (size_t i = 0; i < m; i++) {
        size_t k = f + i;
        as[i].t = pt->t[k];
        as[i].heap = pt->v[MW_SER_HEAP][k];
        as[i].rss = first_rss < n ? pt->v[MW_SER_RSS][k] : 0;
        as[i].external = first_rss < n ? pt->v[MW_SER_EXTERNAL][k] : 0;
    }
    bool have_rss = first_rss < n;
    int rc = mw_alerts_evaluate(&pt->cfg, as, m, &pt->verdict[MW_SER_HEAP],
                                have_rss ? &pt->verdict[MW_SER_RSS] : NULL,
                                have_rss ? &pt->verdict[MW_SER_EXTERNAL] : NULL, &pt->alerts);
    free(as);
    if (rc) goto oom;
    return pt;
oom:
    mw_patterns_free(pt);
    return NULL;
}
