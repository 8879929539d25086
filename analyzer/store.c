/*
 * store.c — writes ingested runs into the SQLite store (schema: schema.sql).
 *
 * Aggregates only (never one row per allocation): sites, unfreed blocks, series, marks, SQL,
 * watch, facts. One transaction per run, prepared statements, every value a bound parameter.
 * A run is identified by (pid, start time, trace path); writing it again replaces it, so
 * re-ingesting a trace is idempotent.
 */
#include "store.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


#define SCHEMA_VERSION 1

struct mw_store {
    sqlite3 *db;
    char *path;
};

sqlite3 *mw_store_db(mw_store *st) { return st->db; }

/* The database at path (open as db) is empty or a memwatch store of this schema; -1 with one
 * line in err otherwise. */
static int schema_ok(sqlite3 *db, const char *path, const char *other, char *err, size_t errlen)
{
    sqlite3_stmt *q;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW) version = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
    }
    if (version < 0) {
        snprintf(err, errlen, "cannot open store %s: %s", path, sqlite3_errmsg(db));
        return -1;
    }
    if (version != 0 && version != SCHEMA_VERSION) {
        snprintf(err, errlen, "store %s has schema version %d, this analyzer writes %d: remove it "
                 "or choose another %s", path, version, SCHEMA_VERSION, other);
        return -1;
    }
    if (version == 0) {
        /* Refuse to write into an unrelated database. */
        int tables = 0;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &q, NULL) ==
            SQLITE_OK) {
            if (sqlite3_step(q) == SQLITE_ROW) tables = sqlite3_column_int(q, 0);
            sqlite3_finalize(q);
        }
        if (tables > 0) {
            snprintf(err, errlen, "%s is an SQLite database but not a memwatch store: choose "
                     "another %s", path, other);
            return -1;
        }
    }
    return 0;
}

