/*
 * test_alerts_rules.c — alert rules (analyzer/alerts.c): defaults, the config file and
 * key=value parser with its errors, and the replay over samples: thresholds, ratio, growth
 * windows, pattern verdicts, per-rule cooldown and the per-hour cap.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerts.h"

#define MiB 1048576.0

static char tmpdir[64];

static const char *write_file(const char *name, const char *text)
{
    static char path[160];
    if (!tmpdir[0]) {
        strcpy(tmpdir, "/tmp/mw_alerts_XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void cleanup_tmp(void)
{
    if (!tmpdir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
    tmpdir[0] = 0;
}

Test(alert_config, defaults_from_the_seeds)
{
    mw_alert_config c;
    mw_alert_config_default(&c);
    cr_assert_eq(c.threshold[MW_AR_RSS], 200 * MiB);
    cr_assert_eq(c.threshold[MW_AR_EXTERNAL], 150 * MiB);
    cr_assert_eq(c.threshold[MW_AR_EXTERNAL_CRITICAL], 600 * MiB);
    cr_assert_eq(c.threshold[MW_AR_EXTERNAL_RATIO], 4.0);
    cr_assert_eq(c.threshold[MW_AR_HEAP_GROWTH], 1 * MiB);
    cr_assert_eq(c.cooldown_s, 120);
    cr_assert_eq(c.max_per_hour, 10);
    cr_assert_str_eq(mw_alert_rule_name(MW_AR_EXTERNAL_RATIO), "external_ratio");
    cr_assert_str_eq(mw_alert_rule_name(99), "?");
}

Test(alert_config, values_and_errors)
{
    mw_alert_config c;
    mw_alert_config_default(&c);
    char err[400];
    cr_assert_eq(mw_alert_config_set(&c, "heap_bytes", "1.5GiB", err, sizeof err), 0);
    cr_assert_eq(c.threshold[MW_AR_HEAP], 1.5 * 1024 * MiB);
    cr_assert_eq(mw_alert_config_set(&c, "rss_bytes", "64KB", err, sizeof err), 0);
    cr_assert_eq(c.threshold[MW_AR_RSS], 65536);
    cr_assert_eq(mw_alert_config_set(&c, "rss_bytes", "off", err, sizeof err), 0);
    cr_assert_eq(c.threshold[MW_AR_RSS], 0);
    cr_assert_eq(mw_alert_config_set(&c, "cooldown_s", "2m", err, sizeof err), 0);
    cr_assert_eq(c.cooldown_s, 120);
    cr_assert_eq(mw_alert_config_set_kv(&c, " max_per_hour = 3 ", err, sizeof err), 0);
    cr_assert_eq(c.max_per_hour, 3);
    cr_assert_eq(mw_alert_config_set(&c, "heap_bytes", "12Q", err, sizeof err), -1);
    cr_assert(strstr(err, "heap_bytes") && strstr(err, "12Q"), "%s", err);
    cr_assert_eq(mw_alert_config_set(&c, "pattern_min_confidence", "1.5", err, sizeof err), -1);
    cr_assert_eq(mw_alert_config_set(&c, "max_per_hour", "2.5", err, sizeof err), -1);
    cr_assert_eq(mw_alert_config_set(&c, "growth_window_s", "0", err, sizeof err), -1);
    cr_assert_eq(mw_alert_config_set(&c, "rss_bytes", "-1", err, sizeof err), -1);
    cr_assert_eq(mw_alert_config_set(&c, "colour", "red", err, sizeof err), -1);
    cr_assert(strstr(err, "unknown key 'colour'"), "%s", err);
    cr_assert_eq(mw_alert_config_set_kv(&c, "novalue", err, sizeof err), -1);
    cr_assert_eq(mw_alert_config_set_kv(&c, "heap_bytes=", err, sizeof err), -1);
}

Test(alert_config, file_loading, .fini = cleanup_tmp)
{
    mw_alert_config c;
    mw_alert_config_default(&c);
    char err[400];
    const char *p = write_file("ok.conf", "# thresholds for CI\n\n  heap_bytes = 8M  # small\n"
                                          "external_ratio=2.5\ncooldown_s = 1s\n");
    cr_assert_eq(mw_alert_config_load(&c, p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.threshold[MW_AR_HEAP], 8 * MiB);
    cr_assert_eq(c.threshold[MW_AR_EXTERNAL_RATIO], 2.5);
    cr_assert_eq(c.cooldown_s, 1);
    p = write_file("bad.conf", "heap_bytes = 8M\n\nthis line has no equals sign\n");
    cr_assert_eq(mw_alert_config_load(&c, p, err, sizeof err), -1);
    cr_assert(strstr(err, "bad.conf:3:"), "%s", err);
    p = write_file("bad2.conf", "rss_bytes = lots\n");
    cr_assert_eq(mw_alert_config_load(&c, p, err, sizeof err), -1);
    cr_assert(strstr(err, "bad2.conf:1:") && strstr(err, "lots"), "%s", err);
    cr_assert_eq(mw_alert_config_load(&c, "/nonexistent/x.conf", err, sizeof err), -1);
    cr_assert(strstr(err, "/nonexistent/x.conf"), "%s", err);
}

/* The path may name anything: a file with a NUL byte in it is not read as its lines up to
 * the NUL (the rest of such a line vanished, and the file passed), and an endless one
 * (/dev/zero, a line of NULs at a time) ends with an error instead of being read forever. */
