/*
 * examples/leaky_server.c — the program `make demo` runs under the shim.
 *
 * A tiny "request handler" loop with the mistakes memwatch is built to find: a cache that
 * grows and is never trimmed (still reachable), a per-request buffer leaked on an error path
 * (definitely lost), a lost linked list (definitely lost head, indirectly lost nodes), an
 * SQLite statement that is never finalized (leaked SQL resource) and a temporary buffer
 * churned on every request. It prints a summary line and exits 0, exactly as it would without
 * memwatch.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; char payload[48]; };

static char **g_cache;          /* grows forever: still reachable at exit */
static size_t g_cache_len;

static void cache_put(const char *key)
{
    char **grown = realloc(g_cache, (g_cache_len + 1) * sizeof *g_cache);
    if (!grown) return;
    g_cache = grown;
    g_cache[g_cache_len++] = strdup(key);
}

static int handle_request(sqlite3 *db, int id)
{
    char *scratch = malloc(256);                 /* temporary: freed right away */
    snprintf(scratch, 256, "request %d", id);
    free(scratch);

    char *body = malloc(128);                    /* leaked on the error path below */
    snprintf(body, 128, "body of request %d", id);
    if (id % 10 == 7) return -1;                 /* oops: body is never freed */

    sqlite3_stmt *st = NULL;
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT INTO hits(id, body) VALUES (%d, 'x')", id);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    if (id % 25 == 0) cache_put(body);
    free(body);
    return 0;
}

static struct node *volatile g_last_list; /* keeps the compiler from eliding the list */

static void build_lost_list(void)
{
    struct node *head = NULL;
    for (int i = 0; i < 5; i++) {
        struct node *n = calloc(1, sizeof *n);
        n->next = head;
        head = n;
    }
    g_last_list = head;
    g_last_list = NULL;                           /* the whole list is lost */
}

int main(void)
{
    /* Printing first makes stdio allocate stdout's buffer now, from fresh memory. Allocated
     * late, it would recycle memory SQLite freed, and the stale pointers left in its unwritten
     * bytes would make the lost connection look reachable to any native conservative scan
     * (README: reachability limits); valgrind ignores such uninitialised words. */
    printf("leaky_server: handling 100 requests\n");
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
    sqlite3_exec(db, "CREATE TABLE hits(id INTEGER, body TEXT)", NULL, NULL, NULL);

    int errors = 0;
    for (int id = 1; id <= 100; id++)
        if (handle_request(db, id) != 0) errors++;
    build_lost_list();

    sqlite3_stmt *forgotten = NULL;               /* never finalized */
    sqlite3_prepare_v2(db, "SELECT count(*) FROM hits WHERE id > 3", -1, &forgotten, NULL);
    sqlite3_step(forgotten);

    printf("handled 100 requests, %d errors, cache holds %zu entries\n", errors, g_cache_len);
    return 0;
}
