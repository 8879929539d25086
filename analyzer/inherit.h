/*
 * inherit.h — a fork child's inherited blocks linked to their allocations in the parent's
 * trace (inherit.c).
 */
#ifndef MW_ANALYZER_INHERIT_H
#define MW_ANALYZER_INHERIT_H

#include <stddef.h>

#include "model.h"

/* Gives the unfreed inherited blocks of every fork child in procs[0..n) the stack their parent
 * (or an earlier ancestor, for blocks the parent had inherited itself) allocated them with,
 * when that process's trace is among procs: each such ancestor's trace is read once more.
 * Blocks whose allocation is not found keep the inherited site (MW_STACK_INHERITED). Returns
 * 0, or -1 out of memory. */
int mw_link_inherited(mw_proc **procs, size_t n);

/* The fork parent of each process among procs[0..n), as mw_link_inherited links them:
 * parent[i] is the index of the trace that forked procs[i] (among the traces of its parent's
 * pid that name its pid in a FORK record, the latest to start no later than it; of several
 * starting at once, the first given), or -1. Returns 0, or -1 out of memory. */
int mw_fork_parents(mw_proc **procs, size_t n, long *parent);

#endif
