/*
 * sql_pq.c — libpq interposition: PQconnectdb, PQconnectdbParams, PQsetdbLogin, PQconnectStart,
 * PQconnectStartParams, PQfinish, PQexec, PQexecParams, PQprepare, PQexecPrepared, PQsendQuery,
 * PQsendQueryParams, PQsendPrepare, PQsendQueryPrepared, PQgetResult, PQclear.
 *
 * The shim does not link libpq: types are opaque, real functions resolved on first use. When
 * none can be found: connect and exec functions return NULL (what libpq returns when it cannot
 * even allocate a PGconn/PGresult, which callers treat as a fatal error), PQsend* return 0,
 * PQgetResult returns NULL, PQfinish/PQclear do nothing.
 *
 * Contexts: PQexec* and PQprepare are one context each for the whole call. An asynchronous query
 * (PQsend*) gets one context, in force during the PQsend* call and during every PQgetResult
 * on that connection until it returns NULL. A named statement's first execution shares the
 * context of its PQprepare / PQsendPrepare (so prepare + N executions count N calls, as for
 * SQLite). Every PGresult a hook returns is recorded with the query's fingerprint.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sql_core.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef unsigned int Oid;

enum { NAMED_FRESH = 0, NAMED_USED = 1 };

static uint64_t key_of(const void *p) { return (uint64_t)(uintptr_t)p; }

static uint64_t named_key(const PGconn *conn, const char *name)
{
    if (!name)
        name = "";
    uint64_t k = mw_sql_fingerprint(name, strlen(name)) ^ (key_of(conn) * 0x9E3779B97F4A7C15ull);
    return k < 2 ? k + 2 : k;
}

/* ---- connections ------------------------------------------------------------------------- */
#define CONNECT_HOOK(fn, call)                                                                \
    do {                                                                                      \
        __typeof__(&fn) real = SQL_REAL(fn);                                                  \
        if (!real)                                                                            \
            return NULL;                                                                      \
        mw_thread *t = mw_sql_enter();                                                        \
        if (!t)                                                                               \
            return call;                                                                      \
        mw_sql_lib_enter();                                                                   \
        PGconn *c = call;                                                                     \
        mw_sql_lib_leave();                                                                   \
        if (c) {                                                                              \
            int e = errno;                                                                    \
            mw_sql_res_open(t, MW_RES_CONNECTION, c, 0, MW_DB_POSTGRES, SQL_STACK_HERE(t));   \
            errno = e;                                                                        \
        }                                                                                     \
        return c;                                                                             \
    } while (0)

MW_EXPORT PGconn *PQconnectdb(const char *conninfo)
{
    CONNECT_HOOK(PQconnectdb, real(conninfo));
}

MW_EXPORT PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values,
                                    int expand_dbname)
{
    CONNECT_HOOK(PQconnectdbParams, real(keywords, values, expand_dbname));
}

MW_EXPORT PGconn *PQsetdbLogin(const char *pghost, const char *pgport, const char *pgoptions,
                               const char *pgtty, const char *dbName, const char *login,
                               const char *pwd)
{
    CONNECT_HOOK(PQsetdbLogin, real(pghost, pgport, pgoptions, pgtty, dbName, login, pwd));
}

MW_EXPORT PGconn *PQconnectStart(const char *conninfo)
{
    CONNECT_HOOK(PQconnectStart, real(conninfo));
}

MW_EXPORT PGconn *PQconnectStartParams(const char *const *keywords, const char *const *values,
                                       int expand_dbname)
{
    CONNECT_HOOK(PQconnectStartParams, real(keywords, values, expand_dbname));
}

/* PQfinish always frees the connection: its CLOSE record goes first (address reuse). */
MW_EXPORT void PQfinish(PGconn *conn)
{
    __typeof__(&PQfinish) real = SQL_REAL(PQfinish);
    if (!real)
        return;
    mw_thread *t = mw_sql_enter();
    if (!t) {
        real(conn);
        return;
    }
    if (conn) {
        int e = errno;
        mw_sql_map_take(&mw_sql_pending, key_of(conn), NULL);
        mw_sql_map_drop_aux(&mw_sql_named, key_of(conn));
        mw_sql_res_close(t, MW_RES_CONNECTION, conn);
        errno = e;
    }
    mw_sql_lib_enter();
    real(conn);
    mw_sql_lib_leave();
}

/* ---- synchronous execution ---------------------------------------------------------------- */
static void result_made(mw_thread *t, PGresult *res, uint64_t fp, uint64_t stack)
{
    if (res)
        mw_sql_res_open(t, MW_RES_RESULT, res, fp, MW_DB_POSTGRES, stack);
}

