/*
 * test_shim_runtime.c — threads (names, per-thread totals, cross-thread frees), signal
 * handlers that allocate, setjmp/longjmp, C++ new/delete/exceptions, dlopen/dlclose, threads
 * with PTHREAD_STACK_MIN stacks (one of them calling exit()), threads taking over the states
 * of ended ones, and the watch-only mode (shim
 * dlopen()ed instead of preloaded). Output and exit status must be the
 * same as without the shim.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mwtest.h"

typedef struct run {
    char *dir;
    mwt_run native, traced;
    mwt_trace t;
} run;

static void run_victim(run *R, const char *victim, const char *arg)
{
    memset(R, 0, sizeof *R);
    R->dir = mwt_tmpdir();
    cr_assert(R->dir);
    const char *argv[] = { mwt_victim(victim), arg, NULL };
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &R->native), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = R->dir }, &R->traced), 0);
    cr_expect_str_eq(R->traced.out, R->native.out, "stdout differs (%s)", victim);
    cr_expect_eq(R->traced.raw_status, R->native.raw_status, "status differs (%s)", victim);
    cr_expect_eq(mwt_count_lines(R->traced.err, "memwatch:"), 0, "%s", R->traced.err);
    cr_assert_eq(mwt_trace_load_one(R->dir, &R->t), 0, "%s", R->t.err);
    cr_expect(R->t.has_end);
    cr_expect_eq(R->t.status, MW_EOF, "%s", R->t.err);
    cr_expect_eq(R->t.lost_events, 0);
    cr_expect_eq(R->t.unknown_frees, 0);
}

/* Runs argv under the shim only, for victims whose output or stderr tells what they saw of the
 * shim (run_victim compares both with a native run): exit status 0, `said` in the one
 * memwatch: line on stderr (NULL: no such line), the trace loaded into R->t. */
static void run_traced(run *R, const char *const *argv, const char *said)
{
    memset(R, 0, sizeof *R);
    R->dir = mwt_tmpdir();
    cr_assert(R->dir);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = R->dir }, &R->traced), 0);
    cr_expect_eq(R->traced.exit_code, 0, "%s", R->traced.err);
    cr_expect_eq(mwt_count_lines(R->traced.err, "memwatch:"), said ? 1 : 0, "%s", R->traced.err);
    if (said) cr_expect(strstr(R->traced.err, said), "%s", R->traced.err);
    cr_assert_eq(mwt_trace_load_one(R->dir, &R->t), 0, "%s", R->t.err);
}

static void run_free(run *R)
{
    mwt_trace_free(&R->t);
    mwt_run_free(&R->native);
    mwt_run_free(&R->traced);
    mwt_rmtree(R->dir);
    free(R->dir);
}

Test(shim_runtime, threads_named_totals_exact)
{
    run R;
    run_victim(&R, "shim_threads", NULL);
    int named = 0;
    for (size_t i = 0; i < R.t.nthreads; i++) {
        const mwt_thread *th = &R.t.threads[i];
        if (strncmp(th->name, "worker-", 7) != 0) continue;
        named++;
        long w = strtol(th->name + 7, NULL, 10);
        cr_expect_geq(th->allocs, 20000 + (uint64_t)w + 1, "%s allocs %llu", th->name,
                      (unsigned long long)th->allocs);
        cr_expect_geq(th->frees, 20000, "%s", th->name);
        cr_expect(th->ended, "%s has no THREAD_END", th->name);
        cr_expect_eq(th->parent, 0);
        cr_expect_neq(th->tid, 0);
    }
    cr_expect_eq(named, 4, "threads named worker-N: %d", named);
    /* threads taking turns each write the time when the clock moved: the writer keeps one */
    cr_expect_eq(R.t.time_repeats, 0, "%llu TIMEs repeat the time", (unsigned long long)R.t.time_repeats);
    for (int w = 0; w < 4; w++)
        cr_expect_eq(mwt_live_of_size(&R.t, 40000 + (uint64_t)w), (size_t)w + 1, "worker %d leaks", w);
    cr_expect_eq(mwt_live_of_size(&R.t, 777), 0, "the main thread's blocks freed by worker-0");
    cr_expect_eq(mwt_allocs_of_size(&R.t, 777), 100);
    cr_expect_eq(mwt_allocs_of_size(&R.t, 55555), 4);
    cr_expect_eq(mwt_live_of_size(&R.t, 55555), 0, "frees made by key destructors at thread exit");
    /* every block the workers churned was freed */
    for (size_t i = 0; i < R.t.nblocks; i++) {
        const mwt_block *b = &R.t.blocks[i];
        if (b->size >= 16 && b->size < 216 && b->tidx != 0) cr_expect(b->freed, "churn block not freed");
    }
    run_free(&R);
}

