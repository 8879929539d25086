/*
 * test_watch_events.c — the watch core end to end, through the decoded trace and the
 * analyzer's JSON: exact events for a struct written by two named threads, by read(2) and by
 * a third thread with an adapter location (nothing for the write next to it on the same page
 * or after unwatch); a storm of 4 threads over 1024 watched pages (no lost or duplicated
 * event, results unchanged); MEMWATCH_WATCH on globals by name; the program without the shim.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "leaksum.h"
#include "mw_format.h"
#include "watchsum.h"

static char dir[4096];

static void setup(void) { cr_assert_eq(mw_tempdir(dir, sizeof dir, "watch"), 0); }
static void teardown(void) { mw_tempdir_remove(dir); }

static char *read_out(const char *tag, const char *ext)
{
    char p[8192];
    snprintf(p, sizeof p, "%s/%s.%s", dir, tag, ext);
    return mw_ws_slurp(p);
}

static void load(const char *tag, mw_ws_trace *t)
{
    char path[8192], err[512];
    cr_assert_eq(mw_ws_find_trace(dir, tag, path, sizeof path), 0, "no trace for %s", tag);
    cr_assert_eq(mw_ws_load(path, t, err, sizeof err), 0, "%s", err);
}

static uint64_t printed_hex(const char *out, const char *key)
{
    const char *p = strstr(out, key);
    cr_assert_not_null(p, "victim did not print '%s':\n%s", key, out);
    return strtoull(p + strlen(key), NULL, 16);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = 0;
}

static void assert_bytes(const mw_ws_event *e, const char *old_hex, const char *new_hex)
{
    char o[2 * MW_WS_MAX_BYTES + 1], n[2 * MW_WS_MAX_BYTES + 1];
    hex(e->old_b, e->nbytes, o);
    hex(e->new_b, e->nbytes, n);
    cr_expect_str_eq(o, old_hex, "old bytes of %s+%llu", e->var, (unsigned long long)e->offset);
    cr_expect_str_eq(n, new_hex, "new bytes of %s+%llu", e->var, (unsigned long long)e->offset);
}

Test(watch, struct_exact_events, .init = setup, .fini = teardown, .timeout = 60)
{
    int st = mw_ws_run(dir, "plain", false, NULL, NULL, "watch_struct", NULL, 20);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "victim without the shim failed");
    char *plain = read_out("plain", "out");
    st = mw_ws_run(dir, "s", true, NULL, NULL, "watch_struct", NULL, 30);
    char *out = read_out("s", "out"), *err = read_out("s", "err");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "victim failed (%d):\n%s\n%s", st, out, err);
    /* The program's results are the same with and without memwatch. */
    cr_expect_str_eq(strstr(out, "checksum"), strstr(plain, "checksum"));
    uint64_t fa = printed_hex(out, "fn writer_a_deposit "), fb = printed_hex(out, "fn writer_b_count ");

    mw_ws_trace t;
    load("s", &t);
    cr_assert_eq(t.nw, 1);
    cr_expect_str_eq(t.w[0].name, "account");
    cr_expect_eq(t.w[0].len, 24);
    cr_expect(t.w[0].ended && t.w[0].end_reason == MW_UNWATCH_EXPLICIT);
    cr_assert_eq(t.nev, 4, "expected exactly 4 events, got %zu", t.nev);
    cr_expect_eq(t.lost_events, 0);

    const mw_ws_event *a = &t.ev[0], *b = &t.ev[1], *k = &t.ev[2], *c = &t.ev[3];
    cr_expect_eq(a->offset, 0);
    cr_expect_eq(a->len, 8);
    assert_bytes(a, "0000000000000000", "8877665544332211");
    cr_expect_str_eq(a->thread, "writer-a");
    cr_expect_eq(a->syscall, -1);
    cr_expect(a->pc >= fa && a->pc < fa + 64, "pc %llx not in writer_a_deposit", (unsigned long long)a->pc);
    cr_expect(a->nframes >= 2 && a->frames[0] == a->pc);
    cr_expect_eq(a->flags & (MW_WF_KERNEL | MW_WF_NO_STACK), 0);

    cr_expect_eq(b->offset, 8);
    cr_expect_eq(b->len, 1);
    assert_bytes(b, "00", "07");
    cr_expect_str_eq(b->thread, "writer-b");
    cr_expect(b->pc >= fb && b->pc < fb + 64, "pc %llx not in writer_b_count", (unsigned long long)b->pc);

    cr_expect_eq(k->offset, 12);
    cr_expect_eq(k->len, 12);
    assert_bytes(k, "000000000000000000000000", "6b65726e656c2d77726f7465"); /* "kernel-wrote" */
    cr_expect_eq(k->syscall, SYS_read);
    cr_expect(k->flags & MW_WF_KERNEL);
    cr_expect_str_eq(k->thread, "watch_struct");

    cr_expect_eq(c->offset, 0);
    assert_bytes(c, "8877665544332211", "c800000000000000");
    cr_expect_str_eq(c->thread, "writer-c");
    cr_expect_str_eq(c->loc_file, "app.py");
    cr_expect_eq(c->loc_line, 42);
    cr_expect_str_eq(c->loc_func, "handler");
    cr_expect_eq(a->loc_line, 0, "the location applies to writer-c's next event only");

    /* The analyzer's JSON: symbolized writer functions and the system call name. */
    char trace[8192], json[8192];
    mw_ws_find_trace(dir, "s.", trace, sizeof trace);
    snprintf(json, sizeof json, "%s/r.json", dir);
    char ana[8192];
    snprintf(ana, sizeof ana, "%s/memwatch-analyze", mw_ws_build());
    char *const av[] = { ana, trace, "--format", "json", "-o", json, NULL };
    char *const ev[] = { "PATH=/usr/bin:/bin", NULL };
    mw_run(av, ev, dir, NULL, NULL, 60);
    char *js = mw_ws_slurp(json);
    const char *w = strstr(js, "\"watch\"");
    cr_assert_not_null(w, "no watch section in the JSON report");
    cr_expect_not_null(strstr(w, "\"function\": \"writer_a_deposit\""));
    cr_expect_not_null(strstr(w, "\"function\": \"writer_b_count\""));
    cr_expect_not_null(strstr(w, "\"syscall\": \"read\""));
    cr_expect_not_null(strstr(w, "\"thread\": \"writer-a\""));
    /* every key of DESIGN's watch.events[] contract */
    const char *keys[] = { "variable", "offset", "old", "new", "tid", "thread", "sql",
                           "syscall", "location", "stack", "function", "file", "line" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char k[64];
        snprintf(k, sizeof k, "\"%s\":", keys[i]);
        cr_expect_not_null(strstr(w, k), "watch.events[] lacks %s", keys[i]);
    }
    cr_expect_not_null(strstr(w, "\"location\": {"), "writer-c's location object");
    free(js);
    mw_ws_free(&t);
    free(out);
    free(err);
    free(plain);
}

