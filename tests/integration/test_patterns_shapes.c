/*
 * test_patterns_shapes.c — growth patterns end to end: victims with known shapes
 * (tests/victims/shape_*.c) run under the real shim with MEMWATCH_RSS_MS=10, the real
 * memwatch-analyze turns each trace into a JSON report, and the tests check the verdict of the
 * HEAP series (patterns.heap: type and confidence >= 0.8), the leak/linear victims' growth
 * rate against the rate the trace itself records (live leak blocks over the trace's duration,
 * cross-checked with the victim's own clock) within 20 %, their
 * leaking function first in growth_sites[], and alerts (cooldown, per-hour cap, config file
 * errors). The JSON is flattened to "path=value" lines by a small python3 program.
 *
 * Each victim runs ~2.5 s; the binary takes ~16 s on 2 busy cores (9 victims, 2 at a time).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mwtest.h"

/* Flattens a JSON report: one "a.b.0.c=value" line per scalar, series arrays skipped. */
static const char FLATTEN_PY[] =
    "import json,sys\n"
    "def walk(p,v):\n"
    "  if isinstance(v,dict):\n"
    "    for k,x in v.items():\n"
    "      if k=='series': continue\n"
    "      walk(p+[k],x)\n"
    "  elif isinstance(v,list):\n"
    "    print('.'.join(p+['n'])+'='+str(len(v)))\n"
    "    for i,x in enumerate(v): walk(p+[str(i)],x)\n"
    "  else:\n"
    "    print('.'.join(p)+'='+('null' if v is None else str(v).replace('\\n',' ')))\n"
    "walk([],json.load(open(sys.argv[1])))\n";

typedef struct report {
    char *text; /* flattened lines */
} report;

static const char *jget(const report *r, const char *key)
{
    static char val[4][512];
    static int slot;
    size_t kl = strlen(key);
    for (const char *p = r->text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            char *v = val[slot++ % 4];
            size_t vl = len - kl - 1 < 511 ? len - kl - 1 : 511;
            memcpy(v, p + kl + 1, vl);
            v[vl] = 0;
            return v;
        }
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

static double jnum(const report *r, const char *key)
{
    const char *v = jget(r, key);
    cr_assert_not_null(v, "key %s missing from the report", key);
    return strtod(v, NULL);
}

/* Runs memwatch-analyze TRACE --format FMT -o OUT [extra...]; returns the exit code. */
static int analyze(const char *trace, const char *fmt, const char *out, const char *const *extra,
                   mwt_run *run)
{
    char analyzer[1200];
    snprintf(analyzer, sizeof analyzer, "%s/memwatch-analyze", mwt_build_dir());
    const char *argv[24] = {analyzer, trace, "--db", ":memory:", "--format", fmt, "-o", out};
    size_t n = 8;
    for (size_t i = 0; extra && extra[i] && n < 22; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = argv, .timeout_ms = 60000}, run), 0);
    return run->exit_code;
}

typedef struct shape {
    char *dir;
    char trace[1100];
    mwt_run victim;
    report json;
} shape;

static void load_json(const char *path, report *rep)
{
    const char *argv[] = {"python3", "-c", FLATTEN_PY, path, NULL};
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = argv}, &r), 0);
    cr_assert_eq(r.exit_code, 0, "flattening %s failed: %s", path, r.err);
    rep->text = r.out;
    r.out = NULL;
    mwt_run_free(&r);
}

/* Runs victim shape_NAME under the shim (SIGKILLed after kill_ms when non-zero) and analyzes
 * its trace to JSON (extra flags). */
static void run_shape_k(const char *name, shape *s, const char *const *extra, unsigned kill_ms)
{
    memset(s, 0, sizeof *s);
    s->dir = mwt_tmpdir();
    cr_assert_not_null(s->dir);
    char vname[64];
    snprintf(vname, sizeof vname, "shape_%s", name);
    const char *argv[] = {mwt_victim(vname), NULL};
    snprintf(s->trace, sizeof s->trace, "%s/%s.trace.zst", s->dir, name);
    char out_env[1200];
    snprintf(out_env, sizeof out_env, "MEMWATCH_OUT=%s", s->trace);
    const char *env[] = {"MEMWATCH_RSS_MS=10", out_env, NULL};
    cr_assert_eq(mwt_spawn(&(mwt_opts){.argv = argv, .env = env, .preload = true,
                                       .timeout_ms = 60000, .signal_after_ms = kill_ms,
                                       .signal_no = kill_ms ? SIGKILL : 0},
                           &s->victim),
                 0);
    if (kill_ms) cr_assert_eq(s->victim.term_signal, SIGKILL, "%s was not killed", vname);
    else cr_assert_eq(s->victim.exit_code, 0, "%s failed: %s", vname, s->victim.err);
    char json[1200];
    snprintf(json, sizeof json, "%s/report.json", s->dir);
    mwt_run ar;
    int rc = analyze(s->trace, "json", json, extra, &ar);
    cr_assert_eq(rc, 0, "memwatch-analyze exit %d: %s", rc, ar.err);
    mwt_run_free(&ar);
    load_json(json, &s->json);
}

