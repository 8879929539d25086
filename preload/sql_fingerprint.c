/*
 * sql_fingerprint.c — normalizes SQL text and hashes it into a query fingerprint.
 *
 * One left-to-right scan with a bounded output buffer; no allocation, no locale, no libc state
 * (it runs inside the SQL hooks of the shim, on the target's stack). Rules:
 *   - string literals '..' (with '' escapes), E'..' (backslash escapes), X'..', B'..', N'..',
 *     U&'..', dollar-quoted $$..$$ / $tag$..$tag$, and numbers (123, 1.5, .5, 1e-3, 0x1F) become
 *     `?`; a minus sign directly before a number that follows an operator, '(' or ',' joins it
 *     (`= -1` -> `= ?`);
 *   - comments (-- to end of line, nested slash-star) are dropped; whitespace runs become one
 *     space; leading/trailing spaces and trailing ';' are removed;
 *   - identifiers, keywords, "quoted" and `quoted` identifiers keep their spelling and case;
 *   - parameters stay: ?, ?NNN, $1, :name, @name, $name;
 *   - IN lists made only of `?` collapse: `IN (?, ?, ?)` -> `IN (?...)`; repeated VALUES rows
 *     collapse: `VALUES (?, ?), (?, ?)` -> `VALUES (?, ?)...`.
 * This file must not depend on other shim internals (tests/unit includes it directly).
 */
#include "sql_fingerprint.h"

#include <stdbool.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

typedef struct out_buf {
    char *p;
    size_t cap, len;
    int space;      /* whitespace seen since the last token */
    int truncated;
} out_buf;

static void put(out_buf *o, char c)
{
    if (o->len + 1 < o->cap)
        o->p[o->len++] = c;
    else
        o->truncated = 1;
}

/* Starts a token: writes the pending single space (never at the start). */
static void tok(out_buf *o)
{
    if (o->space && o->len > 0)
        put(o, ' ');
    o->space = 0;
}

