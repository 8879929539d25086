/*
 * test_shim_stacks.c — the cached unwinder gives the right stacks: blocks leaked from
 * interleaved call paths of different depths must carry exactly their call path (each
 * return address mapped to the victim function containing it).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mwtest.h"
#include "../victims/shim_stack_race.h"

/* A victim's functions by address (it prints "name 0xADDR" for each), to map return
 * addresses back to them. */
typedef struct fnmap {
    const char *victim;
    const char *const *names;
    int n;
    uint64_t addr[16];
} fnmap;

static void fnmap_read(fnmap *fm, const char *out)
{
    for (int i = 0; i < fm->n; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s 0x", fm->names[i]);
        const char *p = strstr(out, key);
        cr_assert(p, "%s", out);
        fm->addr[i] = strtoull(p + strlen(key), NULL, 16);
    }
}

/* the victim function whose code contains ip: the closest start at or below it */
static const char *func_of(const fnmap *fm, const mwt_trace *t, uint64_t ip)
{
    const mwt_module *m = mwt_module_of(t, ip);
    if (!m || !strstr(m->path, fm->victim)) return "?";
    int best = -1;
    for (int i = 0; i < fm->n; i++)
        if (fm->addr[i] <= ip - 1 && (best < 0 || fm->addr[i] > fm->addr[best])) best = i;
    return best < 0 ? "?" : fm->names[best];
}

/* The stack's functions from the innermost, '>'-separated, up to and including `last`. */
static void path_of(const fnmap *fm, const mwt_trace *t, uint64_t stack, const char *last, char *out,
                    size_t cap)
{
    uint64_t ips[64];
    size_t d = mwt_stack_ips(t, stack, ips, 64);
    out[0] = 0;
    for (size_t i = 0; i < d && i < 64; i++) {
        const char *f = func_of(fm, t, ips[i]);
        if (strlen(out) + strlen(f) + 2 >= cap) break;
        if (out[0]) strcat(out, ">");
        strcat(out, f);
        if (!strcmp(f, last)) break;
    }
}

static const char *const stacks_names[] = { "leaf", "b",      "a",      "rec",  "main", "x",
                                            "y",    "interp", "wrap", "via_ptr", "rec2" };
static fnmap stacks_fm = { "shim_stacks", stacks_names, 11, { 0 } };

/* The path each test size was allocated from (the victim's header), NULL for others. */
static const char *stacks_want(uint64_t s)
{
    static const char *const k80[] = { "leaf>main", "leaf>b>a>main", "leaf>b>main",
                                       "leaf>rec>rec>rec>rec>rec>rec>main", "leaf>rec>rec>rec>main",
                                       "leaf>x>main", "leaf>y>main", "leaf>x>main" };
    static const char *const k95[] = { "leaf>interp>main", "leaf>x>interp>main",
                                       "leaf>b>a>interp>main", "leaf>rec>rec>rec>rec>interp>main",
                                       "interp>main" };
    if (s >= 80001 && s <= 80040 && (s - 80001) % 10 <= 7) return k80[(s - 80001) % 10];
    if (s == 90001 || s == 90003) return "leaf>x>main";
    if (s == 90002) return "leaf>y>main";
    if (s >= 95001 && s <= 95005) return k95[s - 95001];
    if (s == 96001) return "wrap>via_ptr>rec2>rec2>rec2>rec2>main";
    if (s == 96002) return "via_ptr>rec2>rec2>rec2>rec2>main";
    static const char *const k97[] = { "leaf>rec>rec>rec>rec>rec>rec>rec>rec>main",
                                       "leaf>rec>rec>rec>rec>rec>rec>rec>rec>rec>main",
                                       "leaf>rec>rec>rec>rec>rec>rec>rec>rec>rec>rec>main" };
    if (s >= 97007 && s <= 97009) return k97[s - 97007];
    return NULL;
}