/* Each thread's blocks live in its own table (preload/live.c): frees and reallocs by other
 * threads, while the owner runs and after it exited (its blocks moved to the shared table),
 * by threads on recycled states, random swapping between four threads, and a thread with more
 * live blocks than its own table takes (the rest in the shared table) all find their block:
 * nothing freed is missing, nothing unfreed is extra. */
Test(shim_runtime, cross_thread_frees_exact)
{
    run R;
    run_victim(&R, "shim_cross", NULL);
    cr_expect_eq(mwt_allocs_of_size(&R.t, 1111), 2000);
    cr_expect_eq(mwt_live_of_size(&R.t, 1111), 0, "freed by main while the producer ran");
    cr_expect_eq(mwt_live_of_size(&R.t, 1212), 0, "reallocated by main");
    cr_expect_eq(mwt_live_of_size(&R.t, 1313), 150, "half of the reallocated blocks stay");
    cr_expect_eq(mwt_allocs_of_size(&R.t, 2222), 640);
    cr_expect_eq(mwt_live_of_size(&R.t, 2222), 120, "blocks of exited threads");
    cr_expect_eq(mwt_allocs_of_size(&R.t, 3333), 800, "%zu", mwt_allocs_of_size(&R.t, 3333));
    cr_expect_eq(mwt_live_of_size(&R.t, 3333), 0);
    size_t swapped_live, swapped = mwt_allocs_in_sizes(&R.t, 5000, 5100, &swapped_live);
    cr_expect_eq(swapped, 200000, "%zu", swapped);
    cr_expect_eq(swapped_live, 0, "swapped blocks left: %zu", swapped_live);
    cr_expect_eq(mwt_allocs_of_size(&R.t, 6666), 5000);
    cr_expect_eq(mwt_live_of_size(&R.t, 6666), 500, "%zu", mwt_live_of_size(&R.t, 6666));
    run_free(&R);
}

/* A thread's table biased to it (preload/live_impl.h: no lock while no other thread comes)
 * and another thread's free of one of its blocks while it works (shim_bias.c: 160 such frees
 * and reallocs, each revoking a table that went biased again since the last): every free
 * finds its block, exactly the blocks left are live, nothing is lost. */
Test(shim_runtime, frees_into_a_table_biased_to_its_working_owner)
{
    for (int round = 0; round < 3; round++) {
        run R;
        run_victim(&R, "shim_bias", NULL);
        cr_expect_str_eq(R.traced.out, "handed 160 freed 160\n");
        size_t moved = 0;
        for (unsigned w = 0; w < 4; w++) {
            cr_expect_eq(mwt_live_of_size(&R.t, 7000 + w), 3, "worker %u", w);
            size_t live, handed = mwt_allocs_in_sizes(&R.t, 9000 + w, 9000 + w + 1, &live);
            cr_expect_eq(handed, 40, "worker %u", w);
            cr_expect_eq(live, 0, "worker %u: %zu handed blocks left", w, live);
            moved += mwt_allocs_of_size(&R.t, 9500 + w);   /* every other one, whoever's */
            cr_expect_eq(mwt_live_of_size(&R.t, 9500 + w), 0, "worker %u", w);
        }
        cr_expect_eq(moved, 80);
        /* the workers' churn: all freed; in its sizes only pthread_create's 304-byte thread
         * vector of each worker stays (glibc keeps it with the cached stack) */
        size_t churn_live, churn = mwt_allocs_in_sizes(&R.t, 16, 1016, &churn_live);
        cr_expect_geq(churn, 4 * 2000000);
        cr_expect_leq(churn_live, 4, "%zu of the churn's blocks left", churn_live);
        run_free(&R);
    }
}

