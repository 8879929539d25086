/*
 * sql_sqlite.c — victim for the SQLite interposition tests (test_sql_sqlite.c).
 *
 *   sql_sqlite calls N    one parameterized query (prepared once, run N times with bindings),
 *                         one literal-inline query (prepared, run and finalized N times with a
 *                         different literal each time), N sqlite3_exec inserts with literals,
 *                         an exec whose row callback runs a nested query; everything closed.
 *   sql_sqlite leaks      a never-finalized sqlite3_stmt (leak_statement), an sqlite3_exec error
 *                         message never passed to sqlite3_free (leak_exec_error), and therefore a
 *                         connection that cannot close (sqlite3_close returns SQLITE_BUSY).
 * Prints one line per phase; exits 0 when every SQLite call did what it should.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "sql_sqlite: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    return 1;
}

static int count_rows(void *arg, int n, char **values, char **names)
{
    (void)n, (void)values, (void)names;
    ++*(int *)arg;
    return 0;
}

/* Row callback of an exec that runs another query for each row (nested contexts). */
static int nested_cb(void *arg, int n, char **values, char **names)
{
    (void)n, (void)values, (void)names;
    sqlite3 *db = arg;
    int rows = 0;
    return sqlite3_exec(db, "SELECT count(*) FROM t WHERE id < 3", count_rows, &rows, NULL);
}

static __attribute__((noinline)) int run_calls(sqlite3 *db, int n)
{
    char sql[128];
    if (sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)", NULL, NULL, NULL))
        return fail(db, "create");
    for (int i = 0; i < n; i++) {
        snprintf(sql, sizeof sql, "INSERT INTO t(id, name) VALUES (%d, 'name-%d')", i, i);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL))
            return fail(db, "insert");
    }
    /* parameterized: prepared once, executed n times */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT name FROM t WHERE id = ?", -1, &st, NULL))
        return fail(db, "prepare param");
    for (int i = 0; i < n; i++) {
        sqlite3_bind_int(st, 1, i);
        if (sqlite3_step(st) != SQLITE_ROW || sqlite3_step(st) != SQLITE_DONE)
            return fail(db, "step param");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    /* literal inline: a new text every time, one fingerprint */
    for (int i = 0; i < n; i++) {
        snprintf(sql, sizeof sql, "SELECT id, name FROM t WHERE name = 'name-%d' AND id >= %d", i, i);
        if (sqlite3_prepare_v3(db, sql, -1, 0, &st, NULL))
            return fail(db, "prepare literal");
        while (sqlite3_step(st) == SQLITE_ROW)
            ;
        sqlite3_finalize(st);
    }
    /* nested: the callback's query runs inside the outer exec */
    if (sqlite3_exec(db, "SELECT id FROM t WHERE id < 2", nested_cb, db, NULL))
        return fail(db, "nested exec");
    return 0;
}

static __attribute__((noinline)) sqlite3_stmt *leak_statement(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT name FROM t WHERE id = 1", -1, &st, NULL) == SQLITE_OK)
        sqlite3_step(st);
    return st; /* never finalized */
}

static __attribute__((noinline)) int leak_exec_error(sqlite3 *db)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, "SELECT * FROM no_such_table WHERE x = 1", NULL, NULL, &err);
    /* err is never passed to sqlite3_free */
    return rc != SQLITE_OK && err != NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sql_sqlite calls N | leaks\n");
        return 2;
    }
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return fail(db, "open");
    if (strcmp(argv[1], "calls") == 0) {
        int n = argc > 2 ? atoi(argv[2]) : 20;
        if (run_calls(db, n))
            return 1;
        if (sqlite3_close(db) != SQLITE_OK)
            return fail(db, "close");
        printf("calls %d done\n", n);
        return 0;
    }
    if (strcmp(argv[1], "leaks") == 0) {
        if (sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);"
                             "INSERT INTO t VALUES (1, 'one')", NULL, NULL, NULL))
            return fail(db, "setup");
        if (!leak_statement(db))
            return fail(db, "leak_statement");
        if (!leak_exec_error(db))
            return fail(db, "leak_exec_error");
        int rc = sqlite3_close(db); /* busy: the leaked statement keeps it open */
        printf("leaks done (close rc %d)\n", rc);
        return rc == SQLITE_BUSY ? 0 : 1;
    }
    fprintf(stderr, "sql_sqlite: unknown mode %s\n", argv[1]);
    return 2;
}
