/*
 * trace_gen.c — bytes to well-formed, hostile traces, and the analyzer run on them (see
 * trace_gen.h). Every choice reads the next input byte (0 once the input is used up), so a
 * fuzzer's mutations move fields and records one at a time; the encoder keeps each record
 * decodable.
 */
#include "trace_gen.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "analyzer.h"
#include "mw_tracefile.h"

typedef struct gen {
    const uint8_t *p;
    size_t n, i;
} gen;

static unsigned g8(gen *g) { return g->i < g->n ? g->p[g->i++] : 0; }
static bool more(const gen *g) { return g->i < g->n; }
static unsigned gsmall(gen *g, unsigned max) { return g8(g) % max; }

static uint64_t g64(gen *g)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v = v << 8 | g8(g);
    return v;
}

/* A value from the edges of every field's range, or any 64 bits. */
static uint64_t gval(gen *g)
{
    static const uint64_t edge[] = {0, 1, 2, 7, 8, 15, 16, 63, 64, 127, 128, 255, 256, 4095, 4096,
                                    65535, 65536, 1u << 20, 1ull << 31, 1ull << 32, UINT32_MAX,
                                    INT64_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX - 1, UINT64_MAX};
    unsigned c = g8(g);
    if (c < 128) return c;
    if (c < 128 + sizeof edge / sizeof edge[0]) return edge[c - 128];
    if (c < 224) return (uint64_t)g8(g) << 8 | g8(g);
    return g64(g);
}

/* A block's size: small mostly, up to 64 KiB often, any value now and then. */
static uint64_t gsize(gen *g)
{
    unsigned c = g8(g);
    return c < 200 ? g8(g) : c < 250 ? (uint64_t)g8(g) << 8 | g8(g) : gval(g);
}

/* An address: near a few bases (so blocks, modules and stack ips meet), or any value. */
static uint64_t gaddr(gen *g)
{
    static const uint64_t base[] = {0x400000, 0x555555554000, 0x7f0000000000, 0x7ffff7a00000, 0x10000};
    unsigned c = g8(g);
    if (c < 200) return base[c % 5] + ((uint64_t)g8(g) << 12 | (uint64_t)g8(g) << 4);
    return gval(g);
}

/* A string of up to max bytes (any bytes: NUL, control characters, invalid UTF-8, '<&"'). */
static size_t gstr(gen *g, char *buf, size_t max)
{
    static const char *const words[] = {"main", "<script>alert(1)</script>", "a&b\"c'd", "\x1b[31mred",
                                        "\xff\xfe\xc3", "SELECT * FROM t WHERE x = ?", "%s%n%p",
                                        "line\nbreak", "", "/usr/lib/x86_64-linux-gnu/libc.so.6"};
    unsigned c = g8(g);
    if (c < 96) {
        const char *w = words[c % 10];
        size_t l = strlen(w);
        memcpy(buf, w, l);
        return l;
    }
    size_t l = c < 240 ? g8(g) % 24 : (size_t)gval(g) % (max + 1);
    if (l > max) l = max;
    for (size_t k = 0; k < l; k++) buf[k] = (char)g8(g);
    return l;
}

/* A path the analyzer may open: real objects (symbolized), missing ones, not files at all. */
static size_t gpath(gen *g, char *buf, size_t max)
{
    static const char *const paths[] = {"/proc/self/exe", "/lib/x86_64-linux-gnu/libc.so.6",
                                        "/lib/x86_64-linux-gnu/libzstd.so.1", "/nonexistent/lib.so",
                                        "relative/lib.so", "/dev/null", "/dev/zero", "/tmp", "/bin/sh",
                                        "[vdso]", "/proc/self/maps", "/etc/passwd"};
    unsigned c = g8(g);
    if (c < 200) {
        const char *p = paths[c % 12];
        size_t l = strlen(p);
        memcpy(buf, p, l);
        return l;
    }
    return gstr(g, buf, max);
}

#define MAX_REFS 2048u
typedef struct trace_state {
    mw_block_ref refs[MAX_REFS];
    size_t nrefs;
    uint64_t node_ids[256];
    size_t nnodes;
    bool had_alloc[300]; /* per thread index: a full ALLOC written (ALLOC_SAME repeats it) */
    mw_node_last nl[300]; /* per thread index: STACK_NODE_D's base */
    uint64_t pid, ppid;
} trace_state;

