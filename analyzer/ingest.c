/*
 * ingest.c — streams decoded trace records into the in-memory model (model.h).
 *
 * Per-allocation state lives only while a block is live (a slab + hash map keyed by the
 * block's implicit id (tidx, seq)); everything else is aggregated per site, per SQL
 * fingerprint, per watched variable, or sampled into decimated time series. A FREE may arrive
 * before its ALLOC when the chunks of several threads interleave in the file: such frees wait
 * in a pending set until the allocation shows up.
 */
#include "ingest.h"
#include "exectarget.h"
#include "mw_tracelock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OOM (-2)
/* No block, and no process's live heap, is larger than an address space (2^57 bytes with
 * five-level paging): a trace that says otherwise is corrupt (TOO_BIG), and the live sums
 * stay far from int64's limit (2^60 + 2^57 < 2^63). */
#define MAX_BLOCK_BYTES (1ull << 57)
#define MAX_LIVE_BYTES (1ull << 60)
#define TOO_BIG (-3)

static char *bytes_dup(mw_bytes b)
{
    char *s = malloc(b.len + 1);
    if (!s) return NULL;
    if (b.len) memcpy(s, b.ptr, b.len);
    s[b.len] = '\0';
    return s;
}

/* ---- threads ------------------------------------------------------------------------- */
static __attribute__((noinline)) mw_thread_info *thread_make(mw_proc *p, uint64_t tidx)
{
    /* Threads are dense small indexes in real traces; a hostile index is refused by the
     * caller before reaching here (see MAX_TIDX), and one far from the others costs a page. */
    mw_threads *ts = &p->threads;
    size_t pi = tidx / MW_THREAD_PAGE;
    if (pi >= ts->npages) {
        size_t np = pi + 1 > 2 * ts->npages ? pi + 1 : 2 * ts->npages;
        mw_thread_info **v = realloc(ts->page, np * sizeof *v);
        if (!v) return NULL;
        memset(v + ts->npages, 0, (np - ts->npages) * sizeof *v);
        ts->page = v;
        ts->npages = np;
    }
    if (!ts->page[pi]) {
        mw_thread_info *pg = calloc(MW_THREAD_PAGE, sizeof *pg);
        if (!pg) return NULL;
        for (size_t i = 0; i < MW_THREAD_PAGE; i++) pg[i].tidx = pi * MW_THREAD_PAGE + i;
        ts->page[pi] = pg;
    }
    if (tidx >= ts->n) ts->n = tidx + 1;
    return &ts->page[pi][tidx % MW_THREAD_PAGE];
}

/* The thread of index tidx, made when new (every ALLOC asks: the common case stays inline). */
static inline mw_thread_info *thread_get(mw_proc *p, uint64_t tidx)
{
    mw_thread_info *t = mw_thread_at(p, tidx);
    return __builtin_expect(t != NULL, 1) ? t : thread_make(p, tidx);
}
#define MAX_TIDX (1u << 16)

/* The name of the thread with kernel id tid as the trace stands now: a thread index passes to
 * a new thread once its thread has ended (TRACE-FORMAT.md 3.1), so names are taken when an
 * event is read, not at report time. A live thread wins over an ended one (the kernel reuses
 * tids too). */
static const char *thread_name_now(const mw_proc *p, uint64_t tid)
{
    const char *ended = NULL;
    for (size_t i = 0; i < p->threads.n; i++) {
        const mw_thread_info *t = mw_thread_at(p, i);
        if (!t) continue;
        if (t->tid != tid || !t->name) continue;
        if (!t->ended) return t->name;
        if (!ended) ended = t->name;
    }
    if (ended) return ended;
    /* a thread whose index another thread took over since, the latest first */
    size_t n = !p->ended_names              ? 0
               : p->ended_next < MW_ENDED_NAMES ? p->ended_next
                                                : MW_ENDED_NAMES;
    for (size_t k = 1; k <= n; k++) {
        size_t i = (p->ended_next - k) % MW_ENDED_NAMES;
        if (p->ended_names[i].tid == tid) return p->ended_names[i].name;
    }
    return NULL;
}

/* Keeps the name of the thread whose index a new thread takes over (thread_name_now).
 * False when out of memory. */
static bool remember_ended(mw_proc *p, mw_thread_info *thr)
{
    if (!p->ended_names && !(p->ended_names = calloc(MW_ENDED_NAMES, sizeof *p->ended_names)))
        return false;
    size_t i = p->ended_next++ % MW_ENDED_NAMES;
    free(p->ended_names[i].name);
    p->ended_names[i].tid = thr->tid;
    p->ended_names[i].name = thr->name;
    thr->name = NULL;
    return true;
}


/* ---- sites and series ------------------------------------------------------------------ */
static uint32_t site_for(mw_proc *p, uint64_t stack)
{
    if (p->last_site != UINT32_MAX && p->last_stack == stack) return p->last_site;
    /* (a site made while its id was still too far to be dense stays in the map) */
    int64_t d = mw_proc_site_index(p, stack);
    if (d < 0 && mw_dense_ok(stack, p->nodes.n, p->sites.n)) {
        /* a stack id near the node count: a dense-table site (new, or not there yet) */
        mw_site s = {0};
        s.stack = stack;
        if (!MW_VEC_PUSH(p->sites, s)) return UINT32_MAX;
        if (!mw_dense_set(&p->site_ix, stack, p->sites.n - 1)) {
            p->sites.n--;
            return UINT32_MAX;
        }
        d = (int64_t)p->sites.n - 1;
    }
    if (d >= 0) {
        p->last_stack = stack;
        p->last_site = (uint32_t)d;
        return (uint32_t)d;
    }
    bool added;
    uint64_t *v = mw_hmap_put(&p->site_by_stack, stack, &added);
    if (!v) return UINT32_MAX;
    if (added) {
        mw_site s = {0};
        s.stack = stack;
        if (!MW_VEC_PUSH(p->sites, s)) {
            mw_hmap_del(&p->site_by_stack, stack, NULL);
            return UINT32_MAX;
        }
        *v = p->sites.n - 1;
    }
    p->last_stack = stack;
    p->last_site = (uint32_t)*v;
    return (uint32_t)*v;
}