Test(watch, storm_1024_pages_4_threads, .init = setup, .fini = teardown, .timeout = 120)
{
    const char *args[] = { "storm", "1024", "4", NULL };
    int st = mw_ws_run(dir, "plain", false, NULL, NULL, "watch_modes", args, 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *plain = read_out("plain", "out");
    st = mw_ws_run(dir, "st", true, NULL, NULL, "watch_modes", args, 100);
    char *out = read_out("st", "out");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "storm failed: %s", out);
    cr_assert_not_null(strstr(out, "storm watched 1024"), "%s", out);
    cr_expect_str_eq(strstr(out, " sum "), strstr(plain, " sum "));
    mw_ws_trace t;
    load("st", &t);
    cr_assert_eq(t.nw, 1024);
    cr_expect_eq(t.lost_events, 0);
    cr_assert_eq(t.nev, 4096, "expected one event per write (4096), got %zu", t.nev);
    /* Replay each variable's events in time order: values must be exactly round 1..4. */
    static uint8_t model[1024][8];
    static int rounds[1024];
    memset(model, 0, sizeof model);
    memset(rounds, 0, sizeof rounds);
    for (size_t i = 1; i < t.nev; i++)
        cr_assert(t.ev[i].t_ns >= t.ev[i - 1].t_ns, "events out of time order");
    for (size_t i = 0; i < t.nev; i++) {
        const mw_ws_event *e = &t.ev[i];
        long kx = strtol(e->var + 1, NULL, 10);
        cr_assert(e->var[0] == 'v' && kx >= 0 && kx < 1024);
        cr_assert(e->offset + e->nbytes <= 8 && e->nbytes == e->len);
        cr_assert_eq(memcmp(model[kx] + e->offset, e->old_b, e->nbytes), 0,
                     "v%ld: old bytes do not continue the previous event", kx);
        memcpy(model[kx] + e->offset, e->new_b, e->nbytes);
        int64_t v;
        memcpy(&v, model[kx], 8);
        rounds[kx]++;
        cr_assert_eq(v, rounds[kx] * 100000 + kx, "v%ld event %d: value %lld", kx, rounds[kx],
                     (long long)v);
        cr_assert_eq(e->flags & MW_WF_NO_STACK, 0);
    }
    for (int kx = 0; kx < 1024; kx++) cr_assert_eq(rounds[kx], 4, "v%d: %d events", kx, rounds[kx]);
    mw_ws_free(&t);
    free(out);
    free(plain);
}