static mw_block_ref pick_ref(gen *g, const trace_state *t)
{
    unsigned c = g8(g);
    if (t->nrefs && c < 224) return t->refs[(c | (unsigned)g8(g) << 8) % t->nrefs];
    return (mw_block_ref){gsmall(g, 4), gval(g)};
}

static uint64_t pick_node(gen *g, const trace_state *t)
{
    unsigned c = g8(g);
    if (t->nnodes && c < 224) return t->node_ids[c % t->nnodes];
    return c < 240 ? 0 : gval(g);
}

static void keep_ref(trace_state *t, mw_block_ref r)
{
    if (t->nrefs < MAX_REFS) t->refs[t->nrefs++] = r;
    else t->refs[r.seq % MAX_REFS] = r;
}

static void reach(gen *g, mw_tracebuf *b, const trace_state *t)
{
    size_t n = 1 + g8(g) % 64;
    mw_reach_entry e[64];
    for (size_t k = 0; k < n; k++)
        e[k] = (mw_reach_entry){pick_ref(g, t), gsmall(g, 5), g8(g) < 200 ? gaddr(g) : 0};
    unsigned how = g8(g);
    size_t done = 0;
    if (how & 1) {
        for (size_t k = 0; k < n; k += done) MW_TB_ADD(b, mw_enc_reach_c, e + k, n - k, &done);
    } else {
        mw_tb_reach(b, e, n, how >> 4);
    }
}

static void watch_write(gen *g, mw_tracebuf *b, const trace_state *t)
{
    uint8_t old[64], neu[64];
    char file[64], func[64];
    mw_watch_write_args a = {0};
    a.id = gsmall(g, 6);
    a.offset = gval(g);
    a.len = gval(g);
    a.tid = gval(g);
    a.pc = gaddr(g);
    a.stack = pick_node(g, t);
    a.sql_fp = g8(g) < 128 ? 0 : gval(g);
    a.flags = g8(g) & 0x1f;
    a.t_ns = gval(g);
    a.syscall = g8(g) < 200 ? -1 : (int64_t)gval(g);
    if (a.flags & MW_WF_HAS_BYTES) {
        a.bytes_len = g8(g) % sizeof old;
        for (size_t k = 0; k < a.bytes_len; k++) old[k] = (uint8_t)g8(g), neu[k] = (uint8_t)g8(g);
        a.old_bytes = old;
        a.new_bytes = neu;
    }
    a.loc_file_len = g8(g) < 128 ? 0 : gstr(g, file, sizeof file);
    a.loc_file = file;
    a.loc_line = gval(g);
    a.loc_func_len = g8(g) < 128 ? 0 : gstr(g, func, sizeof func);
    a.loc_func = func;
    MW_TB_ADD(b, mw_enc_watch_write, &a);
}