/* An arena handed from an exited thread to a new one (shim_reown.c): chunks of the shared
 * table hold one thread's blocks in 8-byte entries and the other's in 16-byte ones, lose
 * their owner's last block and change hands. Every free still finds its block; exactly the
 * blocks left are live. */
Test(shim_runtime, shared_table_chunks_change_hands)
{
    run R;
    run_victim(&R, "shim_reown", NULL);
    cr_expect_str_eq(R.traced.out, "reown 1500\n");
    size_t n = 0, live = 0, l;
    for (uint64_t size = 48; size <= 160; size += 16) {
        n += mwt_allocs_of_size(&R.t, size);
        l = mwt_live_of_size(&R.t, size);
        live += l;
    }
    cr_expect_geq(n, 6000 + 6000, "%zu", n);
    cr_expect_eq(live, 1500, "blocks left: %zu", live);
    run_free(&R);
}

/* How many thread indexes the threads whose names start with `prefix` used (*named: how many
 * such threads); each index must be at least `min_idx`. */
static size_t distinct_indexes(const mwt_trace *t, const char *prefix, uint64_t min_idx, size_t *named)
{
    uint64_t idx[16];
    size_t nidx = 0;
    *named = 0;
    for (size_t i = 0; i < t->nthreads; i++) {
        const mwt_thread *th = &t->threads[i];
        if (strncmp(th->name, prefix, strlen(prefix)) != 0) continue;
        (*named)++;
        bool seen = false;
        for (size_t k = 0; k < nidx; k++) seen |= idx[k] == th->tidx;
        if (!seen && nidx < 16) idx[nidx++] = th->tidx;
        cr_expect_geq(th->tidx, min_idx, "%s has index %llu", th->name, (unsigned long long)th->tidx);
    }
    return nidx;
}

/* Threads one after another (shim_takeover.c): each takes over the state the one before left,
 * with its index and its unfreed blocks, and frees and reallocates some of them, a later
 * thread and main free more. Every free finds its block, the blocks left are exactly those
 * expected, and the exit scan gives each its verdict. The ten threads share one index, or
 * two or three when the writer happened to recycle a state between a thread's end and the
 * next one's start (one index each before states were taken over). */
Test(shim_runtime, a_new_thread_takes_over_an_ended_threads_state)
{
    run R;
    run_victim(&R, "shim_takeover", NULL);
    cr_expect_str_eq(R.traced.out, "takeover 10\n");
    size_t named, nidx = distinct_indexes(&R.t, "req-", 0, &named);
    cr_expect_eq(named, 10, "threads named req-N: %zu", named);
    cr_expect_leq(nidx, 3, "the ten threads used %zu indexes", nidx);
    for (uint64_t k = 1; k <= 10; k++) {
        cr_expect_eq(mwt_allocs_of_size(&R.t, 1400 + k), 40);
        cr_expect_eq(mwt_live_of_size(&R.t, 1400 + k), k < 10 ? 18u : 20u, "size %llu",
                     (unsigned long long)(1400 + k));
        cr_expect_eq(mwt_live_of_size(&R.t, 1500 + k), 2);
        cr_expect_eq(mwt_live_of_size(&R.t, 1600 + k), k > 1 ? 2u : 0u);
    }
    size_t reach[4] = {0};
    for (size_t i = 0; i < R.t.nblocks; i++) {
        const mwt_block *b = &R.t.blocks[i];
        if (b->freed || b->size < 1401 || b->size > 1610) continue;
        bool lost = b->size >= 1501 && b->size <= 1510;
        cr_expect_eq(b->reach, lost ? MW_REACH_DEFINITE : MW_REACH_REACHABLE,
                     "block of %llu bytes: verdict %llu", (unsigned long long)b->size,
                     (unsigned long long)b->reach);
        if (b->reach < 4) reach[b->reach]++;
    }
    cr_expect_eq(reach[MW_REACH_DEFINITE], 20);
    cr_expect_eq(reach[MW_REACH_REACHABLE], 9 * 18 + 20 + 9 * 2);
    run_free(&R);
}

/* The same with 150 other threads alive (shim_takeover.c crowd): an ended thread's state is
 * found past the registry's first 128 slots (thread.c keeps a bit per slot whose thread
 * ended; before 21:55 UTC on 2026-11-22 every registered state was looked at, a cache miss
 * each, on every thread start while one had just ended). */