Test(watch, four_threads_one_page, .init = setup, .fini = teardown, .timeout = 120)
{
    const char *args[] = { "samepage", "250", NULL };
    int st = mw_ws_run(dir, "sp", true, NULL, NULL, "watch_modes", args, 100);
    char *out = read_out("sp", "out");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
    cr_expect_not_null(strstr(out, "samepage 2500 2501 2502 2503"), "%s", out);
    mw_ws_trace t;
    load("sp", &t);
    cr_assert_eq(t.nev, 1004, "4 x (1 + 250) writes to one page: got %zu events", t.nev);
    uint8_t model[4][8] = { { 0 } };
    int count[4] = { 0 };
    uint64_t writer[4] = { 0 };
    for (size_t i = 0; i < t.nev; i++) {
        const mw_ws_event *e = &t.ev[i];
        int v = e->var[1] - '0';
        cr_assert(e->var[0] == 's' && v >= 0 && v < 4);
        /* each variable is written by exactly one thread: merges would show another tid */
        if (!writer[v]) writer[v] = e->tid;
        cr_assert_eq(e->tid, writer[v], "s%d written by two threads: a merged event", v);
        cr_assert_eq(memcmp(model[v] + e->offset, e->old_b, e->nbytes), 0);
        memcpy(model[v] + e->offset, e->new_b, e->nbytes);
        int64_t val;
        memcpy(&val, model[v], 8);
        int64_t want = count[v] == 0 ? 1000 + v : count[v] * 10 + v; /* warm-up write first */
        count[v]++;
        cr_assert_eq(val, want, "s%d event %d: %lld", v, count[v], (long long)val);
    }
    mw_ws_free(&t);
    free(out);
}

/* spaces around a name or a length are dropped (" g_counter : 4 " was a symbol 'g_counter '
 * not found and a bad length ' 4' until 2026-11-24) */
