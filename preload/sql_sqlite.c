/*
 * sql_sqlite.c — SQLite interposition: sqlite3_open*, sqlite3_close*, sqlite3_prepare* (v1, v2,
 * v3, UTF-16), sqlite3_step, sqlite3_reset, sqlite3_finalize, sqlite3_exec.
 *
 * The shim does not link libsqlite3: the types are opaque here and the real functions are
 * resolved on first use (SQL_REAL). When none can be found the hook returns SQLITE_ERROR (open:
 * *ppDb = NULL; prepare: *ppStmt = NULL) after one diagnostic line.
 *
 * Contexts: a prepare runs in the context of its statement's first execution; each execution
 * (the steps from the first one up to SQLITE_DONE / an error / sqlite3_reset) is one context id,
 * set only while sqlite3_step runs: the first BEGIN of an execution counts as a call, the later
 * ones carry MW_SQL_CTX_RESUME. sqlite3_exec is one context for its whole script, kept while
 * its row callback runs; SQL the callback issues nests inside it.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sql_core.h"

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef int (*sqlite3_callback)(void *, int, char **, char **);

#define SQLITE_OK 0
#define SQLITE_ERROR 1
#define SQLITE_ROW 100

enum { ST_FRESH = 0, ST_RUNNING = 1, ST_DONE = 2 };

/* ---- connections ------------------------------------------------------------------------ */

#define OPEN_HOOK(ret_on_missing, call)                                                       \
    do {                                                                                      \
        if (!real) {                                                                          \
            if (ppDb)                                                                         \
                *ppDb = NULL;                                                                 \
            return ret_on_missing;                                                            \
        }                                                                                     \
        mw_thread *t = mw_sql_enter();                                                        \
        if (t)                                                                                \
            mw_sql_lib_enter();                                                               \
        int rc = call;                                                                        \
        if (t) {                                                                              \
            mw_sql_lib_leave();                                                               \
            if (ppDb && *ppDb) {                                                              \
                int e_ = errno;                                                               \
                mw_sql_res_open(t, MW_RES_CONNECTION, *ppDb, 0, MW_DB_SQLITE,                 \
                                SQL_STACK_HERE(t));                                           \
                errno = e_;                                                                   \
            }                                                                                 \
        }                                                                                     \
        return rc;                                                                            \
    } while (0)

MW_EXPORT int sqlite3_open(const char *filename, sqlite3 **ppDb)
{
    __typeof__(&sqlite3_open) real = SQL_REAL(sqlite3_open);
    OPEN_HOOK(SQLITE_ERROR, real(filename, ppDb));
}

MW_EXPORT int sqlite3_open16(const void *filename, sqlite3 **ppDb)
{
    __typeof__(&sqlite3_open16) real = SQL_REAL(sqlite3_open16);
    OPEN_HOOK(SQLITE_ERROR, real(filename, ppDb));
}

MW_EXPORT int sqlite3_open_v2(const char *filename, sqlite3 **ppDb, int flags, const char *zVfs)
{
    __typeof__(&sqlite3_open_v2) real = SQL_REAL(sqlite3_open_v2);
    OPEN_HOOK(SQLITE_ERROR, real(filename, ppDb, flags, zVfs));
}

/* sqlite3_close fails with SQLITE_BUSY while statements are unfinalized (the connection stays
 * open): its CLOSE record is written after a successful call. sqlite3_close_v2 always succeeds
 * (a busy connection becomes a zombie freed with its last statement): written before. */
MW_EXPORT int sqlite3_close(sqlite3 *db)
{
    __typeof__(&sqlite3_close) real = SQL_REAL(sqlite3_close);
    if (!real)
        return SQLITE_ERROR;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(db);
    mw_sql_lib_enter();
    int rc = real(db);
    mw_sql_lib_leave();
    if (rc == SQLITE_OK && db) {
        int e = errno;
        mw_sql_res_close(t, MW_RES_CONNECTION, db);
        errno = e;
    }
    return rc;
}

MW_EXPORT int sqlite3_close_v2(sqlite3 *db)
{
    __typeof__(&sqlite3_close_v2) real = SQL_REAL(sqlite3_close_v2);
    if (!real)
        return SQLITE_ERROR;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(db);
    if (db)
        mw_sql_res_close(t, MW_RES_CONNECTION, db);
    mw_sql_lib_enter();
    int rc = real(db);
    mw_sql_lib_leave();
    return rc;
}

/* ---- prepare ------------------------------------------------------------------------------ */
typedef struct prep {
    mw_thread *t;
    uint64_t fp, ctx;
} prep;