mw_store *mw_store_open(const char *path, char *err, size_t errlen)
{
    mw_store *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* one connection used by one thread (the analyzer has no threads): no SQLite mutexes,
     * which took ~5% of the time of a large ingest */
    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open store %s: %s", path,
                 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(st->db, 5000);
    /* The store is derived data (re-running the analyzer rebuilds it): no fsync, so a busy
     * disk does not stall the report. */
    sqlite3_exec(st->db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
    if (schema_ok(st->db, path, "--db", err, errlen)) goto fail;
    char *msg = NULL;
    if (sqlite3_exec(st->db, mw_schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot create the schema in %s: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        goto fail;
    }
    st->path = strdup(path);
    return st;
fail:
    if (st->db) sqlite3_close(st->db);
    free(st);
    return NULL;
}

int mw_store_check(const char *path, const char *other, char *err, size_t errlen)
{
    struct stat sb;
    if (strcmp(path, ":memory:") == 0 || stat(path, &sb) != 0) return 0; /* made when written */
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open store %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    rc = schema_ok(db, path, other, err, errlen);
    sqlite3_close(db);
    return rc;
}

void mw_store_close(mw_store *st)
{
    if (!st) return;
    sqlite3_close(st->db);
    free(st->path);
    free(st);
}

/* ---- statement helpers ----------------------------------------------------------------- */
typedef struct wctx {
    mw_store *st;
    sqlite3_int64 run;
    int failed;
    char *err;
    size_t errlen;
} wctx;

static sqlite3_stmt *prep(wctx *w, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (w->failed) return NULL;
    if (sqlite3_prepare_v2(w->st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        snprintf(w->err, w->errlen, "store: %s", sqlite3_errmsg(w->st->db));
        w->failed = 1;
        return NULL;
    }
    return s;
}

static void step(wctx *w, sqlite3_stmt *s)
{
    if (!s || w->failed) return;
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        snprintf(w->err, w->errlen, "store: %s", sqlite3_errmsg(w->st->db));
        w->failed = 1;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

#define BI(s, i, v) sqlite3_bind_int64((s), (i), (sqlite3_int64)(v))
static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(s, i);
}
#define BT(s, i, v) bind_text((s), (i), (v))
/* A string constant (a reach kind's name): SQLite keeps the pointer instead of a copy, which
 * is a malloc and a free per row of unfreed_blocks. */
#define BS(s, i, v) sqlite3_bind_text((s), (i), (v), -1, SQLITE_STATIC)

static void fp_hex(char out[17], uint64_t fp) { snprintf(out, 17, "%016llx", (unsigned long long)fp); }

static char *hex(const uint8_t *b, size_t n)
{
    char *s = malloc(n * 2 + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) snprintf(s + 2 * i, 3, "%02x", b[i]);
    s[n * 2] = '\0';
    return s;
}

static void exec_sql(wctx *w, const char *sql)
{
    if (w->failed) return;
    char *msg = NULL;
    if (sqlite3_exec(w->st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(w->err, w->errlen, "store: %s", msg ? msg : "?");
        sqlite3_free(msg);
        w->failed = 1;
    }
}

/* Deletes an earlier ingest of the same trace from every table. */
static void delete_run(wctx *w, sqlite3_int64 run)
{
    sqlite3_stmt *names = prep(w, "SELECT name FROM sqlite_master WHERE type='table' AND name<>'runs'");
    if (!names) return;
    while (!w->failed && sqlite3_step(names) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(names, 0);
        char *sql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE run_id=?", t);
        sqlite3_stmt *d = sql ? prep(w, sql) : NULL;
        sqlite3_free(sql);
        if (d) {
            BI(d, 1, run);
            step(w, d);
            sqlite3_finalize(d);
        }
    }
    sqlite3_finalize(names);
    sqlite3_stmt *d = prep(w, "DELETE FROM runs WHERE run_id=?");
    if (d) {
        BI(d, 1, run);
        step(w, d);
        sqlite3_finalize(d);
    }
}

/* ---- the run row ----------------------------------------------------------------------- */
static void write_run(wctx *w, const mw_proc *p, const char *trace)
{
    sqlite3_stmt *s = prep(w, "SELECT run_id FROM runs WHERE pid=? AND start_realtime_ns=? AND trace_path=?");
    if (!s) return;
    BI(s, 1, p->pid);
    BI(s, 2, p->start_realtime_ns);
    BT(s, 3, trace);
    sqlite3_int64 old = -1;
    if (sqlite3_step(s) == SQLITE_ROW) old = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (old >= 0) delete_run(w, old);

    size_t alen = 1;
    for (size_t i = 0; i < p->argc; i++) alen += strlen(p->argv[i]) + 1;
    char *argv = malloc(alen);
    if (!argv) {
        snprintf(w->err, w->errlen, "out of memory");
        w->failed = 1;
        return;
    }
    argv[0] = '\0';
    for (size_t i = 0, o = 0; i < p->argc; i++) {
        o += (size_t)sprintf(argv + o, "%s%s", i ? " " : "", p->argv[i]);
    }
    uint64_t limit = p->limit_cgroup ? p->limit_cgroup : p->limit_rlimit_as ? p->limit_rlimit_as
                                                                            : p->limit_phys;
    s = prep(w, "INSERT INTO runs(trace_path,pid,ppid,exe,argv,start_realtime_ns,format_version,"
                "header_flags,ingested_at,duration_ns,ended,truncated,exit_status,end_reason,"
                "lost_events,lost_bytes,allocations,frees,reallocs,bytes_allocated,temporary,"
                "peak_heap_bytes,peak_heap_t_ns,peak_rss_bytes,peak_mmap_bytes,unmatched_frees,"
                "limit_bytes) VALUES(?,?,?,?,?,?,?,?,strftime('%Y-%m-%dT%H:%M:%SZ','now'),"
                "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (s) {
        int i = 1;
        BT(s, i++, trace);
        BI(s, i++, p->pid);
        BI(s, i++, p->ppid);
        BT(s, i++, p->exe);
        BT(s, i++, argv);
        BI(s, i++, p->start_realtime_ns);
        BI(s, i++, p->version);
        BI(s, i++, p->flags);
        BI(s, i++, p->t_ns);
        BI(s, i++, p->have_end);
        BI(s, i++, p->truncated);
        BI(s, i++, p->exit_status);
        BI(s, i++, p->end_reason);
        BI(s, i++, p->lost_events);
        BI(s, i++, p->lost_bytes);
        BI(s, i++, p->allocations);
        BI(s, i++, p->frees);
        BI(s, i++, p->reallocs);
        BI(s, i++, p->bytes_allocated);
        BI(s, i++, p->temporary);
        BI(s, i++, p->peak_heap);
        BI(s, i++, p->peak_heap_t);
        BI(s, i++, p->peak_rss);
        BI(s, i++, p->peak_mmap);
        BI(s, i++, p->unmatched_frees);
        BI(s, i++, limit);
        step(w, s);
        sqlite3_finalize(s);
        w->run = sqlite3_last_insert_rowid(w->st->db);
    }
    free(argv);
    s = prep(w, "INSERT INTO run_args(run_id,idx,arg) VALUES(?,?,?)");
    for (size_t i = 0; s && i < p->argc; i++) {
        BI(s, 1, w->run);
        BI(s, 2, i);
        BT(s, 3, p->argv[i]);
        step(w, s);
    }
    sqlite3_finalize(s);
}

static void write_facts(wctx *w, const mw_proc *p)
{
    sqlite3_stmt *s = prep(w, "INSERT INTO facts(run_id,idx,key,value) VALUES(?,?,?,?)");
    if (!s) return;
    int idx = 0;
    char buf[32];
#define FACT(k, v)                 \
    do {                           \
        BI(s, 1, w->run);          \
        BI(s, 2, idx++);           \
        BT(s, 3, (k));             \
        BT(s, 4, (v));             \
        step(w, s);                \
    } while (0)
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)p->lost_events);
    FACT("lost_events", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)p->lost_bytes);
    FACT("lost_bytes", buf);
    FACT("truncated", p->truncated ? "1" : "0");
    FACT("still_running", p->still_running ? "1" : "0");
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)p->watch_events_total);
    FACT("watch_events_total", buf);
    for (size_t i = 0; i < p->forks.n; i++) {
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)p->forks.v[i]);
        FACT("fork", buf);
    }
    for (size_t i = 0; i < p->execs.n; i++) FACT("exec", p->execs.v[i]);
