/*
 * test_shim_inherit.c — fork children and the blocks they inherit (preload/inherit.c,
 * analyzer/inherit.c). A child's trace holds its copies of the parent's blocks (INHERIT), so
 * that its frees and reallocs of them are recorded, its leaks of them reported, and a block it
 * reaches only through an inherited one is not called lost (it was: the exit scan did not know
 * inherited memory was heap). Analyzed with the parent's trace, an inherited leak has the stack
 * the parent (or the grandparent) allocated it with. Victim: tests/victims/fork_inherit.c;
 * its verdicts are checked against valgrind's in test_reference_leaks.c (fork_children).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mwtest.h"

/* The traces of the victim's three processes, by depth: parent, child, grandchild. */
typedef struct family {
    char *dir;
    mwt_trace *ts;
    size_t n;
    const mwt_trace *gen[3];
} family;

static void run_family(family *f, const char *const *env)
{
    f->dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("fork_inherit"), NULL };
    mwt_run plain, traced;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &plain), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = f->dir }, &traced), 0);
    cr_assert_eq(plain.exit_code, 0, "natively: %s", plain.err);
    cr_assert_str_eq(plain.out, "grandchild 0\nchild 0\nparent 0\n");
    cr_assert_eq(traced.exit_code, 0, "stderr: %s", traced.err);
    cr_assert_str_eq(traced.out, plain.out);
    cr_assert_str_eq(traced.err, plain.err);
    f->ts = mwt_trace_load_all(f->dir, &f->n);
    cr_assert_eq(f->n, 3, "%zu traces", f->n);
    for (size_t i = 0; i < 3; i++) {
        cr_assert(f->ts[i].has_end, "%s: %s", f->ts[i].path, f->ts[i].err);
        int depth = 0;
        for (uint64_t pp = f->ts[i].ppid; depth < 3;) {
            size_t k = 0;
            while (k < 3 && f->ts[k].pid != pp) k++;
            if (k == 3) break;
            depth++;
            pp = f->ts[k].ppid;
        }
        cr_assert_lt(depth, 3);
        f->gen[depth] = &f->ts[i];
    }
    for (int g = 0; g < 3; g++) cr_assert(f->gen[g], "no process at depth %d", g);
    mwt_run_free(&plain);
    mwt_run_free(&traced);
}

static void family_free(family *f)
{
    mwt_traces_free(f->ts, f->n);
    mwt_rmtree(f->dir);
    free(f->dir);
}

/* The block of `size` bytes in t: inherited (kind MW_AK_COUNT, stack 0) or the process's own. */
static const mwt_block *block(const mwt_trace *t, uint64_t size, bool inherited)
{
    for (size_t i = 0; i < t->nblocks; i++) {
        const mwt_block *b = &t->blocks[i];
        if (b->size == size && (b->kind == MW_AK_COUNT && b->stack == 0) == inherited) return b;
    }
    return NULL;
}