Test(alert_config, binary_and_endless_files_are_refused, .fini = cleanup_tmp, .timeout = 60)
{
    mw_alert_config c;
    mw_alert_config_default(&c);
    char err[400];
    const char *p = write_file("nul.conf", "heap_bytes = 8M\n");
    FILE *f = fopen(p, "a");
    cr_assert_not_null(f);
    fwrite("\0rss_bytes = lots\n", 1, 18, f);
    fclose(f);
    cr_assert_eq(mw_alert_config_load(&c, p, err, sizeof err), -1);
    cr_assert(strstr(err, "nul.conf: not a text file"), "%s", err);
    cr_assert_eq(mw_alert_config_load(&c, "/dev/zero", err, sizeof err), -1);
    cr_assert(strstr(err, "/dev/zero: larger than 1048576 bytes"), "%s", err);
    cr_assert_eq(mw_alert_config_load(&c, "/tmp", err, sizeof err), -1);
    cr_assert(strstr(err, "/tmp: Is a directory"), "%s", err);
}

static mw_alert_config quiet(void)
{
    mw_alert_config c;
    mw_alert_config_default(&c);
    for (int r = 0; r < MW_AR_COUNT; r++) c.threshold[r] = 0;
    return c;
}

Test(alert_eval, threshold_with_cooldown)
{
    mw_alert_config c = quiet();
    c.threshold[MW_AR_RSS] = 100 * MiB;
    c.cooldown_s = 120;
    c.max_per_hour = 0;
    mw_alert_sample s[400];
    for (int i = 0; i < 400; i++) s[i] = (mw_alert_sample){i, 1 * MiB, (i < 50 ? 50 : 150) * MiB, 0};
    mw_alert_list l;
    cr_assert_eq(mw_alerts_evaluate(&c, s, 400, NULL, NULL, NULL, &l), 0);
    cr_assert_eq(l.n, 3); /* t = 50, 170, 290 */
    cr_assert_eq(l.v[0].t, 50);
    cr_assert_eq(l.v[1].t, 170);
    cr_assert_eq(l.v[2].t, 290);
    for (size_t i = 1; i < l.n; i++) cr_assert(l.v[i].t - l.v[i - 1].t >= c.cooldown_s);
    cr_assert_str_eq(mw_alert_rule_name(l.v[0].rule), "rss");
    cr_assert_str_eq(l.v[0].series, "rss");
    cr_assert_eq(l.v[0].value, 150 * MiB);
    cr_assert_eq(l.v[0].threshold, 100 * MiB);
    cr_assert(strstr(l.v[0].message, "150.0 MiB"), "%s", l.v[0].message);
    cr_assert_eq(l.held_by_cooldown, 350 - 3);
    mw_alert_list_free(&l);
}