static void run_shape(const char *name, shape *s, const char *const *extra)
{
    run_shape_k(name, s, extra, 0);
}

static void shape_free(shape *s)
{
    free(s->json.text);
    mwt_run_free(&s->victim);
    mwt_rmtree(s->dir);
    free(s->dir);
}

static void assert_heap(const shape *s, const char *type)
{
    const char *t = jget(&s->json, "patterns.heap.type");
    cr_assert_not_null(t, "no patterns.heap in the report");
    cr_assert_str_eq(t, type, "heap classified %s, expected %s: %s", t, type,
                     jget(&s->json, "patterns.heap.explanation"));
    double c = jnum(&s->json, "patterns.heap.confidence");
    cr_assert(c >= 0.8, "confidence %.3f < 0.8: %s", c,
              jget(&s->json, "patterns.heap.explanation"));
}

/* The leak rate the trace itself records: 16 KiB leak chunks still live at the end, over
 * the trace's duration; checked against what the victim measured with its own clock
 * ("leaked BYTES bytes in SECONDS s"). */
static double trace_rate(const shape *s)
{
    mwt_trace t;
    cr_assert_eq(mwt_trace_load(s->trace, &t), 0, "%s", t.err);
    double rate = (double)mwt_live_of_size(&t, 16384) * 16384 / ((double)t.last_t_ns / 1e9);
    mwt_trace_free(&t);
    unsigned long long bytes = 0;
    double secs = 0;
    if (sscanf(s->victim.out, "leaked %llu bytes in %lf s", &bytes, &secs) == 2 && secs > 0)
        cr_assert(fabs(rate - (double)bytes / secs) <= 0.05 * rate, "trace %.0f B/s, victim %.0f",
                  rate, (double)bytes / secs);
    return rate;
}

static void assert_rate_and_site(const shape *s)
{
    double truth = trace_rate(s), got = jnum(&s->json, "patterns.heap.growth_bytes_per_s");
    cr_assert(truth > 0 && fabs(got - truth) <= 0.2 * truth,
              "heap growth %.0f B/s, the trace records %.0f B/s", got, truth);
    cr_assert(jnum(&s->json, "growth_sites.n") >= 1);
    const char *fn = jget(&s->json, "growth_sites.0.stack.0.function");
    cr_assert_not_null(fn);
    cr_assert_str_eq(fn, "leak_chunk", "first growing site is %s", fn);
    double site_rate = jnum(&s->json, "growth_sites.0.growth_bytes_per_s");
    cr_assert(fabs(site_rate - truth) <= 0.2 * truth, "site %.0f B/s vs %.0f", site_rate, truth);
    /* the limit is known (physical memory at least), so a growing heap has a time to it */
    cr_assert_neq(strcmp(jget(&s->json, "patterns.heap.seconds_to_limit"), "null"), 0);
}

Test(patterns_shapes, leak, .timeout = 90)
{
    shape s;
    run_shape("leak", &s, NULL);
    assert_heap(&s, "leak");
    assert_rate_and_site(&s);
    cr_assert_str_eq(jget(&s.json, "growth_sites.n"), "1", "only the leak grows");
    shape_free(&s);
}

/* A server that never exits: killed mid-run, its truncated trace still shows the leak, the
 * leaking site, and when the limit will be reached. */
Test(patterns_shapes, leak_in_a_killed_process, .timeout = 90)
{
    shape s;
    run_shape_k("leak", &s, NULL, 1500);
    cr_assert_str_eq(jget(&s.json, "truncated"), "True");
    assert_heap(&s, "leak");
    double truth = trace_rate(&s), rate = jnum(&s.json, "patterns.heap.growth_bytes_per_s");
    cr_assert(truth > 0 && fabs(rate - truth) <= 0.2 * truth, "%.0f B/s, trace says %.0f B/s",
              rate, truth);
    cr_assert_str_eq(jget(&s.json, "growth_sites.0.stack.0.function"), "leak_chunk");
    cr_assert_neq(strcmp(jget(&s.json, "patterns.heap.seconds_to_limit"), "null"), 0);
    shape_free(&s);
}

