/*
 * perfmap.c — a process's perf map (see perfmap.h): read once, checked to be that process's,
 * entries sorted by start address for lookups, names split into function, script and line.
 * The file is untrusted input: lines are bounded, numbers checked, anything odd skipped.
 */
#include "perfmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ENTRIES (4u << 20)
#define MAX_LINE 8192

typedef struct entry {
    uint64_t start, size;
    uint32_t order;         /* line number: the later of two overlapping entries wins */
    const char *function, *file;
    uint64_t line;
} entry;

struct mw_perfmap {
    entry *v;
    size_t n;
    char **strings;
    size_t nstrings, capstrings;
};

static const char *keep(mw_perfmap *m, char *s)
{
    if (!s) return NULL;
    if (m->nstrings == m->capstrings) {
        size_t c = m->capstrings ? m->capstrings * 2 : 1024;
        char **v = realloc(m->strings, c * sizeof *v);
        if (!v) {
            free(s);
            return NULL;
        }
        m->strings = v;
        m->capstrings = c;
    }
    m->strings[m->nstrings++] = s;
    return s;
}

static const char *keep_n(mw_perfmap *m, const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return keep(m, d);
}

/* Splits a name: "JS:<tier><function> <script>:<line>:<column>" (V8; tier ~ ^ + * or none),
 * "py::<function>:<script>" (CPython), else the whole name is the function. */
static bool split_name(mw_perfmap *m, const char *name, entry *e)
{
    size_t len = strlen(name);
    if (!strncmp(name, "JS:", 3)) {
        const char *f = name + 3;
        if (*f && strchr("~^+*", *f)) f++;
        const char *sp = strrchr(f, ' ');
        if (sp) {
            /* the location: script, then ":line:column" */
            const char *loc = sp + 1, *c2 = strrchr(loc, ':');
            const char *c1 = NULL;
            if (c2) {
                for (const char *q = c2 - 1; q >= loc; q--)
                    if (*q == ':') {
                        c1 = q;
                        break;
                    }
            }
            char *endp;
            unsigned long long line = c1 ? strtoull(c1 + 1, &endp, 10) : 0;
            if (c1 && endp == c2 && c1 > loc) {
                e->function = sp > f ? keep_n(m, f, (size_t)(sp - f)) : keep_n(m, "(anonymous)", 11);
                e->file = keep_n(m, loc, (size_t)(c1 - loc));
                e->line = line;
                return e->function && e->file;
            }
        }
        e->function = keep_n(m, f, strlen(f));
        return e->function != NULL;
    }
    if (!strncmp(name, "py::", 4)) {
        const char *f = name + 4, *c = strchr(f, ':');
        if (c && c > f && c[1]) {
            e->function = keep_n(m, f, (size_t)(c - f));
            e->file = keep_n(m, c + 1, strlen(c + 1));
            return e->function && e->file;
        }
    }
    e->function = keep_n(m, name, len);
    return e->function != NULL;
}

static int by_start(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

void mw_perfmap_free(mw_perfmap *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nstrings; i++) free(m->strings[i]);
    free(m->strings);
    free(m->v);
    free(m);
}

mw_perfmap *mw_perfmap_load(const char *path, uid_t uid, int64_t since_s, int64_t until_s, char *why,
                            size_t whylen)
{
    char dummy[8];
    if (!why) {
        why = dummy;
        whylen = sizeof dummy;
    }
    why[0] = '\0';
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_uid != uid) {
        snprintf(why, whylen, "%s: owned by uid %u, not by the trace's owner %u", path,
                 (unsigned)st.st_uid, (unsigned)uid);
        close(fd);
        return NULL;
    }
    if ((int64_t)st.st_mtime < since_s || (int64_t)st.st_mtime > until_s) {
        snprintf(why, whylen, "%s: last written outside the traced process's lifetime (another process with its pid)",
                 path);
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return NULL;
    }
    mw_perfmap *m = calloc(1, sizeof *m);
    char *line = malloc(MAX_LINE);
    size_t cap = 0;
    if (!m || !line) goto fail;
    uint32_t order = 0;
    while (fgets(line, MAX_LINE, f)) {
        size_t len = strlen(line);
        if (len && line[len - 1] != '\n' && !feof(f)) {
            /* too long: skip the rest of it */
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n') {}
            continue;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        char *p = line, *endp;
        errno = 0;
        unsigned long long start = strtoull(p, &endp, 16);
        if (endp == p || *endp != ' ' || errno) continue;
        p = endp + 1;
        unsigned long long size = strtoull(p, &endp, 16);
        if (endp == p || *endp != ' ' || errno || size == 0 || start + size < start) continue;
        const char *name = endp + 1;
        if (!*name) continue;
        if (m->n == MAX_ENTRIES) break;
        if (m->n == cap) {
            size_t c = cap ? cap * 2 : 4096;
            entry *v = realloc(m->v, c * sizeof *v);
            if (!v) goto fail;
            m->v = v;
            cap = c;
        }
        entry e = { start, size, order++, NULL, NULL, 0 };
        if (!split_name(m, name, &e)) goto fail;
        m->v[m->n++] = e;
    }
    free(line);
    fclose(f);
    if (m->n) qsort(m->v, m->n, sizeof *m->v, by_start);
    return m;
fail:
    snprintf(why, whylen, "%s: out of memory", path);
    free(line);
    fclose(f);
    mw_perfmap_free(m);
    return NULL;
}

size_t mw_perfmap_count(const mw_perfmap *m) { return m ? m->n : 0; }

bool mw_perfmap_lookup(const mw_perfmap *m, uint64_t addr, mw_perfmap_sym *out)
{
    if (!m || !m->n) return false;
    /* the last entry starting at or below addr */
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->v[mid].start <= addr) lo = mid + 1;
        else hi = mid;
    }
    /* entries before it may hold addr too (code written over older code's place): the one
     * written last wins; a bounded look back, entries rarely overlap */
    const entry *best = NULL;
    for (size_t i = lo, k = 0; i-- > 0 && k < 64; k++) {
        const entry *e = &m->v[i];
        if (addr - e->start < e->size && (!best || e->order > best->order)) best = e;
    }
    if (!best) return false;
    *out = (mw_perfmap_sym){ best->function, best->file, best->line, addr - best->start };
    return true;
}