/* Context of the next execution of a named statement (fresh after its prepare: shared). */
static uint64_t named_exec(mw_thread *t, PGconn *conn, const char *name, uint64_t *ctx)
{
    mw_sql_entry e;
    uint64_t k = named_key(conn, name);
    if (mw_sql_map_get(&mw_sql_named, k, &e)) {
        if (e.state == NAMED_FRESH) {
            e.state = NAMED_USED;
            mw_sql_map_put(&mw_sql_named, &e);
            *ctx = e.ctx | MW_SQL_CTX_RESUME; /* the prepare counted the call */
        } else {
            *ctx = mw_sql_new_ctx();
        }
        return e.fp;
    }
    /* prepared by SQL PREPARE, or before tracing: name the statement */
    char text[256] = "EXECUTE ";
    size_t n = strlen(text), len = name ? strnlen(name, sizeof text - n - 1) : 0;
    if (len)
        memcpy(text + n, name, len);
    *ctx = mw_sql_new_ctx();
    return mw_sql_query(t, MW_DB_POSTGRES, text, n + len, 0, NULL);
}

static void named_prepared(PGconn *conn, const char *name, uint64_t fp, uint64_t ctx)
{
    mw_sql_entry e = {.key = named_key(conn, name), .fp = fp, .ctx = ctx, .aux = key_of(conn),
                      .state = NAMED_FRESH, .db = MW_DB_POSTGRES};
    mw_sql_map_put(&mw_sql_named, &e);
}

/* Runs `call` (returning a PGresult *) inside context (ctx, fp) and records the result. */
#define EXEC_IN_CONTEXT(t, fp, ctx, call)                                                     \
    ({                                                                                        \
        mw_sql_push(t, ctx, fp);                                                              \
        errno = saved_errno;                                                                  \
        mw_sql_lib_enter();                                                                   \
        PGresult *r_ = call;                                                                  \
        mw_sql_lib_leave();                                                                   \
        saved_errno = errno;                                                                  \
        result_made(t, r_, fp, r_ ? SQL_STACK_HERE(t) : 0);                                   \
        mw_sql_pop(t, ctx);                                                                   \
        errno = saved_errno;                                                                  \
        r_;                                                                                   \
    })

MW_EXPORT PGresult *PQexec(PGconn *conn, const char *query)
{
    __typeof__(&PQexec) real = SQL_REAL(PQexec);
    if (!real)
        return NULL;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(conn, query);
    int saved_errno = errno;
    uint64_t fp = mw_sql_query(t, MW_DB_POSTGRES, query, SIZE_MAX, 0, NULL);
    uint64_t ctx = mw_sql_new_ctx();
    return EXEC_IN_CONTEXT(t, fp, ctx, real(conn, query));
}

MW_EXPORT PGresult *PQexecParams(PGconn *conn, const char *command, int nParams,
                                 const Oid *paramTypes, const char *const *paramValues,
                                 const int *paramLengths, const int *paramFormats, int resultFormat)
{
    __typeof__(&PQexecParams) real = SQL_REAL(PQexecParams);
    if (!real)
        return NULL;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats,
                    resultFormat);
    int saved_errno = errno;
    uint64_t fp = mw_sql_query(t, MW_DB_POSTGRES, command, SIZE_MAX, 0, NULL);
    uint64_t ctx = mw_sql_new_ctx();
    return EXEC_IN_CONTEXT(t, fp, ctx, real(conn, command, nParams, paramTypes, paramValues,
                                            paramLengths, paramFormats, resultFormat));
}

MW_EXPORT PGresult *PQprepare(PGconn *conn, const char *stmtName, const char *query, int nParams,
                              const Oid *paramTypes)
{
    __typeof__(&PQprepare) real = SQL_REAL(PQprepare);
    if (!real)
        return NULL;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(conn, stmtName, query, nParams, paramTypes);
    int saved_errno = errno;
    uint64_t fp = mw_sql_query(t, MW_DB_POSTGRES, query, SIZE_MAX, 0, NULL);
    uint64_t ctx = mw_sql_new_ctx();
    named_prepared(conn, stmtName, fp, ctx);
    return EXEC_IN_CONTEXT(t, fp, ctx, real(conn, stmtName, query, nParams, paramTypes));
}

MW_EXPORT PGresult *PQexecPrepared(PGconn *conn, const char *stmtName, int nParams,
                                   const char *const *paramValues, const int *paramLengths,
                                   const int *paramFormats, int resultFormat)
{
    __typeof__(&PQexecPrepared) real = SQL_REAL(PQexecPrepared);
    if (!real)
        return NULL;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(conn, stmtName, nParams, paramValues, paramLengths, paramFormats,
                    resultFormat);
    int saved_errno = errno;
    uint64_t ctx;
    uint64_t fp = named_exec(t, conn, stmtName, &ctx);
    return EXEC_IN_CONTEXT(t, fp, ctx, real(conn, stmtName, nParams, paramValues, paramLengths,
                                            paramFormats, resultFormat));
}

/* ---- asynchronous execution ---------------------------------------------------------------- */
/* Runs a PQsend* call in context (ctx, fp); on success the connection's results belong to it. */
static void send_done(mw_thread *t, PGconn *conn, uint64_t fp, uint64_t ctx, int ok)
{
    if (ok && conn) {
        mw_sql_entry e = {.key = key_of(conn), .fp = fp, .ctx = ctx & ~MW_SQL_CTX_RESUME,
                          .db = MW_DB_POSTGRES};
        mw_sql_map_put(&mw_sql_pending, &e);
    }
    mw_sql_pop(t, ctx);
}