#undef FACT
    sqlite3_finalize(s);
}

/* Multi-row INSERTs for the tables that get millions of rows (stack nodes of deep, varied
 * stacks; the unfreed blocks of a program that ends with a big heap): SQLite's cost is per
 * statement more than per row. `head` is "INSERT ... (cols) VALUES"; bind(w, s, base, i, ctx)
 * binds row i's columns at base + 1 ... base + cols. Full statements of `batch` rows, then
 * one row per statement for the rest. */
typedef void (*bind_row_fn)(wctx *w, sqlite3_stmt *s, int base, size_t i, const void *ctx);

static sqlite3_stmt *prep_rows(wctx *w, const char *head, int cols, int rows)
{
    size_t cap = strlen(head) + (size_t)rows * ((size_t)cols * 2 + 3) + 1, k;
    char *sql = malloc(cap);
    if (!sql) {
        snprintf(w->err, w->errlen, "store: out of memory");
        w->failed = 1;
        return NULL;
    }
    k = (size_t)snprintf(sql, cap, "%s", head);
    for (int r = 0; r < rows; r++) {
        k += (size_t)snprintf(sql + k, cap - k, "%s(", r ? "," : "");
        for (int c = 0; c < cols; c++) k += (size_t)snprintf(sql + k, cap - k, c ? ",?" : "?");
        k += (size_t)snprintf(sql + k, cap - k, ")");
    }
    sqlite3_stmt *s = prep(w, sql);
    free(sql);
    return s;
}