Test(patterns_shapes, linear_sawtooth_on_a_ramp, .timeout = 90)
{
    shape s;
    run_shape("linear", &s, NULL);
    assert_heap(&s, "linear");
    assert_rate_and_site(&s);
    for (int i = 0; i < (int)jnum(&s.json, "growth_sites.n"); i++) {
        char k[64];
        snprintf(k, sizeof k, "growth_sites.%d.stack.0.function", i);
        cr_assert_str_neq(jget(&s.json, k), "pool_chunk", "the pool does not keep growing");
    }
    shape_free(&s);
}

Test(patterns_shapes, exponential, .timeout = 90)
{
    shape s;
    run_shape("exp", &s, NULL);
    assert_heap(&s, "exponential");
    cr_assert(jnum(&s.json, "patterns.heap.growth_bytes_per_s") > 4e6);
    /* the growing site is found although the victim frees everything just before exit */
    cr_assert_str_eq(jget(&s.json, "growth_sites.0.stack.0.function"), "grow");
    cr_assert_str_eq(jget(&s.json, "growth_sites.0.live_bytes"), "0");
    shape_free(&s);
}

Test(patterns_shapes, spike_in_every_format, .timeout = 90)
{
    shape s;
    run_shape("spike", &s, NULL);
    assert_heap(&s, "spike");
    cr_assert(jnum(&s.json, "patterns.heap.spikes.n") >= 1);
    double t = jnum(&s.json, "patterns.heap.spikes.0.t_s");
    cr_assert(t > 0.9 && t < 2.0, "spike at %.2f s, the victim holds it from 1.0 s for 0.25 s", t);
    cr_assert(jnum(&s.json, "patterns.heap.spikes.0.bytes") > 16.0 * 1048576);
    cr_assert_str_eq(jget(&s.json, "patterns.heap.seconds_to_limit"), "null");
    /* the verdict and its sentence reach the other formats too */
    static const char *const fmts[] = {"text", "md", "html"};
    static const char *const needle[] = {"heap      spike", "| heap | spike |", "<svg"};
    for (int i = 0; i < 3; i++) {
        char out[1200];
        snprintf(out, sizeof out, "%s/report.%s", s.dir, fmts[i]);
        mwt_run r;
        cr_assert_eq(analyze(s.trace, fmts[i], out, NULL, &r), 0, "%s", r.err);
        mwt_run_free(&r);
        FILE *f = fopen(out, "r");
        cr_assert_not_null(f);
        static char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        cr_assert(strstr(buf, needle[i]), "%s report lacks '%s'", fmts[i], needle[i]);
        cr_assert(strstr(buf, "heap jumped 1") && strstr(buf, "MiB above its"),
                  "%s report lacks the sentence", fmts[i]);
        if (i == 2) cr_assert(strstr(buf, "<circle"), "no spike marker in the HTML chart");
    }
    shape_free(&s);
}

Test(patterns_shapes, oscillating, .timeout = 90)
{
    shape s;
    run_shape("oscillate", &s, NULL);
    assert_heap(&s, "oscillating");
    double period = jnum(&s.json, "patterns.heap.period_s");
    cr_assert(period > 0.4 && period < 0.6, "period %.3f s, the victim's is 0.5 s", period);
    shape_free(&s);
}

Test(patterns_shapes, stable_churn, .timeout = 90)
{
    shape s;
    run_shape("stable", &s, NULL);
    assert_heap(&s, "stable");
    cr_assert_str_eq(jget(&s.json, "growth_sites.n"), "0");
    cr_assert_str_eq(jget(&s.json, "patterns.heap.seconds_to_limit"), "null");
    shape_free(&s);
}

/* Memory that no traced call explains: raw mmap system calls. The heap stays flat, RSS and
 * "external" grow at the rate the victim measured, and the external growth rule fires. */