Test(alert_eval, per_hour_cap_across_rules)
{
    mw_alert_config c = quiet();
    c.threshold[MW_AR_RSS] = 100 * MiB;
    c.threshold[MW_AR_HEAP] = 10 * MiB;
    c.cooldown_s = 60;
    c.max_per_hour = 5;
    mw_alert_sample s[5000];
    for (int i = 0; i < 5000; i++) s[i] = (mw_alert_sample){i, 20 * MiB, 150 * MiB, 0};
    mw_alert_list l;
    cr_assert_eq(mw_alerts_evaluate(&c, s, 5000, NULL, NULL, NULL, &l), 0);
    /* 2 rules every 60 s would be 2 per minute; the cap allows 5 in any hour */
    for (size_t i = 0; i < l.n; i++) {
        size_t in_hour = 0;
        for (size_t j = 0; j <= i; j++) in_hour += l.v[i].t - l.v[j].t < 3600;
        cr_assert(in_hour <= 5, "alert %zu: %zu within the hour", i, in_hour);
    }
    cr_assert(l.n >= 10 && l.n <= 12, "%zu", l.n); /* 5 in the first hour, 5 more after */
    /* fired + dropped = every alert the two rules would raise: at 0, 60, ..., 4980 s each */
    cr_assert_eq(l.n + l.dropped_by_cap, 2 * 84, "%zu + %zu", l.n, l.dropped_by_cap);
    mw_alert_list_free(&l);
}

Test(alert_eval, ratio_needs_heap)
{
    mw_alert_config c = quiet();
    c.threshold[MW_AR_EXTERNAL_RATIO] = 4;
    c.ratio_min_heap_bytes = 1 * MiB;
    mw_alert_sample s[3] = {{0, 0.5 * MiB, 10 * MiB, 9 * MiB},   /* heap too small */
                            {1, 2 * MiB, 6 * MiB, 3 * MiB},      /* ratio 1.5 */
                            {2, 2 * MiB, 20 * MiB, 10 * MiB}};   /* ratio 5 */
    mw_alert_list l;
    mw_alerts_evaluate(&c, s, 3, NULL, NULL, NULL, &l);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.v[0].t, 2);
    cr_assert_float_eq(l.v[0].value, 5.0, 1e-12);
    cr_assert_str_eq(l.v[0].series, "external");
    mw_alert_list_free(&l);
}

Test(alert_eval, growth_rate_over_window)
{
    mw_alert_config c = quiet();
    c.threshold[MW_AR_HEAP_GROWTH] = 1 * MiB;
    c.growth_window_s = 1;
    c.cooldown_s = 1000;
    mw_alert_sample s[300];
    for (int i = 0; i < 300; i++) {
        double t = i * 0.01;
        s[i] = (mw_alert_sample){t, (t < 1.5 ? 4 : 4 + 2 * (t - 1.5)) * MiB, 50 * MiB, 0};
    }
    mw_alert_list l;
    mw_alerts_evaluate(&c, s, 300, NULL, NULL, NULL, &l);
    cr_assert_eq(l.n, 1);
    cr_assert_str_eq(mw_alert_rule_name(l.v[0].rule), "heap_growth");
    cr_assert(l.v[0].t > 1.5 && l.v[0].t < 2.5, "t %f", l.v[0].t);
    cr_assert(l.v[0].value > 1 * MiB && l.v[0].value <= 2.01 * MiB, "%f", l.v[0].value);
    mw_alert_list_free(&l);
}

Test(alert_eval, pattern_verdicts)
{
    mw_alert_config c = quiet();
    c.threshold[MW_AR_PATTERN] = 0.7;
    mw_alert_sample s[2] = {{0, 1, 1, 0}, {5, 1, 1, 0}};
    mw_pattern leak = {.type = MW_PAT_LEAK, .confidence = 0.9, .growth_bytes_per_s = 2 * MiB};
    mw_pattern weak = {.type = MW_PAT_EXPONENTIAL, .confidence = 0.5};
    mw_pattern spike = {.type = MW_PAT_SPIKE, .confidence = 0.99};
    mw_alert_list l;
    mw_alerts_evaluate(&c, s, 2, &leak, &weak, &spike, &l);
    cr_assert_eq(l.n, 1);
    cr_assert_str_eq(mw_alert_rule_name(l.v[0].rule), "pattern");
    cr_assert_str_eq(l.v[0].series, "heap");
    cr_assert_str_eq(l.v[0].severity, "critical");
    cr_assert_eq(l.v[0].t, 5);
    cr_assert(strstr(l.v[0].message, "leak"));
    mw_alert_list_free(&l);
    mw_alerts_evaluate(&c, s, 0, &leak, NULL, NULL, &l);
    cr_assert_eq(l.n, 0);
}