Test(shim_runtime, a_new_thread_takes_over_a_state_among_many_live_threads)
{
    run R;
    run_victim(&R, "shim_takeover", "crowd");
    cr_expect_str_eq(R.traced.out, "crowd 10\n");
    /* every one after the 150 waiting threads' indexes */
    size_t named, nidx = distinct_indexes(&R.t, "crowd-", 151, &named);
    cr_expect_eq(named, 10, "threads named crowd-N: %zu", named);
    cr_expect_leq(nidx, 3, "the ten threads used %zu indexes", nidx);
    run_free(&R);
}

/* An idle program (shim_idle.c): after 100 ms with nothing in the rings the writer sleeps
 * 20 ms a round instead of 5 (64-65 wake-ups in the second, 195 with 5 ms rounds; checked),
 * and the block allocated at the end of that second still gets its time: the program's
 * thread reads the clock itself while the writer sleeps (with the writer's last tick left
 * as it was, the blocks came out 17 ms too close in one run of three; checked). */
Test(shim_runtime, an_idle_writer_sleeps_longer_and_times_stay_right)
{
    /* not run_victim: the victim prints what it sees of the writer, so its output differs
     * from the native run's by design */
    run R;
    const char *argv[] = { mwt_victim("shim_idle"), NULL };
    run_traced(&R, argv, NULL);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &R.native), 0);
    long wakeups = -2;
    cr_assert_eq(sscanf(R.traced.out, "writer wakeups %ld", &wakeups), 1, "%s", R.traced.out);
    cr_expect_str_eq(R.native.out, "writer wakeups -1\n");
    cr_expect_geq(wakeups, 20, "%ld wake-ups in a second", wakeups);
    cr_expect_leq(wakeups, 110, "%ld wake-ups in a second", wakeups);
    const mwt_block *early = NULL, *late = NULL;
    for (size_t i = 0; i < R.t.nblocks; i++) {
        if (R.t.blocks[i].size == 100 && !early) early = &R.t.blocks[i];
        if (R.t.blocks[i].size == 4242) late = &R.t.blocks[i];
    }
    cr_assert(early && late, "no block of 100 or of 4242 bytes");
    /* 1.2 s apart, in ticks of 8.4 ms (4.2 ms before format version 5); a clock left as the
     * writer last set it before its 20 ms sleeps would lag up to 20 ms (17 ms seen: 1.183 s).
     * With ticks of 4.2 ms: usually 1.1996 s, one tick less in some runs, two ticks less
     * (1.1912 s) once on a loaded machine (a fresh-clone `make test` at 07:07 UTC on
     * 2026-11-23), 8.4 ms short: one tick of 8.4 ms and that slop. */
    uint64_t apart = late->t_ns - early->t_ns;
    cr_log_info("wake-ups %ld, blocks %llu ns apart", wakeups, (unsigned long long)apart);
    cr_expect_geq(apart, 1183000000ull, "the blocks' times are %llu ns apart", (unsigned long long)apart);
    cr_expect_leq(apart, 60000000000ull, "the blocks' times are %llu ns apart", (unsigned long long)apart);
    run_free(&R);
}

/* More threads alive at once than registry slots (shim_many_threads.c, 8 300 threads): the
 * ones past the 8 192 slots are recorded in the shared stream of exited threads, with their
 * stacks, so every malloc, mmap and munmap is in the trace and nothing is lost; one line on
 * stderr says so.
 * (Before 22:30 UTC on 2026-11-22 their first call was lost, their mappings were not
 * recorded at all, and each such thread printed a line that blamed memory.) */
