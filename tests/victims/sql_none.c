/*
 * sql_none.c — victim without SQL, for test_sql_interpose.c. It links neither SQLite nor libpq.
 *
 *   sql_none          a few allocations, one leaked: its report must have no SQL section.
 *   sql_none probe    looks sqlite3_open and PQconnectdb up with dlsym(RTLD_DEFAULT) and calls
 *                     them if found (under the shim they are its hooks, with no library behind
 *                     them: they must fail cleanly); prints what happened.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int probe(void)
{
    int (*open_fn)(const char *, void **) = (int (*)(const char *, void **))dlsym(RTLD_DEFAULT, "sqlite3_open");
    void *(*connect_fn)(const char *) = (void *(*)(const char *))dlsym(RTLD_DEFAULT, "PQconnectdb");
    if (!open_fn && !connect_fn) {
        printf("absent\n");
        return 0;
    }
    void *db = (void *)1, *conn = (void *)1;
    int rc = open_fn ? open_fn(":memory:", &db) : -1;
    if (connect_fn)
        conn = connect_fn("host=/nonexistent");
    printf("sqlite3_open=%d db=%s PQconnectdb=%s\n", rc, db ? "set" : "null", conn ? "set" : "null");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "probe") == 0)
        return probe();
    char *keep = malloc(100);
    for (int i = 0; i < 10; i++) {
        char *p = malloc(32 + (size_t)i);
        memset(p, i, 32);
        free(p);
    }
    if (!keep)
        return 1;
    strcpy(keep, "leaked on purpose");
    printf("%s\n", keep);
    return 0;
}
