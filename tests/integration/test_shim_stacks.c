/*
 * test_shim_stacks.c — the cached unwinder gives the right stacks: blocks leaked from
 * interleaved call paths of different depths must carry exactly their call path (each
 * return address mapped to the victim function containing it).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mwtest.h"

#define NF 7
static const char *names[NF] = { "leaf", "b", "a", "rec", "main", "x", "y" };
static uint64_t addr[NF];

/* the victim function whose code contains ip: the closest start at or below it */
static const char *func_of(const mwt_trace *t, uint64_t ip)
{
    const mwt_module *m = mwt_module_of(t, ip);
    if (!m || !strstr(m->path, "shim_stacks")) return "?";
    int best = -1;
    for (int i = 0; i < NF; i++)
        if (addr[i] <= ip - 1 && (best < 0 || addr[i] > addr[best])) best = i;
    return best < 0 ? "?" : names[best];
}

static void path_of(const mwt_trace *t, uint64_t stack, char *out, size_t cap)
{
    uint64_t ips[64];
    size_t d = mwt_stack_ips(t, stack, ips, 64);
    out[0] = 0;
    for (size_t i = 0; i < d && i < 64; i++) {
        const char *f = func_of(t, ips[i]);
        if (strlen(out) + strlen(f) + 2 >= cap) break;
        if (out[0]) strcat(out, ">");
        strcat(out, f);
        if (!strcmp(f, "main")) break;
    }
}

Test(shim_stacks, cached_unwinds_are_exact)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("shim_stacks"), NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_assert_eq(r.exit_code, 0);
    for (int i = 0; i < NF; i++) {
        char key[16];
        snprintf(key, sizeof key, "%s 0x", names[i]);
        const char *p = strstr(r.out, key);
        cr_assert(p, "%s", r.out);
        addr[i] = strtoull(p + strlen(key), NULL, 16);
    }
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    const char *want[] = { "leaf>main", "leaf>b>a>main", "leaf>b>main",
                           "leaf>rec>rec>rec>rec>rec>rec>main", "leaf>rec>rec>rec>main", "leaf>x>main",
                           "leaf>y>main", "leaf>x>main" };
    int checked = 0;
    for (size_t i = 0; i < t.nblocks; i++) {
        uint64_t s = t.blocks[i].size;
        if (s < 80001 || s > 80040 || (s - 80001) % 10 > 7) continue;
        int kind = (int)((s - 80001) % 10);
        char got[512];
        path_of(&t, t.blocks[i].stack, got, sizeof got);
        cr_expect_str_eq(got, want[kind], "block of %llu bytes", (unsigned long long)s);
        checked++;
    }
    cr_expect_eq(checked, 32);
    /* through the slot search's back-off and back: every block still exact */
    size_t n90[3] = { 0, 0, 0 };
    for (size_t i = 0; i < t.nblocks; i++) {
        uint64_t s = t.blocks[i].size;
        if (s < 90001 || s > 90003) continue;
        char got[512];
        path_of(&t, t.blocks[i].stack, got, sizeof got);
        cr_expect_str_eq(got, s == 90002 ? "leaf>y>main" : "leaf>x>main", "block of %llu bytes",
                         (unsigned long long)s);
        n90[s - 90001]++;
    }
    cr_expect_eq(n90[0], 600);
    cr_expect_eq(n90[1], 300);
    cr_expect_eq(n90[2], 300);
    mwt_trace_free(&t);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}