/* One record (or a REPEAT of one) chosen by the next byte. */
static void one_op(gen *g, mw_tracebuf *b, trace_state *t, const trace_state *parent, uint64_t hflags,
                   uint64_t *last_tid, mw_rss_last *rl, uint64_t *sql_base,
                   mw_inherit_last *il, uint64_t *next_node)
{
    char s[512], s2[128];
    size_t l, l2;
    unsigned op = gsmall(g, 40);
    switch (op) {
    case 0:
        mw_tb_switch(b, g8(g) < 250 ? gsmall(g, 6) : gsmall(g, 300));
        break;
    case 1:
        l = gstr(g, s, 32);
        MW_TB_ADD(b, mw_enc_thread_start, gsmall(g, 8), gval(g), gsmall(g, 9), s, l);
        break;
    case 2: {
        l = gstr(g, s, 32);
        MW_TB_ADD(b, mw_enc_thread_start_d, gsmall(g, 8), gval(g), gsmall(g, 9), (const uint8_t *)s, l, last_tid);
        break;
    }
    case 3:
        l = gstr(g, s, 32);
        MW_TB_ADD(b, mw_enc_thread_name, gsmall(g, 8), s, l);
        break;
    case 4:
        MW_TB_ADD(b, mw_enc_thread_end, gsmall(g, 8));
        break;
    case 5: {
        uint8_t bid[40];
        size_t bl = g8(g) % sizeof bid;
        for (size_t k = 0; k < bl; k++) bid[k] = (uint8_t)g8(g);
        l = gpath(g, s, 256);
        uint64_t start = gaddr(g);
        MW_TB_ADD(b, mw_enc_module_load, gsmall(g, 10), g8(g) < 128 ? start : gaddr(g), start,
                  g8(g) < 200 ? (uint64_t)(1 + g8(g)) << 12 : gval(g), bid, bl, s, l);
        break;
    }
    case 6:
        MW_TB_ADD(b, mw_enc_module_unload, gsmall(g, 10));
        break;
    case 7:
    case 8:
    case 9: {
        uint64_t id = g8(g) < 230 ? (*next_node)++ : gval(g);
        uint64_t parent = pick_node(g, t);
        if (g8(g) > 250) parent = id; /* its own parent */
        uint64_t ip = gaddr(g);
        if (op == 9 && parent <= id) MW_TB_ADD(b, mw_enc_stack_node_d, id, parent, ip, &t->nl[b->cur_tidx]); /* its form */
        else MW_TB_ADD(b, mw_enc_stack_node, id, parent, ip);
        if (t->nnodes < 256) t->node_ids[t->nnodes++] = id;
        else t->node_ids[id % 256] = id;
        break;
    }
    case 10:
    case 11:
    case 12: {
        uint64_t kind = g8(g) < 240 ? gsmall(g, MW_AK_COUNT) : gval(g);
        uint64_t size = gsize(g);
        keep_ref(t, mw_tb_alloc(b, kind, size, pick_node(g, t), gaddr(g)));
        t->had_alloc[b->cur_tidx] = true;
        break;
    }
    case 13:
        /* in a trace without addresses, the thread's last full ALLOC gives kind and stack */
        if ((hflags & MW_HF_NO_ADDRESSES) && t->had_alloc[b->cur_tidx]) {
            MW_TB_ADD(b, mw_enc_alloc_same, gsize(g));
            keep_ref(t, (mw_block_ref){b->cur_tidx, ++b->seq[b->cur_tidx]});
        }
        break;
    case 14:
    case 15:
    case 16:
        mw_tb_free_block(b, pick_ref(g, t));
        break;
    case 17:
        keep_ref(t, mw_tb_realloc(b, pick_ref(g, t), gsize(g), pick_node(g, t), gaddr(g)));
        break;
    case 18:
        l = g8(g) < 128 ? 0 : gpath(g, s, 256);
        MW_TB_ADD(b, mw_enc_mmap, gaddr(g), gval(g), gsmall(g, 8), gval(g), g8(g) < 128 ? -1 : (int64_t)gval(g),
                  gval(g), pick_node(g, t), s, l);
        break;
    case 19:
        MW_TB_ADD(b, mw_enc_munmap, gaddr(g), gval(g), pick_node(g, t));
        break;
    case 20:
        MW_TB_ADD(b, mw_enc_mremap, gaddr(g), gval(g), gaddr(g), gval(g), pick_node(g, t));
        break;
    case 21:
        MW_TB_ADD(b, mw_enc_rss, gval(g), gval(g), gval(g), gval(g), gval(g), gval(g), gval(g));
        break;
    case 22: {
        uint64_t v[6];
        for (int k = 0; k < 6; k++) v[k] = rl->v[k] + (g8(g) < 200 ? (uint64_t)g8(g) << 12 : gval(g));
        MW_TB_ADD(b, mw_enc_rss_d, rl->t_ns + gval(g), v, rl);
        break;
    }
    case 23:
        l = gstr(g, s, 400);
        MW_TB_ADD(b, mw_enc_sql_query, gsmall(g, 6), gsmall(g, 5), s, l);
        break;
    case 24: {
        uint64_t ctx = g8(g) < 200 ? gsmall(g, 8) | (uint64_t)(g8(g) & 1) << 63 : gval(g);
        if (hflags & MW_HF_SQL_CTX_DELTA) MW_TB_ADD(b, mw_enc_sql_begin_d, ctx, gsmall(g, 7), sql_base);
        else MW_TB_ADD(b, mw_enc_sql_begin, ctx, gsmall(g, 7));
        break;
    }
    case 25: {
        uint64_t ctx = g8(g) < 200 ? gsmall(g, 8) | (uint64_t)(g8(g) & 1) << 63 : gval(g);
        if (hflags & MW_HF_SQL_CTX_DELTA) MW_TB_ADD(b, mw_enc_sql_end_d, ctx, *sql_base);
        else MW_TB_ADD(b, mw_enc_sql_end, ctx);
        break;
    }
    case 26:
        MW_TB_ADD(b, mw_enc_sql_res_open, gsmall(g, 5), gsmall(g, 8), gsmall(g, 7), pick_node(g, t), gsmall(g, 5));
        break;
    case 27:
        MW_TB_ADD(b, mw_enc_sql_res_close, gsmall(g, 5), gsmall(g, 8));
        break;
    case 28:
        l = gstr(g, s, 64);
        MW_TB_ADD(b, mw_enc_watch_reg, gsmall(g, 6), gaddr(g), gval(g), gval(g), s, l);
        break;
    case 29:
        MW_TB_ADD(b, mw_enc_watch_unreg, gsmall(g, 6), gsmall(g, 4));
        break;
    case 30:
        l = gstr(g, s, 64);
        l2 = gstr(g, s2, 64);
        MW_TB_ADD(b, mw_enc_watch_meta, gsmall(g, 6), s, l, s2, l2);
        break;
    case 31:
        watch_write(g, b, t);
        break;
    case 32:
        l = gstr(g, s, 128);
        MW_TB_ADD(b, mw_enc_mark, s, l);
        break;
    case 33:
        switch (gsmall(g, 6)) {
        case 0: MW_TB_ADD(b, mw_enc_lost, gval(g), gval(g)); break;
        case 1: MW_TB_ADD(b, mw_enc_fork, g8(g) < 200 ? MW_GEN_PID0 + gsmall(g, 4) : gval(g)); break;
        case 2: l = gpath(g, s, 256); MW_TB_ADD(b, mw_enc_exec, s, l); break;
        case 3:
            l = gpath(g, s, 256);
            MW_TB_ADD(b, mw_enc_spawn, g8(g) < 200 ? MW_GEN_PID0 + gsmall(g, 4) : gval(g), s, l);
            break;
        case 4: MW_TB_ADD(b, mw_enc_fatal_signal, gval(g), gsmall(g, 70), gval(g), gaddr(g), pick_node(g, t)); break;
        default: MW_TB_ADD(b, mw_enc_limits, gval(g), gval(g), gval(g)); break;
        }
        break;
    case 34:
        if (parent) {
            mw_block_ref pr = pick_ref(g, parent);
            MW_TB_ADD(b, mw_enc_inherit, gsize(g), pr, gaddr(g), il);
            keep_ref(t, (mw_block_ref){b->cur_tidx, ++b->seq[b->cur_tidx]});
        }
        break;
    case 35:
        reach(g, b, t);
        break;
    case 36:
        MW_TB_ADD(b, mw_enc_time, gval(g));
        break;
    case 37: { /* a REPEAT of one record: a TIME, a FREE, a MARK or an ALLOC_SAME */
        uint8_t pat[256];
        size_t pl = 0;
        unsigned what = gsmall(g, 4);
        uint64_t count = 1 + gval(g) % 5000;
        mw_block_ref r = pick_ref(g, t);
        if (what == 0) pl = mw_enc_time(pat, sizeof pat, gval(g));
        else if (what == 1) pl = mw_enc_free(pat, sizeof pat, r, b->cur_tidx, b->seq[b->cur_tidx]);
        else if (what == 2) pl = mw_enc_mark(pat, sizeof pat, "again", 5);
        else if ((hflags & MW_HF_NO_ADDRESSES) && t->had_alloc[b->cur_tidx]) pl = mw_enc_alloc_same(pat, sizeof pat, g8(g));
        if (pl && count * pl <= MW_REPEAT_MAX_BYTES) {
            MW_TB_ADD(b, mw_enc_repeat, count, pat, pl);
            if (what == 3) b->seq[b->cur_tidx] += count;
        }
        break;
    }
    case 38: { /* a record type no reader knows, or now and then a malformed one (corrupt) */
        if (g8(g) > 240) {
            static const uint8_t bad[] = {MW_REC_ALLOC, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
            mw_tb_append(b, bad, sizeof bad);
            break;
        }
        uint8_t pay[32];
        size_t pl = g8(g) % sizeof pay;
        for (size_t k = 0; k < pl; k++) pay[k] = (uint8_t)g8(g);
        MW_TB_ADD(b, mw_enc_raw, (uint8_t)(0x60 + gsmall(g, 0x20)), pay, pl);
        break;
    }
    default:
        MW_TB_ADD(b, mw_enc_end, gval(g), g8(g) < 200 ? 0 : gval(g), gval(g), gsmall(g, 4),
                  g8(g) < 200 ? (int64_t)gsmall(g, 3) : (int64_t)gval(g));
        break;
    }
}

/* The process tree, chosen before any trace is made: trace i > 0 is a fork child of trace
 * parent[i] (a pid of its own, its blocks inherited) or the program parent[i] exec'd (the
 * same pid, the parent's trace ending at the exec). */
typedef struct tree {
    size_t n, parent[MW_GEN_MAX_TRACES];
    bool exec[MW_GEN_MAX_TRACES];
} tree;

static size_t one_trace(gen *g, size_t i, const tree *tr, trace_state *ts, uint8_t **out, size_t *out_len)
{
    trace_state *t = &ts[i];
    const trace_state *parent = i ? &ts[tr->parent[i]] : NULL;
    t->pid = i && tr->exec[i] ? parent->pid : MW_GEN_PID0 + i;
    t->ppid = !parent ? 1 : tr->exec[i] ? parent->ppid : parent->pid; /* an exec keeps its parent */
    uint64_t flags = g8(g) < 200 ? MW_HF_ALLOC_TRACING | MW_HF_STACKS | (g8(g) & 0x76) : g8(g);
    char exe[256], av[128];
    size_t el = gpath(g, exe, sizeof exe), al = gstr(g, av, sizeof av);
    mw_tracebuf b;
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, t->pid, t->ppid, g8(g) < 240 ? 4096 : gval(g),
              g8(g) < 200 ? 1700000000000000000ull + i : gval(g), gval(g), flags, exe, el, av, al);
    mw_tb_switch(&b, 0);
    uint64_t last_tid = 0, sql_base = 0, next_node = 1;
    mw_rss_last rl = {0};
    mw_inherit_last il = {0};
    size_t ops = 8 + g8(g) * 8, fork_at = g8(g) % (ops + 1);
    bool execs = false;
    for (size_t k = 0; k < ops && more(g); k++) {
        if (k == fork_at) /* the children this process forks, mostly named right */
            for (size_t c = i + 1; c < tr->n; c++) {
                if (tr->parent[c] != i) continue;
                if (tr->exec[c]) execs = true;
                else MW_TB_ADD(&b, mw_enc_fork, g8(g) < 240 ? MW_GEN_PID0 + c : gval(g));
            }
        one_op(g, &b, t, parent, flags, &last_tid, &rl, &sql_base, &il, &next_node);
    }
    if (execs) { /* the program it exec's writes the next trace of this pid */
        char path[256];
        size_t pl = gpath(g, path, sizeof path);
        MW_TB_ADD(&b, mw_enc_exec, path, pl);
        MW_TB_ADD(&b, mw_enc_end, 1000000, 0, 0, MW_END_EXEC, -1);
    } else if (g8(g) < 192) {
        MW_TB_ADD(&b, mw_enc_end, 1000000, 0, 0, MW_END_EXIT, 0);
    }
    mw_tb_opts o = MW_TB_OPTS_DEFAULT;
    unsigned how = g8(g);
    o.raw = how < 32;
    o.frame_bytes = how & 64 ? 64 + g8(g) * 16 : 0;
    o.flush_bytes = how & 128 ? 32 + g8(g) * 8 : 0;
    o.truncate_at = g8(g) > 240 ? (int64_t)(12 + g8(g) * 4) : 0;
    int rc = mw_tb_encode(&b, &o, out, out_len);
    mw_tb_release(&b);
    return rc == 0;
}