Test(shim_inherit, children_trace_what_they_inherited, .timeout = 90)
{
    family f;
    run_family(&f, NULL);
    const mwt_trace *p = f.gen[0], *c = f.gen[1], *g = f.gen[2];
    cr_expect_eq(p->inherited, 0, "the first process inherited nothing");
    /* the child: the parent's blocks at fork, the worker thread's 777 among them */
    static const uint64_t parents[] = { 1111, 2222, 5555, 777, sizeof(void *) * 4 };
    for (size_t i = 0; i < sizeof parents / sizeof *parents; i++)
        cr_expect(block(c, parents[i], true), "the child did not inherit the %lu-byte block",
                  (unsigned long)parents[i]);
    cr_expect_geq(c->inherited, 5);
    /* written in address order, each with its address */
    uint64_t last = 0;
    for (size_t i = 0; i < c->nblocks; i++) {
        const mwt_block *x = &c->blocks[i];
        if (x->kind != MW_AK_COUNT || x->stack != 0) continue;
        cr_expect_gt(x->addr, last, "inherited block %lu at %#lx after %#lx", (unsigned long)x->seq,
                     (unsigned long)x->addr, (unsigned long)last);
        last = x->addr;
    }
    cr_expect(block(c, 1111, true) && block(c, 1111, true)->freed, "the child's free of 1111");
    cr_expect(block(c, 777, true) && block(c, 777, true)->freed, "the child's free of the worker's 777");
    cr_expect(block(c, 5555, true) && block(c, 5555, true)->freed, "realloc freed the inherited 5555");
    cr_expect_eq(c->unknown_frees, 0, "frees of blocks the trace never had");
    const mwt_block *b;
    cr_expect((b = block(c, 2222, true)) && !b->freed && b->reach == MW_REACH_DEFINITE,
              "the inherited 2222 the child dropped is definitely lost there");
    cr_expect((b = block(c, 3333, false)) && !b->freed && b->reach == MW_REACH_REACHABLE,
              "3333, reachable only through the inherited table, is reachable (verdict %lu)",
              b ? (unsigned long)b->reach : 99ul);
    cr_expect((b = block(c, 6666, false)) && b->reach == MW_REACH_REACHABLE);
    cr_expect((b = block(c, 4444, false)) && b->reach == MW_REACH_DEFINITE);
    /* the grandchild: the child's blocks at its fork, itself inheriting the parent's */
    cr_expect((b = block(g, 3333, true)) && b->freed, "the grandchild's free of 3333");
    cr_expect((b = block(g, 2222, true)) && b->reach == MW_REACH_DEFINITE);
    cr_expect((b = block(g, 4444, true)) && b->reach == MW_REACH_DEFINITE);
    cr_expect((b = block(g, 6666, true)) && b->reach == MW_REACH_DEFINITE);
    cr_expect((b = block(g, 99, false)) && b->reach == MW_REACH_DEFINITE);
    cr_expect_eq(g->unknown_frees, 0);
    family_free(&f);
}

/* How many inherited blocks of `size` bytes t has, and how many of them it freed. */
static void inherited_of_size(const mwt_trace *t, uint64_t size, uint64_t *kept, uint64_t *freed)
{
    *kept = *freed = 0;
    for (size_t b = 0; b < t->nblocks; b++) {
        const mwt_block *x = &t->blocks[b];
        if (x->kind != MW_AK_COUNT || x->stack != 0 || x->size != size) continue;
        (*kept)++;
        *freed += x->freed;
    }
}

/* JSON text without the whitespace between tokens, in place. */
static void squash(char *s)
{
    bool in = false;
    char *o = s;
    for (char *p = s; *p; p++) {
        if (in) {
            *o++ = *p;
            if (*p == '\\' && p[1]) *o++ = *++p;
            else if (*p == '"') in = false;
        } else if (*p == '"') {
            in = true;
            *o++ = *p;
        } else if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') {
            *o++ = *p;
        }
    }
    *o = 0;
}

/* JSON of memwatch-analyze over the given traces (--db :memory:), squashed. */
static char *analyze_json(const char *const *traces, size_t n)
{
    char prog[4096];
    snprintf(prog, sizeof prog, "%s/memwatch-analyze", mwt_build_dir());
    const char *av[16] = { prog, "--db", ":memory:", "--format", "json" };
    size_t k = 5;
    for (size_t i = 0; i < n; i++) av[k++] = traces[i];
    av[k] = NULL;
    mwt_run a;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = av }, &a), 0);
    cr_assert_eq(a.exit_code, 0, "%s", a.err);
    char *out = strdup(a.out);
    mwt_run_free(&a);
    squash(out);
    return out;
}

/* The leak site object of `bytes` bytes in process pid's part of a JSON report (up to the next
 * process), or NULL. */
