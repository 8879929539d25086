/*
 * test_analyzer_forkparent.c — mw_fork_parents (analyzer/inherit.c), which finds each fork
 * child's parent trace by a binary search over every trace's FORK records, against the plain
 * definition (every trace tried for every child) on random process sets with few pids, so
 * that pids are shared (reuse, exec) and every tie and edge of the rule is met.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "inherit.h"

/* The definition: among the traces of the child's parent pid, not the child itself, started
 * no later than it and naming its pid in a FORK record, the latest; of equals, the first. */
static long naive_parent(mw_proc **procs, size_t n, size_t c)
{
    const mw_proc *ch = procs[c];
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        const mw_proc *q = procs[i];
        if (i == c || q->pid != ch->ppid || q->start_realtime_ns > ch->start_realtime_ns) continue;
        bool forked = false;
        for (size_t f = 0; f < q->forks.n && !forked; f++) forked = q->forks.v[f] == ch->pid;
        if (forked && (best < 0 || q->start_realtime_ns > procs[best]->start_realtime_ns)) best = (long)i;
    }
    return best;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(uint64_t max)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng % max;
}

Test(analyzer_forkparent, binary_search_agrees_with_the_definition)
{
    size_t found = 0, ties = 0;
    for (int round = 0; round < 3000; round++) {
        size_t n = 1 + next(24);
        uint64_t pids = 2 + next(6), times = 1 + next(5);
        mw_proc *store = calloc(n, sizeof *store);
        mw_proc **procs = calloc(n, sizeof *procs);
        long *got = calloc(n, sizeof *got);
        cr_assert(store && procs && got);
        for (size_t i = 0; i < n; i++) {
            mw_proc *p = procs[i] = &store[i];
            p->pid = next(pids);
            p->ppid = next(pids);
            p->start_realtime_ns = next(times);
            size_t nf = next(5);
            p->forks.v = calloc(nf + 1, sizeof *p->forks.v);
            cr_assert(p->forks.v);
            for (size_t f = 0; f < nf; f++) p->forks.v[p->forks.n++] = next(pids);
        }
        cr_assert_eq(mw_fork_parents(procs, n, got), 0);
        for (size_t i = 0; i < n; i++) {
            long want = naive_parent(procs, n, i);
            cr_assert_eq(got[i], want, "round %d, process %zu: %ld, the definition %ld", round, i, got[i], want);
            found += want >= 0;
            if (want >= 0)
                for (size_t j = 0; j < n; j++)
                    ties += j != (size_t)want && j != i && procs[j]->pid == procs[i]->ppid &&
                            procs[j]->start_realtime_ns == procs[want]->start_realtime_ns;
        }
        for (size_t i = 0; i < n; i++) free(store[i].forks.v);
        free(got);
        free(procs);
        free(store);
    }
    /* the random sets met the rule's cases: parents found, and equal starts among candidates */
    cr_expect_gt(found, 1000u);
    cr_expect_gt(ties, 100u);
}

Test(analyzer_forkparent, no_forks_no_parents)
{
    mw_proc a = { .pid = 5, .ppid = 1 }, b = { .pid = 6, .ppid = 5 };
    mw_proc *procs[] = { &a, &b };
    long got[2] = { 7, 7 };
    cr_assert_eq(mw_fork_parents(procs, 2, got), 0);
    cr_expect_eq(got[0], -1);
    cr_expect_eq(got[1], -1);
}