Test(shim_stacks, cached_unwinds_are_exact)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("shim_stacks"), NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_assert_eq(r.exit_code, 0);
    fnmap_read(&stacks_fm, r.out);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    /* every block of a test size carries exactly its path: the interleaved paths (80001..),
     * the loop through the slot search's back-off and back (90001..), the interpreter's loop,
     * mostly through partial captures (95001..), the call site through a pointer (96001..) */
    size_t n80 = 0, n90[3] = { 0, 0, 0 }, n95 = 0, n96 = 0, n97 = 0;
    for (size_t i = 0; i < t.nblocks; i++) {
        uint64_t s = t.blocks[i].size;
        const char *want = stacks_want(s);
        if (!want) continue;
        char got[512];
        path_of(&stacks_fm, &t, t.blocks[i].stack, "main", got, sizeof got);
        cr_expect_str_eq(got, want, "block of %llu bytes", (unsigned long long)s);
        if (s < 90000) n80++;
        else if (s < 95000) n90[s - 90001]++;
        else if (s < 96000) n95++;
        else if (s < 97000) n96++;
        else n97++;
    }
    cr_expect_eq(n80, 32);
    cr_expect_eq(n90[0], 600);
    cr_expect_eq(n90[1], 300);
    cr_expect_eq(n90[2], 300);
    cr_expect_eq(n95, 100);
    cr_expect_eq(n96, 100);
    cr_expect_eq(n97, 3);
    mwt_trace_free(&t);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* With MEMWATCH_STACK_DEPTH=4 every stack of the victim is cut: each block must carry exactly
 * the innermost 4 frames of its path, whichever way it was captured (a cached stack that was
 * cut lacks its outer frames, so reusing its upper part for a shallower or deeper call would
 * give fewer, or other, frames than an unwind). */