static void site_point(mw_site *s, uint64_t t, int64_t v)
{
    if (s->nseries && s->series[s->nseries - 1].t_ns == t) {
        s->series[s->nseries - 1].v = v;
        return;
    }
    if (s->nseries == s->series_cap) {
        if (s->series_cap < MW_SITE_SERIES_CAP) {
            uint32_t nc = s->series_cap ? s->series_cap * 2 : 8;
            mw_point *ns = realloc(s->series, nc * sizeof *ns);
            if (!ns) return;
            s->series = ns;
            s->series_cap = nc;
        } else {
            /* Full: keep every second point (the later of each pair), halving the density
             * of the history while keeping its shape. */
            uint32_t k = 0;
            for (uint32_t i = 1; i < s->nseries; i += 2) s->series[k++] = s->series[i];
            s->nseries = k;
        }
    }
    s->series[s->nseries].t_ns = t;
    s->series[s->nseries].v = v;
    s->nseries++;
}

static void take_sample(mw_proc *p, uint64_t t)
{
    mw_sample smp = {t, p->heap_live > 0 ? (uint64_t)p->heap_live : 0, p->mmap_live,
                     p->last_rss, p->last_anon, p->last_file, p->mmap_anon_live, p->last_own};
    if (p->series.n >= MW_SERIES_CAP) {
        /* Merge pairs (keeping each pair's maxima and later time) and halve the rate. */
        size_t k = 0;
        for (size_t i = 0; i + 1 < p->series.n; i += 2) {
            mw_sample a = p->series.v[i], b = p->series.v[i + 1];
            mw_sample m = b;
            if (a.heap > m.heap) m.heap = a.heap;
            if (a.mmap > m.mmap) m.mmap = a.mmap;
            if (a.rss > m.rss) {
                m.rss = a.rss;
                m.own = a.own;
            }
            p->series.v[k++] = m;
        }
        if (p->series.n % 2) p->series.v[k++] = p->series.v[p->series.n - 1];
        p->series.n = k;
        p->series_stride *= 2;
    }
    MW_VEC_PUSH(p->series, smp);
    for (size_t i = 0; i < p->dirty_sites.n; i++) {
        mw_site *s = &p->sites.v[p->dirty_sites.v[i]];
        s->dirty = false;
        site_point(s, t, s->live);
    }
    p->dirty_sites.n = 0;
    p->last_tick_ns = t;
}

static inline void maybe_tick(mw_proc *p)
{
    if (p->t_ns >= p->last_tick_ns + MW_TICK_NS * p->series_stride) take_sample(p, p->t_ns);
}

static inline void site_changed(mw_proc *p, uint32_t si)
{
    mw_site *s = &p->sites.v[si];
    if (!s->dirty) {
        s->dirty = true;
        MW_VEC_PUSH(p->dirty_sites, si);
    }
}

/* ---- heap blocks ----------------------------------------------------------------------- */
/* A stack node: into p->nodes, indexed by id through the dense array when the id is near the
 * node count (the shim numbers nodes 1, 2, 3...), else through the hash map. A node written
 * again replaces the first. */
static int add_node(mw_proc *p, uint64_t id, uint64_t parent, uint64_t ip)
{
    mw_stack_node nd = {id, parent, ip};
    int64_t have = mw_proc_node_index(p, id);
    if (have >= 0) {
        p->nodes.v[have] = nd;
        return 0;
    }
    if (!MW_VEC_PUSH(p->nodes, nd)) return OOM;
    uint64_t ix = p->nodes.n - 1;
    if (mw_dense_ok(id, p->nodes.n, ix)) return mw_dense_set(&p->node_ix, id, ix) ? 0 : OOM;
    uint64_t *v = mw_hmap_put(&p->node_by_id, id, NULL);
    if (!v) return OOM;
    *v = ix;
    return 0;
}

/* Whether a block of site si is one the process inherited at fork: such blocks are not in
 * its heap's size (heap_live, the peak, the growth patterns), which is what it allocated
 * itself; the child records them when it first needs them (preload/inherit.c), so their
 * bytes would otherwise appear as a jump in its heap at some moment of its run. */
static inline bool site_inherited(const mw_proc *p, uint32_t si)
{
    return p->sites.v[si].stack == MW_STACK_INHERITED;
}

/* A new live block (tidx, seq) of site si: an allocation or an inherited block. */
static int place_block(mw_proc *p, mw_thread_info *thr, uint64_t tidx, uint64_t seq,
                       uint64_t size, uint64_t addr, uint32_t si, uint32_t sql)
{
    mw_site *s = &p->sites.v[si];
    if (size > MAX_BLOCK_BYTES || s->live > (int64_t)(MAX_LIVE_BYTES - size) ||
        p->heap_live > (int64_t)(MAX_LIVE_BYTES - size))
        return TOO_BIG;
    uint64_t key = mw_block_key(tidx, seq);
    if (p->pending_frees.count && mw_hmap_del(&p->pending_frees, key, NULL)) {
        /* Its free was already seen (another thread's chunk came first). */
        s->frees++;
        p->frees++;
        return 0;
    }
    bool added;
    mw_block *b = mw_btab_put(&thr->live, seq, &added);
    if (!b) return OOM;
    if (!added) {
        /* A duplicate id (corrupt trace): forget the older block. */
        if (!site_inherited(p, b->site)) p->heap_live -= (int64_t)b->size;
        p->sites.v[b->site].live -= (int64_t)b->size;
        p->sites.v[b->site].live_blocks--;
        p->nlive--;
    }
    b->tidx = tidx;
    b->seq = seq;
    b->size = size;
    b->addr = addr;
    b->site = si;
    b->sql = sql;
    b->kind = MW_REACH_UNKNOWN;
    b->mark = (uint32_t)p->marks.n;
    p->nlive++;
    s->live += (int64_t)size;
    s->live_blocks++;
    if ((uint64_t)s->live > s->peak_live) s->peak_live = (uint64_t)s->live;
    site_changed(p, si);
    if (site_inherited(p, si)) return 0;
    p->heap_live += (int64_t)size;
    if (p->heap_live > 0 && (uint64_t)p->heap_live > p->peak_heap) {
        p->peak_heap = (uint64_t)p->heap_live;
        p->peak_heap_t = p->t_ns;
    }
    return 0;
}

