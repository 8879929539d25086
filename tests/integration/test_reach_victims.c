/*
 * test_reach_victims.c — the reachability scan at exit on victims with known answers
 * (independent of valgrind; test_reference_leaks.c compares with valgrind):
 *   - reach_leaky: every case (dropped pointers, a lost list, a lost 2-cycle, a lost large
 *     mmapped block, globals, an interior pointer, a client mmap, main's TLS, a thread
 *     blocked at exit, a leak by a joined thread, freed memory holding a stale pointer), and
 *     the same under an unlimited stack rlimit;
 *   - reach_bigheap: 400k+ blocks, a 100k-deep reachable chain (no recursion), dangling and
 *     interior pointers, with the heap copied for the scan and (nocopy) without;
 *   - MEMWATCH_REACH=0: no verdicts (every block "unknown"), the same unfreed totals;
 *   - reach_threads: exit() called by a secondary thread while main waits in pthread_join,
 *     a thread blocked in read(), a leak and a __thread pointer of a thread that exited;
 *   - reach_busy: exit() while 4 threads keep allocating, freeing and unmapping (no crash,
 *     a clean END, verdicts for the snapshot).
 *   - reach_sparse: a 1 TiB mapping with two touched pages, its untouched pages skipped with
 *     PAGEMAP_SCAN and, where that ioctl is missing (kernels before 6.7), with mincore(2).
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "leaksum.h"
#include "mw_format.h"

static const char *build_abs(void)
{
    static char path[PATH_MAX];
    const char *b = getenv("MEMWATCH_BUILD");
    if (!realpath(b && *b ? b : "build", path)) cr_assert_fail("build dir not found");
    return path;
}

/* Runs a victim under the shim, with the library after_shim preloaded after it (NULL: none);
 * returns the single trace's path in trace. */
