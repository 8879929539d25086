/*
 * sql_sqlite.c — victim for the SQLite interposition tests (test_sql_sqlite.c).
 *
 *   sql_sqlite calls N    one parameterized query (prepared once, run N times with bindings),
 *                         one literal-inline query (prepared, run and finalized N times with a
 *                         different literal each time), N sqlite3_exec inserts with literals,
 *                         a UTF-16 prepare, sqlite3_open16 + sqlite3_prepare (v1) +
 *                         sqlite3_prepare16_v3 + sqlite3_close_v2, an exec whose row callback
 *                         runs a nested query; everything finalized and closed.
 *   sql_sqlite leaks      a never-finalized sqlite3_stmt (leak_statement), an sqlite3_exec error
 *                         message never passed to sqlite3_free (leak_exec_error), and therefore a
 *                         connection that cannot close (sqlite3_close returns SQLITE_BUSY).
 *   sql_sqlite threads N  4 threads, each with its own connection, run one query N times.
 *   sql_sqlite fork       a query in the parent, the same query in a forked child (which prints
 *                         "child PID"): the child's trace must carry the query text again.
 *   sql_sqlite watch      a watched counter written twice in an sqlite3_exec row callback (the
 *                         write events carry the query's fingerprint) and once outside any query.
 *   sql_sqlite api        memwatch_sql_begin/end by hand (two nested contexts, ended out of
 *                         order), 1000 bytes allocated in the first, 500 (leaked) + 300 in the
 *                         second.
 * Prints one line per phase; exits 0 when every SQLite call did what it should.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memwatch.h"

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
    /* UTF-16 text */
    static const uint16_t q16[] = {'S', 'E', 'L', 'E', 'C', 'T', ' ', 'c', 'o', 'u', 'n', 't', '(',
                                   'n', 'a', 'm', 'e', ')', ' ', 'F', 'R', 'O', 'M', ' ', 't', ' ',
                                   'W', 'H', 'E', 'R', 'E', ' ', 'i', 'd', ' ', '>', ' ', '5', 0};
    if (sqlite3_prepare16_v2(db, q16, -1, &st, NULL) || sqlite3_step(st) != SQLITE_ROW)
        return fail(db, "prepare16");
    sqlite3_finalize(st);
    /* the other entry points: open16, prepare (v1), prepare16_v3, close_v2 */
    static const uint16_t mem16[] = {':', 'm', 'e', 'm', 'o', 'r', 'y', ':', 0};
    static const uint16_t v3[] = {'S', 'E', 'L', 'E', 'C', 'T', ' ', '2', ' ', 'A', 'S', ' ', 'v', '3', 0};
    sqlite3 *db2;
    if (sqlite3_open16(mem16, &db2) != SQLITE_OK)
        return fail(db2, "open16");
    if (sqlite3_prepare(db2, "SELECT 1 AS v1", -1, &st, NULL) || sqlite3_step(st) != SQLITE_ROW)
        return fail(db2, "prepare v1");
    sqlite3_finalize(st);
    if (sqlite3_prepare16_v3(db2, v3, -1, 0, &st, NULL) || sqlite3_step(st) != SQLITE_ROW)
        return fail(db2, "prepare16_v3");
    sqlite3_finalize(st);
    if (sqlite3_close_v2(db2) != SQLITE_OK)
        return fail(NULL, "close_v2");
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

static int g_thread_n;

static void *thread_main(void *arg)
{
    (void)arg;
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return (void *)1;
    for (int i = 0; i < g_thread_n; i++) {
        sqlite3_stmt *st;
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT %d + %d", i, i * 7);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != i * 8)
            return (void *)1;
        sqlite3_finalize(st);
    }
    return sqlite3_close(db) == SQLITE_OK ? NULL : (void *)1;
}

static int run_threads(int n)
{
    pthread_t th[4];
    void *r;
    int bad = 0;
    g_thread_n = n;
    for (int i = 0; i < 4; i++)
        if (pthread_create(&th[i], NULL, thread_main, NULL))
            return 1;
    for (int i = 0; i < 4; i++)
        bad |= pthread_join(th[i], &r) || r != NULL;
    if (!bad)
        printf("threads %d done\n", n);
    return bad;
}

static int run_fork(sqlite3 *db)
{
    if (sqlite3_exec(db, "SELECT 1 WHERE 'a' = 'a'", NULL, NULL, NULL))
        return fail(db, "parent query");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        sqlite3 *db2;
        if (sqlite3_open(":memory:", &db2) || sqlite3_exec(db2, "SELECT 2 WHERE 'b' = 'b'", NULL, NULL, NULL))
            _exit(1);
        sqlite3_close(db2);
        printf("child %d\n", (int)getpid());
        exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static volatile long g_counter;

static int bump(void *arg, int n, char **values, char **names)
{
    (void)arg, (void)n, (void)values, (void)names;
    g_counter += 1;
    return 0;
}

static int run_watch(sqlite3 *db)
{
    if (!MEMWATCH_PRESENT()) {
        printf("no memwatch\n");
        return 0;
    }
    int64_t id = memwatch_watch((void *)&g_counter, sizeof g_counter, "counter", MEMWATCH_TRACK_SQL);
    if (id <= 0) {
        fprintf(stderr, "sql_sqlite: memwatch_watch: %lld\n", (long long)id);
        return 1;
    }
    if (sqlite3_exec(db, "SELECT 1 UNION ALL SELECT 2", bump, NULL, NULL))
        return fail(db, "watch exec");
    g_counter = 100;
    memwatch_unwatch(id);
    printf("watch done %ld\n", g_counter);
    return 0;
}

static char *g_api_leak;

static int run_api(void)
{
    if (!MEMWATCH_PRESENT()) {
        printf("no memwatch\n");
        return 0;
    }
    uint64_t a = memwatch_sql_begin("redis", "GET user:42 /* cache */");
    char *p = malloc(1000);
    uint64_t b = memwatch_sql_begin("postgres", "SELECT * FROM x WHERE y = 'z'");
    g_api_leak = malloc(500);
    memwatch_sql_end(a); /* out of order: b stays in force */
    char *q = malloc(300);
    memwatch_sql_end(b);
    memwatch_sql_end(0);
    if (!p || !q || !g_api_leak || !a || !b || a == b)
        return 1;
    free(p);
    free(q);
    printf("api done\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sql_sqlite calls N | leaks | threads N | fork | watch | api\n");
        return 2;
    }
    if (strcmp(argv[1], "threads") == 0)
        return run_threads(argc > 2 ? atoi(argv[2]) : 20);
    if (strcmp(argv[1], "api") == 0)
        return run_api();
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
    if (strcmp(argv[1], "watch") == 0) {
        int rc = run_watch(db);
        return sqlite3_close(db) == SQLITE_OK ? rc : 1;
    }
    if (strcmp(argv[1], "fork") == 0) {
        int rc = run_fork(db);
        return sqlite3_close(db) == SQLITE_OK ? rc : 1;
    }
    fprintf(stderr, "sql_sqlite: unknown mode %s\n", argv[1]);
    return 2;
}
