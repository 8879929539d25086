/*
 * test_sql_map.c — unit tests of the SQL hooks' handle -> query table (preload/sql_map.c,
 * included directly: it uses nothing of the shim but raw mmap syscalls).
 */
#include <criterion/criterion.h>

#include "../../preload/sql_map.c"

static mw_sql_entry entry(uint64_t key, uint64_t fp, uint64_t aux)
{
    mw_sql_entry e = {.key = key, .fp = fp, .ctx = key * 3, .aux = aux, .state = 1, .db = 2};
    return e;
}

Test(sql_map, put_get_take)
{
    mw_sql_map *m = &mw_sql_stmts;
    mw_sql_entry e = entry(0x5000, 77, 0), out;
    cr_assert(mw_sql_map_put(m, &e));
    cr_assert(mw_sql_map_get(m, 0x5000, &out));
    cr_assert_eq(out.fp, 77);
    cr_assert_eq(out.ctx, 0x5000 * 3);
    e.fp = 78; /* replace */
    cr_assert(mw_sql_map_put(m, &e));
    cr_assert(mw_sql_map_get(m, 0x5000, &out));
    cr_assert_eq(out.fp, 78);
    cr_assert(mw_sql_map_take(m, 0x5000, &out));
    cr_assert_eq(out.fp, 78);
    cr_assert_not(mw_sql_map_get(m, 0x5000, &out));
    cr_assert_not(mw_sql_map_take(m, 0x5000, NULL));
    /* reserved keys are refused */
    e.key = 0;
    cr_assert_not(mw_sql_map_put(m, &e));
    e.key = 1;
    cr_assert_not(mw_sql_map_put(m, &e));
}

Test(sql_map, grows_and_reuses_tombstones)
{
    mw_sql_map *m = &mw_sql_pending;
    enum { N = 20000 };
    for (uint64_t i = 0; i < N; i++) {
        mw_sql_entry e = entry(0x10000 + i * 16, i, 0);
        cr_assert(mw_sql_map_put(m, &e));
    }
    for (uint64_t i = 0; i < N; i += 2)
        cr_assert(mw_sql_map_take(m, 0x10000 + i * 16, NULL));
    for (uint64_t i = 0; i < N; i++) {
        mw_sql_entry out;
        bool found = mw_sql_map_get(m, 0x10000 + i * 16, &out);
        cr_assert_eq(found, i % 2 == 1, "key %llu", (unsigned long long)i);
        if (found)
            cr_assert_eq(out.fp, i);
    }
    /* churn: many put/take cycles must not fill the table with tombstones */
    for (uint64_t r = 0; r < 200000; r++) {
        mw_sql_entry e = entry(0x900000 + (r % 64) * 8, r, 0);
        cr_assert(mw_sql_map_put(m, &e));
        cr_assert(mw_sql_map_take(m, e.key, NULL));
    }
    size_t live = 0;
    for (unsigned k = 0; k < SHARDS; k++)
        live += m->s[k].live;
    cr_assert_eq(live, N / 2);
}

Test(sql_map, drop_aux_removes_an_owners_entries)
{
    mw_sql_map *m = &mw_sql_named;
    for (uint64_t i = 0; i < 100; i++) {
        mw_sql_entry e = entry(0x7000 + i * 8, i, i % 3 == 0 ? 0xAAA : 0xBBB);
        cr_assert(mw_sql_map_put(m, &e));
    }
    mw_sql_map_drop_aux(m, 0xAAA);
    for (uint64_t i = 0; i < 100; i++)
        cr_assert_eq(mw_sql_map_get(m, 0x7000 + i * 8, NULL), i % 3 != 0);
    mw_sql_map_after_fork(); /* locks reset: still usable */
    cr_assert(mw_sql_map_get(m, 0x7000 + 8, NULL));
}
