/*
 * watchsum.c — decodes the watch records of a trace for the watch integration tests
 * (see watchsum.h). Thread names and stacks are resolved after the whole trace is read, since
 * records of different threads' rings interleave in any order.
 */
#include "watchsum.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leaksum.h"
#include "mw_format.h"

typedef struct node { uint64_t id, parent, ip; } node;
typedef struct tinfo { uint64_t tidx, tid; char name[64]; } tinfo;

static int node_cmp(const void *a, const void *b)
{
    uint64_t x = ((const node *)a)->id, y = ((const node *)b)->id;
    return x < y ? -1 : x > y;
}

/* Events by time (ties: record order), since rings of different threads interleave. */
static int ev_cmp(const void *a, const void *b)
{
    const mw_ws_event *x = a, *y = b;
    if (x->t_ns != y->t_ns) return x->t_ns < y->t_ns ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void copy_str(char *dst, size_t cap, mw_bytes b)
{
    size_t n = b.len < cap - 1 ? b.len : cap - 1;
    memcpy(dst, b.ptr, n);
    dst[n] = 0;
}

#define GROW(arr, n, cap)                                                   \
    do {                                                                    \
        if ((n) == (cap)) {                                                 \
            (cap) = (cap) ? (cap) * 2 : 64;                                 \
            void *np_ = realloc((arr), (cap) * sizeof *(arr));              \
            if (!np_) goto oom;                                             \
            (arr) = np_;                                                    \
        }                                                                   \
    } while (0)

int mw_ws_load(const char *path, mw_ws_trace *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    mw_reader *r = mw_reader_open(path, err, errlen);
    if (!r) return -1;
    node *nodes = NULL;
    size_t nn = 0, ncap = 0, evcap = 0, wcap = 0, tcap = 0, nt = 0;
    tinfo *th = NULL;
    mw_record rec;
    int st;
    while ((st = mw_reader_next(r, &rec, NULL)) == MW_OK) {
        switch (rec.type) {
        case MW_REC_STACK_NODE:
            GROW(nodes, nn, ncap);
            nodes[nn++] = (node){ rec.u.stack_node.id, rec.u.stack_node.parent, rec.u.stack_node.ip };
            break;
        case MW_REC_THREAD_START:
            GROW(th, nt, tcap);
            th[nt].tidx = rec.u.thread_start.tidx;
            th[nt].tid = rec.u.thread_start.tid;
            copy_str(th[nt].name, sizeof th[nt].name, rec.u.thread_start.name);
            nt++;
            break;
        case MW_REC_THREAD_NAME:
            for (size_t i = nt; i-- > 0;)
                if (th[i].tidx == rec.u.thread_name.tidx) {
                    copy_str(th[i].name, sizeof th[i].name, rec.u.thread_name.name);
                    break;
                }
            break;
        case MW_REC_WATCH_REG:
            GROW(out->w, out->nw, wcap);
            memset(&out->w[out->nw], 0, sizeof out->w[0]);
            out->w[out->nw].id = rec.u.watch_reg.id;
            out->w[out->nw].addr = rec.u.watch_reg.addr;
            out->w[out->nw].len = rec.u.watch_reg.len;
            out->w[out->nw].flags = rec.u.watch_reg.flags;
            copy_str(out->w[out->nw].name, sizeof out->w[0].name, rec.u.watch_reg.name);
            out->nw++;
            break;
        case MW_REC_WATCH_UNREG:
            for (size_t i = 0; i < out->nw; i++)
                if (out->w[i].id == rec.u.watch_unreg.id) {
                    out->w[i].ended = true;
                    out->w[i].end_reason = rec.u.watch_unreg.reason;
                }
            break;
        case MW_REC_WATCH_WRITE: {
            GROW(out->ev, out->nev, evcap);
            mw_ws_event *e = &out->ev[out->nev++];
            memset(e, 0, sizeof *e);
            e->seq = out->nev - 1;
            e->id = rec.u.watch_write.id;
            e->offset = rec.u.watch_write.offset;
            e->len = rec.u.watch_write.len;
            e->tid = rec.u.watch_write.tid;
            e->pc = rec.u.watch_write.pc;
            e->stack = rec.u.watch_write.stack;
            e->sql_fp = rec.u.watch_write.sql_fp;
            e->flags = rec.u.watch_write.flags;
            e->t_ns = rec.u.watch_write.t_ns;
            e->loc_line = rec.u.watch_write.loc_line;
            e->syscall = rec.u.watch_write.syscall;
            size_t nb = rec.u.watch_write.old_bytes.len;
            if (nb > MW_WS_MAX_BYTES) nb = MW_WS_MAX_BYTES;
            e->nbytes = nb;
            if (nb) {
                memcpy(e->old_b, rec.u.watch_write.old_bytes.ptr, nb);
                memcpy(e->new_b, rec.u.watch_write.new_bytes.ptr,
                       nb < rec.u.watch_write.new_bytes.len ? nb : rec.u.watch_write.new_bytes.len);
            }
            copy_str(e->loc_file, sizeof e->loc_file, rec.u.watch_write.loc_file);
            copy_str(e->loc_func, sizeof e->loc_func, rec.u.watch_write.loc_func);
            break;
        }
        case MW_REC_MARK: out->marks++; break;
        case MW_REC_LOST: out->lost_events += rec.u.lost.events; break;
        case MW_REC_END:
            out->ended = true;
            out->lost_events += rec.u.end.lost_events;
            break;
        default: break;
        }
    }
    if (st != MW_EOF) {
        snprintf(err, errlen, "%s: %s", path, mw_reader_error(r));
        mw_reader_close(r);
        free(nodes);
        free(th);
        return -1;
    }
    mw_reader_close(r);
    qsort(nodes, nn, sizeof *nodes, node_cmp);
    qsort(out->ev, out->nev, sizeof *out->ev, ev_cmp);
    for (size_t i = 0; i < out->nev; i++) {
        mw_ws_event *e = &out->ev[i];
        for (size_t j = 0; j < out->nw; j++)
            if (out->w[j].id == e->id) snprintf(e->var, sizeof e->var, "%s", out->w[j].name);
        for (size_t j = nt; j-- > 0;)
            if (th[j].tid == e->tid) { snprintf(e->thread, sizeof e->thread, "%s", th[j].name); break; }
        uint64_t id = e->stack;
        while (id && e->nframes < MW_WS_MAX_FRAMES) {
            node key = { .id = id };
            node *n = bsearch(&key, nodes, nn, sizeof *nodes, node_cmp);
            if (!n) break;
            e->frames[e->nframes++] = n->ip;
            if (n->parent == id) break;
            id = n->parent;
        }
    }
    free(nodes);
    free(th);
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    mw_reader_close(r);
    free(nodes);
    free(th);
    mw_ws_free(out);
    return -1;
}

void mw_ws_free(mw_ws_trace *t)
{
    free(t->ev);
    free(t->w);
    memset(t, 0, sizeof *t);
}

int mw_ws_find_trace(const char *dir, const char *part, char *buf, size_t len)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    char best[256] = "";
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 4, ".zst") != 0) continue;
        if (part && !strstr(de->d_name, part)) continue;
        if (!best[0] || strcmp(de->d_name, best) < 0) snprintf(best, sizeof best, "%s", de->d_name);
    }
    closedir(d);
    if (!best[0]) return -1;
    snprintf(buf, len, "%s/%s", dir, best);
    return 0;
}

