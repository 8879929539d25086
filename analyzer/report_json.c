/*
 * report_json.c — the JSON report (--format json). DESIGN.md's "JSON report contract" is
 * binding: every key it lists exists with that name; keys are only ever added.
 *
 * One trace:     {"format_version":1, "process":{...}, "totals":{...}, "leaks":{...}, ...}
 * Several traces: {"format_version":1, "processes":[<one-trace object without
 *                 format_version>...], "verdict":{...}}
 * Each section of a process object is its own function below (json_sections).
 */
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "patterns_report.h"
#include "report.h"

typedef void (*json_section)(mw_report *r, mw_report_proc *rp, mw_json *j);

static void hex_str(mw_json *j, const uint8_t *b, size_t n)
{
    char *s = malloc(n * 2 + 1);
    if (!s) {
        mw_json_null(j);
        return;
    }
    for (size_t i = 0; i < n; i++) snprintf(s + 2 * i, 3, "%02x", b[i]);
    mw_json_strn(j, s, n * 2);
    free(s);
}

static void fp_str(mw_json *j, uint64_t fp)
{
    char b[17];
    snprintf(b, sizeof b, "%016llx", (unsigned long long)fp);
    mw_json_str(j, b);
}

/* stack[] {function, file, line, module} (+ ip, inlined) */
static void json_stack(mw_report_proc *rp, mw_json *j, uint64_t stack)
{
    mw_frame f[MW_STACK_MAX];
    size_t n = mw_stack_frames(rp, stack, f, MW_STACK_MAX);
    mw_json_arr(j);
    for (size_t i = 0; i < n; i++) {
        char ip[24];
        mw_json_obj(j);
        mw_json_key(j, "function");
        mw_json_str(j, f[i].function);
        mw_json_key(j, "file");
        mw_json_str(j, f[i].file);
        mw_json_key(j, "line");
        if (f[i].line) mw_json_u64(j, f[i].line);
        else mw_json_null(j);
        mw_json_key(j, "module");
        mw_json_str(j, f[i].module);
        mw_json_key(j, "ip");
        snprintf(ip, sizeof ip, "0x%llx", (unsigned long long)f[i].ip);
        mw_json_str(j, ip);
        mw_json_key(j, "inlined");
        /* inlined into the next frame when that one has the same address */
        mw_json_bool(j, i + 1 < n && f[i + 1].ip == f[i].ip);
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
}

static void sec_process(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    (void)r;
    const mw_proc *p = rp->p;
    mw_json_key(j, "process");
    mw_json_obj(j);
    mw_json_key(j, "pid");
    mw_json_u64(j, p->pid);
    mw_json_key(j, "ppid");
    mw_json_u64(j, p->ppid);
    mw_json_key(j, "exe");
    mw_json_str(j, p->exe ? p->exe : "");
    mw_json_key(j, "argv");
    mw_json_arr(j);
    for (size_t i = 0; i < p->argc; i++) mw_json_str(j, p->argv[i]);
    mw_json_arr_end(j);
    mw_json_key(j, "trace");
    mw_json_str(j, p->trace_path);
    mw_json_key(j, "start_realtime_ns");
    mw_json_u64(j, p->start_realtime_ns);
    mw_json_key(j, "duration_s");
    mw_json_f64(j, (double)p->t_ns / 1e9);
    mw_json_key(j, "exit_status");
    if (p->have_end && p->exit_status >= 0) mw_json_i64(j, p->exit_status);
    else mw_json_null(j);
    /* the signal it died of (FATAL_SIGNAL), null when none was recorded */
    mw_json_key(j, "fatal_signal");
    if (p->fatal_signo) {
        char sn[24];
        mw_json_obj(j);
        mw_json_key(j, "signal");
        mw_json_u64(j, p->fatal_signo);
        mw_json_key(j, "name");
        mw_json_str(j, mw_signal_name(p->fatal_signo, sn));
        mw_json_key(j, "code");
        mw_json_i64(j, (int32_t)(uint32_t)p->fatal_code);
        mw_json_key(j, "addr");
        char a[24];
        snprintf(a, sizeof a, "0x%llx", (unsigned long long)p->fatal_addr);
        mw_json_str(j, a);
        mw_json_key(j, "t_s");
        mw_json_f64(j, (double)p->fatal_t_ns / 1e9);
        mw_json_key(j, "thread");
        mw_json_str(j, mw_fatal_thread_name(p));
        mw_json_key(j, "stack");
        json_stack(rp, j, p->fatal_stack);
        /* glibc's allocator stopped the process on a corrupt heap: where it was called */
        mw_json_key(j, "heap_error_site");
        char site[400];
        if (mw_fatal_heap_error(rp, site, sizeof site)) mw_json_str(j, site);
        else mw_json_null(j);
        mw_json_obj_end(j);
    } else {
        mw_json_null(j);
    }
    mw_json_key(j, "forks");
    mw_json_arr(j);
    for (size_t i = 0; i < p->forks.n; i++) mw_json_u64(j, p->forks.v[i]);
    mw_json_arr_end(j);
    mw_json_key(j, "execs");
    mw_json_arr(j);
    for (size_t i = 0; i < p->execs.n; i++) mw_json_str(j, p->execs.v[i]);
    mw_json_arr_end(j);
    mw_json_key(j, "untraced");   /* programs it exec'd or started that LD_PRELOAD cannot reach */
    mw_json_arr(j);
    for (size_t i = 0; i < rp->n_untraced; i++) {
        mw_json_obj(j);
        mw_json_key(j, "pid");
        mw_json_u64(j, rp->untraced[i].pid);
        mw_json_key(j, "path");
        mw_json_str(j, rp->untraced[i].path);
        mw_json_key(j, "reason");
        mw_json_str(j, rp->untraced[i].why);
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
    mw_json_key(j, "untraced_more"); /* past the 8 listed (and past MW_SPAWNS_KEPT, unchecked) */
    mw_json_u64(j, rp->more_untraced);
    mw_json_key(j, "threads");
    mw_json_arr(j);
    for (size_t i = 0; i < p->threads.n; i++) {
        const mw_thread_info *t = mw_thread_at(p, i);
        if (!t || (!t->seen && !t->name)) continue;
        mw_json_obj(j);
        mw_json_key(j, "tidx");
        mw_json_u64(j, t->tidx);
        mw_json_key(j, "tid");
        mw_json_u64(j, t->tid);
        mw_json_key(j, "name");
        mw_json_str(j, t->name ? t->name : "");
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
    mw_json_obj_end(j);
}

static void sec_totals(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    (void)r;
    const mw_proc *p = rp->p;
    mw_json_key(j, "totals");
    mw_json_obj(j);
    mw_json_key(j, "allocations");
    mw_json_u64(j, p->allocations);
    mw_json_key(j, "frees");
    mw_json_u64(j, p->frees);
    mw_json_key(j, "bytes_allocated");
    mw_json_u64(j, p->bytes_allocated);
    mw_json_key(j, "peak_heap_bytes");
    mw_json_u64(j, p->peak_heap);
    mw_json_key(j, "peak_rss_bytes");
    mw_json_u64(j, p->peak_rss);
    mw_json_key(j, "memwatch_own_bytes_at_peak_rss"); /* of peak_rss, memwatch's own (0: unknown) */
    mw_json_u64(j, p->own_at_peak_rss);
    mw_json_key(j, "reallocs");
    mw_json_u64(j, p->reallocs);
    mw_json_key(j, "temporary");
    mw_json_u64(j, p->temporary);
    mw_json_key(j, "peak_mmap_bytes");
    mw_json_u64(j, p->peak_mmap);
    mw_json_key(j, "unmatched_frees");
    mw_json_u64(j, p->unmatched_frees);
    mw_json_key(j, "inherited_blocks"); /* a fork child's copies of its parent's blocks */
    mw_json_u64(j, p->inherited_blocks);
    mw_json_key(j, "inherited_bytes");
    mw_json_u64(j, p->inherited_bytes);
    mw_json_obj_end(j);
}

static void leak_site(mw_report_proc *rp, mw_json *j, const mw_leak *l)
{
    mw_json_obj(j);
    mw_json_key(j, "bytes");
    mw_json_u64(j, l->bytes);
    mw_json_key(j, "blocks");
    mw_json_u64(j, l->blocks);
    mw_json_key(j, "kind");
    mw_json_str(j, mw_reach_kind_name(l->kind));
    mw_json_key(j, "inherited"); /* from the parent at fork (process.ppid); stack: the parent's */
    mw_json_bool(j, mw_stack_inherited(rp->p->sites.v[l->site].stack));
    mw_json_key(j, "stack");
    json_stack(rp, j, rp->p->sites.v[l->site].stack);
    mw_json_obj_end(j);
}

#define LEAK_SITES_MAX 500

static void sec_leaks(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    (void)r;
    const mw_proc *p = rp->p;
    uint64_t bytes = 0, blocks = 0;
    for (int k = 0; k < MW_KIND_COUNT; k++) {
        bytes += p->leak_bytes[k];
        blocks += p->leak_blocks[k];
    }
    mw_json_key(j, "leaks");
    mw_json_obj(j);
    mw_json_key(j, "bytes");
    mw_json_u64(j, bytes);
    mw_json_key(j, "blocks");
    mw_json_u64(j, blocks);
    mw_json_key(j, "by_kind");
    mw_json_obj(j);
    for (int k = 0; k < MW_KIND_COUNT; k++) {
        mw_json_key(j, mw_reach_kind_name((unsigned)k));
        mw_json_obj(j);
        mw_json_key(j, "bytes");
        mw_json_u64(j, p->leak_bytes[k]);
        mw_json_key(j, "blocks");
        mw_json_u64(j, p->leak_blocks[k]);
        mw_json_obj_end(j);
    }
    mw_json_obj_end(j);
    mw_json_key(j, "sites");
    mw_json_arr(j);
    size_t shown = 0, omitted = 0;
    for (size_t i = 0; i < p->leaks.n; i++) {
        if (p->leaks.v[i].suppressed) continue;
        if (shown++ < LEAK_SITES_MAX) leak_site(rp, j, &p->leaks.v[i]);
        else omitted++;
    }
    mw_json_arr_end(j);
    mw_json_key(j, "sites_omitted");
    mw_json_u64(j, omitted);
    mw_json_key(j, "suppressed");
    mw_json_obj(j);
    mw_json_key(j, "bytes");
    mw_json_u64(j, p->supp_bytes);
    mw_json_key(j, "blocks");
    mw_json_u64(j, p->supp_blocks);
    mw_json_key(j, "sites");
    mw_json_arr(j);
    shown = 0;
    for (size_t i = 0; i < p->leaks.n; i++)
        if (p->leaks.v[i].suppressed && shown++ < LEAK_SITES_MAX) leak_site(rp, j, &p->leaks.v[i]);
    mw_json_arr_end(j);
    mw_json_obj_end(j);
    mw_json_obj_end(j);
}

static void site_obj(mw_report_proc *rp, mw_json *j, const mw_site *s)
{
    uint64_t leaked = 0;
    for (int k = 0; k < MW_KIND_COUNT; k++) leaked += s->leaked_bytes[k];
    mw_json_obj(j);
    mw_json_key(j, "calls");
    mw_json_u64(j, s->calls);
    mw_json_key(j, "bytes");
    mw_json_u64(j, s->bytes);
    mw_json_key(j, "temporary");
    mw_json_u64(j, s->temporary);
    mw_json_key(j, "peak_live_bytes");
    mw_json_u64(j, s->peak_live);
    mw_json_key(j, "leaked_bytes");
    mw_json_u64(j, leaked);
    mw_json_key(j, "stack");
    json_stack(rp, j, s->stack);
    mw_json_obj_end(j);
}

static void sec_sites(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    const mw_proc *p = rp->p;
    size_t top = r->top ? r->top : 10;
    uint32_t *idx = malloc(top * sizeof *idx);
    if (!idx) return;
    size_t n = mw_rank_sites(p, MW_RANK_BYTES, idx, top);
    mw_json_key(j, "top_sites");
    mw_json_arr(j);
    for (size_t i = 0; i < n; i++) site_obj(rp, j, &p->sites.v[idx[i]]);
    mw_json_arr_end(j);
    n = mw_rank_sites(p, MW_RANK_TEMPORARY, idx, top);
    mw_json_key(j, "temporary");
    mw_json_obj(j);
    mw_json_key(j, "allocations");
    mw_json_u64(j, p->temporary);
    mw_json_key(j, "sites");
    mw_json_arr(j);
    for (size_t i = 0; i < n; i++) site_obj(rp, j, &p->sites.v[idx[i]]);
    mw_json_arr_end(j);
    mw_json_obj_end(j);
    free(idx);
}

static void sec_mappings(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    const mw_proc *p = rp->p;
    size_t top = r->top ? r->top : 10;
    mw_json_key(j, "mappings");
    mw_json_obj(j);
    mw_json_key(j, "mapped_at_exit_bytes");
    mw_json_u64(j, p->mmap_live);
    mw_json_key(j, "peak_bytes");
    mw_json_u64(j, p->peak_mmap);
    mw_json_key(j, "count_at_exit");
    mw_json_u64(j, p->mappings.n);
    mw_json_key(j, "at_exit");
    mw_json_arr(j);
    for (size_t i = 0; i < p->mappings.n && i < top * 5; i++) {
        const mw_mapping *m = &p->mappings.v[i];
        char a[24];
        snprintf(a, sizeof a, "0x%llx", (unsigned long long)m->addr);
        mw_json_obj(j);
        mw_json_key(j, "addr");
        mw_json_str(j, a);
        mw_json_key(j, "len");
        mw_json_u64(j, m->len);
        mw_json_key(j, "prot");
        mw_json_u64(j, m->prot);
        mw_json_key(j, "path");
        mw_json_str(j, m->path);
        mw_json_key(j, "stack");
        json_stack(rp, j, m->stack);
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
    mw_json_obj_end(j);
}

static void sec_sql(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    (void)r;
    const mw_proc *p = rp->p;
    mw_json_key(j, "sql");
    mw_json_obj(j);
    mw_json_key(j, "queries");
    mw_json_arr(j);
    for (size_t i = 0; i < p->sql.n; i++) {
        const mw_sql_query *q = &p->sql.v[i];
        mw_json_obj(j);
        mw_json_key(j, "fingerprint");
        fp_str(j, q->fp);
        mw_json_key(j, "text");
        mw_json_str(j, q->text);
        mw_json_key(j, "db");
        mw_json_str(j, mw_sql_db_name(q->db));
        mw_json_key(j, "calls");
        mw_json_u64(j, q->calls);
        mw_json_key(j, "allocations");
        mw_json_u64(j, q->allocations);
        mw_json_key(j, "bytes_allocated");
        mw_json_u64(j, q->bytes_allocated);
        mw_json_key(j, "bytes_leaked");
        mw_json_u64(j, q->bytes_leaked);
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
    mw_json_key(j, "leaked_resources");
    mw_json_arr(j);
    for (size_t i = 0; i < p->sql_leaked.n; i++) {
        const mw_sql_resource *x = &p->sql_leaked.v[i];
        mw_json_obj(j);
        mw_json_key(j, "type");
        mw_json_str(j, mw_sql_res_name(x->type));
        mw_json_key(j, "count");
        mw_json_u64(j, x->count);
        mw_json_key(j, "db");
        mw_json_str(j, mw_sql_db_name(x->db));
        mw_json_key(j, "fingerprint");
        if (x->fp) fp_str(j, x->fp);
        else mw_json_null(j);
        mw_json_key(j, "stack");
        json_stack(rp, j, x->stack);
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
    mw_json_obj_end(j);
}

static void sec_watch(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    (void)r;
    const mw_proc *p = rp->p;
    mw_json_key(j, "watch");
    mw_json_obj(j);
    mw_json_key(j, "variables");
    mw_json_arr(j);
    for (size_t i = 0; i < p->watch_vars.n; i++) {
        const mw_watch_var *v = &p->watch_vars.v[i];
        char a[24];
        snprintf(a, sizeof a, "0x%llx", (unsigned long long)v->addr);
        mw_json_obj(j);
        mw_json_key(j, "id");
        mw_json_u64(j, v->id);
        mw_json_key(j, "name");
        mw_json_str(j, v->name ? v->name : "");
        mw_json_key(j, "addr");
        mw_json_str(j, a);
        mw_json_key(j, "len");
        mw_json_u64(j, v->len);
        mw_json_key(j, "writes");
        mw_json_u64(j, v->writes);
        mw_json_key(j, "metadata");
        mw_json_obj(j);
        for (size_t k = 0; k < v->nmeta; k++) {
            mw_json_key(j, v->meta[2 * k] ? v->meta[2 * k] : "");
            mw_json_str(j, v->meta[2 * k + 1]);
        }
        mw_json_obj_end(j);
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
    mw_json_key(j, "events_total");
    mw_json_u64(j, p->watch_events_total);
    mw_json_key(j, "events");
    mw_json_arr(j);
    for (size_t i = 0; i < p->watch_events.n; i++) {
        const mw_watch_event *e = &p->watch_events.v[i];
        uint64_t *vi = mw_hmap_get(&p->watch_by_id, e->var_id);
        const mw_watch_var *v = vi ? &p->watch_vars.v[*vi] : NULL;
        mw_json_obj(j);
        mw_json_key(j, "variable");
        mw_json_str(j, v && v->name ? v->name : "");
        mw_json_key(j, "offset");
        mw_json_u64(j, e->offset);
        mw_json_key(j, "len");
        mw_json_u64(j, e->len);
        mw_json_key(j, "old");
        if (e->old_bytes) hex_str(j, e->old_bytes, e->nbytes);
        else mw_json_null(j);
        mw_json_key(j, "new");
        if (e->new_bytes) hex_str(j, e->new_bytes, e->nbytes);
        else mw_json_null(j);
        mw_json_key(j, "tid");
        mw_json_u64(j, e->tid);
        mw_json_key(j, "thread");
        mw_json_str(j, (e->thread_name ? e->thread_name : ""));
        mw_json_key(j, "t_s");
        mw_json_f64(j, (double)e->t_ns / 1e9);
        mw_json_key(j, "sql");
        if (e->sql_fp) fp_str(j, e->sql_fp);
        else mw_json_null(j);
        mw_json_key(j, "syscall");
        if (e->syscall >= 0) {
            const char *sn = mw_syscall_name(e->syscall);
            char b[32];
            if (!sn) {
                snprintf(b, sizeof b, "syscall_%lld", (long long)e->syscall);
                sn = b;
            }
            mw_json_str(j, sn);
        } else {
            mw_json_null(j);
        }
        mw_json_key(j, "location");
        if (e->loc_file || e->loc_func) {
            mw_json_obj(j);
            mw_json_key(j, "file");
            mw_json_str(j, e->loc_file);
            mw_json_key(j, "line");
            mw_json_u64(j, e->loc_line);
            mw_json_key(j, "function");
            mw_json_str(j, e->loc_func);
            mw_json_obj_end(j);
        } else {
            mw_json_null(j);
        }
        mw_json_key(j, "stack");
        if (e->stack) {
            json_stack(rp, j, e->stack);
        } else if (e->pc && rp->sym) {
            /* No stack captured: the faulting pc alone (exact address, not a return). */
            const mw_frame *f;
            size_t n = mw_sym_addr(rp->sym, e->pc, false, &f);
            mw_json_arr(j);
            for (size_t k = 0; k < n; k++) {
                mw_json_obj(j);
                mw_json_key(j, "function");
                mw_json_str(j, f[k].function);
                mw_json_key(j, "file");
                mw_json_str(j, f[k].file);
                mw_json_key(j, "line");
                if (f[k].line) mw_json_u64(j, f[k].line);
                else mw_json_null(j);
                mw_json_key(j, "module");
                mw_json_str(j, f[k].module);
                mw_json_obj_end(j);
            }
            mw_json_arr_end(j);
        } else {
            mw_json_arr(j);
            mw_json_arr_end(j);
        }
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
    mw_json_obj_end(j);
}

static void sec_marks(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    (void)r;
    const mw_proc *p = rp->p;
    mw_json_key(j, "marks");
    mw_json_arr(j);
    for (size_t i = 0; i < p->marks.n; i++) {
        mw_json_obj(j);
        mw_json_key(j, "label");
        mw_json_str(j, p->marks.v[i].label);
        mw_json_key(j, "t_s");
        mw_json_f64(j, (double)p->marks.v[i].t_ns / 1e9);
        mw_json_key(j, "heap_bytes");
        mw_json_u64(j, p->marks.v[i].heap);
        mw_json_key(j, "leaked_bytes"); /* allocated after this mark, unfreed, not reachable */
        mw_json_u64(j, p->marks.v[i].leaked_bytes);
        mw_json_key(j, "leaked_blocks");
        mw_json_u64(j, p->marks.v[i].leaked_blocks);
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
}

static void sec_facts(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    (void)r;
    const mw_proc *p = rp->p;
    mw_json_key(j, "lost_events");
    mw_json_u64(j, p->lost_events);
    mw_json_key(j, "lost_bytes");
    mw_json_u64(j, p->lost_bytes);
    mw_json_key(j, "truncated");
    mw_json_bool(j, p->truncated);
    mw_json_key(j, "still_running");
    mw_json_bool(j, p->still_running);
    mw_json_key(j, "tracing_stopped");
    mw_json_bool(j, mw_proc_stopped(p));
    mw_json_key(j, "malloc_shadowed");
    mw_json_bool(j, (p->flags & MW_HF_MALLOC_SHADOWED) != 0);
}

static void sec_proc_verdict(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    mw_json_key(j, "verdict");
    mw_json_obj(j);
    mw_json_key(j, "failed");
    mw_json_bool(j, rp->failed_conditions > 0);
    mw_json_key(j, "fail_on");
    if (r->failon) mw_json_str(j, rp->fail_desc);
    else mw_json_null(j);
    mw_json_key(j, "leaked_bytes");
    mw_json_u64(j, mw_proc_leaked_bytes(rp->p));
    mw_json_key(j, "unfreed_bytes");
    mw_json_u64(j, mw_proc_unfreed_bytes(rp->p));
    mw_json_obj_end(j);
}

/* The sections of one process object, in order. Add a section here. */
/* The objects the stacks above could name only as module+0xoffset (symbolize.h), and why:
 * last, once every stack of the process has been looked up. */
static void sec_symbols(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    (void)r;
    mw_json_key(j, "unreadable_objects");
    mw_json_arr(j);
    size_t it = 0;
    const char *path, *why;
    while (mw_sym_unreadable(rp->sym, &it, &path, &why)) {
        mw_json_obj(j);
        mw_json_key(j, "path");
        mw_json_str(j, path);
        mw_json_key(j, "reason");
        mw_json_str(j, why);
        mw_json_obj_end(j);
    }
    mw_json_arr_end(j);
}

static const json_section json_sections[] = {
    sec_process, sec_totals, sec_leaks, sec_sites, sec_mappings, sec_sql, sec_watch,
    sec_marks, mw_patterns_json_sec, sec_facts, sec_proc_verdict, sec_symbols,
};

static void proc_body(mw_report *r, mw_report_proc *rp, mw_json *j)
{
    for (size_t i = 0; i < sizeof json_sections / sizeof json_sections[0]; i++)
        json_sections[i](r, rp, j);
}

static void merged_verdict(mw_report *r, mw_json *j)
{
    mw_json_key(j, "verdict");
    mw_json_obj(j);
    mw_json_key(j, "failed");
    mw_json_bool(j, r->failed);
    mw_json_key(j, "failing_processes");
    mw_json_u64(j, r->failing_procs);
    mw_json_key(j, "leaked_bytes");
    mw_json_u64(j, r->bytes[MW_REACH_DEFINITE] + r->bytes[MW_REACH_INDIRECT]);
    uint64_t unfreed = 0, blocks = 0;
    for (int k = 0; k < MW_KIND_COUNT; k++) {
        unfreed += r->bytes[k];
        blocks += r->blocks[k];
    }
    mw_json_key(j, "unfreed_bytes");
    mw_json_u64(j, unfreed);
    mw_json_key(j, "unfreed_blocks");
    mw_json_u64(j, blocks);
    mw_json_key(j, "suppressed_bytes");
    mw_json_u64(j, r->supp_bytes);
    mw_json_key(j, "lost_events");
    mw_json_u64(j, r->lost_events);
    mw_json_key(j, "truncated");
    mw_json_bool(j, r->any_truncated);
    mw_json_obj_end(j);
}

int mw_report_json(mw_report *r)
{
    mw_json j;
    mw_json_init(&j, r->out);
    mw_json_obj(&j);
    mw_json_key(&j, "format_version");
    mw_json_u64(&j, 1);
    if (r->n == 1) {
        proc_body(r, &r->procs[0], &j);
    } else {
        mw_json_key(&j, "processes");
        mw_json_arr(&j);
        for (size_t i = 0; i < r->n; i++) {
            mw_json_obj(&j);
            proc_body(r, &r->procs[i], &j);
            mw_json_obj_end(&j);
        }
        mw_json_arr_end(&j);
        merged_verdict(r, &j);
    }
    mw_json_obj_end(&j);
    return ferror(r->out) ? -1 : 0;
}