static void insert_rows(wctx *w, const char *head, int cols, int batch, size_t n, bind_row_fn bind,
                        const void *ctx)
{
    size_t i = 0;
    sqlite3_stmt *many = n >= (size_t)batch ? prep_rows(w, head, cols, batch) : NULL;
    for (; many && i + (size_t)batch <= n; i += (size_t)batch) {
        for (int r = 0; r < batch; r++) bind(w, many, cols * r, i + (size_t)r, ctx);
        step(w, many);
    }
    sqlite3_finalize(many);
    sqlite3_stmt *one = i < n ? prep_rows(w, head, cols, 1) : NULL;
    for (; one && i < n; i++) {
        bind(w, one, 0, i, ctx);
        step(w, one);
    }
    sqlite3_finalize(one);
}

static void bind_node(wctx *w, sqlite3_stmt *s, int base, size_t i, const void *ctx)
{
    const mw_stack_node *nd = &((const mw_proc *)ctx)->nodes.v[i];
    BI(s, base + 1, w->run);
    BI(s, base + 2, nd->id);
    BI(s, base + 3, nd->parent);
    BI(s, base + 4, nd->ip);
}

static void write_nodes(wctx *w, const mw_proc *p)
{
    insert_rows(w, "INSERT OR REPLACE INTO stack_nodes(run_id,node_id,parent_id,ip) VALUES", 4, 256,
                p->nodes.n, bind_node, p);
}

static void write_threads_modules_nodes(wctx *w, const mw_proc *p)
{
    sqlite3_stmt *s = prep(w, "INSERT INTO threads(run_id,tidx,tid,parent_tidx,name) VALUES(?,?,?,?,?)");
    for (size_t i = 0; s && i < p->threads.n; i++) {
        const mw_thread_info *t = mw_thread_at(p, i);
        if (!t || (!t->seen && !t->name)) continue;
        BI(s, 1, w->run);
        BI(s, 2, t->tidx);
        BI(s, 3, t->tid);
        BI(s, 4, t->parent_tidx);
        BT(s, 5, t->name);
        step(w, s);
    }
    sqlite3_finalize(s);
    s = prep(w, "INSERT OR REPLACE INTO modules(run_id,module_id,path,bias,start,size,build_id,"
                "unloaded) VALUES(?,?,?,?,?,?,?,?)");
    for (size_t i = 0; s && i < p->modules.n; i++) {
        const mw_module *m = &p->modules.v[i];
        char *bid = hex(m->build_id, m->build_id_len);
        BI(s, 1, w->run);
        BI(s, 2, m->id);
        BT(s, 3, m->path);
        BI(s, 4, m->bias);
        BI(s, 5, m->start);
        BI(s, 6, m->size);
        BT(s, 7, bid);
        BI(s, 8, m->unloaded);
        step(w, s);
        free(bid);
    }
    sqlite3_finalize(s);
    write_nodes(w, p);
}

typedef struct frame_arg {
    wctx *w;
    sqlite3_stmt *s;
} frame_arg;

static void write_frame(const mw_frame *f, void *arg)
{
    frame_arg *a = arg;
    BI(a->s, 1, a->w->run);
    BI(a->s, 2, f->ip);
    BI(a->s, 3, f->inline_depth);
    BT(a->s, 4, f->function);
    BT(a->s, 5, f->file);
    BI(a->s, 6, f->line);
    BT(a->s, 7, f->module);
    step(a->w, a->s);
}

