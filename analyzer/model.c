/*
 * model.c — life cycle and small queries of the in-memory process model (model.h).
 */
#include "model.h"

#include <stdlib.h>
#include <string.h>

bool mw_vec_grow(void **v, size_t *cap, size_t elem, size_t need)
{
    if (need <= *cap) return true;
    /* a first allocation of at most 16 elements and about 512 bytes: the model of each of a
     * run's processes is kept until the report (a test suite's thousands), and most hold one
     * thread and a few of everything (the thread vector alone took 16 x 272 bytes each) */
    size_t ncap = *cap ? *cap : (elem >= 512 ? 1 : elem >= 32 ? 512 / elem : 16);
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem) return false;
        ncap *= 2;
    }
    void *nv = realloc(*v, ncap * elem);
    if (!nv) return false;
    *v = nv;
    *cap = ncap;
    return true;
}

mw_proc *mw_proc_new(const char *trace_path)
{
    mw_proc *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->trace_path = strdup(trace_path ? trace_path : "");
    p->exit_status = -1;
    p->series_stride = 1;
    p->last_site = UINT32_MAX;
    if (!p->trace_path) {
        free(p);
        return NULL;
    }
    return p;
}

void mw_proc_free(mw_proc *p)
{
    if (!p) return;
    free(p->trace_path);
    free(p->exe);
    for (size_t i = 0; i < p->argc; i++) free(p->argv[i]);
    free(p->argv);
    free(p->forks.v);
    for (size_t i = 0; i < p->execs.n; i++) free(p->execs.v[i]);
    free(p->execs.v);
    for (size_t i = 0; i < p->spawns.n; i++) free(p->spawns.v[i].path);
    free(p->spawns.v);
    for (size_t pi = 0; pi < p->threads.npages; pi++) {
        mw_thread_info *pg = p->threads.page[pi];
        for (size_t i = 0; pg && i < MW_THREAD_PAGE; i++) {
            free(pg[i].name);
            mw_btab_free(&pg[i].live);
        }
        free(pg);
    }
    free(p->threads.page);
    for (size_t i = 0; p->ended_names && i < MW_ENDED_NAMES; i++) free(p->ended_names[i].name);
    free(p->ended_names);
    free(p->fatal_thread);
    for (size_t i = 0; i < p->modules.n; i++) free(p->modules.v[i].path);
    free(p->modules.v);
    mw_hmap_free(&p->module_by_id);
    free(p->nodes.v);
    free(p->node_ix.v);
    free(p->site_ix.v);
    mw_hmap_free(&p->node_by_id);
    for (size_t i = 0; i < p->sites.n; i++) free(p->sites.v[i].series);
    free(p->sites.v);
    mw_hmap_free(&p->site_by_stack);
    free(p->dirty_sites.v);
    mw_hmap_free(&p->pending_frees);
    mw_hmap_free(&p->inherit_parent);
    free(p->series.v);
    for (size_t i = 0; i < p->mappings.n; i++) free(p->mappings.v[i].path);
    free(p->mappings.v);
    mw_omap_free(&p->mapping_at);
    for (size_t i = 0; i < p->marks.n; i++) free(p->marks.v[i].label);
    free(p->marks.v);
    for (size_t i = 0; i < p->sql.n; i++) free(p->sql.v[i].text);
    free(p->sql.v);
    mw_hmap_free(&p->sql_by_fp);
    free(p->sql_open.v);
    mw_hmap_free(&p->sql_res_by_handle);
    free(p->sql_leaked.v);
    for (size_t i = 0; i < p->watch_vars.n; i++) {
        mw_watch_var *w = &p->watch_vars.v[i];
        free(w->name);
        for (size_t k = 0; k < w->nmeta * 2; k++) free(w->meta[k]);
        free(w->meta);
    }
    free(p->watch_vars.v);
    mw_hmap_free(&p->watch_by_id);
    for (size_t i = 0; i < p->watch_events.n; i++) {
        mw_watch_event *e = &p->watch_events.v[i];
        free(e->old_bytes);
        free(e->new_bytes);
        free(e->loc_file);
        free(e->loc_func);
        free(e->thread_name);
    }
    free(p->watch_events.v);
    free(p->unfreed.v);
    free(p->leaks.v);
    free(p);
}

uint64_t mw_proc_leaked_bytes(const mw_proc *p)
{
    return p->leak_bytes[MW_REACH_DEFINITE] + p->leak_bytes[MW_REACH_INDIRECT];
}

uint64_t mw_proc_unfreed_bytes(const mw_proc *p)
{
    uint64_t s = 0;
    for (int k = 0; k < MW_KIND_COUNT; k++) s += p->leak_bytes[k];
    return s;
}

const char *mw_reach_kind_name(unsigned kind)
{
    switch (kind) {
    case MW_REACH_DEFINITE: return "definite";
    case MW_REACH_INDIRECT: return "indirect";
    case MW_REACH_REACHABLE: return "reachable";
    default: return "unknown";
    }
}

bool mw_dense_set(mw_dense_ix *ix, uint64_t id, size_t index)
{
    if (id >= ix->n) {
        size_t want = (size_t)id + 1;
        if (!mw_vec_grow((void **)&ix->v, &ix->cap, sizeof *ix->v, want)) return false;
        memset(ix->v + ix->n, 0, (want - ix->n) * sizeof *ix->v);
        ix->n = want;
    }
    ix->v[id] = (uint32_t)(index + 1);
    return true;
}

int64_t mw_proc_node_index(const mw_proc *p, uint64_t id)
{
    int64_t d = mw_dense_get(&p->node_ix, id);
    if (d >= 0) return d;
    const uint64_t *ix = mw_hmap_get(&p->node_by_id, id);
    return ix ? (int64_t)*ix : -1;
}

int64_t mw_proc_site_index(const mw_proc *p, uint64_t stack)
{
    int64_t d = mw_dense_get(&p->site_ix, stack);
    if (d >= 0 || !p->site_by_stack.count) return d;
    const uint64_t *ix = mw_hmap_get(&p->site_by_stack, stack);
    return ix ? (int64_t)*ix : -1;
}

size_t mw_proc_stack_ips(const mw_proc *p, uint64_t stack, uint64_t *ips, size_t max)
{
    size_t n = 0;
    /* Bounded walk: a corrupt trace may contain parent cycles. */
    while (stack != 0 && n < max) {
        int64_t ix = mw_proc_node_index(p, stack);
        if (ix < 0) break;
        const mw_stack_node *nd = &p->nodes.v[ix];
        ips[n++] = nd->ip;
        if (nd->parent == stack) break;
        stack = nd->parent;
    }
    return n;
}

const char *mw_sql_db_name(uint64_t db)
{
    switch (db) {
    case MW_DB_SQLITE: return "sqlite";
    case MW_DB_POSTGRES: return "postgres";
    case MW_DB_OTHER: return "other";
    default: return "unknown";
    }
}

const char *mw_sql_res_name(uint64_t type)
{
    switch (type) {
    case MW_RES_CONNECTION: return "connection";
    case MW_RES_STATEMENT: return "statement";
    case MW_RES_RESULT: return "result";
    default: return "unknown";
    }
}

const char *mw_proc_thread_name(const mw_proc *p, uint64_t tidx)
{
    const mw_thread_info *t = mw_thread_at(p, tidx);
    if (t && t->name) return t->name;
    return "";
}