Test(watch, memwatch_watch_env_globals, .init = setup, .fini = teardown, .timeout = 60)
{
    const char *env[] = { "MEMWATCH_WATCH=g_balance, g_counter : 4 ,no_such_symbol", NULL };
    const char *args[] = { "global", NULL };
    int st = mw_ws_run(dir, "g", true, env, NULL, "watch_modes", args, 30);
    char *out = read_out("g", "out"), *err = read_out("g", "err");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s %s", out, err);
    cr_expect_not_null(strstr(out, "global 42 3"));
    cr_expect_not_null(strstr(err, "MEMWATCH_WATCH: symbol 'no_such_symbol' not found"), "%s", err);
    mw_ws_trace t;
    load("g", &t);
    cr_assert_eq(t.nw, 2);
    cr_expect_str_eq(t.w[0].name, "g_balance");
    cr_expect_eq(t.w[0].len, sizeof(long), "default length is the symbol's size");
    cr_expect_str_eq(t.w[1].name, "g_counter");
    cr_expect_eq(t.w[1].len, 4);
    size_t nb = 0, nc = 0;
    uint8_t counter = 0;
    for (size_t i = 0; i < t.nev; i++) {
        const mw_ws_event *e = &t.ev[i];
        if (!strcmp(e->var, "g_balance")) {
            nb++;
            assert_bytes(e, "05", "2a");
            cr_expect(e->nframes >= 2);
        } else if (!strcmp(e->var, "g_counter")) {
            nc++;
            cr_expect_eq(e->offset, 0);
            counter = e->new_b[0];
        }
    }
    cr_expect_eq(nb, 1);
    cr_expect(nc >= 1);
    cr_expect_eq(counter, 3, "last g_counter event leaves 3");
    mw_ws_free(&t);
    free(out);
    free(err);
}

/* MEMWATCH_WATCH under a shell: the program that has the global watches it; the shell and the
 * other programs it starts lack it, and only the first of them (the shell) says so: each one
 * said it until 02:55 UTC on 2026-11-24. */
Test(watch, memwatch_watch_env_in_a_process_tree_says_not_found_once, .init = setup, .fini = teardown,
     .timeout = 60)
{
    const char *env[] = { "MEMWATCH_WATCH=g_balance", NULL };
    const char *prefix[] = { "/bin/sh", "-c", "ls / >/dev/null; \"$0\" \"$@\"; env -i /bin/true; cat /dev/null", NULL };
    const char *args[] = { "global", NULL };
    int st = mw_ws_run(dir, "tree", true, env, prefix, "watch_modes", args, 30);
    char *out = read_out("tree", "out"), *err = read_out("tree", "err");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s %s", out, err);
    cr_expect_not_null(strstr(out, "global 42 3"));
    size_t lines = 0;
    for (const char *p = err; (p = strstr(p, "memwatch:")); p++) lines++;
    cr_expect_eq(lines, 1, "%s", err);
    cr_expect_not_null(strstr(err, "memwatch: MEMWATCH_WATCH: symbol 'g_balance' not found in sh or its libraries"),
                       "%s", err);
    size_t traces = 0, watching = 0;
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "tree.", 5) != 0 || !strstr(de->d_name, ".zst")) continue;
        char path[8192], e[512];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        mw_ws_trace t;
        cr_assert_eq(mw_ws_load(path, &t, e, sizeof e), 0, "%s: %s", path, e);
        traces++;
        if (t.nw == 1 && !strcmp(t.w[0].name, "g_balance") && mw_ws_count(&t, "g_balance") == 1) watching++;
        mw_ws_free(&t);
    }
    closedir(d);
    cr_expect(traces >= 4, "sh, ls, watch_modes, true traced: %zu", traces);
    cr_expect_eq(watching, 1, "the program with the global watched it");
    free(out);
    free(err);
}

Test(watch, runs_without_the_shim, .init = setup, .fini = teardown, .timeout = 30)
{
    int st = mw_ws_run(dir, "n", false, NULL, NULL, "watch_struct", NULL, 20);
    char *out = read_out("n", "out");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
    cr_expect_not_null(strstr(out, "watch id -1"), "weak memwatch_watch must be NULL: %s", out);
    cr_expect_not_null(strstr(out, "checksum "));
    char path[8192];
    cr_expect_neq(mw_ws_find_trace(dir, NULL, path, sizeof path), 0, "no trace without the shim");
    free(out);
}