static void write_sites(wctx *w, const mw_proc *p)
{
    sqlite3_stmt *s = prep(w, "INSERT OR REPLACE INTO sites(run_id,stack_id,calls,bytes,frees,"
                              "temporary,peak_live_bytes,end_live_bytes,leaked_bytes,leaked_blocks)"
                              " VALUES(?,?,?,?,?,?,?,?,?,?)");
    sqlite3_stmt *ss = prep(w, "INSERT OR REPLACE INTO site_series(run_id,stack_id,t_ns,live_bytes)"
                               " VALUES(?,?,?,?)");
    for (size_t i = 0; s && ss && i < p->sites.n; i++) {
        const mw_site *x = &p->sites.v[i];
        uint64_t lb = 0, lk = 0;
        for (int k = 0; k < MW_KIND_COUNT; k++) {
            lb += x->leaked_bytes[k];
            lk += x->leaked_blocks[k];
        }
        BI(s, 1, w->run);
        BI(s, 2, x->stack);
        BI(s, 3, x->calls);
        BI(s, 4, x->bytes);
        BI(s, 5, x->frees);
        BI(s, 6, x->temporary);
        BI(s, 7, x->peak_live);
        BI(s, 8, x->live);
        BI(s, 9, lb);
        BI(s, 10, lk);
        step(w, s);
        for (uint32_t j = 0; j < x->nseries; j++) {
            BI(ss, 1, w->run);
            BI(ss, 2, x->stack);
            BI(ss, 3, x->series[j].t_ns);
            BI(ss, 4, x->series[j].v);
            step(w, ss);
        }
    }
    sqlite3_finalize(s);
    sqlite3_finalize(ss);
}

/* unfreed_blocks: a program that ends with millions of blocks allocated writes millions of
 * rows (bench bigheap, 2 M rows: 5.0 s one row a statement, 1.4 s 64 to a statement). */
typedef struct leak_rows {
    const mw_proc *p;
    mw_hmap *supp;   /* (site, kind) of suppressed leak groups */
} leak_rows;

static void bind_unfreed(wctx *w, sqlite3_stmt *s, int base, size_t i, const void *ctx)
{
    const leak_rows *lr = ctx;
    const mw_block *b = &lr->p->unfreed.v[i];
    BI(s, base + 1, w->run);
    BI(s, base + 2, b->tidx);
    BI(s, base + 3, b->seq);
    BI(s, base + 4, b->addr);
    BI(s, base + 5, b->size);
    BI(s, base + 6, lr->p->sites.v[b->site].stack);
    BS(s, base + 7, mw_reach_kind_name(b->kind));
    if (b->sql) {
        char fp[17];
        fp_hex(fp, lr->p->sql.v[b->sql - 1].fp);
        BT(s, base + 8, fp);
    }
    BI(s, base + 9, mw_hmap_get(lr->supp, ((uint64_t)b->site << 2) | b->kind) != NULL);
}

static void write_leaks(wctx *w, const mw_proc *p)
{
    /* suppressed per (site, kind): look it up in the leak groups. */
    mw_hmap supp;
    mw_hmap_init(&supp);
    for (size_t i = 0; i < p->leaks.n; i++)
        if (p->leaks.v[i].suppressed)
            mw_hmap_put(&supp, ((uint64_t)p->leaks.v[i].site << 2) | p->leaks.v[i].kind, NULL);
    leak_rows lr = { p, &supp };
    insert_rows(w, "INSERT OR REPLACE INTO unfreed_blocks(run_id,tidx,seq,addr,size,stack_id,kind,sql_fp,"
                   "suppressed) VALUES", 9, 64, p->unfreed.n, bind_unfreed, &lr);
    mw_hmap_free(&supp);
    sqlite3_stmt *s = prep(w, "INSERT OR REPLACE INTO leaks(run_id,stack_id,kind,bytes,blocks,suppressed)"
                              " VALUES(?,?,?,?,?,?)");
    for (size_t i = 0; s && i < p->leaks.n; i++) {
        const mw_leak *l = &p->leaks.v[i];
        BI(s, 1, w->run);
        BI(s, 2, p->sites.v[l->site].stack);
        BS(s, 3, mw_reach_kind_name(l->kind));
        BI(s, 4, l->bytes);
        BI(s, 5, l->blocks);
        BI(s, 6, l->suppressed);
        step(w, s);
    }
    sqlite3_finalize(s);
}