size_t mw_gen_traces(const uint8_t *data, size_t n, uint8_t *out[MW_GEN_MAX_TRACES],
                     size_t out_len[MW_GEN_MAX_TRACES])
{
    gen g = {data, n, 0};
    trace_state *ts = calloc(MW_GEN_MAX_TRACES, sizeof *ts);
    if (!ts) return 0;
    tree tr = {.n = 1 + gsmall(&g, MW_GEN_MAX_TRACES)};
    for (size_t i = 1; i < tr.n; i++) {
        tr.parent[i] = gsmall(&g, (unsigned)i);
        tr.exec[i] = g8(&g) < 64;
    }
    size_t made = 0;
    for (size_t i = 0; i < tr.n; i++) {
        uint8_t *o = NULL;
        size_t ol = 0;
        if (one_trace(&g, i, &tr, ts, &o, &ol)) { /* its state stays for its children either way */
            out[made] = o;
            out_len[made++] = ol;
        }
    }
    free(ts);
    return made;
}

/* ---- running the analyzer on them ------------------------------------------------------ */
/* What the analyzer prints goes through stdio's stderr, which is swapped for a memory stream
 * while it runs; the sanitizers write to file descriptor 2 themselves, so their reports still
 * reach the real stderr (a process crashing on one never shows what was captured). */