static const char *site_of(const char *json, uint64_t pid, uint64_t bytes)
{
    char key[64], want[64];
    snprintf(key, sizeof key, "\"pid\":%lu,", (unsigned long)pid);
    const char *p = strstr(json, key);
    if (!p) return NULL;
    const char *next = strstr(p + 1, "\"process\":{");
    snprintf(want, sizeof want, "{\"bytes\":%lu,\"blocks\":1,", (unsigned long)bytes);
    const char *s = strstr(p, want);
    return s && (!next || s < next) ? s : NULL;
}

Test(shim_inherit, reports_name_where_the_parent_allocated, .timeout = 90)
{
    family f;
    run_family(&f, NULL);
    /* the child alone: inherited, no stack */
    const char *child_only[] = { f.gen[1]->path };
    char *j = analyze_json(child_only, 1);
    const char *s = site_of(j, f.gen[1]->pid, 2222);
    cr_assert(s, "no 2222-byte leak site: %s", j);
    cr_expect(strstr(s, "\"inherited\":true,\"stack\":[]") && strstr(s, "\"inherited\":true,\"stack\":[]") - s < 80,
              "%.200s", s);
    cr_expect(strstr(j, "\"inherited_blocks\":"), "totals name the inherited blocks");
    free(j);
    /* with the parent's and the grandchild's: the parent's allocation line, two levels up */
    const char *all[] = { f.gen[2]->path, f.gen[1]->path, f.gen[0]->path };
    j = analyze_json(all, 3);
    for (int gen = 1; gen <= 2; gen++) {
        s = site_of(j, f.gen[gen]->pid, 2222);
        cr_assert(s, "generation %d: no 2222-byte leak site", gen);
        const char *st = strstr(s, "\"inherited\":true,\"stack\":[{\"function\":\"main\",\"file\":\"");
        cr_expect(st && st - s < 120, "generation %d: %.300s", gen, s);
        cr_expect(st && strstr(st, "fork_inherit.c") && strstr(st, "fork_inherit.c") - st < 200,
                  "generation %d: %.300s", gen, s);
    }
    /* the grandchild's 6666 is the child's realloc */
    s = site_of(j, f.gen[2]->pid, 6666);
    cr_assert(s);
    cr_expect(strstr(s, "\"inherited\":true,\"stack\":[{\"function\":\"child\""), "%.300s", s);
    /* its own 99 is not inherited */
    s = site_of(j, f.gen[2]->pid, 99);
    cr_assert(s);
    cr_expect(strstr(s, "\"inherited\":false"), "%.200s", s);
    free(j);

    /* text: the line says so */
    char prog[4096];
    snprintf(prog, sizeof prog, "%s/memwatch-analyze", mwt_build_dir());
    const char *av[] = { prog, "--db", ":memory:", f.gen[1]->path, NULL };
    mwt_run a;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = av }, &a), 0);
    char want[96];
    snprintf(want, sizeof want, "2222 bytes in 1 block, definite, inherited from pid %lu",
             (unsigned long)f.gen[0]->pid);
    cr_expect(strstr(a.out, want), "%s", a.out);
    cr_expect(strstr(a.out, "allocated by the parent"), "%s", a.out);
    mwt_run_free(&a);
    family_free(&f);
}

/* Without the exit scan (MEMWATCH_REACH=0) nothing at exit asks for the inherited blocks; a
 * child that never freed one records them at its exit anyway: they are unfreed there like its
 * own blocks (without verdicts). Victim: shim_proc fork (parent leaks 30001, child 30002). */
