/*
 * sql_pq.c — victim for the libpq interposition tests (test_sql_pq.c), against a real server.
 *
 *   sql_pq CONNINFO calls N   PQexecParams of one parameterized insert N times, PQexec of one
 *                             literal-inline select N times, a named statement prepared once and
 *                             run N times, N asynchronous queries each with PQsendQuery and
 *                             PQsendQueryParams, a PQsendPrepare'd statement run N times with
 *                             PQsendQueryPrepared (results read with PQgetResult), connections
 *                             made with PQconnectStart, PQsetdbLogin and PQconnectdbParams; every
 *                             result cleared, every connection finished.
 *   sql_pq CONNINFO leaks     a result never cleared (leak_result) and a connection never
 *                             finished (leak_connection); the main connection is finished.
 * Exits 0 when every libpq call did what it should.
 */
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(PGconn *c, const char *what)
{
    fprintf(stderr, "sql_pq: %s: %s", what, c ? PQerrorMessage(c) : "no connection\n");
    return 1;
}

/* Runs a command that must succeed, clears its result. */
static int ok(PGconn *c, PGresult *r, const char *what)
{
    ExecStatusType s = PQresultStatus(r);
    PQclear(r);
    return (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) ? 0 : fail(c, what);
}

/* Reads every result of an asynchronous query (exactly one expected), clearing them. */
static int drain(PGconn *c)
{
    PGresult *r;
    int results = 0;
    while ((r = PQgetResult(c)) != NULL) {
        results++;
        if (ok(c, r, "async result"))
            return 1;
    }
    return results == 1 ? 0 : fail(c, "async: not exactly one result");
}

static __attribute__((noinline)) int run_calls(PGconn *c, int n)
{
    char sql[160], id[32], name[48];
    if (ok(c, PQexec(c, "CREATE TEMP TABLE t(id int PRIMARY KEY, name text)"), "create"))
        return 1;
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%d", i);
        snprintf(name, sizeof name, "name-%d", i);
        const char *vals[2] = {id, name};
        if (ok(c, PQexecParams(c, "INSERT INTO t(id, name) VALUES ($1, $2)", 2, NULL, vals, NULL,
                               NULL, 0), "insert"))
            return 1;
    }
    for (int i = 0; i < n; i++) {
        snprintf(sql, sizeof sql, "SELECT name FROM t WHERE id = %d AND name <> 'x%d'", i, i);
        if (ok(c, PQexec(c, sql), "select literal"))
            return 1;
    }
    if (ok(c, PQprepare(c, "by_id", "SELECT name FROM t WHERE id = $1", 1, NULL), "prepare"))
        return 1;
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%d", i);
        const char *vals[1] = {id};
        if (ok(c, PQexecPrepared(c, "by_id", 1, vals, NULL, NULL, 0), "exec prepared"))
            return 1;
    }
    for (int i = 0; i < n; i++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM t WHERE id < %d", i);
        if (!PQsendQuery(c, sql) || drain(c))
            return fail(c, "send");
    }
    /* asynchronous with parameters, and a named statement prepared and run asynchronously */
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%d", i);
        const char *vals[1] = {id};
        if (!PQsendQueryParams(c, "SELECT $1::int + 1", 1, NULL, vals, NULL, NULL, 0) || drain(c))
            return fail(c, "send params");
    }
    if (!PQsendPrepare(c, "async_by_id", "SELECT name FROM t WHERE id > $1", 1, NULL) || drain(c))
        return fail(c, "send prepare");
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%d", i);
        const char *vals[1] = {id};
        if (!PQsendQueryPrepared(c, "async_by_id", 1, vals, NULL, NULL, 0) || drain(c))
            return fail(c, "send prepared");
    }
    return 0;
}

/* Non-blocking connect (PQconnectStart + PQconnectPoll), PQsetdbLogin and PQconnectdbParams,
 * all finished. */
static __attribute__((noinline)) int other_connects(const char *conninfo)
{
    PGconn *c = PQconnectStart(conninfo);
    if (!c)
        return fail(NULL, "PQconnectStart");
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (int i = 0; i < 1000 && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED; i++) {
        struct pollfd pfd = {PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
        if (poll(&pfd, 1, 10000) < 0)
            break;
        st = PQconnectPoll(c);
    }
    int bad = st != PGRES_POLLING_OK;
    if (bad)
        fail(c, "PQconnectPoll");
    PQfinish(c);
    int port = 0;
    const char *pp = strstr(conninfo, "port=");
    if (pp && sscanf(pp, "port=%d", &port) == 1) {
        char ps[16];
        snprintf(ps, sizeof ps, "%d", port);
        c = PQsetdbLogin("127.0.0.1", ps, NULL, NULL, "postgres", "postgres", NULL);
        if (PQstatus(c) != CONNECTION_OK)
            bad = fail(c, "PQsetdbLogin");
        PQfinish(c);
    }
    const char *kw[] = {"dbname", NULL}, *val[] = {conninfo, NULL};
    c = PQconnectdbParams(kw, val, 1);
    if (PQstatus(c) != CONNECTION_OK)
        bad = fail(c, "PQconnectdbParams");
    PQfinish(c);
    return bad;
}

static __attribute__((noinline)) PGresult *leak_result(PGconn *c)
{
    return PQexec(c, "SELECT 'leaked' AS what, 42 AS answer"); /* never cleared */
}

static __attribute__((noinline)) PGconn *leak_connection(const char *conninfo)
{
    return PQconnectdb(conninfo); /* never finished */
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sql_pq CONNINFO calls N | leaks\n");
        return 2;
    }
    PGconn *c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK)
        return fail(c, "connect");
    int rc = 0;
    if (strcmp(argv[2], "calls") == 0) {
        int n = argc > 3 ? atoi(argv[3]) : 20;
        rc = run_calls(c, n) || other_connects(argv[1]);
        if (!rc)
            printf("calls %d done\n", n);
    } else if (strcmp(argv[2], "leaks") == 0) {
        PGresult *r = leak_result(c);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = fail(c, "leak_result");
        PGconn *c2 = leak_connection(argv[1]);
        if (PQstatus(c2) != CONNECTION_OK)
            rc = fail(c2, "leak_connection");
        if (!rc)
            printf("leaks done\n");
    } else {
        fprintf(stderr, "sql_pq: unknown mode %s\n", argv[2]);
        rc = 2;
    }
    PQfinish(c);
    return rc;
}