static FILE *capture_begin(FILE **saved, char **buf, size_t *len)
{
    fflush(stderr);
    FILE *m = open_memstream(buf, len);
    if (!m) return NULL;
    *saved = stderr;
    stderr = m;
    return m;
}

static void capture_end(FILE *m, FILE *saved, char **buf, size_t *len, char *err, size_t errlen)
{
    stderr = saved;
    fclose(m); /* *buf and *len final */
    size_t k = *len < errlen - 1 ? *len : errlen - 1;
    if (k) memcpy(err, *buf, k);
    err[k] = 0;
    free(*buf);
}

/* A memfd holding len bytes (-1 on failure); its path into path. */
static int memfd_of(const void *p, size_t len, char *path, size_t pathlen)
{
    int fd = memfd_create("input", MFD_CLOEXEC);
    if (fd < 0) return -1;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, (const char *)p + off, len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    return fd;
}

/* A suppressions file (LeakSanitizer's format) or alert rules (key = value lines) from g:
 * mostly well-formed lines, with comments, blank lines, odd patterns and now and then a line
 * the analyzer must refuse (exit 2, one line naming it). */
static size_t rules_text(gen *g, bool alerts, char *out, size_t cap)
{
    static const char *const pats[] = {"main", "*", "^mw_", "libc.so*", "$", "a*b*c", "^*$", "**", "x$y", "^"};
    /* each key with values it takes: a size, a rate, a ratio, a confidence, a time, a count */
    static const struct { const char *key, *ok[3]; } keys[] = {
        {"heap_bytes", {"200M", "off", "1.5GiB"}},   {"rss_bytes", {"0", "64KB", "1e308T"}},
        {"external_ratio", {"4.0", "off", "0.5"}},   {"heap_growth_bytes_per_s", {"1M", "0", "off"}},
        {"pattern_min_confidence", {"0.5", "1", "off"}}, {"cooldown_s", {"30s", "2h", "1e308h"}},
        {"max_per_hour", {"0", "10", "1000000000"}}, {"growth_window_s", {"1m", "0.001", "5min"}},
        {"ratio_min_heap_bytes", {"1G", "off", "1"}}, {"no_such_key", {"1", "1", "1"}},
    };
    static const char *const bad[] = {"nan", "-1", "99999999999999999999", "", "x", "16EiB", "1e-300", "inf"};
    size_t len = 0, lines = g8(g) % 8;
    for (size_t i = 0; i < lines && len + 160 < cap; i++) {
        unsigned c = g8(g), v = g8(g);
        char w[40];
        size_t wl = gstr(g, w, sizeof w - 1);
        w[wl] = 0;
        if (memchr(w, '\n', wl) || strlen(w) != wl) w[0] = 0; /* one line, no NUL inside */
        if (c < 24) len += (size_t)snprintf(out + len, cap - len, "# %s\n", w);
        else if (c < 32) len += (size_t)snprintf(out + len, cap - len, "\n");
        else if (c > 252) len += (size_t)snprintf(out + len, cap - len, "%s\n", w); /* most are refused */
        else if (!alerts) len += (size_t)snprintf(out + len, cap - len, "leak:%s%s\n", pats[c % 10], c & 1 ? w : "");
        else if (c % 10 == 9 && v < 240) continue; /* the unknown key: now and then */
        else len += (size_t)snprintf(out + len, cap - len, " %s = %s\n", keys[c % 10].key,
                                     v < 240 ? keys[c % 10].ok[v % 3] : bad[v % 8]);
    }
    return len;
}

