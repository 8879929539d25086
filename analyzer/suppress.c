/*
 * suppress.c — LeakSanitizer-format suppression files and LSan's template matching.
 */
#include "suppress.h"
#include "textfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mw_supp_init(mw_supp *s) { memset(s, 0, sizeof *s); }

void mw_supp_free(mw_supp *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->patterns[i]);
    free(s->patterns);
    free(s->hit_bytes);
    free(s->hit_blocks);
    memset(s, 0, sizeof *s);
}

static int add(mw_supp *s, const char *pat, size_t len)
{
    char **np = realloc(s->patterns, (s->n + 1) * sizeof *np);
    if (!np) return -1;
    s->patterns = np;
    uint64_t *hb = realloc(s->hit_bytes, (s->n + 1) * sizeof *hb);
    if (!hb) return -1;
    s->hit_bytes = hb;
    uint64_t *hk = realloc(s->hit_blocks, (s->n + 1) * sizeof *hk);
    if (!hk) return -1;
    s->hit_blocks = hk;
    char *p = strndup(pat, len);
    if (!p) return -1;
    s->patterns[s->n] = p;
    s->hit_bytes[s->n] = 0;
    s->hit_blocks[s->n] = 0;
    s->n++;
    return 0;
}

int mw_supp_parse(mw_supp *s, const char *text, const char *name, char *err, size_t errlen)
{
    unsigned lineno = 0;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        lineno++;
        const char *a = p, *b = p + len;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        if (a < b && *a != '#') {
            const char *colon = memchr(a, ':', (size_t)(b - a));
            if (!colon) {
                snprintf(err, errlen, "suppressions %s:%u: expected 'leak:PATTERN', got '%.*s'", name, lineno,
                         (int)((b - a) > 80 ? 80 : (b - a)), a);
                return -1;
            }
            size_t tlen = (size_t)(colon - a);
            while (tlen && isspace((unsigned char)a[tlen - 1])) tlen--;
            if (tlen != 4 || memcmp(a, "leak", 4) != 0) {
                snprintf(err, errlen, "suppressions %s:%u: unknown suppression type '%.*s' (only 'leak' is "
                         "supported)", name, lineno, (int)(tlen > 40 ? 40 : tlen), a);
                return -1;
            }
            const char *pat = colon + 1;
            while (pat < b && isspace((unsigned char)*pat)) pat++;
            if (pat == b) {
                snprintf(err, errlen, "suppressions %s:%u: empty pattern after 'leak:'", name, lineno);
                return -1;
            }
            if (add(s, pat, (size_t)(b - pat))) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
        if (!eol) break;
        p = eol + 1;
    }
    return 0;
}

int mw_supp_load(mw_supp *s, const char *path, char *err, size_t errlen)
{
    char why[600];
    size_t n;
    char *buf = mw_text_file_read(path, MW_SUPP_FILE_MAX, &n, why, sizeof why);
    if (!buf) {
        snprintf(err, errlen, "cannot read suppressions %s", why);
        return -1;
    }
    int rc = mw_supp_parse(s, buf, path, err, errlen);
    free(buf);
    return rc;
}

/* LeakSanitizer's TemplateMatch (sanitizer_common/sanitizer_common.cpp), without writing
 * into the pattern. */
bool mw_supp_match(const char *templ, const char *str)
{
    if (!str || !str[0]) return false;
    bool start = false;
    if (templ[0] == '^') {
        start = true;
        templ++;
    }
    bool asterisk = false;
    while (templ[0]) {
        if (templ[0] == '*') {
            templ++;
            start = false;
            asterisk = true;
            continue;
        }
        if (templ[0] == '$') return str[0] == 0 || asterisk;
        if (str[0] == 0) return false;
        size_t seg = strcspn(templ, "*$");
        const char *spos = NULL;
        for (const char *q = str; *q; q++) {
            if (strncmp(q, templ, seg) == 0) {
                spos = q;
                break;
            }
        }
        if (!spos) return false;
        if (start && spos != str) return false;
        str = spos + seg;
        templ += seg;
        start = false;
        asterisk = false;
    }
    return true;
}

int mw_supp_match_frames(const mw_supp *s, const mw_frame *f, size_t n)
{
    for (size_t k = 0; k < s->n; k++) {
        for (size_t i = 0; i < n; i++) {
            if (mw_supp_match(s->patterns[k], f[i].function) ||
                mw_supp_match(s->patterns[k], f[i].file) ||
                mw_supp_match(s->patterns[k], f[i].module))
                return (int)k;
        }
    }
    return -1;
}

void mw_supp_apply(mw_supp *s, mw_proc *p, mw_symbolizer *sym)
{
    memset(p->leak_bytes, 0, sizeof p->leak_bytes);
    memset(p->leak_blocks, 0, sizeof p->leak_blocks);
    p->supp_bytes = p->supp_blocks = 0;
    mw_frame frames[256];
    for (size_t i = 0; i < p->leaks.n; i++) {
        mw_leak *l = &p->leaks.v[i];
        int k = -1;
        if (s && s->n) {
            size_t n = sym ? mw_sym_stack(sym, p->sites.v[l->site].stack, frames, 256) : 0;
            k = mw_supp_match_frames(s, frames, n);
        }
        l->suppressed = k >= 0;
        if (l->suppressed) {
            s->hit_bytes[k] += l->bytes;
            s->hit_blocks[k] += l->blocks;
            p->supp_bytes += l->bytes;
            p->supp_blocks += l->blocks;
        } else {
            p->leak_bytes[l->kind] += l->bytes;
            p->leak_blocks[l->kind] += l->blocks;
        }
    }
    /* Per-mark attribution of what is left (definite + indirect + unknown: reachable blocks
     * are not leaks of a phase). */
    mw_hmap supp;
    mw_hmap_init(&supp);
    for (size_t i = 0; i < p->leaks.n; i++)
        if (p->leaks.v[i].suppressed)
            mw_hmap_put(&supp, ((uint64_t)p->leaks.v[i].site << 2) | p->leaks.v[i].kind, NULL);
    for (size_t i = 0; i < p->marks.n; i++) p->marks.v[i].leaked_bytes = p->marks.v[i].leaked_blocks = 0;
    p->premark_leaked_bytes = p->premark_leaked_blocks = 0;
    for (size_t i = 0; i < p->unfreed.n; i++) {
        const mw_block *b = &p->unfreed.v[i];
        if (b->kind == MW_REACH_REACHABLE) continue;
        if (supp.count && mw_hmap_get(&supp, ((uint64_t)b->site << 2) | b->kind)) continue;
        if (b->mark && b->mark <= p->marks.n) {
            p->marks.v[b->mark - 1].leaked_bytes += b->size;
            p->marks.v[b->mark - 1].leaked_blocks++;
        } else {
            p->premark_leaked_bytes += b->size;
            p->premark_leaked_blocks++;
        }
    }
    mw_hmap_free(&supp);
}