/* UTF-16 (native order) -> UTF-8, at most cap - 1 bytes; nbyte < 0: up to a 0 code unit. */
static size_t utf16_to_utf8(const void *src, int nbyte, char *out, size_t cap)
{
    const uint16_t *s = src;
    size_t units = nbyte < 0 ? SIZE_MAX : (size_t)nbyte / 2, o = 0;
    for (size_t i = 0; i < units && s[i] != 0 && o + 4 < cap; i++) {
        uint32_t c = s[i];
        if (c >= 0xD800 && c < 0xDC00 && i + 1 < units && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000)
            c = 0x10000 + ((c - 0xD800) << 10) + (s[++i] - 0xDC00);
        if (c < 0x80) {
            out[o++] = (char)c;
        } else if (c < 0x800) {
            out[o++] = (char)(0xC0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out[o++] = (char)(0xE0 | (c >> 12));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | (c >> 18));
            out[o++] = (char)(0x80 | ((c >> 12) & 0x3F));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    return o;
}

/* Before the real prepare: fingerprint the first statement, enter its context. */
static bool prep_begin(prep *p, const void *sql, int nbyte, bool utf16)
{
    p->t = mw_sql_enter();
    if (!p->t)
        return false;
    int e = errno;
    if (utf16) {
        char text[MW_MAX_STR];
        size_t n = sql ? utf16_to_utf8(sql, nbyte, text, sizeof text) : 0;
        p->fp = mw_sql_query(p->t, MW_DB_SQLITE, text, n, MW_SQL_ONE_STATEMENT, NULL);
    } else {
        p->fp = mw_sql_query(p->t, MW_DB_SQLITE, sql, nbyte < 0 ? SIZE_MAX : (size_t)nbyte,
                             MW_SQL_ONE_STATEMENT, NULL);
    }
    p->ctx = mw_sql_new_ctx();
    mw_sql_push(p->t, p->ctx, p->fp);
    errno = e;
    mw_sql_lib_enter();
    return true;
}

/* After it: remember the statement (its first execution reuses this context), record it. */
static void prep_end(prep *p, sqlite3_stmt **ppStmt, uint64_t stack)
{
    if (ppStmt && *ppStmt) {
        mw_sql_entry en = {.key = (uint64_t)(uintptr_t)*ppStmt, .fp = p->fp, .ctx = p->ctx,
                           .state = ST_FRESH, .db = MW_DB_SQLITE};
        mw_sql_map_put(&mw_sql_stmts, &en);
        mw_sql_res_open(p->t, MW_RES_STATEMENT, *ppStmt, p->fp, MW_DB_SQLITE, stack);
    }
    mw_sql_pop(p->t, p->ctx);
}

#define PREPARE_HOOK(fn, utf16, call)                                                         \
    do {                                                                                      \
        __typeof__(&fn) real = SQL_REAL(fn);                                                  \
        if (!real) {                                                                          \
            if (ppStmt)                                                                       \
                *ppStmt = NULL;                                                               \
            return SQLITE_ERROR;                                                              \
        }                                                                                     \
        prep p;                                                                               \
        if (!prep_begin(&p, zSql, nByte, utf16))                                              \
            return call;                                                                      \
        int rc = call;                                                                        \
        mw_sql_lib_leave();                                                                   \
        int e_ = errno;                                                                       \
        prep_end(&p, ppStmt, ppStmt && *ppStmt ? SQL_STACK_HERE(p.t) : 0);                    \
        errno = e_;                                                                           \
        return rc;                                                                            \
    } while (0)

MW_EXPORT int sqlite3_prepare(sqlite3 *db, const char *zSql, int nByte, sqlite3_stmt **ppStmt,
                              const char **pzTail)
{
    PREPARE_HOOK(sqlite3_prepare, false, real(db, zSql, nByte, ppStmt, pzTail));
}

MW_EXPORT int sqlite3_prepare_v2(sqlite3 *db, const char *zSql, int nByte, sqlite3_stmt **ppStmt,
                                 const char **pzTail)
{
    PREPARE_HOOK(sqlite3_prepare_v2, false, real(db, zSql, nByte, ppStmt, pzTail));
}

MW_EXPORT int sqlite3_prepare_v3(sqlite3 *db, const char *zSql, int nByte, unsigned int prepFlags,
                                 sqlite3_stmt **ppStmt, const char **pzTail)
{
    PREPARE_HOOK(sqlite3_prepare_v3, false, real(db, zSql, nByte, prepFlags, ppStmt, pzTail));
}

MW_EXPORT int sqlite3_prepare16(sqlite3 *db, const void *zSql, int nByte, sqlite3_stmt **ppStmt,
                                const void **pzTail)
{
    PREPARE_HOOK(sqlite3_prepare16, true, real(db, zSql, nByte, ppStmt, pzTail));
}

MW_EXPORT int sqlite3_prepare16_v2(sqlite3 *db, const void *zSql, int nByte,
                                   sqlite3_stmt **ppStmt, const void **pzTail)
{
    PREPARE_HOOK(sqlite3_prepare16_v2, true, real(db, zSql, nByte, ppStmt, pzTail));
}

MW_EXPORT int sqlite3_prepare16_v3(sqlite3 *db, const void *zSql, int nByte,
                                   unsigned int prepFlags, sqlite3_stmt **ppStmt,
                                   const void **pzTail)
{
    PREPARE_HOOK(sqlite3_prepare16_v3, true,
                 real(db, zSql, nByte, prepFlags, ppStmt, pzTail));
}

/* ---- statements --------------------------------------------------------------------------- */
MW_EXPORT int sqlite3_step(sqlite3_stmt *pStmt)
{
    __typeof__(&sqlite3_step) real = SQL_REAL(sqlite3_step);
    if (!real)
        return SQLITE_ERROR;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(pStmt);
    mw_sql_entry e;
    if (!pStmt || !mw_sql_map_get(&mw_sql_stmts, (uint64_t)(uintptr_t)pStmt, &e)) {
        /* prepared before tracing, or by a path we do not see: no context */
        mw_sql_lib_enter();
        int rc = real(pStmt);
        mw_sql_lib_leave();
        return rc;
    }
    int saved = errno;
    uint64_t ctx;
    if (e.state == ST_DONE) {
        e.ctx = ctx = mw_sql_new_ctx(); /* a new execution (auto-reset after DONE, or reset) */
    } else {
        ctx = e.ctx | MW_SQL_CTX_RESUME; /* begun by the prepare or by an earlier step */
    }
    e.state = ST_RUNNING;
    mw_sql_push(t, ctx, e.fp);
    errno = saved;
    mw_sql_lib_enter();
    int rc = real(pStmt);
    mw_sql_lib_leave();
    saved = errno;
    if ((rc & 0xff) != SQLITE_ROW)
        e.state = ST_DONE;
    mw_sql_map_put(&mw_sql_stmts, &e);
    mw_sql_pop(t, ctx);
    errno = saved;
    return rc;
}

MW_EXPORT int sqlite3_reset(sqlite3_stmt *pStmt)
{
    __typeof__(&sqlite3_reset) real = SQL_REAL(sqlite3_reset);
    if (!real)
        return SQLITE_ERROR;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(pStmt);
    mw_sql_entry e;
    if (pStmt && mw_sql_map_get(&mw_sql_stmts, (uint64_t)(uintptr_t)pStmt, &e) &&
        e.state == ST_RUNNING) {
        e.state = ST_DONE;
        mw_sql_map_put(&mw_sql_stmts, &e);
    }
    mw_sql_lib_enter();
    int rc = real(pStmt);
    mw_sql_lib_leave();
    return rc;
}

/* The CLOSE record is written before the real call: the address may be reused by another
 * thread's prepare right after it (sqlite3_finalize always frees the statement). */
MW_EXPORT int sqlite3_finalize(sqlite3_stmt *pStmt)
{
    __typeof__(&sqlite3_finalize) real = SQL_REAL(sqlite3_finalize);
    if (!real)
        return SQLITE_ERROR;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(pStmt);
    if (pStmt && mw_sql_map_take(&mw_sql_stmts, (uint64_t)(uintptr_t)pStmt, NULL))
        mw_sql_res_close(t, MW_RES_STATEMENT, pStmt);
    mw_sql_lib_enter();
    int rc = real(pStmt);
    mw_sql_lib_leave();
    return rc;
}

/* ---- sqlite3_exec -------------------------------------------------------------------------- */
typedef struct exec_cb {
    sqlite3_callback cb;
    void *arg;
} exec_cb;

/* The row callback is the program's code again: hooks called from it act. */
static int exec_trampoline(void *arg, int n, char **values, char **names)
{
    exec_cb *w = arg;
    int saved = mw_sql_callback_enter();
    int r = w->cb(w->arg, n, values, names);
    mw_sql_callback_leave(saved);
    return r;
}

MW_EXPORT int sqlite3_exec(sqlite3 *db, const char *sql, sqlite3_callback cb, void *arg,
                           char **errmsg)
{
    __typeof__(&sqlite3_exec) real = SQL_REAL(sqlite3_exec);
    if (!real) {
        if (errmsg)
            *errmsg = NULL;
        return SQLITE_ERROR;
    }
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(db, sql, cb, arg, errmsg);
    int saved = errno;
    uint64_t fp = mw_sql_query(t, MW_DB_SQLITE, sql, SIZE_MAX, 0, NULL);
    uint64_t ctx = mw_sql_new_ctx();
    mw_sql_push(t, ctx, fp);
    errno = saved;
    exec_cb w = {cb, arg};
    mw_sql_lib_enter();
    int rc = real(db, sql, cb ? exec_trampoline : NULL, cb ? (void *)&w : arg, errmsg);
    mw_sql_lib_leave();
    saved = errno;
    mw_sql_pop(t, ctx);
    errno = saved;
    return rc;
}