Test(shim_inherit, without_the_exit_scan_still_recorded, .timeout = 90)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("shim_proc"), "fork", NULL };
    const char *env[] = { "MEMWATCH_REACH=0", NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env, .preload = true, .trace_dir = dir }, &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    size_t n = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &n);
    cr_assert_eq(n, 2);
    const mwt_trace *c = ts[0].ppid == ts[1].pid ? &ts[0] : &ts[1];
    cr_assert_eq(c->ppid, (c == &ts[0] ? ts[1] : ts[0]).pid);
    const mwt_block *b = block(c, 30001, true);
    cr_expect(b && !b->freed && b->reach == 0, "the child's copy of 30001: unfreed, no verdict");
    cr_expect(block(c, 30002, false) != NULL);
    mwt_traces_free(ts, n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* Runs a victim whose main keeps blocks of 100 bytes and forks `children` children, each of
 * which frees one of them (and, when own_size is not 0, leaks a block of that size): its
 * output and an empty stderr, every trace whole, no free of a block a trace lacks, and in each
 * child at least (exactly, when exact) kept_min of main's blocks, one of them freed. */
static void forker_run(const char *victim, const char *out, size_t children, uint64_t kept_min,
                       bool exact, uint64_t own_size, unsigned timeout_ms)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim(victim), NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir,
                                        .timeout_ms = timeout_ms }, &r), 0);
    cr_assert(!r.timed_out, "%s hung", victim);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, out);
    cr_expect_str_eq(r.err, "");
    size_t n = 0, seen = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &n);
    cr_assert_eq(n, children + 1, "%zu traces", n);
    for (size_t i = 0; i < n; i++) {
        const mwt_trace *t = &ts[i];
        cr_expect(t->has_end, "%s: %s", t->path, t->err);
        cr_expect_eq(t->unknown_frees, 0, "%s", t->path);
        if (!t->inherited) continue;
        seen++;
        uint64_t kept, freed;
        inherited_of_size(t, 100, &kept, &freed);
        if (exact) cr_expect_eq(kept, kept_min, "%s: %lu of main's blocks", t->path, (unsigned long)kept);
        else cr_expect_geq(kept, kept_min, "%s: %lu of main's blocks", t->path, (unsigned long)kept);
        cr_expect_eq(freed, 1, "%s: the child's free of one of them", t->path);
        if (own_size) cr_expect(block(t, own_size, false) != NULL, "%s: its own block", t->path);
    }
    cr_expect_eq(seen, children);
    mwt_traces_free(ts, n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* Forks while four threads churn malloc/free (tests/victims/fork_busy.c): fork's prepare
 * handler takes every table's lock, so each child gets whole tables: its trace has the 1000
 * blocks main kept (and the threads' live ones), its free of one of them names a block it
 * has, and no line says a table was busy. */
Test(shim_inherit, forks_beside_busy_threads_inherit_whole_tables, .timeout = 120)
{
    forker_run("fork_busy", "children 30 bad 0\n", 30, 1000, false, 10, 100000);
}

/* Four threads fork at once (tests/victims/fork_concurrent.c): the shim's fork handlers take
 * turns, so every fork copies whole tables; each child's trace has the kept blocks and its
 * free of one, stderr stays empty, and the program ends. Before 04:58 UTC on 2026-11-23 it
 * hung, or printed "tables were busy" lines, in about one run of three: three runs here. */
Test(shim_inherit, concurrent_forks_take_turns, .timeout = 150)
{
    for (int run = 0; run < 3; run++) forker_run("fork_concurrent", "bad 0\n", 160, 160, true, 0, 40000);
}

/* A fork child's first frees of inherited blocks from four threads at once
 * (tests/victims/fork_child_threads.c): each of the 400 is freed in the child's trace. Ten
 * runs: the race needs a free to come while another thread records the blocks. */
Test(shim_inherit, first_frees_from_several_threads_all_count, .timeout = 120)
{
    for (int run = 0; run < 10; run++) {
        char *dir = mwt_tmpdir();
        const char *argv[] = { mwt_victim("fork_child_threads"), NULL };
        mwt_run r;
        cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_expect_str_eq(r.out, "child 0\n");
        size_t n = 0;
        mwt_trace *ts = mwt_trace_load_all(dir, &n);
        cr_assert_eq(n, 2);
        const mwt_trace *c = ts[0].inherited ? &ts[0] : &ts[1];
        uint64_t kept, freed;
        inherited_of_size(c, 100, &kept, &freed);
        cr_expect_eq(kept, 400, "run %d", run);
        cr_expect_eq(freed, 400, "run %d: %lu of the 400 frees in the child's trace", run, (unsigned long)freed);
        cr_expect_eq(c->unknown_frees, 0);
        mwt_traces_free(ts, n);
        mwt_run_free(&r);
        mwt_rmtree(dir);
        free(dir);
    }
}

/* A fork child's exit scan reads the heap it inherited without copying it
 * (tests/victims/fork_scan_copy.c): 64 MiB of inherited 4 KiB blocks, a chain the scan
 * follows through every one of them, shared copy-on-write with the parent. Read with
 * process_vm_readv (before 05:50 UTC on 2026-11-23) every page was copied first: 16 384 page
 * faults and 64 MiB more memory in the child. Read through /proc/thread-self/mem, with or
 * without a second thread in the child, the child's faults stay far below one per page, and
 * the verdicts are right (the chain reachable, a new block stored only in its last
 * block reachable, a dropped one lost). */
static void scan_copy_run(const char *mode)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("fork_scan_copy"), mode, NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_str_eq(r.err, "");
    long faults = -1;
    cr_assert_eq(sscanf(r.out, "child 0 faults %ld", &faults), 1, "%s", r.out);
    /* the child's own tracing takes about 3 500 (its trace, writer thread, tables, the
     * scan's arrays); copying the heap took 16 384 more */
    cr_expect_lt(faults, 10000, "%s: the child took %ld page faults for a 16 384-page heap", mode, faults);
    size_t n = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &n);
    cr_assert_eq(n, 2);
    const mwt_trace *c = ts[0].inherited ? &ts[0] : &ts[1];
    uint64_t kept, freed, unreached = 0;
    inherited_of_size(c, 4096, &kept, &freed);
    cr_expect_eq(kept, 16384, "%s: %lu inherited blocks", mode, (unsigned long)kept);
    for (size_t i = 0; i < c->nblocks; i++)
        if (c->blocks[i].size == 4096 && c->blocks[i].reach != MW_REACH_REACHABLE) unreached++;
    cr_expect_eq(unreached, 0, "%s: %lu blocks of the chain not reachable", mode, (unsigned long)unreached);
    const mwt_block *b;
    cr_expect((b = block(c, 48, false)) && b->reach == MW_REACH_REACHABLE, "%s: the block in the chain's end", mode);
    cr_expect((b = block(c, 24, false)) && b->reach == MW_REACH_DEFINITE, "%s: the dropped block", mode);
    mwt_traces_free(ts, n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

Test(shim_inherit, exit_scan_reads_the_inherited_heap_without_copying_it, .timeout = 120)
{
    scan_copy_run("alone");
    scan_copy_run("thread");
}

/* A fork child out of address space (tests/victims/fork_nomem.c, RLIMIT_AS at what it has
 * mapped plus 1 MiB): the program's output and status as natively, a line for the inherited
 * blocks it could not record and one for the exit scan it could not do, every other line on
 * stderr the shim's, and no wrong verdict: the stdout buffer, which only libc's data points
 * to, was called definitely lost before 06:05 UTC on 2026-11-23 (the scan went on without
 * the roots it had no memory to list). */
Test(shim_inherit, a_child_out_of_memory_says_so_and_gives_no_wrong_verdict, .timeout = 90)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("fork_nomem"), NULL };
    mwt_run n, r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &n), 0);
    cr_assert_str_eq(n.out, "child ok\nparent 0\n", "natively: %s", n.err);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &r), 0);
    cr_expect_str_eq(r.out, n.out);
    cr_expect_eq(r.raw_status, n.raw_status);
    size_t lines = mwt_count_lines(r.err, "");
    cr_expect_eq(mwt_count_lines(r.err, "memwatch: "), lines, "stderr: %s", r.err);
    cr_expect(strstr(r.err, "no memory to record the 200000 blocks this child inherited"), "stderr: %s", r.err);
    cr_expect(strstr(r.err, "the reachability scan at exit"), "stderr: %s", r.err);
    size_t nt = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &nt);
    cr_assert_eq(nt, 2);
    const mwt_trace *c = ts[0].ppid == ts[1].pid ? &ts[0] : &ts[1];
    cr_expect(c->has_end, "%s: %s", c->path, c->err);
    cr_expect_geq(c->lost_events, 200000, "the child's lost events: %lu", (unsigned long)c->lost_events);
    size_t definite = 0;
    for (size_t i = 0; i < c->nblocks; i++) definite += c->blocks[i].reach == MW_REACH_DEFINITE;
    cr_expect_eq(definite, 0, "%zu blocks of the child called definitely lost", definite);
    mwt_traces_free(ts, nt);
    mwt_run_free(&n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* Runs fork_in_handler MODE (30 children ending inside the handler): the program ends, with
 * its output, and every trace there is has its end; a child that ends inside the handler has
 * no trace and its parent counts the fork as lost (child traces and lost events add up to 30). */
static void forks_ending_in_handler(const char *mode)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("fork_in_handler"), mode, NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir, .timeout_ms = 60000 }, &r), 0);
    cr_assert(!r.timed_out, "%s: the program hung", mode);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "forks 30\nparent 0\n");
    cr_expect_str_eq(r.err, "");
    size_t n = 0;
    mwt_trace *ts = mwt_trace_load_all(dir, &n);
    cr_assert_geq(n, 1);
    uint64_t children = 0, lost = 0;
    for (size_t i = 0; i < n; i++) {
        cr_expect(ts[i].has_end, "%s: %s", ts[i].path, ts[i].err);
        if (ts[i].nforks || ts[i].lost_events) lost += ts[i].lost_events; /* the parent */
        else children++;
    }
    cr_expect_eq(children + lost, 30, "%s: %lu child traces, %lu forks counted lost", mode,
                 (unsigned long)children, (unsigned long)lost);
    mwt_traces_free(ts, n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* Forks from a signal handler that interrupted a hook (tests/victims/fork_in_handler.c).
 * Children ending inside the handler: their traces were without their end, or empty, before
 * 06:40 UTC on 2026-11-23 ("exit"); with blocks glibc's free takes its arena lock for, the
 * program hung in glibc's fork before 07:20 UTC ("big"). A child that lives on as a worker
 * is traced from its first allocation after the handler, with its leak ("respawn"). */
Test(shim_inherit, forks_from_a_signal_handler_inside_a_hook, .timeout = 240)
{
    forks_ending_in_handler("exit");
    forks_ending_in_handler("big");
    char *dir = mwt_tmpdir();
    mwt_run r;
    size_t n = 0;
    mwt_trace *ts;
    const char *argv2[] = { mwt_victim("fork_in_handler"), "respawn", NULL };
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv2, .preload = true, .trace_dir = dir, .timeout_ms = 60000 }, &r), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "worker done\nparent 0\n");
    ts = mwt_trace_load_all(dir, &n);
    cr_assert_eq(n, 2, "%zu traces", n);
    const mwt_trace *w = ts[0].ppid == ts[1].pid ? &ts[0] : &ts[1];
    cr_expect(w->has_end, "%s: %s", w->path, w->err);
    cr_expect_geq(w->allocs, 1001, "the worker's allocations: %lu", (unsigned long)w->allocs);
    const mwt_block *b = block(w, 7777, false);
    cr_expect(b && !b->freed && b->reach == MW_REACH_DEFINITE, "the worker's leak");
    mwt_traces_free(ts, n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}