Test(patterns_shapes, external_growth, .timeout = 90)
{
    shape s;
    const char *extra[] = {"--alert", "external_growth_bytes_per_s=1M", "--alert",
                           "growth_window_s=1", NULL};
    run_shape("external", &s, extra);
    cr_assert_str_eq(jget(&s.json, "patterns.heap.type"), "stable", "%s",
                     jget(&s.json, "patterns.heap.explanation"));
    cr_assert_str_eq(jget(&s.json, "patterns.external.type"), "leak", "%s",
                     jget(&s.json, "patterns.external.explanation"));
    cr_assert(jnum(&s.json, "patterns.external.confidence") >= 0.8);
    unsigned long long bytes = 0;
    double secs = 0;
    cr_assert_eq(sscanf(s.victim.out, "mapped %llu bytes in %lf s", &bytes, &secs), 2);
    double truth = (double)bytes / secs, got = jnum(&s.json, "patterns.external.growth_bytes_per_s");
    cr_assert(fabs(got - truth) <= 0.2 * truth, "external %.0f B/s, victim %.0f B/s", got, truth);
    cr_assert_str_eq(jget(&s.json, "growth_sites.n"), "0", "no traced site grows");
    bool fired = false;
    for (int i = 0; i < (int)jnum(&s.json, "alerts.n") && !fired; i++) {
        char k[64];
        snprintf(k, sizeof k, "alerts.%d.rule", i);
        fired = !strcmp(jget(&s.json, k), "external_growth");
    }
    cr_assert(fired, "external_growth did not fire");
    shape_free(&s);
}

Test(patterns_alerts, cooldown_cap_and_config_errors, .timeout = 90)
{
    shape s;
    const char *extra[] = {"--alert", "heap_bytes=1M", "--alert", "cooldown_s=0.5", NULL};
    run_shape("leak", &s, extra);
    /* every rule with its default threshold stays quiet except heap (1 MiB) and pattern */
    size_t n = (size_t)jnum(&s.json, "alerts.n"), heap = 0;
    double last = -1;
    for (size_t i = 0; i < n; i++) {
        char k[64];
        snprintf(k, sizeof k, "alerts.%zu.rule", i);
        if (strcmp(jget(&s.json, k), "heap")) continue;
        snprintf(k, sizeof k, "alerts.%zu.t_s", i);
        double t = jnum(&s.json, k);
        snprintf(k, sizeof k, "alerts.%zu.value", i);
        double v = jnum(&s.json, k);
        snprintf(k, sizeof k, "alerts.%zu.threshold", i);
        cr_assert_eq(jnum(&s.json, k), 1048576);
        cr_assert(v > 1048576, "alert value %.0f not above the threshold", v);
        if (last >= 0) cr_assert(t - last >= 0.5, "alerts %.3f s apart, cooldown 0.5 s", t - last);
        last = t;
        heap++;
    }
    /* above 1 MiB from ~0.5 s to 2.5 s: one alert per 0.5 s cooldown */
    cr_assert(heap >= 3 && heap <= 5, "%zu heap alerts", heap);
    cr_assert(jnum(&s.json, "alerts_suppressed.cooldown") > 0);

    /* a config file, then a flag over it: the per-hour cap stops at 2 */
    char conf[1200], json[1200];
    snprintf(conf, sizeof conf, "%s/alerts.conf", s.dir);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fputs("# test rules\nheap_bytes = 1M\ncooldown_s = 0.1\n", f);
    fclose(f);
    snprintf(json, sizeof json, "%s/capped.json", s.dir);
    const char *capped[] = {"--alerts", conf, "--alert", "max_per_hour=2", NULL};
    mwt_run r;
    cr_assert_eq(analyze(s.trace, "json", json, capped, &r), 0, "%s", r.err);
    mwt_run_free(&r);
    report rep;
    load_json(json, &rep);
    cr_assert_str_eq(jget(&rep, "alerts.n"), "2");
    cr_assert(jnum(&rep, "alerts_suppressed.per_hour_cap") > 0);
    free(rep.text);

    /* a bad line: one clear error naming file and line, exit 2 */
    f = fopen(conf, "w");
    fputs("heap_bytes = 1M\nheap_bytez = 2M\n", f);
    fclose(f);
    const char *bad[] = {"--alerts", conf, NULL};
    cr_assert_eq(analyze(s.trace, "json", json, bad, &r), 2);
    cr_assert_eq(mwt_count_lines(r.err, "memwatch-analyze:"), 1, "%s", r.err);
    cr_assert(strstr(r.err, "alerts.conf:2:") && strstr(r.err, "heap_bytez"), "%s", r.err);
    mwt_run_free(&r);
    const char *badflag[] = {"--alert", "cooldown_s=soon", NULL};
    cr_assert_eq(analyze(s.trace, "json", json, badflag, &r), 2);
    cr_assert(strstr(r.err, "cooldown_s"), "%s", r.err);
    mwt_run_free(&r);
    shape_free(&s);
}