Test(shim_runtime, more_threads_than_registry_slots_lose_nothing, .timeout = 120)
{
    run R;
    const char *argv[] = { mwt_victim("shim_many_threads"), NULL };
    run_traced(&R, argv, "more than 8192 threads at once");
    cr_expect_str_eq(R.traced.out, "threads 8300\n");
    cr_expect_eq(R.t.lost_events, 0);
    cr_expect_eq(mwt_allocs_of_size(&R.t, 5555), 8300);
    cr_expect_eq(mwt_live_of_size(&R.t, 5555), 0);
    size_t stackless = 0; /* the shared stream's records carry their callers' stacks too */
    for (size_t i = 0; i < R.t.nblocks; i++) stackless += R.t.blocks[i].size == 5555 && !R.t.blocks[i].stack;
    cr_expect_eq(stackless, 0, "%zu blocks of 5555 bytes without a stack", stackless);
    size_t maps = 0, unmapped = 0;
    for (size_t i = 0; i < R.t.nmaps; i++)
        if (R.t.maps[i].len == 12288) {
            maps++;
            unmapped += R.t.maps[i].unmapped;
        }
    cr_expect_eq(maps, 8300, "%zu mappings of 12288 bytes", maps);
    cr_expect_eq(unmapped, 8300, "%zu of them unmapped", unmapped);
    run_free(&R);
}

/* More objects loaded at once than the shim records (shim_many_objects.c: 4 150 copies of a
 * library): the first 4 096 are in the trace, and one line on stderr says the rest are not
 * (before 23:00 UTC on 2026-11-22 they were left out without a word). */
Test(shim_runtime, more_objects_than_recorded_are_said, .timeout = 120)
{
    char lib[4096];
    snprintf(lib, sizeof lib, "%s/tests/victims/libdeep_now.so", mwt_build_dir());
    run R;
    char *objs = mwt_tmpdir();
    cr_assert(objs);
    const char *argv[] = { mwt_victim("shim_many_objects"), lib, objs, "4150", NULL };
    run_traced(&R, argv, "more than 4096 objects loaded at once");
    cr_expect_str_eq(R.traced.out, "loaded 4150\n");
    cr_expect_eq(R.t.nrec[MW_REC_MODULE_LOAD], 4096, "%llu objects recorded",
                 (unsigned long long)R.t.nrec[MW_REC_MODULE_LOAD]);
    mwt_rmtree(objs);
    free(objs);
    run_free(&R);
}

/* States the writer recycled go to new threads lowest index first, as taken-over ones do
 * (shim_takeover.c recycled): the threads started after eight ended ones, one after another
 * while alive, get their indexes in order, lowest first (the last one recycled was handed
 * out first before 20:32 UTC on 2026-11-22; a heap since 22:10). */
Test(shim_runtime, recycled_states_go_lowest_index_first)
{
    run R;
    run_victim(&R, "shim_takeover", "recycled");
    cr_expect_str_eq(R.traced.out, "recycled 8\n");
    uint64_t pool_idx[8], late[8];
    size_t pools = 0;
    for (int k = 0; k < 8; k++) late[k] = UINT64_MAX;
    for (size_t i = 0; i < R.t.nthreads; i++) {
        const mwt_thread *th = &R.t.threads[i];
        if (strncmp(th->name, "pool-", 5) == 0 && pools < 8) pool_idx[pools++] = th->tidx;
        if (strcmp(th->name, "late") == 0) late[0] = th->tidx;
        if (strncmp(th->name, "late-", 5) == 0 && th->name[5] >= '1' && th->name[5] <= '7')
            late[th->name[5] - '0'] = th->tidx;
    }
    cr_assert_eq(pools, 8);
    for (size_t a = 1; a < 8; a++) /* the pool's indexes, lowest first */
        for (size_t b = a; b > 0 && pool_idx[b - 1] > pool_idx[b]; b--) {
            uint64_t x = pool_idx[b];
            pool_idx[b] = pool_idx[b - 1];
            pool_idx[b - 1] = x;
        }
    size_t nd = 0; /* distinct: a pool thread may have taken over another's state */
    for (size_t a = 0; a < 8; a++)
        if (nd == 0 || pool_idx[nd - 1] != pool_idx[a]) pool_idx[nd++] = pool_idx[a];
    for (size_t k = 0; k < 8; k++) {
        if (k < nd)
            cr_expect_eq(late[k], pool_idx[k], "late thread %zu got index %llu, the pool's %zu-th "
                         "lowest is %llu", k, (unsigned long long)late[k], k + 1,
                         (unsigned long long)pool_idx[k]);
        else /* past the recycled states: new indexes, in order */
            cr_expect_gt(late[k], k ? late[k - 1] : 0, "late thread %zu got index %llu after %llu",
                         k, (unsigned long long)late[k], (unsigned long long)late[k - 1]);
    }
    run_free(&R);
}

