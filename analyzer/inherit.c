/*
 * inherit.c — a fork child's inherited blocks linked to their allocations in its parent's
 * trace.
 *
 * A child's INHERIT records name each block it got at fork by its id in the parent's trace
 * (TRACE-FORMAT.md). When the parent's trace is analyzed in the same run, the blocks the
 * child left unfreed get the stack the parent allocated them with: the parent's trace is
 * read once more for just those blocks (the parent may have freed its copies long before its
 * own end, so its final model does not have them), the stack's frames are copied into the
 * child's stack tree under ids of their own (the child has its parent's modules at fork, so
 * the addresses symbolize the same way in both), and the child's leak groups are made again.
 * A block the parent had inherited itself is followed to the grandparent, and so on up the
 * traces given. What is not found keeps the inherited site (MW_STACK_INHERITED).
 */
#include <stdlib.h>

#include "inherit.h"
#include "ingest.h"
#include "mw_format.h"

#define OOM (-1)
/* Imported stack nodes are numbered from here in the child (model.h): far from the shim's ids
 * (1, 2, 3 ...), below MW_STACK_INHERITED. */
#define IMPORT_BASE MW_STACK_IMPORTED_BASE
#define IMPORT_FRAMES 256u

typedef struct link {
    long parent;        /* index of the parent's trace in procs, -1: not given */
    mw_hmap want;       /* keys of this process's blocks asked for -> 0 not looked up, 1 looked up */
    mw_hmap stack_of;   /* key -> the stack this process allocated it with */
    mw_hmap from;       /* key of a block this process inherited -> its key in the parent */
    size_t fresh;       /* keys asked since the last read of this trace */
} link;

/* One FORK record of a trace: the process procs[idx] (pid, started at start) forked child. */
typedef struct fork_ent {
    uint64_t pid, child, start;
    size_t idx;
} fork_ent;

static int fork_cmp(const void *a, const void *b)
{
    const fork_ent *x = a, *y = b;
    if (x->pid != y->pid) return x->pid < y->pid ? -1 : 1;
    if (x->child != y->child) return x->child < y->child ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Every trace's FORK records, sorted by (forker's pid, child's pid, forker's start): a
 * child's parent is then a binary search, not a pass over every trace's forks (a shell that
 * forked 20 000 traced children made that 20 000 x 20 000). NULL with *nf 0 when there are
 * none; NULL with *nf 1 when memory ran out. */
static fork_ent *forks_sorted(mw_proc **procs, size_t n, size_t *nf)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += procs[i]->forks.n;
    *nf = 0;
    if (!total) return NULL;
    fork_ent *f = malloc(total * sizeof *f);
    if (!f) {
        *nf = 1;
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < procs[i]->forks.n; j++)
            f[k++] = (fork_ent){ procs[i]->pid, procs[i]->forks.v[j], procs[i]->start_realtime_ns, i };
    qsort(f, total, sizeof *f, fork_cmp);
    *nf = total;
    return f;
}

/* Index of the trace that forked procs[c] (mw_fork_parents in inherit.h; several traces have
 * the parent's pid when a pid is reused or the parent exec'd), -1 when none was given. */
static long parent_of(mw_proc **procs, const fork_ent *f, size_t nf, size_t c)
{
    const mw_proc *ch = procs[c];
    /* the first entry past (ppid, pid, start): the candidates are just before it */
    size_t lo = 0, hi = nf;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const fork_ent *e = &f[mid];
        bool le = e->pid != ch->ppid    ? e->pid < ch->ppid
                  : e->child != ch->pid ? e->child < ch->pid
                                        : e->start <= ch->start_realtime_ns;
        if (le) lo = mid + 1;
        else hi = mid;
    }
    long best = -1;
    for (size_t k = lo; k-- > 0;) {
        const fork_ent *e = &f[k];
        if (e->pid != ch->ppid || e->child != ch->pid) break;
        if (best >= 0 && e->start != f[best].start) break;
        if (e->idx != c) best = (long)k; /* walks back to the first given of that start */
    }
    return best < 0 ? -1 : (long)f[best].idx;
}

int mw_fork_parents(mw_proc **procs, size_t n, long *parent)
{
    size_t nf;
    fork_ent *forks = forks_sorted(procs, n, &nf);
    if (!forks && nf) return OOM;
    for (size_t i = 0; i < n; i++) parent[i] = forks ? parent_of(procs, forks, nf, i) : -1;
    free(forks);
    return 0;
}

static int ask(link *l, uint64_t key)
{
    bool added;
    uint64_t *v = mw_hmap_put(&l->want, key, &added);
    if (!v) return OOM;
    if (added) l->fresh++;
    return 0;
}

/* Reads p's trace for the blocks asked for and not looked up yet. A trace that cannot be
 * read now (removed since) answers nothing. */
static int look_up(const mw_proc *p, link *l)
{
    l->fresh = 0;
    char err[256];
    mw_reader *r = p->trace_path ? mw_reader_open(p->trace_path, err, sizeof err) : NULL;
    if (!r) return 0;
    mw_record rec;
    uint64_t seq = 0, tidx = 0;
    int rc = 0;
    while (rc == 0 && mw_reader_next(r, &rec, &seq) == MW_OK) {
        uint64_t stack;
        switch (rec.type) {
        case MW_REC_THREAD_SWITCH: tidx = rec.u.thread_switch.tidx; continue;
        case MW_REC_ALLOC: stack = rec.u.alloc.stack; break;
        case MW_REC_REALLOC: stack = rec.u.realloc.stack; break;
        case MW_REC_INHERIT: stack = 0; break;
        default: continue;
        }
        uint64_t key = mw_block_key(tidx, seq), *w = mw_hmap_get(&l->want, key);
        if (!w || *w) continue;
        *w = 1;
        uint64_t *v = mw_hmap_put(rec.type == MW_REC_INHERIT ? &l->from : &l->stack_of, key, NULL);
        if (!v) rc = OOM;
        else *v = rec.type == MW_REC_INHERIT ? mw_block_key(rec.u.inherit.parent.tidx, rec.u.inherit.parent.seq) : stack;
    }
    mw_reader_close(r);
    return rc;
}