static int alloc_block(mw_proc *p, mw_thread_info *thr, uint64_t tidx, uint64_t seq,
                       uint64_t size, uint64_t stack, uint64_t addr)
{
    p->allocations++;
    p->bytes_allocated += size;
    uint32_t si = site_for(p, stack);
    if (si == UINT32_MAX) return OOM;
    mw_site *s = &p->sites.v[si];
    s->calls++;
    s->bytes += size;
    uint32_t sql = 0;
    if (thr->sql_depth > 0) {
        sql = thr->sql_idx[thr->sql_depth - 1] + 1;
        p->sql.v[sql - 1].bytes_allocated += size;
        p->sql.v[sql - 1].allocations++;
    }
    return place_block(p, thr, tidx, seq, size, addr, si, sql);
}

/* INHERIT: a block the process had from its parent when it was forked. It is live and gets a
 * verdict at exit, but it is not an allocation of this process (no call, no bytes allocated)
 * nor part of its heap's size (site_inherited);
 * its site is the inherited one (MW_STACK_INHERITED) until mw_link_inherited finds the
 * parent's allocation stack in the parent's trace. */
static int inherit_block(mw_proc *p, mw_thread_info *thr, uint64_t tidx, uint64_t seq,
                         const mw_record *r)
{
    uint32_t si = site_for(p, MW_STACK_INHERITED);
    if (si == UINT32_MAX) return OOM;
    p->inherited_blocks++;
    p->inherited_bytes += r->u.inherit.size;
    uint64_t *v = mw_hmap_put(&p->inherit_parent, mw_block_key(tidx, seq), NULL);
    if (!v) return OOM;
    *v = mw_block_key(r->u.inherit.parent.tidx, r->u.inherit.parent.seq);
    return place_block(p, thr, tidx, seq, r->u.inherit.size, r->u.inherit.addr, si, 0);
}

static int free_block(mw_proc *p, mw_block_ref ref, bool may_be_temporary)
{
    p->frees++;
    mw_block b;
    /* Never grows the thread table (callers hold thread pointers). */
    mw_thread_info *owner = mw_thread_at(p, ref.tidx);
    if (owner && mw_btab_del(&owner->live, ref.seq, &b)) {
        mw_site *s = &p->sites.v[b.site];
        s->frees++;
        s->live -= (int64_t)b.size;
        s->live_blocks--;
        site_changed(p, b.site);
        if (!site_inherited(p, b.site)) p->heap_live -= (int64_t)b.size;
        if (may_be_temporary && ref.tidx == p->cur_tidx && owner->seq == ref.seq) {
            s->temporary++;
            p->temporary++;
        }
        p->nlive--;
        return 0;
    }
    uint64_t known = owner ? owner->seq : 0;
    if (ref.seq > known && ref.tidx < MAX_TIDX) {
        if (!mw_hmap_put(&p->pending_frees, mw_block_key(ref.tidx, ref.seq), NULL)) return OOM;
        p->frees--; /* counted when the allocation arrives */
    } else {
        p->unmatched_frees++;
    }
    return 0;
}

/* ---- mappings -------------------------------------------------------------------------- */
/* Anonymous mappings count against "external" memory in the patterns analysis. */
static inline bool mapping_is_anon(const mw_mapping *m)
{
    return (m->flags & 0x20 /* MAP_ANONYMOUS */) || (!m->path && m->fd < 0);
}

/* Mapping i leaves the vector: the last one takes its place (and its index in mapping_at). */
static void drop_mapping(mw_proc *p, size_t i)
{
    mw_omap_del(&p->mapping_at, p->mappings.v[i].addr);
    free(p->mappings.v[i].path);
    size_t last = --p->mappings.n;
    if (i != last) {
        p->mappings.v[i] = p->mappings.v[last];
        mw_omap_put(&p->mapping_at, p->mappings.v[i].addr, i); /* replaces: no allocation */
    }
}

/* Takes [addr, addr + len) out of the mappings: those inside it go, those across its ends
 * are cut, one across both is split in two. Only the mappings it overlaps are visited: the
 * one starting at or before addr, then those starting inside. */
static int unmap_range(mw_proc *p, uint64_t addr, uint64_t len)
{
    uint64_t end = addr + len;
    if (end < addr) end = UINT64_MAX;
    uint64_t k, v, cursor = addr;
    if (mw_omap_le(&p->mapping_at, addr, &k, &v)) cursor = k;
    while (end > addr && mw_omap_ge(&p->mapping_at, cursor, &k, &v) && k < end) {
        mw_mapping *m = &p->mappings.v[v];
        uint64_t ms = m->addr, me = m->addr + m->len;
        bool last_key = k == UINT64_MAX;
        cursor = k + 1; /* keys made below start at end or later: never visited */
        if (me > addr) {
            uint64_t os = ms > addr ? ms : addr, oe = me < end ? me : end;
            p->mmap_live -= oe - os;
            if (mapping_is_anon(m)) p->mmap_anon_live -= oe - os;
            if (os == ms && oe == me) {
                drop_mapping(p, v);
            } else if (os == ms) { /* its head goes: it starts at oe now */
                mw_omap_del(&p->mapping_at, ms);
                m->offset += oe - ms;
                m->addr = oe;
                m->len = me - oe;
                if (mw_omap_put(&p->mapping_at, oe, v)) return OOM;
            } else if (oe == me) { /* its tail goes */
                m->len = os - ms;
            } else { /* a hole in it: the part after the hole is a mapping of its own */
                mw_mapping tail = *m;
                tail.addr = oe;
                tail.len = me - oe;
                tail.offset += oe - ms;
                tail.path = m->path ? strdup(m->path) : NULL;
                m->len = os - ms;
                if ((m->path && !tail.path) || !MW_VEC_PUSH(p->mappings, tail)) {
                    free(tail.path);
                    p->mmap_live -= me - oe; /* the tail is no longer counted */
                    if (mapping_is_anon(&tail)) p->mmap_anon_live -= me - oe;
                    return OOM;
                }
                if (mw_omap_put(&p->mapping_at, oe, p->mappings.n - 1)) return OOM;
            }
        }
        if (last_key) break;
    }
    return 0;
}

