/*
 * test_analyzer_failon.c — the --fail-on grammar: metrics, K/M/G suffixes, spaces, several
 * conditions, malformed expressions (with the column named), and evaluation on a model.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "failon.h"

static mw_failon f;
static char err[512];

Test(failon, single_condition)
{
    cr_assert_eq(mw_failon_parse(&f, "leaked>0", err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.n, 1);
    cr_assert_eq(f.c[0].metric, MW_M_LEAKED);
    cr_assert_eq(f.c[0].threshold, 0);
}

Test(failon, every_metric_and_suffixes)
{
    cr_assert_eq(mw_failon_parse(&f, "leaked>1,unfreed>2k,definite>3K,indirect>4m,reachable>5M,"
                                     "peak_heap>6g,peak_rss>7G,lost_events>8",
                                 err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.n, 8);
    cr_assert_eq(f.c[1].metric, MW_M_UNFREED);
    cr_assert_eq(f.c[1].threshold, 2048);
    cr_assert_eq(f.c[2].threshold, 3072);
    cr_assert_eq(f.c[3].threshold, 4ull << 20);
    cr_assert_eq(f.c[4].threshold, 5ull << 20);
    cr_assert_eq(f.c[5].metric, MW_M_PEAK_HEAP);
    cr_assert_eq(f.c[5].threshold, 6ull << 30);
    cr_assert_eq(f.c[6].metric, MW_M_PEAK_RSS);
    cr_assert_eq(f.c[7].metric, MW_M_LOST_EVENTS);
    cr_assert_eq(f.c[7].threshold, 8);
}

Test(failon, spaces_allowed)
{
    cr_assert_eq(mw_failon_parse(&f, " leaked > 10 , peak_rss>512M ", err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.n, 2);
    cr_assert_eq(f.c[0].threshold, 10);
    cr_assert_eq(f.c[1].threshold, 512ull << 20);
}

Test(failon, malformed_expressions_are_rejected)
{
    const char *bad[] = {"", "leaked", "leaked>", "leaked<0", "bogus>1", "leaked>1x",
                         "leaked>1,", ",leaked>1", "leaked>>1", "leaked>-1", "leaked=1",
                         "leaked>99999999999999999999", "leaked>99999999999999G", "peak_rss>1T"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_expect_eq(mw_failon_parse(&f, bad[i], err, sizeof err), -1, "'%s' accepted", bad[i]);
        cr_expect(strlen(err) > 0 && !strchr(err, '\n'), "one-line error for '%s': %s", bad[i], err);
    }
    mw_failon_parse(&f, "bogus>1", err, sizeof err);
    cr_assert(strstr(err, "unknown metric 'bogus'"), "%s", err);
    mw_failon_parse(&f, "leaked>1,peak_rss 5", err, sizeof err);
    cr_assert(strstr(err, "column 19"), "names the column: %s", err);
}

Test(failon, evaluation_on_a_process)
{
    mw_proc *p = mw_proc_new("x");
    p->leak_bytes[MW_REACH_DEFINITE] = 100;
    p->leak_bytes[MW_REACH_INDIRECT] = 20;
    p->leak_bytes[MW_REACH_REACHABLE] = 7;
    p->peak_heap = 5000;
    p->peak_rss = 3 << 20;
    p->peak_prog_rss = 1 << 20; /* the program's part of it: memwatch's own memory left out */
    p->lost_events = 0;
    char out[256];
    cr_assert_eq(mw_failon_parse(&f, "leaked>119,unfreed>127,reachable>6,lost_events>0", err,
                                 sizeof err), 0);
    cr_assert_eq(mw_failon_eval(&f, p, out, sizeof out), 2);
    cr_assert_str_eq(out, "leaked=120 > 119, reachable=7 > 6");
    cr_assert_eq(mw_failon_parse(&f, "leaked>120,peak_rss>1M,peak_heap>5000", err, sizeof err), 0);
    cr_assert_eq(mw_failon_eval(&f, p, out, sizeof out), 0, "equal values do not exceed: %s", out);
    cr_assert_eq(mw_failon_parse(&f, "definite>99,indirect>19", err, sizeof err), 0);
    cr_assert_eq(mw_failon_eval(&f, p, NULL, 0), 2);
    mw_proc_free(p);
}
