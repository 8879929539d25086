/*
 * sql_api.c — memwatch_sql_begin / memwatch_sql_end (public ABI, memwatch.h): SQL contexts for
 * drivers the shim cannot see (SQLite linked statically, drivers speaking the PostgreSQL
 * protocol themselves, the Python and Node adapters). Same records as the hooks: the query is
 * fingerprinted, its text written once, and the context nests on the calling thread's stack.
 */
#include <errno.h>
#include <string.h>

#include "memwatch.h"
#include "sql_core.h"

static unsigned db_kind(const char *db)
{
    if (!db || !*db)
        return MW_DB_UNKNOWN;
    if (strcmp(db, "sqlite") == 0 || strcmp(db, "sqlite3") == 0)
        return MW_DB_SQLITE;
    if (strcmp(db, "postgres") == 0 || strcmp(db, "postgresql") == 0 || strcmp(db, "pg") == 0)
        return MW_DB_POSTGRES;
    return MW_DB_OTHER;
}

/* Returns the context handle for memwatch_sql_end, or 0 when SQL tracking is off (0 is a valid
 * argument to memwatch_sql_end: it does nothing). */
MW_EXPORT uint64_t memwatch_sql_begin(const char *db, const char *query)
{
    mw_thread *t = mw_sql_enter();
    if (!t)
        return 0;
    int e = errno;
    uint64_t fp = mw_sql_query(t, db_kind(db), query, SIZE_MAX, 0, NULL);
    uint64_t ctx = mw_sql_new_ctx();
    mw_sql_push(t, ctx, fp);
    errno = e;
    return ctx;
}

/* Ends a context begun on this thread (not necessarily the innermost one). An END for a context
 * of another thread is still written, for readers that track contexts across threads. */
MW_EXPORT void memwatch_sql_end(uint64_t ctx)
{
    if (!ctx)
        return;
    mw_thread *t = mw_sql_enter();
    if (!t)
        return;
    int e = errno;
    mw_sql_pop(t, ctx);
    errno = e;
}