size_t mw_ws_count(const mw_ws_trace *t, const char *var)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nev; i++)
        if (!var || strcmp(t->ev[i].var, var) == 0) n++;
    return n;
}

const char *mw_ws_build(void)
{
    static char buf[4096];
    if (!buf[0]) {
        const char *b = getenv("MEMWATCH_BUILD");
        if (!realpath(b && *b ? b : "build", buf)) snprintf(buf, sizeof buf, "%s", b ? b : "build");
    }
    return buf;
}

int mw_ws_run(const char *dir, const char *tag, bool preload, const char *const *extra_env,
              const char *const *prefix, const char *victim, const char *const *args,
              int timeout_s)
{
    char *argv[64], *envp[32];
    size_t na = 0, ne = 0;
    static char victim_path[8192], out_env[8192], pre_env[8192], outp[8192], errp[8192];
    for (size_t i = 0; prefix && prefix[i] && na < 40; i++) argv[na++] = (char *)prefix[i];
    snprintf(victim_path, sizeof victim_path, "%s/tests/victims/%s", mw_ws_build(), victim);
    argv[na++] = victim_path;
    for (size_t i = 0; args && args[i] && na < 62; i++) argv[na++] = (char *)args[i];
    argv[na] = NULL;
    envp[ne++] = "PATH=/usr/local/bin:/usr/bin:/bin";
    snprintf(out_env, sizeof out_env, "MEMWATCH_OUT=%s/%s.%%p.zst", dir, tag);
    envp[ne++] = out_env;
    if (preload) {
        snprintf(pre_env, sizeof pre_env, "LD_PRELOAD=%s/libmemwatch_preload.so", mw_ws_build());
        envp[ne++] = pre_env;
    }
    for (size_t i = 0; extra_env && extra_env[i] && ne < 30; i++) envp[ne++] = (char *)extra_env[i];
    envp[ne] = NULL;
    snprintf(outp, sizeof outp, "%s/%s.out", dir, tag);
    snprintf(errp, sizeof errp, "%s/%s.err", dir, tag);
    return mw_run(argv, envp, dir, outp, errp, timeout_s);
}

char *mw_ws_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    if (f) {
        size_t r;
        while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
            n += r;
            if (n + 1 == cap) {
                char *nb = realloc(buf, cap * 2);
                if (!nb) break;
                buf = nb;
                cap *= 2;
            }
        }
        fclose(f);
    }
    buf[n] = 0;
    return buf;
}