/* A heap far bigger than a thread's own table (shim_bigheap.c): most blocks are in the shared
 * table, by 64 KiB chunk (preload/live.c). Shuffled frees empty chunks, new blocks reuse their
 * memory, an exited thread's blocks move over, reallocs leave it: every free still finds its
 * block and every unfreed block is there. */
Test(shim_runtime, big_heap_shared_table_exact)
{
    run R;
    run_victim(&R, "shim_bigheap", NULL);
    size_t live = 0, n = 0;
    for (uint64_t size = 21; size <= 581; size += 16) {
        n += mwt_allocs_of_size(&R.t, size);
        live += mwt_live_of_size(&R.t, size);
    }
    cr_expect_eq(n, 200000, "%zu", n);
    cr_expect_eq(live, 49000, "small blocks left: %zu", live);
    cr_expect_eq(mwt_allocs_of_size(&R.t, 200000), 64);
    cr_expect_eq(mwt_live_of_size(&R.t, 200000), 32, "%zu", mwt_live_of_size(&R.t, 200000));
    n = mwt_allocs_in_sizes(&R.t, 700, 800, &live);
    cr_expect_eq(n, 50000, "%zu", n);
    cr_expect_eq(live, 5000, "%zu", live);
    n = mwt_allocs_in_sizes(&R.t, 3000, 3100, &live);
    cr_expect_eq(n, 5000, "%zu", n);
    cr_expect_eq(live, 2500, "blocks of the exited thread left: %zu", live);
    cr_expect_eq(mwt_live_of_size(&R.t, 1500), 1000, "%zu", mwt_live_of_size(&R.t, 1500));
    /* blocks too big for the shared table's compact entries */
    cr_expect_eq(mwt_allocs_of_size(&R.t, 600000), 40);
    cr_expect_eq(mwt_live_of_size(&R.t, 600000), 20, "%zu", mwt_live_of_size(&R.t, 600000));
    cr_expect_eq(mwt_live_of_size(&R.t, 45), 40, "%zu", mwt_live_of_size(&R.t, 45));
    run_free(&R);
}

/* A library loaded with RTLD_DEEPBIND binds its malloc family to libc, past the shim
 * (shim_deepbind.c): the shim points its GOT slots at the hooks when its module scan sees it,
 * bound at load (-z now: read-only slots) or lazily, so the library's blocks are traced and
 * its frees of the program's blocks are seen. */
static void deepbind_case(const char *lib)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/victims/%s", mwt_build_dir(), lib);
    run R;
    run_victim(&R, "shim_deepbind", path);
    cr_expect_str_eq(R.traced.out, "deepbind bound map 0\n", "%s", lib);
    cr_expect_eq(mwt_allocs_of_size(&R.t, 4321), 100, "%s: %zu", lib, mwt_allocs_of_size(&R.t, 4321));
    cr_expect_eq(mwt_live_of_size(&R.t, 4321), 40, "%s: %zu", lib, mwt_live_of_size(&R.t, 4321));
    cr_expect_eq(mwt_live_of_size(&R.t, 800), 1, "%s: the library's calloc", lib);
    cr_expect_eq(mwt_allocs_of_size(&R.t, 5432), 50, "%s", lib);
    cr_expect_eq(mwt_live_of_size(&R.t, 5432), 0, "%s: freed by the library", lib);
    size_t maps = 0;
    for (size_t i = 0; i < R.t.nmaps; i++)
        if (R.t.maps[i].len == 3 * 4096 && R.t.maps[i].fd == -1 && R.t.maps[i].unmapped) maps++;
    cr_expect_geq(maps, 1, "%s: the library's mapping, unmapped", lib);
    run_free(&R);
}

Test(shim_runtime, deepbind_library_traced)
{
    deepbind_case("libdeep_now.so");
    deepbind_case("libdeep_lazy.so");
}

Test(shim_runtime, signal_handlers_and_longjmp)
{
    run R;
    run_victim(&R, "shim_signal", NULL);
    cr_expect_eq(mwt_live_of_size(&R.t, 50001), 1, "malloc in the first handler run");
    cr_expect_eq(mwt_live_of_size(&R.t, 50002), 1, "malloc before longjmp");
    cr_expect_geq(mwt_allocs_of_size(&R.t, 777), 230, "handler allocations");
    cr_expect_eq(mwt_live_of_size(&R.t, 777), 0);
    run_free(&R);
}

