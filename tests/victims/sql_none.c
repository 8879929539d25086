/*
 * sql_none.c — victim without any SQL (test_sql_sqlite.c: no SQL section in its report): a few
 * allocations, one of them leaked, in a program that links neither SQLite nor libpq.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
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