static int is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
static int is_ident_char(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

/* Skips a quoted run starting at s[i] == q; doubled quotes are escapes, backslash escapes too
 * when bs. Returns the index after the closing quote (n when unterminated). */
static size_t skip_quoted(const char *s, size_t n, size_t i, char q, int bs)
{
    for (i++; i < n; i++) {
        if (bs && s[i] == '\\') {
            i++;
            continue;
        }
        if (s[i] == q) {
            if (i + 1 < n && s[i + 1] == q) {
                i++;
                continue;
            }
            return i + 1;
        }
    }
    return n;
}

/* If s[i] starts a literal prefix (E' X' B' N' U&'), returns the prefix length, else 0. */
static size_t literal_prefix(const char *s, size_t n, size_t i, int *bs)
{
    char c = lower(s[i]);
    *bs = 0;
    if (i + 1 < n && s[i + 1] == '\'' && (c == 'e' || c == 'x' || c == 'b' || c == 'n')) {
        *bs = c == 'e';
        return 1;
    }
    if (c == 'u' && i + 2 < n && s[i + 1] == '&' && s[i + 2] == '\'')
        return 2;
    return 0;
}

/* A dollar-quote opener at s[i] == '$' ($$ or $tag$): returns its length, else 0. */
static size_t dollar_tag(const char *s, size_t n, size_t i)
{
    size_t j = i + 1;
    if (j < n && s[j] == '$')
        return 2;
    if (j >= n || !is_ident_start((unsigned char)s[j]))
        return 0;
    while (j < n && is_ident_char((unsigned char)s[j]) && s[j] != '$')
        j++;
    return (j < n && s[j] == '$') ? j - i + 1 : 0;
}

/* Number literal at s[i]: returns its end, or 0 when the run turns out to be a word (2nd). */
static size_t number_end(const char *s, size_t n, size_t i)
{
    size_t j = i;
    if (s[j] == '0' && j + 2 < n && lower(s[j + 1]) == 'x' && is_hex((unsigned char)s[j + 2])) {
        j += 2;
        while (j < n && is_hex((unsigned char)s[j]))
            j++;
    } else {
        while (j < n && is_digit((unsigned char)s[j]))
            j++;
        if (j < n && s[j] == '.') {
            j++;
            while (j < n && is_digit((unsigned char)s[j]))
                j++;
        }
        if (j < n && lower(s[j]) == 'e') {
            size_t k = j + 1;
            if (k < n && (s[k] == '+' || s[k] == '-'))
                k++;
            if (k < n && is_digit((unsigned char)s[k])) {
                j = k;
                while (j < n && is_digit((unsigned char)s[j]))
                    j++;
            }
        }
    }
    if (j < n && is_ident_char((unsigned char)s[j]))
        return 0;
    return j;
}

/* The last output character that is not a space (0 at the start). */
static char last_char(const out_buf *o)
{
    size_t k = o->len;
    while (k > 0 && o->p[k - 1] == ' ')
        k--;
    return k ? o->p[k - 1] : 0;
}

static void emit_placeholder(out_buf *o)
{
    tok(o);
    put(o, '?');
}

static void copy_run(out_buf *o, const char *s, size_t from, size_t to)
{
    tok(o);
    for (size_t k = from; k < to && !o->truncated; k++)
        put(o, s[k]);
}

/* In place: `in (?, ?, ?)` (any case, any spacing) -> `in (?...)`. */
static size_t collapse_in_lists(char *p, size_t len)
{
    size_t r = 0, w = 0;
    while (r < len) {
        int word_start = r == 0 || !is_ident_char((unsigned char)p[r - 1]);
        if (word_start && r + 2 < len && lower(p[r]) == 'i' && lower(p[r + 1]) == 'n' &&
            !is_ident_char((unsigned char)p[r + 2])) {
            size_t k = r + 2, count = 0;
            if (k < len && p[k] == ' ')
                k++;
            if (k < len && p[k] == '(') {
                size_t q = k + 1;
                for (;;) {
                    if (q < len && p[q] == ' ')
                        q++;
                    if (q < len && p[q] == '?' && (q + 1 >= len || !is_digit((unsigned char)p[q + 1]))) {
                        count++;
                        q++;
                    } else {
                        break;
                    }
                    if (q < len && p[q] == ' ')
                        q++;
                    if (q < len && p[q] == ',')
                        q++;
                    else
                        break;
                }
                if (count > 0 && q < len && p[q] == ')') {
                    for (size_t c = r; c <= k; c++)   /* "in (" as written */
                        p[w++] = p[c];
                    memcpy(p + w, "?...)", 5);
                    w += 5;
                    r = q + 1;
                    continue;
                }
            }
        }
        p[w++] = p[r++];
    }
    return w;
}

static bool word_at(const char *p, size_t len, size_t r, const char *w, size_t wl)
{
    if (r + wl > len || (r > 0 && is_ident_char((unsigned char)p[r - 1])) ||
        (r + wl < len && is_ident_char((unsigned char)p[r + wl])))
        return false;
    for (size_t k = 0; k < wl; k++)
        if (lower(p[r + k]) != w[k])
            return false;
    return true;
}

/* In place: `VALUES (?, ?), (?, ?), (?, ?)` -> `VALUES (?, ?)...` (multi-row inserts of any row
 * count are one query). Only rows written exactly like the first one collapse. */
static size_t collapse_values_rows(char *p, size_t len)
{
    size_t r = 0, w = 0;
    while (r < len) {
        if (word_at(p, len, r, "values", 6)) {
            size_t a = r + 6;
            if (a < len && p[a] == ' ')
                a++;
            size_t b = a;
            if (b < len && p[b] == '(') {
                while (b < len && p[b] != ')' && (b == a || p[b] != '('))
                    b++;
            }
            if (b > a && b < len && p[b] == ')') {
                size_t row = b + 1 - a, q = b + 1, reps = 0;
                for (;;) {
                    size_t k = q;
                    if (k < len && p[k] == ',')
                        k++;
                    else
                        break;
                    if (k < len && p[k] == ' ')
                        k++;
                    if (k + row > len || memcmp(p + k, p + a, row) != 0)
                        break;
                    q = k + row;
                    reps++;
                }
                if (reps > 0) {
                    memmove(p + w, p + r, b + 1 - r);   /* "values (..)" as written */
                    w += b + 1 - r;
                    memcpy(p + w, "...", 3);
                    w += 3;
                    r = q;
                    continue;
                }
            }
        }
        p[w++] = p[r++];
    }
    return w;
}

size_t mw_sql_normalize(const char *s, size_t n, unsigned flags, char *out, size_t cap,
                        size_t *consumed, int *truncated)
{
    out_buf o = {out, cap, 0, 0, 0};
    size_t i = 0;
    if (!s)
        n = 0;
    else if (n == SIZE_MAX)
        n = strlen(s);
    while (i < n && !o.truncated) {
        unsigned char c = (unsigned char)s[i];
        size_t j, pl;
        int bs;
        if (c == 0)
            break;
        if (is_space(c)) {
            o.space = 1;
            i++;
        } else if (c == '-' && i + 1 < n && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
            o.space = 1;
        } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
            int depth = 0;
            while (i < n) {
                if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
                    depth++;
                    i += 2;
                } else if (s[i] == '*' && i + 1 < n && s[i + 1] == '/') {
                    i += 2;
                    if (--depth == 0)
                        break;
                } else {
                    i++;
                }
            }
            o.space = 1;
        } else if (c == ';' && (flags & MW_SQL_ONE_STATEMENT)) {
            i++;
            break;
        } else if (c == '\'') {
            i = skip_quoted(s, n, i, '\'', 0);
            emit_placeholder(&o);
        } else if (c == '"' || c == '`') {
            j = skip_quoted(s, n, i, (char)c, 0);
            copy_run(&o, s, i, j);
            i = j;
        } else if (c == '$') {
            if (i + 1 < n && is_digit((unsigned char)s[i + 1])) {           /* $1 */
                j = i + 1;
                while (j < n && is_digit((unsigned char)s[j]))
                    j++;
                copy_run(&o, s, i, j);
                i = j;
            } else if ((pl = dollar_tag(s, n, i)) != 0) {                   /* $tag$..$tag$ */
                j = i + pl;
                while (j < n && !(s[j] == '$' && j + pl <= n && memcmp(s + j, s + i, pl) == 0))
                    j++;
                i = j < n ? j + pl : n;
                emit_placeholder(&o);
            } else {                                                        /* $name */
                j = i + 1;
                while (j < n && is_ident_char((unsigned char)s[j]) && s[j] != '$')
                    j++;
                copy_run(&o, s, i, j);
                i = j;
            }
        } else if (c == '?') {
            j = i + 1;
            while (j < n && is_digit((unsigned char)s[j]))
                j++;
            copy_run(&o, s, i, j);
            i = j;
        } else if (is_digit(c) || (c == '.' && i + 1 < n && is_digit((unsigned char)s[i + 1])) ||
                   (c == '-' && i + 1 < n &&
                    (is_digit((unsigned char)s[i + 1]) ||
                     (s[i + 1] == '.' && i + 2 < n && is_digit((unsigned char)s[i + 2]))) &&
                    (o.len == 0 || strchr("=<>(,+-*/%|", last_char(&o)) != NULL))) {
            size_t start = c == '-' ? i + 1 : i;
            j = number_end(s, n, start);
            if (j) {
                emit_placeholder(&o);
                i = j;
            } else {                     /* digits glued to letters (2nd, 1.5L): one word */
                j = start;
                while (j < n && (is_ident_char((unsigned char)s[j]) || s[j] == '.'))
                    j++;
                if (j <= i)
                    j = i + 1;           /* always make progress */
                copy_run(&o, s, i, j);
                i = j;
            }
        } else if (is_ident_start(c)) {
            if ((pl = literal_prefix(s, n, i, &bs)) != 0) {
                i = skip_quoted(s, n, i + pl, '\'', bs);
                emit_placeholder(&o);
            } else {
                j = i + 1;
                while (j < n && is_ident_char((unsigned char)s[j]))
                    j++;
                copy_run(&o, s, i, j);
                i = j;
            }
        } else {
            tok(&o);
            put(&o, (char)c);
            i++;
        }
    }
    if (consumed)
        *consumed = i;
    if (truncated)
        *truncated = o.truncated;
    while (o.len > 0 && (o.p[o.len - 1] == ' ' || (o.p[o.len - 1] == ';' && !o.truncated)))
        o.len--;
    o.len = collapse_in_lists(o.p, o.len);
    o.len = collapse_values_rows(o.p, o.len);
    if (cap > 0)
        o.p[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len;
}

uint64_t mw_sql_fingerprint(const char *norm, size_t len)
{
    uint64_t h = XXH3_64bits(norm, len);
    return h ? h : 1;
}