static void write_series_maps_marks(wctx *w, const mw_proc *p)
{
    sqlite3_stmt *s = prep(w, "INSERT OR REPLACE INTO series(run_id,t_ns,heap_bytes,mmap_bytes,"
                              "rss_bytes,anon_bytes,file_bytes) VALUES(?,?,?,?,?,?,?)");
    for (size_t i = 0; s && i < p->series.n; i++) {
        const mw_sample *x = &p->series.v[i];
        BI(s, 1, w->run);
        BI(s, 2, x->t_ns);
        BI(s, 3, x->heap);
        BI(s, 4, x->mmap);
        BI(s, 5, x->rss);
        BI(s, 6, x->anon);
        BI(s, 7, x->file);
        step(w, s);
    }
    sqlite3_finalize(s);
    s = prep(w, "INSERT OR REPLACE INTO mappings(run_id,addr,len,prot,flags,fd,offset,path,"
                "stack_id,t_ns) VALUES(?,?,?,?,?,?,?,?,?,?)");
    for (size_t i = 0; s && i < p->mappings.n; i++) {
        const mw_mapping *m = &p->mappings.v[i];
        BI(s, 1, w->run);
        BI(s, 2, m->addr);
        BI(s, 3, m->len);
        BI(s, 4, m->prot);
        BI(s, 5, m->flags);
        BI(s, 6, m->fd);
        BI(s, 7, m->offset);
        BT(s, 8, m->path);
        BI(s, 9, m->stack);
        BI(s, 10, m->t_ns);
        step(w, s);
    }
    sqlite3_finalize(s);
    s = prep(w, "INSERT INTO marks(run_id,idx,t_ns,tidx,label,heap_bytes,rss_bytes)"
                " VALUES(?,?,?,?,?,?,?)");
    for (size_t i = 0; s && i < p->marks.n; i++) {
        const mw_mark *m = &p->marks.v[i];
        BI(s, 1, w->run);
        BI(s, 2, i);
        BI(s, 3, m->t_ns);
        BI(s, 4, m->tidx);
        BT(s, 5, m->label);
        BI(s, 6, m->heap);
        BI(s, 7, m->rss);
        step(w, s);
    }
    sqlite3_finalize(s);
}

static void write_sql(wctx *w, const mw_proc *p)
{
    char fp[17];
    sqlite3_stmt *s = prep(w, "INSERT OR REPLACE INTO sql_queries(run_id,fingerprint,db,text,calls,"
                              "allocations,bytes_allocated,bytes_leaked,blocks_leaked)"
                              " VALUES(?,?,?,?,?,?,?,?,?)");
    for (size_t i = 0; s && i < p->sql.n; i++) {
        const mw_sql_query *q = &p->sql.v[i];
        fp_hex(fp, q->fp);
        BI(s, 1, w->run);
        BT(s, 2, fp);
        BT(s, 3, mw_sql_db_name(q->db));
        BT(s, 4, q->text);
        BI(s, 5, q->calls);
        BI(s, 6, q->allocations);
        BI(s, 7, q->bytes_allocated);
        BI(s, 8, q->bytes_leaked);
        BI(s, 9, q->blocks_leaked);
        step(w, s);
    }
    sqlite3_finalize(s);
    s = prep(w, "INSERT OR REPLACE INTO sql_leaked_resources(run_id,type,stack_id,db,fingerprint,"
                "count) VALUES(?,?,?,?,?,?)");
    for (size_t i = 0; s && i < p->sql_leaked.n; i++) {
        const mw_sql_resource *r = &p->sql_leaked.v[i];
        fp_hex(fp, r->fp);
        BI(s, 1, w->run);
        BT(s, 2, mw_sql_res_name(r->type));
        BI(s, 3, r->stack);
        BT(s, 4, mw_sql_db_name(r->db));
        BT(s, 5, r->fp ? fp : NULL);
        BI(s, 6, r->count);
        step(w, s);
    }
    sqlite3_finalize(s);
}