static int add_mapping(mw_proc *p, mw_mapping m)
{
    if (m.addr + m.len < m.addr) m.len = UINT64_MAX - m.addr; /* past the top of the address space */
    if (m.len == 0 || unmap_range(p, m.addr, m.len) /* MAP_FIXED replaces what was there */ ||
        !MW_VEC_PUSH(p->mappings, m)) {
        free(m.path);
        return m.len == 0 ? 0 : OOM;
    }
    if (mw_omap_put(&p->mapping_at, m.addr, p->mappings.n - 1)) {
        p->mappings.n--;
        free(m.path);
        return OOM;
    }
    p->mmap_live += m.len;
    if (mapping_is_anon(&m)) p->mmap_anon_live += m.len;
    if (p->mmap_live > p->peak_mmap) p->peak_mmap = p->mmap_live;
    return 0;
}

static int do_mremap(mw_proc *p, const mw_record *r)
{
    mw_mapping nm = {0};
    nm.fd = -1;
    uint64_t k, v;
    if (mw_omap_le(&p->mapping_at, r->u.mremap.old_addr, &k, &v)) {
        const mw_mapping *m = &p->mappings.v[v];
        if (r->u.mremap.old_addr - m->addr < m->len) { /* inside it */
            nm = *m;
            nm.offset += r->u.mremap.old_addr - m->addr;
            nm.path = m->path ? strdup(m->path) : NULL;
            if (m->path && !nm.path) return OOM;
        }
    }
    if (unmap_range(p, r->u.mremap.old_addr, r->u.mremap.old_len)) {
        free(nm.path);
        return OOM;
    }
    nm.addr = r->u.mremap.new_addr;
    nm.len = r->u.mremap.new_len;
    nm.stack = r->u.mremap.stack;
    nm.t_ns = p->t_ns;
    return add_mapping(p, nm);
}

/* ---- SQL ------------------------------------------------------------------------------- */
static uint32_t sql_for(mw_proc *p, uint64_t fp)
{
    bool added;
    uint64_t *v = mw_hmap_put(&p->sql_by_fp, fp, &added);
    if (!v) return UINT32_MAX;
    if (added) {
        mw_sql_query q = {0};
        q.fp = fp;
        if (!MW_VEC_PUSH(p->sql, q)) {
            mw_hmap_del(&p->sql_by_fp, fp, NULL);
            return UINT32_MAX;
        }
        *v = p->sql.n - 1;
    }
    return (uint32_t)*v;
}

static inline uint64_t res_key(uint64_t type, uint64_t handle) { return (type << 61) ^ handle; }

static int sql_res_open(mw_proc *p, const mw_record *r)
{
    uint64_t key = res_key(r->u.sql_res_open.type, r->u.sql_res_open.handle);
    bool added;
    uint64_t *v = mw_hmap_put(&p->sql_res_by_handle, key, &added);
    if (!v) return OOM;
    mw_sql_resource res = {r->u.sql_res_open.type, r->u.sql_res_open.handle, r->u.sql_res_open.fp,
                      r->u.sql_res_open.stack, r->u.sql_res_open.db, 1};
    if (!added) {
        p->sql_open.v[*v] = res; /* the handle was reused: the old one is gone */
        return 0;
    }
    if (!MW_VEC_PUSH(p->sql_open, res)) return OOM;
    *v = p->sql_open.n - 1;
    return 0;
}

static void sql_res_close(mw_proc *p, const mw_record *r)
{
    uint64_t ix;
    if (!mw_hmap_del(&p->sql_res_by_handle,
                     res_key(r->u.sql_res_close.type, r->u.sql_res_close.handle), &ix))
        return;
    size_t last = p->sql_open.n - 1;
    if (ix != last) {
        p->sql_open.v[ix] = p->sql_open.v[last];
        uint64_t *mv = mw_hmap_get(&p->sql_res_by_handle,
                                   res_key(p->sql_open.v[ix].type, p->sql_open.v[ix].handle));
        if (mv) *mv = ix;
    }
    p->sql_open.n--;
}

/* ---- watch ----------------------------------------------------------------------------- */
static mw_watch_var *watch_var(mw_proc *p, uint64_t id, bool create)
{
    uint64_t *v = mw_hmap_get(&p->watch_by_id, id);
    if (v) return &p->watch_vars.v[*v];
    if (!create) return NULL;
    mw_watch_var w = {0};
    w.id = id;
    if (!MW_VEC_PUSH(p->watch_vars, w)) return NULL;
    v = mw_hmap_put(&p->watch_by_id, id, NULL);
    if (!v) {
        p->watch_vars.n--;
        return NULL;
    }
    *v = p->watch_vars.n - 1;
    return &p->watch_vars.v[*v];
}

static int watch_write(mw_proc *p, const mw_record *r)
{
    mw_watch_var *w = watch_var(p, r->u.watch_write.id, true);
    if (!w) return OOM;
    w->writes++;
    p->watch_events_total++;
    if (p->watch_events.n >= MW_WATCH_EVENTS_KEEP) return 0;
    mw_watch_event e = {0};
    e.var_id = r->u.watch_write.id;
    e.offset = r->u.watch_write.offset;
    e.len = r->u.watch_write.len;
    e.tid = r->u.watch_write.tid;
    e.tidx = p->cur_tidx;
    e.pc = r->u.watch_write.pc;
    e.stack = r->u.watch_write.stack;
    e.sql_fp = r->u.watch_write.sql_fp;
    e.flags = r->u.watch_write.flags;
    e.t_ns = r->u.watch_write.t_ns;
    e.loc_line = r->u.watch_write.loc_line;
    e.syscall = r->u.watch_write.syscall;
    if (r->u.watch_write.flags & MW_WF_HAS_BYTES) {
        size_t n = r->u.watch_write.old_bytes.len;
        if (r->u.watch_write.new_bytes.len < n) n = r->u.watch_write.new_bytes.len;
        e.nbytes = n;
        e.old_bytes = malloc(n ? n : 1);
        e.new_bytes = malloc(n ? n : 1);
        if (!e.old_bytes || !e.new_bytes) {
            free(e.old_bytes);
            free(e.new_bytes);
            return OOM;
        }
        if (n) {
            memcpy(e.old_bytes, r->u.watch_write.old_bytes.ptr, n);
            memcpy(e.new_bytes, r->u.watch_write.new_bytes.ptr, n);
        }
    }
    if (r->u.watch_write.loc_file.len) e.loc_file = bytes_dup(r->u.watch_write.loc_file);
    if (r->u.watch_write.loc_func.len) e.loc_func = bytes_dup(r->u.watch_write.loc_func);
    const char *tn = thread_name_now(p, e.tid);
    if (tn) e.thread_name = strdup(tn);
    if (!MW_VEC_PUSH(p->watch_events, e)) {
        free(e.old_bytes);
        free(e.new_bytes);
        free(e.loc_file);
        free(e.loc_func);
        free(e.thread_name);
        return OOM;
    }
    return 0;
}

