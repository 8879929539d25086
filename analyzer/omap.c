/*
 * omap.c — the ordered map of omap.h: a treap (a binary search tree by key that is a heap by
 * random priority), kept by split and merge. Its depth is O(log n) whatever order the keys
 * come in; the recursion follows it.
 */
#include "omap.h"

#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#define NIL 0u

static uint32_t next_prio(mw_omap *m)
{
    if (!m->rng) {
        if (getrandom(&m->rng, sizeof m->rng, GRND_NONBLOCK) != (ssize_t)sizeof m->rng) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            m->rng = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)m;
        }
        m->rng |= 1;
    }
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return (uint32_t)(m->rng >> 32);
}

static uint32_t new_node(mw_omap *m, uint64_t key, uint64_t val)
{
    uint32_t i;
    if (m->free_list) {
        i = m->free_list;
        m->free_list = m->nodes[i].left;
    } else {
        if (m->used + 1 >= m->cap) {
            if (m->cap >= UINT32_MAX / 2) return NIL;
            uint32_t nc = m->cap ? m->cap * 2 : 16;
            mw_omap_node *nv = realloc(m->nodes, (size_t)nc * sizeof *nv);
            if (!nv) return NIL;
            m->nodes = nv;
            m->cap = nc;
        }
        i = ++m->used; /* index 0 stays unused */
    }
    m->nodes[i] = (mw_omap_node){key, val, next_prio(m), NIL, NIL};
    return i;
}

/* Splits t into the keys < key (*l) and the keys >= key (*r). */
static void split(mw_omap_node *n, uint32_t t, uint64_t key, uint32_t *l, uint32_t *r)
{
    if (t == NIL) {
        *l = *r = NIL;
    } else if (n[t].key < key) {
        split(n, n[t].right, key, &n[t].right, r);
        *l = t;
    } else {
        split(n, n[t].left, key, l, &n[t].left);
        *r = t;
    }
}

/* Joins l and r, every key of l below every key of r. */
static uint32_t merge(mw_omap_node *n, uint32_t l, uint32_t r)
{
    if (l == NIL) return r;
    if (r == NIL) return l;
    if (n[l].prio > n[r].prio) {
        n[l].right = merge(n, n[l].right, r);
        return l;
    }
    n[r].left = merge(n, l, n[r].left);
    return r;
}

static uint32_t find(const mw_omap *m, uint64_t key)
{
    uint32_t t = m->root;
    while (t != NIL && m->nodes[t].key != key) t = key < m->nodes[t].key ? m->nodes[t].left : m->nodes[t].right;
    return t;
}

int mw_omap_put(mw_omap *m, uint64_t key, uint64_t val)
{
    uint32_t t = find(m, key);
    if (t != NIL) {
        m->nodes[t].val = val;
        return 0;
    }
    uint32_t x = new_node(m, key, val);
    if (x == NIL) return -1;
    uint32_t l, r;
    split(m->nodes, m->root, key, &l, &r);
    m->root = merge(m->nodes, merge(m->nodes, l, x), r);
    m->count++;
    return 0;
}

/* Removes key from the subtree at *t. */
static bool del(mw_omap *m, uint32_t *t, uint64_t key)
{
    mw_omap_node *n = m->nodes;
    if (*t == NIL) return false;
    if (n[*t].key == key) {
        uint32_t gone = *t;
        *t = merge(n, n[gone].left, n[gone].right);
        n[gone].left = m->free_list;
        m->free_list = gone;
        return true;
    }
    return del(m, key < n[*t].key ? &n[*t].left : &n[*t].right, key);
}

bool mw_omap_del(mw_omap *m, uint64_t key)
{
    if (!del(m, &m->root, key)) return false;
    m->count--;
    return true;
}

bool mw_omap_get(const mw_omap *m, uint64_t key, uint64_t *val)
{
    uint32_t t = find(m, key);
    if (t == NIL) return false;
    *val = m->nodes[t].val;
    return true;
}

bool mw_omap_le(const mw_omap *m, uint64_t key, uint64_t *k, uint64_t *v)
{
    uint32_t t = m->root, best = NIL;
    while (t != NIL) {
        if (m->nodes[t].key <= key) {
            best = t;
            t = m->nodes[t].right;
        } else {
            t = m->nodes[t].left;
        }
    }
    if (best == NIL) return false;
    *k = m->nodes[best].key;
    *v = m->nodes[best].val;
    return true;
}

bool mw_omap_ge(const mw_omap *m, uint64_t key, uint64_t *k, uint64_t *v)
{
    uint32_t t = m->root, best = NIL;
    while (t != NIL) {
        if (m->nodes[t].key >= key) {
            best = t;
            t = m->nodes[t].left;
        } else {
            t = m->nodes[t].right;
        }
    }
    if (best == NIL) return false;
    *k = m->nodes[best].key;
    *v = m->nodes[best].val;
    return true;
}

void mw_omap_free(mw_omap *m)
{
    free(m->nodes);
    *m = (mw_omap){0};
}