static void write_watch(wctx *w, const mw_proc *p)
{
    sqlite3_stmt *s = prep(w, "INSERT OR REPLACE INTO watch_vars(run_id,var_id,name,addr,len,flags,"
                              "writes,unregistered) VALUES(?,?,?,?,?,?,?,?)");
    sqlite3_stmt *m = prep(w, "INSERT OR REPLACE INTO watch_meta(run_id,var_id,idx,key,value)"
                              " VALUES(?,?,?,?,?)");
    for (size_t i = 0; s && m && i < p->watch_vars.n; i++) {
        const mw_watch_var *v = &p->watch_vars.v[i];
        BI(s, 1, w->run);
        BI(s, 2, v->id);
        BT(s, 3, v->name);
        BI(s, 4, v->addr);
        BI(s, 5, v->len);
        BI(s, 6, v->flags);
        BI(s, 7, v->writes);
        BI(s, 8, v->unregistered);
        step(w, s);
        for (size_t k = 0; k < v->nmeta; k++) {
            BI(m, 1, w->run);
            BI(m, 2, v->id);
            BI(m, 3, k);
            BT(m, 4, v->meta[2 * k]);
            BT(m, 5, v->meta[2 * k + 1]);
            step(w, m);
        }
    }
    sqlite3_finalize(s);
    sqlite3_finalize(m);
    s = prep(w, "INSERT INTO watch_events(run_id,idx,var_id,t_ns,offset,len,tid,pc,stack_id,sql_fp,"
                "syscall,old_hex,new_hex,loc_file,loc_line,loc_func)"
                " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    for (size_t i = 0; s && i < p->watch_events.n; i++) {
        const mw_watch_event *e = &p->watch_events.v[i];
        char fp[17];
        char *oh = e->old_bytes ? hex(e->old_bytes, e->nbytes) : NULL;
        char *nh = e->new_bytes ? hex(e->new_bytes, e->nbytes) : NULL;
        BI(s, 1, w->run);
        BI(s, 2, i);
        BI(s, 3, e->var_id);
        BI(s, 4, e->t_ns);
        BI(s, 5, e->offset);
        BI(s, 6, e->len);
        BI(s, 7, e->tid);
        BI(s, 8, e->pc);
        BI(s, 9, e->stack);
        if (e->sql_fp) {
            fp_hex(fp, e->sql_fp);
            BT(s, 10, fp);
        }
        if (e->syscall >= 0) BI(s, 11, e->syscall);
        BT(s, 12, oh);
        BT(s, 13, nh);
        BT(s, 14, e->loc_file);
        if (e->loc_file || e->loc_func) BI(s, 15, e->loc_line);
        BT(s, 16, e->loc_func);
        step(w, s);
        free(oh);
        free(nh);
    }
    sqlite3_finalize(s);
}

int mw_store_write(mw_store *st, const mw_proc *p, const mw_symbolizer *sym, char *err,
                   size_t errlen)
{
    wctx w = {st, 0, 0, err, errlen};
    char abs[PATH_MAX];
    const char *trace = realpath(p->trace_path, abs) ? abs : p->trace_path;
    exec_sql(&w, "BEGIN IMMEDIATE");
    if (w.failed) return -1;
    write_run(&w, p, trace);
    write_facts(&w, p);
    write_threads_modules_nodes(&w, p);
    if (sym && !w.failed) {
        frame_arg a = {&w, prep(&w, "INSERT OR REPLACE INTO frames(run_id,ip,inline_depth,function,"
                                    "file,line,module) VALUES(?,?,?,?,?,?,?)")};
        if (a.s) {
            mw_sym_foreach(sym, write_frame, &a);
            sqlite3_finalize(a.s);
        }
    }
    write_sites(&w, p);
    write_leaks(&w, p);
    write_series_maps_marks(&w, p);
    write_sql(&w, p);
    write_watch(&w, p);
    if (w.failed) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    exec_sql(&w, "COMMIT");
    if (w.failed) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}