void (*mw_gen_around_analyzer)(bool before);

int mw_gen_analyze(const uint8_t *data, size_t n, char *err, size_t errlen)
{
    uint8_t *tr[MW_GEN_MAX_TRACES];
    size_t tl[MW_GEN_MAX_TRACES];
    /* the last bytes choose the options, the rest makes the traces */
    uint8_t opt0 = n ? data[n - 1] : 0, opt1 = n > 1 ? data[n - 2] : 0;
    size_t made = mw_gen_traces(data, n > 2 ? n - 2 : n, tr, tl);
    if (!made) return -1;
    int fds[MW_GEN_MAX_TRACES];
    char paths[MW_GEN_MAX_TRACES][40], top[16];
    char *argv[32];
    int argc = 0, rc = -1;
    argv[argc++] = "memwatch-analyze";
    size_t open_n = 0;
    for (; open_n < made; open_n++) {
        if ((fds[open_n] = memfd_of(tr[open_n], tl[open_n], paths[open_n], sizeof paths[open_n])) < 0) break;
        argv[argc++] = paths[open_n];
    }
    static const char *const formats[] = {"text", "json", "md", "html"};
    snprintf(top, sizeof top, "%u", 1 + opt1 % 12);
    argv[argc++] = "--db";
    argv[argc++] = ":memory:";
    argv[argc++] = "--format";
    argv[argc++] = (char *)formats[opt0 % 4];
    argv[argc++] = "-o";
    argv[argc++] = "/dev/null";
    argv[argc++] = "--top";
    argv[argc++] = top;
    if (opt0 & 4) {
        argv[argc++] = "--fail-on";
        argv[argc++] = "leaked>0,peak_rss>1M,lost_events>0";
    }
    if (opt0 & 8) {
        argv[argc++] = "--alert";
        argv[argc++] = "cooldown_s=0";
    }
    if (opt0 & 16) {
        argv[argc++] = "--ignore";
        argv[argc++] = "*sh";
    }
    /* suppressions and alert rules from the input's last (up to) 64 bytes before the options */
    int extra[2] = {-1, -1};
    char extra_path[2][40];
    for (int k = 0; k < 2; k++) {
        if (!(opt0 & (32 << k)) || n < 3) continue;
        size_t want_tail = 1 + (size_t)(opt1 % 64), tail = want_tail < n - 2 ? want_tail : n - 2;
        gen tg = {data + n - 2 - tail, tail, 0};
        char text[2048];
        size_t tl_ = rules_text(&tg, k == 1, text, sizeof text);
        if ((extra[k] = memfd_of(text, tl_, extra_path[k], sizeof extra_path[k])) < 0) continue;
        argv[argc++] = k ? "--alerts" : "--suppressions";
        argv[argc++] = extra_path[k];
    }
    argv[argc] = NULL;
    if (open_n == made) {
        FILE *saved = NULL, *cap = NULL;
        char *cbuf = NULL;
        size_t clen = 0;
        if (err && errlen) {
            err[0] = 0;
            cap = capture_begin(&saved, &cbuf, &clen);
        }
        if (mw_gen_around_analyzer) mw_gen_around_analyzer(true);
        rc = mw_analyze_cli(argc, argv);
        if (mw_gen_around_analyzer) mw_gen_around_analyzer(false);
        if (cap) capture_end(cap, saved, &cbuf, &clen, err, errlen);
    }
    for (size_t i = 0; i < open_n; i++) close(fds[i]);
    for (int k = 0; k < 2; k++)
        if (extra[k] >= 0) close(extra[k]);
    for (size_t i = 0; i < made; i++) free(tr[i]);
    return rc;
}

unsigned mw_gen_error_lines(const char *err)
{
    static const char prefix[] = "memwatch-analyze:";
    unsigned n = 0;
    for (const char *l = err; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        if (strncmp(l, prefix, sizeof prefix - 1) == 0 && !memmem(l, len, ": warning: ", 11)) n++;
        l += len + (e != NULL);
    }
    return n;
}