/* ---- header ---------------------------------------------------------------------------- */
static int header(mw_proc *p, const mw_record *r)
{
    p->have_header = true;
    p->version = r->u.header.version;
    p->pid = r->u.header.pid;
    p->ppid = r->u.header.ppid;
    p->ptr_size = r->u.header.ptr_size;
    p->page_size = r->u.header.page_size;
    p->start_realtime_ns = r->u.header.start_realtime_ns;
    p->start_mono_ns = r->u.header.start_mono_ns;
    p->flags = r->u.header.flags;
    free(p->exe);
    p->exe = bytes_dup(r->u.header.exe);
    if (!p->exe) return OOM;
    const uint8_t *a = r->u.header.argv.ptr;
    size_t n = r->u.header.argv.len;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && a[j]) j++;
        char *s = bytes_dup((mw_bytes){a + i, j - i});
        char **na = s ? realloc(p->argv, (p->argc + 1) * sizeof *na) : NULL;
        if (!na) {
            free(s);
            return OOM;
        }
        p->argv = na;
        p->argv[p->argc++] = s;
        i = j + 1;
    }
    return 0;
}

/* ---- one record ------------------------------------------------------------------------ */
static int apply(mw_proc *p, const mw_record *r, uint64_t seq, char *err, size_t errlen)
{
    mw_thread_info *thr;
    switch (r->type) {
    case MW_REC_HEADER:
        return header(p, r);
    case MW_REC_END:
        p->have_end = true;
        p->end_t_ns = r->u.end.t_ns;
        if (r->u.end.t_ns > p->t_ns) p->t_ns = r->u.end.t_ns;
        if (r->u.end.lost_events > p->lost_events) p->lost_events = r->u.end.lost_events;
        if (r->u.end.lost_bytes > p->lost_bytes) p->lost_bytes = r->u.end.lost_bytes;
        p->end_reason = r->u.end.reason;
        p->exit_status = r->u.end.exit_status;
        return 0;
    case MW_REC_TIME:
        if (r->u.time.t_ns > p->t_ns) p->t_ns = r->u.time.t_ns;
        maybe_tick(p);
        return 0;
    case MW_REC_THREAD_SWITCH:
    case MW_REC_THREAD_START:
    case MW_REC_THREAD_NAME:
    case MW_REC_THREAD_END: {
        uint64_t tidx = r->type == MW_REC_THREAD_SWITCH ? r->u.thread_switch.tidx
                        : r->type == MW_REC_THREAD_START ? r->u.thread_start.tidx
                        : r->type == MW_REC_THREAD_NAME  ? r->u.thread_name.tidx
                                                         : r->u.thread_end.tidx;
        if (tidx >= MAX_TIDX) {
            snprintf(err, errlen, "corrupt trace: thread index %llu out of range at byte offset %llu",
                     (unsigned long long)tidx, (unsigned long long)r->offset);
            return -1;
        }
        if (!(thr = thread_get(p, tidx))) return OOM;
        if (r->type == MW_REC_THREAD_SWITCH) {
            p->cur_tidx = tidx;
        } else if (r->type == MW_REC_THREAD_START) {
            /* A thread index is reused once its thread has ended: the new thread continues
             * that stream (block numbers go on), with no SQL context of its own yet. */
            if (thr->seen && thr->name && !remember_ended(p, thr)) return OOM;
            thr->seen = true;
            thr->ended = false;
            thr->sql_depth = 0;
            thr->tid = r->u.thread_start.tid;
            thr->parent_tidx = r->u.thread_start.parent_tidx;
            free(thr->name);
            if (!(thr->name = bytes_dup(r->u.thread_start.name))) return OOM;
        } else if (r->type == MW_REC_THREAD_NAME) {
            free(thr->name);
            if (!(thr->name = bytes_dup(r->u.thread_name.name))) return OOM;
        } else {
            thr->ended = true;
        }
        return 0;
    }
    case MW_REC_MODULE_LOAD: {
        mw_module m = {0};
        m.id = r->u.module_load.id;
        m.bias = r->u.module_load.bias;
        m.start = r->u.module_load.start;
        m.size = r->u.module_load.size;
        m.build_id_len = r->u.module_load.build_id.len;
        if (m.build_id_len > sizeof m.build_id) m.build_id_len = sizeof m.build_id;
        if (m.build_id_len) memcpy(m.build_id, r->u.module_load.build_id.ptr, m.build_id_len);
        if (!(m.path = bytes_dup(r->u.module_load.path))) return OOM;
        uint64_t *v = mw_hmap_put(&p->module_by_id, m.id, NULL);
        if (!v || !MW_VEC_PUSH(p->modules, m)) {
            free(m.path);
            return OOM;
        }
        *v = p->modules.n - 1;
        return 0;
    }
    case MW_REC_MODULE_UNLOAD: {
        uint64_t *v = mw_hmap_get(&p->module_by_id, r->u.module_unload.id);
        if (v) p->modules.v[*v].unloaded = true;
        return 0;
    }
    case MW_REC_STACK_NODE:
        return add_node(p, r->u.stack_node.id, r->u.stack_node.parent, r->u.stack_node.ip);
    case MW_REC_ALLOC:
        if (!(thr = thread_get(p, p->cur_tidx))) return OOM;
        thr->seq = seq;
        return alloc_block(p, thr, p->cur_tidx, seq, r->u.alloc.size, r->u.alloc.stack,
                           r->u.alloc.addr);
    case MW_REC_INHERIT:
        if (!(thr = thread_get(p, p->cur_tidx))) return OOM;
        thr->seq = seq;
        return inherit_block(p, thr, p->cur_tidx, seq, r);
    case MW_REC_FREE:
        if (!(thr = thread_get(p, p->cur_tidx))) return OOM;
        return free_block(p, r->u.free.ref, true);
    case MW_REC_REALLOC: {
        if (!(thr = thread_get(p, p->cur_tidx))) return OOM;
        p->reallocs++;
        int rc = free_block(p, r->u.realloc.old, false);
        if (rc) return rc;
        thr = mw_thread_at(p, p->cur_tidx); /* made above: the thread table's pages do not move */
        thr->seq = seq;
        return alloc_block(p, thr, p->cur_tidx, seq, r->u.realloc.size, r->u.realloc.stack,
                           r->u.realloc.addr);
    }
    case MW_REC_MMAP: {
        p->mmaps++;
        mw_mapping m = {r->u.mmap.addr, r->u.mmap.len, r->u.mmap.prot, r->u.mmap.flags,
                        r->u.mmap.offset, r->u.mmap.stack, r->u.mmap.fd, NULL, p->t_ns};
        if (r->u.mmap.path.len && !(m.path = bytes_dup(r->u.mmap.path))) return OOM;
        return add_mapping(p, m);
    }
    case MW_REC_MUNMAP:
        p->munmaps++;
        return unmap_range(p, r->u.munmap.addr, r->u.munmap.len);
    case MW_REC_MREMAP:
        return do_mremap(p, r);
    case MW_REC_RSS:
        if (r->u.rss.t_ns > p->t_ns) p->t_ns = r->u.rss.t_ns;
        p->last_rss = r->u.rss.rss;
        p->last_own = r->u.rss.own <= r->u.rss.rss ? r->u.rss.own : r->u.rss.rss;
        p->last_anon = r->u.rss.anon;
        p->last_file = r->u.rss.file;
        if (r->u.rss.rss - p->last_own > p->peak_prog_rss) p->peak_prog_rss = r->u.rss.rss - p->last_own;
        if (r->u.rss.rss > p->peak_rss) {
            p->peak_rss = r->u.rss.rss;
            p->own_at_peak_rss = p->last_own;
            p->peak_rss_t = r->u.rss.t_ns;
        }
        /* Every RSS sample becomes a point until the series is first decimated; then every
         * series_stride-th, so the points stay evenly spread over the whole run. */
        if (++p->rss_records % p->series_stride == 0) take_sample(p, p->t_ns);
        return 0;
    case MW_REC_SQL_QUERY: {
        uint32_t q = sql_for(p, r->u.sql_query.fp);
        if (q == UINT32_MAX) return OOM;
        p->sql.v[q].db = r->u.sql_query.db;
        free(p->sql.v[q].text);
        if (!(p->sql.v[q].text = bytes_dup(r->u.sql_query.text))) return OOM;
        return 0;
    }
    case MW_REC_SQL_BEGIN: {
        if (!(thr = thread_get(p, p->cur_tidx))) return OOM;
        uint32_t q = sql_for(p, r->u.sql_begin.fp);
        if (q == UINT32_MAX) return OOM;
        if (!(r->u.sql_begin.ctx & MW_SQL_CTX_RESUME)) p->sql.v[q].calls++; /* not a resume */
        if (thr->sql_depth == (int)(sizeof thr->sql_ctx / sizeof thr->sql_ctx[0])) {
            /* Deeper nesting than we track: the innermost context replaces the top. */
            thr->sql_depth--;
        }
        thr->sql_ctx[thr->sql_depth] = r->u.sql_begin.ctx;
        thr->sql_fp[thr->sql_depth] = r->u.sql_begin.fp;
        thr->sql_idx[thr->sql_depth] = q;
        thr->sql_depth++;
        return 0;
    }
    case MW_REC_SQL_END:
        if (!(thr = thread_get(p, p->cur_tidx))) return OOM;
        for (int d = thr->sql_depth - 1; d >= 0; d--) {
            if (thr->sql_ctx[d] == r->u.sql_end.ctx) {
                /* remove only this context: contexts may end out of order (adapters) */
                for (int k = d; k + 1 < thr->sql_depth; k++) {
                    thr->sql_ctx[k] = thr->sql_ctx[k + 1];
                    thr->sql_fp[k] = thr->sql_fp[k + 1];
                    thr->sql_idx[k] = thr->sql_idx[k + 1];
                }
                thr->sql_depth--;
                break;
            }
        }
        return 0;
    case MW_REC_SQL_RES_OPEN:
        return sql_res_open(p, r);
    case MW_REC_SQL_RES_CLOSE:
        sql_res_close(p, r);
        return 0;
    case MW_REC_WATCH_REG: {
        mw_watch_var *w = watch_var(p, r->u.watch_reg.id, true);
        if (!w) return OOM;
        w->addr = r->u.watch_reg.addr;
        w->len = r->u.watch_reg.len;
        w->flags = r->u.watch_reg.flags;
        free(w->name);
        if (!(w->name = bytes_dup(r->u.watch_reg.name))) return OOM;
        return 0;
    }
    case MW_REC_WATCH_UNREG: {
        mw_watch_var *w = watch_var(p, r->u.watch_unreg.id, false);
        if (w) {
            w->unregistered = true;
            w->unreg_reason = r->u.watch_unreg.reason;
        }
        return 0;
    }
    case MW_REC_WATCH_META: {
        mw_watch_var *w = watch_var(p, r->u.watch_meta.id, true);
        if (!w) return OOM;
        if (w->nmeta >= 64) return 0; /* bounded: later metadata updates are dropped */
        char **nm = realloc(w->meta, (w->nmeta + 1) * 2 * sizeof *nm);
        if (!nm) return OOM;
        w->meta = nm;
        nm[w->nmeta * 2] = bytes_dup(r->u.watch_meta.key);
        nm[w->nmeta * 2 + 1] = bytes_dup(r->u.watch_meta.value);
        w->nmeta++;
        if (!nm[w->nmeta * 2 - 2] || !nm[w->nmeta * 2 - 1]) return OOM;
        return 0;
    }
    case MW_REC_WATCH_WRITE:
        return watch_write(p, r);
    case MW_REC_MARK: {
        mw_mark m = {p->t_ns, p->cur_tidx, p->heap_live > 0 ? (uint64_t)p->heap_live : 0,
                     p->last_rss, bytes_dup(r->u.mark.label), 0, 0};
        if (!m.label || !MW_VEC_PUSH(p->marks, m)) {
            free(m.label);
            return OOM;
        }
        return 0;
    }
    case MW_REC_REACH: {
        mw_reach_iter it;
        mw_reach_entry e;
        int rc;
        mw_reach_iter_init(&it, r);
        while ((rc = mw_reach_next(&it, &e)) == 1) {
            mw_thread_info *owner = mw_thread_at(p, e.ref.tidx);
            mw_block *b = owner ? mw_btab_get(&owner->live, e.ref.seq) : NULL;
            if (b) {
                b->kind = e.kind < MW_KIND_COUNT ? (uint8_t)e.kind : 0;
                if (!b->addr) b->addr = e.addr; /* ALLOC had none (MW_HF_NO_ADDRESSES) */
            }
        }
        if (rc < 0) {
            snprintf(err, errlen, "corrupt trace: malformed REACH record at byte offset %llu",
                     (unsigned long long)r->offset);
            return -1;
        }
        return 0;
    }
    case MW_REC_LOST:
        p->lost_events += r->u.lost.events;
        p->lost_bytes += r->u.lost.bytes;
        return 0;
    case MW_REC_FORK:
        return MW_VEC_PUSH(p->forks, r->u.fork.child_pid) ? 0 : OOM;
    case MW_REC_EXEC: {
        char *s = bytes_dup(r->u.exec.path);
        if (!s || !MW_VEC_PUSH(p->execs, s)) {
            free(s);
            return OOM;
        }
        return 0;
    }
    case MW_REC_SPAWN: { /* kept only for a program that cannot be traced (exectarget.c) */
        mw_spawn sp = { r->u.spawn.child_pid, bytes_dup(r->u.spawn.path) };
        if (!sp.path) return OOM;
        if (!mw_spawn_may_be_untraced(sp.path)) {
            free(sp.path);
            return 0;
        }
        if (p->spawns.n >= MW_SPAWNS_KEPT) { /* memory bounded: the first ones, the rest counted */
            free(sp.path);
            p->spawns_unkept++;
            return 0;
        }
        if (!MW_VEC_PUSH(p->spawns, sp)) {
            free(sp.path);
            return OOM;
        }
        return 0;
    }
    case MW_REC_FATAL_SIGNAL:
        if (!p->fatal_signo) { /* the first: others are threads dying of it meanwhile (or of a
                                * signal numbered 0, in a corrupt trace: the next replaces it) */
            free(p->fatal_thread);
            p->fatal_thread = NULL;
            p->fatal_signo = r->u.fatal.signo;
            p->fatal_code = r->u.fatal.code;
            p->fatal_addr = r->u.fatal.addr;
            p->fatal_stack = r->u.fatal.stack;
            p->fatal_t_ns = r->u.fatal.t_ns;
            p->fatal_tidx = p->cur_tidx;
            const mw_thread_info *ft =
                mw_thread_at(p, p->cur_tidx);
            if (ft && ft->name && !(p->fatal_thread = strdup(ft->name))) return OOM;
        }
        if (r->u.fatal.t_ns > p->t_ns) p->t_ns = r->u.fatal.t_ns;
        return 0;
    case MW_REC_LIMITS:
        p->limit_cgroup = r->u.limits.cgroup_max;
        p->limit_rlimit_as = r->u.limits.rlimit_as;
        p->limit_phys = r->u.limits.phys_mem;
        return 0;
    default:
        p->unknown_records++;
        return 0;
    }
}