Test(shim_stacks, cut_stacks_keep_the_innermost_frames)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("shim_stacks"), NULL };
    const char *env[] = { "MEMWATCH_STACK_DEPTH=4", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_assert_eq(r.exit_code, 0);
    fnmap_read(&stacks_fm, r.out);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    size_t checked = 0;
    for (size_t i = 0; i < t.nblocks; i++) {
        const char *want = stacks_want(t.blocks[i].size);
        if (!want) continue;
        uint64_t ips[8];
        cr_expect_eq(mwt_stack_ips(&t, t.blocks[i].stack, ips, 8), 4, "block of %llu bytes",
                     (unsigned long long)t.blocks[i].size);
        /* the first 4 functions of the path, or all of it up to main */
        char cut[512];
        const char *p = want;
        for (int k = 0; k < 4 && p; k++) p = strchr(p + 1, '>');
        snprintf(cut, sizeof cut, "%.*s", p ? (int)(p - want) : (int)strlen(want), want);
        char got[512];
        path_of(&stacks_fm, &t, t.blocks[i].stack, "main", got, sizeof got);
        cr_expect_str_eq(got, cut, "block of %llu bytes", (unsigned long long)t.blocks[i].size);
        checked++;
    }
    cr_expect_eq(checked, 32 + 1200 + 100 + 100 + 3);
    mwt_trace_free(&t);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* Four threads create the same new stack tails at the same time (each new tail's ids are
 * reserved in a batch, and a thread that loses a race for a node gives its reservation up):
 * every block still carries exactly the path it was allocated from, and the four threads'
 * blocks of one iteration share one stack node. The races themselves depend on timing: a
 * shim that kept its reserved ids after losing one failed this test in 4 runs of 5. */
Test(shim_stacks, concurrent_new_stacks_are_exact, .timeout = 120)
{
    static const char *const names[] = { "f0", "f1", "f2", "worker", "main" };
    fnmap fm = { "shim_stack_race", names, 5, { 0 } };
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("shim_stack_race"), NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_assert_eq(r.exit_code, 0);
    fnmap_read(&fm, r.out);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    static uint64_t node_of[RACE_ITERS];
    static int seen[RACE_ITERS];
    size_t checked = 0, bad = 0, split = 0;
    for (size_t i = 0; i < t.nblocks; i++) {
        uint64_t s = t.blocks[i].size;
        if (s < RACE_SIZE0 || s >= RACE_SIZE0 + RACE_ITERS) continue;
        unsigned it = (unsigned)(s - RACE_SIZE0);
        char want[256] = "", got[256];
        for (int level = RACE_DEPTH; level >= 0; level--) {
            strcat(want, names[race_choice(it, (unsigned)level)]);
            strcat(want, ">");
        }
        strcat(want, "worker");
        path_of(&fm, &t, t.blocks[i].stack, "worker", got, sizeof got);
        if (strcmp(got, want) && bad++ < 5) cr_expect_str_eq(got, want, "iteration %u", it);
        if (seen[it]++ && node_of[it] != t.blocks[i].stack) split++;
        node_of[it] = t.blocks[i].stack;
        checked++;
    }
    cr_expect_eq(bad, 0, "%zu blocks with a wrong stack", bad);
    cr_expect_eq(split, 0, "%zu blocks whose identical path got another stack node", split);
    cr_expect_eq(checked, (size_t)RACE_THREADS * RACE_ITERS);
    mwt_trace_free(&t);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* Blocks allocated in a program's pthread key destructors, as a thread ends, carry their
 * stacks (dtor, called by glibc), in the destructors' first round and in a later one: the
 * shim's own key destructor sets its key again until glibc's last round (thread.c). Before
 * 2026-11-23 it released the thread's state in the first round, usually before the program's
 * destructors, and their blocks had no stack ("no stack recorded" for leaks valgrind gives
 * stacks for). The block each destructor frees is freed in the trace. */
static const char *const tsd_names[] = { "dtor", "run", "forget", "main" };

Test(shim_stacks, allocations_in_key_destructors_have_stacks, .timeout = 60)
{
    fnmap fm = { "tsd_dtor", tsd_names, 4, { 0 } };
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("tsd_dtor"), NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_assert(strstr(r.out, "done\n"), "%s %s", r.out, r.err);
    fnmap_read(&fm, r.out);
    mwt_trace t;
    cr_assert_eq(mwt_trace_load_one(dir, &t), 0, "%s", t.err);
    unsigned n777 = 0, n55 = 0, n333 = 0, live999 = 0;
    for (size_t i = 0; i < t.nblocks; i++) {
        const mwt_block *b = &t.blocks[i];
        if (b->size == 999 && !b->freed) live999++;
        if (b->size != 777 && b->size != 55 && b->size != 333) continue;
        char got[256];
        path_of(&fm, &t, b->stack, "dtor", got, sizeof got);
        const char *want = b->size == 55 ? "dtor" : "forget>dtor";
        cr_expect_str_eq(got, want, "a block of %" PRIu64 " bytes: stack %" PRIu64, b->size, b->stack);
        n777 += b->size == 777;
        n55 += b->size == 55;
        n333 += b->size == 333;
    }
    cr_expect_eq(n777, 8);
    cr_expect_eq(n55, 8);
    cr_expect_eq(n333, 8, "the second round's blocks");
    cr_expect_eq(live999, 0, "the destructors' frees are in the trace");
    mwt_trace_free(&t);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* A program's own backtrace is as without the shim: main runs under the shim's wrapper
 * (init.c), whose frame glibc's backtrace() and libgcc's _Unwind_Backtrace showed between
 * main and __libc_start_call_main until 08:30 UTC on 2026-11-24 (hooks_backtrace.c). The
 * victim prints the name of each frame's function. */
Test(shim_stacks, a_programs_own_backtrace_is_as_natively)
{
    char *dir = mwt_tmpdir();
    static const char *const how[] = { "glibc", "unwind" };
    for (int i = 0; i < 2; i++) {
        const char *argv[] = { mwt_victim("shim_backtrace"), how[i], NULL };
        mwt_run n, r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
        cr_expect(strstr(n.out, "  main\n"), "%s", n.out);
        cr_expect(strstr(n.out, "  print_stack\n"), "%s", n.out);
        cr_expect_str_eq(r.out, n.out, "%s", how[i]);
        cr_expect_eq(r.raw_status, n.raw_status);
        mwt_run_free(&n);
        mwt_run_free(&r);
    }
    mwt_rmtree(dir);
    free(dir);
}
