/*
 * jsonw.c — the streaming JSON writer of jsonw.h (two-space indentation).
 */
#include "jsonw.h"

#include <math.h>
#include <string.h>

void mw_json_init(mw_json *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    j->first[0] = true;
}

static void indent(mw_json *j)
{
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++) fputs("  ", j->f);
}

/* Before any value: comma and newline unless it follows a key. */
static void pre(mw_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth == 0) return;
    if (!j->first[j->depth]) fputc(',', j->f);
    j->first[j->depth] = false;
    indent(j);
}

static void open(mw_json *j, char c)
{
    pre(j);
    fputc(c, j->f);
    if (j->depth < MW_JSON_MAX_DEPTH - 1) j->depth++;
    j->first[j->depth] = true;
}

static void close_(mw_json *j, char c)
{
    bool empty = j->first[j->depth];
    if (j->depth > 0) j->depth--;
    if (!empty) indent(j);
    fputc(c, j->f);
    if (j->depth == 0) fputc('\n', j->f);
}

void mw_json_obj(mw_json *j) { open(j, '{'); }
void mw_json_obj_end(mw_json *j) { close_(j, '}'); }
void mw_json_arr(mw_json *j) { open(j, '['); }
void mw_json_arr_end(mw_json *j) { close_(j, ']'); }

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; c &= 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; c &= 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; c &= 0x07; }
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return len;
}

void mw_json_escape(FILE *f, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            i++;
        } else if (c == '\n') { fputs("\\n", f); i++; }
        else if (c == '\t') { fputs("\\t", f); i++; }
        else if (c == '\r') { fputs("\\r", f); i++; }
        else if (c < 0x20 || c == 0x7F) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else if (c == '<' || c == '>' || c == '&') {
            /* Safe to embed in HTML <script> blocks too. */
            fprintf(f, "\\u%04x", c);
            i++;
        } else {
            size_t l = utf8_len(s + i, n - i);
            if (l == 0) {
                fputs("\\ufffd", f);
                i++;
            } else {
                fwrite(s + i, 1, l, f);
                i += l;
            }
        }
    }
}

void mw_json_key(mw_json *j, const char *key)
{
    pre(j);
    fputc('"', j->f);
    mw_json_escape(j->f, key, strlen(key));
    fputs("\": ", j->f);
    j->after_key = true;
}

void mw_json_strn(mw_json *j, const char *s, size_t n)
{
    pre(j);
    fputc('"', j->f);
    mw_json_escape(j->f, s, n);
    fputc('"', j->f);
}

void mw_json_str(mw_json *j, const char *s)
{
    if (!s) {
        mw_json_null(j);
        return;
    }
    mw_json_strn(j, s, strlen(s));
}

void mw_json_u64(mw_json *j, uint64_t v)
{
    pre(j);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void mw_json_i64(mw_json *j, int64_t v)
{
    pre(j);
    fprintf(j->f, "%lld", (long long)v);
}

void mw_json_f64(mw_json *j, double v)
{
    pre(j);
    if (isfinite(v)) fprintf(j->f, "%.6g", v);
    else fputs("null", j->f);
}

void mw_json_bool(mw_json *j, bool v)
{
    pre(j);
    fputs(v ? "true" : "false", j->f);
}

void mw_json_null(mw_json *j)
{
    pre(j);
    fputs("null", j->f);
}