/* The stack of ancestor a's block `key` as a stack of the child c (imported once per ancestor
 * stack: *imported maps them). 0 when not found. */
static uint64_t stack_in_child(mw_proc **procs, link *L, mw_proc *c, mw_hmap *imported, long a,
                               uint64_t key, size_t n)
{
    for (size_t depth = 0; a >= 0 && depth < n; depth++) {
        const uint64_t *st = mw_hmap_get(&L[a].stack_of, key);
        if (st) {
            uint64_t ips[IMPORT_FRAMES];
            size_t k = mw_proc_stack_ips(procs[a], *st, ips, IMPORT_FRAMES);
            if (!k) return 0;
            bool added;
            uint64_t *leaf = mw_hmap_put(imported, mw_hash64(*st) ^ (uint64_t)a, &added);
            if (!leaf) return 0;
            if (!added) return *leaf;
            /* the frames, outermost first, each the child of the one before */
            uint64_t parent = 0, id = 0;
            for (size_t i = k; i-- > 0;) {
                id = IMPORT_BASE + c->nodes.n;
                if (mw_proc_add_node(c, id, parent, ips[i])) return 0;
                parent = id;
            }
            *leaf = id;
            return id;
        }
        const uint64_t *up = mw_hmap_get(&L[a].from, key);
        if (!up) return 0;
        key = *up;
        a = L[a].parent;
    }
    return 0;
}

/* Moves c's unfreed inherited blocks whose allocation was found to their imported sites. */
static int relink(mw_proc **procs, link *L, size_t n, size_t ci)
{
    mw_proc *c = procs[ci];
    int64_t old = mw_proc_site_index(c, MW_STACK_INHERITED);
    if (old < 0) return 0;
    mw_hmap imported;
    mw_hmap_init(&imported);
    bool moved = false;
    for (size_t i = 0; i < c->unfreed.n; i++) {
        mw_block *b = &c->unfreed.v[i];
        if (b->site != (uint32_t)old) continue;
        const uint64_t *pk = mw_hmap_get(&c->inherit_parent, mw_block_key(b->tidx, b->seq));
        uint64_t stack = pk ? stack_in_child(procs, L, c, &imported, L[ci].parent, *pk, n) : 0;
        if (!stack) continue;
        uint32_t si = mw_proc_site_for(c, stack);
        if (si == UINT32_MAX) {
            mw_hmap_free(&imported);
            return OOM;
        }
        mw_site *from = &c->sites.v[old], *to = &c->sites.v[si];
        from->live -= (int64_t)b->size;
        from->live_blocks--;
        to->live += (int64_t)b->size;
        to->live_blocks++;
        if (to->live > 0 && (uint64_t)to->live > to->peak_live) to->peak_live = (uint64_t)to->live;
        b->site = si;
        moved = true;
    }
    mw_hmap_free(&imported);
    return moved && mw_proc_group_leaks(c) ? OOM : 0;
}

int mw_link_inherited(mw_proc **procs, size_t n)
{
    bool any = false;
    for (size_t i = 0; i < n && !any; i++) any = procs[i]->inherited_blocks > 0;
    if (!any) return 0;
    link *L = calloc(n, sizeof *L);
    if (!L) return OOM;
    int rc = 0;
    long *parent = malloc(n * sizeof *parent);
    if (!parent || mw_fork_parents(procs, n, parent)) {
        free(parent);
        free(L);
        return OOM;
    }
    for (size_t i = 0; i < n; i++) L[i].parent = parent[i];
    free(parent);
    /* the first questions: each child's unfreed inherited blocks, to its parent */
    for (size_t i = 0; i < n && !rc; i++) {
        mw_proc *c = procs[i];
        int64_t si = mw_proc_site_index(c, MW_STACK_INHERITED);
        if (si < 0 || L[i].parent < 0) continue;
        for (size_t k = 0; k < c->unfreed.n && !rc; k++) {
            const mw_block *b = &c->unfreed.v[k];
            if (b->site != (uint32_t)si) continue;
            const uint64_t *pk = mw_hmap_get(&c->inherit_parent, mw_block_key(b->tidx, b->seq));
            if (pk) rc = ask(&L[L[i].parent], *pk);
        }
    }
    /* rounds: each trace with new questions is read once; the blocks it had inherited
     * itself become questions to its own parent */
    for (size_t round = 0; round <= n && !rc; round++) {
        bool read = false;
        for (size_t i = 0; i < n && !rc; i++) {
            if (!L[i].fresh) continue;
            read = true;
            size_t before = L[i].from.count;
            rc = look_up(procs[i], &L[i]);
            if (rc || L[i].from.count == before || L[i].parent < 0) continue;
            uint64_t key, up;
            for (size_t it = 0; !rc && mw_hmap_next(&L[i].from, &it, &key, &up);) rc = ask(&L[L[i].parent], up);
        }
        if (!read) break;
    }
    for (size_t i = 0; i < n && !rc; i++)
        if (procs[i]->inherited_blocks && L[i].parent >= 0) rc = relink(procs, L, n, i);
    for (size_t i = 0; i < n; i++) {
        mw_hmap_free(&L[i].want);
        mw_hmap_free(&L[i].stack_of);
        mw_hmap_free(&L[i].from);
    }
    free(L);
    return rc;
}
