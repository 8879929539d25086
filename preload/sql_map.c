/*
 * sql_map.c — the SQL hooks' handle -> query tables (sqlite3_stmt*, PGconn*, named prepared
 * statements): open addressing over storage mapped with raw mmap syscalls, so neither the
 * target's allocator nor the shim's mmap hook ever sees it. 16 shards, each behind a small
 * spinlock held only for a probe (or a rehash); statements of different threads rarely meet.
 */
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sql_core.h"

#define SHARDS 16u
#define KEY_EMPTY 0u
#define KEY_TOMB 1u
#define MIN_CAP 64u

typedef struct shard {
    _Atomic int lock;
    mw_sql_entry *slots;
    size_t cap, used /* live + tombstones */, live;
} shard;

struct mw_sql_map {
    shard s[SHARDS];
};

mw_sql_map mw_sql_stmts, mw_sql_pending, mw_sql_named;

static void lock(shard *s)
{
    while (atomic_exchange_explicit(&s->lock, 1, memory_order_acquire))
        sched_yield();
}
static void unlock(shard *s) { atomic_store_explicit(&s->lock, 0, memory_order_release); }

static uint64_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

/* The own-range registry is the shim's (reach_roots.c); weak so that this file also builds on
 * its own (tests/unit/test_sql_map.c includes it without the rest of the shim). */
#pragma weak mw_own_range_add
#pragma weak mw_own_range_del

static void *raw_map(size_t bytes)
{
    long p = syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p < 0 && p > -4096) return NULL;
    if (mw_own_range_add) mw_own_range_add((void *)p, bytes); /* handles: never a reach root */
    return (void *)p;
}
static void raw_unmap(void *p, size_t bytes)
{
    if (mw_own_range_del) mw_own_range_del(p, bytes);
    syscall(SYS_munmap, p, bytes);
}

/* Slot of key, or of the first free/tomb slot where it would go (*found says which). */
static size_t probe(const shard *s, uint64_t key, bool *found)
{
    size_t mask = s->cap - 1, i = (size_t)(mix(key) >> 8) & mask, tomb = SIZE_MAX;
    for (;;) {
        uint64_t k = s->slots[i].key;
        if (k == key) {
            *found = true;
            return i;
        }
        if (k == KEY_EMPTY) {
            *found = false;
            return tomb != SIZE_MAX ? tomb : i;
        }
        if (k == KEY_TOMB && tomb == SIZE_MAX)
            tomb = i;
        i = (i + 1) & mask;
    }
}

static bool grow(shard *s)
{
    size_t cap = MIN_CAP;
    while (cap < (s->live + 1) * 4)
        cap *= 2;
    mw_sql_entry *slots = raw_map(cap * sizeof *slots);
    if (!slots)
        return false;
    mw_sql_entry *old = s->slots;
    size_t old_cap = s->cap;
    s->slots = slots;
    s->cap = cap;
    s->used = s->live = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key > KEY_TOMB) {
            bool f;
            s->slots[probe(s, old[i].key, &f)] = old[i];
            s->used++;
            s->live++;
        }
    }
    if (old)
        raw_unmap(old, old_cap * sizeof *old);
    return true;
}

static shard *shard_of(mw_sql_map *m, uint64_t key) { return &m->s[mix(key) >> 60]; }

bool mw_sql_map_put(mw_sql_map *m, const mw_sql_entry *e)
{
    if (e->key <= KEY_TOMB)
        return false;
    shard *s = shard_of(m, e->key);
    lock(s);
    if ((s->used + 1) * 4 > s->cap * 3 && !grow(s)) {
        unlock(s);
        return false;
    }
    bool found;
    size_t i = probe(s, e->key, &found);
    if (!found) {
        if (s->slots[i].key == KEY_EMPTY)
            s->used++;
        s->live++;
    }
    s->slots[i] = *e;
    unlock(s);
    return true;
}

static bool lookup(mw_sql_map *m, uint64_t key, mw_sql_entry *out, bool take)
{
    if (key <= KEY_TOMB)
        return false;
    shard *s = shard_of(m, key);
    bool found = false;
    lock(s);
    if (s->cap) {
        size_t i = probe(s, key, &found);
        if (found) {
            if (out)
                *out = s->slots[i];
            if (take) {
                s->slots[i].key = KEY_TOMB;
                s->live--;
            }
        }
    }
    unlock(s);
    return found;
}

bool mw_sql_map_get(mw_sql_map *m, uint64_t key, mw_sql_entry *out)
{
    return lookup(m, key, out, false);
}

bool mw_sql_map_take(mw_sql_map *m, uint64_t key, mw_sql_entry *out)
{
    return lookup(m, key, out, true);
}

void mw_sql_map_drop_aux(mw_sql_map *m, uint64_t aux)
{
    for (unsigned k = 0; k < SHARDS; k++) {
        shard *s = &m->s[k];
        lock(s);
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i].key > KEY_TOMB && s->slots[i].aux == aux) {
                s->slots[i].key = KEY_TOMB;
                s->live--;
            }
        }
        unlock(s);
    }
}

void mw_sql_map_after_fork(void)
{
    mw_sql_map *maps[] = {&mw_sql_stmts, &mw_sql_pending, &mw_sql_named};
    for (size_t m = 0; m < sizeof maps / sizeof maps[0]; m++)
        for (unsigned k = 0; k < SHARDS; k++)
            if (atomic_load(&maps[m]->s[k].lock)) /* (no write: untouched pages stay so) */
                atomic_store(&maps[m]->s[k].lock, 0);
}
