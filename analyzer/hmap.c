/*
 * hmap.c — the integer-keyed open-addressing hash map of hmap.h (linear probing, backward
 * shift deletion, load factor at most 1/2).
 */
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

void mw_hmap_init(mw_hmap *m) { memset(m, 0, sizeof *m); }

void mw_hmap_free(mw_hmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

uint64_t *mw_hmap_get(const mw_hmap *m, uint64_t key)
{
    if (key == 0) return m->has_zero ? (uint64_t *)&m->zero_val : NULL;
    if (!m->slots) return NULL;
    size_t i = mw_hash64(key) & m->mask;
    for (;;) {
        mw_hmap_slot *s = &m->slots[i];
        if (s->key == key) return &s->val;
        if (s->key == 0) return NULL;
        i = (i + 1) & m->mask;
    }
}

static bool grow(mw_hmap *m)
{
    size_t ncap = m->slots ? (m->mask + 1) * 2 : 16; /* 256 bytes: most maps of a process stay small */
    mw_hmap_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return false;
    size_t nmask = ncap - 1;
    if (m->slots) {
        for (size_t j = 0; j <= m->mask; j++) {
            mw_hmap_slot *s = &m->slots[j];
            if (!s->key) continue;
            size_t i = mw_hash64(s->key) & nmask;
            while (ns[i].key) i = (i + 1) & nmask;
            ns[i] = *s;
        }
    }
    free(m->slots);
    m->slots = ns;
    m->mask = nmask;
    return true;
}

uint64_t *mw_hmap_put(mw_hmap *m, uint64_t key, bool *added)
{
    bool dummy;
    if (!added) added = &dummy;
    if (key == 0) {
        *added = !m->has_zero;
        if (!m->has_zero) {
            m->has_zero = true;
            m->zero_val = 0;
            m->count++;
        }
        return &m->zero_val;
    }
    if (!m->slots || (m->count + 1) * 2 > m->mask + 1) {
        if (!grow(m)) return NULL;
    }
    size_t i = mw_hash64(key) & m->mask;
    for (;;) {
        mw_hmap_slot *s = &m->slots[i];
        if (s->key == key) {
            *added = false;
            return &s->val;
        }
        if (s->key == 0) {
            s->key = key;
            s->val = 0;
            m->count++;
            *added = true;
            return &s->val;
        }
        i = (i + 1) & m->mask;
    }
}

bool mw_hmap_del(mw_hmap *m, uint64_t key, uint64_t *val)
{
    if (key == 0) {
        if (!m->has_zero) return false;
        if (val) *val = m->zero_val;
        m->has_zero = false;
        m->count--;
        return true;
    }
    if (!m->slots) return false;
    size_t i = mw_hash64(key) & m->mask;
    for (;;) {
        mw_hmap_slot *s = &m->slots[i];
        if (s->key == 0) return false;
        if (s->key == key) break;
        i = (i + 1) & m->mask;
    }
    if (val) *val = m->slots[i].val;
    /* Backward shift: move later entries of the probe run into the hole when allowed. */
    size_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & m->mask;
        mw_hmap_slot *s = &m->slots[j];
        if (s->key == 0) break;
        size_t home = mw_hash64(s->key) & m->mask;
        /* s may move to hole iff home is not cyclically in (hole, j]. */
        bool in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            m->slots[hole] = *s;
            hole = j;
        }
    }
    m->slots[hole].key = 0;
    m->slots[hole].val = 0;
    m->count--;
    return true;
}

bool mw_hmap_next(const mw_hmap *m, size_t *it, uint64_t *key, uint64_t *val)
{
    /* *it == 0: the zero key; then slot (*it - 1). */
    if (*it == 0) {
        (*it)++;
        if (m->has_zero) {
            *key = 0;
            *val = m->zero_val;
            return true;
        }
    }
    if (!m->slots) return false;
    while (*it - 1 <= m->mask) {
        mw_hmap_slot *s = &m->slots[*it - 1];
        (*it)++;
        if (s->key) {
            *key = s->key;
            *val = s->val;
            return true;
        }
    }
    return false;
}