#define SEND(t, conn, fp, ctx, call)                                                          \
    ({                                                                                        \
        mw_sql_push(t, ctx, fp);                                                              \
        errno = saved_errno;                                                                  \
        mw_sql_lib_enter();                                                                   \
        int ok_ = call;                                                                       \
        mw_sql_lib_leave();                                                                   \
        saved_errno = errno;                                                                  \
        send_done(t, conn, fp, ctx, ok_);                                                     \
        errno = saved_errno;                                                                  \
        ok_;                                                                                  \
    })

MW_EXPORT int PQsendQuery(PGconn *conn, const char *query)
{
    __typeof__(&PQsendQuery) real = SQL_REAL(PQsendQuery);
    if (!real)
        return 0;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(conn, query);
    int saved_errno = errno;
    uint64_t fp = mw_sql_query(t, MW_DB_POSTGRES, query, SIZE_MAX, 0, NULL);
    uint64_t ctx = mw_sql_new_ctx();
    return SEND(t, conn, fp, ctx, real(conn, query));
}

MW_EXPORT int PQsendQueryParams(PGconn *conn, const char *command, int nParams,
                                const Oid *paramTypes, const char *const *paramValues,
                                const int *paramLengths, const int *paramFormats, int resultFormat)
{
    __typeof__(&PQsendQueryParams) real = SQL_REAL(PQsendQueryParams);
    if (!real)
        return 0;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats,
                    resultFormat);
    int saved_errno = errno;
    uint64_t fp = mw_sql_query(t, MW_DB_POSTGRES, command, SIZE_MAX, 0, NULL);
    uint64_t ctx = mw_sql_new_ctx();
    return SEND(t, conn, fp, ctx, real(conn, command, nParams, paramTypes, paramValues,
                                       paramLengths, paramFormats, resultFormat));
}

MW_EXPORT int PQsendPrepare(PGconn *conn, const char *stmtName, const char *query, int nParams,
                            const Oid *paramTypes)
{
    __typeof__(&PQsendPrepare) real = SQL_REAL(PQsendPrepare);
    if (!real)
        return 0;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(conn, stmtName, query, nParams, paramTypes);
    int saved_errno = errno;
    uint64_t fp = mw_sql_query(t, MW_DB_POSTGRES, query, SIZE_MAX, 0, NULL);
    uint64_t ctx = mw_sql_new_ctx();
    named_prepared(conn, stmtName, fp, ctx);
    return SEND(t, conn, fp, ctx, real(conn, stmtName, query, nParams, paramTypes));
}

MW_EXPORT int PQsendQueryPrepared(PGconn *conn, const char *stmtName, int nParams,
                                  const char *const *paramValues, const int *paramLengths,
                                  const int *paramFormats, int resultFormat)
{
    __typeof__(&PQsendQueryPrepared) real = SQL_REAL(PQsendQueryPrepared);
    if (!real)
        return 0;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(conn, stmtName, nParams, paramValues, paramLengths, paramFormats,
                    resultFormat);
    int saved_errno = errno;
    uint64_t ctx;
    uint64_t fp = named_exec(t, conn, stmtName, &ctx);
    return SEND(t, conn, fp, ctx, real(conn, stmtName, nParams, paramValues, paramLengths,
                                       paramFormats, resultFormat));
}

/* Results of an asynchronous query are produced in its context; NULL ends it. */
MW_EXPORT PGresult *PQgetResult(PGconn *conn)
{
    __typeof__(&PQgetResult) real = SQL_REAL(PQgetResult);
    if (!real)
        return NULL;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return real(conn);
    int saved_errno = errno;
    mw_sql_entry e;
    if (!conn || !mw_sql_map_get(&mw_sql_pending, key_of(conn), &e)) {
        mw_sql_lib_enter();
        PGresult *r = real(conn);
        mw_sql_lib_leave();
        saved_errno = errno;
        result_made(t, r, 0, r ? SQL_STACK_HERE(t) : 0);
        errno = saved_errno;
        return r;
    }
    uint64_t ctx = e.ctx | MW_SQL_CTX_RESUME;   /* the PQsend* call counted the call */
    mw_sql_push(t, ctx, e.fp);
    errno = saved_errno;
    mw_sql_lib_enter();
    PGresult *r = real(conn);
    mw_sql_lib_leave();
    saved_errno = errno;
    if (r)
        result_made(t, r, e.fp, SQL_STACK_HERE(t));
    else
        mw_sql_map_take(&mw_sql_pending, key_of(conn), NULL);
    mw_sql_pop(t, ctx);
    errno = saved_errno;
    return r;
}

/* PQclear frees the result: its CLOSE record goes first (address reuse). */
MW_EXPORT void PQclear(PGresult *res)
{
    __typeof__(&PQclear) real = SQL_REAL(PQclear);
    if (!real)
        return;
    mw_thread *t = mw_sql_enter();
    if (!t) {
        real(res);
        return;
    }
    if (res) {
        int e = errno;
        mw_sql_res_close(t, MW_RES_RESULT, res);
        errno = e;
    }
    mw_sql_lib_enter();
    real(res);
    mw_sql_lib_leave();
}