Test(shim_runtime, cxx_new_delete_exceptions)
{
    run R;
    run_victim(&R, "shim_cxx", NULL);
    cr_expect_eq(mwt_live_of_size(&R.t, 60001), 1);
    cr_expect_eq(mwt_allocs_of_size(&R.t, 4000), 1, "new int[1000]");
    cr_expect_eq(mwt_live_of_size(&R.t, 4000), 0, "delete[] seen");
    cr_expect_geq(R.t.allocs, 50 + 100, "exceptions and strings allocate");
    /* only the deliberate leak (and libstdc++'s emergency pool, allocated at start) stays */
    uint64_t other = 0;
    for (size_t i = 0; i < R.t.nblocks; i++)
        if (!R.t.blocks[i].freed && R.t.blocks[i].size != 60001) other++;
    cr_expect_leq(other, 1, "unexpected unfreed blocks: %llu", (unsigned long long)other);
    run_free(&R);
}

/* Threads with 16 KiB stacks that use 6 KiB themselves: the shim's unwinding and its
 * reachability scan at exit (run by such a thread) must not need their stack. */
Test(shim_runtime, small_thread_stacks)
{
    run R;
    run_victim(&R, "shim_small_stack", NULL);
    cr_expect_str_eq(R.native.out, "small stacks ok 16\n");
    const char *self = mwt_victim("shim_small_stack");
    for (uint64_t size = 43001; size <= 43016; size++) {
        cr_expect_eq(mwt_live_of_size(&R.t, size), 1, "the %llu-byte block", (unsigned long long)size);
        for (size_t i = 0; i < R.t.nblocks; i++) {
            const mwt_block *b = &R.t.blocks[i];
            if (b->size != size) continue;
            cr_expect_eq(b->reach, MW_REACH_REACHABLE, "%llu: in a global", (unsigned long long)size);
            uint64_t ips[64];
            size_t n = mwt_stack_ips(&R.t, b->stack, ips, 64), mine = 0;
            for (size_t k = 0; k < n; k++) {
                const mwt_module *m = mwt_module_of(&R.t, ips[k]);
                if (m && !strcmp(m->path, self)) mine++;
            }
            cr_expect_geq(mine, 2, "%llu: its stack has work() and run() (%zu frames)",
                          (unsigned long long)size, n);
        }
    }
    cr_expect_eq(mwt_allocs_of_size(&R.t, 5000), 16, "the reallocs");
    cr_expect_eq(mwt_live_of_size(&R.t, 43100), 1);
    for (size_t i = 0; i < R.t.nblocks; i++)
        if (R.t.blocks[i].size == 43100)
            cr_expect_eq(R.t.blocks[i].reach, MW_REACH_REACHABLE, "on the exiting thread's stack");
    run_free(&R);
}

Test(shim_runtime, dlopen_dlclose_modules)
{
    run R;
    run_victim(&R, "shim_dl", NULL);
    bool loaded = false, unloaded = false;
    for (size_t i = 0; i < R.t.nmodules; i++) {
        if (!strstr(R.t.modules[i].path, "libz.so")) continue;
        loaded = true;
        cr_expect_gt(R.t.modules[i].build_id_len, 0);
        if (R.t.modules[i].unloaded) unloaded = true;
    }
    cr_expect(loaded, "no MODULE_LOAD for libz");
    if (strstr(R.native.out, "unloaded 1")) cr_expect(unloaded, "no MODULE_UNLOAD for libz");
    run_free(&R);
}

/* The program's dlerror() state is its own: no error pending at start (the shim's failed
 * lookup of a sanitizer's symbol was, "undefined symbol: __sanitizer_get_heap_size"), and
 * the message of the program's own failed dlopen, held by glibc until the next dlerror(), is
 * reachable at exit, not definitely lost (it lived in an object the shim's lookup had
 * allocated untraced). Until 03:38 UTC on 2026-11-24. Nor may the hooks' first calls (close,
 * exit) free the error the program read last: their lookups of the real functions did, inside
 * the shim, and the object and its message were reported definitely lost until 03:40 UTC. */