static void run_victim_with(const char *dir, const char *victim, const char *arg, const char *arg2,
                            const char *reach, const char *after_shim, char *trace, size_t len)
{
    char exe[PATH_MAX + 64], pre[2 * PATH_MAX + 64], out[PATH_MAX + 64], rs[32], op[1200];
    snprintf(exe, sizeof exe, "%s/tests/victims/%s", build_abs(), victim);
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s/libmemwatch_preload.so%s%s", build_abs(),
             after_shim ? " " : "", after_shim ? after_shim : "");
    snprintf(out, sizeof out, "MEMWATCH_OUT=%s/t.trace.zst", dir);
    snprintf(rs, sizeof rs, "MEMWATCH_REACH=%s", reach);
    snprintf(op, sizeof op, "%s/stdout", dir);
    char *argv[] = {exe, (char *)arg, (char *)arg2, NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", pre, out, rs, "MEMWATCH_QUIET=1", NULL};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int st = mw_run(argv, envp, dir, op, NULL, 120);
    clock_gettime(CLOCK_MONOTONIC, &b);
    cr_log_info("%s %s under the shim: %.2f s", victim, arg ? arg : "",
                (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    cr_assert_eq(st, 0, "%s exited with status %d", victim, st);
    snprintf(trace, len, "%s/t.trace.zst", dir);
    cr_assert_eq(access(trace, R_OK), 0, "no trace written");
}

static void run_victim2(const char *dir, const char *victim, const char *arg, const char *arg2,
                        const char *reach, char *trace, size_t len)
{
    run_victim_with(dir, victim, arg, arg2, reach, NULL, trace, len);
}

static void run_victim(const char *dir, const char *victim, const char *arg, const char *reach,
                       char *trace, size_t len)
{
    run_victim2(dir, victim, arg, NULL, reach, trace, len);
}

/* Whether the first line the victim printed (dir/stdout) is want; the line in line either way. */
static bool first_line_is(const char *dir, const char *want, char *line, size_t len)
{
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/stdout", dir);
    line[0] = '\0';
    FILE *f = fopen(out, "r");
    cr_assert(f && fgets(line, (int)len, f), "no line on the victim's stdout");
    fclose(f);
    return strcmp(line, want) == 0;
}

/* Per-size tallies of kinds. */
typedef struct tally { uint64_t size; unsigned n[4]; } tally;
typedef struct tallies { tally t[64]; int n; unsigned other[4]; } tallies;

static void on_block(uint64_t size, unsigned kind, void *arg)
{
    tallies *ts = arg;
    for (int i = 0; i < ts->n; i++)
        if (ts->t[i].size == size) { ts->t[i].n[kind]++; return; }
    ts->other[kind]++;
}

static void watch_size(tallies *ts, uint64_t size)
{
    memset(&ts->t[ts->n], 0, sizeof ts->t[0]);
    ts->t[ts->n++].size = size;
}

static const tally *of(const tallies *ts, uint64_t size)
{
    for (int i = 0; i < ts->n; i++)
        if (ts->t[i].size == size) return &ts->t[i];
    return NULL;
}

#define D MW_REACH_DEFINITE
#define I MW_REACH_INDIRECT
#define R MW_REACH_REACHABLE

/* reach_leaky's known answer, case by case; own_leak: bytes of one more definite block the
 * allocator behind the shim leaks itself (0: none). */
static void check_leaky_with(const char *trace, uint64_t own_leak)
{
    char err[512];
    static const uint64_t sizes[] = {1001, 1003, 1005, 300000, 1007, 1011, 1016, 1015, 2001,
                                     2003, 2005, 2007, 2009, 2011, 2013, 4001, 4003, 4005};
    tallies ts = {0};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) watch_size(&ts, sizes[i]);
    mw_leak_totals t;
    cr_assert_eq(mw_leaks_each(trace, &t, on_block, &ts, err, sizeof err), 0, "%s", err);
    cr_assert(t.ended);
    cr_expect_eq(of(&ts, 1001)->n[D], 2, "two dropped 1001-byte blocks (one pointed to by freed memory)");
    cr_expect_eq(of(&ts, 1003)->n[D], 1, "lost list head");
    cr_expect_eq(of(&ts, 1016)->n[I], 3, "lost list nodes are indirect");
    cr_expect_eq(of(&ts, 1005)->n[D], 1, "leak of a joined thread (its stack is not a root)");
    cr_expect_eq(of(&ts, 300000)->n[D], 1, "large mmapped block");
    cr_expect_eq(of(&ts, 1015)->n[I], 1, "only pointed to by the lost large block");
    cr_expect_eq(of(&ts, 1007)->n[D], 1, "2-cycle: the clique leader");
    cr_expect_eq(of(&ts, 1007)->n[I], 1, "2-cycle: the other block");
    cr_expect_eq(of(&ts, 1011)->n[D], 1, "realloc'd then dropped");
    static const uint64_t reach[] = {2001, 2003, 2005, 2007, 2009, 2011, 2013};
    static const char *why[] = {"global", "through a reachable block", "interior pointer",
                                "client mmap", "main thread's TLS", "realloc'd, in a global",
                                "stack of a thread blocked at exit"};
    for (size_t i = 0; i < 7; i++)
        cr_expect_eq(of(&ts, reach[i])->n[R], 1, "%lu (%s) must be reachable", reach[i], why[i]);
    for (uint64_t s = 4001; s <= 4005; s += 2) {
        const tally *x = of(&ts, s);
        cr_expect_eq(x->n[0] + x->n[D] + x->n[I] + x->n[R], 0, "%lu was freed", s);
    }
    /* Everything else (libc's stdout buffer, the blocked thread's DTV) is reachable. */
    cr_expect_eq(ts.other[D] + ts.other[I] + ts.other[0], own_leak ? 1 : 0, "other blocks: %u definite, %u "
                 "indirect, %u unknown", ts.other[D], ts.other[I], ts.other[0]);
    cr_expect_eq(t.kind_bytes[D], 2 * 1001 + 1003 + 1005 + 300000 + 1007 + 1011 + own_leak);
    cr_expect_eq(t.kind_bytes[I], 3 * 1016 + 1007 + 1015);
}

static void check_leaky(const char *trace) { check_leaky_with(trace, 0); }

static void run_and_check_leaky(const char *tag)
{
    char dir[512], trace[PATH_MAX];
    cr_assert_eq(mw_tempdir(dir, sizeof dir, tag), 0);
    run_victim(dir, "reach_leaky", NULL, "1", trace, sizeof trace);
    check_leaky(trace);
    mw_tempdir_remove(dir);
}

Test(reach, leaky_victim_every_case, .timeout = 60) { run_and_check_leaky("reach"); }

/* The mallocs other than glibc's that Debian packages, each with the bytes of the one block
 * it leaks itself through its own operator new: tcmalloc's MallocExtension::Register
 * replaces the 8-byte MallocExtension its set-up made (`current_instance = new
 * MallocExtension` in its code, then overwritten). */
static const struct { const char *lib; uint64_t own_leak; } other_mallocs[] = {
    { "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", 0 },
    { "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4", 8 },
    { "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", 8 },
    { "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", 0 },
};

/* A malloc other than glibc's behind the shim (preloaded after it, as a program linked with
 * it has it): Debian's jemalloc, tcmalloc (its first heap is sbrk's) and mimalloc. Their
 * heaps and records are anonymous mappings and data segments like the program's, and were
 * scanned as roots: every leak of reach_leaky came out reachable with jemalloc ("no leaks"),
 * the lost list's nodes and the lost cycle with tcmalloc (until 00:20 UTC on 2026-11-24).
 * The same answer as with glibc's, case by case. */
Test(reach, leaky_victim_every_case_with_other_mallocs_behind_the_shim, .timeout = 120)
{
    for (size_t i = 0; i < sizeof other_mallocs / sizeof other_mallocs[0]; i++) {
        const char *lib = other_mallocs[i].lib;
        cr_assert_eq(access(lib, R_OK), 0, "%s is missing (scripts/install-deps installs it)", lib);
        char dir[512], trace[PATH_MAX];
        cr_assert_eq(mw_tempdir(dir, sizeof dir, "reachalloc"), 0);
        cr_log_info("behind the shim: %s", lib);
        run_victim_with(dir, "reach_leaky", NULL, NULL, "1", lib, trace, sizeof trace);
        check_leaky_with(trace, other_mallocs[i].own_leak);
        mw_tempdir_remove(dir);
    }
}

/* Under `ulimit -s unlimited` the kernel lays the mappings out bottom-up and glibc reports
 * the main thread's stack as everything from the heap up to the stack's top, tens of
 * terabytes holding the modules: the scan once walked that page by page (the program hung at
 * exit), and the modules' data must stay roots (the stack is only its own mapping). */
/* An allocator serving from a static array in its own data (the tests' bump allocator,
 * preloaded after the shim): from its first block on, that data is its heap, not a root
 * (reach_roots.c, alloc_segment). Read as a root, it had the lost list's nodes, the lost
 * cycle and the block only the lost large one points to reachable. Freed blocks before its
 * first live one are still read as roots (README): the dropped 1001-byte block may come out
 * reachable, so only one of the two is asked for. */
Test(reach, a_heap_in_the_allocators_own_data_is_no_root, .timeout = 60)
{
    char dir[512], trace[PATH_MAX], err[512], lib[PATH_MAX + 64];
    snprintf(lib, sizeof lib, "%s/tests/victims/libbump_alloc.so", build_abs());
    cr_assert_eq(mw_tempdir(dir, sizeof dir, "reachbump"), 0);
    run_victim_with(dir, "reach_leaky", NULL, NULL, "1", lib, trace, sizeof trace);
    tallies ts = {0};
    static const uint64_t sizes[] = {1001, 1003, 1007, 1015, 1016, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) watch_size(&ts, sizes[i]);
    mw_leak_totals t;
    cr_assert_eq(mw_leaks_each(trace, &t, on_block, &ts, err, sizeof err), 0, "%s", err);
    cr_expect_geq(of(&ts, 1001)->n[D], 1, "a dropped 1001-byte block");
    cr_expect_eq(of(&ts, 1003)->n[D], 1, "lost list head");
    cr_expect_eq(of(&ts, 1016)->n[I], 3, "lost list nodes are indirect");
    cr_expect_eq(of(&ts, 1007)->n[D], 1, "2-cycle: the clique leader");
    cr_expect_eq(of(&ts, 1007)->n[I], 1, "2-cycle: the other block");
    cr_expect_eq(of(&ts, 1015)->n[I], 1, "only pointed to by the lost large block");
    cr_expect_eq(of(&ts, 300000)->n[D], 1, "the large block");
    mw_tempdir_remove(dir);
}

/* Unfreed blocks by (size, kind), sizes over 16 bytes only: tcmalloc makes two of 8 and 16
 * bytes itself with its own operator new (one of them a real leak: MallocExtension::Register
 * replaces the object its set-up made). */
typedef struct size_kinds { uint64_t size[256]; unsigned n[256][4]; int count; bool full; } size_kinds;

static void on_size_kind(uint64_t size, unsigned kind, void *arg)
{
    size_kinds *sk = arg;
    if (size <= 16 || kind > 3) return;
    for (int i = 0; i < sk->count; i++)
        if (sk->size[i] == size) { sk->n[i][kind]++; return; }
    if (sk->count == 256) { sk->full = true; return; }
    sk->size[sk->count] = size;
    memset(sk->n[sk->count], 0, sizeof sk->n[0]);
    sk->n[sk->count++][kind] = 1;
}

static void cxx_size_kinds(const char *after_shim, size_kinds *sk)
{
    char dir[512], trace[PATH_MAX], err[512];
    cr_assert_eq(mw_tempdir(dir, sizeof dir, "reachcxx"), 0);
    run_victim_with(dir, "reach_cxx", NULL, NULL, "1", after_shim, trace, sizeof trace);
    mw_leak_totals t;
    memset(sk, 0, sizeof *sk);
    cr_assert_eq(mw_leaks_each(trace, &t, on_size_kind, sk, err, sizeof err), 0, "%s", err);
    cr_assert(t.ended);
    cr_assert_not(sk->full);
    mw_tempdir_remove(dir);
}

/* jemalloc, tcmalloc and mimalloc define C++'s operator new and delete themselves, and
 * preloaded after the shim (or linked) theirs are the ones a program calls: until 00:30 UTC
 * on 2026-11-24 no block of a C++ program's new was in its trace with any of them (reach_cxx:
 * its lost vector, its map, its strings: none). The shim's operators now route theirs through
 * its hooks: the same unfreed blocks, kinds and sizes as with glibc's malloc and
 * libstdc++'s operators. */
Test(reach, cxx_new_and_delete_of_other_mallocs_are_traced, .timeout = 120)
{
    /* not the full tcmalloc: its heap checker and profiler keep blocks of their own */
    static const char *const libs[] = {
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
        "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
        "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2",
    };
    static size_kinds want, got;
    cxx_size_kinds(NULL, &want);
    int definite = -1;
    for (int i = 0; i < want.count; i++)
        if (want.size[i] == 24) definite = (int)want.n[i][D];
    cr_assert_eq(definite, 1, "with glibc: the lost std::vector<int> (24 bytes) is definite");
    for (size_t l = 0; l < sizeof libs / sizeof libs[0]; l++) {
        cr_assert_eq(access(libs[l], R_OK), 0, "%s is missing (scripts/install-deps installs it)", libs[l]);
        cxx_size_kinds(libs[l], &got);
        cr_expect_eq(got.count, want.count, "%s: %d sizes unfreed, %d with glibc", libs[l], got.count,
                     want.count);
        for (int i = 0; i < want.count; i++) {
            int j = 0;
            while (j < got.count && got.size[j] != want.size[i]) j++;
            cr_expect(j < got.count, "%s: no unfreed block of %lu bytes", libs[l], want.size[i]);
            if (j == got.count) continue;
            for (unsigned k = 0; k < 4; k++)
                cr_expect_eq(got.n[j][k], want.n[i][k], "%s: %lu bytes, kind %u: %u blocks, %u with glibc",
                             libs[l], want.size[i], k, got.n[j][k], want.n[i][k]);
        }
    }
}

Test(reach, unlimited_stack_rlimit, .timeout = 60)
{
    struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
    cr_assert_eq(setrlimit(RLIMIT_STACK, &rl), 0, "setrlimit: the test needs a hard limit of unlimited");
    run_and_check_leaky("reachulim");
}

Test(reach, disabled_leaves_verdicts_unknown, .timeout = 60)
{
    char dir[512], trace[PATH_MAX], err[512];
    cr_assert_eq(mw_tempdir(dir, sizeof dir, "reach0"), 0);
    run_victim(dir, "reach_leaky", NULL, "0", trace, sizeof trace);
    mw_leak_totals t;
    cr_assert_eq(mw_leaks_from_trace(trace, &t, err, sizeof err), 0, "%s", err);
    cr_expect_eq(t.reach_entries, 0, "MEMWATCH_REACH=0 wrote %lu verdicts", t.reach_entries);
    cr_expect_eq(t.kind_blocks[0], t.blocks);
    cr_expect_geq(t.blocks, 21, "unfreed blocks are still all there (%lu)", t.blocks);
    mw_tempdir_remove(dir);
}

/* A scan that runs past MEMWATCH_REACH_TIMEOUT_MS stops: the program ends as natively, the
 * trace ends properly with no verdicts, and stderr says so in one line. 300 000 blocks and a
 * 300 000-deep chain take far longer than the 1 ms allowed here. */
Test(reach, a_scan_past_its_time_limit_stops_without_verdicts, .timeout = 60)
{
    char dir[512], trace[PATH_MAX], err[512], exe[PATH_MAX + 64], pre[PATH_MAX + 64],
        out[PATH_MAX + 64], op[1200], ep[1200];
    cr_assert_eq(mw_tempdir(dir, sizeof dir, "reachlate"), 0);
    snprintf(exe, sizeof exe, "%s/tests/victims/reach_bigheap", build_abs());
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s/libmemwatch_preload.so", build_abs());
    snprintf(out, sizeof out, "MEMWATCH_OUT=%s/t.trace.zst", dir);
    snprintf(op, sizeof op, "%s/stdout", dir);
    snprintf(ep, sizeof ep, "%s/stderr", dir);
    char *argv[] = {exe, "300000", NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", pre, out, "MEMWATCH_REACH_TIMEOUT_MS=1", NULL};
    cr_assert_eq(mw_run(argv, envp, dir, op, ep, 120), 0, "the victim's status changed");
    char line[1024] = "", extra[256] = "";
    FILE *f = fopen(op, "r");
    cr_assert(f && fgets(line, sizeof line, f), "no output");
    fclose(f);
    cr_expect(strcmp(line, "reach_bigheap n=300000\n") == 0, "output: %s", line);
    f = fopen(ep, "r");
    cr_assert(f && fgets(line, sizeof line, f), "nothing on stderr");
    cr_expect(!fgets(extra, sizeof extra, f), "a second line: %s", extra);
    fclose(f);
    cr_expect(strstr(line, "memwatch: ") == line && strstr(line, "MEMWATCH_REACH_TIMEOUT_MS=1") &&
              strstr(line, "no verdict"), "stderr: %s", line);
    snprintf(trace, sizeof trace, "%s/t.trace.zst", dir);
    mw_leak_totals t;
    cr_assert_eq(mw_leaks_from_trace(trace, &t, err, sizeof err), 0, "%s", err);
    cr_expect(t.ended, "the trace has its END record");
    cr_expect_eq(t.reach_entries, 0, "%lu verdicts", t.reach_entries);
    cr_expect_geq(t.blocks, 300000, "unfreed blocks: %lu", t.blocks);
    cr_expect_eq(t.kind_blocks[0], t.blocks, "all without a verdict");
    mw_tempdir_remove(dir);
}

static void run_and_check_bigheap(const char *how)
{
    char dir[512], trace[PATH_MAX], err[512];
    cr_assert_eq(mw_tempdir(dir, sizeof dir, "reachbig"), 0);
    const long n = 100000;
    char arg[64];
    snprintf(arg, sizeof arg, "%ld", n);
    run_victim2(dir, "reach_bigheap", arg, how, "1", trace, sizeof trace);
    tallies ts = {0};
    watch_size(&ts, 48);
    watch_size(&ts, 40);
    watch_size(&ts, 24);
    watch_size(&ts, 56);
    watch_size(&ts, (uint64_t)n / 10 * 8);
    watch_size(&ts, 72);
    watch_size(&ts, 102400);
    watch_size(&ts, 88);
    watch_size(&ts, 4u << 20);
    mw_leak_totals t;
    cr_assert_eq(mw_leaks_each(trace, &t, on_block, &ts, err, sizeof err), 0, "%s", err);
    cr_expect_eq(of(&ts, 48)->n[R], n, "reachable chain: %u of %ld", of(&ts, 48)->n[R], n);
    cr_expect_eq(of(&ts, 40)->n[D], 1, "lost list head: %u definite", of(&ts, 40)->n[D]);
    cr_expect_eq(of(&ts, 40)->n[I], n - 1, "lost list: %u indirect", of(&ts, 40)->n[I]);
    cr_expect_eq(of(&ts, 24)->n[D], n / 10, "singletons: %u definite", of(&ts, 24)->n[D]);
    const tally *f = of(&ts, 56);
    cr_expect_eq(f->n[0] + f->n[D] + f->n[I] + f->n[R], 0, "56-byte blocks were freed");
    cr_expect_eq(of(&ts, (uint64_t)n / 10 * 8)->n[D], 1, "lost pointer array: %u definite",
                 of(&ts, (uint64_t)n / 10 * 8)->n[D]);
    cr_expect_eq(of(&ts, 72)->n[I], n / 20, "its live blocks: %u of %ld indirect", of(&ts, 72)->n[I], n / 20);
    cr_expect_eq(of(&ts, 72)->n[D] + of(&ts, 72)->n[R], 0);
    cr_expect_eq(of(&ts, 102400)->n[R], 1, "block reached through an interior pointer");
    cr_expect_eq(of(&ts, 88)->n[R], 10, "blocks only it points to: %u reachable", of(&ts, 88)->n[R]);
    cr_expect_eq(of(&ts, 4u << 20)->n[R], how ? 66u : 0u, "4 MiB blocks: %u reachable", of(&ts, 4u << 20)->n[R]);
    cr_expect_eq(t.kind_blocks[0], 0, "blocks without a verdict");
    /* verdicts in records of up to 16 384 entries: each record restarts its deltas, and
     * 1 024-entry records made a big heap's verdicts several times the size in the trace */
    cr_expect_geq(t.reach_entries, (uint64_t)n * 2, "%llu verdicts", (unsigned long long)t.reach_entries);
    cr_expect_leq(t.reach_records * 8192, t.reach_entries, "%llu verdicts in %llu REACH records",
                  (unsigned long long)t.reach_entries, (unsigned long long)t.reach_records);
    mw_tempdir_remove(dir);
}

/* Heap copied whole for the scan; the address index (reach_index.c) over 300k blocks. */
Test(reach, big_heap_deep_chain, .timeout = 120) { run_and_check_bigheap(NULL); }

/* Live blocks spanning more than COPY_MAX: the window (lists, clique leaders) and span reads. */
Test(reach, big_heap_not_copied, .timeout = 120) { run_and_check_bigheap("nocopy"); }

Test(reach, threads_exit_from_a_thread, .timeout = 60)
{
    char dir[512], trace[PATH_MAX], err[512];
    cr_assert_eq(mw_tempdir(dir, sizeof dir, "reachthr"), 0);
    run_victim(dir, "reach_threads", NULL, "1", trace, sizeof trace);
    tallies ts = {0};
    for (uint64_t s = 3001; s <= 3011; s += 2) watch_size(&ts, s);
    mw_leak_totals t;
    cr_assert_eq(mw_leaks_each(trace, &t, on_block, &ts, err, sizeof err), 0, "%s", err);
    cr_expect_eq(of(&ts, 3001)->n[R], 1, "on the stack of a live thread blocked in read()");
    cr_expect_eq(of(&ts, 3003)->n[D], 1, "leaked by a thread that exited");
    cr_expect_eq(of(&ts, 3005)->n[R], 1, "in a __thread variable of an exited thread (TLS kept)");
    cr_expect_eq(of(&ts, 3007)->n[R], 1, "on main's stack while main waits in pthread_join");
    cr_expect_eq(of(&ts, 3009)->n[R], 1, "on the stack of the thread calling exit()");
    cr_expect_eq(of(&ts, 3011)->n[D], 1, "only in dead stack below a blocked thread's sp, next to "
                 "its TLS");
    cr_expect_eq(ts.other[D] + ts.other[I] + ts.other[0], 0, "other blocks (DTVs, stdout) "
                 "must be reachable");
    mw_tempdir_remove(dir);
}

/* Runs reach_threads with ARG and N (NULL: no count) and checks the verdicts on its blocks of
 * `size` bytes: `want` of them of kind `kind`; with `others_reachable`, every other block is
 * reachable. */
static void threads_case(const char *tag, const char *arg, const char *n, uint64_t size, unsigned kind,
                         unsigned want, bool others_reachable)
{
    char dir[512], trace[PATH_MAX], err[512];
    cr_assert_eq(mw_tempdir(dir, sizeof dir, tag), 0);
    run_victim2(dir, "reach_threads", arg, n, "1", trace, sizeof trace);
    tallies ts = {0};
    watch_size(&ts, size);
    mw_leak_totals t;
    cr_assert_eq(mw_leaks_each(trace, &t, on_block, &ts, err, sizeof err), 0, "%s", err);
    cr_expect_eq(of(&ts, size)->n[kind], want, "blocks of %llu bytes: %u definite, %u reachable",
                 (unsigned long long)size, of(&ts, size)->n[D], of(&ts, size)->n[R]);
    if (others_reachable)
        cr_expect_eq(ts.other[D] + ts.other[I] + ts.other[0], 0, "other blocks must be reachable");
    mw_tempdir_remove(dir);
}

/* A block leaked by an exited thread whose cached stack the kernel merged with a mapping of
 * the shim's own right above it (reach_threads.c merged): definite, as valgrind says
 * (test_reference_leaks.c threads_merged_stacks). */
Test(reach, exited_thread_stack_merged_with_a_mapping_above, .timeout = 60)
{
    threads_case("reachmerged", "merged", NULL, 3013, D, 1, true);
}

/* The same with 1 500 threads (reach_threads.c merged 1500): the shim's own mappings for all
 * of them (each thread's state, ring, live table, alternate signal stack) stay out of the
 * roots. With the own-range table of 4 096 slots before 22:05 UTC on 2026-11-22 the ranges
 * of the later threads found no room, were scanned as roots, and the leak came out
 * reachable. */
Test(reach, fifteen_hundred_threads_own_mappings_are_not_roots, .timeout = 120)
{
    threads_case("reachcrowd", "merged", "1500", 3013, D, 1, true);
}

/* 5 000 threads alive at exit (reach_threads.c alive 5000), each with a block only on its
 * stack: every stack is a root, every block reachable. Before 22:30 UTC on 2026-11-22 the
 * scan took at most 4 096 threads, 2 048 of them registered: 3 000 of these blocks came out
 * definitely lost. */
Test(reach, five_thousand_live_threads_stacks_are_roots, .timeout = 180)
{
    threads_case("reachalive", "alive", "5000", 3019, R, 5000, false);
}

/* 300 threads alive at exit whose live-block tables are biased to them (reach_threads.c busy
 * 300: 70 000 malloc/free pairs each first), each with a block only on its stack: the scan
 * takes every table from its owner (256 at a time, one membarrier each batch, live.c
 * revoke_all: 3 membarriers in all where it took 301 before) and finds every block. */
Test(reach, three_hundred_live_threads_with_biased_tables, .timeout = 180)
{
    threads_case("reachbusy", "busy", "300", 3021, R, 300, false);
}

/* reach_sparse's verdicts (4321 and 4323 reachable, 1234 definite); removes dir. */
static void expect_sparse_verdicts(const char *dir, const char *trace)
{
    char err[512];
    tallies ts = {0};
    watch_size(&ts, 4321);
    watch_size(&ts, 4323);
    watch_size(&ts, 1234);
    mw_leak_totals t;
    cr_assert_eq(mw_leaks_each(trace, &t, on_block, &ts, err, sizeof err), 0, "%s", err);
    cr_assert(t.ended);
    cr_expect_eq(of(&ts, 4321)->n[R], 1, "pointed to from a page 768 GiB into the mapping");
    cr_expect_eq(of(&ts, 4323)->n[R], 1, "pointed to from the mapping's first page");
    cr_expect_eq(of(&ts, 1234)->n[D], 1, "dropped");
    mw_tempdir_remove(dir);
}

/* A 1 TiB read-write anonymous mapping with two touched pages (a sanitizer's shadow memory
 * is like it): its untouched pages are skipped (PAGEMAP_SCAN, or mincore(2)), the pointers
 * in the touched ones still count. Reading all of it, as the scan once did, would not end
 * within the timeout (and maps page tables for a TiB). */
Test(reach, sparse_terabyte_mapping_only_its_touched_pages, .timeout = 60)
{
    char dir[512], trace[PATH_MAX], line[64];
    cr_assert_eq(mw_tempdir(dir, sizeof dir, "reachsparse"), 0);
    run_victim(dir, "reach_sparse", NULL, "1", trace, sizeof trace);
    if (!first_line_is(dir, "sparse ok\n", line, sizeof line)) {
        mw_tempdir_remove(dir);
        cr_skip_test("the system refused a 1 TiB MAP_NORESERVE mapping: %s", line);
    }
    expect_sparse_verdicts(dir, trace);
}

/* The same mapping where the PAGEMAP_SCAN ioctl is not there (Linux before 6.7: Debian 12's
 * 6.1): the scan finds the touched pages with mincore(2), 64 MiB of the mapping per call. The
 * victim runs in a mount namespace of its own with /dev/null bound over its
 * /proc/PID/task/PID/pagemap (a shell that execs it keeps its pid), where the ioctl fails
 * with ENOTTY as on an older kernel. Reading the whole TiB instead would not end within the
 * timeout; skipping a touched page would lose a reachable block. Needs root (mount). */
Test(reach, sparse_terabyte_mapping_without_pagemap_scan, .timeout = 60)
{
    if (geteuid() != 0 || access("/usr/bin/unshare", X_OK) != 0) cr_skip_test("needs root and unshare(1)");
    char dir[512], line[64], exe[PATH_MAX + 64], pre[PATH_MAX + 64], out[600], op[600];
    cr_assert_eq(mw_tempdir(dir, sizeof dir, "reachnopm"), 0);
    snprintf(exe, sizeof exe, "%s/tests/victims/reach_sparse", build_abs());
    snprintf(pre, sizeof pre, "%s/libmemwatch_preload.so", build_abs());
    snprintf(out, sizeof out, "%s/t.trace.zst", dir);
    snprintf(op, sizeof op, "%s/stdout", dir);
    /* exit 3: the bind refused; 4: the pagemap file is still the kernel's */
    const char *script = "mount --bind /dev/null /proc/$$/task/$$/pagemap 2>/dev/null || exit 3\n"
                         "[ -c /proc/$$/task/$$/pagemap ] || exit 4\n"
                         "export LD_PRELOAD=\"$1\" MEMWATCH_OUT=\"$2\" MEMWATCH_REACH=1 MEMWATCH_QUIET=1\n"
                         "exec \"$3\"\n";
    char *argv[] = { "/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", (char *)script, "sh",
                     pre, out, exe, NULL };
    char *envp[] = { "PATH=/usr/bin:/bin", NULL };
    int st = mw_run(argv, envp, dir, op, NULL, 50);
    if (WIFEXITED(st) && (WEXITSTATUS(st) == 3 || WEXITSTATUS(st) == 4)) {
        mw_tempdir_remove(dir);
        cr_skip_test("no private mount namespace with the pagemap file bound over (status %d)", WEXITSTATUS(st));
    }
    cr_assert_eq(st, 0, "unshare + reach_sparse exited with status %d", st);
    if (!first_line_is(dir, "sparse ok\n", line, sizeof line)) {
        mw_tempdir_remove(dir);
        cr_skip_test("the system refused a 1 TiB MAP_NORESERVE mapping: %s", line);
    }
    expect_sparse_verdicts(dir, out);
}

/* A guard page (madvise(MADV_GUARD_INSTALL), Linux 6.13) inside a block still held at exit:
 * /proc/self/maps shows its mapping readable, a read of it faults. The scan neither dies of it
 * (the shim copied a lone program's heap directly, and the program died of SIGSEGV at exit
 * with an empty trace, until 07:50 UTC on 2026-11-23) nor loses the pointers on either side of
 * it (a 96 KiB block that could not be read whole was not scanned at all: what it pointed to
 * came out definitely lost). */
static void guard_case(const char *tag, const char *mode)
{
    char dir[512], trace[PATH_MAX], err[512], line[64];
    cr_assert_eq(mw_tempdir(dir, sizeof dir, tag), 0);
    run_victim(dir, "reach_guard", mode, "1", trace, sizeof trace);
    if (!first_line_is(dir, "guard ok\n", line, sizeof line)) {
        mw_tempdir_remove(dir);
        cr_skip_test("no guard regions on this kernel: %s", line);
    }
    tallies ts = {0};
    uint64_t big = strcmp(mode, "heap") == 0 ? 96u << 10 : 1u << 20;
    watch_size(&ts, big);
    watch_size(&ts, 4331);
    watch_size(&ts, 4333);
    watch_size(&ts, 1243);
    mw_leak_totals t;
    cr_assert_eq(mw_leaks_each(trace, &t, on_block, &ts, err, sizeof err), 0, "%s", err);
    cr_assert(t.ended, "the trace has its end");
    cr_expect_eq(of(&ts, big)->n[R], 1, "the guarded block, held by a global");
    cr_expect_eq(of(&ts, 4331)->n[R], 1, "pointed to from before the guard page");
    cr_expect_eq(of(&ts, 4333)->n[R], 1, "pointed to from after the guard page");
    cr_expect_eq(of(&ts, 1243)->n[D], 1, "dropped");
    mw_tempdir_remove(dir);
}

Test(reach, guard_page_in_a_mmapped_block, .timeout = 60) { guard_case("reachguardm", "mmapped"); }
Test(reach, guard_page_in_a_heap_block, .timeout = 60) { guard_case("reachguardh", "heap"); }

/* Words in a program's own anonymous memory that look like glibc's mmapped-chunk header are
 * data, scanned as the root they are in: a size that wraps the address space made the old
 * scan go back over the same pages for ever (a JVM at exit), a plausible one hid the
 * pointers behind it. A real mmapped chunk is still skipped (its block is lost here). */
Test(reach, fake_mmapped_chunk_headers_are_data, .timeout = 60)
{
    char dir[512], trace[PATH_MAX], err[512];
    cr_assert_eq(mw_tempdir(dir, sizeof dir, "reachfake"), 0);
    run_victim(dir, "reach_fakechunk", NULL, "1", trace, sizeof trace);
    tallies ts = {0};
    watch_size(&ts, 2345);
    watch_size(&ts, 2347);
    watch_size(&ts, 2349);
    watch_size(&ts, 300000);
    watch_size(&ts, 1234);
    mw_leak_totals t;
    cr_assert_eq(mw_leaks_each(trace, &t, on_block, &ts, err, sizeof err), 0, "%s", err);
    cr_assert(t.ended);
    cr_expect_eq(of(&ts, 2345)->n[R], 1, "behind a header whose size wraps");
    cr_expect_eq(of(&ts, 2347)->n[R], 1, "behind a plausible header of no block");
    cr_expect_eq(of(&ts, 300000)->n[D], 1, "the dropped mmapped block");
    cr_expect_eq(of(&ts, 2349)->n[I], 1, "only in the dropped mmapped block");
    cr_expect_eq(of(&ts, 1234)->n[D], 1, "dropped");
    mw_tempdir_remove(dir);
}

Test(reach, other_threads_still_running, .timeout = 60)
{
    char dir[512], trace[PATH_MAX], err[512];
    cr_assert_eq(mw_tempdir(dir, sizeof dir, "reachbusy"), 0);
    run_victim(dir, "reach_busy", NULL, "1", trace, sizeof trace);   /* asserts exit 0 */
    mw_leak_totals t;
    cr_assert_eq(mw_leaks_from_trace(trace, &t, err, sizeof err), 0, "%s", err);
    cr_expect(t.ended, "the trace has its END record");
    cr_expect_geq(t.reach_entries, 2000, "verdicts for the snapshot (%lu)", t.reach_entries);
    /* The lost list: 1 head + 999 indirect nodes at least (the churning threads' blocks
     * add to these counts only if they are lost too, which they are not: they sit in
     * the threads' stacks). */
    cr_expect_geq(t.kind_blocks[MW_REACH_INDIRECT], 999, "indirect %lu",
                  t.kind_blocks[MW_REACH_INDIRECT]);
    cr_expect_geq(t.kind_blocks[MW_REACH_REACHABLE], 1000, "reachable %lu",
                  t.kind_blocks[MW_REACH_REACHABLE]);
    mw_tempdir_remove(dir);
}