/* ---- finishing ------------------------------------------------------------------------- */
/* What matters first: definite leaks (the roots of lost structures), then indirect, then
 * blocks without a verdict, then still reachable; within a kind, by bytes. */
static int kind_rank(unsigned kind)
{
    switch (kind) {
    case MW_REACH_DEFINITE: return 0;
    case MW_REACH_INDIRECT: return 1;
    case MW_REACH_UNKNOWN: return 2;
    default: return 3;
    }
}

static int cmp_leak(const void *a, const void *b)
{
    const mw_leak *x = a, *y = b;
    int kx = kind_rank(x->kind), ky = kind_rank(y->kind);
    if (kx != ky) return kx - ky;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    if (x->site != y->site) return x->site < y->site ? -1 : 1;
    return (int)x->kind - (int)y->kind;
}

static bool push_unfreed(const mw_block *b, void *arg)
{
    mw_proc *p = arg;
    return MW_VEC_PUSH(p->unfreed, *b);
}

/* Leak groups by (site, kind) from the unfreed blocks; again after mw_link_inherited moved
 * inherited blocks to their parent's allocation sites (everything it sums is reset first). */
int mw_proc_group_leaks(mw_proc *p)
{
    p->leaks.n = 0;
    for (size_t i = 0; i < p->sites.n; i++) {
        memset(p->sites.v[i].leaked_bytes, 0, sizeof p->sites.v[i].leaked_bytes);
        memset(p->sites.v[i].leaked_blocks, 0, sizeof p->sites.v[i].leaked_blocks);
    }
    memset(p->unfreed_bytes, 0, sizeof p->unfreed_bytes);
    memset(p->unfreed_blocks, 0, sizeof p->unfreed_blocks);
    for (size_t i = 0; i < p->sql.n; i++) {
        p->sql.v[i].bytes_leaked = 0;
        p->sql.v[i].blocks_leaked = 0;
    }
    mw_hmap groups;
    mw_hmap_init(&groups);
    for (size_t i = 0; i < p->unfreed.n; i++) {
        mw_block *b = &p->unfreed.v[i];
        mw_site *s = &p->sites.v[b->site];
        s->leaked_bytes[b->kind] += b->size;
        s->leaked_blocks[b->kind]++;
        p->unfreed_bytes[b->kind] += b->size;
        p->unfreed_blocks[b->kind]++;
        if (b->sql) {
            p->sql.v[b->sql - 1].bytes_leaked += b->size;
            p->sql.v[b->sql - 1].blocks_leaked++;
        }
        bool added;
        uint64_t *g = mw_hmap_put(&groups, ((uint64_t)b->site << 2) | b->kind, &added);
        if (!g) {
            mw_hmap_free(&groups);
            return OOM;
        }
        if (added) {
            mw_leak l = {b->site, b->kind, false, 0, 0};
            if (!MW_VEC_PUSH(p->leaks, l)) {
                mw_hmap_free(&groups);
                return OOM;
            }
            *g = p->leaks.n - 1;
        }
        p->leaks.v[*g].bytes += b->size;
        p->leaks.v[*g].blocks++;
    }
    mw_hmap_free(&groups);
    if (p->leaks.n) qsort(p->leaks.v, p->leaks.n, sizeof *p->leaks.v, cmp_leak);
    memcpy(p->leak_bytes, p->unfreed_bytes, sizeof p->leak_bytes);
    memcpy(p->leak_blocks, p->unfreed_blocks, sizeof p->leak_blocks);
    return 0;
}