Test(shim_runtime, dlerror_state_is_the_programs_own)
{
    run R;
    run_victim(&R, "dl_error", NULL);
    cr_expect(strstr(R.traced.out, "at start: no error\n"), "%s", R.traced.out);
    for (size_t i = 0; i < R.t.nblocks; i++)
        cr_expect_neq(R.t.blocks[i].reach, MW_REACH_DEFINITE, "a block of %llu bytes definitely lost",
                      (unsigned long long)R.t.blocks[i].size);
    run_free(&R);
}

/* Watch-only mode: the shim dlopen()ed, a global watched, then dlclose(): the shim's threads
 * and fork handlers outlive it (linked -z nodelete; unloading it made the next fork jump into
 * unmapped code). */
Test(shim_runtime, watch_only_when_dlopened)
{
    char *dir = mwt_tmpdir();
    const char *argv[] = { mwt_victim("shim_dlopen_self"), mwt_shim(), NULL };
    char out[600];
    snprintf(out, sizeof out, "MEMWATCH_OUT=%s/%%e.%%p.trace.zst", dir);
    const char *env[] = { out, NULL };
    mwt_run r;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .env = env }, &r), 0);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "dlopened\n");
    size_t n;
    mwt_trace *ts = mwt_trace_load_all(dir, &n);
    const mwt_trace *t = NULL;
    for (size_t i = 0; i < n; i++)
        if (ts[i].pid == (uint64_t)r.pid) t = &ts[i];
    cr_assert_not_null(t, "no trace of the victim itself among %zu", n);
    cr_expect_eq(t->flags & MW_HF_ALLOC_TRACING, 0, "allocation tracing must be off");
    cr_expect_eq(t->allocs, 0);
    cr_expect(t->has_end);
    cr_expect_eq(t->nrec[MW_REC_WATCH_WRITE], 2, "the write before dlclose and the one after "
                 "(the shim stays loaded)");
    mwt_traces_free(ts, n);
    mwt_run_free(&r);
    mwt_rmtree(dir);
    free(dir);
}

/* The mappings the shim adds for each thread: its ring (mapped twice, for records that wrap)
 * and one more for its state with the thread's signal and unwinding stacks. Before 01:18 UTC
 * on 2026-11-24 the state and the two stacks were a mapping each (4 to 5 a thread), and a
 * program with thousands of threads came nearer vm.max_map_count (65 530) by that much. */
/* Mappings the shim adds to the process with n threads alive (and its own of any process). */
static int added_maps(int n)
{
    char ns[16];
    snprintf(ns, sizeof ns, "%d", n);
    const char *argv[] = { mwt_victim("maps_per_thread"), ns, NULL };
    char *dir = mwt_tmpdir();
    mwt_run plain, traced;
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv }, &plain), 0);
    cr_assert_eq(mwt_spawn(&(mwt_opts){ .argv = argv, .preload = true, .trace_dir = dir }, &traced), 0);
    int a = 0, b = 0;
    cr_assert_eq(sscanf(plain.out, "maps %d", &a), 1, "%s", plain.err);
    cr_assert_eq(sscanf(traced.out, "maps %d", &b), 1, "%s", traced.err);
    cr_log_info("%d threads: %d mappings without the shim, %d with it", n, a, b);
    mwt_run_free(&plain);
    mwt_run_free(&traced);
    mwt_rmtree(dir);
    free(dir);
    return b - a;
}

/* The median of three counts: adjacent anonymous mappings of the same protection merge in
 * /proc/self/maps or not, as their addresses fall, so one count can be 20 to 40 off. */
static int added_maps_median(int n)
{
    int a = added_maps(n), b = added_maps(n), c = added_maps(n);
    return a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
}

Test(shim_runtime, three_mappings_per_thread, .timeout = 60)
{
    int few = added_maps_median(100), many = added_maps_median(300);
    double per = (double)(many - few) / 200.0;
    /* from single counts 3.0 to 3.76 from run to run (3.3 failed 3 runs in 30 at 08:30 UTC
     * on 2026-11-24, 3.7 one fresh-clone run at 09:55); four or five a thread, as before,
     * stay over 3.7 with medians */
    cr_expect_leq(per, 3.7, "the shim adds %d mappings with 100 threads, %d with 300: %.2f a thread", few, many, per);
}