uint32_t mw_proc_site_for(mw_proc *p, uint64_t stack) { return site_for(p, stack); }
int mw_proc_add_node(mw_proc *p, uint64_t id, uint64_t parent, uint64_t ip)
{
    return add_node(p, id, parent, ip) ? -1 : 0;
}

static int by_size_then_addr(const void *a, const void *b)
{
    const mw_mapping *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int finish(mw_proc *p)
{
    take_sample(p, p->t_ns);
    p->unmatched_frees += p->pending_frees.count;
    /* Unfreed blocks, in id order (deterministic output): threads by index, each thread's
     * blocks by seq. The vector is made to measure and the tables are emptied into it page by
     * page: a program that leaked 30 million blocks peaked at 2.8 GB here, both copies and
     * the vector's doubling at once. */
    size_t unfreed = 0;
    for (size_t t = 0; t < p->threads.n; t++) {
        mw_thread_info *ti = mw_thread_at(p, t);
        if (ti) unfreed += ti->live.count;
    }
    if (unfreed && p->unfreed.n + unfreed > p->unfreed.cap) {
        size_t need = p->unfreed.n + unfreed;
        mw_block *v = need <= SIZE_MAX / sizeof *v ? realloc(p->unfreed.v, need * sizeof *v) : NULL;
        if (!v) return OOM;
        p->unfreed.v = v;
        p->unfreed.cap = need;
    }
    for (size_t t = 0; t < p->threads.n; t++) {
        mw_thread_info *ti = mw_thread_at(p, t);
        if (ti && !mw_btab_drain(&ti->live, push_unfreed, p)) return OOM;
    }
    if (mw_proc_group_leaks(p)) return OOM;
    /* Leaked SQL resources grouped by (type, stack). */
    mw_hmap rg;
    mw_hmap_init(&rg);
    for (size_t i = 0; i < p->sql_open.n; i++) {
        mw_sql_resource *o = &p->sql_open.v[i];
        bool added;
        uint64_t *g = mw_hmap_put(&rg, mw_hash64(o->stack) ^ o->type, &added);
        if (!g) {
            mw_hmap_free(&rg);
            return OOM;
        }
        if (!added && (p->sql_leaked.v[*g].type != o->type || p->sql_leaked.v[*g].stack != o->stack))
            added = true; /* hash collision: keep a separate group */
        if (added) {
            mw_sql_resource r = *o;
            r.count = 0;
            if (!MW_VEC_PUSH(p->sql_leaked, r)) {
                mw_hmap_free(&rg);
                return OOM;
            }
            *g = p->sql_leaked.n - 1;
        }
        p->sql_leaked.v[*g].count++;
    }
    mw_hmap_free(&rg);
    /* The mappings left at exit, largest first (then by address): the reports list the first
     * ones, which in ingest order were whichever came; the index follows them. */
    if (p->mappings.n > 1) qsort(p->mappings.v, p->mappings.n, sizeof *p->mappings.v, by_size_then_addr);
    for (size_t i = 0; i < p->mappings.n; i++)
        if (mw_omap_put(&p->mapping_at, p->mappings.v[i].addr, i)) return OOM; /* replaces */
    return 0;
}

int mw_ingest_reader(mw_proc *p, mw_reader *r, char *err, size_t errlen)
{
    mw_record rec;
    uint64_t seq = 0;
    int rc;
    err[0] = '\0';
    while ((rc = mw_reader_next(r, &rec, &seq)) == MW_OK) {
        p->records++;
        if (p->have_end) {
            /* Nothing after the end record counts, but for an END before an exec: records
             * after it mean the exec failed and the process went on (a final END follows, or
             * the trace is cut short). */
            if (p->end_reason != MW_END_EXEC) continue;
            p->have_end = false;
        }
        int a = apply(p, &rec, seq, err, errlen);
        if (a == OOM) {
            snprintf(err, errlen, "out of memory while ingesting (at byte offset %llu)",
                     (unsigned long long)rec.offset);
            return -1;
        }
        if (a == TOO_BIG) {
            snprintf(err, errlen,
                     "corrupt trace: a block, or the live blocks together, larger than an address space at byte "
                     "offset %llu",
                     (unsigned long long)rec.offset);
            return -1;
        }
        if (a) return -1;
    }
    switch (rc) {
    case MW_EOF:
        if (!p->have_end) p->truncated = true;
        break;
    case MW_TRUNCATED:
        p->truncated = true;
        break;
    case MW_BAD_VERSION:
        /* The reader's message names both versions. */
        snprintf(err, errlen, "%s: use a newer memwatch-analyze", mw_reader_error(r));
        return -1;
    default:
        snprintf(err, errlen, "%s", mw_reader_error(r));
        return -1;
    }
    /* No record at all (a process killed before its first flush): reported as an empty,
     * truncated trace rather than failing the analysis of its siblings. */
    if (!p->have_header && p->records == 0) p->truncated = true;
    if (finish(p)) {
        snprintf(err, errlen, "out of memory while finishing the model");
        return -1;
    }
    return 0;
}

int mw_ingest_file(mw_proc *p, const char *path, char *err, size_t errlen)
{
    char rerr[256];
    mw_reader *r = mw_reader_open(path, rerr, sizeof rerr);
    if (!r) {
        snprintf(err, errlen, "%s", rerr);
        return -1;
    }
    /* asked before reading: a process that ends while its trace is read may or may not leave
     * its END record in what is read, but one whose lock was free had ended before */
    bool running = mw_tracelock_held(mw_reader_fd(r));
    int rc = mw_ingest_reader(p, r, err, errlen);
    mw_reader_close(r);
    if (rc == 0 && p->truncated && running) p->still_running = true;
    return rc;
}
